//! Real senders: Debian's Prometheus and Alertmanager, configured as users configure them,
//! deliver to Opsdeck through Alertmanager's `webhook_configs` and `pagerduty_configs` and
//! through Prometheus's own Alertmanager client (`/api/v2/alerts`).
//!
//! These processes run on real time, so the test polls (with a deadline) instead of stepping a
//! fake clock; Opsdeck's fake clock is moved to real time as it polls.

use opsdeck_core::clock::{Clock, SystemClock};
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub(crate) const PROMETHEUS: &str = "/usr/bin/prometheus";
const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A scrape target exposing `demo_up`, 0 or 1 as the test says.
async fn target(up: Arc<AtomicBool>) -> (u16, tokio::task::JoinHandle<()>) {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let up = up.clone();
            async move { format!("# TYPE demo_up gauge\ndemo_up {}\n", u8::from(up.load(Ordering::SeqCst))) }
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

async fn service_with(srv: &TestServer, t: &str, name: &str, kind: &str) -> (String, String) {
    let (_, svc) = srv.post("/api/v1/services", t, json!({"name": name})).await;
    let sid = svc["id"].as_str().unwrap().to_owned();
    let (s, it) = srv.post(&format!("/api/v1/services/{sid}/integrations"), t, json!({"type": kind})).await;
    assert_eq!(s, StatusCode::CREATED);
    (sid, it["key"].as_str().unwrap().to_owned())
}

/// Polls `check` (moving Opsdeck's clock to real time) until it holds or 60 s pass.
async fn eventually(srv: &TestServer, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        srv.clock.set(SystemClock.now());
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn incident_status(srv: &TestServer, t: &str, sid: &str) -> Option<String> {
    let (_, list) = srv.get(&format!("/api/v1/incidents?service_id={sid}"), t).await;
    list["items"].as_array().and_then(|a| a.first()).and_then(|i| i["status"].as_str()).map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_and_alertmanager_deliver_and_resolve() {
    for bin in [PROMETHEUS, ALERTMANAGER] {
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: install Debian's prometheus and prometheus-alertmanager (scripts/test.sh does)"
        );
    }
    let srv = TestServer::start(opsdeck_testkit::Backend::Sqlite).await;
    let t = srv.token("m", Role::Manager).await;
    let (webhook_sid, webhook_key) = service_with(&srv, &t, "Via webhook", "alertmanager").await;
    let (pd_sid, pd_key) = service_with(&srv, &t, "Via PagerDuty", "pagerduty").await;
    let (direct_sid, direct_key) = service_with(&srv, &t, "Prometheus direct", "alertmanager").await;

    let up = Arc::new(AtomicBool::new(false));
    let (target_port, target_task) = target(up.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let (am_port, prom_port) = (free_port(), free_port());
    let opsdeck = srv.url.trim_start_matches("http://").to_owned();

    std::fs::write(
        dir.path().join("alertmanager.yml"),
        format!(
            r#"route:
  receiver: webhook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: webhook
      continue: true
    - receiver: pagerduty
receivers:
  - name: webhook
    webhook_configs:
      - url: http://{opsdeck}/integrations/{webhook_key}/alertmanager
        send_resolved: true
  - name: pagerduty
    pagerduty_configs:
      - routing_key: {pd_key}
        url: http://{opsdeck}/v2/enqueue
        send_resolved: true
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        r#"groups:
  - name: demo
    rules:
      - alert: DemoDown
        expr: demo_up == 0
        labels:
          severity: critical
        annotations:
          summary: the demo target is down
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: ['127.0.0.1:{target_port}']
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:{am_port}']
    - static_configs:
        - targets: ['{opsdeck}']
      authorization:
        credentials: {direct_key}
"#
        ),
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let _am = Proc(
        Command::new(ALERTMANAGER)
            .args([
                &format!("--config.file={d}/alertmanager.yml"),
                &format!("--storage.path={d}/am"),
                &format!("--web.listen-address=127.0.0.1:{am_port}"),
                "--cluster.listen-address=",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager"),
    );
    let _prom = Proc(
        Command::new(PROMETHEUS)
            .args([
                &format!("--config.file={d}/prometheus.yml"),
                &format!("--storage.tsdb.path={d}/prom"),
                &format!("--web.listen-address=127.0.0.1:{prom_port}"),
                "--rules.alert.resend-delay=1s",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );

    // The rule fires: an incident opens on each of the three services.
    for sid in [&webhook_sid, &pd_sid, &direct_sid] {
        eventually(&srv, "the firing rule opens an incident", async || {
            incident_status(&srv, &t, sid).await.as_deref() == Some("triggered")
        })
        .await;
    }
    let (_, al) = srv.get(&format!("/api/v1/alerts?service_id={webhook_sid}"), &t).await;
    let a: &Value = &al["items"][0];
    assert_eq!((a["source_type"].as_str(), a["severity"].as_str()), (Some("alertmanager"), Some("critical")));
    assert!(a["summary"].as_str().unwrap().contains("the demo target is down"), "{a}");
    let (_, al) = srv.get(&format!("/api/v1/alerts?service_id={pd_sid}"), &t).await;
    assert_eq!(al["items"][0]["source_type"], "pagerduty");
    assert_eq!(al["items"][0]["dedup_key"].as_str().unwrap().len(), 64, "Alertmanager sends sha256(groupKey)");

    // The rule stops firing: alerts resolve and the incidents auto-resolve.
    up.store(true, Ordering::SeqCst);
    for sid in [&webhook_sid, &pd_sid, &direct_sid] {
        eventually(&srv, "the resolved rule resolves the incident", async || {
            incident_status(&srv, &t, sid).await.as_deref() == Some("resolved")
        })
        .await;
    }
    target_task.abort();
    srv.stop().await;
}
