//! Endpoints that the demo organisation's monitors watch (`serve --demo` only): one healthy,
//! one slow, one flaky and one broken, so every state and chart has something to show.

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let hits = Arc::new(AtomicU64::new(0));
    let (slow_hits, flaky_hits) = (hits.clone(), hits);
    Router::new()
        .route("/demo/ok", get(|| async { Json(json!({"status": "ok", "version": "2026.11.3"})) }))
        .route(
            "/demo/slow",
            get(move || {
                let n = slow_hits.fetch_add(1, Ordering::Relaxed);
                async move {
                    // 150–850 ms, varying from call to call like a loaded backend.
                    tokio::time::sleep(Duration::from_millis(150 + (n * 137) % 700)).await;
                    Json(json!({"status": "ok"}))
                }
            }),
        )
        .route(
            "/demo/flaky",
            get(move || {
                let n = flaky_hits.fetch_add(1, Ordering::Relaxed);
                async move {
                    if n % 9 == 4 {
                        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "overloaded"})))
                    } else {
                        (StatusCode::OK, Json(json!({"status": "ok"})))
                    }
                }
            }),
        )
        .route(
            "/demo/broken",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "upstream connection pool exhausted") }),
        )
}
