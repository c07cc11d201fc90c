//! TCP port probe: does anything accept a connection?

use crate::{millis, net};
use opsdeck_core::monitor::{CheckOutcome, TcpSettings};
use std::time::Instant;

pub(crate) async fn probe(s: &TcpSettings) -> CheckOutcome {
    let addrs = match net::resolve(&s.host, s.port).await {
        Ok(a) => a,
        Err(reason) => return CheckOutcome::down(None, reason),
    };
    // Timed from the connect, so a slow resolver does not read as a slow service.
    let start = Instant::now();
    match net::connect(&addrs).await {
        Ok(stream) => {
            let latency = millis(start.elapsed());
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            CheckOutcome::up(latency, format!("port {} open ({})", s.port, crate::fmt_ms(latency)))
                .with_details(serde_json::json!({ "address": peer }))
        }
        Err(e) => CheckOutcome::down(None, format!("{}:{}: {}", s.host, s.port, net::describe_io(&e))),
    }
}
