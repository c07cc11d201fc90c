//! Alerts from series forecasts: a disk forecast to fill within the warning raises a warning on
//! its service with the forecast in the details and resolves when the warning is shortened; the
//! newest hour far outside its usual range raises an anomaly alert; bad settings are named;
//! only managers set them; deleting the series resolves what it raised.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};

backend_tests!(series_forecasts_alert);

/// Hourly points over 14 days up to now: 400 growing 24 a day (1 an hour), with a daily wave
/// of ±3; `spike` is added to the newest hour.
fn points(srv: &TestServer, spike: f64) -> Vec<Value> {
    let now = srv.now();
    (0..14 * 24)
        .map(|i| {
            let hours_ago = 14 * 24 - 1 - i;
            let wave = 3.0 * (2.0 * std::f64::consts::PI * (hours_ago % 24) as f64 / 24.0).sin();
            let extra = if hours_ago == 0 { spike } else { 0.0 };
            let value = 400.0 - hours_ago as f64 + wave + extra;
            json!({"at": (now - Duration::hours(hours_ago)).to_rfc3339(), "value": value})
        })
        .collect()
}

async fn alerts_on(srv: &TestServer, token: &str, svc: &str) -> Vec<Value> {
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    let (_, a) = srv.get(&format!("/api/v1/alerts?service_id={svc}"), token).await;
    a["items"].as_array().unwrap().iter().filter(|a| a["source_type"] == "series").cloned().collect()
}

async fn series_forecasts_alert(srv: &TestServer) {
    let m = srv.token("m", Role::Manager).await;
    let r = srv.token("r", Role::Responder).await;
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Storage", "slug": "storage"})).await;
    let svc = svc["id"].as_str().unwrap().to_owned();
    let (s, _) = srv.post("/api/v1/series/disk_used_gb/points", &r, json!({"points": points(srv, 0.0)})).await;
    assert_eq!(s, StatusCode::OK);

    // Full at 520: five days away at 24 a day; warn within a week.
    let path = "/api/v1/series/disk_used_gb/alert";
    let body = json!({"service_id": svc, "capacity": 520.0, "within_days": 7});
    let (s, series) = srv.put(path, &m, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{series}");
    assert_eq!(series["alert"]["within_days"], 7);
    assert_eq!(srv.run_series_watch().await, 1);
    assert_eq!(srv.run_series_watch().await, 0, "raised once");
    let raised = alerts_on(srv, &m, &svc).await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    let a = &raised[0];
    assert_eq!((a["severity"].as_str(), a["status"].as_str()), (Some("warning"), Some("firing")), "{a}");
    assert!(a["summary"].as_str().unwrap().contains("disk_used_gb reaches 520 in about 5 days"), "{a}");
    let (_, full) = srv.get(&format!("/api/v1/alerts/{}", a["id"].as_str().unwrap()), &m).await;
    let tte = full["details"]["time_to_exhaustion_seconds"].as_f64().unwrap_or_else(|| panic!("{full}"));
    assert!((tte / 86_400.0 - 5.0).abs() < 0.5, "{full}");
    let (_, shown) = srv.get("/api/v1/series/disk_used_gb", &m).await;
    assert_eq!(shown["alerting"], json!(["exhaustion"]));

    // A two-day warning: five days away no longer alerts, and the alert resolves.
    let (s, _) = srv.put(path, &m, json!({"service_id": svc, "capacity": 520.0, "within_days": 2})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(srv.run_series_watch().await, 1);
    assert_eq!(alerts_on(srv, &m, &svc).await[0]["status"], "resolved");

    // The newest hour 200 above the rest: an anomaly alert with the range it expected.
    let (s, _) = srv.post("/api/v1/series/disk_used_gb/points", &r, json!({"points": points(srv, 200.0)})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = srv.put(path, &m, json!({"service_id": svc, "anomalies": true})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(srv.run_series_watch().await, 1);
    let anomaly = alerts_on(srv, &m, &svc).await.into_iter().find(|a| a["status"] == "firing").unwrap();
    assert!(anomaly["summary"].as_str().unwrap().contains("outside the"), "{anomaly}");
    let (_, full) = srv.get(&format!("/api/v1/alerts/{}", anomaly["id"].as_str().unwrap()), &m).await;
    assert!(full["details"]["expected_high"].as_f64().unwrap() < full["details"]["value"].as_f64().unwrap());

    // Bad settings are named; responders may not set them; deleting resolves what fires.
    for (b, field) in [
        (json!({"service_id": svc}), "capacity"),
        (json!({"service_id": svc, "capacity": 5.0}), "within_days"),
        (json!({"service_id": svc, "capacity": 5.0, "within_days": 0}), "within_days"),
        (json!({"service_id": uuid::Uuid::now_v7(), "anomalies": true}), "service_id"),
    ] {
        let (s, e) = srv.put(path, &m, b.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{b}: {e}");
    }
    assert_eq!(srv.put(path, &r, body).await.0, StatusCode::FORBIDDEN);
    let (s, e) = srv.put("/api/v1/series/nope/alert", &m, json!({"service_id": svc, "anomalies": true})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, _) = srv.delete("/api/v1/series/disk_used_gb", &m).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(alerts_on(srv, &m, &svc).await.iter().all(|a| a["status"] == "resolved"));

    // The series page shows the settings, and a manager's form.
    srv.post("/api/v1/series/load/points", &r, json!({"points": points(srv, 0.0)})).await;
    srv.put("/api/v1/series/load/alert", &m, json!({"service_id": svc, "capacity": 520.0, "within_days": 7})).await;
    srv.user("pm", Role::Manager).await;
    let cookie = srv.login("pm", "password-pm").await.unwrap();
    let (s, html) = srv.page("/capacity/load", &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("series-alert") && html.contains("Alerts <strong>Storage</strong>"), "{html}");
    assert!(html.contains("id=\"alert-form\""), "{html}");
}
