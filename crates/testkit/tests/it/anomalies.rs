//! A monitor's latency anomalies: three weeks of hourly history with a weekday rhythm and one
//! slow hour; the API and the monitor page name that hour and nothing else. Watched, a slow hour
//! now raises a warning on the monitor's service, which resolves when the watch stops.

use chrono::{Datelike, Duration, Timelike};
use opsdeck_core::monitor::LatencyHistogram;
use opsdeck_core::role::Role;
use opsdeck_store::monitor::{HOUR, Rollup};
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::json;

backend_tests!(monitor_latency_anomalies);

async fn monitor_latency_anomalies(srv: &TestServer) {
    let m = srv.token("m", Role::Manager).await;
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Checkout"})).await;
    let (s, mon) = srv
        .post(
            "/api/v1/monitors",
            &m,
            json!({"name": "Checkout API", "type": "http", "paused": true, "service_id": svc["id"],
                   "settings": {"url": "http://127.0.0.1:9/"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{mon}");
    let id = mon["id"].as_str().unwrap().to_owned();
    let now = srv.now();
    let start = (now - Duration::days(21))
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap();
    let slow = start + Duration::days(17) + Duration::hours(3);
    let rows: Vec<Rollup> = (0..21 * 24)
        .map(|h| {
            let bucket = start + Duration::hours(h);
            let weekday = bucket.weekday().num_days_from_monday() < 5;
            let busy = weekday && (8..18).contains(&bucket.hour());
            // 60 checks an hour: 40 ms, 70 ms in busy hours, with a little wobble; 400 ms once.
            let mean = if bucket == slow {
                400.0
            } else if busy {
                70.0
            } else {
                40.0
            } + (h % 5) as f64 * 0.4;
            Rollup {
                bucket,
                total: 60,
                failures: 0,
                degraded: 0,
                maintenance: 0,
                maint_failures: 0,
                latency_sum: mean * 60.0,
                histogram: LatencyHistogram::default(),
            }
        })
        .collect();
    srv.db.backfill_rollups(uuid::Uuid::parse_str(&id).unwrap(), HOUR, &rows).await.unwrap();

    let v = srv.token("v", Role::Viewer).await;
    let (s, list) = srv.get(&format!("/api/v1/monitors/{id}/anomalies"), &v).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only the slow hour: {list}");
    let at = chrono::DateTime::parse_from_rfc3339(items[0]["at"].as_str().unwrap()).unwrap();
    assert_eq!(at, slow);
    assert!(items[0]["expected_high"].as_f64().unwrap() < 100.0, "{list}");
    let (s, e) = srv.get(&format!("/api/v1/monitors/{}/anomalies", uuid::Uuid::now_v7()), &v).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("monitor_not_found")));

    srv.user("viewer", Role::Viewer).await;
    let cookie = srv.login("viewer", "password-viewer").await.unwrap();
    let (s, html) = srv.page(&format!("/monitors/{id}"), &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("id=\"latency-anomalies\"") && html.contains(&slow.format("%Y-%m-%d %H:00 UTC").to_string()),
        "{html}"
    );

    // Watched: the old slow hour is past, so nothing fires; a slow hour now does, once.
    let path = format!("/api/v1/monitors/{id}/anomaly-alert");
    assert_eq!(srv.put(&path, &v, json!({})).await.0, StatusCode::FORBIDDEN);
    let (s, w) = srv.put(&path, &m, json!({})).await;
    assert_eq!((s, w["enabled"].as_bool()), (StatusCode::OK, Some(true)), "{w}");
    assert_eq!(srv.run_series_watch().await, 0);
    let this_hour = now.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap();
    let mut hot = rows[0].clone();
    hot.bucket = this_hour;
    hot.latency_sum = 400.0 * 60.0;
    srv.db.backfill_rollups(uuid::Uuid::parse_str(&id).unwrap(), HOUR, &[hot]).await.unwrap();
    assert_eq!(srv.run_series_watch().await, 1);
    assert_eq!(srv.run_series_watch().await, 0, "raised once");
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    let svc_id = svc["id"].as_str().unwrap();
    let anomaly_alerts = || async {
        let (_, a) = srv.get(&format!("/api/v1/alerts?service_id={svc_id}"), &m).await;
        a["items"].as_array().unwrap().iter().filter(|a| a["source_type"] == "anomaly").cloned().collect::<Vec<_>>()
    };
    let raised = anomaly_alerts().await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!((raised[0]["severity"].as_str(), raised[0]["status"].as_str()), (Some("warning"), Some("firing")));
    assert!(raised[0]["summary"].as_str().unwrap().contains("Checkout API: mean latency 400 ms"), "{raised:?}");
    let (_, w) = srv.get(&path, &v).await;
    assert_eq!(w["alerting_service_id"], svc["id"], "{w}");
    // Stopped while it fires: it resolves.
    let (s, w) = srv.delete(&path, &m).await;
    assert_eq!(s, StatusCode::OK, "{w}");
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    assert_eq!(anomaly_alerts().await[0]["status"], "resolved");
    // A monitor of no service has nowhere to alert.
    let (_, lone) = srv
        .post(
            "/api/v1/monitors",
            &m,
            json!({"name": "Lone", "type": "http", "paused": true, "settings": {"url": "http://127.0.0.1:9/"}}),
        )
        .await;
    let (s, e) =
        srv.put(&format!("/api/v1/monitors/{}/anomaly-alert", lone["id"].as_str().unwrap()), &m, json!({})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("service_id")));
}
