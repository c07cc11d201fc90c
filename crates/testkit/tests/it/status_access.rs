//! Private status pages: without the access cookie the page asks for its password and every
//! document answers 401; the right password opens all of them; a new password locks out the
//! old cookie; making the page public opens it again.

use crate::status_pages::public;
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::json;

backend_tests!(private_pages_need_the_password);

/// POSTs the password form; returns the status and the access cookie set, if any.
async fn unlock(srv: &TestServer, slug: &str, password: &str) -> (StatusCode, Option<String>) {
    let resp = srv
        .http
        .post(format!("{}/status/{slug}/unlock", srv.url))
        .header("origin", &srv.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("password", password)]).unwrap())
        .send()
        .await
        .unwrap();
    let cookie = resp.headers().get("set-cookie").map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    (resp.status(), cookie)
}

async fn with_cookie(srv: &TestServer, path: &str, cookie: &str) -> (StatusCode, String) {
    let resp = srv.http.get(format!("{}{path}", srv.url)).header("cookie", cookie).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

async fn private_pages_need_the_password(srv: &TestServer) {
    let m = srv.token("m", Role::Manager).await;
    let (_, page) = srv
        .post(
            "/api/v1/status-pages",
            &m,
            json!({"slug": "internal", "title": "Internal", "components": [{"name": "VPN"}]}),
        )
        .await;
    let id = page["id"].as_str().unwrap().to_owned();
    assert_eq!(page["private"], false);
    let access = format!("/api/v1/status-pages/{id}/access");
    let (s, e) = srv.put(&access, &m, json!({"password": "short"})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password")));
    let r = srv.token("r", Role::Responder).await;
    assert_eq!(srv.put(&access, &r, json!({"password": "correct horse"})).await.0, StatusCode::FORBIDDEN);
    let (s, p) = srv.put(&access, &m, json!({"password": "correct horse"})).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["private"], true);
    assert!(!p.to_string().contains("argon2"), "the hash is never shown: {p}");

    // Without the cookie: the password form, and 401 for every document.
    let (s, h, html) = public(srv, "/status/internal").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(html.contains(r#"action="/status/internal/unlock""#) && !html.contains("VPN"), "{html}");
    assert_eq!(h["cache-control"], "no-store");
    for path in ["/api/v2/summary.json", "/feed.atom", "/badge.svg", "/embed"] {
        let (s, _, body) = public(srv, &format!("/status/internal{path}")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
        assert!(!body.contains("VPN"), "{path}: {body}");
    }
    let (s, body) = crate::status_subscribers::sign_up(srv, "internal", &[("email", "x@example.com")]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");

    // A wrong password is refused; the right one sets the cookie that opens everything.
    let (s, cookie) = unlock(srv, "internal", "wrong password").await;
    assert_eq!((s, cookie), (StatusCode::UNAUTHORIZED, None));
    let (s, cookie) = unlock(srv, "internal", "correct horse").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let cookie = cookie.unwrap();
    let (s, html) = with_cookie(srv, "/status/internal", &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("VPN"));
    let resp = srv.http.get(format!("{}/status/internal/api/v2/summary.json", srv.url)).header("cookie", &cookie);
    let resp = resp.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "private, max-age=2");
    assert!(resp.headers().get("access-control-allow-origin").is_none(), "not readable across origins");

    // A new password locks the old cookie out; making the page public opens it to all.
    srv.put(&access, &m, json!({"password": "battery staple"})).await;
    assert_eq!(with_cookie(srv, "/status/internal", &cookie).await.0, StatusCode::UNAUTHORIZED);
    let (s, p) = srv.put(&access, &m, json!({"password": null})).await;
    assert_eq!((s, &p["private"]), (StatusCode::OK, &json!(false)));
    assert_eq!(public(srv, "/status/internal").await.0, StatusCode::OK);
    let (_, log) = srv.get("/api/v1/audit?action=status_page.access", &srv.token("a", Role::Admin).await).await;
    let text = log.to_string();
    assert!(text.contains("Made status page internal private") && !text.contains("correct horse"), "{text}");
}
