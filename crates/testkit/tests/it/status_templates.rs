//! Incident templates: managers keep them per page (API and editor); responders post from one
//! (the API's `template_id`, the incident page's "Use template"), changing what they need. The
//! editor's preview renders the public page with settings not saved yet.

use crate::status_pages::{component, public_json};
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::json;

backend_tests!(templates_prepare_public_updates, the_editor_previews_unsaved_settings);

async fn templates_prepare_public_updates(srv: &TestServer) {
    let m = srv.token("m", Role::Manager).await;
    let (_, page) = srv
        .post(
            "/api/v1/status-pages",
            &m,
            json!({"slug": "shop", "title": "Shop Status", "components": [{"name": "Checkout"}, {"name": "Search"}]}),
        )
        .await;
    let page_id = page["id"].as_str().unwrap().to_owned();
    let checkout = page["components"][0]["id"].as_str().unwrap().to_owned();
    let (_, other) = srv.post("/api/v1/status-pages", &m, json!({"slug": "other", "title": "Other"})).await;
    let foreign = other["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/status-pages/{page_id}/templates");
    let body = json!({"name": "Payments degraded", "title": "Card payments are slow", "status": "identified",
                      "body": "Our card processor is slow; payments take longer.",
                      "components": {checkout.clone(): "degraded_performance"}});
    let (s, t) = srv.post(&path, &m, body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(t["components"][&checkout], "degraded_performance");
    let tid = t["id"].as_str().unwrap().to_owned();

    // Bad input names what to fix; names are unique per page; a responder only reads.
    let (s, e) = srv.post(&path, &m, body.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let cases = [
        (json!({"name": "x", "status": "fixed", "body": "b"}), "status"),
        (json!({"name": "x", "status": "identified", "body": "  "}), "body"),
        (
            json!({"name": "x", "status": "identified", "body": "b", "components": {checkout.clone(): "down"}}),
            "components",
        ),
        (
            json!({"name": "x", "status": "identified", "body": "b", "components": {foreign.clone(): "major_outage"}}),
            "components",
        ),
        (json!({"name": "x", "title": "t".repeat(256), "status": "identified", "body": "b"}), "title"),
    ];
    for (b, field) in cases {
        let (s, e) = srv.post(&path, &m, b.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{b}: {e}");
    }
    let r = srv.token("r", Role::Responder).await;
    let (s, _) = srv.post(&path, &r, json!({"name": "y", "status": "identified", "body": "b"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, list) = srv.get(&path, &r).await;
    assert_eq!((s, list["items"].as_array().unwrap().len()), (StatusCode::OK, 1));
    let (s, e) = srv.get(&format!("/api/v1/status-pages/{}/templates/{tid}", other["id"].as_str().unwrap()), &r).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("incident_template_not_found")));

    // Posting from it: the body overrides the template's message; the rest comes from it.
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Payments"})).await;
    let (_, inc) = srv
        .post("/api/v1/incidents", &m, json!({"title": "psp latency", "severity": "SEV3", "service_id": svc["id"]}))
        .await;
    let updates = format!("/api/v1/incidents/{}/status-updates", inc["number"].as_str().unwrap());
    let (s, posted) = srv
        .post(
            &updates,
            &r,
            json!({"status_page_id": page_id, "template_id": tid, "body": "Payments take up to a minute."}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{posted}");
    assert_eq!(
        (posted["name"].as_str(), posted["status"].as_str()),
        (Some("Card payments are slow"), Some("identified"))
    );
    assert_eq!(posted["updates"][0]["body"], "Payments take up to a minute.");
    let summary = public_json(srv, "/status/shop/api/v2/summary.json").await;
    assert_eq!(component(&summary, "Checkout")["status"], "degraded_performance");
    // Neither a template nor a status: the update names what is missing.
    let (s, e) = srv.post(&updates, &r, json!({"status_page_id": page_id, "body": "x"})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")), "{e}");
    let (s, e) = srv
        .post(&updates, &r, json!({"status_page_id": page_id, "template_id": other["id"], "status": "identified"}))
        .await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("template_id")));

    // The editor lists it; the incident page starts its form from it.
    srv.user("mgr", Role::Manager).await;
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let (_, html) = srv.page(&format!("/status-pages/{page_id}"), &cookie).await;
    assert!(html.contains("Incident templates") && html.contains("Payments degraded"), "{html}");
    let (_, html) = srv.page(&format!("/incidents/{}?template={tid}", inc["number"].as_str().unwrap()), &cookie).await;
    assert!(html.contains("Use template"), "{html}");
    assert!(html.contains(">Our card processor is slow; payments take longer.</textarea>"), "prefilled: {html}");
    assert!(html.contains(r#"<option value="degraded_performance" selected>"#), "{html}");

    // Changed and deleted from the editor's forms.
    let (s, notice) = srv
        .form(
            &format!("/status-pages/{page_id}/templates/{tid}"),
            &cookie,
            &[("name", "Payments slow"), ("title", ""), ("status", "monitoring"), ("body", "Recovering.")],
        )
        .await;
    assert_eq!((s, notice.as_str()), (StatusCode::SEE_OTHER, "Template Payments slow saved"));
    let (_, t) = srv.get(&format!("{path}/{tid}"), &r).await;
    assert_eq!((t["status"].as_str(), t["title"].as_str()), (Some("monitoring"), Some("")));
    assert!(t["components"].as_object().unwrap().is_empty());
    let (_, notice) =
        srv.form(&format!("/status-pages/{page_id}/templates"), &cookie, &[("name", ""), ("body", "")]).await;
    assert!(notice.starts_with("Not done:"), "{notice}");
    let (s, _) = srv.delete(&format!("{path}/{tid}"), &m).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = srv.get(&path, &r).await;
    assert!(list["items"].as_array().unwrap().is_empty());
}

async fn the_editor_previews_unsaved_settings(srv: &TestServer) {
    let m = srv.token("m", Role::Manager).await;
    let (_, page) = srv
        .post(
            "/api/v1/status-pages",
            &m,
            json!({"slug": "shop", "title": "Shop Status", "components": [{"name": "Checkout"}]}),
        )
        .await;
    let id = page["id"].as_str().unwrap().to_owned();
    srv.put(&format!("/api/v1/status-pages/{id}/access"), &m, json!({"password": "correct horse"})).await;
    srv.user("mgr", Role::Manager).await;
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let (_, html) = srv.page(&format!("/status-pages/{id}"), &cookie).await;
    assert!(html.contains(r#"name="preview""#) && html.contains("data-preview"), "{html}");
    // The saved page, private or not, framed by the editor only and never cached.
    let resp =
        srv.http.get(format!("{}/status-pages/{id}/preview", srv.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-security-policy"], "frame-ancestors 'self'");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body = resp.text().await.unwrap();
    assert!(body.contains("Shop Status") && body.contains("Checkout"), "{body}");
    // The unsaved form: shown, not stored.
    let draft = [
        ("title", "Shop (draft)"),
        ("slug", "shop"),
        ("description", "Try me"),
        ("timezone", "UTC"),
        ("accent_color", "#aa3300"),
    ];
    let resp = srv
        .http
        .post(format!("{}/status-pages/{id}/preview", srv.url))
        .header("cookie", &cookie)
        .header("origin", &srv.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(draft).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert!(body.contains("Shop (draft)") && body.contains("Try me") && body.contains("#aa3300"), "{body}");
    let (_, saved) = srv.get(&format!("/api/v1/status-pages/{id}"), &m).await;
    assert_eq!(saved["title"], "Shop Status");
    let bad = [("title", "x"), ("slug", "shop"), ("timezone", "UTC"), ("accent_color", "red")];
    let resp = srv
        .http
        .post(format!("{}/status-pages/{id}/preview", srv.url))
        .header("cookie", &cookie)
        .header("origin", &srv.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(bad).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Signed out: no preview.
    let resp = srv.http.get(format!("{}/status-pages/{id}/preview", srv.url)).send().await.unwrap();
    assert_ne!(resp.status(), StatusCode::OK);
}
