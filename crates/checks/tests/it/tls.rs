use crate::peers::{self, DAY, TestCa, now_unix, probe};
use opsdeck_core::monitor::{CheckStatus, MonitorType::Tls};
use serde_json::json;
use std::net::SocketAddr;

fn check(addr: SocketAddr, name: &str) -> serde_json::Value {
    json!({"host": "127.0.0.1", "port": addr.port(), "server_name": name, "warn_days": 21, "critical_days": 7})
}

#[tokio::test]
async fn a_trusted_certificate_far_from_expiry_is_up() {
    let ca = TestCa::new();
    let now = now_unix();
    // An hour of slack so the whole-day count is exact.
    let addr = peers::https_server(&ca.leaf("localhost", now - DAY, now + 83 * DAY + 3600)).await;
    let o = probe(&ca.prober(), Tls, check(addr, "localhost")).await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    assert!(o.reason.starts_with("valid for 83 days (until "), "{}", o.reason);
    assert_eq!(o.details["days_left"], 83);
    assert_eq!(o.details["chain_valid"], true);
    assert_eq!(o.details["verify_error"], serde_json::Value::Null);
    assert_eq!(o.details["subject"], "CN=localhost");
    assert_eq!(o.details["issuer"], "CN=Opsdeck Test CA");
    assert!(o.latency_ms.is_some());
}

#[tokio::test]
async fn an_expired_certificate_is_down_with_negative_days() {
    let ca = TestCa::new();
    let now = now_unix();
    let addr = peers::https_server(&ca.leaf("localhost", now - 400 * DAY, now - 3 * DAY - 3600)).await;
    let o = probe(&ca.prober(), Tls, check(addr, "localhost")).await;
    assert_eq!(o.status, CheckStatus::Down);
    assert!(o.reason.starts_with("certificate expired on "), "{}", o.reason);
    assert!(o.reason.ends_with("(3 days ago)"), "{}", o.reason);
    assert_eq!(o.details["days_left"], -4);
    assert_eq!(o.details["chain_valid"], false);
    assert!(o.details["verify_error"].as_str().is_some_and(|e| e.contains("expired")), "{}", o.details);
}

#[tokio::test]
async fn expiry_within_warn_days_is_degraded_and_within_critical_days_down() {
    let ca = TestCa::new();
    let now = now_unix();
    let soon = peers::https_server(&ca.leaf("localhost", now - DAY, now + 10 * DAY + 3600)).await;
    let o = probe(&ca.prober(), Tls, check(soon, "localhost")).await;
    assert_eq!(o.status, CheckStatus::Degraded, "{o:?}");
    assert!(o.reason.starts_with("certificate expires in 10 days (on "), "{}", o.reason);
    assert_eq!(o.details["days_left"], 10);

    let very_soon = peers::https_server(&ca.leaf("localhost", now - DAY, now + 5 * DAY + 3600)).await;
    let o = probe(&ca.prober(), Tls, check(very_soon, "localhost")).await;
    assert_eq!(o.status, CheckStatus::Down, "{o:?}");
    assert!(o.reason.starts_with("certificate expires in 5 days"), "{}", o.reason);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_down_naming_both() {
    let ca = TestCa::new();
    let now = now_unix();
    let addr = peers::https_server(&ca.leaf("other.example", now - DAY, now + 90 * DAY)).await;
    let o = probe(&ca.prober(), Tls, check(addr, "localhost")).await;
    assert_eq!(o.status, CheckStatus::Down);
    assert_eq!(o.reason, "hostname mismatch: certificate is for other.example, not localhost");
    assert_eq!(o.details["chain_valid"], false);
    assert_eq!(o.details["days_left"], 89);
}

#[tokio::test]
async fn a_self_signed_certificate_is_down_and_still_inspected() {
    let addr = peers::https_server(&peers::self_signed("other.example")).await;
    let o = probe(&peers::prober(), Tls, check(addr, "localhost")).await;
    assert_eq!(o.status, CheckStatus::Down);
    // Both problems, although webpki stops at the first one it finds.
    assert_eq!(
        o.reason,
        "hostname mismatch: certificate is for other.example, not localhost; \
         unknown issuer: the certificate is self-signed"
    );
    assert_eq!(o.details["days_left"], 364);
    assert_eq!(o.details["subject"], o.details["issuer"]);
}

#[tokio::test]
async fn server_name_defaults_to_the_host() {
    let ca = TestCa::new();
    let now = now_unix();
    let addr = peers::https_server(&ca.leaf("127.0.0.1", now - DAY, now + 90 * DAY)).await;
    let o = probe(&ca.prober(), Tls, json!({"host": "127.0.0.1", "port": addr.port()})).await;
    assert_eq!(o.status, CheckStatus::Up, "an IP address is matched against IP SANs: {o:?}");
}

#[tokio::test]
async fn a_peer_that_does_not_speak_tls_or_listen_is_down() {
    let (plain, _) = peers::http_server().await;
    let o = probe(&peers::prober(), Tls, check(plain, "localhost")).await;
    assert_eq!(o.status, CheckStatus::Down);
    assert!(o.reason.starts_with("TLS handshake failed: the answer is not TLS"), "{}", o.reason);

    let port = peers::dead_port().await;
    let o = probe(&peers::prober(), Tls, json!({"host": "127.0.0.1", "port": port})).await;
    assert_eq!((o.status, o.reason), (CheckStatus::Down, format!("127.0.0.1:{port}: connection refused")));
}
