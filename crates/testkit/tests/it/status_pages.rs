//! Status pages through the API and their public side (HTML and statuspage.io JSON), with
//! monitors checked against a real HTTP server on loopback and the scheduler on the fake clock.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

backend_tests!(
    components_follow_monitors_incidents_and_overrides,
    public_json_has_statuspage_io_fields,
    page_input_is_checked,
    saving_again_keeps_component_identity,
    editor_pages_work_without_javascript,
    uptime_history_by_month,
    custom_domains_serve_the_page,
    logo_and_footer_links,
);

/// A public GET without credentials: status, headers and body text.
pub(crate) async fn public(srv: &TestServer, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let resp = srv.http.get(format!("{}{path}", srv.url)).send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.text().await.unwrap())
}

pub(crate) async fn public_json(srv: &TestServer, path: &str) -> Value {
    let (status, _, body) = public(srv, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

pub(crate) fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["components"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("{name}: {doc}"))
}

/// A service with one HTTP monitor that has been checked once (up); returns service, monitor
/// and the target's status code.
pub(crate) async fn watched_service(srv: &TestServer, t: &str, name: &str) -> (String, String, Arc<AtomicU16>) {
    let (url, code, _serving) = crate::monitors::target().await;
    let (_, svc) = srv.post("/api/v1/services", t, json!({"name": name})).await;
    let (s, m) = srv
        .post(
            "/api/v1/monitors",
            t,
            json!({"name": format!("{name} health"), "service_id": svc["id"], "type": "http",
                   "interval_seconds": 30, "settings": {"url": url}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    (svc["id"].as_str().unwrap().to_owned(), m["id"].as_str().unwrap().to_owned(), code)
}

async fn components_follow_monitors_incidents_and_overrides(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (checkout, _, checkout_code) = watched_service(srv, &t, "Checkout").await;
    let (search, search_monitor, _) = watched_service(srv, &t, "Search").await;
    srv.clock.advance(Duration::seconds(31));
    assert_eq!(srv.run_checks().await, 2);

    let (s, page) = srv
        .post(
            "/api/v1/status-pages",
            &t,
            json!({"slug": "acme", "title": "Acme Status", "components": [
                {"name": "Checkout", "service_id": checkout},
                {"name": "Search", "monitor_ids": [search_monitor], "group": "Core"},
                {"name": "Search API", "service_id": search, "group": "Core", "only_show_if_degraded": true},
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{page}");
    assert_eq!((page["slug"].as_str(), page["url"].as_str()), (Some("acme"), Some("/status/acme")));
    assert_eq!(page["indicator"], "none");
    let comps = page["components"].as_array().unwrap();
    assert_eq!(comps.len(), 3);
    assert!(comps.iter().all(|c| c["id"].is_string() && c["status"] == "operational"), "{page}");
    assert_eq!(page["groups"][0]["name"], "Core");
    let page_id = page["id"].as_str().unwrap().to_owned();

    let status = public_json(srv, "/status/acme/api/v2/status.json").await;
    assert_eq!(status["status"], json!({"indicator": "none", "description": "All Systems Operational"}));
    let listed = public_json(srv, "/status/acme/api/v2/components.json").await;
    assert!(listed["components"].as_array().unwrap().iter().all(|c| c["name"] != "Search API"), "hidden: {listed}");
    let (s, _, html) = public(srv, "/status/acme").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("All Systems Operational") && html.contains("Checkout"), "{html}");
    assert!(!html.contains("Search API"), "only shown if degraded");

    // Checkout's only monitor fails: a major outage, and the page says so at once.
    checkout_code.store(503, Ordering::SeqCst);
    srv.clock.advance(Duration::seconds(30));
    srv.run_checks().await;
    let listed = public_json(srv, "/status/acme/api/v2/components.json").await;
    assert_eq!(component(&listed, "Checkout")["status"], "major_outage", "{listed}");
    assert_eq!(component(&listed, "Core")["status"], "operational");
    let status = public_json(srv, "/status/acme/api/v2/status.json").await;
    assert_eq!(status["status"]["indicator"], "critical");
    let (_, _, html) = public(srv, "/status/acme").await;
    assert!(html.contains("Major System Outage") && html.contains("Major outage"), "{html}");

    // An open SEV2 incident on Search: a partial outage, which also shows the hidden component
    // and raises its group.
    let (s, inc) = srv
        .post("/api/v1/incidents", &t, json!({"title": "Search slow", "service_id": search, "severity": "SEV2"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let listed = public_json(srv, "/status/acme/api/v2/components.json").await;
    assert_eq!(component(&listed, "Search API")["status"], "partial_outage", "{listed}");
    assert_eq!(component(&listed, "Search")["status"], "operational", "follows its monitor only");
    assert_eq!(component(&listed, "Core")["status"], "partial_outage");

    // A responder says Checkout is only degraded, for 30 minutes.
    let r = srv.token("r", Role::Responder).await;
    let checkout_id = comps.iter().find(|c| c["name"] == "Checkout").unwrap()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/status-pages/{page_id}/components/{checkout_id}/override");
    let (s, after) = srv.put(&path, &r, json!({"status": "degraded_performance", "minutes": 30})).await;
    assert_eq!(s, StatusCode::OK, "{after}");
    let c = after["components"].as_array().unwrap().iter().find(|c| c["id"] == checkout_id.as_str()).unwrap().clone();
    assert_eq!(
        (c["status"].as_str(), c["override_status"].as_str()),
        (Some("degraded_performance"), Some("degraded_performance"))
    );
    assert!(c["override_until"].is_string());
    let listed = public_json(srv, "/status/acme/api/v2/components.json").await;
    assert_eq!(component(&listed, "Checkout")["status"], "degraded_performance");
    // It expires on its own.
    srv.clock.advance(Duration::minutes(31));
    let listed = public_json(srv, "/status/acme/api/v2/components.json").await;
    assert_eq!(component(&listed, "Checkout")["status"], "major_outage");
    // A viewer may not set one; a bad status names the field.
    let v = srv.token("v", Role::Viewer).await;
    let (s, _) = srv.put(&path, &v, json!({"status": "operational"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = srv.put(&path, &r, json!({"status": "fine"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, e) = srv.put(&path, &r, json!({"status": "operational", "minutes": 0})).await;
    assert_eq!(
        (s, e["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("minutes")),
        "{e}"
    );
    let other = format!("/api/v1/status-pages/{page_id}/components/{page_id}/override");
    let (s, _) = srv.put(&other, &r, json!({"status": "operational"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Every change is audited.
    let admin = srv.token("a", Role::Admin).await;
    let (_, audit) = srv.get("/api/v1/audit?action=status_page.", &admin).await;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"status_page.create") && actions.contains(&"status_page.override"), "{actions:?}");
}

async fn public_json_has_statuspage_io_fields(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (s, page) = srv
        .post(
            "/api/v1/status-pages",
            &t,
            json!({"title": "Public Status", "time_zone": "America/Tijuana",
                   "components": [{"name": "Web", "description": "The site"}, {"name": "DB", "group": "Data"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{page}");
    assert_eq!(page["slug"], "public-status", "derived from the title");

    let doc = public_json(srv, "/status/public-status/api/v2/components.json").await;
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&doc["page"]), ["id", "name", "time_zone", "updated_at", "url"]);
    assert_eq!(doc["page"]["name"], "Public Status");
    let url = doc["page"]["url"].as_str().unwrap();
    assert!(url.starts_with("http://") && url.ends_with("/status/public-status"), "absolute: {url}");
    // Times are ISO 8601 with milliseconds in the page's zone.
    let updated = doc["page"]["updated_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(updated).is_ok() && updated.contains('.'), "{updated}");
    assert!(updated.ends_with("-08:00") || updated.ends_with("-07:00"), "{updated}");
    let leaf_keys = [
        "created_at",
        "description",
        "group",
        "group_id",
        "id",
        "name",
        "only_show_if_degraded",
        "page_id",
        "position",
        "showcase",
        "start_date",
        "status",
        "updated_at",
    ];
    let web = component(&doc, "Web");
    assert_eq!(keys(web), leaf_keys, "leaf components have no `components` key");
    assert_eq!((web["description"].as_str(), web["group"].as_bool()), (Some("The site"), Some(false)));
    let group = component(&doc, "Data");
    let mut group_keys: Vec<&str> = leaf_keys.to_vec();
    group_keys.push("components");
    group_keys.sort();
    assert_eq!(keys(group), group_keys);
    assert_eq!(group["group"], true);
    assert!(group["description"].is_null());
    let db = component(&doc, "DB");
    assert_eq!(db["group_id"], group["id"]);
    assert_eq!(group["components"], json!([db["id"]]));
    assert_eq!(db["page_id"], doc["page"]["id"]);
    let positions: Vec<i64> =
        doc["components"].as_array().unwrap().iter().map(|c| c["position"].as_i64().unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");

    // Readable from any origin, cached briefly, and a repeat visit is answered with 304.
    let (_, headers, _) = public(srv, "/status/public-status/api/v2/status.json").await;
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["cache-control"], "public, max-age=2");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let resp = srv
        .http
        .get(format!("{}/status/public-status/api/v2/status.json", srv.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // An unknown page is a 404 in the format asked for.
    let (s, _, body) = public(srv, "/status/nope/api/v2/status.json").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("status_page_not_found"), "{body}");
    let (s, _, body) = public(srv, "/status/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("<html"), "{body}");
}

async fn page_input_is_checked(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let field = |e: &Value| e["error"]["details"]["field"].as_str().map(str::to_owned);
    let cases = [
        (json!({"slug": "ok"}), "title"),
        (json!({"title": "x", "slug": "Not A Slug"}), "slug"),
        (json!({"title": "x", "time_zone": "Mars/Base"}), "time_zone"),
        (json!({"title": "x", "accent_color": "blue"}), "accent_color"),
        (json!({"title": "x", "components": [{"name": " "}]}), "components"),
        (json!({"title": "x", "components": [{"name": "a", "service_id": uuid::Uuid::nil()}]}), "components"),
        (json!({"title": "x", "components": [{"name": "a", "monitor_ids": [uuid::Uuid::nil()]}]}), "components"),
    ];
    for (body, expected) in cases {
        let (s, e) = srv.post("/api/v1/status-pages", &t, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(field(&e).as_deref(), Some(expected), "{body}: {e}");
    }
    let many: Vec<Value> = (0..201).map(|i| json!({"name": format!("c{i}")})).collect();
    let (s, _) = srv.post("/api/v1/status-pages", &t, json!({"title": "x", "components": many})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, _) = srv.post("/api/v1/status-pages", &t, json!({"title": "x", "slug": "same"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, e) = srv.post("/api/v1/status-pages", &t, json!({"title": "y", "slug": "same"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("slug"), "{e}");

    let v = srv.token("v", Role::Viewer).await;
    let (s, _) = srv.post("/api/v1/status-pages", &v, json!({"title": "z"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, list) = srv.get("/api/v1/status-pages", &v).await;
    assert_eq!((s, list["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let (s, e) = srv.get(&format!("/api/v1/status-pages/{}", uuid::Uuid::nil()), &v).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("status_page_not_found")));
    let id = list["items"][0]["id"].as_str().unwrap();
    let (s, _) = srv.delete(&format!("/api/v1/status-pages/{id}"), &v).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = srv.delete(&format!("/api/v1/status-pages/{id}"), &t).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = public(srv, "/status/same").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn saving_again_keeps_component_identity(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (_, page) = srv
        .post(
            "/api/v1/status-pages",
            &t,
            json!({"title": "Keep", "components": [{"name": "A", "group": "G"}, {"name": "B"}]}),
        )
        .await;
    let id = page["id"].as_str().unwrap().to_owned();
    let a = page["components"][0].clone();
    let b = page["components"][1].clone();
    let group_id = a["group_id"].clone();
    let path = format!("/api/v1/status-pages/{id}/components/{}/override", a["id"].as_str().unwrap());
    let (s, _) = srv.put(&path, &t, json!({"status": "major_outage"})).await;
    assert_eq!(s, StatusCode::OK);

    // Renamed, regrouped and reordered, B dropped, C added: A keeps its id, group and override.
    let (s, after) = srv
        .put(
            &format!("/api/v1/status-pages/{id}"),
            &t,
            json!({"title": "Kept",
                   "components": [{"name": "C", "group": "G"}, {"id": a["id"], "name": "A2", "group": "G"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{after}");
    assert_eq!(after["title"], "Kept");
    assert_eq!(after["slug"], "keep", "unchanged when not given");
    let comps = after["components"].as_array().unwrap();
    assert_eq!(comps.iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(), ["C", "A2"]);
    assert_eq!(comps[1]["id"], a["id"]);
    assert_eq!(comps[1]["group_id"], group_id);
    assert_eq!(comps[1]["status"], "major_outage");
    assert!(comps.iter().all(|c| c["id"] != b["id"]));

    // An id that is not one of this page's components is refused, and nothing changes.
    let (s, e) = srv
        .put(&format!("/api/v1/status-pages/{id}"), &t, json!({"components": [{"id": uuid::Uuid::nil(), "name": "X"}]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (_, same) = srv.get(&format!("/api/v1/status-pages/{id}"), &t).await;
    assert_eq!(same["components"].as_array().unwrap().len(), 2);

    // Moving A out of its group removes the emptied group, not A.
    let (s, after) = srv
        .put(&format!("/api/v1/status-pages/{id}"), &t, json!({"components": [{"id": a["id"], "name": "A2"}]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{after}");
    assert_eq!(after["components"][0]["id"], a["id"]);
    assert!(after["groups"].as_array().unwrap().is_empty());
}

async fn editor_pages_work_without_javascript(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (_, team) = srv.post("/api/v1/teams", &t, json!({"name": "Payments"})).await;
    for name in ["Card API", "Ledger"] {
        let (s, _) = srv.post("/api/v1/services", &t, json!({"name": name, "team_id": team["id"]})).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    srv.user("mgr", Role::Manager).await;
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let (s, html) = srv.page("/status-pages", &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("No status pages yet"), "empty state");

    // One click: a page with a component per service of the team.
    let team_id = team["id"].as_str().unwrap();
    let (s, notice) =
        srv.form("/status-pages", &cookie, &[("title", "Payments"), ("slug", ""), ("team_id", team_id)]).await;
    assert_eq!((s, notice.as_str()), (StatusCode::SEE_OTHER, "Status page payments created"));
    let (_, list) = srv.get("/api/v1/status-pages", &t).await;
    let page = &list["items"][0];
    let names: Vec<&str> = page["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Card API", "Ledger"]);
    let id = page["id"].as_str().unwrap();
    let (s, html) = srv.page(&format!("/status-pages/{id}"), &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("Visitors see: All Systems Operational") && html.contains("follows service Ledger"),
        "{html}"
    );

    // Add a grouped component, refuse a nameless one, set and clear a status by hand.
    let path = format!("/status-pages/{id}/components");
    let (_, notice) = srv.form(&path, &cookie, &[("name", "Web"), ("group", "Edge"), ("service_id", "")]).await;
    assert_eq!(notice, "Component Web added");
    let (_, notice) = srv.form(&path, &cookie, &[("name", " "), ("group", ""), ("service_id", "")]).await;
    assert!(notice.starts_with("Not done:") && notice.contains("component 4"), "{notice}");
    let (_, page) = srv.get(&format!("/api/v1/status-pages/{id}"), &t).await;
    let web = page["components"].as_array().unwrap().iter().find(|c| c["name"] == "Web").unwrap().clone();
    assert_eq!(web["group"], "Edge");
    let web_id = web["id"].as_str().unwrap();
    let over = format!("/status-pages/{id}/components/{web_id}/override");
    let (_, notice) = srv.form(&over, &cookie, &[("status", "partial_outage"), ("minutes", "")]).await;
    assert_eq!(notice, "Status set by hand");
    let (_, _, html) = public(srv, "/status/payments").await;
    assert!(html.contains("Partial outage") && html.contains("Partial System Outage"), "{html}");
    let (_, notice) = srv.form(&over, &cookie, &[("status", ""), ("minutes", "")]).await;
    assert_eq!(notice, "Status follows monitors and incidents again");
    let (_, notice) = srv.form(&over, &cookie, &[("status", "major_outage"), ("minutes", "soon")]).await;
    assert!(notice.starts_with("Not done:") && notice.contains("minutes"), "{notice}");

    // Settings, then removal of a component and of the page.
    let (_, notice) = srv
        .form(
            &format!("/status-pages/{id}"),
            &cookie,
            &[
                ("title", "Payments Status"),
                ("slug", "pay"),
                ("description", ""),
                ("timezone", "Europe/Berlin"),
                ("accent_color", "#aa3300"),
            ],
        )
        .await;
    assert_eq!(notice, "Status page pay saved");
    let (s, _, html) = public(srv, "/status/pay").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("--accent: #aa3300") && html.contains("Payments Status"), "{html}");
    let (_, notice) = srv.form(&format!("/status-pages/{id}/components/{web_id}/delete"), &cookie, &[]).await;
    assert_eq!(notice, "Component removed");
    let (_, notice) = srv.form(&format!("/status-pages/{id}/delete"), &cookie, &[]).await;
    assert_eq!(notice, "Status page pay deleted");

    // A viewer sees the list but may not create.
    srv.user("view", Role::Viewer).await;
    let viewer = srv.login("view", "password-view").await.unwrap();
    let (s, html) = srv.page("/status-pages", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!html.contains("new-status-page"));
    let (s, _) = srv.form("/status-pages", &viewer, &[("title", "x")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn uptime_history_by_month(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (checkout, _, code) = watched_service(srv, &t, "Checkout").await;
    let (_, docs) = srv.post("/api/v1/services", &t, json!({"name": "Docs"})).await;
    srv.clock.advance(Duration::seconds(31));
    assert_eq!(srv.run_checks().await, 1);
    code.store(503, Ordering::SeqCst);
    srv.clock.advance(Duration::seconds(30));
    assert_eq!(srv.run_checks().await, 1);
    let body = json!({"slug": "hist", "title": "History", "components": [
        {"name": "Checkout", "service_id": checkout}, {"name": "Docs", "service_id": docs["id"]},
        {"name": "Set by hand"}]});
    let (s, page) = srv.post("/api/v1/status-pages", &t, body).await;
    assert_eq!(s, StatusCode::CREATED, "{page}");

    let (s, headers, html) = public(srv, "/status/hist").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("/status/hist/uptime"), "the page links its history");
    let (s, headers_u, html) = public(srv, "/status/hist/uptime").await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(headers_u["content-type"].to_str().unwrap().starts_with("text/html"), "{headers:?}");
    let now = opsdeck_core::clock::Clock::now(&*srv.clock);
    assert!(html.contains(&now.format("%B %Y").to_string()), "the current month: {html}");
    // Today: one check up, one down. Docs has no monitor: no data, never up.
    let today = format!("{}: 50.00 % (1 of 2 checks failed)", now.format("%b %-d, %Y"));
    assert!(html.contains(&today), "{today} in {html}");
    assert!(html.contains("50.00 % uptime") && html.contains("Docs"), "{html}");
    assert!(!html.contains("Set by hand"), "nothing measures a component set by hand: {html}");
    assert!(!html.contains("100.00 %"), "no day is up without data: {html}");
    assert!(html.contains("Earlier") && !html.contains("Later"), "the newest page has no later one");

    // The three months before: nothing was checked then.
    let (s, _, html) = public(srv, "/status/hist/uptime?page=1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(!html.contains("50.00 %") && html.contains("no data") && html.contains("Later"), "{html}");
    for bad in ["40", "-1", "x"] {
        let (s, _, html) = public(srv, &format!("/status/hist/uptime?page={bad}")).await;
        assert!(s.is_client_error() && html.contains("page"), "{bad}: {s} {html}");
    }
    let (s, _, _) = public(srv, "/status/nope/uptime").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn custom_domains_serve_the_page(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let at = |host: &'static str, path: &str| {
        let req = srv.http.get(format!("{}{path}", srv.url)).header("host", host);
        async move {
            let resp = req.send().await.unwrap();
            (resp.status(), resp.text().await.unwrap())
        }
    };
    let body = json!({"slug": "acme", "title": "Acme Status", "custom_domain": " Status.Example.com. "});
    let (s, page) = srv.post("/api/v1/status-pages", &t, body).await;
    assert_eq!(s, StatusCode::CREATED, "{page}");
    assert_eq!(page["custom_domain"], "status.example.com");
    let id = page["id"].as_str().unwrap().to_owned();

    let (s, html) = at("status.example.com", "/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("<title>Acme Status: All Systems Operational</title>"), "{html}");
    let (s, doc) = at("STATUS.example.com:443", "/api/v2/summary.json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&doc).unwrap()["page"]["name"], "Acme Status");
    let (s, html) = at("status.example.com", "/uptime?page=1").await;
    assert!(s == StatusCode::OK && html.contains("Uptime,"), "{html}");
    let (s, css) = at("status.example.com", "/static/app.css").await;
    assert!(s == StatusCode::OK && css.contains(".sp-cal"), "the stylesheet stays where it is");
    let (_, other) = at("opsdeck.internal", "/").await;
    assert!(!other.contains("Acme Status"), "another host is the app");

    // One domain, one page; a bad name is named.
    let (s, e) =
        srv.post("/api/v1/status-pages", &t, json!({"title": "Twin", "custom_domain": "status.example.com"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    for bad in ["localhost", "status.example.com:8080", "10.1.2.3"] {
        let (s, e) = srv.put(&format!("/api/v1/status-pages/{id}"), &t, json!({"custom_domain": bad})).await;
        assert_eq!(
            (s, e["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("custom_domain")),
            "{bad}: {e}"
        );
    }
    // Removed: that host is the app again at once.
    let (s, page) = srv.put(&format!("/api/v1/status-pages/{id}"), &t, json!({"custom_domain": null})).await;
    assert_eq!((s, &page["custom_domain"]), (StatusCode::OK, &Value::Null), "{page}");
    let (_, html) = at("status.example.com", "/").await;
    assert!(!html.contains("Acme Status"), "{html}");
}

async fn logo_and_footer_links(srv: &TestServer) {
    let m = srv.token("m", Role::Manager).await;
    let body = json!({"slug": "brand", "title": "Brand Status", "logo_url": "https://example.com/logo.svg",
                      "footer_links": [{"label": "Support", "url": "https://example.com/help"}]});
    let (s, page) = srv.post("/api/v1/status-pages", &m, body).await;
    assert_eq!(s, StatusCode::CREATED, "{page}");
    assert_eq!(page["footer_links"][0]["label"], "Support");
    let (_, _, html) = public(srv, "/status/brand").await;
    assert!(html.contains(r#"<img class="sp-logo" src="https://example.com/logo.svg" alt="Brand Status">"#), "{html}");
    assert!(html.contains(r#"<a href="https://example.com/help" rel="noopener">Support</a>"#), "{html}");
    let path = format!("/api/v1/status-pages/{}", page["id"].as_str().unwrap());
    for (bad, field) in [
        (json!({"logo_url": "javascript:alert(1)"}), "logo_url"),
        (json!({"footer_links": [{"label": "x", "url": "ftp://example.com"}]}), "footer_links"),
    ] {
        let (s, e) = srv.put(&path, &m, bad.clone()).await;
        assert_eq!(
            (s, e["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{bad}"
        );
    }
    // The editor's settings form: a line per link; clearing the logo shows the title again.
    srv.user("mgr", Role::Manager).await;
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let fields = [
        ("title", "Brand Status"),
        ("slug", "brand"),
        ("timezone", "UTC"),
        ("logo_url", ""),
        ("footer_links", "Terms of use https://example.com/terms\nStatus API https://example.com/api"),
    ];
    let (s, _) = srv.form(&path.replace("/api/v1", ""), &cookie, &fields).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, p) = srv.get(&path, &m).await;
    assert!(p["logo_url"].is_null());
    assert_eq!(p["footer_links"][0], json!({"label": "Terms of use", "url": "https://example.com/terms"}));
    assert_eq!(p["footer_links"].as_array().unwrap().len(), 2);
    let (_, _, html) = public(srv, "/status/brand").await;
    assert!(html.contains("<h1>Brand Status</h1>") && html.contains(">Status API</a>"), "{html}");
}
