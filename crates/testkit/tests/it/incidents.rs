//! Alerts and incidents through the real ingest endpoints and API, on both backends.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};

backend_tests!(
    pagerduty_v2_conformance,
    pagerduty_rejections_say_why,
    alertmanager_webhook_groups_and_resolves,
    alertmanager_api_alerts_expire,
    grafana_and_generic_webhooks,
    storm_makes_one_incident,
    routing_rules_and_grouping_modes,
    incident_lifecycle,
    postmortem_and_action_items,
    mttx_report_and_csv,
    monitor_transitions_raise_and_resolve_alerts,
    change_events_join_the_timeline,
    integration_keys_rotate_and_roles,
    repeats_reopen_and_flapping_holds,
);

async fn service(srv: &TestServer, t: &str, name: &str) -> String {
    let (s, svc) = srv.post("/api/v1/services", t, json!({"name": name})).await;
    assert_eq!(s, StatusCode::CREATED, "{svc}");
    svc["id"].as_str().unwrap().to_owned()
}

async fn integration(srv: &TestServer, t: &str, service_id: &str, kind: &str) -> Value {
    let (s, it) = srv.post(&format!("/api/v1/services/{service_id}/integrations"), t, json!({"type": kind})).await;
    assert_eq!(s, StatusCode::CREATED, "{it}");
    it
}

fn pd(key: &str, action: &str, dedup: Option<&str>, summary: &str, severity: &str) -> String {
    let mut v = json!({"routing_key": key, "event_action": action,
        "payload": {"summary": summary, "source": "db1", "severity": severity}});
    if let Some(d) = dedup {
        v["dedup_key"] = json!(d);
    }
    v.to_string()
}

async fn incidents(srv: &TestServer, t: &str, query: &str) -> Vec<Value> {
    let (s, list) = srv.get(&format!("/api/v1/incidents?{query}"), t).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    list["items"].as_array().unwrap().clone()
}

async fn alerts(srv: &TestServer, t: &str, query: &str) -> Vec<Value> {
    let (s, list) = srv.get(&format!("/api/v1/alerts?{query}"), t).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    list["items"].as_array().unwrap().clone()
}

async fn pagerduty_v2_conformance(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let sid = service(srv, &t, "Payments").await;
    let it = integration(srv, &t, &sid, "pagerduty").await;
    let key = it["key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 32);
    assert!(it["url"].as_str().unwrap().ends_with("/v2/enqueue"), "{it}");

    // Trigger: 202 with PagerDuty's exact body.
    let (s, body) =
        srv.post_raw("/v2/enqueue", pd(&key, "trigger", Some("srv01/mysql"), "DISK at 99%", "critical"), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(body, json!({"status": "success", "message": "Event processed", "dedup_key": "srv01/mysql"}));

    // Repeat: same alert, count 2, one incident.
    let (s, _) =
        srv.post_raw("/v2/enqueue", pd(&key, "trigger", Some("srv01/mysql"), "DISK at 99%", "critical"), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let inc = incidents(srv, &t, &format!("service_id={sid}")).await;
    assert_eq!(inc.len(), 1, "{inc:?}");
    assert_eq!(inc[0]["status"], "triggered");
    assert_eq!(inc[0]["severity"], "SEV1");
    assert_eq!(inc[0]["alert_count"], 1);
    assert!(inc[0]["number"].as_str().unwrap().starts_with("INC-"));
    assert_eq!(inc[0]["service_ids"], json!([sid]));
    let inc_id = inc[0]["id"].as_str().unwrap().to_owned();
    let al = alerts(srv, &t, &format!("incident_id={inc_id}")).await;
    assert_eq!(al.len(), 1);
    assert_eq!(
        (al[0]["dedup_key"].as_str(), al[0]["count"].as_i64(), al[0]["status"].as_str()),
        (Some("srv01/mysql"), Some(2), Some("firing"))
    );

    // No dedup key: one is generated and returned.
    let (s, body) = srv
        .post_raw(
            "/v2/enqueue",
            json!({"routing_key": key, "event_action": "trigger",
            "payload": {"summary": "CPU", "source": "h", "severity": "warning"}})
            .to_string(),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let generated = body["dedup_key"].as_str().unwrap().to_owned();
    assert!(!generated.is_empty());
    assert_eq!(alerts(srv, &t, &format!("q={generated}")).await.len(), 1);

    // Acknowledge and resolve by key; the incident follows.
    let (s, _) = srv.post_raw("/v2/enqueue", pd(&key, "acknowledge", Some("srv01/mysql"), "", ""), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let al = alerts(srv, &t, "q=srv01/mysql").await;
    assert_eq!(al[0]["status"], "acknowledged");
    let (_, i) = srv.get(&format!("/api/v1/incidents/{inc_id}"), &t).await;
    assert_eq!(i["status"], "acknowledged");
    for k in ["srv01/mysql", generated.as_str()] {
        let (s, _) = srv.post_raw("/v2/enqueue", pd(&key, "resolve", Some(k), "", ""), None).await;
        assert_eq!(s, StatusCode::ACCEPTED);
    }
    let (_, i) = srv.get(&format!("/api/v1/incidents/{inc_id}"), &t).await;
    assert_eq!(i["status"], "resolved", "all alerts resolved, so the incident auto-resolves: {i}");
    assert!(i["resolved_at"].is_string());

    // Resolving an unknown key is accepted and ignored.
    let (s, body) = srv.post_raw("/v2/enqueue", pd(&key, "resolve", Some("never-seen"), "", ""), None).await;
    assert_eq!((s, body["status"].as_str()), (StatusCode::ACCEPTED, Some("success")));
    assert!(alerts(srv, &t, "q=never-seen").await.is_empty());

    // After resolution the key opens a new alert and a new incident.
    srv.clock.advance(Duration::minutes(10));
    srv.post_raw("/v2/enqueue", pd(&key, "trigger", Some("srv01/mysql"), "DISK again", "error"), None).await;
    let al = alerts(srv, &t, "q=srv01/mysql").await;
    assert_eq!(al.len(), 2);
    assert_eq!(al[0]["status"], "firing");
    assert_ne!(al[0]["incident_id"], json!(inc_id));
    assert_eq!(incidents(srv, &t, "status=triggered").await.len(), 1);

    // The same key on another integration is another alert.
    let other = integration(srv, &t, &sid, "pagerduty").await;
    let okey = other["key"].as_str().unwrap();
    srv.post_raw("/v2/enqueue", pd(okey, "trigger", Some("srv01/mysql"), "DISK", "error"), None).await;
    let firing: Vec<Value> = alerts(srv, &t, "q=srv01/mysql&status=firing").await.into_iter().collect();
    assert_eq!(firing.len(), 2);
    assert_ne!(firing[0]["integration_id"], firing[1]["integration_id"]);
}

async fn pagerduty_rejections_say_why(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let sid = service(srv, &t, "Payments").await;
    let key = integration(srv, &t, &sid, "pagerduty").await["key"].as_str().unwrap().to_owned();

    let (s, b) =
        srv.post_raw("/v2/enqueue", json!({"routing_key": key, "event_action": "trigger"}).to_string(), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!((b["status"].as_str(), b["message"].as_str()), (Some("invalid event"), Some("Event object is invalid")));
    assert!(b["errors"][0].as_str().unwrap().contains("payload"), "{b}");

    let (s, b) = srv.post_raw("/v2/enqueue", pd(&key, "trigger", None, "s", "fatal"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["errors"][0].as_str().unwrap().contains("payload.severity"), "{b}");

    let (s, b) = srv.post_raw("/v2/enqueue", pd("short", "trigger", None, "s", "info"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["errors"][0], "Length of 'routing_key' is incorrect (should be 32 characters)");

    let (s, b) = srv.post_raw("/v2/enqueue", pd(&"0".repeat(32), "trigger", None, "s", "info"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["errors"][0].as_str().unwrap().contains("Invalid routing key"), "{b}");

    let (s, b) = srv.post_raw("/v2/enqueue", pd(&key, "resolve", None, "", ""), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["errors"][0].as_str().unwrap().contains("dedup_key"), "{b}");

    let (s, b) = srv.post_raw("/v2/enqueue", "{not json", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["errors"][0].as_str().unwrap().contains("Invalid JSON"), "{b}");

    // Over 512 KB: 413, and nothing was stored.
    let big = json!({"routing_key": key, "event_action": "trigger",
        "payload": {"summary": "big", "source": "h", "severity": "info",
            "custom_details": {"blob": "x".repeat(600_000)}}});
    let (s, _) = srv.post_raw("/v2/enqueue", big.to_string(), None).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(alerts(srv, &t, "").await.is_empty());

    // Unknown fields are ignored.
    let mut v: Value = serde_json::from_str(&pd(&key, "trigger", Some("k"), "s", "info")).unwrap();
    v["something_new"] = json!({"x": 1});
    v["payload"]["also_new"] = json!(true);
    let (s, _) = srv.post_raw("/v2/enqueue", v.to_string(), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
}

fn am_payload(status: &str, alerts: &[(&str, &str, &str)]) -> String {
    json!({
        "version": "4", "groupKey": "{}:{alertname=\"HighLatency\"}", "truncatedAlerts": 0, "status": status,
        "receiver": "opsdeck", "groupLabels": {"alertname": "HighLatency"}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "alerts": alerts.iter().map(|(fp, instance, st)| json!({
            "status": st, "labels": {"alertname": "HighLatency", "instance": instance, "severity": "warning"},
            "annotations": {"summary": format!("latency high on {instance}")},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": if *st == "resolved" { "2026-01-01T00:10:00Z" } else { "0001-01-01T00:00:00Z" },
            "generatorURL": "http://prom/graph", "fingerprint": fp,
        })).collect::<Vec<_>>()
    })
    .to_string()
}

async fn alertmanager_webhook_groups_and_resolves(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let sid = service(srv, &t, "API").await;
    let it = integration(srv, &t, &sid, "alertmanager").await;
    let url = it["url"].as_str().unwrap();
    let path = &url[url.find("/integrations/").unwrap()..];
    assert!(path.ends_with("/alertmanager"));

    let (s, b) =
        srv.post_raw(path, am_payload("firing", &[("fp1", "api-1", "firing"), ("fp2", "api-2", "firing")]), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let inc = incidents(srv, &t, "").await;
    assert_eq!(inc.len(), 1);
    assert_eq!(inc[0]["alert_count"], 2);
    assert_eq!(inc[0]["severity"], "SEV3");
    let al = alerts(srv, &t, &format!("service_id={sid}")).await;
    assert_eq!(al.len(), 2);
    assert!(al.iter().all(|a| a["group_key"] == "{}:{alertname=\"HighLatency\"}"));

    // One alert resolves: the incident stays open; the second resolves it.
    srv.post_raw(path, am_payload("firing", &[("fp1", "api-1", "resolved"), ("fp2", "api-2", "firing")]), None).await;
    assert_eq!(incidents(srv, &t, "").await[0]["status"], "triggered");
    assert_eq!(alerts(srv, &t, "status=firing").await.len(), 1);
    srv.post_raw(path, am_payload("resolved", &[("fp2", "api-2", "resolved")]), None).await;
    let inc = incidents(srv, &t, "").await;
    assert_eq!(inc[0]["status"], "resolved");
    let (_, tl) = srv.get(&format!("/api/v1/incidents/{}/timeline", inc[0]["id"].as_str().unwrap()), &t).await;
    let kinds: Vec<&str> = tl["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"created"));
    assert!(kinds.contains(&"alert_resolved") && kinds.contains(&"status"), "{kinds:?}");

    // The key belongs to an Alertmanager integration: other paths say so; unknown keys 404.
    let key = it["key"].as_str().unwrap();
    let (s, b) = srv.post_raw(&format!("/integrations/{key}/grafana"), am_payload("firing", &[]), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().contains("alertmanager"), "{b}");
    let (s, _) = srv.post_raw("/integrations/nope/alertmanager", am_payload("firing", &[]), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = srv.post_raw(path, "{\"version\": \"4\"}", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().contains("alerts"), "{b}");
}

async fn alertmanager_api_alerts_expire(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let sid = service(srv, &t, "Nodes").await;
    let key = integration(srv, &t, &sid, "alertmanager").await["key"].as_str().unwrap().to_owned();
    let now = srv.now();
    let ends = (now + Duration::minutes(3)).to_rfc3339();
    let body = json!([{"labels": {"alertname": "NodeDown", "instance": "n1", "severity": "critical"},
                       "annotations": {"summary": "node n1 down"}, "startsAt": now.to_rfc3339(), "endsAt": ends}]);
    let (s, _) = srv.post_raw("/api/v2/alerts", body.to_string(), Some(&key)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = srv.post_raw("/api/v2/alerts", body.to_string(), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let al = alerts(srv, &t, "").await;
    assert_eq!(al.len(), 1);
    assert_eq!(al[0]["severity"], "critical");
    assert!(al[0]["expires_at"].is_string());

    // Not sent again: at endsAt the alert resolves by itself, and the incident with it.
    srv.clock.advance(Duration::minutes(2));
    srv.pipeline.sweep().await.unwrap();
    assert_eq!(alerts(srv, &t, "status=firing").await.len(), 1);
    srv.clock.advance(Duration::minutes(2));
    assert_eq!(srv.pipeline.sweep().await.unwrap(), 1);
    assert_eq!(alerts(srv, &t, "status=resolved").await.len(), 1);
    assert_eq!(incidents(srv, &t, "").await[0]["status"], "resolved");

    // An alert posted with endsAt in the past resolves at once.
    let body = json!([{"labels": {"alertname": "NodeDown", "instance": "n1", "severity": "critical"},
                       "endsAt": (srv.now() + Duration::minutes(3)).to_rfc3339()}]);
    srv.post_raw("/api/v2/alerts", body.to_string(), Some(&key)).await;
    assert_eq!(alerts(srv, &t, "status=firing").await.len(), 1);
    let past = json!([{"labels": {"alertname": "NodeDown", "instance": "n1", "severity": "critical"},
                       "endsAt": (srv.now() - Duration::seconds(1)).to_rfc3339()}]);
    srv.post_raw("/api/v2/alerts", past.to_string(), Some(&key)).await;
    assert!(alerts(srv, &t, "status=firing").await.is_empty());
    let (s, b) = srv.post_raw("/api/v2/alerts", "[{\"labels\": {}}]", Some(&key)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().contains("label"));
}

async fn grafana_and_generic_webhooks(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let sid = service(srv, &t, "Web").await;
    let g = integration(srv, &t, &sid, "grafana").await;
    let gkey = g["key"].as_str().unwrap();
    let body = json!({"receiver": "x", "status": "firing", "orgId": 1, "version": "1", "title": "[FIRING:1] CPU",
        "state": "alerting", "groupKey": "g1", "alerts": [{"status": "firing", "labels": {"alertname": "CPU",
            "severity": "critical"},
        "annotations": {}, "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "values": {"A": 97.5},
        "fingerprint": "gf1", "dashboardURL": "https://grafana.example.com/d/1"}]});
    let (s, _) = srv.post_raw(&format!("/integrations/{gkey}/grafana"), body.to_string(), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let al = alerts(srv, &t, "q=gf1").await;
    assert_eq!((al[0]["source_type"].as_str(), al[0]["severity"].as_str()), (Some("grafana"), Some("critical")));

    let (s, w) = srv
        .post(
            &format!("/api/v1/services/{sid}/integrations"),
            &t,
            json!({"type": "webhook", "name": "Queue watcher", "mapping": {"summary": "/alert/title",
                "severity": "/alert/level",
                   "dedup_key": "/alert/id", "status": "/state", "source": "/host"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let wkey = w["key"].as_str().unwrap();
    let wid = w["id"].as_str().unwrap();
    let sample =
        json!({"alert": {"title": "Queue backed up", "level": "high", "id": "q-7"}, "state": "open", "host": "mq1"});
    let (s, p) = srv.post(&format!("/api/v1/integrations/{wid}/preview"), &t, json!({"payload": sample})).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["ok"], true);
    assert_eq!(p["alert"][0]["summary"], "Queue backed up");
    assert_eq!(p["alert"][0]["severity"], "error");
    assert!(alerts(srv, &t, "q=q-7").await.is_empty(), "a preview stores nothing");
    let (_, p) = srv.post(&format!("/api/v1/integrations/{wid}/preview"), &t, json!({"payload": {"x": 1}})).await;
    assert_eq!(p["ok"], false);
    assert!(p["error"].as_str().unwrap().contains("/alert/title"));

    let (s, _) = srv.post_raw(&format!("/integrations/{wkey}/webhook"), sample.to_string(), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let al = alerts(srv, &t, "q=q-7").await;
    assert_eq!((al[0]["summary"].as_str(), al[0]["source"].as_str()), (Some("Queue backed up"), Some("mq1")));
    let resolved = json!({"alert": {"title": "Queue backed up", "id": "q-7"}, "state": "resolved"});
    srv.post_raw(&format!("/integrations/{wkey}/webhook"), resolved.to_string(), None).await;
    assert_eq!(alerts(srv, &t, "q=q-7").await[0]["status"], "resolved");
    let (s, b) = srv.post_raw(&format!("/integrations/{wkey}/webhook"), "{\"other\": 1}", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().contains("/alert/title"));

    let (s, e) = srv
        .post(
            &format!("/api/v1/services/{sid}/integrations"),
            &t,
            json!({"type": "webhook", "mapping": {"summary": "title"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, _) = srv.post(&format!("/api/v1/services/{sid}/integrations"), &t, json!({"type": "nagios"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn storm_makes_one_incident(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let sid = service(srv, &t, "Storm").await;
    let key = integration(srv, &t, &sid, "pagerduty").await["key"].as_str().unwrap().to_owned();
    // 10,000 alerts with distinct keys, sent concurrently over 50 connections.
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..50 {
        let http = srv.http.clone();
        let url = format!("{}/v2/enqueue", srv.url);
        let key = key.clone();
        tasks.spawn(async move {
            let mut ok = 0;
            for i in 0..200 {
                let body = pd(
                    &key,
                    "trigger",
                    Some(&format!("storm-{c}-{i}")),
                    &format!("disk full on node {c}-{i}"),
                    "error",
                );
                let r = http.post(&url).header("content-type", "application/json").body(body).send().await.unwrap();
                if r.status() == StatusCode::ACCEPTED {
                    ok += 1;
                }
            }
            ok
        });
    }
    let mut accepted = 0;
    while let Some(n) = tasks.join_next().await {
        accepted += n.unwrap();
    }
    assert_eq!(accepted, 10_000);
    let inc = incidents(srv, &t, &format!("service_id={sid}")).await;
    assert_eq!(inc.len(), 1, "a storm on one service is one incident");
    assert_eq!(inc[0]["alert_count"], 10_000);
    assert_eq!(inc[0]["open_alerts"], 10_000);
}

async fn routing_rules_and_grouping_modes(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let a = service(srv, &t, "Edge").await;
    let b = service(srv, &t, "Database").await;
    let key = integration(srv, &t, &a, "alertmanager").await["key"].as_str().unwrap().to_owned();
    let (s, set) = srv
        .call(
            opsdeck_testkit::Method::PUT,
            &format!("/api/v1/services/{a}/alert-settings"),
            Some(&t),
            Some(json!({"grouping": "none", "group_window_seconds": 300, "auto_resolve": true, "rules": [
                {"match": {"labels": {"env": "dev"}}, "action": "drop"},
                {"match": {"labels": {"team": "dba"}}, "action": "route", "service_id": b},
                {"match": {"severity": ["info"]}, "action": "set_severity", "severity": "warning"}
            ]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{set}");
    let post = |labels: Value, fp: &str| {
        json!([{"labels": labels, "annotations": {"summary": fp},
            "endsAt": (srv.now() + Duration::hours(1)).to_rfc3339()}])
        .to_string()
    };
    srv.post_raw("/api/v2/alerts", post(json!({"alertname": "A", "env": "dev"}), "dropped"), Some(&key)).await;
    srv.post_raw("/api/v2/alerts", post(json!({"alertname": "B", "team": "dba"}), "routed"), Some(&key)).await;
    srv.post_raw("/api/v2/alerts", post(json!({"alertname": "C", "severity": "info"}), "raised"), Some(&key)).await;
    srv.post_raw("/api/v2/alerts", post(json!({"alertname": "D", "severity": "critical"}), "plain"), Some(&key)).await;
    assert!(alerts(srv, &t, "q=dropped").await.is_empty());
    assert_eq!(alerts(srv, &t, "q=routed").await[0]["service_id"], json!(b));
    assert_eq!(alerts(srv, &t, "q=raised").await[0]["severity"], "warning");
    assert_eq!(incidents(srv, &t, &format!("service_id={a}")).await.len(), 2, "grouping none: one incident per alert");
    assert_eq!(incidents(srv, &t, &format!("service_id={b}")).await.len(), 1);

    // Key grouping: alerts with one group key share an incident, others do not.
    srv.call(
        opsdeck_testkit::Method::PUT,
        &format!("/api/v1/services/{b}/alert-settings"),
        Some(&t),
        Some(json!({"grouping": "key", "group_window_seconds": 0, "auto_resolve": false, "rules": []})),
    )
    .await;
    let bkey = integration(srv, &t, &b, "pagerduty").await["key"].as_str().unwrap().to_owned();
    for (k, group) in [("k1", "disk"), ("k2", "disk"), ("k3", "cpu")] {
        let mut v: Value = serde_json::from_str(&pd(&bkey, "trigger", Some(k), k, "error")).unwrap();
        v["payload"]["group"] = json!(group);
        srv.post_raw("/v2/enqueue", v.to_string(), None).await;
    }
    assert_eq!(incidents(srv, &t, &format!("service_id={b}")).await.len(), 3, "routed + disk + cpu");
    // auto_resolve off: resolving every alert leaves the incident open.
    for k in ["k1", "k2"] {
        srv.post_raw("/v2/enqueue", pd(&bkey, "resolve", Some(k), "", ""), None).await;
    }
    let disk = alerts(srv, &t, "q=k1").await[0]["incident_id"].as_str().unwrap().to_owned();
    let (_, i) = srv.get(&format!("/api/v1/incidents/{disk}"), &t).await;
    assert_eq!(
        (i["status"].as_str(), i["alert_count"].as_i64(), i["open_alerts"].as_i64()),
        (Some("triggered"), Some(2), Some(0))
    );

    // Bad settings are refused with the field named.
    for bad in [
        json!({"grouping": "sometimes", "group_window_seconds": 0, "auto_resolve": true, "rules": []}),
        json!({"grouping": "time", "group_window_seconds": -5, "auto_resolve": true, "rules": []}),
        json!({"grouping": "time", "group_window_seconds": 5, "auto_resolve": true, "rules": [{"action": "route",
            "service_id": a}]}),
        json!({"grouping": "time", "group_window_seconds": 5, "auto_resolve": true, "rules": [{"action": "route",
            "service_id": uuid::Uuid::now_v7()}]}),
    ] {
        let (s, e) = srv
            .call(opsdeck_testkit::Method::PUT, &format!("/api/v1/services/{a}/alert-settings"), Some(&t), Some(bad))
            .await;
        assert!(s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST, "{s} {e}");
    }
}

async fn incident_lifecycle(srv: &TestServer) {
    let t = srv.token("r", Role::Responder).await;
    let m = srv.token("m", Role::Manager).await;
    let v = srv.token("v", Role::Viewer).await;
    let sid = service(srv, &m, "Checkout").await;
    let (s, inc) = srv
        .post("/api/v1/incidents", &t, json!({"title": "Checkout errors", "service_id": sid, "severity": "SEV2"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    assert_eq!(
        (inc["status"].as_str(), inc["severity"].as_str(), inc["source"].as_str()),
        (Some("triggered"), Some("SEV2"), Some("manual"))
    );
    let id = inc["id"].as_str().unwrap().to_owned();
    let number = inc["number"].as_str().unwrap().to_owned();

    // By reference too.
    let (s, same) = srv.get(&format!("/api/v1/incidents/{number}"), &v).await;
    assert_eq!((s, same["id"].as_str()), (StatusCode::OK, Some(id.as_str())));

    // Viewers cannot act; bad input names the field.
    let (s, _) = srv.post(&format!("/api/v1/incidents/{id}/acknowledge"), &v, json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = srv.post("/api/v1/incidents", &t, json!({"title": " ", "service_id": sid})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = srv.post("/api/v1/incidents", &t, json!({"title": "x", "service_id": sid, "severity": "SEV9"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = srv.post("/api/v1/incidents", &t, json!({"title": "x", "service_id": "no-such"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    srv.clock.advance(Duration::minutes(3));
    let (s, a) = srv.post(&format!("/api/v1/incidents/{id}/acknowledge"), &t, json!({"note": "looking"})).await;
    assert_eq!((s, a["status"].as_str()), (StatusCode::OK, Some("acknowledged")));
    let (s, e) = srv.post(&format!("/api/v1/incidents/{id}/acknowledge"), &t, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");

    let (s, _) = srv.post(&format!("/api/v1/incidents/{id}/notes"), &t, json!({"body": "rolled back deploy 41"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = srv.post(&format!("/api/v1/incidents/{id}/notes"), &t, json!({"body": "  "})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let ruser =
        srv.db.list_users(None, None, Some(10)).await.unwrap().items.into_iter().find(|u| u.username == "r").unwrap();
    let (s, e) = srv
        .patch(
            &format!("/api/v1/incidents/{id}"),
            &t,
            json!({"severity": "SEV1", "assignee_id": ruser.id, "commander_id": ruser.id}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!((e["severity"].as_str(), e["assignee"].as_str()), (Some("SEV1"), Some("r")));
    let (s, _) = srv.patch(&format!("/api/v1/incidents/{id}"), &t, json!({"assignee_id": uuid::Uuid::now_v7()})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Snooze, then the snooze ends and the incident is triggered again.
    let (s, sn) = srv.post(&format!("/api/v1/incidents/{id}/snooze"), &t, json!({"minutes": 30})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(sn["snoozed_until"].is_string());
    srv.clock.advance(Duration::minutes(31));
    srv.pipeline.sweep().await.unwrap();
    let (_, cur) = srv.get(&format!("/api/v1/incidents/{id}"), &t).await;
    assert_eq!(cur["status"], "triggered");
    let (s, _) = srv.post(&format!("/api/v1/incidents/{id}/snooze"), &t, json!({"minutes": 0})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Escalate, merge another incident in, resolve, reopen.
    srv.post(&format!("/api/v1/incidents/{id}/acknowledge"), &t, json!({})).await;
    let (s, esc) = srv.post(&format!("/api/v1/incidents/{id}/escalate"), &t, json!({"reason": "need DBA"})).await;
    assert_eq!((s, esc["status"].as_str()), (StatusCode::OK, Some("triggered")));
    let (_, other) = srv.post("/api/v1/incidents", &t, json!({"title": "Checkout slow", "service_id": sid})).await;
    let (s, merged) =
        srv.post(&format!("/api/v1/incidents/{id}/merge"), &t, json!({"source_id": other["number"]})).await;
    assert_eq!(s, StatusCode::OK, "{merged}");
    let (_, o) = srv.get(&format!("/api/v1/incidents/{}", other["id"].as_str().unwrap()), &t).await;
    assert_eq!((o["status"].as_str(), o["merged_into"].as_str()), (Some("resolved"), Some(id.as_str())));
    let (s, _) = srv.post(&format!("/api/v1/incidents/{id}/merge"), &t, json!({"source_id": id})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, r) = srv.post(&format!("/api/v1/incidents/{id}/resolve"), &t, json!({"note": "fixed"})).await;
    assert_eq!((s, r["status"].as_str()), (StatusCode::OK, Some("resolved")));
    let (s, _) = srv.post(&format!("/api/v1/incidents/{id}/resolve"), &t, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, r) =
        srv.call(opsdeck_testkit::Method::POST, &format!("/api/v1/incidents/{id}/reopen"), Some(&t), None).await;
    assert_eq!((s, r["status"].as_str()), (StatusCode::OK, Some("triggered")), "{r}");

    // The timeline has every step, in order.
    let (_, tl) = srv.get(&format!("/api/v1/incidents/{id}/timeline"), &v).await;
    let kinds: Vec<&str> = tl["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in ["created", "status", "note", "severity", "assigned", "snoozed", "escalated", "merged"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert_eq!(kinds[0], "created");
    let ats: Vec<&str> = tl["items"].as_array().unwrap().iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(ats.windows(2).all(|w| w[0] <= w[1]));

    // Filters and counts.
    assert_eq!(incidents(srv, &v, "status=triggered").await.len(), 1);
    assert_eq!(incidents(srv, &v, "status=resolved").await.len(), 1);
    assert_eq!(incidents(srv, &v, "open=true").await.len(), 1);
    assert_eq!(incidents(srv, &v, "q=slow").await.len(), 1);
    let (s, _) = srv.get("/api/v1/incidents?status=bogus", &v).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, c) = srv.get("/api/v1/incidents/counts", &v).await;
    assert_eq!((c["triggered"].as_i64(), c["resolved"].as_i64()), (Some(1), Some(1)));
    let (s, _) = srv.get("/api/v1/incidents/INC-999999", &v).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn postmortem_and_action_items(srv: &TestServer) {
    let t = srv.token("r", Role::Responder).await;
    let m = srv.token("m", Role::Manager).await;
    let sid = service(srv, &m, "Search").await;
    let (_, inc) = srv.post("/api/v1/incidents", &t, json!({"title": "Search down", "service_id": sid})).await;
    let id = inc["id"].as_str().unwrap().to_owned();
    let (s, e) = srv
        .call(
            opsdeck_testkit::Method::PUT,
            &format!("/api/v1/incidents/{id}/postmortem"),
            Some(&t),
            Some(json!({"summary": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "only resolved incidents: {e}");
    srv.post(&format!("/api/v1/incidents/{id}/resolve"), &t, json!({})).await;
    let (_, tmpl) = srv.get(&format!("/api/v1/incidents/{id}/postmortem"), &t).await;
    assert_eq!(tmpl["saved"], false);
    assert!(tmpl["timeline"].as_str().unwrap().contains("Declared by"), "{tmpl}");
    let (s, pm) = srv
        .call(
            opsdeck_testkit::Method::PUT,
            &format!("/api/v1/incidents/{id}/postmortem"),
            Some(&t),
            Some(json!({"summary": "Index rebuild filled the disk", "root_cause": "No disk alert",
                "lessons": "Alert at 80%"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{pm}");
    assert_eq!(pm["saved"], true);
    let (s, _) = srv
        .call(
            opsdeck_testkit::Method::PUT,
            &format!("/api/v1/incidents/{id}/postmortem"),
            Some(&t),
            Some(json!({"bogus": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let yesterday = (srv.now() - Duration::days(1)).date_naive().to_string();
    let (s, a) = srv
        .post(
            &format!("/api/v1/incidents/{id}/action-items"),
            &t,
            json!({"title": "Add disk alert", "due_date": yesterday}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!((a["status"].as_str(), a["overdue"].as_bool()), (Some("open"), Some(true)));
    let (s, _) =
        srv.post(&format!("/api/v1/incidents/{id}/action-items"), &t, json!({"title": "x", "due_date": "soon"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, open) = srv.get("/api/v1/action-items", &t).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 1);
    let aid = a["id"].as_str().unwrap();
    let (s, done) = srv.patch(&format!("/api/v1/action-items/{aid}"), &t, json!({"status": "done"})).await;
    assert_eq!((s, done["status"].as_str()), (StatusCode::OK, Some("done")));
    let (_, open) = srv.get("/api/v1/action-items", &t).await;
    assert!(open["items"].as_array().unwrap().is_empty(), "done items leave the open list");

    let resp =
        srv.http.get(format!("{}/api/v1/incidents/{id}/postmortem.md", srv.url)).bearer_auth(&t).send().await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/markdown"));
    let md = resp.text().await.unwrap();
    assert!(md.starts_with("# Postmortem: INC-"), "{md}");
    assert!(md.contains("Index rebuild filled the disk") && md.contains("- [x] Add disk alert"), "{md}");
}

async fn mttx_report_and_csv(srv: &TestServer) {
    let t = srv.token("r", Role::Responder).await;
    let m = srv.token("m", Role::Manager).await;
    let sid = service(srv, &m, "Billing").await;
    let start = (srv.now() - Duration::minutes(10)).to_rfc3339();
    let (_, inc) = srv
        .post(
            "/api/v1/incidents",
            &t,
            json!({"title": "Invoices late", "service_id": sid, "severity": "SEV2", "impact_start_at": start}),
        )
        .await;
    let id = inc["id"].as_str().unwrap().to_owned();
    srv.clock.advance(Duration::minutes(2));
    srv.post(&format!("/api/v1/incidents/{id}/acknowledge"), &t, json!({})).await;
    srv.clock.advance(Duration::minutes(28));
    srv.post(&format!("/api/v1/incidents/{id}/resolve"), &t, json!({})).await;

    let (s, r) = srv.get("/api/v1/reports/mttx", &t).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["incidents"], 1);
    assert_eq!(r["mttx"]["mttd"]["mean_seconds"], 600.0);
    assert_eq!(r["mttx"]["mtta"]["mean_seconds"], 120.0);
    assert_eq!(r["mttx"]["mttr_resolve_from_detect"]["mean_seconds"], 1800.0);
    assert_eq!(r["mttx"]["mttr_resolve_from_start"]["mean_seconds"], 2400.0);
    assert_eq!(r["by_service"][0]["label"], "Billing");
    assert!(r["by_severity"].as_array().unwrap().iter().any(|c| c["key"] == "SEV2" && c["count"] == 1));
    let (_, none) = srv.get("/api/v1/reports/mttx?severity=SEV1", &t).await;
    assert_eq!(none["incidents"], 0);
    let (s, _) = srv.get("/api/v1/reports/mttx?from=yesterday", &t).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let resp = srv.http.get(format!("{}/api/v1/reports/mttx.csv", srv.url)).bearer_auth(&t).send().await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("number,title,service,severity"));
    assert!(lines[1].contains("Invoices late") && lines[1].ends_with(",600,120,1800,1800,2400"), "{}", lines[1]);
}

async fn monitor_transitions_raise_and_resolve_alerts(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let sid = service(srv, &t, "Shop").await;
    // A TCP monitor on a port nothing listens on goes down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (s, mon) = srv
        .post(
            "/api/v1/monitors",
            &t,
            json!({"name": "shop tcp", "service_id": sid, "type": "tcp", "interval_seconds": 30,
            "settings": {"host": "127.0.0.1", "port": port}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{mon}");
    let mid = mon["id"].as_str().unwrap();
    for _ in 0..4 {
        srv.clock.advance(Duration::seconds(31));
        srv.run_checks().await;
    }
    let (_, m) = srv.get(&format!("/api/v1/monitors/{mid}"), &t).await;
    assert_eq!(m["state"], "down", "{m}");
    let al = alerts(srv, &t, &format!("q=monitor:{mid}")).await;
    assert_eq!(al.len(), 1, "a down monitor raises one alert keyed monitor:{{id}}");
    assert_eq!((al[0]["source_type"].as_str(), al[0]["severity"].as_str()), (Some("monitor"), Some("critical")));
    let inc = incidents(srv, &t, &format!("service_id={sid}")).await;
    assert_eq!((inc.len(), inc[0]["source"].as_str()), (1, Some("monitor")));

    // Start listening: the monitor comes back up, the alert and the incident resolve.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let accept = tokio::spawn(async move {
        loop {
            let _ = listener.accept().await;
        }
    });
    for _ in 0..3 {
        srv.clock.advance(Duration::seconds(31));
        srv.run_checks().await;
    }
    let (_, m) = srv.get(&format!("/api/v1/monitors/{mid}"), &t).await;
    assert_eq!(m["state"], "up", "{m}");
    assert_eq!(alerts(srv, &t, &format!("q=monitor:{mid}")).await[0]["status"], "resolved");
    assert_eq!(incidents(srv, &t, &format!("service_id={sid}")).await[0]["status"], "resolved");
    accept.abort();
}

async fn change_events_join_the_timeline(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let sid = service(srv, &t, "Orders").await;
    let key = integration(srv, &t, &sid, "pagerduty").await["key"].as_str().unwrap().to_owned();
    let change = json!({"routing_key": key, "payload": {"summary": "Deployed orders v42", "source": "ci",
        "timestamp": srv.now().to_rfc3339()}, "links": [{"href": "https://ci.example.com/42", "text": "build"}]});
    let (s, b) = srv.post_raw("/v2/change/enqueue", change.to_string(), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let (s, _) = srv.post_raw("/v2/change/enqueue", json!({"routing_key": key, "payload": {}}).to_string(), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    srv.clock.advance(Duration::minutes(5));
    srv.post_raw("/v2/enqueue", pd(&key, "trigger", Some("orders-5xx"), "Orders 5xx", "error"), None).await;
    let inc = incidents(srv, &t, "").await;
    let (_, tl) = srv.get(&format!("/api/v1/incidents/{}/timeline", inc[0]["id"].as_str().unwrap()), &t).await;
    let items = tl["items"].as_array().unwrap();
    assert_eq!(items[0]["kind"], "change", "the deploy before the incident leads the timeline: {tl}");
    assert!(items[0]["body"].as_str().unwrap().contains("Deployed orders v42"));
}

async fn integration_keys_rotate_and_roles(srv: &TestServer) {
    let m = srv.token("m", Role::Manager).await;
    let r = srv.token("r", Role::Responder).await;
    let sid = service(srv, &m, "Auth").await;
    let (s, _) = srv.post(&format!("/api/v1/services/{sid}/integrations"), &r, json!({"type": "pagerduty"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "responders cannot add integrations");
    let it = integration(srv, &m, &sid, "pagerduty").await;
    let id = it["id"].as_str().unwrap();
    let old = it["key"].as_str().unwrap().to_owned();
    let (_, list) = srv.get(&format!("/api/v1/services/{sid}/integrations"), &r).await;
    let listed = &list["items"][0];
    assert!(listed.get("key").is_none(), "the key is shown only once");
    assert_eq!(listed["key_hint"].as_str().unwrap(), &old[..6]);

    let (s, rot) = srv.post(&format!("/api/v1/integrations/{id}/rotate"), &m, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let new = rot["key"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let (s, _) = srv.post_raw("/v2/enqueue", pd(&old, "trigger", Some("a"), "s", "info"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a rotated key stops working at once");
    let (s, _) = srv.post_raw("/v2/enqueue", pd(&new, "trigger", Some("a"), "s", "info"), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = srv.delete(&format!("/api/v1/integrations/{id}"), &m).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = srv.post_raw("/v2/enqueue", pd(&new, "trigger", Some("a"), "s", "info"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The alert outlives its integration.
    assert_eq!(alerts(srv, &m, "q=a").await.len(), 1);
}

async fn timeline_text(srv: &TestServer, t: &str, id: &str) -> String {
    let (_, tl) = srv.get(&format!("/api/v1/incidents/{id}/timeline"), t).await;
    tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].as_str().unwrap_or("").to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Less noise, on the fake clock: an alert firing again soon after its incident resolved reopens
/// it; resolving again soon after is flapping and holds the incident open until it stays quiet;
/// a best-effort service never opens a SEV1; whoever acknowledges becomes the assignee.
async fn repeats_reopen_and_flapping_holds(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let r = srv.user("rita", Role::Responder).await;
    let rt = srv.token_for(&r, None).await;
    let (s, svc) = srv.post("/api/v1/services", &t, json!({"name": "Batch jobs", "tier": 4})).await;
    assert_eq!(s, StatusCode::CREATED, "{svc}");
    let sid = svc["id"].as_str().unwrap().to_owned();
    let key = integration(srv, &t, &sid, "pagerduty").await["key"].as_str().unwrap().to_owned();
    let send = |action: &'static str| {
        let body = pd(&key, action, Some("nightly-export"), "Nightly export failed", "critical");
        async move { assert_eq!(srv.post_raw("/v2/enqueue", body, None).await.0, StatusCode::ACCEPTED) }
    };
    let only = |list: Vec<Value>| {
        assert_eq!(list.len(), 1, "one incident: {list:?}");
        list[0].clone()
    };

    send("trigger").await;
    let first = only(incidents(srv, &t, &format!("service_id={sid}")).await);
    assert_eq!(first["severity"], "SEV3", "tier 4 caps a critical alert at SEV3: {first}");
    let id = first["id"].as_str().unwrap().to_owned();
    send("resolve").await;
    assert_eq!(only(incidents(srv, &t, &format!("service_id={sid}")).await)["status"], "resolved");

    // Fires again 2 minutes later: the same incident reopens.
    srv.clock.advance(Duration::minutes(2));
    send("trigger").await;
    let again = only(incidents(srv, &t, &format!("service_id={sid}")).await);
    assert_eq!((again["id"].as_str(), again["status"].as_str()), (Some(id.as_str()), Some("triggered")));
    assert!(timeline_text(srv, &t, &id).await.contains("Reopened: Nightly export failed fired again 2 min after"));

    // Resolves again a minute later: flapping, held open; firing again joins it without a new one.
    srv.clock.advance(Duration::minutes(1));
    send("resolve").await;
    let held = only(incidents(srv, &t, &format!("service_id={sid}")).await);
    assert_eq!(held["status"], "triggered", "{held}");
    assert!(timeline_text(srv, &t, &id).await.contains("Flapping"));
    srv.clock.advance(Duration::minutes(1));
    send("trigger").await;
    send("resolve").await;
    assert_eq!(only(incidents(srv, &t, &format!("service_id={sid}")).await)["status"], "triggered");

    // Quiet for the window: the sweep resolves it.
    srv.clock.advance(Duration::minutes(9));
    srv.pipeline.sweep().await.unwrap();
    assert_eq!(only(incidents(srv, &t, &format!("service_id={sid}")).await)["status"], "triggered", "not yet");
    srv.clock.advance(Duration::minutes(2));
    srv.pipeline.sweep().await.unwrap();
    let (_, i) = srv.get(&format!("/api/v1/incidents/{id}"), &t).await;
    assert_eq!(i["status"], "resolved", "{i}");
    assert!(timeline_text(srv, &t, &id).await.contains("no alert fired again"));

    // After the window a repeat is a new incident; acknowledging it makes rita the assignee.
    srv.clock.advance(Duration::minutes(11));
    send("trigger").await;
    let list = incidents(srv, &t, &format!("service_id={sid}&status=triggered")).await;
    let new_id = only(list)["id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id);
    let (s, acked) = srv.post(&format!("/api/v1/incidents/{new_id}/acknowledge"), &rt, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{acked}");
    let (_, i) = srv.get(&format!("/api/v1/incidents/{new_id}"), &t).await;
    assert_eq!(i["assignee"], "rita", "{i}");

    // The window is a setting: 0 turns reopening off, out of range is refused by name.
    let path = format!("/api/v1/services/{sid}/alert-settings");
    let put = |body: Value| srv.call(opsdeck_testkit::Method::PUT, &path, Some(&t), Some(body));
    let (s, e) = put(json!({"grouping": "time", "group_window_seconds": 0, "auto_resolve": true,
        "reopen_window_seconds": -1, "rules": []}))
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.to_string().contains("reopen_window_seconds"), "{e}");
    let (s, set) = put(json!({"grouping": "time", "group_window_seconds": 0, "auto_resolve": true,
        "reopen_window_seconds": 0, "rules": []}))
    .await;
    assert_eq!((s, set["reopen_window_seconds"].as_i64()), (StatusCode::OK, Some(0)), "{set}");
    send("resolve").await;
    srv.clock.advance(Duration::minutes(1));
    send("trigger").await;
    assert_eq!(incidents(srv, &t, &format!("service_id={sid}")).await.len(), 3, "window 0: a new incident");
}
