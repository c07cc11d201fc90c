//! Scheduled maintenance on status pages: announced when a window is planned, reminded of an
//! hour before, in progress and completed on its own, each step sent once to the subscribers
//! of the components it covers (real SMTP server and webhook receiver); moved and deleted
//! windows cancel what was announced.

use crate::status_pages::{component, public, public_json};
use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, Receiver, SmtpSink, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_lifecycle_sqlite() {
    lifecycle(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_lifecycle_postgres() {
    lifecycle(Backend::Postgres).await;
}

fn subjects(smtp: &SmtpSink, to: &str) -> Vec<String> {
    smtp.to(to).iter().filter_map(|m| m.lines().find_map(|l| l.strip_prefix("Subject: ")).map(str::to_owned)).collect()
}

async fn maintenances(srv: &TestServer, doc: &str) -> Vec<Value> {
    public_json(srv, &format!("/status/shop/api/v2/{doc}")).await["scheduled_maintenances"].as_array().unwrap().clone()
}

async fn lifecycle(backend: Backend) {
    let mut smtp = SmtpSink::new();
    smtp.start().await;
    let srv = TestServer::start_with(backend, Some(smtp.config())).await;
    let m = srv.token("mgr", Role::Manager).await;
    let hooks = Receiver::start().await;
    let (_, db) = srv.post("/api/v1/services", &m, json!({"name": "Database"})).await;
    let (_, web) = srv.post("/api/v1/services", &m, json!({"name": "Web"})).await;
    let (s, page) = srv
        .post(
            "/api/v1/status-pages",
            &m,
            json!({"slug": "shop", "title": "Shop Status", "components": [
                {"name": "Checkout", "service_id": db["id"]}, {"name": "Storefront", "service_id": web["id"]}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{page}");
    let page_id = page["id"].as_str().unwrap().to_owned();
    let checkout = page["components"][0]["id"].as_str().unwrap().to_owned();
    let storefront = page["components"][1]["id"].as_str().unwrap().to_owned();
    let subs = format!("/api/v1/status-pages/{page_id}/subscribers");
    for body in [
        json!({"email": "carol@example.com", "component_ids": [checkout], "skip_confirmation": true}),
        json!({"email": "dave@example.com", "component_ids": [storefront], "skip_confirmation": true}),
        json!({"webhook_url": format!("{}/hook/all", hooks.url)}),
    ] {
        let (s, b) = srv.post(&subs, &m, body).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }

    // Planning a window announces it on the page at once, and to Checkout's subscribers.
    let start = srv.now() + Duration::hours(3);
    let (s, w) = srv
        .post(
            "/api/v1/maintenance",
            &m,
            json!({"name": "DB upgrade", "description": "Checkout may be slow.", "starts_at": start.to_rfc3339(),
                   "duration_minutes": 60, "service_ids": [db["id"]]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let upcoming = maintenances(&srv, "scheduled-maintenances/upcoming.json").await;
    assert_eq!(upcoming.len(), 1, "{upcoming:?}");
    let id = upcoming[0]["id"].clone();
    assert_eq!(
        (upcoming[0]["status"].as_str(), upcoming[0]["impact"].as_str()),
        (Some("scheduled"), Some("maintenance"))
    );
    assert_eq!(upcoming[0]["incident_updates"][0]["body"], "Checkout may be slow.");
    assert_eq!(upcoming[0]["components"][0]["name"], "Checkout");
    let (_, _, html) = public(&srv, "/status/shop").await;
    assert!(html.contains("DB upgrade") && html.contains("Scheduled"), "{html}");
    let p = srv.run_notifier().await;
    assert_eq!(p.sent, 2, "Carol and the webhook: {p:?}");
    assert_eq!(subjects(&smtp, "carol@example.com"), ["[Shop Status] DB upgrade: Scheduled"]);
    assert!(smtp.to("dave@example.com").is_empty(), "Dave follows the Storefront only");
    let hook = hooks.to("/hook/all");
    assert_eq!(hook[0]["incident"]["status"], "scheduled");
    assert_eq!(hook[0]["incident"]["impact"], "maintenance");
    assert!(hook[0]["incident"]["scheduled_for"].is_string());
    assert_eq!(srv.run_notifier().await.sent, 0, "nothing twice");

    // An hour before: a reminder.
    srv.clock.advance(Duration::hours(2) + Duration::minutes(1));
    srv.run_notifier().await;
    let subjects_now = subjects(&smtp, "carol@example.com");
    assert_eq!(subjects_now.len(), 2, "{subjects_now:?}");
    assert!(subjects_now[1].starts_with("[Shop Status] Reminder: DB upgrade begins"), "{subjects_now:?}");
    assert_eq!(hooks.to("/hook/all")[1]["meta"]["event"], "maintenance.reminder");
    srv.clock.advance(Duration::minutes(20));
    assert_eq!(srv.run_notifier().await.sent, 0, "one reminder");

    // At its start it is in progress and Checkout is under maintenance.
    srv.clock.advance(Duration::minutes(40));
    srv.run_notifier().await;
    let active = maintenances(&srv, "scheduled-maintenances/active.json").await;
    assert_eq!((active.len(), &active[0]["id"], active[0]["status"].as_str()), (1, &id, Some("in_progress")));
    let summary = public_json(&srv, "/status/shop/api/v2/summary.json").await;
    assert_eq!(component(&summary, "Checkout")["status"], "under_maintenance");
    assert_eq!(component(&summary, "Storefront")["status"], "operational");
    assert_eq!(summary["status"]["indicator"], "maintenance", "{summary}");
    assert_eq!(subjects(&smtp, "carol@example.com")[2], "[Shop Status] DB upgrade: In progress");

    // At its end it is completed, listed with its three updates, and off the page's banner.
    srv.clock.advance(Duration::minutes(61));
    srv.run_notifier().await;
    assert!(maintenances(&srv, "scheduled-maintenances/active.json").await.is_empty());
    let all = maintenances(&srv, "scheduled-maintenances.json").await;
    let done = all.iter().find(|x| x["id"] == id).unwrap();
    assert_eq!(done["status"], "completed");
    assert!(done["resolved_at"].is_string());
    let statuses: Vec<&str> =
        done["incident_updates"].as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["completed", "in_progress", "scheduled"]);
    let summary = public_json(&srv, "/status/shop/api/v2/summary.json").await;
    assert_eq!(component(&summary, "Checkout")["status"], "operational");
    assert_eq!(subjects(&smtp, "carol@example.com")[3], "[Shop Status] DB upgrade: Completed");
    assert_eq!(hooks.to("/hook/all").len(), 4);
    assert_eq!(srv.run_notifier().await.sent, 0);

    // A window moved before it starts: the old time is cancelled and the new one announced.
    let start = srv.now() + Duration::days(2);
    let (_, w2) = srv
        .post(
            "/api/v1/maintenance",
            &m,
            json!({"name": "CDN switch", "starts_at": start.to_rfc3339(), "service_ids": [web["id"]]}),
        )
        .await;
    let later = (start + Duration::days(1)).to_rfc3339();
    let (s, _) = srv
        .patch(&format!("/api/v1/maintenance/{}", w2["id"].as_str().unwrap()), &m, json!({"starts_at": later}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let upcoming = maintenances(&srv, "scheduled-maintenances/upcoming.json").await;
    assert_eq!(upcoming.len(), 1, "{upcoming:?}");
    assert_eq!(upcoming[0]["incident_updates"][0]["body"], "Scheduled maintenance: CDN switch");
    srv.run_notifier().await;
    let dave = smtp.to("dave@example.com");
    assert_eq!(dave.len(), 3, "announced, cancelled, announced again: {dave:?}");
    assert!(dave.iter().any(|m| m.contains("This scheduled maintenance has been cancelled.")), "{dave:?}");
    // Deleting it cancels it.
    let (s, _) = srv.delete(&format!("/api/v1/maintenance/{}", w2["id"].as_str().unwrap()), &m).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(maintenances(&srv, "scheduled-maintenances/upcoming.json").await.is_empty());
    srv.run_notifier().await;
    assert_eq!(smtp.to("dave@example.com").len(), 4);
    assert!(subjects(&smtp, "carol@example.com").len() == 4, "Carol does not follow the Storefront");
    drop(smtp);
    srv.stop().await;
}
