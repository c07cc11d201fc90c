use opsdeck_core::role::Role;
use opsdeck_testkit::{Method, StatusCode, TestServer, backend_tests};
use serde_json::json;

backend_tests!(
    setup_creates_first_admin_once,
    login_logout_and_session_expiry,
    wrong_password_is_rejected_and_rate_limited,
    tokens_are_hashed_and_revocation_is_immediate,
    token_role_cap_narrows_access,
    last_admin_cannot_be_demoted,
    password_change_needs_current_password,
    disabled_user_loses_access,
    sign_in_sessions_and_streams_are_hardened,
);

async fn setup_creates_first_admin_once(srv: &TestServer) {
    let body = json!({"username": "ops", "password": "correct horse battery"});
    let (status, user) = srv.call(Method::POST, "/api/v1/setup", None, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["role"], "admin");
    let (status, err) = srv.call(Method::POST, "/api/v1/setup", None, Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"]["code"], "conflict");
    assert!(srv.login("ops", "correct horse battery").await.is_ok());
    // Setup refuses a weak password with a message that says what to fix.
    let fresh_body = json!({"username": "x", "password": "short"});
    let (status, _) = srv.call(Method::POST, "/api/v1/setup", None, Some(fresh_body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "setup is closed once a user exists");
}

async fn login_logout_and_session_expiry(srv: &TestServer) {
    srv.user("alice", Role::Manager).await;
    let cookie = srv.login("alice", "password-alice").await.expect("login");
    let me = srv.http.get(format!("{}/api/v1/me", srv.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["role"], "manager");

    // The session cookie is HttpOnly and SameSite=Lax.
    let resp = srv
        .http
        .post(format!("{}/api/v1/auth/login", srv.url))
        .json(&json!({"username": "alice", "password": "password-alice"}))
        .send()
        .await
        .unwrap();
    let set_cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");

    // Logout ends the session on the server, not only in the browser.
    let out = srv.http.post(format!("{}/api/v1/auth/logout", srv.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let me = srv.http.get(format!("{}/api/v1/me", srv.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);

    // Sessions expire after their lifetime (14 days by default).
    let cookie = srv.login("alice", "password-alice").await.expect("login");
    srv.clock.advance(chrono::Duration::days(15));
    let me = srv.http.get(format!("{}/api/v1/me", srv.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

async fn wrong_password_is_rejected_and_rate_limited(srv: &TestServer) {
    srv.user("bob", Role::Viewer).await;
    let (status, body) = srv.login("bob", "wrong-password").await.unwrap_err();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_credentials");
    let (status, _) = srv.login("nobody", "whatever-password").await.unwrap_err();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unknown users get the same answer");
    let mut limited = false;
    for _ in 0..12 {
        if let Err((status, body)) = srv.login("bob", "wrong-password").await
            && status == StatusCode::TOO_MANY_REQUESTS
        {
            assert_eq!(body["error"]["code"], "rate_limited");
            limited = true;
            break;
        }
    }
    assert!(limited, "repeated failures must be throttled");
}

async fn tokens_are_hashed_and_revocation_is_immediate(srv: &TestServer) {
    let admin = srv.token("root", Role::Admin).await;
    let (status, created) = srv.post("/api/v1/tokens", &admin, json!({"name": "ci"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("opsd_"));
    let id = created["id"].as_str().unwrap().to_owned();

    // Nothing in the database holds the secret in clear.
    if let opsdeck_store::Db::Sqlite(sqlite) = &srv.db {
        let stored: Vec<(String, String)> =
            sqlx::query_as("SELECT token_hash, hint FROM api_tokens").fetch_all(&sqlite.pool).await.unwrap();
        assert!(stored.iter().all(|(h, hint)| h != &secret && !secret.eq(hint) && hint.len() < 20));
    }
    if let opsdeck_store::Db::Postgres(pool) = &srv.db {
        let stored: Vec<(String, String)> =
            sqlx::query_as("SELECT token_hash, hint FROM api_tokens").fetch_all(pool).await.unwrap();
        assert!(stored.iter().all(|(h, hint)| h != &secret && !secret.eq(hint) && hint.len() < 20));
    }
    let (status, list) = srv.get("/api/v1/tokens", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!list.to_string().contains(&secret), "listing never shows the secret");

    assert_eq!(srv.get("/api/v1/services", &secret).await.0, StatusCode::OK);
    let (status, revoked) = srv.delete(&format!("/api/v1/tokens/{id}"), &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked_at"].is_string());
    let (status, err) = srv.get("/api/v1/services", &secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(err["error"]["code"], "invalid_token");
}

async fn token_role_cap_narrows_access(srv: &TestServer) {
    let u = srv.user("mgr", Role::Manager).await;
    let capped = srv.token_for(&u, Some(Role::Viewer)).await;
    let (status, _) = srv.post("/api/v1/teams", &capped, json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let full = srv.token_for(&u, None).await;
    assert_eq!(srv.post("/api/v1/teams", &full, json!({"name": "Ops"})).await.0, StatusCode::CREATED);
    // A manager cannot mint an admin token.
    let (status, err) = srv.post("/api/v1/tokens", &full, json!({"name": "x", "role": "admin"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["details"]["field"], "role");
    // A capped token cannot mint a wider one.
    let (status, t) = srv.post("/api/v1/tokens", &capped, json!({"name": "y"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(t["role"], "viewer");
}

async fn last_admin_cannot_be_demoted(srv: &TestServer) {
    let admin = srv.token("only-admin", Role::Admin).await;
    let (status, err) = srv.patch("/api/v1/users/only-admin", &admin, json!({"role": "viewer"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(err["error"]["message"].as_str().unwrap().contains("last enabled admin"));
    let (status, _) = srv.patch("/api/v1/users/only-admin", &admin, json!({"disabled": true})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    srv.user("second", Role::Admin).await;
    let (status, u) = srv.patch("/api/v1/users/only-admin", &admin, json!({"role": "manager"})).await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["role"], "manager");
}

async fn password_change_needs_current_password(srv: &TestServer) {
    let carol = srv.user("carol", Role::Responder).await;
    let token = srv.token_for(&carol, None).await;
    let (status, err) = srv
        .post(
            "/api/v1/users/carol/password",
            &token,
            json!({"current_password": "nope", "new_password": "new password 1"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["details"]["field"], "current_password");
    let (status, _) = srv
        .post(
            "/api/v1/users/carol/password",
            &token,
            json!({"current_password": "password-carol", "new_password": "new password 1"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(srv.login("carol", "password-carol").await.is_err());
    assert!(srv.login("carol", "new password 1").await.is_ok());
    // Someone else's password needs admin.
    srv.user("dave", Role::Viewer).await;
    let (status, _) = srv.post("/api/v1/users/dave/password", &token, json!({"new_password": "whatever 123"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn disabled_user_loses_access(srv: &TestServer) {
    let admin = srv.token("boss", Role::Admin).await;
    let erin = srv.user("erin", Role::Manager).await;
    let token = srv.token_for(&erin, None).await;
    let cookie = srv.login("erin", "password-erin").await.unwrap();
    assert_eq!(srv.patch("/api/v1/users/erin", &admin, json!({"disabled": true})).await.0, StatusCode::OK);
    assert_eq!(srv.get("/api/v1/services", &token).await.0, StatusCode::UNAUTHORIZED);
    let me = srv.http.get(format!("{}/api/v1/me", srv.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert!(srv.login("erin", "password-erin").await.is_err());
}

/// The sign-in limiter counts `" admin"`, `"\tadmin"` and `"ADMIN"` as `admin`; every answer
/// carries the security headers; an unused session ends after the idle timeout; a live-update
/// stream ends when its session does.
async fn sign_in_sessions_and_streams_are_hardened(srv: &TestServer) {
    srv.user("admin", Role::Admin).await;
    let login = |name: &str| {
        srv.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": name, "password": "wrong"})))
    };
    let mut limited = false;
    for name in
        [" admin", "\tadmin", "ADMIN", "admin ", "Admin", "admin\n", " ADMIN", "admin", "aDmin", "\radmin", "admin"]
    {
        let (s, e) = login(name).await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            assert_eq!(e["error"]["code"], "rate_limited");
        }
    }
    assert!(limited, "variants of one name share one budget");

    srv.user("alice", Role::Manager).await;
    let cookie = srv.login("alice", "password-alice").await.unwrap();
    let page = srv.http.get(format!("{}/incidents", srv.url)).header("cookie", &cookie).send().await.unwrap();
    let h = page.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["content-security-policy"], "frame-ancestors 'none'");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["cache-control"], "no-store");
    let css = srv.http.get(format!("{}/static/app.css", srv.url)).send().await.unwrap();
    assert!(css.headers()["cache-control"].to_str().unwrap().starts_with("public"), "assets keep their caching");

    // Used within the idle timeout, a session lives on; left alone longer, it ends.
    srv.clock.advance(chrono::Duration::hours(11));
    assert_eq!(srv.page("/api/v1/me", &cookie).await.0, StatusCode::OK);
    srv.clock.advance(chrono::Duration::hours(11));
    assert_eq!(srv.page("/api/v1/me", &cookie).await.0, StatusCode::OK, "the last use moved the idle deadline");
    srv.clock.advance(chrono::Duration::hours(13));
    assert_eq!(srv.page("/api/v1/me", &cookie).await.0, StatusCode::UNAUTHORIZED, "idle for 13 hours");

    // An open stream ends when its session is signed out.
    let cookie = srv.login("alice", "password-alice").await.unwrap();
    let mut stream = srv.http.get(format!("{}/api/v1/events", srv.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let (s, _) = srv.form("/api/v1/auth/logout", &cookie, &[]).await;
    assert!(s.is_success(), "{s}");
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ends with the session");
}
