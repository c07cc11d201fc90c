use crate::peers::{self, probe};
use opsdeck_core::monitor::{CheckStatus, MonitorType::Icmp};
use serde_json::json;

#[tokio::test]
async fn loopback_answers_pings_or_the_reason_says_how_to_allow_them() {
    let o = probe(&peers::prober(), Icmp, json!({"host": "127.0.0.1"})).await;
    match o.status {
        // Root, CAP_NET_RAW or an open ping_group_range: a real echo reply.
        CheckStatus::Up => {
            assert!(o.reason.starts_with("reply from 127.0.0.1 in "), "{}", o.reason);
            assert!(o.latency_ms.is_some_and(|ms| ms >= 0.0));
        }
        // Neither socket kind allowed: the reason must tell the operator what to change.
        CheckStatus::Down => {
            assert!(o.reason.contains("sysctl net.ipv4.ping_group_range"), "{}", o.reason);
            assert!(o.reason.contains("CAP_NET_RAW"), "{}", o.reason);
        }
        other => panic!("unexpected {other:?}: {}", o.reason),
    }
}
