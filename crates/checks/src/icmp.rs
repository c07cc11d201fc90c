//! ICMP echo probe.

use crate::net;
use opsdeck_core::monitor::{CheckOutcome, IcmpSettings};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;
use surge_ping::{Client, Config, ICMP, PingIdentifier, PingSequence, SurgeError};
use tokio::sync::OnceCell;

/// Same size as ping(8) sends by default.
const PAYLOAD: [u8; 56] = [0; 56];

/// One socket per address family, opened on first use and shared by all checks (replies are
/// matched to requests by identifier and sequence). A failed open is retried on the next check,
/// so fixing the sysctl or the capability needs no restart.
#[derive(Default)]
pub(crate) struct Pingers {
    v4: OnceCell<Client>,
    v6: OnceCell<Client>,
    seq: AtomicU16,
}

pub(crate) async fn probe(p: &Pingers, s: &IcmpSettings, timeout: Duration) -> CheckOutcome {
    let ip = match net::bare_host(&s.host).parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match net::resolve(&s.host, 0).await {
            Ok(addrs) => match addrs.first() {
                Some(a) => a.ip(),
                None => return CheckOutcome::down(None, format!("cannot resolve {}", s.host)),
            },
            Err(reason) => return CheckOutcome::down(None, reason),
        },
    };
    let (cell, kind) = if ip.is_ipv4() { (&p.v4, ICMP::V4) } else { (&p.v6, ICMP::V6) };
    // surge-ping tries an unprivileged (datagram) ICMP socket first, then a raw one.
    let client = match cell.get_or_try_init(|| async { Client::new(&Config::builder().kind(kind).build()) }).await {
        Ok(c) => c,
        Err(e) => {
            let first_line = e.to_string().lines().next().unwrap_or_default().to_owned();
            return CheckOutcome::down(
                None,
                format!(
                    "cannot open an ICMP socket ({first_line}): allow unprivileged ping with \
                     `sysctl net.ipv4.ping_group_range=\"0 2147483647\"` or give the process CAP_NET_RAW"
                ),
            );
        }
    };
    let seq = p.seq.fetch_add(1, Ordering::Relaxed);
    // Only raw sockets use the identifier (the kernel sets it for datagram ones); mixing in the
    // pid keeps replies for another pinging process on this host from being taken as ours.
    let ident = PingIdentifier((std::process::id() as u16) ^ seq.rotate_left(8));
    let mut pinger = client.pinger(ip, ident).await;
    pinger.timeout(timeout);
    match pinger.ping(PingSequence(seq), &PAYLOAD).await {
        Ok((_, rtt)) => {
            let ms = crate::millis(rtt);
            CheckOutcome::up(ms, format!("reply from {ip} in {}", crate::fmt_ms(ms)))
                .with_details(serde_json::json!({ "address": ip.to_string() }))
        }
        Err(SurgeError::Timeout { .. }) => {
            CheckOutcome::down(None, format!("no reply from {ip} within {}", crate::seconds(timeout)))
        }
        Err(e) => CheckOutcome::down(None, format!("ping {ip} failed: {e}")),
    }
}
