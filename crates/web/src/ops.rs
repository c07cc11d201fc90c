//! Operational endpoints and request metrics.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use std::sync::OnceLock;
use std::time::Instant;

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide metrics recorder once (several test servers share one process).
pub fn install_metrics() {
    PROMETHEUS.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
            .ok()?
            .build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).ok()?;
        opsdeck_store::events::describe();
        opsdeck_notify::events::describe();
        metrics::gauge!("opsdeck_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        Some(handle)
    });
}

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics_text))
}

/// The process is up and serving HTTP.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can reach its database and no background worker keeps failing.
async fn readyz(State(state): State<AppState>) -> Response {
    if !state.db.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "database unreachable" }))).into_response();
    }
    let failing = state.workers.failing();
    if failing.is_empty() {
        Json(json!({ "status": "ready" })).into_response()
    } else {
        let names: Vec<&str> = failing.iter().map(|(n, _)| *n).collect();
        let status = format!("failing workers: {}", names.join(", "));
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": status, "failing": names }))).into_response()
    }
}

/// The process's own metrics; with an API token (`Authorization: Bearer …`, a viewer's is
/// enough) also the KPIs (`kpi_metrics`), which name services and SLOs.
async fn metrics_text(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let (size, idle) = state.db.pool_stats();
    metrics::gauge!("opsdeck_db_pool_connections").set(size as f64);
    metrics::gauge!("opsdeck_db_pool_idle_connections").set(idle as f64);
    if let Some(bytes) = state.db.sqlite_memory_used() {
        metrics::gauge!("opsdeck_sqlite_memory_bytes").set(bytes as f64);
    }
    let mut body = PROMETHEUS.get().and_then(|h| h.as_ref()).map(|h| h.render()).unwrap_or_default();
    // The process's metrics are served whatever happens to the KPIs: a bad token or a database
    // outage leaves them out, when the process metrics matter most.
    let auth = crate::auth::authenticate(&state, &headers).await.ok().flatten();
    if auth.is_some_and(|a| a.require(opsdeck_core::role::Permission::Read).is_ok()) {
        match crate::kpi_metrics::render(&state).await {
            Ok(kpis) => body.push_str(&kpis),
            Err(e) => tracing::warn!(error = %e.message, "the KPI metrics could not be computed"),
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Counts requests and records their latency per route template (never per raw path, which
/// would make one time series per id).
pub async fn track_requests(State(_): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("opsdeck_http_requests_total", "method" => method.clone(), "route" => route.clone(),
        "status" => status)
    .increment(1);
    metrics::histogram!("opsdeck_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}
