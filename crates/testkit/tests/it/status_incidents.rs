//! Public incidents and maintenance on status pages: updates posted from an internal incident
//! (API and incident page) reach the public page and statuspage.io's documents.

use crate::status_pages::{component, public, public_json};
use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::json;

backend_tests!(incident_updates_reach_the_public_page, feeds_badges_and_widget);

async fn incident_updates_reach_the_public_page(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (_, svc) = srv.post("/api/v1/services", &t, json!({"name": "Checkout"})).await;
    let (_, page) = srv
        .post(
            "/api/v1/status-pages",
            &t,
            json!({"slug": "shop", "title": "Shop Status",
                   "components": [{"name": "Checkout", "service_id": svc["id"]}, {"name": "Search"}]}),
        )
        .await;
    let page_id = page["id"].as_str().unwrap().to_owned();
    let checkout = page["components"][0]["id"].as_str().unwrap().to_owned();
    let search = page["components"][1]["id"].as_str().unwrap().to_owned();
    // A SEV4 incident: by itself it changes no component.
    let (_, inc) = srv
        .post("/api/v1/incidents", &t, json!({"title": "Checkout errors", "service_id": svc["id"], "severity": "SEV4"}))
        .await;
    let number = inc["number"].as_str().unwrap().trim_start_matches("INC-").to_owned();
    let r = srv.token("r", Role::Responder).await;
    let path = format!("/api/v1/incidents/INC-{number}/status-updates");
    let (s, posted) = srv
        .post(
            &path,
            &r,
            json!({"status_page_id": page_id, "name": "Card payments failing", "status": "investigating",
                   "body": "Payments fail for some cards.",
                   "components": {checkout.clone(): "partial_outage"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{posted}");
    assert_eq!((posted["name"].as_str(), posted["impact"].as_str()), (Some("Card payments failing"), Some("major")));
    assert_eq!(posted["components"][&checkout], "partial_outage");

    let summary = public_json(srv, "/status/shop/api/v2/summary.json").await;
    let keys: Vec<&str> = summary.as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["page", "components", "incidents", "scheduled_maintenances", "status"] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert_eq!(summary["status"]["indicator"], "major");
    assert_eq!(component(&summary, "Checkout")["status"], "partial_outage");
    assert_eq!(component(&summary, "Search")["status"], "operational");
    let i = &summary["incidents"][0];
    assert_eq!((i["status"].as_str(), i["impact"].as_str()), (Some("investigating"), Some("major")));
    assert!(i["resolved_at"].is_null() && i["monitoring_at"].is_null());
    assert!(i["shortlink"].as_str().unwrap().contains("/status/shop#incident-"));
    let u = &i["incident_updates"][0];
    assert_eq!(u["body"], "Payments fail for some cards.");
    assert_eq!(
        u["affected_components"],
        json!([{"code": checkout, "name": "Checkout", "old_status": "operational", "new_status": "partial_outage"}])
    );
    for k in [
        "id",
        "incident_id",
        "created_at",
        "updated_at",
        "display_at",
        "deliver_notifications",
        "custom_tweet",
        "tweet_id",
    ] {
        assert!(u.get(k).is_some(), "update has {k}");
    }
    assert_eq!(i["components"][0]["id"], checkout.as_str());
    let (_, _, html) = public(srv, "/status/shop").await;
    assert!(html.contains("Card payments failing") && html.contains("Payments fail for some cards."), "{html}");
    assert!(!html.contains("Checkout errors"), "the internal title stays internal");

    // The overview lists the public incident while it is unresolved.
    srv.user("watcher", Role::Viewer).await;
    let wcookie = srv.login("watcher", "password-watcher").await.unwrap();
    let (_, home) = srv.page("/", &wcookie).await;
    assert!(home.contains("Card payments failing") && home.contains("on Shop Status"), "{home}");

    // Monitoring, then resolved: the component returns to what its service says.
    let (s, _) = srv
        .post(&path, &r, json!({"status_page_id": page_id, "status": "monitoring", "body": "A fix is deployed."}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let unresolved = public_json(srv, "/status/shop/api/v2/incidents/unresolved.json").await;
    assert_eq!(unresolved["incidents"][0]["status"], "monitoring");
    assert!(unresolved["incidents"][0]["monitoring_at"].is_string());
    assert_eq!(unresolved["incidents"][0]["incident_updates"].as_array().unwrap().len(), 2);
    assert!(unresolved["incidents"][0]["incident_updates"][0]["affected_components"].is_null(), "no component named");
    let (s, _) =
        srv.post(&path, &r, json!({"status_page_id": page_id, "status": "resolved", "body": "All good again."})).await;
    assert_eq!(s, StatusCode::CREATED);
    let unresolved = public_json(srv, "/status/shop/api/v2/incidents/unresolved.json").await;
    assert!(unresolved["incidents"].as_array().unwrap().is_empty());
    let all = public_json(srv, "/status/shop/api/v2/incidents.json").await;
    assert_eq!(all["incidents"][0]["status"], "resolved");
    assert!(all["incidents"][0]["resolved_at"].is_string());
    let status = public_json(srv, "/status/shop/api/v2/status.json").await;
    assert_eq!(status["status"]["indicator"], "none");
    let (_, _, html) = public(srv, "/status/shop").await;
    assert!(html.contains("Past incidents") && html.contains("All good again."), "{html}");

    // The incident's timeline notes each post.
    let (_, tl) = srv.get(&format!("/api/v1/incidents/INC-{number}/timeline"), &r).await;
    let text = tl.to_string();
    assert!(text.contains("On status page Shop Status (resolved): All good again."), "{text}");

    // Bad input names the field; a viewer may not post; other pages' components are refused.
    let cases = [
        (json!({"status_page_id": page_id, "status": "fixed", "body": "x"}), "status"),
        (json!({"status_page_id": page_id, "status": "identified", "body": "  "}), "body"),
        (json!({"status_page_id": page_id, "name": "x".repeat(256), "status": "identified", "body": "x"}), "name"),
        (json!({"status_page_id": uuid::Uuid::nil(), "status": "identified", "body": "x"}), "status_page_id"),
        (
            json!({"status_page_id": page_id, "status": "identified", "body": "x",
                   "components": {search.clone(): "down"}}),
            "components",
        ),
        (
            json!({"status_page_id": page_id, "status": "identified", "body": "x",
                "components": {uuid::Uuid::nil().to_string(): "major_outage"}}),
            "components",
        ),
    ];
    for (body, field) in cases {
        let (s, e) = srv.post(&path, &r, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{body}: {e}");
    }
    let v = srv.token("v", Role::Viewer).await;
    let (s, _) = srv.post(&path, &v, json!({"status_page_id": page_id, "status": "identified", "body": "x"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Scheduled maintenance of the service shows up in the statuspage.io documents.
    let start = (srv.now() + Duration::hours(2)).to_rfc3339();
    let (s, w) = srv
        .post(
            "/api/v1/maintenance",
            &t,
            json!({"name": "DB upgrade", "description": "Checkout may be slow.", "starts_at": start,
                   "duration_minutes": 60, "service_ids": [svc["id"]]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let upcoming = public_json(srv, "/status/shop/api/v2/scheduled-maintenances/upcoming.json").await;
    let m = &upcoming["scheduled_maintenances"][0];
    assert_eq!(
        (m["name"].as_str(), m["status"].as_str(), m["impact"].as_str()),
        (Some("DB upgrade"), Some("scheduled"), Some("maintenance"))
    );
    assert!(m["scheduled_for"].is_string() && m["scheduled_until"].is_string());
    assert_eq!(m["components"][0]["name"], "Checkout");
    assert_eq!(m["incident_updates"][0]["body"], "Checkout may be slow.");
    let active = public_json(srv, "/status/shop/api/v2/scheduled-maintenances/active.json").await;
    assert!(active["scheduled_maintenances"].as_array().unwrap().is_empty());
    srv.clock.advance(Duration::hours(2) + Duration::minutes(1));
    srv.run_notifier().await; // moves scheduled maintenance along
    let active = public_json(srv, "/status/shop/api/v2/scheduled-maintenances/active.json").await;
    assert_eq!(active["scheduled_maintenances"][0]["status"], "in_progress");
    let (s, _, body) = public(srv, "/status/shop/api/v2/nope.json").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("summary.json"), "names the documents: {body}");

    // The incident page offers the form and it posts.
    srv.user("resp", Role::Responder).await;
    let cookie = srv.login("resp", "password-resp").await.unwrap();
    let (_, html) = srv.page(&format!("/incidents/INC-{number}"), &cookie).await;
    assert!(html.contains("public-update-shop") && html.contains("Post to Shop Status"), "{html}");
    assert!(html.contains(r#"<option value="resolved" selected>"#), "the form starts from the posted status");
    let (s, notice) = srv
        .form(
            &format!("/incidents/INC-{number}/public-updates"),
            &cookie,
            &[
                ("status_page_id", page_id.as_str()),
                ("status", "identified"),
                ("body", "Reopened: card errors again."),
                (&format!("component:{search}"), "degraded_performance"),
                (&format!("component:{checkout}"), ""),
            ],
        )
        .await;
    assert_eq!((s, notice.as_str()), (StatusCode::SEE_OTHER, "Posted to the status page: Identified"));
    let listed = public_json(srv, "/status/shop/api/v2/components.json").await;
    assert_eq!(component(&listed, "Search")["status"], "degraded_performance");
    let (_, notice) = srv
        .form(
            &format!("/incidents/INC-{number}/public-updates"),
            &cookie,
            &[("status_page_id", page_id.as_str()), ("status", "identified"), ("body", "")],
        )
        .await;
    assert!(notice.starts_with("Not done:"), "{notice}");
}

/// The RSS and Atom feeds parse (with a real feed parser) and carry the public incident; the
/// badges are SVG naming the status; only the widget may be framed by other sites.
async fn feeds_badges_and_widget(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (_, page) = srv
        .post(
            "/api/v1/status-pages",
            &t,
            json!({"slug": "feeds", "title": "Feeds & Co", "components": [{"name": "API"}, {"name": "Web"}]}),
        )
        .await;
    let page_id = page["id"].as_str().unwrap().to_owned();
    let api = page["components"][0]["id"].as_str().unwrap().to_owned();

    let (s, h, atom) = public(srv, "/status/feeds/feed.atom").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "application/atom+xml; charset=utf-8");
    let feed = feed_rs::parser::parse(atom.as_bytes()).unwrap();
    assert!(feed.entries.is_empty());
    assert_eq!(feed.title.unwrap().content, "Feeds & Co status");

    let (_, svc) = srv.post("/api/v1/services", &t, json!({"name": "API"})).await;
    let (s, inc) = srv
        .post("/api/v1/incidents", &t, json!({"title": "internal", "service_id": svc["id"], "severity": "SEV3"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let number = inc["number"].as_str().unwrap().to_owned();
    let (s, _) = srv
        .post(
            &format!("/api/v1/incidents/{number}/status-updates"),
            &t,
            json!({"status_page_id": page_id, "name": "API <errors>", "status": "identified",
                   "body": "Requests fail & retry.", "components": {api.clone(): "major_outage"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    for (path, kind) in [
        ("/status/feeds/feed.atom", feed_rs::model::FeedType::Atom),
        ("/status/feeds/feed.rss", feed_rs::model::FeedType::RSS2),
    ] {
        let (s, h, body) = public(srv, path).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(h["access-control-allow-origin"], "*");
        let feed = feed_rs::parser::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{path}: {e}\n{body}"));
        assert_eq!(feed.feed_type, kind);
        assert_eq!(feed.entries.len(), 1, "{body}");
        let e = &feed.entries[0];
        assert_eq!(e.title.as_ref().unwrap().content, "API <errors>");
        assert!(e.links[0].href.starts_with(&srv.url) && e.links[0].href.contains("/status/feeds#incident-"), "{e:?}");
        let text =
            e.content.as_ref().and_then(|c| c.body.clone()).or_else(|| e.summary.as_ref().map(|s| s.content.clone()));
        let text = text.unwrap();
        assert!(text.contains("<strong>Identified</strong>") && text.contains("Requests fail &amp; retry."), "{text}");
    }

    let (s, h, svg) = public(srv, "/status/feeds/badge.svg").await;
    assert_eq!((s, h["content-type"].to_str().unwrap()), (StatusCode::OK, "image/svg+xml"));
    assert!(svg.starts_with("<svg") && svg.contains("Major System Outage"), "{svg}");
    let (_, _, svg) = public(srv, &format!("/status/feeds/components/{api}/badge.svg")).await;
    assert!(svg.contains("Major outage") && svg.contains("#c62828"), "{svg}");
    let (_, _, svg) = public(srv, &format!("/status/feeds/components/{api}/uptime.svg")).await;
    assert!(svg.contains("no data"), "a component without checks has no uptime, not 100 %: {svg}");
    let (s, _, _) = public(srv, &format!("/status/feeds/components/{}/badge.svg", uuid::Uuid::nil())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = public(srv, "/status/feeds/components/nope/badge.svg").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, h, html) = public(srv, "/status/feeds/embed").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-security-policy"], "frame-ancestors *");
    assert!(h.get("x-frame-options").is_none());
    assert!(html.contains("API &#60;errors&#62;") && html.contains("Major outage"), "{html}");
    let (_, h, html) = public(srv, "/status/feeds").await;
    assert_eq!(h["x-frame-options"], "DENY");

    // Browsers that take gzip get the page compressed (made once per rendering).
    let resp =
        srv.http.get(format!("{}/status/feeds", srv.url)).header("accept-encoding", "br, gzip").send().await.unwrap();
    assert_eq!(
        (resp.headers()["content-encoding"].to_str().unwrap(), resp.headers()["vary"].to_str().unwrap()),
        ("gzip", "accept-encoding")
    );
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&resp.bytes().await.unwrap()[..]), &mut unzipped)
        .unwrap();
    assert_eq!(unzipped, html, "the same page");
    let resp =
        srv.http.get(format!("{}/status/feeds", srv.url)).header("accept-encoding", "gzip;q=0").send().await.unwrap();
    assert!(resp.headers().get("content-encoding").is_none());
    assert!(html.contains(r#"type="application/atom+xml""#));
}
