//! Bounded input: dates far outside the years a team plans in, report spans, and recurrences
//! that would iterate without end are refused with a 422 naming the field, through the API and
//! the forms, and the server keeps answering; a bad row already stored stops nothing.

use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};

backend_tests!(far_dates_and_endless_rules_are_refused, a_bad_row_stops_nothing);

fn field(v: &Value) -> &str {
    v["error"]["details"]["field"].as_str().unwrap_or_default()
}

async fn far_dates_and_endless_rules_are_refused(srv: &TestServer) {
    let viewer = srv.token("v", Role::Viewer).await;
    // Reports: a viewer once made the server allocate gigabytes; a far `to` panicked.
    for (query, named) in [
        ("from=-262000-01-01&to=%2B262000-01-01", "to"),
        ("from=-262000-01-01", "from"),
        ("from=2026-01-01&to=%2B262142-12-31", "to"),
        ("from=2020-01-01&to=2026-01-01", "to"),
        ("from=2026-02-01&to=2026-01-01", "to"),
    ] {
        for path in [
            "/api/v1/reports/mttx",
            "/api/v1/reports/mttx.csv",
            "/api/v1/reports/kpi",
            "/api/v1/reports/kpi.csv",
            "/api/v1/reports/kpi.html",
        ] {
            let (s, e) = srv.get(&format!("{path}?{query}"), &viewer).await;
            assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, named), "{path}?{query}: {e}");
        }
    }
    let (s, _) = srv.get("/api/v1/reports/mttx?from=2025-01-01&to=2026-12-31", &viewer).await;
    assert_eq!(s, StatusCode::OK, "two years is fine");
    srv.user("reader", Role::Viewer).await;
    let cookie = srv.login("reader", "password-reader").await.unwrap();
    for page in ["/reports", "/reports/mttx"] {
        let (s, html) = srv.page(&format!("{page}?from=2026-01-01&to=%2B262142-12-31"), &cookie).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}: {html}");
    }

    // Maintenance: a year the scheduler's arithmetic cannot reach, and rules that never end.
    let m = srv.token("m", Role::Manager).await;
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Payroll"})).await;
    let window = |starts: &str, rrule: Option<&str>| {
        json!({"name": "w", "starts_at": starts, "duration_minutes": 60, "rrule": rrule,
            "service_ids": [svc["id"]]})
    };
    for (body, named) in [
        (window("1960-01-01T00:00:00Z", None), "starts_at"),
        (window("2026-01-01T00:00:00Z", Some("FREQ=SECONDLY")), "rrule"),
        (window("2026-01-01T00:00:00Z", Some("FREQ=DAILY;BYHOUR=1,2,3,4,5,6")), "rrule"),
    ] {
        let (s, e) = srv.post("/api/v1/maintenance", &m, body).await;
        assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, named), "{e}");
    }
    srv.user("planner", Role::Manager).await;
    let cookie = srv.login("planner", "password-planner").await.unwrap();
    let sid = svc["id"].as_str().unwrap();
    let (s, notice) = srv
        .form(
            "/maintenance",
            &cookie,
            &[
                ("name", "far"),
                ("starts_local", "+262142-01-01T00:00"),
                ("timezone", "UTC"),
                ("duration_minutes", "60"),
                ("repeat", "none"),
                ("service_ids", sid),
            ],
        )
        .await;
    assert!(s.is_redirection() || s == StatusCode::UNPROCESSABLE_ENTITY, "{s}");
    let (_, list) = srv.get("/api/v1/maintenance", &m).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "nothing was written: {notice}");

    // Schedules: a layer from before 1970, minutely handoffs.
    let alice = srv.user("alice", Role::Responder).await;
    for (layer, named) in [
        (
            json!({"name": "L", "users": [alice.id], "start": "-243000-01-01T00:00:00",
                "length": {"unit": "hours", "count": 1}}),
            "layers.start",
        ),
        (
            json!({"name": "L", "users": [alice.id], "start": "2026-01-05T09:00:00",
                "length": {"unit": "days", "count": 1},
                "handoffs": "FREQ=MINUTELY"}),
            "layers.handoffs",
        ),
    ] {
        let (s, e) =
            srv.post("/api/v1/schedules", &m, json!({"name": "S", "timezone": "UTC", "layers": [layer]})).await;
        assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, named), "{e}");
    }
    let (s, _) = srv.call(opsdeck_testkit::Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
}

/// A window stored before today's rules (a far date, a rule that never ends): the scheduler
/// skips it and keeps checking every monitor, the window says why, and the server stays ready.
async fn a_bad_row_stops_nothing(srv: &TestServer) {
    use opsdeck_core::maintenance::WindowSpec;
    let m = srv.token("m", Role::Manager).await;
    let target = opsdeck_testkit::Receiver::start().await;
    let mut monitors = Vec::new();
    let mut services = Vec::new();
    for name in ["Payroll", "Checkout"] {
        let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": name})).await;
        let (s, mon) = srv
            .post(
                "/api/v1/monitors",
                &m,
                json!({"name": name, "service_id": svc["id"], "type": "http", "interval_seconds": 60,
                    "settings": {"url": format!("{}/{name}", target.url)}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{mon}");
        services.push(svc["id"].as_str().unwrap().parse().unwrap());
        monitors.push(mon["id"].as_str().unwrap().to_owned());
    }
    let far = chrono::DateTime::from_timestamp_millis(6_000_000_000_000_000).unwrap();
    let spec = WindowSpec {
        name: "from a time machine".into(),
        description: String::new(),
        starts_at: far,
        duration_minutes: 60,
        rrule: Some("FREQ=SECONDLY".into()),
        timezone: "UTC".into(),
        service_ids: services.clone(),
        monitor_ids: Vec::new(),
    };
    srv.db.create_window(&opsdeck_core::audit::Actor::system("test"), srv.now(), spec).await.unwrap();

    srv.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(srv.run_checks().await, 2, "both monitors are checked");
    for id in &monitors {
        let (_, mon) = srv.get(&format!("/api/v1/monitors/{id}"), &m).await;
        assert_eq!(mon["state"], "up", "{mon}");
    }
    let (_, windows) = srv.get("/api/v1/maintenance", &m).await;
    let w = &windows["items"][0];
    assert_eq!(w["active"], false);
    assert!(w["problem"].as_str().unwrap().contains("never in force"), "{w}");
    let (s, _) = srv.call(opsdeck_testkit::Method::GET, "/readyz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    target.task.abort();
}
