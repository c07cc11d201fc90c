//! A real Prometheus (Debian's package) scraping a local exporter whose gauge grows at a known
//! rate and whose request counters fail at a known share: the forecast's time until the gauge
//! reaches a capacity is within 10 % of the truth, and an SLO computed from two PromQL queries
//! finds the failing share, burns at the rate it implies and pages.

use crate::senders::{PROMETHEUS, Proc, free_port};
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, StatusCode, TestServer};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Grows by this much a second.
const RATE: f64 = 20.0;
const START: f64 = 1000.0;

/// Requests a second, and the share of them that fail.
const REQUESTS: f64 = 100.0;
const FAILING: f64 = 0.05;

/// An exporter whose `disk_used_bytes` is `START + RATE × seconds since it started`, and whose
/// `http_requests_total` counts `REQUESTS` a second, `FAILING` of them with code 500.
async fn exporter() -> (u16, tokio::task::JoinHandle<()>) {
    use axum::routing::get;
    let born = Instant::now();
    let app = axum::Router::new().route(
        "/metrics",
        get(move || async move {
            let t = born.elapsed().as_secs_f64();
            format!(
                "# TYPE disk_used_bytes gauge\ndisk_used_bytes {}\n# TYPE http_requests_total counter\n\
                 http_requests_total{{code=\"200\"}} {}\nhttp_requests_total{{code=\"500\"}} {}\n",
                START + RATE * t,
                REQUESTS * (1.0 - FAILING) * t,
                REQUESTS * FAILING * t
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (
        port,
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_feeds_a_forecast() {
    assert!(std::path::Path::new(PROMETHEUS).exists(), "{PROMETHEUS} is missing: scripts/test.sh installs it");
    let srv = TestServer::start(Backend::Sqlite).await;
    let m = srv.token("m", Role::Manager).await;
    let (port, task) = exporter().await;
    let prom_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: disk\n    static_configs:\n      \
             - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let _prom = Proc(
        Command::new(PROMETHEUS)
            .args([
                &format!("--config.file={d}/prometheus.yml"),
                &format!("--storage.tsdb.path={d}/prom"),
                &format!("--web.listen-address=127.0.0.1:{prom_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let url = format!("http://127.0.0.1:{prom_port}");
    let (s, series) = srv
        .put(
            "/api/v1/series/disk_used_bytes/source",
            &m,
            json!({"prometheus_url": url, "query": "max(disk_used_bytes)"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{series}");
    assert_eq!(series["source"]["query"], "max(disk_used_bytes)");

    // Wait (polling the real peer, no fixed sleep) until Prometheus holds a dozen scrapes; the
    // forecast's clock follows the wall clock, as Prometheus' samples do.
    let deadline = Instant::now() + Duration::from_secs(60);
    let f = loop {
        srv.clock.advance(chrono::Utc::now() - srv.now());
        // Capacity: an hour of growth above the value now (known from the exporter's rule).
        let (s, f) = srv.get("/api/v1/series/disk_used_bytes/forecast?training_hours=1&capacity=1e12", &m).await;
        if s == StatusCode::OK && f["training_points"].as_u64().unwrap_or(0) >= 12 {
            break f;
        }
        assert!(Instant::now() < deadline, "Prometheus never held a dozen points: {s} {f}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let now_value = f["value_now"].as_f64().unwrap();
    assert!((f["slope_per_day"].as_f64().unwrap() / 86_400.0 - RATE).abs() / RATE < 0.05, "{f}");
    let capacity = now_value + RATE * 3600.0;
    let (s, f) =
        srv.get(&format!("/api/v1/series/disk_used_bytes/forecast?training_hours=1&capacity={capacity}"), &m).await;
    assert_eq!(s, StatusCode::OK, "{f}");
    let tte = f["time_to_exhaustion_seconds"].as_f64().unwrap();
    assert!((tte - 3600.0).abs() / 3600.0 < 0.1, "an hour, within 10 %: {tte} {f}");
    assert!(f["lower"].as_f64().unwrap() <= tte, "{f}");

    // An SLO on two PromQL queries: 5 % of requests fail against a 99 % target, a 5× burn in
    // every span Prometheus has data for.
    let (svc_status, svc) = srv.post("/api/v1/services", &m, json!({"name": "Web", "slug": "web"})).await;
    assert_eq!(svc_status, StatusCode::CREATED, "{svc}");
    let sli = json!({"type": "prometheus", "prometheus_url": url,
                     "bad_query": "sum(rate(http_requests_total{code=\"500\"}[{{.window}}]))",
                     "total_query": "sum(rate(http_requests_total[{{.window}}]))"});
    let (s, slo) = srv
        .post(
            "/api/v1/slos",
            &m,
            json!({"name": "Web requests", "service_id": svc["id"], "target": 0.99, "sli": sli,
                   "window": {"rolling_days": 28}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{slo}");
    assert_eq!(slo["sli"], sli);
    let sli_value = slo["sli_value"].as_f64().expect("Prometheus answers");
    assert!((sli_value - (1.0 - FAILING)).abs() < 0.005, "{slo}");
    assert!((slo["burn_rates"]["5m"].as_f64().unwrap() - 5.0).abs() < 0.5, "{slo}");
    assert!((slo["error_budget_remaining"].as_f64().unwrap() + 4.0).abs() < 0.5, "{slo}");
    // 5× fires the 3×-over-1 d ticket and the 1×-over-3 d one, not a page (6× and up).
    let alerts = slo["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty() && alerts.iter().all(|a| a["urgency"] == "ticket"), "{slo}");
    assert_eq!(srv.run_slo_evaluator().await, 1, "{slo}");
    srv.pipeline.drain_monitor_alerts().await.unwrap();
    let (_, raised) = srv.get(&format!("/api/v1/alerts?service_id={}", svc["id"].as_str().unwrap()), &m).await;
    let a = raised["items"].as_array().unwrap().iter().find(|a| a["source_type"] == "slo").cloned();
    assert_eq!(a.map(|a| a["severity"].clone()), Some(json!("warning")), "{raised}");
    // A query Prometheus refuses: the SLO knows nothing, says why, and its alert stays.
    let mut broken = slo.clone();
    broken["sli"]["total_query"] = json!("sum(rate(http_requests_total[{{.window}}])");
    let body = json!({"name": "Web requests", "service_id": svc["id"], "target": 0.99, "sli": broken["sli"],
                      "window": {"rolling_days": 28}});
    let (s, b) = srv.put(&format!("/api/v1/slos/{}", slo["id"].as_str().unwrap()), &m, body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["sli_value"].is_null(), "{b}");
    assert!(b["source_error"].as_str().unwrap().contains("Prometheus refused the query"), "{b}");
    assert_eq!(srv.run_slo_evaluator().await, 0, "no data moves no alert");

    // A query Prometheus refuses is named; one that gives several series is refused.
    srv.put("/api/v1/series/broken/source", &m, json!({"prometheus_url": url, "query": "sum(("})).await;
    let (s, e) = srv.get("/api/v1/series/broken/forecast?training_hours=1", &m).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("Prometheus refused the query"), "{e}");
    // Responders may not make the server call out.
    let r = srv.token("r", Role::Responder).await;
    let (s, _) = srv.put("/api/v1/series/x/source", &r, json!({"prometheus_url": url, "query": "up"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    task.abort();
}
