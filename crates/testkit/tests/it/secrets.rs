//! Secrets are write-only: every secret-bearing field is seeded with a marker, then every GET
//! endpoint of the OpenAPI document and every page is read as a viewer and as a responder (and
//! the audit log as an admin): no marker, ping token or failed webhook's path appears anywhere.

use opsdeck_core::monitor::{HttpAuth, Settings};
use opsdeck_core::role::Role;
use opsdeck_testkit::{Method, Receiver, StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};
use std::collections::HashMap;

backend_tests!(no_reader_sees_a_secret, secrets_survive_an_edit_that_shows_them_masked);

const MARK: &str = "SECRETMARK";

/// Seeds every kind of secret; returns the ids the sweep fills path parameters with and the
/// ping token (itself a secret for readers).
async fn seed(srv: &TestServer, admin: &str, rx: &Receiver) -> (HashMap<&'static str, String>, String) {
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let (_, team) = srv.post("/api/v1/teams", admin, json!({"name": "Payments"})).await;
    let (_, svc) = srv.post("/api/v1/services", admin, json!({"name": "Checkout", "team_id": team["id"]})).await;
    let sid = id(&svc);
    let mut ids = HashMap::from([("team", team["slug"].as_str().unwrap().to_owned()), ("service", sid.clone())]);

    let monitor =
        |settings: Value| json!({"name": "m", "service_id": sid, "type": "http", "paused": true, "settings": settings});
    let (s, m) = srv
        .post(
            "/api/v1/monitors",
            admin,
            monitor(json!({"url": format!("https://u:{MARK}-urlpass@example.invalid/health?apikey={MARK}-query"),
                "headers": {"X-Api-Key": format!("{MARK}-header")},
                "auth": {"type": "bearer", "token": format!("{MARK}-bearer")}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert!(!m.to_string().contains(MARK), "not even the writer gets a secret back: {m}");
    ids.insert("monitor", id(&m));
    let (_, _) = srv
        .post(
            "/api/v1/monitors",
            admin,
            monitor(json!({"url": "https://example.invalid/",
                "auth": {"type": "basic", "username": "svc", "password": format!("{MARK}-basic")}})),
        )
        .await;
    let (s, hb) = srv
        .post(
            "/api/v1/monitors",
            admin,
            json!({"name": "nightly backup", "service_id": sid, "type": "heartbeat",
                "settings": {"schedule": {"period_seconds": 86400}}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hb}");
    let ping_url = hb["ping_url"].as_str().expect("a manager sees the ping URL").to_owned();
    let ping_token = ping_url.rsplit('/').next().unwrap().to_owned();

    for (kind, config) in [
        (
            "webhook",
            json!({"url": format!("{}/{MARK}-chanpath", rx.url), "secret": format!("{MARK}-signing"),
                "headers": {"X-Token": format!("{MARK}-chanheader")}}),
        ),
        ("slack", json!({"url": format!("https://hooks.slack.invalid/services/{MARK}-slack")})),
        (
            "pagerduty",
            json!({"url": "https://events.pd.invalid/v2/enqueue",
                "routing_key": format!("{MARK}0123456789abcdef012345")}),
        ),
    ] {
        let (s, c) = srv
            .post("/api/v1/channels", admin, json!({"name": kind, "kind": kind, "service_id": sid, "config": config}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }

    // A responder whose webhook fails: the failure is shown, its URL is not.
    let resp = srv.user("resp", Role::Responder).await;
    let rt = srv.token_for(&resp, None).await;
    let (s, c) = srv
        .post(
            "/api/v1/users/me/contact-methods",
            &rt,
            json!({"kind": "webhook", "address": format!("{}/{MARK}-contact", rx.url)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (_, pol) = srv
        .post(
            "/api/v1/escalation-policies",
            admin,
            json!({"name": "p", "levels": [{"delay_minutes": 5, "targets": [{"type": "user", "id": resp.id}]}]}),
        )
        .await;
    ids.insert("policy", id(&pol));
    srv.call(
        Method::PUT,
        &format!("/api/v1/services/{sid}/escalation-policy"),
        Some(admin),
        Some(json!({"policy_id": pol["id"]})),
    )
    .await;
    let (_, sched) = srv
        .post(
            "/api/v1/schedules",
            admin,
            json!({"name": "Primary", "timezone": "UTC", "layers": [{"name": "w", "start": "2026-01-05T09:00:00",
                "length": {"unit": "weeks", "count": 1}, "users": [resp.id]}]}),
        )
        .await;
    ids.insert("schedule", id(&sched));
    let (_, inc) = srv.post("/api/v1/incidents", admin, json!({"title": "Checkout down", "service_id": sid})).await;
    ids.insert("incident", id(&inc));
    rx.answer(410);
    let pass = srv.run_notifier().await;
    assert!(pass.failed >= 1, "the webhook failed for good: {pass:?}");
    ids.insert("user", resp.id.to_string());
    (ids, ping_token)
}

/// Fills a path template's parameters with the seeded ids (by the path's area).
fn fill(path: &str, ids: &HashMap<&'static str, String>) -> String {
    let area = |p: &str| {
        for (prefix, key) in [
            ("/api/v1/teams", "team"),
            ("/api/v1/monitors", "monitor"),
            ("/api/v1/incidents", "incident"),
            ("/api/v1/schedules", "schedule"),
            ("/api/v1/escalation-policies", "policy"),
            ("/api/v1/users", "user"),
            ("/api/v1/services", "service"),
        ] {
            if p.starts_with(prefix) {
                return ids.get(key).cloned();
            }
        }
        None
    };
    let value = area(path).unwrap_or_else(|| uuid::Uuid::nil().to_string());
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map(|c| open + c + 1).unwrap_or(rest.len());
        out.push_str(&value);
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

fn assert_clean(what: &str, body: &str, ping_token: &str) {
    assert!(!body.contains(MARK), "{what} shows a secret: …{}…", excerpt(body, MARK));
    assert!(!body.contains(ping_token), "{what} shows the ping token");
}

fn excerpt(body: &str, needle: &str) -> String {
    let i = body.find(needle).unwrap_or(0);
    body[i.saturating_sub(80)..(i + 40).min(body.len())].to_owned()
}

async fn no_reader_sees_a_secret(srv: &TestServer) {
    let rx = Receiver::start().await;
    let admin = srv.token("admin", Role::Admin).await;
    let (ids, ping_token) = seed(srv, &admin, &rx).await;

    let (_, doc) = srv.call(Method::GET, "/api/openapi.json", None, None).await;
    let gets: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, ops)| ops.get("get").is_some() && !p.ends_with("/events"))
        .map(|(p, _)| fill(p, &ids))
        .collect();
    assert!(gets.len() > 30, "the sweep covers the API: {}", gets.len());
    let pages = [
        "/",
        "/services",
        "/monitors",
        "/incidents",
        "/alerts",
        "/oncall",
        "/escalation-policies",
        "/channels",
        "/settings/notifications",
        "/reports",
        "/reports/mttx",
        "/maintenance",
        "/teams",
        "/settings",
        "/settings/tokens",
        "/action-items",
    ]
    .map(str::to_owned)
    .into_iter()
    .chain([
        format!("/services/{}", ids["service"]),
        format!("/services/{}/integrations", ids["service"]),
        format!("/monitors/{}", ids["monitor"]),
        format!("/incidents/{}", ids["incident"]),
        format!("/oncall/{}", ids["schedule"]),
        format!("/teams/{}", ids["team"]),
    ]);
    let pages: Vec<String> = pages.collect();

    for role in [Role::Viewer, Role::Responder] {
        let name = format!("reader-{}", role.as_str());
        let user = srv.user(&name, role).await;
        let token = srv.token_for(&user, None).await;
        let mut ok = 0;
        for path in &gets {
            let (status, body) = srv.get(path, &token).await;
            ok += usize::from(status == StatusCode::OK);
            assert_clean(&format!("GET {path} as {role:?}"), &body.to_string(), &ping_token);
        }
        assert!(ok > 25, "most reads succeed as {role:?}: {ok}");
        let cookie = srv.login(&name, &format!("password-{name}")).await.unwrap();
        for path in &pages {
            let (status, html) = srv.page(path, &cookie).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_clean(&format!("page {path} as {role:?}"), &html, &ping_token);
        }
    }
    // The audit log keeps who changed what, never the secrets themselves.
    let (_, audit) = srv.get("/api/v1/audit?limit=200", &admin).await;
    assert!(audit["items"].as_array().unwrap().len() > 5);
    assert_clean("the audit log", &audit.to_string(), "no-ping-token-here");
    rx.task.abort();
}

async fn secrets_survive_an_edit_that_shows_them_masked(srv: &TestServer) {
    let admin = srv.token("admin", Role::Admin).await;
    let rx = Receiver::start().await;
    let (_, svc) = srv.post("/api/v1/services", &admin, json!({"name": "Checkout"})).await;
    // The target answers only with the right bearer token and header.
    let (s, m) = srv
        .post(
            "/api/v1/monitors",
            &admin,
            json!({"name": "api", "service_id": svc["id"], "type": "http",
                "settings": {"url": format!("{}/health?key=k1", rx.url), "headers": {"X-Key": "h1"},
                    "auth": {"type": "bearer", "token": "t1"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let id = m["id"].as_str().unwrap();
    assert_eq!(m["settings"]["auth"]["token"], "(set)");
    assert_eq!(m["settings"]["headers"]["X-Key"], "(set)");
    assert_eq!(m["settings"]["url"], format!("{}/health?key=(set)", rx.url));

    // Sending back what was read (as `opsdeck export` then `apply` would) keeps the secrets; a
    // new value replaces one.
    let mut settings = m["settings"].clone();
    settings["expected_status"] = json!(["200-299"]);
    settings["headers"]["X-Key"] = json!("h2");
    let (s, _) = srv.patch(&format!("/api/v1/monitors/{id}"), &admin, json!({"settings": settings})).await;
    assert_eq!(s, StatusCode::OK);
    let stored = srv.db.get_monitor(id.parse().unwrap()).await.unwrap().monitor.spec.settings;
    let Settings::Http(h) = stored else { panic!("an HTTP monitor") };
    assert_eq!(h.url, format!("{}/health?key=k1", rx.url));
    assert_eq!(h.headers["X-Key"], "h2");
    assert_eq!(h.auth, Some(HttpAuth::Bearer { token: "t1".into() }));
    // A blank token also keeps the stored one (the edit form leaves it empty).
    settings["auth"]["token"] = json!("");
    srv.patch(&format!("/api/v1/monitors/{id}"), &admin, json!({"settings": settings})).await;
    let stored = srv.db.get_monitor(id.parse().unwrap()).await.unwrap().monitor.spec.settings;
    let Settings::Http(h) = stored else { panic!("an HTTP monitor") };
    assert_eq!(h.auth, Some(HttpAuth::Bearer { token: "t1".into() }));
    // `opsdeck export --with-secrets`: admins only.
    let (_, all) = srv.get("/api/v1/monitors?include_secrets=true", &admin).await;
    assert_eq!(all["items"][0]["settings"]["auth"]["token"], "t1");
    let manager = srv.token("mgr", Role::Manager).await;
    let (s, _) = srv.get("/api/v1/monitors?include_secrets=true", &manager).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, audit) = srv.get("/api/v1/audit?limit=50", &admin).await;
    for secret in ["\"t1\"", "k1", "\"h1\"", "\"h2\""] {
        assert!(!audit.to_string().contains(secret), "{secret} in the audit log");
    }
    rx.task.abort();
}
