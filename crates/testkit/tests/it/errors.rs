//! Bad input gets a 4xx with the error shape; nothing answers 500.

use opsdeck_core::role::Role;
use opsdeck_testkit::{Method, StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};

backend_tests!(bad_input_gets_clear_4xx, csrf_refuses_cross_site_forms);

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

async fn bad_input_gets_clear_4xx(srv: &TestServer) {
    let t = srv.token("m", Role::Admin).await;
    let raw = |body: &'static str, ct: &'static str| {
        srv.http
            .post(format!("{}/api/v1/services", srv.url))
            .bearer_auth(&t)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    // Malformed JSON, wrong types, unknown fields.
    for body in ["{", "[]", r#"{"name": 5}"#, r#"{"name": "x", "colour": "red"}"#] {
        let resp = raw(body, "application/json").await.unwrap();
        let status = resp.status();
        assert_error(status, &resp.json().await.unwrap(), StatusCode::BAD_REQUEST, "invalid_request");
    }
    // Not JSON at all.
    let resp = raw("name=x", "application/x-www-form-urlencoded").await.unwrap();
    let status = resp.status();
    assert_error(status, &resp.json().await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    // Too large.
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    // The server answers 413 without reading the rest of the body and closes the connection;
    // a client of its own keeps that closed connection out of the shared pool.
    let once = reqwest::Client::builder().build().unwrap();
    let resp = once
        .post(format!("{}/api/v1/services", srv.url))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_error(status, &resp.json().await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Field rules name the field.
    let cases = [
        (json!({"name": "x".repeat(121)}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "ok", "slug": "Not A Slug"}), "slug"),
        (json!({"name": "ok", "tier": 0}), "tier"),
        (json!({"name": "ok", "runbook_url": "javascript:alert(1)"}), "runbook_url"),
        (json!({"name": "ok", "tags": ["a b"]}), "tags"),
        (json!({"name": "ok", "description": "d".repeat(4001)}), "description"),
        (json!({"name": "ok", "team_id": "0192f000-0000-7000-8000-000000000000"}), "team_id"),
    ];
    for (body, field) in cases {
        let (status, err) = srv.post("/api/v1/services", &t, body).await;
        assert_error(status, &err, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(err["error"]["details"]["field"], field);
    }
    // Duplicate slugs.
    assert_eq!(srv.post("/api/v1/services", &t, json!({"name": "Same"})).await.0, StatusCode::CREATED);
    let (status, err) = srv.post("/api/v1/services", &t, json!({"name": "Same"})).await;
    assert_error(status, &err, StatusCode::CONFLICT, "conflict");
    assert!(err["error"]["message"].as_str().unwrap().contains("slug"));
    assert_eq!(srv.post("/api/v1/teams", &t, json!({"name": "T"})).await.0, StatusCode::CREATED);
    let (status, err) = srv.post("/api/v1/teams", &t, json!({"name": "T"})).await;
    assert_error(status, &err, StatusCode::CONFLICT, "conflict");
    let (status, err) =
        srv.post("/api/v1/users", &t, json!({"username": "m", "password": "long enough", "role": "viewer"})).await;
    assert_error(status, &err, StatusCode::CONFLICT, "conflict");
    let (status, err) =
        srv.post("/api/v1/users", &t, json!({"username": "new", "password": "long enough", "role": "root"})).await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "invalid_request");
    // Nothing was half-written by the failures above.
    let (_, list) = srv.get("/api/v1/services", &t).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Unknown things.
    let (status, err) = srv.get("/api/v1/services/nope", &t).await;
    assert_error(status, &err, StatusCode::NOT_FOUND, "service_not_found");
    let (status, err) = srv.delete("/api/v1/tokens/not-a-uuid", &t).await;
    assert_error(status, &err, StatusCode::NOT_FOUND, "api_token_not_found");
    let (status, err) = srv.get("/api/v1/nothing-here", &t).await;
    assert_error(status, &err, StatusCode::NOT_FOUND, "route_not_found");
    let (status, err) = srv.get("/api/v1/services?limit=abc", &t).await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "invalid_request");
    let (status, err) = srv.get("/api/v1/services?cursor=bogus!", &t).await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "invalid_request");
    let (status, err) = srv.call(Method::GET, "/api/v1/services", None, None).await;
    assert_error(status, &err, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (status, err) = srv.call(Method::GET, "/api/v1/services", Some("opsd_nope"), None).await;
    assert_error(status, &err, StatusCode::UNAUTHORIZED, "invalid_token");
}

async fn csrf_refuses_cross_site_forms(srv: &TestServer) {
    srv.user("vic", Role::Admin).await;
    let cookie = srv.login("vic", "password-vic").await.unwrap();
    let post = |site: &'static str| {
        srv.http
            .post(format!("{}/teams", srv.url))
            .header("cookie", &cookie)
            .header("sec-fetch-site", site)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=Evil&slug=&description=")
            .send()
    };
    let resp = post("cross-site").await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf_rejected");
    let resp = post("same-origin").await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let admin = srv.token_for(&srv.db.find_user_by_username("vic").await.unwrap(), None).await;
    let (_, teams) = srv.get("/api/v1/teams", &admin).await;
    assert_eq!(teams["items"].as_array().unwrap().len(), 1, "only the same-origin post created a team");
}
