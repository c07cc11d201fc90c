//! A forecast read from a real Prometheus (Debian's package) scraping a local exporter whose
//! gauge grows at a known rate: the time until it reaches a capacity is within 10 % of the truth.

use crate::senders::{PROMETHEUS, Proc, free_port};
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, StatusCode, TestServer};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Grows by this much a second.
const RATE: f64 = 20.0;
const START: f64 = 1000.0;

/// An exporter whose `disk_used_bytes` is `START + RATE × seconds since it started`.
async fn exporter() -> (u16, tokio::task::JoinHandle<()>) {
    use axum::routing::get;
    let born = Instant::now();
    let app = axum::Router::new().route(
        "/metrics",
        get(move || async move {
            format!("# TYPE disk_used_bytes gauge\ndisk_used_bytes {}\n", START + RATE * born.elapsed().as_secs_f64())
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
