//! Monitors through the API, with the scheduler driven by the test's fake clock and probes
//! hitting a real HTTP server on loopback.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{Method, StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

backend_tests!(
    http_monitor_goes_up_then_down,
    bad_definitions_name_the_field,
    many_monitors_in_one_request,
    heartbeat_pings_and_lateness,
    pause_resume_check_now_and_bulk,
    command_monitors_need_admin,
    maintenance_windows_suppress_and_exclude,
    maintenance_page_plans_windows,
);

/// A local target whose status code the test controls.
pub(crate) async fn target() -> (String, Arc<AtomicU16>, tokio::task::JoinHandle<()>) {
    use axum::routing::get;
    let code = Arc::new(AtomicU16::new(200));
    let c = code.clone();
    let app = axum::Router::new().route(
        "/health",
        get(move || {
            let c = c.clone();
            async move {
                (axum::http::StatusCode::from_u16(c.load(Ordering::SeqCst)).unwrap_or_default(), "{\"status\":\"ok\"}")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, code, task)
}

async fn http_monitor_goes_up_then_down(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (url, code, task) = target().await;
    let (_, svc) = srv.post("/api/v1/services", &t, json!({"name": "Checkout"})).await;
    let (status, m) = srv
        .post(
            "/api/v1/monitors",
            &t,
            json!({"name": "checkout health", "service_id": svc["id"], "type": "http", "interval_seconds": 30,
                   "settings": {"url": url, "json_assert": {"pointer": "/status", "equals": "ok"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    assert_eq!(m["state"], "pending");
    let id = m["id"].as_str().unwrap().to_owned();

    // Nothing is due before the first (jittered) run; after one interval it is.
    srv.clock.advance(Duration::seconds(31));
    assert_eq!(srv.run_checks().await, 1);
    let (_, m) = srv.get(&format!("/api/v1/monitors/{id}"), &t).await;
    assert_eq!(m["state"], "up", "{m}");
    assert_eq!(m["last_result"]["ok"], true);
    assert!(m["last_result"]["latency_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(m["service_name"], "Checkout");

    // The target starts failing: down after one failure (down_after defaults to 1).
    code.store(503, Ordering::SeqCst);
    srv.clock.advance(Duration::seconds(30));
    assert_eq!(srv.run_checks().await, 1);
    let (_, m) = srv.get(&format!("/api/v1/monitors/{id}"), &t).await;
    assert_eq!(m["state"], "down");
    assert_eq!(m["last_result"]["ok"], false);
    assert!(m["last_result"]["reason"].as_str().unwrap().contains("503"), "{m}");

    // The target goes away entirely.
    task.abort();
    let _ = task.await;
    srv.clock.advance(Duration::seconds(30));
    srv.run_checks().await;
    let (_, results) = srv.get(&format!("/api/v1/monitors/{id}/results?limit=5"), &t).await;
    let items = results["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[2]["status"], "up", "oldest last");
    let (_, events) = srv.get(&format!("/api/v1/monitors/{id}/events"), &t).await;
    let tos: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["to"].as_str().unwrap()).collect();
    assert_eq!(tos, ["down", "up"]);
    let (_, uptime) = srv.get(&format!("/api/v1/monitors/{id}/uptime"), &t).await;
    let day = &uptime["items"][0];
    assert_eq!(day["window"], "24h");
    assert_eq!(day["checks"], 3);
    assert_eq!(day["failures"], 2);
    let (_, list) = srv.get("/api/v1/monitors?state=down", &t).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, list) = srv.get("/api/v1/monitors?state=up", &t).await;
    assert!(list["items"].as_array().unwrap().is_empty());

    // The pages render with the monitor on them.
    let cookie = {
        srv.user("viewer-m", Role::Viewer).await;
        srv.login("viewer-m", "password-viewer-m").await.unwrap()
    };
    for path in [
        "/monitors".to_owned(),
        format!("/monitors/{id}"),
        "/monitors?state=down".to_owned(),
        format!("/services/{}", svc["slug"].as_str().unwrap()),
    ] {
        let resp = srv.http.get(format!("{}{path}", srv.url)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert!(resp.text().await.unwrap().contains("checkout health"), "{path}");
    }
}

async fn bad_definitions_name_the_field(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let cases = [
        (json!({"name": "x", "type": "smtp", "settings": {}}), "type"),
        (
            json!({"name": "x", "type": "http", "interval_seconds": 0, "settings": {"url": "http://a.io"}}),
            "interval_seconds",
        ),
        (json!({"name": "x", "type": "http", "settings": {"url": "not a url"}}), "settings.url"),
        (
            json!({"name": "x", "type": "http", "settings": {"url": "http://a.io", "body_regex": "(unclosed"}}),
            "settings.body_regex",
        ),
        (json!({"name": "x", "type": "http", "settings": {"url": "http://a.io", "colour": "red"}}), "settings"),
        (
            json!({"name": "x", "type": "heartbeat", "settings": {"schedule": {"cron": "0 0 31 2 *"}}}),
            "settings.schedule.cron",
        ),
        (json!({"name": "x", "type": "tcp", "settings": {"host": "db", "port": 0}}), "settings.port"),
        (json!({"name": "", "type": "tcp", "settings": {"host": "db", "port": 5432}}), "name"),
        (
            json!({"name": "x", "type": "tcp", "service_id": "0192f000-0000-7000-8000-000000000000",
                "settings": {"host": "db", "port": 1}}),
            "service_id",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = srv.post("/api/v1/monitors", &t, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert_eq!(err["error"]["details"]["field"], field, "{body}: {err}");
    }
    // Every wrong field is named at once, in input order, so a form marks them all.
    let body = json!({"name": " ", "type": "http", "interval_seconds": 0, "down_after": 99,
        "settings": {"url": "ftp://a.io", "method": "BREW"}});
    let (status, err) = srv.post("/api/v1/monitors", &t, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let fields: Vec<&str> =
        err["error"]["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "interval_seconds", "down_after", "settings.url", "settings.method"], "{err}");
    assert_eq!(err["error"]["details"]["field"], "name", "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("; interval_seconds: "), "{err}");
    let (_, list) = srv.get("/api/v1/monitors", &t).await;
    assert!(list["items"].as_array().unwrap().is_empty(), "nothing was written");
    let (status, _) = srv.get("/api/v1/monitors?state=sideways", &t).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// `POST /api/v1/monitors/batch`: all or nothing, every wrong field named by its index, each
/// monitor audited and spread over its first interval.
async fn many_monitors_in_one_request(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let responder = srv.token("r", Role::Responder).await;
    let (_, svc) = srv.post("/api/v1/services", &t, json!({"name": "Batch"})).await;
    let monitor = |i: usize| {
        json!({"name": format!("batch {i:03}"), "type": "tcp", "interval_seconds": 60, "service_id": svc["id"],
            "settings": {"host": "db.internal", "port": 5432}})
    };
    let mut bad: Vec<Value> = (0..5).map(monitor).collect();
    bad[1]["settings"]["port"] = json!(0);
    bad[3]["name"] = json!("");
    bad[4]["service_id"] = json!("0192f000-0000-7000-8000-000000000000");
    let (status, err) = srv.post("/api/v1/monitors/batch", &t, json!({"monitors": bad})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let fields: Vec<&str> =
        err["error"]["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["monitors[1].settings.port", "monitors[3].name"], "{err}");
    bad[1]["settings"]["port"] = json!(5432);
    bad[3]["name"] = json!("batch 003");
    let (status, err) = srv.post("/api/v1/monitors/batch", &t, json!({"monitors": bad})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["error"]["details"]["field"], "monitors[4].service_id", "{err}");
    let (_, list) = srv.get("/api/v1/monitors", &t).await;
    assert!(list["items"].as_array().unwrap().is_empty(), "a refused batch writes nothing");

    let (status, _) = srv.post("/api/v1/monitors/batch", &t, json!({"monitors": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = srv.post("/api/v1/monitors/batch", &responder, json!({"monitors": [monitor(0)]})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "responders do not configure monitors");

    let good: Vec<Value> = (0..150).map(monitor).collect();
    let (status, created) = srv.post("/api/v1/monitors/batch", &t, json!({"monitors": good})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let ids = created["ids"].as_array().unwrap();
    assert_eq!(ids.len(), 150);
    let (_, first) = srv.get(&format!("/api/v1/monitors/{}", ids[0].as_str().unwrap()), &t).await;
    assert_eq!(first["name"], "batch 000");
    assert_eq!(first["service_name"], "Batch");
    assert_eq!(first["state"], "pending");
    let (_, page) = srv.get("/api/v1/monitors?limit=200", &t).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 150);
    // Spread over the first interval, not all due at once.
    let due: std::collections::HashSet<&str> = items.iter().map(|m| m["next_run_at"].as_str().unwrap()).collect();
    assert!(due.len() > 100, "first runs are spread: {} distinct", due.len());
    let admin = srv.token("a", Role::Admin).await;
    let (_, audit) = srv.get("/api/v1/audit?action=monitor.create&limit=200", &admin).await;
    let entries = audit["items"].as_array().expect("the audit log");
    assert_eq!(entries.len(), 150, "one audit entry per monitor");
    assert!(entries.iter().any(|e| e["summary"] == "Created monitor batch 149"));
}

async fn heartbeat_pings_and_lateness(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (status, m) = srv
        .post(
            "/api/v1/monitors",
            &t,
            json!({"name": "nightly backup", "type": "heartbeat",
            "settings": {"schedule": {"period_seconds": 3600}, "grace_seconds": 600}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    let ping = m["ping_url"].as_str().expect("heartbeats carry a ping URL").to_owned();
    let path = ping.strip_prefix(&srv.url).expect("the ping URL points at this server").to_owned();
    let id = m["id"].as_str().unwrap().to_owned();

    let (status, _) = srv.call(Method::POST, &format!("{path}/start"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    srv.clock.advance(Duration::seconds(95));
    let (status, body) = srv.call(Method::GET, &path, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, m) = srv.get(&format!("/api/v1/monitors/{id}"), &t).await;
    assert_eq!(m["state"], "up");
    assert_eq!(m["last_result"]["latency_ms"], 95000.0, "start → success measures the job");

    // Within period + grace nothing happens; past it the monitor is down.
    srv.clock.advance(Duration::seconds(3600));
    assert_eq!(srv.run_checks().await, 0);
    srv.clock.advance(Duration::seconds(700));
    assert_eq!(srv.run_checks().await, 1);
    let (_, m) = srv.get(&format!("/api/v1/monitors/{id}"), &t).await;
    assert_eq!(m["state"], "down");
    assert!(m["last_result"]["reason"].as_str().unwrap().starts_with("no ping since"), "{m}");
    // A late ping brings it back.
    srv.call(Method::GET, &path, None, None).await;
    let (_, m) = srv.get(&format!("/api/v1/monitors/{id}"), &t).await;
    assert_eq!(m["state"], "up");
    let (status, _) = srv.call(Method::GET, &format!("{path}/fail"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, m) = srv.get(&format!("/api/v1/monitors/{id}"), &t).await;
    assert_eq!(m["state"], "down");
    let (status, body) = srv.call(Method::GET, "/ping/hb_nope", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

async fn pause_resume_check_now_and_bulk(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let viewer = srv.token("v", Role::Viewer).await;
    let responder = srv.token("r", Role::Responder).await;
    let (url, _code, _task) = target().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, m) = srv
            .post(
                "/api/v1/monitors",
                &t,
                json!({"name": format!("m{i}"), "type": "http", "interval_seconds": 300, "settings": {"url": url}}),
            )
            .await;
        ids.push(m["id"].as_str().unwrap().to_owned());
    }
    // "Check now" makes a monitor due at once (responders may do it; viewers may not).
    assert_eq!(
        srv.call(Method::POST, &format!("/api/v1/monitors/{}/check", ids[0]), Some(&viewer), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        srv.call(Method::POST, &format!("/api/v1/monitors/{}/check", ids[0]), Some(&responder), None).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(srv.run_checks().await, 1);

    let (status, m) = srv.call(Method::POST, &format!("/api/v1/monitors/{}/pause", ids[0]), Some(&t), None).await;
    assert_eq!((status, m["state"].as_str()), (StatusCode::OK, Some("paused")));
    let (status, err) = srv.call(Method::POST, &format!("/api/v1/monitors/{}/check", ids[0]), Some(&t), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let (_, m) = srv.call(Method::POST, &format!("/api/v1/monitors/{}/resume", ids[0]), Some(&t), None).await;
    assert_eq!(m["state"], "pending");

    let (status, r) = srv.post("/api/v1/monitors/bulk", &t, json!({"ids": ids, "action": "pause"})).await;
    assert_eq!((status, r["done"].as_u64()), (StatusCode::OK, Some(3)));
    let (_, list) = srv.get("/api/v1/monitors?state=paused", &t).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    let (status, err) = srv.post("/api/v1/monitors/bulk", &t, json!({"ids": ids, "action": "explode"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (_, r) = srv.post("/api/v1/monitors/bulk", &t, json!({"ids": ids, "action": "delete"})).await;
    assert_eq!(r["done"], 3);
    let (_, list) = srv.get("/api/v1/monitors", &t).await;
    assert!(list["items"].as_array().unwrap().is_empty());

    // PATCH keeps what is not sent.
    let (_, m) = srv
        .post("/api/v1/monitors", &t, json!({"name": "p", "type": "tcp", "settings": {"host": "127.0.0.1", "port": 9}}))
        .await;
    let (status, m2) = srv
        .patch(
            &format!("/api/v1/monitors/{}", m["id"].as_str().unwrap()),
            &t,
            json!({"interval_seconds": 15, "tags": ["db"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{m2}");
    assert_eq!(m2["interval_seconds"], 15);
    assert_eq!(m2["settings"]["port"], 9);
    assert_eq!(m2["tags"], json!(["db"]));
    let (_, tagged) = srv.get("/api/v1/monitors?tag=db", &t).await;
    assert_eq!(tagged["items"].as_array().unwrap().len(), 1);
}

async fn command_monitors_need_admin(srv: &TestServer) {
    let manager = srv.token("m", Role::Manager).await;
    let admin = srv.token("a", Role::Admin).await;
    let body = json!({"name": "true plugin", "type": "command", "settings": {"command": "/bin/true"}});
    let (status, err) = srv.post("/api/v1/monitors", &manager, body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    let (status, m): (StatusCode, Value) = srv.post("/api/v1/monitors", &admin, body).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = m["id"].as_str().unwrap();
    assert_eq!(
        srv.patch(&format!("/api/v1/monitors/{id}"), &manager, json!({"name": "renamed"})).await.0,
        StatusCode::FORBIDDEN
    );
    srv.call(Method::POST, &format!("/api/v1/monitors/{id}/check"), Some(&admin), None).await;
    assert_eq!(srv.run_checks().await, 1);
    let (_, m) = srv.get(&format!("/api/v1/monitors/{id}"), &admin).await;
    assert_eq!(m["state"], "up", "{m}");
}

async fn maintenance_windows_suppress_and_exclude(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (url, code, _task) = target().await;
    code.store(503, Ordering::SeqCst);
    let (_, svc) = srv.post("/api/v1/services", &t, json!({"name": "Payroll"})).await;
    let (_, m) = srv
        .post(
            "/api/v1/monitors",
            &t,
            json!({"name": "payroll", "service_id": svc["id"], "type": "http",
            "interval_seconds": 60, "settings": {"url": url}}),
        )
        .await;
    let id = m["id"].as_str().unwrap().to_owned();

    // A window on the service, starting now, for 30 minutes.
    let start = srv.now().to_rfc3339();
    let (status, w) = srv
        .post(
            "/api/v1/maintenance",
            &t,
            json!({"name": "payroll upgrade", "starts_at": start, "duration_minutes": 30, "service_ids": [svc["id"]]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{w}");
    assert_eq!(w["active"], true);

    srv.clock.advance(Duration::seconds(61));
    assert_eq!(srv.run_checks().await, 1);
    let (_, m) = srv.get(&format!("/api/v1/monitors/{id}"), &t).await;
    assert_eq!(m["state"], "maintenance", "a failing check inside the window does not make it down: {m}");
    let (_, up) = srv.get(&format!("/api/v1/monitors/{id}/uptime"), &t).await;
    assert_eq!(up["items"][0]["uptime_pct"], serde_json::Value::Null, "maintenance time is left out");
    assert_eq!(up["items"][0]["uptime_raw_pct"], 0.0, "the raw figure still counts it");

    // After the window the monitor is judged again.
    srv.clock.advance(Duration::minutes(31));
    assert_eq!(srv.run_checks().await, 1);
    let (_, m) = srv.get(&format!("/api/v1/monitors/{id}"), &t).await;
    assert_eq!(m["state"], "down");
    let (_, events) = srv.get(&format!("/api/v1/monitors/{id}/events"), &t).await;
    assert_eq!(events["items"][0]["from"], "maintenance");
    assert_eq!(events["items"][1]["to"], "maintenance");

    // Recurring windows, and the rules.
    let (status, w) = srv
        .post(
            "/api/v1/maintenance",
            &t,
            json!({"name": "weekly", "starts_at": "2026-03-01T02:00:00+01:00", "duration_minutes": 120,
            "rrule": "FREQ=WEEKLY;BYDAY=SU", "timezone": "Europe/Berlin", "monitor_ids": [id]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{w}");
    assert!(w["next_start"].is_string());
    for (body, field) in [
        (json!({"name": "x", "starts_at": "tomorrow", "service_ids": [svc["id"]]}), "starts_at"),
        (json!({"name": "x", "starts_at": start, "rrule": "FREQ=FORTNIGHTLY", "service_ids": [svc["id"]]}), "rrule"),
        (json!({"name": "x", "starts_at": start, "timezone": "Mars/Olympus", "service_ids": [svc["id"]]}), "timezone"),
        (json!({"name": "x", "starts_at": start}), "service_ids"),
        (
            json!({"name": "x", "starts_at": start, "monitor_ids": ["0192f000-0000-7000-8000-000000000000"]}),
            "monitor_ids",
        ),
    ] {
        let (status, err) = srv.post("/api/v1/maintenance", &t, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert_eq!(err["error"]["details"]["field"], field, "{body}: {err}");
    }
    let viewer = srv.token("v", Role::Viewer).await;
    let (status, _) = srv
        .post("/api/v1/maintenance", &viewer, json!({"name": "x", "starts_at": start, "service_ids": [svc["id"]]}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = srv.get("/api/v1/maintenance", &viewer).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        srv.delete(&format!("/api/v1/maintenance/{}", w["id"].as_str().unwrap()), &t).await.0,
        StatusCode::NO_CONTENT
    );
}

/// The maintenance page plans a window from its form (local time in a time zone).
async fn maintenance_page_plans_windows(srv: &TestServer) {
    let t = srv.token("m2", Role::Manager).await;
    let (_, svc) = srv.post("/api/v1/services", &t, json!({"name": "Mail"})).await;
    let (_, mon) = srv
        .post(
            "/api/v1/monitors",
            &t,
            json!({"name": "smtp port", "type": "tcp", "settings": {"host": "127.0.0.1", "port": 25}}),
        )
        .await;
    srv.user("mgr-page", Role::Manager).await;
    let cookie = srv.login("mgr-page", "password-mgr-page").await.unwrap();
    let body = format!(
        "name=Mail+migration&starts_local=2026-12-06T02%3A00&timezone=Europe%2FBerlin\
         &duration_minutes=90&repeat=weekly&rrule=&service_ids={}&monitor_ids={}&description=",
        svc["id"].as_str().unwrap(),
        mon["id"].as_str().unwrap()
    );
    let resp = srv
        .http
        .post(format!("{}/maintenance", srv.url))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, list) = srv.get("/api/v1/maintenance", &t).await;
    let w = &list["items"][0];
    assert_eq!(w["starts_at"], "2026-12-06T01:00:00.000Z", "02:00 in Berlin (CET) is 01:00 UTC");
    assert_eq!(w["rrule"], "FREQ=WEEKLY");
    assert_eq!(w["monitor_ids"], json!([mon["id"]]), "the page scopes monitors too");
    let html = srv
        .http
        .get(format!("{}/maintenance", srv.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Mail migration") && html.contains("Mail, smtp port"), "{html}");
    let bad = srv
        .http
        .post(format!("{}/maintenance", srv.url))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=x&starts_local=soon&timezone=UTC&duration_minutes=10&repeat=none")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The field is named as the form names it, not by its API path.
    assert!(bad.text().await.unwrap().contains("Starts: "));
}
