//! TLS certificate probe, and the rustls configurations the HTTP probe shares.

use crate::{ProbeError, millis, net};
use chrono::{DateTime, Utc};
use opsdeck_core::monitor::{CheckOutcome, CheckStatus, TlsSettings};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde_json::json;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::io::AsyncWriteExt;
use tokio_rustls::TlsConnector;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::X509Certificate;

/// The crypto provider and the public-trust (Mozilla, via webpki-roots) verifier, built once.
pub(crate) struct Verifiers {
    provider: Arc<CryptoProvider>,
    webpki: Arc<WebPkiServerVerifier>,
}

impl Verifiers {
    pub(crate) fn new<'a>(
        provider: Arc<CryptoProvider>,
        extra_roots: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, ProbeError> {
        let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for der in extra_roots {
            roots.add(CertificateDer::from(der.to_vec()))?;
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
        Ok(Verifiers { provider, webpki })
    }

    /// Client configuration for the HTTP probe: full verification, or none at all.
    pub(crate) fn http_config(&self, verify: bool) -> Result<ClientConfig, ProbeError> {
        let builder =
            ClientConfig::builder_with_provider(self.provider.clone()).with_safe_default_protocol_versions()?;
        let mut config = if verify {
            builder.with_webpki_verifier(self.webpki.clone()).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(self.webpki.clone())))
                .with_no_client_auth()
        };
        // reqwest is built for HTTP/1 only; offering h2 would break servers that pick it.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Accepts any certificate (verify_tls = false) but still checks handshake signatures, so the
/// peer must hold the key of the certificate it presents.
#[derive(Debug)]
struct AcceptAny(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// What the server presented and what verification thought of it.
#[derive(Debug)]
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    /// The full public-trust verdict (chain, validity dates, name).
    verdict: Result<(), rustls::Error>,
    /// The name check on its own: webpki stops at the first problem, and an untrusted chain
    /// would otherwise hide a wrong name.
    name: Result<(), rustls::Error>,
}

/// Verifies like a browser would, records the verdict and the chain, then lets the handshake
/// continue so expired or untrusted certificates can still be inspected. One per connection.
#[derive(Debug)]
struct Inspecting {
    inner: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<Seen>>,
}

impl Inspecting {
    fn take(&self) -> Option<Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl ServerCertVerifier for Inspecting {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict =
            self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now).map(|_| ());
        let name = ParsedCertificate::try_from(end_entity).and_then(|c| verify_server_name(&c, server_name));
        let chain = std::iter::once(end_entity).chain(intermediates).map(|c| c.clone().into_owned()).collect();
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(Seen { chain, verdict, name });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

pub(crate) async fn probe(v: &Verifiers, s: &TlsSettings) -> CheckOutcome {
    let name = s.server_name.as_deref().unwrap_or(net::bare_host(&s.host)).to_owned();
    let server_name = match ServerName::try_from(name.clone()) {
        Ok(n) => n,
        Err(_) => return CheckOutcome::down(None, format!("{name:?} is not a valid TLS server name")),
    };
    let addrs = match net::resolve(&s.host, s.port).await {
        Ok(a) => a,
        Err(reason) => return CheckOutcome::down(None, reason),
    };
    // A fresh verifier (and so config) per check: it holds this connection's verdict.
    let inspecting = Arc::new(Inspecting { inner: v.webpki.clone(), seen: Mutex::new(None) });
    let config = match ClientConfig::builder_with_provider(v.provider.clone()).with_safe_default_protocol_versions() {
        Ok(b) => b.dangerous().with_custom_certificate_verifier(inspecting.clone()).with_no_client_auth(),
        Err(e) => return crate::outcome(CheckStatus::Unknown, None, format!("TLS setup failed: {e}")),
    };
    let start = Instant::now();
    let tcp = match net::connect(&addrs).await {
        Ok(t) => t,
        Err(e) => return CheckOutcome::down(None, format!("{}:{}: {}", s.host, s.port, net::describe_io(&e))),
    };
    let handshake = TlsConnector::from(Arc::new(config)).connect(server_name, tcp).await;
    let latency = millis(start.elapsed());
    let seen = inspecting.take();
    let failed = match handshake {
        Ok(mut stream) => {
            // Polite close_notify; the check is already decided, so errors do not matter.
            let _ = stream.shutdown().await;
            None
        }
        Err(e) => Some(e),
    };
    match (seen, failed) {
        (Some(seen), None) => evaluate(&seen, s, &name, latency, Utc::now()),
        (Some(seen), Some(e)) => {
            // The certificate arrived but the handshake broke afterwards: the failure is the
            // reason, the certificate's facts stay in the details.
            let mut o = evaluate(&seen, s, &name, latency, Utc::now());
            o.status = CheckStatus::Down;
            o.reason = format!("TLS handshake failed after the certificate: {}", describe_io_tls(&e));
            o
        }
        (None, Some(e)) => CheckOutcome::down(Some(latency), format!("TLS handshake failed: {}", describe_io_tls(&e))),
        (None, None) => CheckOutcome::down(Some(latency), "the server presented no certificate"),
    }
}

/// Errors from tokio-rustls arrive as io::Error wrapping the rustls error.
fn describe_io_tls(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(t) => describe_tls_error(t),
        None => net::describe_io(e),
    }
}

fn evaluate(seen: &Seen, s: &TlsSettings, name: &str, latency: f64, now: DateTime<Utc>) -> CheckOutcome {
    let Some(leaf_der) = seen.chain.first() else {
        return CheckOutcome::down(Some(latency), "the server presented no certificate");
    };
    let leaf = match x509_parser::parse_x509_certificate(leaf_der) {
        Ok((_, c)) => c,
        Err(e) => return CheckOutcome::down(Some(latency), format!("cannot parse the server certificate: {e}")),
    };
    let not_before = DateTime::from_timestamp(leaf.validity().not_before.timestamp(), 0).unwrap_or_default();
    let not_after = DateTime::from_timestamp(leaf.validity().not_after.timestamp(), 0).unwrap_or_default();
    // Floor, so that any expired certificate has a negative count.
    let days_left = (not_after - now).num_seconds().div_euclid(86_400);
    let expired = now > not_after;
    let premature = now < not_before;
    let verify_error = seen.verdict.as_ref().err().map(describe_tls_error);

    let mut problems = Vec::new();
    if expired {
        let ago = match (now - not_after).num_days() {
            0 => "today".to_owned(),
            n => format!("{} ago", days(n)),
        };
        problems.push(format!("certificate expired on {} ({ago})", day(not_after)));
    }
    if premature {
        problems.push(format!("certificate not valid before {}", day(not_before)));
    }
    if seen.name.is_err() {
        problems.push(format!("hostname mismatch: certificate is for {}, not {name}", cert_names(&leaf).join(", ")));
    }
    if let Err(rustls::Error::InvalidCertificate(ce)) = &seen.verdict {
        // Leave out what the checks above already said in better words.
        let said = match ce {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => premature,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => seen.name.is_err(),
            CertificateError::UnknownIssuer if leaf.subject() == leaf.issuer() => {
                problems.push("unknown issuer: the certificate is self-signed".into());
                true
            }
            _ => false,
        };
        if !said {
            problems.push(describe_cert_error(ce));
        }
    } else if let Some(e) = &verify_error {
        problems.push(e.clone());
    }

    let details = json!({
        "days_left": days_left,
        "not_after": not_after.to_rfc3339(),
        "subject": leaf.subject().to_string(),
        "issuer": leaf.issuer().to_string(),
        "names": cert_names(&leaf),
        "chain_length": seen.chain.len(),
        "chain_valid": seen.verdict.is_ok(),
        "verify_error": verify_error,
    });
    let until = day(not_after);
    let (status, reason) = if !problems.is_empty() {
        (CheckStatus::Down, problems.join("; "))
    } else if days_left <= i64::from(s.critical_days) {
        (CheckStatus::Down, format!("certificate expires in {} (on {until})", days(days_left)))
    } else if days_left <= i64::from(s.warn_days) {
        (CheckStatus::Degraded, format!("certificate expires in {} (on {until})", days(days_left)))
    } else {
        (CheckStatus::Up, format!("valid for {} (until {until})", days(days_left)))
    };
    CheckOutcome { status, latency_ms: Some(latency), reason, details }
}

fn days(n: i64) -> String {
    if n == 1 { "1 day".into() } else { format!("{n} days") }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The names a certificate is valid for: its DNS and IP subject alternative names, else its
/// common name (what old certificates rely on).
fn cert_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut names: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::DNSName(d) => Some((*d).to_owned()),
                GeneralName::IPAddress(b) => ip_from_bytes(b).map(|ip| ip.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        names = cert.subject().iter_common_name().filter_map(|cn| cn.as_str().ok().map(str::to_owned)).collect();
    }
    names
}

fn ip_from_bytes(b: &[u8]) -> Option<std::net::IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        return Some(v4.into());
    }
    <[u8; 16]>::try_from(b).ok().map(Into::into)
}

/// Plain words for TLS failures, as shown in check reasons.
pub(crate) fn describe_tls_error(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(ce) => describe_cert_error(ce),
        rustls::Error::AlertReceived(alert) => format!("the server refused the handshake (alert: {alert:?})"),
        rustls::Error::NoCertificatesPresented => "the server presented no certificate".into(),
        rustls::Error::PeerIncompatible(p) => format!("no common TLS version or cipher ({p:?})"),
        // Typically a plain-text service on the port (HTTP, SSH banner, …).
        rustls::Error::InvalidMessage(_) => format!("the answer is not TLS ({e})"),
        other => other.to_string(),
    }
}

fn describe_cert_error(e: &CertificateError) -> String {
    let on = |t: &UnixTime| {
        i64::try_from(t.as_secs()).ok().and_then(|s| DateTime::from_timestamp(s, 0)).map(day).unwrap_or_default()
    };
    match e {
        CertificateError::Expired => "certificate expired".into(),
        CertificateError::ExpiredContext { not_after, .. } => format!("certificate expired on {}", on(not_after)),
        CertificateError::NotValidYet => "certificate not valid yet".into(),
        CertificateError::NotValidYetContext { not_before, .. } => {
            format!("certificate not valid before {}", on(not_before))
        }
        CertificateError::UnknownIssuer => {
            "unknown issuer: the certificate is not signed by a trusted authority".into()
        }
        CertificateError::NotValidForName => "hostname mismatch".into(),
        CertificateError::NotValidForNameContext { expected, presented } => {
            let names: Vec<&str> = presented.iter().map(|p| plain_name(p)).collect();
            format!("hostname mismatch: certificate is for {}, not {}", names.join(", "), expected.to_str())
        }
        CertificateError::Revoked => "certificate revoked".into(),
        CertificateError::BadSignature => "bad certificate signature".into(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "certificate is not valid for TLS servers".into()
        }
        other => format!("invalid certificate: {other}"),
    }
}

/// webpki lists presented names in Debug form (`DnsName("a.example")`, `IpAddress(10.0.0.1)`).
fn plain_name(p: &str) -> &str {
    p.strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| p.strip_prefix("IpAddress(").and_then(|n| n.strip_suffix(')')))
        .unwrap_or(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_names_lose_their_debug_wrapping() {
        assert_eq!(plain_name("DnsName(\"other.example\")"), "other.example");
        assert_eq!(plain_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(plain_name("UniformResourceIdentifier(\"x\")"), "UniformResourceIdentifier(\"x\")");
    }
}
