//! Capacity forecasts from pushed points: a disk filling at a known rate is forecast to be full
//! within 10 % of the truth with a band around it, by both models; bad input is named; roles
//! hold; the pages show the chart and the verdict.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};

backend_tests!(series_forecast_time_to_exhaustion);

/// Hourly points over 14 days up to now: 400 GB growing 2 GB a day, with a ±3 GB daily wave.
fn disk(srv: &TestServer) -> Vec<Value> {
    let now = srv.now();
    (0..14 * 24)
        .map(|i| {
            let hours_ago = 14 * 24 - 1 - i;
            let t = now - Duration::hours(hours_ago);
            let days = -(hours_ago as f64) / 24.0;
            let wave = 3.0 * (2.0 * std::f64::consts::PI * (hours_ago % 24) as f64 / 24.0).sin();
            json!({"at": t.to_rfc3339(), "value": 400.0 + 2.0 * days + wave})
        })
        .collect()
}

async fn series_forecast_time_to_exhaustion(srv: &TestServer) {
    let r = srv.token("r", Role::Responder).await;
    let v = srv.token("v", Role::Viewer).await;
    let (s, pushed) = srv.post("/api/v1/series/disk_used_gb/points", &r, json!({"points": disk(srv)})).await;
    assert_eq!(s, StatusCode::OK, "{pushed}");
    assert_eq!((pushed["accepted"].as_u64(), pushed["series"]["points"].as_u64()), (Some(336), Some(336)));
    // The same time again replaces the value; nothing doubles.
    let last = disk(srv).pop().unwrap();
    let (s, again) = srv.post("/api/v1/series/disk_used_gb/points", &r, json!({"points": [last]})).await;
    assert_eq!((s, again["series"]["points"].as_u64()), (StatusCode::OK, Some(336)), "{again}");

    // Three days ago the disk briefly held 100 GB more: an anomaly, the only one.
    let mut spike = disk(srv)[14 * 24 - 1 - 72].clone();
    spike["value"] = json!(spike["value"].as_f64().unwrap() + 100.0);
    let (s, _) = srv.post("/api/v1/series/disk_used_gb/points", &r, json!({"points": [spike.clone()]})).await;
    assert_eq!(s, StatusCode::OK);

    // 400 GB now, 2 GB a day, 1,000 GB capacity: full in 300 days.
    let truth = 300.0 * 86_400.0;
    for method in ["linear", "holt"] {
        let (s, f) = srv
            .get(&format!("/api/v1/series/disk_used_gb/forecast?capacity=1000&method={method}&training_days=14"), &v)
            .await;
        assert_eq!(s, StatusCode::OK, "{f}");
        let tte = f["time_to_exhaustion_seconds"].as_f64().unwrap_or_else(|| panic!("{method}: {f}"));
        assert!((tte - truth).abs() / truth < 0.1, "{method}: {tte} against {truth}: {f}");
        let lower = f["lower"].as_f64().unwrap();
        assert!(lower <= tte, "{method}: {f}");
        if let Some(upper) = f["upper"].as_f64() {
            assert!(upper >= tte, "{method}: {f}");
        }
        assert_eq!(f["forecast"].as_array().unwrap().len(), 121);
        assert_eq!(f["training_points"], 336);
        let anomalies = f["anomalies"].as_array().unwrap();
        assert_eq!(anomalies.len(), 1, "{method}: {anomalies:?}");
        let a = &anomalies[0];
        assert!(a["value"].as_f64() > a["expected_high"].as_f64() && a["score"].as_f64().unwrap() > 3.5, "{a}");
        let at = |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
        // Judged by the hour it fell in.
        let apart = (at(&spike["at"]) - at(&a["at"])).num_seconds();
        assert!((0..3600).contains(&apart), "{a} {spike}");
        assert!((f["slope_per_day"].as_f64().unwrap() - 2.0).abs() < 0.3, "{method}: {f}");
    }
    // Without a capacity: the trend, no time to exhaustion.
    let (_, f) = srv.get("/api/v1/series/disk_used_gb/forecast", &v).await;
    assert!(f["time_to_exhaustion_seconds"].is_null() && f["capacity"].is_null(), "{f}");
    // A capacity it never reaches at this trend.
    let (_, f) = srv.get("/api/v1/series/disk_used_gb/forecast?capacity=1e9", &v).await;
    assert!(f["time_to_exhaustion_seconds"].is_null(), "{f}");

    // Bad input is named; readers cannot push.
    let now = srv.now();
    let point = |at: chrono::DateTime<chrono::Utc>| json!({"points": [{"at": at.to_rfc3339(), "value": 1.0}]});
    for (path, body, field) in [
        ("/api/v1/series/1bad/points", point(now), "name"),
        ("/api/v1/series/ok/points", json!({"points": []}), "points"),
        ("/api/v1/series/ok/points", point(now + Duration::days(3)), "points"),
        ("/api/v1/series/ok/points", json!({"points": [{"at": "yesterday", "value": 1.0}]}), "points"),
    ] {
        let (s, e) = srv.post(path, &r, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{path} {body}: {e}");
    }
    let (s, _) = srv.post("/api/v1/series/ok/points", &v, point(now)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (q, field) in
        [("method=arima", "method"), ("training_days=0", "training_days"), ("horizon_days=9999", "horizon_days")]
    {
        let (s, e) = srv.get(&format!("/api/v1/series/disk_used_gb/forecast?{q}"), &v).await;
        assert_eq!(
            (s, e["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{e}"
        );
    }
    let (s, e) = srv.get("/api/v1/series/nothing_here/forecast", &v).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("series_not_found")));
    // One point is not a trend.
    srv.post("/api/v1/series/lonely/points", &r, point(now)).await;
    let (s, e) = srv.get("/api/v1/series/lonely/forecast", &v).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("needs at least 2 points"), "{e}");

    // The pages.
    srv.user("viewer", Role::Viewer).await;
    let cookie = srv.login("viewer", "password-viewer").await.unwrap();
    let (s, html) = srv.page("/capacity", &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("series-table") && html.contains("disk_used_gb"), "{html}");
    let (s, html) = srv.page("/capacity/disk_used_gb?capacity=1000&training_days=14", &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("class=\"chart forecast\"") && html.contains("class=\"band\""), "{html}");
    assert!(
        html.contains("class=\"anomaly\"") && html.contains("<table class=\"table compact\" id=\"anomalies\">"),
        "{html}"
    );
    let title = html.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap_or_default();
    assert!(title.starts_with("disk_used_gb · Capacity"), "{title}");
    let days: f64 = html
        .split("Reaches 1000 in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the verdict: {html}"));
    assert!((days - 300.0).abs() < 30.0, "{days} days");
    let (s, _) = srv.page("/capacity/disk_used_gb?capacity=lots", &cookie).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Deleting is for managers.
    assert_eq!(srv.delete("/api/v1/series/disk_used_gb", &r).await.0, StatusCode::FORBIDDEN);
    let m = srv.token("m", Role::Manager).await;
    assert_eq!(srv.delete("/api/v1/series/disk_used_gb", &m).await.0, StatusCode::NO_CONTENT);
    let (_, list) = srv.get("/api/v1/series", &v).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}
