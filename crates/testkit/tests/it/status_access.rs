//! Private status pages: without the access cookie the page asks for its password and every
//! document answers 401; the right password opens all of them; a new password locks out the
//! old cookie; making the page public opens it again. A page for teams admits their signed-in
//! members (session or token) and admins, nobody else.

use crate::status_pages::public;
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::json;

backend_tests!(private_pages_need_the_password, team_pages_admit_their_members);

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

async fn team_pages_admit_their_members(srv: &TestServer) {
    let m = srv.token("m", Role::Manager).await;
    let (_, ops) = srv.post("/api/v1/teams", &m, json!({"name": "Ops"})).await;
    let (_, sales) = srv.post("/api/v1/teams", &m, json!({"name": "Sales"})).await;
    let (_, page) = srv
        .post(
            "/api/v1/status-pages",
            &m,
            json!({"slug": "ops-only", "title": "Ops Only", "components": [{"name": "VPN"}]}),
        )
        .await;
    let access = format!("/api/v1/status-pages/{}/access", page["id"].as_str().unwrap());
    let (s, p) = srv.put(&access, &m, json!({"team_ids": [ops["id"]]})).await;
    assert_eq!((s, &p["private"], &p["team_ids"]), (StatusCode::OK, &json!(true), &json!([ops["id"]])), "{p}");
    let (s, e) = srv.put(&access, &m, json!({"team_ids": [uuid::Uuid::now_v7()]})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("team_ids")));

    // Members: Olga in Ops, Sam in Sales (by the API and by the team page's form).
    let olga = srv.user("olga", Role::Viewer).await;
    let sam = srv.user("sam", Role::Viewer).await;
    let members = format!("/api/v1/teams/{}/members", ops["slug"].as_str().unwrap());
    let (s, _) = srv.put(&format!("{members}/{}", olga.id), &m, json!({})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = srv.put(&format!("{members}/{}", olga.id), &m, json!({})).await;
    assert_eq!(s, StatusCode::OK, "already a member");
    let (s, _) = srv.put(&format!("{members}/{}", uuid::Uuid::now_v7()), &m, json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let viewer = srv.token("v", Role::Viewer).await;
    assert_eq!(srv.put(&format!("{members}/{}", sam.id), &viewer, json!({})).await.0, StatusCode::FORBIDDEN);
    srv.user("mgr", Role::Manager).await;
    let mgr = srv.login("mgr", "password-mgr").await.unwrap();
    let (s, notice) = srv
        .form(&format!("/teams/{}/members", sales["slug"].as_str().unwrap()), &mgr, &[("user_id", &sam.id.to_string())])
        .await;
    assert_eq!((s, notice.as_str()), (StatusCode::SEE_OTHER, "Member added"));
    let (_, list) = srv.get(&members, &viewer).await;
    assert_eq!(list["items"][0]["username"], "olga");

    // Nobody signed in: the page offers to sign in, and the JSON says how to get in.
    let (s, _, html) = public(srv, "/status/ops-only").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(html.contains("members-only") && html.contains("/login?next=/status/ops-only"), "{html}");
    assert!(!html.contains(r#"id="unlock""#), "no password to enter");
    let (s, _, body) = public(srv, "/status/ops-only/api/v2/summary.json").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(body.contains("sign in as a member"), "{body}");
    // Olga (a member) sees it signed in; Sam (Sales) does not; an admin does.
    let olga_session = srv.login("olga", "password-olga").await.unwrap();
    let (s, html) = with_cookie(srv, "/status/ops-only", &olga_session).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("VPN"));
    let sam_session = srv.login("sam", "password-sam").await.unwrap();
    assert_eq!(with_cookie(srv, "/status/ops-only", &sam_session).await.0, StatusCode::UNAUTHORIZED);
    let olga_token = srv.token_for(&olga, None).await;
    let resp = srv
        .http
        .get(format!("{}/status/ops-only/api/v2/status.json", srv.url))
        .bearer_auth(&olga_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["cache-control"].to_str().unwrap().starts_with("private"));
    srv.user("root", Role::Admin).await;
    let admin = srv.login("root", "password-root").await.unwrap();
    assert_eq!(with_cookie(srv, "/status/ops-only", &admin).await.0, StatusCode::OK);
    // Removed from the team: locked out.
    let (s, _) = srv.delete(&format!("{members}/{}", olga.id), &m).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(with_cookie(srv, "/status/ops-only", &olga_session).await.0, StatusCode::UNAUTHORIZED);

    // A password as well: either opens it; clearing both makes it public.
    let (_, p) = srv.put(&access, &m, json!({"password": "correct horse"})).await;
    assert_eq!(p["team_ids"], json!([ops["id"]]), "teams stay when only the password changes");
    let (_, _, html) = public(srv, "/status/ops-only").await;
    assert!(html.contains(r#"id="unlock""#) && html.contains("members-only"), "{html}");
    let (s, p) = srv.put(&access, &m, json!({"password": null, "team_ids": []})).await;
    assert_eq!((s, &p["private"]), (StatusCode::OK, &json!(false)));
    assert_eq!(public(srv, "/status/ops-only").await.0, StatusCode::OK);
}
