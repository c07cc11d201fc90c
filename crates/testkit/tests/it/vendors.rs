//! Vendor status aggregation: Opsdeck polls an Opsdeck status page (round trip through
//! statuspage.io's JSON), honours ETags, reads feeds, and turns every kind of bad answer
//! (truncated, over 5 MB, wrongly typed, a redirect loop, too slow, a refused address) into
//! "unknown" with the reason, without stopping.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

backend_tests!(
    vendors_round_trip_and_survive_bad_answers,
    a_vendor_outage_alerts_its_dependents,
    third_party_components_follow_their_vendor,
);

/// A misbehaving (and one well-behaved) vendor on loopback; counts conditional requests.
async fn fake_vendors() -> (String, Arc<AtomicUsize>) {
    use axum::http::{HeaderMap, StatusCode as S, header};
    use axum::response::IntoResponse;
    use axum::routing::get;
    let revalidated = Arc::new(AtomicUsize::new(0));
    let counter = revalidated.clone();
    let summary = r#"{"page":{"id":"x","name":"Fine"},
        "status":{"indicator":"none","description":"All Systems Operational"},
        "components":[{"id":"c1","name":"API","status":"operational"}],"incidents":[]}"#;
    let app = axum::Router::new()
        .route("/trunc/api/v2/summary.json", get(|| async { r#"{"page":{"id":"x"},"status":{"indic"# }))
        .route("/typed/api/v2/summary.json", get(|| async { r#"{"status":{"indicator":5},"components":"no"}"# }))
        .route("/big/api/v2/summary.json", get(|| async { "x".repeat(6 * 1024 * 1024) }))
        .route(
            "/loop/api/v2/summary.json",
            get(|| async { (S::FOUND, [(header::LOCATION, "/loop/api/v2/summary.json")]).into_response() }),
        )
        .route(
            "/slow/api/v2/summary.json",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                "{}"
            }),
        )
        .route(
            "/etag/api/v2/summary.json",
            get(move |h: HeaderMap| {
                let counter = counter.clone();
                async move {
                    if h.get(header::IF_NONE_MATCH).is_some_and(|v| v == "\"v1\"") {
                        counter.fetch_add(1, Ordering::SeqCst);
                        return S::NOT_MODIFIED.into_response();
                    }
                    ([(header::ETAG, "\"v1\""), (header::CONTENT_TYPE, "application/json")], summary).into_response()
                }
            }),
        )
        .route(
            "/history.atom",
            get(|| async {
                let now = chrono::Utc::now().to_rfc3339();
                format!(
                    r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><id>v</id><title>V</title>
                    <updated>{now}</updated><entry><id>e1</id><title>Login errors</title><updated>{now}</updated>
                    <link href="https://vendor.example/e1"/></entry></feed>"#
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, revalidated)
}

async fn add(srv: &TestServer, t: &str, name: &str, url: &str, timeout: i64) -> String {
    let (s, v) = srv
        .post(
            "/api/v1/vendors",
            t,
            json!({"name": name, "url": url, "interval_seconds": 30, "timeout_seconds": timeout}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "unknown", "not polled yet");
    v["id"].as_str().unwrap().to_owned()
}

async fn vendor(srv: &TestServer, t: &str, id: &str) -> Value {
    srv.get(&format!("/api/v1/vendors/{id}"), t).await.1
}

async fn vendors_round_trip_and_survive_bad_answers(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    // Round trip: this Opsdeck's own status page, read as a vendor.
    let (_, page) = srv
        .post(
            "/api/v1/status-pages",
            &t,
            json!({"slug": "own", "title": "Own",
                   "components": [{"name": "Checkout", "group": "Shop"}, {"name": "Search"}]}),
        )
        .await;
    let own = add(srv, &t, "Ourselves", &format!("{}/status/own", srv.url), 5).await;
    let (url, revalidated) = fake_vendors().await;
    let mut ids = Vec::new();
    for (name, path, timeout) in [
        ("Truncated", "/trunc", 5),
        ("Typed", "/typed", 5),
        ("Big", "/big", 5),
        ("Loop", "/loop", 5),
        ("Slow", "/slow", 1),
        ("Fine", "/etag", 5),
        ("Feed", "/history.atom", 5),
    ] {
        ids.push((name, add(srv, &t, name, &format!("{url}{path}"), timeout).await));
    }
    let metadata = add(srv, &t, "Metadata", "http://169.254.169.254/latest", 5).await;
    assert_eq!(srv.run_vendor_polls().await, 9);

    let v = vendor(srv, &t, &own).await;
    assert_eq!(
        (v["status"].as_str(), v["description"].as_str()),
        (Some("operational"), Some("All Systems Operational"))
    );
    let names: Vec<&str> = v["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Checkout", "Search"]);
    assert_eq!(v["components"][0]["group"], "Shop");

    let reasons = [
        ("Truncated", "not statuspage.io"),
        ("Typed", "not statuspage.io"),
        ("Big", "over 5 MB"),
        ("Loop", "redirect"),
        ("Slow", "within 1 s"),
    ];
    for (name, why) in reasons {
        let id = &ids.iter().find(|(n, _)| *n == name).unwrap().1;
        let v = vendor(srv, &t, id).await;
        assert_eq!(v["status"], "unknown", "{name}: {v}");
        assert!(v["reason"].as_str().unwrap().contains(why), "{name}: {v}");
    }
    let v = vendor(srv, &t, &metadata).await;
    assert_eq!(v["status"], "unknown");
    assert!(v["reason"].as_str().unwrap().contains("169.254.169.254"), "refused by the egress policy: {v}");
    let fine = &ids.iter().find(|(n, _)| *n == "Fine").unwrap().1;
    assert_eq!(vendor(srv, &t, fine).await["status"], "operational");
    let feed = &ids.iter().find(|(n, _)| *n == "Feed").unwrap().1;
    let v = vendor(srv, &t, feed).await;
    assert_eq!(
        (v["status"].as_str(), v["incidents"][0]["name"].as_str()),
        (Some("degraded_performance"), Some("Login errors"))
    );

    // Nothing is polled before the interval; then the ETag makes the next answer a 304.
    assert_eq!(srv.run_vendor_polls().await, 0);
    srv.clock.advance(Duration::seconds(31));
    // A component of our own page goes down meanwhile.
    let checkout = page["components"][0]["id"].as_str().unwrap();
    srv.put(
        &format!("/api/v1/status-pages/{}/components/{checkout}/override", page["id"].as_str().unwrap()),
        &t,
        json!({"status": "major_outage"}),
    )
    .await;
    assert_eq!(srv.run_vendor_polls().await, 9);
    assert_eq!(revalidated.load(Ordering::SeqCst), 1, "the second poll asked 'changed since?' and got 304");
    assert_eq!(vendor(srv, &t, fine).await["status"], "operational");
    let v = vendor(srv, &t, &own).await;
    assert_eq!(v["status"], "major_outage", "{v}");
    assert_eq!(v["components"][0]["status"], "major_outage");
    assert!(v["changed_at"].is_string());

    // Bad input is refused by name; viewers read but do not add; delete works.
    for (body, field) in [
        (json!({"name": "x", "url": "ftp://x"}), "url"),
        (json!({"name": " ", "url": "https://x.example"}), "name"),
        (json!({"name": "x", "url": "https://x.example", "interval_seconds": 1}), "interval_seconds"),
        (json!({"name": "x", "url": "https://x.example", "timeout_seconds": 600}), "timeout_seconds"),
    ] {
        let (s, e) = srv.post("/api/v1/vendors", &t, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{body}: {e}");
    }
    let (s, _) = srv.post("/api/v1/vendors", &t, json!({"name": "Ourselves", "url": "https://x.example"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let v = srv.token("v", Role::Viewer).await;
    assert_eq!(srv.get("/api/v1/vendors", &v).await.1["items"].as_array().unwrap().len(), 9);
    assert_eq!(
        srv.post("/api/v1/vendors", &v, json!({"name": "n", "url": "https://x.example"})).await.0,
        StatusCode::FORBIDDEN
    );
    // The pages: trouble first, the reason shown; the form adds a vendor.
    srv.user("mgr", Role::Manager).await;
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let (s, html) = srv.page("/vendors", &cookie).await;
    assert_eq!(s, StatusCode::OK);
    let (big, fine_at) = (html.find(">Big<").unwrap(), html.find(">Fine<").unwrap());
    assert!(big < fine_at, "unknown vendors come before operational ones");
    assert!(html.contains("the answer is over 5 MB"), "{html}");
    let (_, html) = srv.page(&format!("/vendors/{own}"), &cookie).await;
    assert!(html.contains("Checkout") && html.contains("Major outage"), "{html}");
    let (s, notice) =
        srv.form("/vendors", &cookie, &[("name", "Status feed"), ("url", "https://s.example.com/history.rss")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(notice.starts_with("Vendor Status feed added"), "{notice}");
    let (s, html) = srv.form("/vendors", &cookie, &[("name", "Bad"), ("url", "nope")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert_eq!(srv.delete(&format!("/api/v1/vendors/{metadata}"), &t).await.0, StatusCode::NO_CONTENT);
    let (s, e) = srv.get(&format!("/api/v1/vendors/{metadata}"), &t).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("vendor_not_found")));
}

/// A vendor whose one component ("Git") is operational or in a major outage, as `down` says.
async fn flipping_vendor() -> (String, Arc<std::sync::atomic::AtomicBool>) {
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = down.clone();
    let app = axum::Router::new().route(
        "/api/v2/summary.json",
        axum::routing::get(move || {
            let status = if flag.load(Ordering::SeqCst) { "major_outage" } else { "operational" };
            async move {
                format!(
                    r#"{{"status":{{"indicator":"none","description":"ok"}},
                    "components":[{{"id":"g","name":"Git","status":"{status}"}},
                                  {{"id":"p","name":"Pages","status":"operational"}}]}}"#
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, down)
}

/// A service that depends on a vendor's component gets an alert (and an incident) while that
/// component is in trouble, resolved when it recovers; bad dependencies are refused.
async fn a_vendor_outage_alerts_its_dependents(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (_, svc) = srv.post("/api/v1/services", &t, json!({"name": "Deploys"})).await;
    let sid = svc["id"].as_str().unwrap().to_owned();
    let (url, down) = flipping_vendor().await;
    let id = add(srv, &t, "Forge", &url, 5).await;
    srv.run_vendor_polls().await;
    let deps = format!("/api/v1/vendors/{id}/dependents");
    for (body, field) in [
        (json!({"service_id": sid, "component": "Nope"}), "component"),
        (json!({"service_id": uuid::Uuid::nil()}), "service_id"),
    ] {
        let (s, e) = srv.post(&deps, &t, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{body}: {e}");
    }
    let (s, v) = srv.post(&deps, &t, json!({"service_id": sid, "component": "Git"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["dependents"], json!([{"service_id": sid, "service": "Deploys", "component": "Git"}]));
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    let alerts = || async { srv.get(&format!("/api/v1/alerts?service_id={sid}"), &t).await.1 };
    assert!(alerts().await["items"].as_array().unwrap().is_empty(), "operational: no alert");

    // A second service depends on the whole vendor: one poll then queues two alerts.
    let (_, billing) = srv.post("/api/v1/services", &t, json!({"name": "Billing"})).await;
    let (s, _) = srv.post(&deps, &t, json!({"service_id": billing["id"]})).await;
    assert_eq!(s, StatusCode::CREATED);

    // Git goes down: the next poll alerts the service and an incident opens.
    down.store(true, Ordering::SeqCst);
    srv.clock.advance(Duration::seconds(31));
    srv.run_vendor_polls().await;
    assert_eq!(srv.db.pending_vendor_alerts(10).await.unwrap().len(), 2);
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    assert!(srv.db.pending_vendor_alerts(10).await.unwrap().is_empty(), "both marked sent in one batch");
    let a = alerts().await;
    assert_eq!(a["items"].as_array().unwrap().len(), 1, "{a}");
    assert_eq!(
        (a["items"][0]["status"].as_str(), a["items"][0]["severity"].as_str()),
        (Some("firing"), Some("critical"))
    );
    assert!(a["items"][0]["summary"].as_str().unwrap().contains("Vendor Forge Git is major outage"), "{a}");
    let (_, incs) = srv.get(&format!("/api/v1/incidents?service_id={sid}"), &t).await;
    assert_eq!(incs["items"].as_array().unwrap().len(), 1, "{incs}");
    // The overview lists the vendor in trouble, with what is wrong.
    srv.user("viewer", Role::Viewer).await;
    let vcookie = srv.login("viewer", "password-viewer").await.unwrap();
    let (_, home) = srv.page("/", &vcookie).await;
    assert!(home.contains("home-outside") && home.contains("Forge") && home.contains("Git"), "{home}");
    // Still down at the next poll: nothing new.
    srv.clock.advance(Duration::seconds(31));
    srv.run_vendor_polls().await;
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    assert_eq!(alerts().await["items"].as_array().unwrap().len(), 1);

    // It recovers: the alert resolves.
    down.store(false, Ordering::SeqCst);
    srv.clock.advance(Duration::seconds(31));
    srv.run_vendor_polls().await;
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    assert_eq!(alerts().await["items"][0]["status"], "resolved");

    // The vendor page lists the dependency and its form adds and removes one.
    srv.user("mgr2", Role::Manager).await;
    let cookie = srv.login("mgr2", "password-mgr2").await.unwrap();
    let (_, html) = srv.page(&format!("/vendors/{id}"), &cookie).await;
    assert!(html.contains("vendor-dependents") && html.contains("on Git") && html.contains("add-dependent"), "{html}");
    let (_, other) = srv.post("/api/v1/services", &t, json!({"name": "Docs"})).await;
    let other = other["id"].as_str().unwrap();
    let (s, notice) =
        srv.form(&format!("/vendors/{id}/dependents"), &cookie, &[("service_id", other), ("component", "")]).await;
    assert_eq!((s, notice.as_str()), (StatusCode::SEE_OTHER, "The service is alerted while this is degraded or worse"));
    let (_, notice) = srv.form(&format!("/vendors/{id}/dependents/{other}/delete"), &cookie, &[]).await;
    assert_eq!(notice, "The service no longer depends on this vendor");
    let (s, _) = srv.delete(&format!("{deps}/{sid}"), &t).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(srv.delete(&format!("{deps}/{sid}"), &t).await.0, StatusCode::NOT_FOUND);
    let left = vendor(srv, &t, &id).await;
    assert_eq!(left["dependents"], json!([{"service_id": billing["id"], "service": "Billing", "component": null}]));
}

/// A status page component that follows a vendor's component (or the whole vendor) shows what
/// the vendor's page says, as the poller last read it; unknown references are refused.
async fn third_party_components_follow_their_vendor(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (url, down) = flipping_vendor().await;
    let forge = add(srv, &t, "Forge", &url, 5).await;
    let body = |component: &str| {
        json!({"slug": "deps", "title": "Dependencies", "components": [
            {"name": "Git hosting", "vendor_id": forge, "vendor_component": component},
            {"name": "Forge", "vendor_id": forge}]})
    };
    // Not read yet: the vendor is unknown, and its components show operational (no signal).
    let (s, page) = srv.post("/api/v1/status-pages", &t, body("Git")).await;
    assert_eq!(s, StatusCode::CREATED, "{page}");
    let id = page["id"].as_str().unwrap().to_owned();
    assert_eq!(page["components"][0]["vendor_component"], "Git");
    assert_eq!(page["components"][1]["vendor_component"], "", "the whole vendor");
    assert!(page["components"].as_array().unwrap().iter().all(|c| c["status"] == "operational"), "{page}");

    srv.run_vendor_polls().await;
    let (s, e) = srv.put(&format!("/api/v1/status-pages/{id}"), &t, body("Nope")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("Forge lists no component named \"Nope\""), "{e}");
    let nil = json!({"components": [{"name": "X", "vendor_id": uuid::Uuid::nil()}]});
    let (s, e) = srv.put(&format!("/api/v1/status-pages/{id}"), &t, nil).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && e.to_string().contains("no vendor has id"), "{e}");
    let orphan = json!({"components": [{"name": "X", "vendor_component": "Git"}]});
    let (s, e) = srv.put(&format!("/api/v1/status-pages/{id}"), &t, orphan).await;
    assert!(s == StatusCode::UNPROCESSABLE_ENTITY && e.to_string().contains("needs vendor_id"), "{e}");

    // Git goes down at the vendor: the next poll shows it on our page, in statuspage.io's JSON
    // too, and the page's indicator follows.
    down.store(true, Ordering::SeqCst);
    srv.clock.advance(Duration::seconds(31));
    srv.run_vendor_polls().await;
    let (s, doc) = srv.get("/status/deps/api/v2/summary.json", &t).await;
    assert_eq!(s, StatusCode::OK);
    let status = |name: &str| {
        doc["components"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["status"].clone()
    };
    assert_eq!(status("Git hosting"), "major_outage", "{doc}");
    let whole = vendor(srv, &t, &forge).await["status"].clone();
    assert_eq!(whole, "major_outage", "the vendor's status is its worst component's");
    assert_eq!(status("Forge"), whole, "the whole vendor: {doc}");
    assert_eq!(doc["status"]["indicator"], "critical");
    let (_, page) = srv.get(&format!("/api/v1/status-pages/{id}"), &t).await;
    assert_eq!(page["components"][0]["status"], "major_outage");

    // The editor offers the vendor's components, and adds one without JavaScript.
    srv.user("editor", Role::Manager).await;
    let cookie = srv.login("editor", "password-editor").await.unwrap();
    let (_, html) = srv.page(&format!("/status-pages/{id}"), &cookie).await;
    assert!(html.contains("Forge: Pages") && html.contains("follows vendor Forge: Git"), "{html}");
    let path = format!("/status-pages/{id}/components");
    let choice = format!("{forge}|Pages");
    let fields = [("name", "Pages"), ("group", ""), ("service_id", ""), ("vendor", choice.as_str())];
    let (_, notice) = srv.form(&path, &cookie, &fields).await;
    assert_eq!(notice, "Component Pages added");
    let (_, notice) = srv.form(&path, &cookie, &[("name", "Bad"), ("vendor", "nope")]).await;
    assert!(notice.starts_with("Not done:") && notice.contains("vendor"), "{notice}");
    let (_, page) = srv.get(&format!("/api/v1/status-pages/{id}"), &t).await;
    assert_eq!(
        (page["components"][2]["vendor_component"].as_str(), page["components"][2]["status"].as_str()),
        (Some("Pages"), Some("operational"))
    );
    // Changing the vendor keeps what follows it; a bad address is refused and changes nothing.
    let put = format!("/api/v1/vendors/{forge}");
    let (s, v) = srv.put(&put, &t, json!({"name": "Forge", "url": url, "interval_seconds": 120})).await;
    assert_eq!((s, v["interval_seconds"].as_i64()), (StatusCode::OK, Some(120)), "{v}");
    let (s, e) = srv.put(&put, &t, json!({"name": "Forge", "url": "ftp://x"})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("url")), "{e}");
    let (_, page) = srv.get(&format!("/api/v1/status-pages/{id}"), &t).await;
    assert_eq!(page["components"][0]["vendor_id"], forge.as_str());
    // Removing the vendor unlinks the component; the page stays.
    assert_eq!(srv.delete(&format!("/api/v1/vendors/{forge}"), &t).await.0, StatusCode::NO_CONTENT);
    let (_, page) = srv.get(&format!("/api/v1/status-pages/{id}"), &t).await;
    assert_eq!(page["components"][0]["vendor_id"], Value::Null, "{page}");
    assert_eq!(page["components"][0]["status"], "operational");
}
