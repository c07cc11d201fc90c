//! Paging correctness: every restart of an escalation (reopen, snooze ended, escalate after the
//! policy ran out) pages again exactly once, a repeated pass never pages twice, and state checks
//! happen inside the transaction that changes the state.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{Method, Receiver, StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};

backend_tests!(
    every_escalation_round_pages_once,
    status_changes_check_state_in_their_transaction,
    monitor_alerts_survive_a_full_ingest_queue,
    action_links_act_only_for_a_current_responder,
    deleting_a_service_revokes_its_keys_at_once,
    notifications_never_reach_metadata_addresses
);

/// A service whose one-level policy pages alice's webhook; returns (manager token, alice's token, service id).
async fn paged_service(srv: &TestServer, rx: &Receiver) -> (String, String, String) {
    let m = srv.token("mgr", Role::Manager).await;
    let alice = srv.user("alice", Role::Responder).await;
    let at = srv.token_for(&alice, None).await;
    let (s, c) = srv
        .post(
            "/api/v1/users/me/contact-methods",
            &at,
            json!({"kind": "webhook", "address": format!("{}/alice", rx.url)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Checkout"})).await;
    let sid = svc["id"].as_str().unwrap().to_owned();
    let (s, pol) = srv
        .post(
            "/api/v1/escalation-policies",
            &m,
            json!({"name": "Checkout", "loops": 1, "levels": [
                {"delay_minutes": 10, "targets": [{"type": "user", "id": alice.id}]}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pol}");
    let (s, _) = srv
        .call(
            Method::PUT,
            &format!("/api/v1/services/{sid}/escalation-policy"),
            Some(&m),
            Some(json!({"policy_id": pol["id"]})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    (m, at, sid)
}

async fn every_escalation_round_pages_once(srv: &TestServer) {
    let rx = Receiver::start().await;
    let (m, at, sid) = paged_service(srv, &rx).await;
    let (_, inc) = srv.post("/api/v1/incidents", &m, json!({"title": "Checkout down", "service_id": sid})).await;
    let id = inc["id"].as_str().unwrap().to_owned();
    let pages = || rx.to("/alice").len();

    // Round 1: declared. Passes at the same time and after the policy ran out page nobody again.
    srv.run_notifier().await;
    assert_eq!(pages(), 1);
    srv.run_notifier().await;
    srv.clock.advance(Duration::minutes(11));
    srv.run_notifier().await;
    srv.run_notifier().await;
    assert_eq!(pages(), 1, "the policy has one level and one loop");

    // Round 2: escalated after the policy was exhausted.
    let (s, _) = srv.post(&format!("/api/v1/incidents/{id}/escalate"), &at, json!({"reason": "still down"})).await;
    assert_eq!(s, StatusCode::OK);
    srv.run_notifier().await;
    srv.run_notifier().await;
    assert_eq!(pages(), 2, "escalating after exhaustion pages again, once");

    // Round 3: resolved, then reopened.
    srv.post(&format!("/api/v1/incidents/{id}/resolve"), &at, json!({})).await;
    let (s, _) = srv.post(&format!("/api/v1/incidents/{id}/reopen"), &at, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    srv.run_notifier().await;
    srv.run_notifier().await;
    assert_eq!(pages(), 3, "a reopened incident pages again, once");

    // Round 4: the snooze ends.
    let (s, _) = srv.post(&format!("/api/v1/incidents/{id}/snooze"), &at, json!({"minutes": 30})).await;
    assert_eq!(s, StatusCode::OK);
    srv.clock.advance(Duration::minutes(31));
    srv.pipeline.sweep().await.unwrap();
    srv.run_notifier().await;
    srv.pipeline.sweep().await.unwrap();
    srv.run_notifier().await;
    assert_eq!(pages(), 4, "a snooze that ends pages again, once");

    // The delivery log has one sent row per round, and the timeline says who was notified each time.
    let (_, log) = srv.get(&format!("/api/v1/incidents/{id}/notifications"), &m).await;
    let sent = log["items"].as_array().unwrap().iter().filter(|r| r["status"] == "sent").count();
    assert_eq!(sent, 4);
    let (_, tl) = srv.get(&format!("/api/v1/incidents/{id}/timeline"), &m).await;
    let notified = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["body"].as_str().unwrap().contains("notifying alice"))
        .count();
    assert_eq!(notified, 4);
    rx.task.abort();
}

async fn status_changes_check_state_in_their_transaction(srv: &TestServer) {
    let rx = Receiver::start().await;
    let (m, at, sid) = paged_service(srv, &rx).await;
    let open = |title: &'static str| {
        let sid = sid.clone();
        let m = m.clone();
        async move {
            let (_, inc) = srv.post("/api/v1/incidents", &m, json!({"title": title, "service_id": sid})).await;
            inc["id"].as_str().unwrap().to_owned()
        }
    };
    let a = open("A").await;
    let b = open("B").await;

    // Crossed merges at the same moment: exactly one wins; the other is refused with 409.
    let (into_a, into_b) = (format!("/api/v1/incidents/{a}/merge"), format!("/api/v1/incidents/{b}/merge"));
    let (ra, rb) =
        tokio::join!(srv.post(&into_a, &at, json!({"source_id": b})), srv.post(&into_b, &at, json!({"source_id": a})),);
    let mut codes = [ra.0, rb.0];
    codes.sort();
    assert_eq!(codes, [StatusCode::OK, StatusCode::CONFLICT], "{ra:?} {rb:?}");
    let (_, ia) = srv.get(&format!("/api/v1/incidents/{a}"), &m).await;
    let (_, ib) = srv.get(&format!("/api/v1/incidents/{b}"), &m).await;
    let open_count = [&ia, &ib].iter().filter(|i| i["status"] != "resolved").count();
    assert_eq!(open_count, 1, "one incident stays open with the alerts: {ia} {ib}");

    // Resolve racing snooze and escalate: whatever the order, a resolved incident stays resolved.
    let c = open("C").await;
    let paths = ["resolve", "snooze", "escalate"].map(|a| format!("/api/v1/incidents/{c}/{a}"));
    let (resolved, snoozed, escalated) = tokio::join!(
        srv.post(&paths[0], &at, json!({})),
        srv.post(&paths[1], &at, json!({"minutes": 30})),
        srv.post(&paths[2], &at, json!({})),
    );
    assert_eq!(resolved.0, StatusCode::OK, "{resolved:?}");
    for r in [&snoozed, &escalated] {
        assert!(r.0 == StatusCode::OK || r.0 == StatusCode::CONFLICT, "{r:?}");
    }
    let (_, ic) = srv.get(&format!("/api/v1/incidents/{c}"), &m).await;
    assert_eq!(ic["status"], "resolved", "{ic}");
    rx.task.abort();
}

async fn monitor_alerts_survive_a_full_ingest_queue(srv: &TestServer) {
    let m = srv.token("mgr", Role::Manager).await;
    let target = Receiver::start().await;
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Checkout"})).await;
    let (s, mon) = srv
        .post(
            "/api/v1/monitors",
            &m,
            json!({"name": "checkout-web", "service_id": svc["id"], "type": "http", "interval_seconds": 60,
                "settings": {"url": format!("{}/health", target.url)}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{mon}");
    let incidents = || async {
        let (_, list) = srv.get(&format!("/api/v1/incidents?service_id={}", svc["id"].as_str().unwrap()), &m).await;
        list["items"].as_array().unwrap().clone()
    };

    // An alert storm has filled the ingest queue when the monitor goes down.
    let full = srv.pipeline.occupy(20_000).expect("the whole queue");
    target.answer(503);
    srv.clock.advance(Duration::seconds(61));
    assert_eq!(srv.run_checks().await, 1);
    let (_, now) = srv.get(&format!("/api/v1/monitors/{}", mon["id"].as_str().unwrap()), &m).await;
    assert_eq!(now["state"], "down");
    assert!(incidents().await.is_empty(), "the queue was full: no incident yet");

    // The queue drains: the alert that waited in the outbox opens the incident.
    drop(full);
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    let open = incidents().await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(open[0]["title"].as_str().unwrap().contains("checkout-web is down"), "{open:?}");
    // Nothing is sent twice.
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    let (_, alerts) = srv.get("/api/v1/alerts", &m).await;
    assert_eq!(alerts["items"].as_array().unwrap().len(), 1);

    // Up again: the resolve follows the trigger, in order.
    target.answer(200);
    srv.clock.advance(Duration::seconds(61));
    srv.run_checks().await;
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    let (_, alerts) = srv.get("/api/v1/alerts", &m).await;
    assert_eq!(alerts["items"][0]["status"], "resolved", "{alerts}");
    target.task.abort();
}

async fn action_links_act_only_for_a_current_responder(srv: &TestServer) {
    let rx = Receiver::start().await;
    let (m, _, sid) = paged_service(srv, &rx).await;
    let (s, ch) = srv
        .post(
            "/api/v1/channels",
            &m,
            json!({"name": "#ops", "kind": "webhook", "service_id": sid,
                "config": {"url": format!("{}/broadcast", rx.url), "secret": Receiver::SECRET}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ch}");
    let (_, inc) = srv.post("/api/v1/incidents", &m, json!({"title": "Checkout down", "service_id": sid})).await;
    let id = inc["id"].as_str().unwrap();
    srv.run_notifier().await;

    // A broadcast message could be forwarded anywhere: its links lead to the incident page.
    let broadcast = rx.to("/broadcast");
    let ack = broadcast[0]["links"]["acknowledge"].as_str().unwrap();
    assert!(ack.contains("/incidents/INC-") && !ack.contains("/a/"), "{ack}");

    // Alice's personal link stops acting once her account is disabled.
    let ack = rx.to("/alice")[0]["links"]["acknowledge"].as_str().unwrap().to_owned();
    let path = &ack[ack.find("/a/").unwrap()..];
    let admin = srv.token("root", Role::Admin).await;
    let (s, _) = srv.patch("/api/v1/users/alice", &admin, json!({"disabled": true})).await;
    assert_eq!(s, StatusCode::OK);
    let refused = srv.http.post(format!("{}{path}", srv.url)).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (_, now) = srv.get(&format!("/api/v1/incidents/{id}"), &m).await;
    assert_eq!(now["status"], "triggered", "nothing changed");
    rx.task.abort();
}

async fn deleting_a_service_revokes_its_keys_at_once(srv: &TestServer) {
    let m = srv.token("mgr", Role::Manager).await;
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Legacy"})).await;
    let sid = svc["id"].as_str().unwrap();
    let (s, it) = srv.post(&format!("/api/v1/services/{sid}/integrations"), &m, json!({"type": "pagerduty"})).await;
    assert_eq!(s, StatusCode::CREATED, "{it}");
    let key = it["key"].as_str().unwrap();
    let event = |summary: &str| {
        json!({"routing_key": key, "event_action": "trigger",
            "payload": {"summary": summary, "source": "db1", "severity": "error"}})
        .to_string()
    };
    let (s, _) = srv.post_raw("/v2/enqueue", event("first"), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "the key works and is now cached");
    let (s, _) = srv.delete(&format!("/api/v1/services/{sid}"), &m).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // A sender is told its key is gone (a 400 it will not retry), not a 503 with a database error.
    let (s, body) = srv.post_raw("/v2/enqueue", event("after"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("Invalid routing key"), "{body}");
}

async fn notifications_never_reach_metadata_addresses(srv: &TestServer) {
    let rx = Receiver::start().await;
    let (m, _, sid) = paged_service(srv, &rx).await;
    for (name, url) in [
        ("metadata", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
        ("mapped", "http://[::ffff:169.254.169.254]/"),
    ] {
        let (s, c) = srv
            .post(
                "/api/v1/channels",
                &m,
                json!({"name": name, "kind": "webhook", "service_id": sid, "config": {"url": url}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
    let (_, inc) = srv.post("/api/v1/incidents", &m, json!({"title": "Checkout down", "service_id": sid})).await;
    srv.run_notifier().await;
    let (_, log) = srv.get(&format!("/api/v1/incidents/{}/notifications", inc["id"].as_str().unwrap()), &m).await;
    let rows: Vec<&Value> =
        log["items"].as_array().unwrap().iter().filter(|r| r["target"] != "alice (webhook)").collect();
    assert_eq!(rows.len(), 2, "{log}");
    for r in rows {
        assert_eq!(r["status"], "failed", "{r}");
        assert!(r["last_error"].as_str().unwrap().contains("egress policy refuses"), "{r}");
    }
    assert_eq!(rx.to("/alice").len(), 1, "a permitted receiver still gets its page");
    rx.task.abort();
}
