use crate::peers::{self, probe};
use opsdeck_core::monitor::{CheckStatus, MonitorType::Tcp};
use serde_json::json;
use tokio::net::TcpListener;

#[tokio::test]
async fn an_open_port_is_up_and_a_closed_one_down() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let p = peers::prober();
    let o = probe(&p, Tcp, json!({"host": "127.0.0.1", "port": port})).await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    assert!(o.reason.starts_with(&format!("port {port} open (")), "{}", o.reason);
    assert_eq!(o.details["address"], format!("127.0.0.1:{port}"));
    assert!(o.latency_ms.is_some());

    drop(listener);
    let o = probe(&p, Tcp, json!({"host": "127.0.0.1", "port": port})).await;
    assert_eq!(
        (o.status, o.reason, o.latency_ms),
        (CheckStatus::Down, format!("127.0.0.1:{port}: connection refused"), None)
    );
}

#[tokio::test]
async fn host_names_are_resolved_and_unknown_ones_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let p = peers::prober();
    let o = probe(&p, Tcp, json!({"host": "localhost", "port": port})).await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    // .invalid never resolves (RFC 6761).
    let o = probe(&p, Tcp, json!({"host": "nothing.invalid", "port": port})).await;
    assert_eq!(o.status, CheckStatus::Down);
    assert!(o.reason.starts_with("cannot resolve nothing.invalid: "), "{}", o.reason);
}
