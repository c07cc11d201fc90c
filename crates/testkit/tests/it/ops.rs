use opsdeck_core::role::Role;
use opsdeck_testkit::{Method, StatusCode, TestServer, backend_tests};

backend_tests!(health_ready_metrics_and_openapi, pages_need_sign_in_and_render, live_events_stream_changes,);

async fn health_ready_metrics_and_openapi(srv: &TestServer) {
    let (status, body) = srv.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, body) = srv.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ready")));

    let t = srv.token("v", Role::Viewer).await;
    srv.get("/api/v1/services", &t).await;
    let metrics = srv.http.get(format!("{}/metrics", srv.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("opsdeck_http_requests_total"), "{metrics}");
    assert!(metrics.contains(r#"route="/api/v1/services""#));
    assert!(metrics.contains("opsdeck_http_request_duration_seconds"));
    assert!(metrics.contains("opsdeck_db_pool_connections"));
    assert!(metrics.contains("opsdeck_build_info"));
    if srv.db.backend() == opsdeck_store::Backend::Sqlite {
        // SQLite's heap in this process: at least the open connections' schema and caches.
        let heap = metrics
            .lines()
            .find_map(|l| l.strip_prefix("opsdeck_sqlite_memory_bytes "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        assert!(heap.is_some_and(|b| b > 100_000.0), "{heap:?}");
    }

    let (status, spec) = srv.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/services",
        "/api/v1/services/{service}",
        "/api/v1/teams",
        "/api/v1/tokens",
        "/api/v1/audit",
        "/api/v1/users",
    ] {
        assert!(spec["paths"].get(path).is_some(), "spec lacks {path}");
    }
    let docs = srv.http.get(format!("{}/api/docs/", srv.url)).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"));
}

async fn pages_need_sign_in_and_render(srv: &TestServer) {
    // Before any account exists, pages lead to setup.
    let resp = srv.http.get(format!("{}/services", srv.url)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/setup");
    let setup = srv.http.get(format!("{}/setup", srv.url)).send().await.unwrap();
    assert_eq!(setup.status(), StatusCode::OK);

    srv.user("pat", Role::Viewer).await;
    let resp = srv.http.get(format!("{}/services", srv.url)).send().await.unwrap();
    assert_eq!(resp.headers()["location"], "/login?next=%2Fservices");
    let cookie = srv.login("pat", "password-pat").await.unwrap();
    for path in ["/", "/services", "/teams", "/settings", "/settings/tokens"] {
        let resp = srv.http.get(format!("{}{path}", srv.url)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("<main"), "{path}");
    }
    // Admin pages refuse a viewer with the error page.
    for path in ["/settings/users", "/settings/audit", "/services/new"] {
        let resp = srv.http.get(format!("{}{path}", srv.url)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(resp.text().await.unwrap().contains("forbidden"));
    }
    let resp = srv.http.get(format!("{}/no/such/page", srv.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let css = srv.http.get(format!("{}/static/app.css", srv.url)).send().await.unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
}

async fn live_events_stream_changes(srv: &TestServer) {
    let (status, _) = srv.call(Method::GET, "/api/v1/events", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let t = srv.token("m", Role::Manager).await;
    let mut resp = srv.http.get(format!("{}/api/v1/events", srv.url)).bearer_auth(&t).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    srv.post("/api/v1/services", &t, serde_json::json!({"name": "Live One"})).await;
    let mut received = String::new();
    while !received.contains("\n\n") {
        let chunk = resp.chunk().await.unwrap().expect("the stream stays open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(received.contains("event: change"), "{received}");
    assert!(received.contains(r#""kind":"service.created""#), "{received}");
    assert!(received.contains("Service Live One created"), "{received}");
}
