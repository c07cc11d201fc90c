//! Status page subscribers end to end, with a real SMTP server (aiosmtpd) and a webhook
//! receiver: double opt-in, per-component delivery, RFC 8058 one-click unsubscribe, nothing sent
//! twice, bad input, roles, export.

use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, Receiver, SmtpSink, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_sqlite() {
    subscribers(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_postgres() {
    subscribers(Backend::Postgres).await;
}

/// A visitor's form post to the public page.
pub(crate) async fn sign_up(srv: &TestServer, slug: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let resp = srv
        .http
        .post(format!("{}/status/{slug}/subscribe", srv.url))
        .header("origin", &srv.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).unwrap())
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// The line of `message` after `prefix`.
fn line_after(message: &str, prefix: &str) -> String {
    message
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("{prefix} in {message}"))
        .trim()
        .into()
}

async fn subscribers(backend: Backend) {
    let mut smtp = SmtpSink::new();
    smtp.start().await;
    let srv = TestServer::start_with(backend, Some(smtp.config())).await;
    let m = srv.token("mgr", Role::Manager).await;
    let admin = srv.token("adm", Role::Admin).await;
    let hooks = Receiver::start().await;
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Payments"})).await;
    let (_, page) = srv
        .post(
            "/api/v1/status-pages",
            &m,
            json!({"slug": "pay", "title": "Pay Status", "components": [{"name": "Cards"}, {"name": "Transfers"}]}),
        )
        .await;
    let page_id = page["id"].as_str().unwrap().to_owned();
    let cards = page["components"][0]["id"].as_str().unwrap().to_owned();
    let transfers = page["components"][1]["id"].as_str().unwrap().to_owned();
    let subs = format!("/api/v1/status-pages/{page_id}/subscribers");

    // A visitor signs up for Cards from the public page; nothing is sent but the confirmation.
    let (_, _, html) = crate::status_pages::public(&srv, "/status/pay").await;
    assert!(html.contains(r#"action="/status/pay/subscribe""#) && html.contains(&cards), "the form lists components");
    let (s, body) = sign_up(&srv, "pay", &[("email", "Carol@Example.com"), ("component", &cards)]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.contains("Check your inbox"), "{body}");
    let p = srv.run_notifier().await;
    assert_eq!(p.sent, 1, "{p:?}");
    let mail = smtp.to("carol@example.com");
    assert_eq!(mail.len(), 1, "{:?}", smtp.messages());
    assert!(mail[0].contains("Subject: Confirm your subscription to Pay Status"), "{}", mail[0]);
    let confirm = line_after(&mail[0], "Confirm the subscription: ");
    assert!(confirm.starts_with(&srv.url), "{confirm}");

    // Managers add others: an e-mail for Transfers confirmed already, a webhook for Cards.
    let (s, dave) = srv
        .post(&subs, &m, json!({"email": "dave@example.com", "component_ids": [transfers], "skip_confirmation": true}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{dave}");
    assert!(dave["confirmed_at"].is_string());
    let hook_url = format!("{}/hook/secret-part", hooks.url);
    let (s, hook) = srv.post(&subs, &m, json!({"webhook_url": hook_url, "component_ids": [cards]})).await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    assert_eq!(hook["address"], format!("{}/…", hooks.url), "the URL's secret part is never shown");
    let (s, again) = srv.post(&subs, &m, json!({"webhook_url": hook_url, "component_ids": [cards]})).await;
    assert_eq!((s, &again["id"]), (StatusCode::OK, &hook["id"]), "the same address is the same subscriber");

    let (_, list) = srv.get(&subs, &admin).await;
    let dave_listed = list["items"].as_array().unwrap().iter().find(|s| s["id"] == dave["id"]).unwrap().clone();
    assert_eq!(dave_listed["component_ids"], json!([transfers]), "{list}");

    // An update before Carol confirms does not reach her.
    let (_, inc) = srv
        .post("/api/v1/incidents", &m, json!({"title": "psp down", "service_id": svc["id"], "severity": "SEV2"}))
        .await;
    let updates = format!("/api/v1/incidents/{}/status-updates", inc["number"].as_str().unwrap());
    let (s, _) = srv
        .post(
            &updates,
            &m,
            json!({"status_page_id": page_id, "name": "Card payments failing", "status": "investigating",
                   "body": "Some card payments fail.", "components": {cards.clone(): "partial_outage"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let p = srv.run_notifier().await;
    assert_eq!(p.sent, 1, "only the webhook: {p:?}");
    assert_eq!(smtp.messages().len(), 1, "nothing more by e-mail");
    let got = hooks.to("/hook/secret-part");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["incident"]["name"], "Card payments failing");
    assert_eq!(got[0]["incident"]["incident_updates"][0]["status"], "investigating");
    assert!(got[0]["meta"]["unsubscribe"].as_str().unwrap().contains("/status/pay/unsubscribe/"));

    // Carol confirms; the next update reaches her and the webhook, not Dave (Transfers).
    let resp = srv.http.get(&confirm).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Subscribed"));
    let (s, _) = srv
        .post(&updates, &m, json!({"status_page_id": page_id, "status": "identified", "body": "The PSP is down."}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let p = srv.run_notifier().await;
    assert_eq!(p.sent, 2, "{p:?}");
    assert!(smtp.to("dave@example.com").is_empty(), "Dave follows Transfers only");
    let mail = smtp.to("carol@example.com");
    assert_eq!(mail.len(), 2);
    let update = mail.iter().find(|m| m.contains("The PSP is down.")).unwrap_or_else(|| panic!("{mail:?}"));
    assert!(update.contains("Subject: [Pay Status] Card payments failing") && update.contains("The PSP is down."));
    let unsubscribe = line_after(update, "Unsubscribe: ");
    assert!(update.contains(&format!("List-Unsubscribe: <{unsubscribe}>")), "{update}");
    assert!(update.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{update}");
    // Nothing is sent twice, whatever the passes.
    assert_eq!(srv.run_notifier().await.sent, 0);
    assert_eq!(hooks.to("/hook/secret-part").len(), 2);

    // An update for Transfers reaches Dave only; one posted without notifying reaches nobody.
    let (_, inc2) =
        srv.post("/api/v1/incidents", &m, json!({"title": "sepa", "service_id": svc["id"], "severity": "SEV3"})).await;
    let updates2 = format!("/api/v1/incidents/{}/status-updates", inc2["number"].as_str().unwrap());
    srv.post(
        &updates2,
        &m,
        json!({"status_page_id": page_id, "status": "investigating", "body": "Transfers are slow.",
               "components": {transfers.clone(): "degraded_performance"}}),
    )
    .await;
    srv.post(
        &updates2,
        &m,
        json!({"status_page_id": page_id, "status": "monitoring", "body": "quiet", "notify_subscribers": false}),
    )
    .await;
    assert_eq!(srv.run_notifier().await.sent, 1);
    assert_eq!(smtp.to("dave@example.com").len(), 1);
    assert_eq!(smtp.to("carol@example.com").len(), 2);

    // One click (RFC 8058 POST, as a mail client sends it) unsubscribes; a GET only asks.
    let ask = srv.http.get(&unsubscribe).send().await.unwrap();
    assert!(ask.text().await.unwrap().contains(r#"method="post""#));
    let (_, list) = srv.get(&subs, &admin).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3, "a GET changed nothing");
    let done = srv
        .http
        .post(&unsubscribe)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let (_, list) = srv.get(&subs, &admin).await;
    let addresses: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|s| s["address"].as_str().unwrap()).collect();
    assert!(!addresses.contains(&"carol@example.com"), "{addresses:?}");
    let bad = format!("{}x", unsubscribe.trim_end_matches(|c: char| c.is_ascii_hexdigit()));
    let resp = srv.http.post(&bad).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "a forged link is refused");

    // Admins export; managers may add but not read the list; viewers neither.
    let resp = srv.http.get(format!("{}{subs}/export", srv.url)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = resp.text().await.unwrap();
    assert!(csv.starts_with("id,kind,address,components,confirmed_at,created_at"), "{csv}");
    assert!(csv.contains("dave@example.com") && csv.contains("Transfers") && !csv.contains("secret-part"), "{csv}");
    assert_eq!(srv.get(&subs, &m).await.0, StatusCode::FORBIDDEN);
    let v = srv.token("v", Role::Viewer).await;
    assert_eq!(srv.post(&subs, &v, json!({"email": "x@example.com"})).await.0, StatusCode::FORBIDDEN);
    let (s, _) = srv.delete(&format!("{subs}/{}", dave["id"].as_str().unwrap()), &admin).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, e) = srv.delete(&format!("{subs}/{}", dave["id"].as_str().unwrap()), &admin).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("status_page_subscriber_not_found")));

    // Bad input names the field; nothing is written.
    let cases: [(Value, &str); 6] = [
        (json!({"email": "not an address"}), "email"),
        (json!({"email": "a@example.com", "webhook_url": "https://example.com/x"}), "email"),
        (json!({}), "email"),
        (json!({"webhook_url": "ftp://example.com"}), "webhook_url"),
        (json!({"slack_url": "hooks.slack.com"}), "slack_url"),
        (json!({"email": "a@example.com", "component_ids": [uuid::Uuid::nil()]}), "component_ids"),
    ];
    for (body, field) in cases {
        let (s, e) = srv.post(&subs, &m, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{body}: {e}");
    }
    let (_, list) = srv.get(&subs, &admin).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "only the webhook is left: {list}");
    let (s, body) = sign_up(&srv, "pay", &[("email", "nope")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("e-mail address"), "{body}");

    // The editor: managers add through the form and see counts; admins see the list.
    srv.user("mgr-ui", Role::Manager).await;
    let cookie = srv.login("mgr-ui", "password-mgr-ui").await.unwrap();
    let (s, notice) = srv
        .form(
            &format!("/status-pages/{page_id}/subscribers"),
            &cookie,
            &[("kind", "email"), ("address", "frank@example.com"), ("component", &transfers)],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(notice, "Subscribed frank@example.com; a confirmation message is on its way");
    let (_, notice) = srv
        .form(&format!("/status-pages/{page_id}/subscribers"), &cookie, &[("kind", "slack"), ("address", "x")])
        .await;
    assert!(notice.starts_with("Not done: slack_url"), "{notice}");
    let (_, html) = srv.page(&format!("/status-pages/{page_id}"), &cookie).await;
    assert!(html.contains("2 subscriber(s), 1 confirmed") && html.contains("Only admins see"), "{html}");
    srv.user("adm-ui", Role::Admin).await;
    let admin_cookie = srv.login("adm-ui", "password-adm-ui").await.unwrap();
    let (_, html) = srv.page(&format!("/status-pages/{page_id}"), &admin_cookie).await;
    assert!(html.contains("frank@example.com") && html.contains("subscribers.csv"), "{html}");
    let (s, csv) = srv.page(&format!("/status-pages/{page_id}/subscribers.csv"), &admin_cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(csv.contains("frank@example.com,Transfers") || csv.contains("frank@example.com"), "{csv}");
    assert_ne!(srv.page(&format!("/status-pages/{page_id}/subscribers.csv"), &cookie).await.0, StatusCode::OK);

    // Sign-ups are rate-limited per address (3 an hour).
    for _ in 0..3 {
        assert_eq!(sign_up(&srv, "pay", &[("email", "erin@example.com")]).await.0, StatusCode::OK);
    }
    let (s, body) = sign_up(&srv, "pay", &[("email", "erin@example.com")]).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Housekeeping removes handled messages after 30 days; pending ones stay.
    assert_eq!(srv.db.purge_delivered_outboxes(srv.now()).await.unwrap(), 0, "nothing is that old yet");
    let purged = srv.db.purge_delivered_outboxes(srv.now() + chrono::Duration::days(31)).await.unwrap();
    assert_eq!(purged, 2, "the webhook's two sent messages (the others went with their subscribers)");
    let (_, page_view) = srv.page(&format!("/status-pages/{page_id}"), &admin_cookie).await;
    assert!(page_view.contains("pending"), "the unsent confirmations stay: {page_view}");
    drop(smtp);
    srv.stop().await;
}
