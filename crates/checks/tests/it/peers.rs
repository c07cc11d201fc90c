//! Real local peers for the probes, and helpers to build settings.

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{any, get};
use opsdeck_checks::Prober;
use opsdeck_core::monitor::{CheckOutcome, MonitorType, Settings};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long the /slow route makes the client wait.
pub const SLOW_MS: u64 = 300;

pub fn prober() -> Prober {
    Prober::new().expect("prober")
}

pub fn settings(kind: MonitorType, v: serde_json::Value) -> Settings {
    Settings::parse(kind, v).expect("valid settings")
}

pub async fn probe(p: &Prober, kind: MonitorType, v: serde_json::Value) -> CheckOutcome {
    p.probe(&settings(kind, v), TIMEOUT).await
}

/// A port on 127.0.0.1 that nothing listens on: bound by us, then released.
pub async fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr").port()
}

pub fn app() -> Router {
    Router::new()
        .route("/health", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
        .route("/unavailable", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "maintenance") }))
        .route("/redirect", get(|| async { Redirect::to("/health") }))
        .route(
            "/slow",
            get(|| async {
                // The peer is slow; the test itself never sleeps.
                tokio::time::sleep(Duration::from_millis(SLOW_MS)).await;
                "finally"
            }),
        )
        .route(
            "/private",
            get(|h: HeaderMap| async move {
                let auth = h.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                // "user:pass" in base64, and a bearer token.
                if auth == "Basic dXNlcjpwYXNz" || auth == "Bearer t0ken" {
                    (StatusCode::OK, "secret stuff").into_response()
                } else {
                    (StatusCode::UNAUTHORIZED, "who are you").into_response()
                }
            }),
        )
        .route(
            "/echo",
            any(|m: Method, h: HeaderMap, body: String| async move {
                let probe = h.get("x-probe").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
                format!("{m} {probe} {body}")
            }),
        )
        .route(
            "/big",
            get(|| async {
                // 2 MiB, with the only "END" past the 1 MiB read cap.
                let mut body = "x".repeat(2 * 1024 * 1024);
                body.push_str("END");
                body
            }),
        )
}

/// Counts accepted connections, to see keep-alive at work.
pub struct CountingListener {
    inner: TcpListener,
    accepted: Arc<AtomicUsize>,
}

impl axum::serve::Listener for CountingListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok(conn) = self.inner.accept().await {
                self.accepted.fetch_add(1, Ordering::SeqCst);
                return conn;
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The test app over plain HTTP; returns its address and the accepted-connection counter.
pub async fn http_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let inner = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = inner.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let listener = CountingListener { inner, accepted: accepted.clone() };
    tokio::spawn(async move { axum::serve(listener, app()).await });
    (addr, accepted)
}

/// Serves the test app over TLS; connections whose handshake fails are dropped.
struct TlsListener {
    inner: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.inner.accept().await else { continue };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A certificate and its key, as a server presents them.
pub struct ServerCert {
    pub der: CertificateDer<'static>,
    key: Vec<u8>,
}

pub async fn https_server(cert: &ServerCert) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.clone()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der.clone()], key)
        .expect("server cert");
    let inner = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = inner.local_addr().expect("addr");
    let listener = TlsListener { inner, acceptor: TlsAcceptor::from(Arc::new(config)) };
    tokio::spawn(async move { axum::serve(listener, app()).await });
    addr
}

/// `rcgen` takes `time` dates; offsets from the epoch avoid a direct `time` dependency.
fn set_validity(p: &mut CertificateParams, not_before_unix: i64, not_after_unix: i64) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let secs = |s: i64| Duration::from_secs(u64::try_from(s).expect("after 1970"));
    p.not_before = epoch + secs(not_before_unix);
    p.not_after = epoch + secs(not_after_unix);
}

pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

pub const DAY: i64 = 86_400;

/// A private CA that the test prober trusts.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    pub der: CertificateDer<'static>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Opsdeck Test CA");
        let key = KeyPair::generate().expect("key");
        let der = params.self_signed(&key).expect("ca cert").der().clone();
        TestCa { params, key, der }
    }

    /// A leaf for `name` signed by this CA, valid between the two instants (Unix seconds).
    pub fn leaf(&self, name: &str, not_before_unix: i64, not_after_unix: i64) -> ServerCert {
        let mut params = CertificateParams::new(vec![name.to_owned()]).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        set_validity(&mut params, not_before_unix, not_after_unix);
        let key = KeyPair::generate().expect("key");
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("leaf cert");
        ServerCert { der: cert.der().clone(), key: key.serialize_der() }
    }

    /// A prober that trusts this CA besides the public roots.
    pub fn prober(&self) -> Prober {
        Prober::with_extra_roots([self.der.as_ref()]).expect("prober")
    }
}

/// A self-signed certificate for `name`, valid for a year.
pub fn self_signed(name: &str) -> ServerCert {
    let mut params = CertificateParams::new(vec![name.to_owned()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    let now = now_unix();
    set_validity(&mut params, now - DAY, now + 365 * DAY);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    ServerCert { der: cert.der().clone(), key: key.serialize_der() }
}
