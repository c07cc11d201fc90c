//! Probes against real peers on 127.0.0.1: HTTP and TLS servers, a DNS responder, the
//! monitoring-plugins binaries. Each test starts its own peers and its own `Prober`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly on purpose

mod command;
mod dns;
mod http;
mod icmp;
mod peers;
mod shared;
mod tcp;
mod tls;
