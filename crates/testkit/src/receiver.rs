//! A webhook receiver on loopback for notification tests: it records what it gets and answers
//! the status the test sets. Signed requests are checked against [`Receiver::SECRET`], as a real
//! receiver would check them.

use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use serde_json::Value;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

/// What the receiver got: (path, signature header, body).
pub type Received = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

pub struct Receiver {
    /// `http://127.0.0.1:<port>`; any path is accepted and recorded.
    pub url: String,
    pub got: Received,
    /// The HTTP status every request is answered with (200 records the request).
    pub status: Arc<AtomicU16>,
    pub task: tokio::task::JoinHandle<()>,
}

type ReceiverState = (Received, Arc<AtomicU16>);

impl Receiver {
    /// The HMAC secret signed requests are checked against.
    pub const SECRET: &'static str = "shh";

    pub async fn start() -> Receiver {
        let got: Received = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let app = axum::Router::new().fallback(record).with_state((got.clone(), status.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, got, status, task }
    }

    /// The bodies received at `path`.
    pub fn to(&self, path: &str) -> Vec<Value> {
        self.got.lock().unwrap().iter().filter(|g| g.0 == path).map(|g| g.2.clone()).collect()
    }

    pub fn answer(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }
}

async fn record(
    State((got, status)): State<ReceiverState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let code = status.load(Ordering::SeqCst);
    if code == 200 {
        let sig = headers.get("x-opsdeck-signature").and_then(|v| v.to_str().ok()).map(str::to_owned);
        // The signature covers the raw body: check it here, as a receiver would.
        if let Some(s) = &sig {
            let t: i64 =
                s.split(',').next().and_then(|p| p.strip_prefix("t=")).and_then(|v| v.parse().ok()).unwrap_or(0);
            assert_eq!(
                s,
                &opsdeck_core::escalation::webhook_signature(Receiver::SECRET, t, &body),
                "bad HMAC signature"
            );
        }
        got.lock().unwrap().push((uri.path().to_owned(), sig, serde_json::from_slice(&body).unwrap_or(Value::Null)));
    }
    axum::http::StatusCode::from_u16(code).unwrap()
}
