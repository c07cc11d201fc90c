use crate::peers::{self, TIMEOUT};
use opsdeck_core::monitor::{CheckStatus, MonitorType};
use serde_json::json;
use std::sync::Arc;

/// The scheduler shares one prober between spawned tasks; checks of every kind run at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_prober_serves_concurrent_checks_from_spawned_tasks() {
    let (addr, _) = peers::http_server().await;
    let p = Arc::new(peers::prober());
    let mut checks = vec![
        (MonitorType::Heartbeat, json!({"schedule": {"period_seconds": 60}})),
        (MonitorType::Tcp, json!({"host": "127.0.0.1", "port": addr.port()})),
    ];
    for _ in 0..8 {
        checks.push((MonitorType::Http, json!({"url": format!("http://{addr}/health")})));
    }
    let tasks: Vec<_> = checks
        .into_iter()
        .map(|(kind, v)| {
            let p = p.clone();
            let settings = peers::settings(kind, v);
            tokio::spawn(async move { (kind, p.probe(&settings, TIMEOUT).await) })
        })
        .collect();
    for t in tasks {
        let (kind, o) = t.await.expect("the check task completes");
        match kind {
            // Passive: decided from pings, never probed.
            MonitorType::Heartbeat => {
                assert_eq!(
                    (o.status, o.reason.as_str()),
                    (CheckStatus::Unknown, "heartbeat monitors are evaluated from pings")
                )
            }
            _ => assert_eq!(o.status, CheckStatus::Up, "{kind}: {o:?}"),
        }
    }
}
