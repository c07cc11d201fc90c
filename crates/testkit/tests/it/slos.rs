//! SLOs on monitors: the SLI, error budget and burn rates computed from real checks (a target
//! this test serves, on the fake clock), no data shown as none, bad input named.

use crate::status_pages::watched_service;
use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::json;
use std::sync::atomic::Ordering;

backend_tests!(slos_measure_monitors);

async fn slos_measure_monitors(srv: &TestServer) {
    let m = srv.token("m", Role::Manager).await;
    let (svc, monitor, code) = watched_service(srv, &m, "Checkout").await;
    let body = json!({"name": "Checkout availability", "service_id": svc, "target": 0.99,
                      "sli": {"type": "availability", "monitor_ids": [monitor]}, "window": {"rolling_days": 28}});
    // Before any check: no data, neither good nor bad.
    let (s, slo) = srv.post("/api/v1/slos", &m, body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{slo}");
    assert!(slo["sli_value"].is_null() && slo["error_budget_remaining"].is_null(), "{slo}");
    assert_eq!(slo["total"].as_f64(), Some(0.0));
    let id = slo["id"].as_str().unwrap().to_owned();

    // Nine checks pass, then one fails (30 s apart).
    for i in 0..10 {
        if i == 9 {
            code.store(500, Ordering::SeqCst);
        }
        srv.clock.advance(Duration::seconds(31));
        assert_eq!(srv.run_checks().await, 1);
    }
    let v = srv.token("v", Role::Viewer).await;
    let (s, slo) = srv.get(&format!("/api/v1/slos/{id}"), &v).await;
    assert_eq!(s, StatusCode::OK, "{slo}");
    assert_eq!((slo["good"].as_f64(), slo["total"].as_f64()), (Some(9.0), Some(10.0)), "{slo}");
    assert!((slo["sli_value"].as_f64().unwrap() - 0.9).abs() < 1e-9);
    // 10 % bad against a 1 % budget: spent ten times over.
    assert!((slo["error_budget_remaining"].as_f64().unwrap() + 9.0).abs() < 1e-9, "{slo}");
    assert!((slo["burn_rates"]["1h"].as_f64().unwrap() - 10.0).abs() < 1e-9, "{slo}");
    // The last 5 minutes hold the failed check and nine others at most: burning too.
    assert!(slo["burn_rates"]["5m"].as_f64().unwrap() > 9.99, "{slo}");
    let alerts = slo["alerts"].as_array().unwrap();
    assert!(alerts.iter().any(|a| a["urgency"] == "page" && a["long_window"] == "6h" && a["short_window"] == "30m"));
    assert!(!alerts.iter().any(|a| a["long_window"] == "1h"), "10× is under the 14.4× page: {slo}");
    // The service's page shows it, burning.
    srv.user("mgr", Role::Manager).await;
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let (_, svc_page) = srv.get(&format!("/api/v1/services/{svc}"), &v).await;
    let (_, html) = srv.page(&format!("/services/{}", svc_page["slug"].as_str().unwrap()), &cookie).await;
    assert!(
        html.contains("service-slos") && html.contains("99\u{a0}% over 28 days") && html.contains("90\u{a0}%"),
        "{html}"
    );
    assert!(html.contains("overspent") && html.contains("burning fast: page: 6× over 6h and 30m"), "{html}");

    // Its own page: budget, burn-down chart, burn rates, the firing rule.
    let (s, html) = srv.page(&format!("/slos/{id}"), &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(r#"class="chart burn""#) && html.contains("<polyline class=\"budget\""), "{html}");
    assert!(html.contains("Page: burning 6× or faster over 6h and over 30m"), "{html}");
    assert!(html.contains(&format!("/slos/{id}")) || html.contains("slo-rates"), "{html}");

    // The SLO evaluator raises the burn-rate alert on the service, once.
    assert_eq!(srv.run_slo_evaluator().await, 1);
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    let slo_alert = |alerts: &serde_json::Value| {
        alerts["items"].as_array().unwrap().iter().find(|a| a["source_type"] == "slo").cloned()
    };
    let (_, alerts) = srv.get(&format!("/api/v1/alerts?service_id={svc}"), &v).await;
    let a = slo_alert(&alerts).unwrap_or_else(|| panic!("an SLO alert: {alerts}"));
    assert_eq!((a["severity"].as_str(), a["status"].as_str()), (Some("critical"), Some("firing")), "{a}");
    assert!(a["summary"].as_str().unwrap().contains("Checkout availability"), "{a}");
    assert_eq!(a["dedup_key"], format!("slo:{}", id.replace('-', "")));
    srv.clock.advance(Duration::seconds(61));
    assert_eq!(srv.run_slo_evaluator().await, 0);
    assert!(srv.db.pending_slo_alerts(10).await.unwrap().is_empty(), "no change, nothing queued");
    // Recovered: after 3 days of passing checks nothing burns any more and the alert resolves.
    code.store(200, Ordering::SeqCst);
    for _ in 0..3 {
        srv.clock.advance(Duration::days(1));
        srv.run_checks().await;
    }
    srv.clock.advance(Duration::seconds(31));
    srv.run_checks().await;
    assert_eq!(srv.run_slo_evaluator().await, 1);
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    let (_, alerts) = srv.get(&format!("/api/v1/alerts?service_id={svc}"), &v).await;
    assert_eq!(slo_alert(&alerts).unwrap()["status"], "resolved", "{alerts}");

    // All spans at once count as each span alone does.
    let now = srv.now();
    let mid: uuid::Uuid = monitor.parse().unwrap();
    let froms: Vec<_> = [Duration::days(28), Duration::days(3), Duration::hours(6), Duration::minutes(30)]
        .into_iter()
        .map(|d| now - d)
        .collect();
    use opsdeck_store::slo::CheckMeasure;
    for m in [
        CheckMeasure::Passed { exclude_maintenance: true },
        CheckMeasure::Passed { exclude_maintenance: false },
        CheckMeasure::Within { buckets: 16, threshold_ms: 10_000.0 },
        CheckMeasure::Within { buckets: 1, threshold_ms: 1.0 },
    ] {
        let all = srv.db.check_counts_spans(&[mid], &froms, now, m).await.unwrap();
        for (i, (from, got)) in froms.iter().zip(&all).enumerate() {
            // Latency over a window of days reads daily rows, where good is capped at the day's
            // passed checks rather than each hour's: equal only up to three days.
            if i == 0 && matches!(m, CheckMeasure::Within { .. }) {
                continue;
            }
            assert_eq!(*got, srv.db.check_counts(&[mid], *from, now, m).await.unwrap(), "{m:?} from {from}");
        }
        assert!(all[0].total > 0.0, "{all:?}");
    }
    // A latency SLO: every passing check of this local target answers within 10 s, so it says
    // what availability says (its failures are bad for latency too).
    let (s, fast) = srv
        .post(
            "/api/v1/slos",
            &m,
            json!({"name": "Checkout latency", "service_id": svc, "target": 0.99, "window": {"rolling_days": 28},
                   "sli": {"type": "latency", "monitor_ids": [monitor], "threshold_ms": 10000}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{fast}");
    assert_eq!(fast["sli"]["threshold_ms"], 10000.0);
    let (_, avail) = srv.get(&format!("/api/v1/slos/{id}"), &v).await;
    assert_eq!(fast["sli_value"], avail["sli_value"], "{fast} {avail}");
    assert!(fast["total"].as_u64().unwrap() > 0, "{fast}");
    let (s, e) = srv
        .post(
            "/api/v1/slos",
            &m,
            json!({"name": "x", "service_id": svc, "target": 0.99, "window": {"rolling_days": 28},
                   "sli": {"type": "latency", "monitor_ids": [monitor], "threshold_ms": 251}}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("sli.threshold_ms"))
    );
    let (_, list) = srv.get(&format!("/api/v1/slos?service_id={svc}"), &v).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "availability and latency");

    // Bad input names the field; viewers only read.
    let cases = [
        (json!({"target": 1.0}), "target"),
        (json!({"window": {"rolling_days": 28, "calendar_month": true}}), "window"),
        (json!({"window": {"calendar_month": true, "time_zone": "Mars/Base"}}), "window"),
        (json!({"sli": {"type": "availability", "monitor_ids": [uuid::Uuid::now_v7()]}}), "sli"),
        (json!({"sli": {"type": "availability", "monitor_ids": []}}), "sli"),
        (json!({"service_id": uuid::Uuid::now_v7()}), "service_id"),
        (json!({"name": " "}), "name"),
    ];
    for (patch, field) in cases {
        let mut b = body.clone();
        for (k, val) in patch.as_object().unwrap() {
            b[k] = val.clone();
        }
        let (s, e) = srv.post("/api/v1/slos", &m, b.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{b}: {e}");
    }
    assert_eq!(srv.post("/api/v1/slos", &v, body.clone()).await.0, StatusCode::FORBIDDEN);
    // A calendar month in a zone of its own.
    let mut monthly = body.clone();
    monthly["window"] = json!({"calendar_month": true, "time_zone": "Europe/Berlin"});
    let (s, slo) = srv.post("/api/v1/slos", &m, monthly).await;
    assert_eq!(s, StatusCode::CREATED, "{slo}");
    assert_eq!(slo["window"]["time_zone"], "Europe/Berlin");

    let (s, _) = srv.delete(&format!("/api/v1/slos/{id}"), &m).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, e) = srv.get(&format!("/api/v1/slos/{id}"), &v).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("slo_not_found")));
}

backend_tests!(slos_from_pushed_counts);

/// An events SLI: good/total counts pushed per minute make the SLI, the budget and the burn
/// rates; the evaluator pages on a fast burn and resolves once it stops; bad pushes are refused
/// whole.
async fn slos_from_pushed_counts(srv: &TestServer) {
    let m = srv.token("m", Role::Manager).await;
    let r = srv.token("r", Role::Responder).await;
    let v = srv.token("v", Role::Viewer).await;
    let (s, svc) = srv.post("/api/v1/services", &m, json!({"name": "Orders", "slug": "orders"})).await;
    assert_eq!(s, StatusCode::CREATED, "{svc}");
    let body = json!({"name": "Orders placed", "service_id": svc["id"], "target": 0.99,
                      "sli": {"type": "events"}, "window": {"rolling_days": 7}});
    let (s, slo) = srv.post("/api/v1/slos", &m, body).await;
    assert_eq!(s, StatusCode::CREATED, "{slo}");
    assert_eq!(slo["sli"], json!({"type": "events"}));
    assert!(slo["sli_value"].is_null(), "no counts yet: no data, {slo}");
    let id = slo["id"].as_str().unwrap().to_owned();
    let push = format!("/api/v1/slos/{id}/events");
    let at = |ago: Duration| (srv.now() - ago).to_rfc3339();

    // Three days ago all was well; in the last hour 20 % failed (a 20× burn).
    let (s, a) =
        srv.post(&push, &r, json!({"events": [{"at": at(Duration::days(3)), "good": 10_000, "total": 10_000}]})).await;
    assert_eq!((s, a["accepted"].as_u64()), (StatusCode::OK, Some(1)), "{a}");
    let recent: Vec<_> = (0..12)
        .map(|i| json!({"at": at(Duration::minutes(i * 5)), "good": 40, "total": 50}))
        .chain([json!({"at": at(Duration::minutes(2)), "good": 40, "total": 50})])
        .collect();
    let (s, a) = srv.post(&push, &r, json!({"events": recent})).await;
    assert_eq!((s, a["accepted"].as_u64()), (StatusCode::OK, Some(13)), "{a}");
    let (_, slo) = srv.get(&format!("/api/v1/slos/{id}"), &v).await;
    // 10,000 + 520 good of 10,000 + 650.
    assert_eq!((slo["good"].as_f64(), slo["total"].as_f64()), (Some(10_520.0), Some(10_650.0)), "{slo}");
    assert!((slo["burn_rates"]["1h"].as_f64().unwrap() - 20.0).abs() < 1e-9, "{slo}");
    assert!(slo["alerts"].as_array().unwrap().iter().any(|a| a["urgency"] == "page"), "{slo}");
    assert_eq!(srv.run_slo_evaluator().await, 1, "the page is raised");
    assert_eq!(srv.run_slo_evaluator().await, 0, "and raised once");

    // Refused whole, naming what to fix: good over total, the future, another kind of SLI,
    // a viewer.
    let before = srv.get(&format!("/api/v1/slos/{id}"), &v).await.1["total"].clone();
    for (entry, why) in [
        (json!({"at": at(Duration::zero()), "good": 5, "total": 4}), "good must not exceed total"),
        (json!({"at": (srv.now() + Duration::hours(1)).to_rfc3339(), "good": 1, "total": 1}), "not in the future"),
        (json!({"at": "yesterday", "good": 1, "total": 1}), "RFC 3339"),
    ] {
        let ok = json!({"at": at(Duration::zero()), "good": 1, "total": 1});
        let (s, e) = srv.post(&push, &r, json!({"events": [ok, entry]})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(why), "{why}: {e}");
    }
    assert_eq!(srv.get(&format!("/api/v1/slos/{id}"), &v).await.1["total"], before, "nothing half-written");
    let one = json!({"events": [{"at": at(Duration::zero()), "good": 1, "total": 1}]});
    assert_eq!(srv.post(&push, &v, one.clone()).await.0, StatusCode::FORBIDDEN);
    let (watched, monitor, _) = watched_service(srv, &m, "Payments").await;
    let (_, checks) = srv
        .post(
            "/api/v1/slos",
            &m,
            json!({"name": "Payments up", "service_id": watched, "target": 0.99,
                   "sli": {"type": "availability", "monitor_ids": [monitor]}, "window": {"rolling_days": 7}}),
        )
        .await;
    let (s, e) = srv.post(&format!("/api/v1/slos/{}/events", checks["id"].as_str().unwrap()), &r, one).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("sli")), "{e}");
    // Fields of another SLI type are refused, not ignored.
    let (s, e) = srv
        .post(
            "/api/v1/slos",
            &m,
            json!({"name": "x", "service_id": svc["id"], "target": 0.99, "window": {"rolling_days": 7},
                   "sli": {"type": "events", "monitor_ids": [monitor]}}),
        )
        .await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("sli")), "{e}");

    // Two hours on, the last hour is clean: the 1 h and 5 m windows no longer page.
    srv.clock.advance(Duration::hours(2));
    let clean: Vec<_> = (0..12).map(|i| json!({"at": at(Duration::minutes(i * 5)), "good": 50, "total": 50})).collect();
    srv.post(&push, &r, json!({"events": clean})).await;
    let (_, slo) = srv.get(&format!("/api/v1/slos/{id}"), &v).await;
    assert!(!slo["alerts"].as_array().unwrap().iter().any(|a| a["short_window"] == "5m"), "{slo}");
    // The SLO page says where its counts come from.
    srv.user("pm", Role::Manager).await;
    let cookie = srv.login("pm", "password-pm").await.unwrap();
    let (s, html) = srv.page(&format!("/slos/{id}"), &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(&format!("/api/v1/slos/{id}/events")) && html.contains("pushed events were good"), "{html}");

    // Deleted while it pages: its alert resolves.
    let (s, _) = srv.delete(&format!("/api/v1/slos/{id}"), &m).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    let (_, alerts) = srv.get(&format!("/api/v1/alerts?service_id={}", svc["id"].as_str().unwrap()), &m).await;
    let slo_alerts: Vec<_> = alerts["items"].as_array().unwrap().iter().filter(|a| a["source_type"] == "slo").collect();
    assert_eq!(slo_alerts.len(), 1, "{alerts}");
    assert_eq!(slo_alerts[0]["status"], "resolved", "{alerts}");
}
