//! Service desk tickets end to end on a fake clock: priority from the matrix, SLA due times in
//! business hours (a Friday-afternoon ticket due on Monday), a pending state that moves the due
//! time by the business time it lasted, the first public reply stopping the first-response
//! clock, a policy changed mid-ticket applying at once, reopen, requesters seeing only their own
//! tickets and no internal notes, and bad input named.

use chrono::{DateTime, TimeZone, Utc};
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_sqlite() {
    tickets(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_postgres() {
    tickets(Backend::Postgres).await;
}

fn berlin(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    // December 2026; the 7th is a Monday.
    chrono_tz::Europe::Berlin.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap().with_timezone(&Utc)
}

fn due(v: &Value, clock: &str) -> DateTime<Utc> {
    let s = v["sla"][clock]["due_at"].as_str().unwrap_or_else(|| panic!("{clock} due_at in {v}"));
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn tickets(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.clock.set(berlin(4, 16, 0));
    let m = srv.token("mgr", Role::Manager).await;
    let agent = srv.token("agent", Role::Responder).await;
    let requester = srv.token("requester", Role::Viewer).await;
    let other = srv.token("other", Role::Viewer).await;

    // P1 under the default policy: round the clock, 15 minutes to respond, 4 hours to resolve.
    let body = json!({"title": "Checkout is down", "type": "incident_report", "impact": 1, "urgency": 1});
    let (s, p1) = srv.post("/api/v1/tickets", &requester, body).await;
    assert_eq!(
        (s, p1["priority"].as_u64(), p1["number"].as_str()),
        (StatusCode::CREATED, Some(1), Some("TKT-1")),
        "{p1}"
    );
    assert_eq!(due(&p1, "first_response"), berlin(4, 16, 15));
    assert_eq!(p1["sla"]["resolution_due_at"].as_str(), p1["sla"]["resolution"]["due_at"].as_str());
    assert_eq!(due(&p1, "resolution"), berlin(4, 20, 0));

    // P3 in office hours: Monday to Friday 09:00–17:00 Berlin, 1 h to respond, 8 h to resolve.
    let office = |p: u8, fr: u32, res: u32| {
        let day = json!(["09:00-17:00"]);
        json!({"priority": p, "first_response_minutes": fr, "resolution_minutes": res, "timezone": "Europe/Berlin",
            "week": [day, day, day, day, day, [], []], "holidays": ["2026-12-24", "2026-12-25"]})
    };
    let (s, e) = srv.put("/api/v1/sla-policies/3", &agent, office(3, 60, 480)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let (s, e) = srv.put("/api/v1/sla-policies/3", &m, office(3, 60, 480)).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let body = json!({"title": "New laptop for Ana", "type": "service_request", "impact": 3, "urgency": 3});
    let (_, req) = srv.post("/api/v1/tickets", &requester, body).await;
    assert_eq!((req["number"].as_str(), req["priority"].as_u64()), (Some("REQ-2"), Some(3)), "{req}");
    assert_eq!(due(&req, "first_response"), berlin(4, 17, 0), "Friday 16:00 + 1 business hour");
    assert_eq!(due(&req, "resolution"), berlin(7, 16, 0), "1 h Friday + 7 h from Monday 09:00");
    let id = req["id"].as_str().unwrap().to_owned();

    // Monday 09:30 the agent answers (first response, 30 min late) and starts work.
    srv.clock.set(berlin(7, 9, 30));
    let (s, _) = srv.post(&format!("/api/v1/tickets/{id}/replies"), &agent, json!({"body": "Which model?"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = srv
        .post(&format!("/api/v1/tickets/{id}/replies"), &agent, json!({"body": "stock low", "internal": true}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, t) = srv.post(&format!("/api/v1/tickets/{id}/start"), &agent, json!({})).await;
    assert_eq!(t["state"], "in_progress", "{t}");
    assert_eq!(
        (t["sla"]["first_response"]["stage"].as_str(), t["sla"]["first_response"]["breached"].as_bool()),
        (Some("stopped"), Some(true)),
        "{t}"
    );

    // Pending from Monday 10:00 to Tuesday 10:00: 8 business hours pass without counting.
    srv.clock.set(berlin(7, 10, 0));
    let (s, e) = srv.post(&format!("/api/v1/tickets/{id}/pend"), &agent, json!({})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")), "{e}");
    let (_, t) = srv.post(&format!("/api/v1/tickets/{id}/pend"), &agent, json!({"reason": "waiting for Ana"})).await;
    assert_eq!(
        (t["state"].as_str(), t["sla"]["resolution"]["stage"].as_str()),
        (Some("pending"), Some("paused")),
        "{t}"
    );
    srv.clock.set(berlin(8, 10, 0));
    let (_, t) = srv.post(&format!("/api/v1/tickets/{id}/start"), &agent, json!({})).await;
    assert_eq!(t["sla"]["resolution"]["elapsed_minutes"], 120, "Friday 1 h + Monday 09:00–10:00: {t}");
    assert_eq!(due(&t, "resolution"), berlin(8, 16, 0), "6 h left from Tuesday 10:00");

    // The policy shrinks to 4 h: the whole ticket is judged by it, due Tuesday 12:00.
    srv.put("/api/v1/sla-policies/3", &m, office(3, 60, 240)).await;
    let (_, t) = srv.get(&format!("/api/v1/tickets/{id}"), &agent).await;
    assert_eq!(due(&t, "resolution"), berlin(8, 12, 0), "{t}");

    // Resolved Tuesday 11:00, reopened Wednesday 09:00: the clock goes on from 3 h.
    srv.clock.set(berlin(8, 11, 0));
    let (_, t) = srv.post(&format!("/api/v1/tickets/{id}/resolve"), &agent, json!({})).await;
    assert_eq!((t["state"].as_str(), t["sla"]["resolution"]["breached"].as_bool()), (Some("resolved"), Some(false)));
    srv.clock.set(berlin(9, 9, 0));
    let (_, t) = srv.post(&format!("/api/v1/tickets/{id}/reopen"), &agent, json!({})).await;
    assert_eq!(
        (t["state"].as_str(), t["sla"]["resolution"]["elapsed_minutes"].as_i64()),
        (Some("in_progress"), Some(180))
    );
    assert_eq!(due(&t, "resolution"), berlin(9, 10, 0));
    let (s, e) = srv.post(&format!("/api/v1/tickets/{id}/close"), &agent, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "only a resolved ticket is closed: {e}");

    // The requester sees their ticket and the public reply only; someone else sees nothing.
    let (s, mine) = srv.get("/api/v1/tickets/REQ-2/replies", &requester).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "no internal note: {mine}");
    assert_eq!(srv.get(&format!("/api/v1/tickets/{id}"), &other).await.0, StatusCode::NOT_FOUND);
    let (_, own) = srv.get("/api/v1/tickets", &other).await;
    assert_eq!(own["items"], json!([]), "a requester lists only the tickets they raised: {own}");
    let (_, own) = srv.get("/api/v1/tickets", &requester).await;
    assert_eq!(own["items"].as_array().unwrap().len(), 2, "{own}");
    assert_eq!(srv.get("/api/v1/tickets/TKT-2", &agent).await.0, StatusCode::NOT_FOUND, "2 is a request: REQ-2");
    let (s, e) = srv.post(&format!("/api/v1/tickets/{id}/pend"), &agent, json!({"reason": "x", "version": 1})).await;
    assert_eq!(s, StatusCode::CONFLICT, "a move on a stale copy: {e}");
    let (_, q) = srv.get("/api/v1/tickets?state=new,in_progress", &agent).await;
    let numbers: Vec<&str> = q["items"].as_array().unwrap().iter().map(|t| t["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, vec!["TKT-1", "REQ-2"], "P1 first: {q}");

    // An agent raising a ticket for someone else answers it: that reply is a first response.
    let body = json!({"title": "Printer jammed", "requester_email": "bo@example.com"});
    let (_, t) = srv.post("/api/v1/tickets", &agent, body).await;
    let tid = t["id"].as_str().unwrap().to_owned();
    srv.post(&format!("/api/v1/tickets/{tid}/replies"), &agent, json!({"body": "On my way"})).await;
    let (_, t) = srv.get(&format!("/api/v1/tickets/{tid}"), &agent).await;
    assert_eq!(t["sla"]["first_response"]["stage"], "stopped", "{t}");

    // Bad input is named.
    for (body, field) in [
        (json!({"title": "x", "impact": 7}), "impact"),
        (json!({"title": "x", "type": "complaint"}), "type"),
        (json!({"title": "x", "requester_email": "not-an-address"}), "requester_email"),
    ] {
        let (s, e) = srv.post("/api/v1/tickets", &requester, body).await;
        assert_eq!(
            (s, e["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{e}"
        );
    }
    let mut bad = office(2, 60, 120);
    bad["week"][0] = json!(["17:00-09:00"]);
    let (s, e) = srv.put("/api/v1/sla-policies/2", &m, bad).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("week")), "{e}");
    srv.stop().await;
}
