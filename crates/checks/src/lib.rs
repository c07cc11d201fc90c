//! Probe runners: each turns a monitor's settings into one [`CheckOutcome`].
//!
//! [`Prober`] holds what is worth sharing between checks (HTTP connection pools, DNS resolvers,
//! ICMP sockets, compiled regular expressions); a probe never panics and reports every failure
//! as an outcome with a reason.

mod command;
mod dns;
pub mod events;
pub mod held;
mod http;
mod icmp;
pub mod locations;
mod net;
pub mod scheduler;
mod tcp;
mod tls;

use opsdeck_core::monitor::{CheckOutcome, CheckStatus, Settings};
use rustls::crypto::CryptoProvider;
use std::sync::Arc;
use std::time::Duration;

/// Why a [`Prober`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("certificate verifier setup failed: {0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
    #[error("HTTP client setup failed: {0}")]
    Http(#[from] reqwest::Error),
}

/// Runs checks; build one per process and share it (it is `Send + Sync`). Connection pools,
/// ICMP sockets and resolver tasks live on the Tokio runtime that first used them, so keep a
/// `Prober` within one runtime.
pub struct Prober {
    http: http::Clients,
    tls: tls::Verifiers,
    dns: dns::Resolvers,
    icmp: icmp::Pingers,
}

impl Prober {
    /// Builds the HTTP clients and certificate verifiers; sockets and resolvers open lazily.
    /// Certificates are trusted when they chain to the Mozilla root programme (webpki-roots).
    pub fn new() -> Result<Prober, ProbeError> {
        Prober::with_extra_roots(std::iter::empty())
    }

    /// Like [`Prober::new`], also trusting these CA certificates (DER), e.g. an organisation's
    /// private CA, for TLS checks and for HTTPS checks with `verify_tls`.
    pub fn with_extra_roots<'a>(roots: impl IntoIterator<Item = &'a [u8]>) -> Result<Prober, ProbeError> {
        // reqwest is built without a bundled provider; a process-wide default keeps any rustls
        // user that relies on it working. Already installed (by the binary) is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Our own configs name the provider explicitly, so they never depend on that default.
        let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::ring::default_provider());
        let tls = tls::Verifiers::new(provider, roots)?;
        Ok(Prober {
            http: http::Clients::new(&tls)?,
            tls,
            dns: dns::Resolvers::default(),
            icmp: icmp::Pingers::default(),
        })
    }

    /// Runs one check; never panics; every failure is an outcome with a clear reason.
    ///
    /// The whole check, name resolution included, is bounded by `timeout`.
    pub async fn probe(&self, settings: &Settings, timeout: Duration) -> CheckOutcome {
        let bounded = match settings {
            // Passive: the heartbeat evaluator decides from pings, not from a probe.
            Settings::Heartbeat(_) => {
                return outcome(CheckStatus::Unknown, None, "heartbeat monitors are evaluated from pings");
            }
            // A plugin that overruns is killed and reported as UNKNOWN, as Nagios does.
            Settings::Command(c) => return command::probe(c, timeout).await,
            Settings::Http(h) => tokio::time::timeout(timeout, http::probe(&self.http, h)).await,
            Settings::Tcp(t) => tokio::time::timeout(timeout, tcp::probe(t)).await,
            Settings::Dns(d) => tokio::time::timeout(timeout, dns::probe(&self.dns, d)).await,
            Settings::Icmp(i) => tokio::time::timeout(timeout, icmp::probe(&self.icmp, i, timeout)).await,
            Settings::Tls(t) => tokio::time::timeout(timeout, tls::probe(&self.tls, t)).await,
        };
        bounded.unwrap_or_else(|_| CheckOutcome::down(None, format!("timed out after {}", seconds(timeout))))
    }
}

/// An outcome of any status, without details.
fn outcome(status: CheckStatus, latency_ms: Option<f64>, reason: impl Into<String>) -> CheckOutcome {
    CheckOutcome { status, latency_ms, reason: reason.into(), details: serde_json::Value::Null }
}

/// Milliseconds, to the microsecond: finer digits are noise in stored results.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// "0.35 ms", "812 ms": two decimals only where they carry information.
fn fmt_ms(ms: f64) -> String {
    if ms < 10.0 { format!("{ms:.2} ms") } else { format!("{ms:.0} ms") }
}

/// "10 s", or "1.5 s" for fractional timeouts.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{} s", d.as_secs()) } else { format!("{:.1} s", d.as_secs_f64()) }
}

/// Cuts `s` to at most `max` characters (not bytes), marking the cut.
fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_seconds_and_truncates_on_char_boundaries() {
        assert_eq!(seconds(Duration::from_secs(10)), "10 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(truncate_chars("héllo", 2), "hé…");
        assert_eq!(truncate_chars("ok", 5), "ok");
        assert_eq!(fmt_ms(0.354), "0.35 ms");
        assert_eq!(fmt_ms(812.4), "812 ms");
        assert_eq!(millis(Duration::from_nanos(1_234_567)), 1.235);
    }
}
