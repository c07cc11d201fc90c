//! The desk's settings end to end: a manager's priority matrix applies to new tickets; an agent
//! overrides one ticket's priority saying why (its SLA targets follow, the reason is noted and
//! kept); resolved tickets close after the configured days on the fake clock, not before; the
//! settings page and each priority's SLA policy form do the same through forms.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_settings_sqlite() {
    desk_settings(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_settings_postgres() {
    desk_settings(Backend::Postgres).await;
}

fn field(e: &Value) -> Option<&str> {
    e["error"]["details"]["field"].as_str()
}

async fn desk_settings(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let m = srv.token("mgr", Role::Manager).await;
    let agent = srv.token("agent", Role::Responder).await;
    let ana = srv.token("ana", Role::Viewer).await;

    // The matrix: agents read it, managers change it; a wrong one is named.
    let (s, got) = srv.get("/api/v1/desk/settings", &agent).await;
    assert_eq!((s, got["auto_close_days"].as_u64()), (StatusCode::OK, Some(7)), "{got}");
    assert_eq!(got["priority_matrix"][0], json!([1, 1, 2, 3]));
    assert_eq!(srv.get("/api/v1/desk/settings", &ana).await.0, StatusCode::FORBIDDEN);
    let rows =
        json!({"priority_matrix": [[1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3], [4, 4, 4, 4]], "auto_close_days": 2});
    assert_eq!(srv.put("/api/v1/desk/settings", &agent, rows.clone()).await.0, StatusCode::FORBIDDEN);
    let (s, saved) = srv.put("/api/v1/desk/settings", &m, rows).await;
    assert_eq!((s, saved["auto_close_days"].as_u64()), (StatusCode::OK, Some(2)), "{saved}");
    let bad =
        json!({"priority_matrix": [[1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3], [4, 4, 4, 5]], "auto_close_days": 2});
    let (s, e) = srv.put("/api/v1/desk/settings", &m, bad).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("priority_matrix")), "{e}");
    let bad =
        json!({"priority_matrix": [[1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3], [4, 4, 4, 4]], "auto_close_days": 400});
    let (s, e) = srv.put("/api/v1/desk/settings", &m, bad).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("auto_close_days")), "{e}");
    let (_, t) = srv.post("/api/v1/tickets", &ana, json!({"title": "Printer jams", "impact": 4, "urgency": 1})).await;
    assert_eq!(t["priority"].as_u64(), Some(4), "the new matrix: {t}");

    // An override says why; the SLA targets follow; the same priority or no reason is refused.
    let body = json!({"priority": 1, "reason": "the payroll run depends on it", "version": t["version"]});
    let (s, over) = srv.post("/api/v1/tickets/TKT-1/priority", &agent, body.clone()).await;
    assert_eq!((s, over["priority"].as_u64()), (StatusCode::OK, Some(1)), "{over}");
    assert_eq!(over["priority_reason"].as_str(), Some("the payroll run depends on it"));
    assert_eq!(over["sla"]["first_response"]["target_minutes"].as_i64(), Some(15), "P1's target now");
    assert_eq!(srv.post("/api/v1/tickets/TKT-1/priority", &agent, body).await.0, StatusCode::CONFLICT, "stale");
    let (s, e) = srv.post("/api/v1/tickets/TKT-1/priority", &agent, json!({"priority": 1, "reason": "again"})).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("priority")));
    let (s, e) = srv.post("/api/v1/tickets/TKT-1/priority", &agent, json!({"priority": 2, "reason": " "})).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));
    let (s, _) = srv.post("/api/v1/tickets/TKT-1/priority", &ana, json!({"priority": 2, "reason": "mine"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, notes) = srv.get("/api/v1/tickets/TKT-1/replies", &agent).await;
    assert!(notes.to_string().contains("Priority P4 → P1: the payroll run depends on it"), "{notes}");
    let (_, mine) = srv.get("/api/v1/tickets/TKT-1/replies", &ana).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0, "the note is internal");
    let (_, seen) = srv.get("/api/v1/tickets/TKT-1", &ana).await;
    assert_eq!((seen["priority"].as_u64(), &seen["priority_reason"]), (Some(1), &Value::Null), "the reason too");

    // Auto-close: two days after its resolution, not before; the other resolved later stays.
    let t0 = srv.now();
    assert_eq!(srv.post("/api/v1/tickets/TKT-1/resolve", &agent, json!({})).await.0, StatusCode::OK);
    srv.clock.set(t0 + Duration::days(1));
    srv.post("/api/v1/tickets", &ana, json!({"title": "Mouse"})).await;
    assert_eq!(srv.post("/api/v1/tickets/TKT-2/resolve", &agent, json!({})).await.0, StatusCode::OK);
    srv.clock.set(t0 + Duration::days(2) - Duration::minutes(1));
    srv.run_sla_watch().await;
    assert_eq!(srv.get("/api/v1/tickets/TKT-1", &agent).await.1["state"].as_str(), Some("resolved"));
    srv.clock.set(t0 + Duration::days(2) + Duration::minutes(1));
    srv.run_sla_watch().await;
    assert_eq!(srv.get("/api/v1/tickets/TKT-1", &agent).await.1["state"].as_str(), Some("closed"));
    assert_eq!(srv.get("/api/v1/tickets/TKT-2", &agent).await.1["state"].as_str(), Some("resolved"));

    // The page: the matrix and auto-close by form, and one priority's SLA policy.
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let mut form: Vec<(String, String)> = Vec::new();
    for i in 1..=4 {
        for u in 1..=4 {
            form.push((format!("m{i}{u}"), if i + u <= 3 { "1" } else { "3" }.into()));
        }
    }
    form.push(("auto_close_days".into(), "0".into()));
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (_, note) = srv.form("/tickets/settings", &cookie, &fields).await;
    assert_eq!(note, "Desk settings saved");
    let (_, got) = srv.get("/api/v1/desk/settings", &agent).await;
    assert_eq!((&got["priority_matrix"][0], got["auto_close_days"].as_u64()), (&json!([1, 1, 3, 3]), Some(0)));
    let policy = [
        ("first_response_minutes", "30"),
        ("resolution_minutes", "480"),
        ("timezone", "Europe/Berlin"),
        ("mon", "09:00-12:00, 13:00-17:00"),
        ("fri", "09:00-15:00"),
        ("holidays", "2026-12-25\n2026-12-26"),
    ];
    let (_, note) = srv.form("/tickets/settings/sla/2", &cookie, &policy).await;
    assert_eq!(note, "P2 SLA policy saved");
    let (_, list) = srv.get("/api/v1/sla-policies", &agent).await;
    let p2 = &list["items"][1];
    assert_eq!(p2["week"][0], json!(["09:00-12:00", "13:00-17:00"]), "{p2}");
    assert_eq!((p2["holidays"].as_array().unwrap().len(), p2["timezone"].as_str()), (2, Some("Europe/Berlin")));
    let (_, note) = srv
        .form(
            "/tickets/settings/sla/2",
            &cookie,
            &[("first_response_minutes", "30"), ("resolution_minutes", "480"), ("timezone", "Mars/Olympus")],
        )
        .await;
    assert!(note.starts_with("Not done: ") && note.contains("time zone"), "{note}");
    // Holidays from an iCalendar feed, by the API and by the form.
    let ical = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:a\r\n\
        DTSTART;VALUE=DATE:20270101\r\nSUMMARY:New Year\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let (s, p1) = srv.post("/api/v1/sla-policies/1/holidays", &m, json!({"ical": ical})).await;
    assert_eq!((s, &p1["holidays"]), (StatusCode::OK, &json!(["2027-01-01"])), "{p1}");
    let (s, e) = srv.post("/api/v1/sla-policies/1/holidays", &m, json!({"ical": "not a calendar"})).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("ical")), "{e}");
    let (s, _) = srv.post("/api/v1/sla-policies/1/holidays", &agent, json!({"ical": ical})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut with_feed = policy.to_vec();
    with_feed.push(("ical", ical));
    let (_, note) = srv.form("/tickets/settings/sla/2", &cookie, &with_feed).await;
    assert_eq!(note, "P2 SLA policy saved");
    let (_, list) = srv.get("/api/v1/sla-policies", &agent).await;
    assert_eq!(list["items"][1]["holidays"], json!(["2026-12-25", "2026-12-26", "2027-01-01"]));
    let (s, html) = srv.page("/tickets/settings", &cookie).await;
    assert!(s.is_success() && html.contains("id=\"priority-matrix\"") && html.contains("Europe/Berlin"), "{html}");
}
