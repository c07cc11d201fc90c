//! Inbound alert endpoints, each speaking its sender's wire format:
//!
//! - `POST /v2/enqueue`, `POST /v2/change/enqueue`: PagerDuty Events API v2 (key in the body);
//! - `POST /integrations/{key}/alertmanager`: Alertmanager's webhook;
//! - `POST /integrations/{key}/grafana`: Grafana's contact-point webhook;
//! - `POST /integrations/{key}/webhook`: generic JSON with the integration's field mapping;
//! - `POST /integrations/{key}/deploy`: a deploy reported by CI/CD, recorded as a standard change
//!   on the service (the key of any of the service's integrations);
//! - `POST /api/v2/alerts`: Alertmanager's own API (key as a Bearer token), so Prometheus can
//!   send straight to Opsdeck.
//!
//! Every event goes through the batching [`Pipeline`]: the answer comes after the commit.

use crate::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opsdeck_core::alert::{IntegrationType, MAX_PAYLOAD_BYTES, Signal, alertmanager, pagerduty, webhook};
use opsdeck_store::ingest::Envelope;
use opsdeck_store::integration::Route;
use opsdeck_store::pipeline::IngestError;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/enqueue", post(pd_enqueue))
        .route("/v2/change/enqueue", post(pd_change))
        .route("/integrations/{key}/alertmanager", post(alertmanager_webhook))
        .route("/integrations/{key}/grafana", post(grafana_webhook))
        .route("/integrations/{key}/webhook", post(generic_webhook))
        .route("/integrations/{key}/deploy", post(deploy_webhook))
        .route("/api/v2/alerts", post(api_alerts))
}

/// Integration keys → routes, validated against the integrations revision at most once per
/// second, so a key rotated on another node stops working within a second.
#[derive(Default)]
pub struct RouteCache {
    inner: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    revision: i64,
    checked: Option<Instant>,
    routes: HashMap<String, Route>,
}

impl RouteCache {
    pub fn clear(&self) {
        if let Ok(mut s) = self.inner.lock() {
            s.routes.clear();
            s.checked = None;
        }
    }

    async fn lookup(&self, state: &AppState, key: &str) -> Result<Option<Route>, Response> {
        let stale =
            self.inner.lock().map(|s| s.checked.is_none_or(|t| t.elapsed() > Duration::from_secs(1))).unwrap_or(true);
        if stale {
            let rev = state.db.integrations_revision().await.map_err(unavailable)?;
            if let Ok(mut s) = self.inner.lock() {
                if s.revision != rev {
                    s.routes.clear();
                    s.revision = rev;
                }
                s.checked = Some(Instant::now());
            }
        }
        if let Some(r) = self.inner.lock().ok().and_then(|s| s.routes.get(key).cloned()) {
            return Ok(Some(r));
        }
        let found = state.db.route_for_key(key).await.map_err(unavailable)?;
        if let (Some(r), Ok(mut s)) = (&found, self.inner.lock()) {
            // Bounded: a cache of every key ever used, and keys are few.
            if s.routes.len() < 10_000 {
                s.routes.insert(key.to_owned(), r.clone());
            }
        }
        Ok(found)
    }
}

fn unavailable(e: opsdeck_store::StoreError) -> Response {
    tracing::error!(error = %e, "integration lookup failed");
    plain_error(StatusCode::SERVICE_UNAVAILABLE, "the database is not reachable; retry shortly")
}

fn plain_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"status": "error", "message": message}))).into_response()
}

/// Reads the body up to the PagerDuty limit; larger bodies get 413.
async fn read_body(body: Body) -> Result<axum::body::Bytes, Response> {
    axum::body::to_bytes(body, MAX_PAYLOAD_BYTES).await.map_err(|_| {
        plain_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the payload is larger than {MAX_PAYLOAD_BYTES} bytes; send fewer alerts per request"),
        )
    })
}

fn envelope(route: &Route, source_type: &'static str, signal: Signal) -> Envelope {
    Envelope {
        scope: route.integration_id.to_string(),
        integration_id: Some(route.integration_id),
        service_id: route.service_id,
        source_type,
        signal,
    }
}

// ---- PagerDuty ----------------------------------------------------------------------------

fn pd_invalid(errors: Vec<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors})),
    )
        .into_response()
}

fn pd_throttled() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "1")],
        axum::Json(json!({"status": "throttle \
            event", "message": "Requests for this service are arriving too quickly. Please retry later."})),
    )
        .into_response()
}

fn ingest_failure(e: IngestError) -> Response {
    match e {
        IngestError::Busy => pd_throttled(),
        IngestError::Failed(m) => {
            // The cause (a database message) is logged, never sent: it may name tables and values.
            tracing::error!(error = %m, "an ingested event was not stored");
            plain_error(StatusCode::SERVICE_UNAVAILABLE, "the event was not stored; retry shortly")
        }
    }
}

async fn pd_route(state: &AppState, key: &str) -> Result<Route, Response> {
    match state.routes.lookup(state, key).await? {
        Some(r) => Ok(r),
        None => {
            Err(pd_invalid(vec!["Invalid routing key: no integration has this key (it may have been rotated)".into()]))
        }
    }
}

async fn pd_enqueue(State(state): State<AppState>, body: Body) -> Response {
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let event = match pagerduty::parse_event(&bytes, || uuid::Uuid::now_v7().simple().to_string()) {
        Ok(e) => e,
        Err(errors) => return pd_invalid(errors),
    };
    let route = match pd_route(&state, &event.routing_key).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let dedup_key = event.signal.dedup_key.clone();
    match state.pipeline.submit(vec![envelope(&route, "pagerduty", event.signal)]).await {
        Ok(_) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key})),
        )
            .into_response(),
        Err(e) => ingest_failure(e),
    }
}

async fn pd_change(State(state): State<AppState>, body: Body) -> Response {
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (key, change) = match pagerduty::parse_change(&bytes) {
        Ok(c) => c,
        Err(errors) => return pd_invalid(errors),
    };
    let route = match pd_route(&state, &key).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    match state.db.record_change(state.now(), route.service_id, Some(route.integration_id), &change).await {
        Ok(c) => {
            state.events.publish("change.created", Some(c.service_id), format!("Change: {}", c.summary));
            // Also a standard change that ran, so change reports and incidents see it.
            let title: String = c.summary.chars().take(opsdeck_core::validate::NAME_MAX).collect();
            let ran = crate::operations::change_records::Ran {
                route: &route,
                source: "pagerduty",
                title: if title.trim().is_empty() { "Change event".into() } else { title.trim().to_owned() },
                description: format!("From PagerDuty change event ({})", c.source),
                cis: Vec::new(),
                started_at: c.at,
                finished_at: c.at,
                outcome: opsdeck_core::change::CloseCode::Successful,
                external_id: None,
            };
            if let Err(e) = crate::operations::change_records::record(&state, ran).await {
                tracing::warn!(error = %e.message, "a PagerDuty change event was not recorded as a change");
            }
            (StatusCode::ACCEPTED, axum::Json(json!({"status": "success", "message": "Change event processed"})))
                .into_response()
        }
        Err(e) => unavailable(e),
    }
}

/// A deploy from CI/CD: the key of any integration of the service names it.
async fn deploy_webhook(State(state): State<AppState>, Path(key): Path<String>, body: Body) -> Response {
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let route = match state.routes.lookup(&state, &key).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return rejected(StatusCode::NOT_FOUND, "no integration has this key (it may have been rotated)".into());
        }
        Err(r) => return r,
    };
    let deploy = match opsdeck_core::change::deploy::parse(&bytes, state.now()) {
        Ok(d) => d,
        Err(e) => return rejected(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    match crate::operations::change_records::deploy(&state, &route, deploy).await {
        Ok((c, unknown)) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"status": "success", "change": c.key(), "change_id": c.id,
                "close_code": c.close_code.map(|x| x.as_str()), "unknown_cis": unknown})),
        )
            .into_response(),
        Err(e) => rejected(e.status(), e.message),
    }
}

// ---- Alertmanager, Grafana, generic -------------------------------------------------------

fn rejected(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({"status": "error", "message": message}))).into_response()
}

async fn keyed_route(state: &AppState, key: &str, kind: IntegrationType) -> Result<Route, Response> {
    match state.routes.lookup(state, key).await? {
        Some(r) if r.kind == kind => Ok(r),
        Some(r) => Err(rejected(
            StatusCode::BAD_REQUEST,
            format!(
                "this key belongs to a {} integration; post to /integrations/KEY/{}",
                r.kind.as_str(),
                r.kind.as_str()
            ),
        )),
        None => Err(rejected(StatusCode::NOT_FOUND, "no integration has this key (it may have been rotated)".into())),
    }
}

async fn submit_all(state: &AppState, route: &Route, source: &'static str, signals: Vec<Signal>) -> Response {
    let n = signals.len();
    let envs = signals.into_iter().map(|s| envelope(route, source, s)).collect();
    match state.pipeline.submit(envs).await {
        Ok(applied) => {
            let keys: Vec<&str> = applied.iter().map(|a| a.dedup_key.as_str()).collect();
            (StatusCode::ACCEPTED, axum::Json(json!({"status": "success", "alerts": n, "dedup_keys": keys})))
                .into_response()
        }
        Err(IngestError::Busy) => {
            rejected(StatusCode::TOO_MANY_REQUESTS, "the ingest queue is full; retry with backoff".into())
        }
        Err(e) => ingest_failure(e),
    }
}

async fn am_like(state: AppState, key: String, body: Body, kind: IntegrationType) -> Response {
    let route = match keyed_route(&state, &key, kind).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match alertmanager::parse_webhook(&bytes, state.now()) {
        Ok(signals) => submit_all(&state, &route, kind.as_str(), signals).await,
        Err(m) => rejected(StatusCode::BAD_REQUEST, m),
    }
}

async fn alertmanager_webhook(State(state): State<AppState>, Path(key): Path<String>, body: Body) -> Response {
    am_like(state, key, body, IntegrationType::Alertmanager).await
}

async fn grafana_webhook(State(state): State<AppState>, Path(key): Path<String>, body: Body) -> Response {
    am_like(state, key, body, IntegrationType::Grafana).await
}

async fn generic_webhook(State(state): State<AppState>, Path(key): Path<String>, body: Body) -> Response {
    let route = match keyed_route(&state, &key, IntegrationType::Webhook).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match webhook::parse(&bytes, &route.mapping) {
        Ok(signal) => submit_all(&state, &route, "webhook", vec![signal]).await,
        Err(m) => rejected(StatusCode::BAD_REQUEST, m),
    }
}

/// Alertmanager's API: Prometheus posts here when Opsdeck is configured as its Alertmanager.
async fn api_alerts(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() {
        return rejected(
            StatusCode::UNAUTHORIZED,
            "send an Alertmanager integration key as \"Authorization: Bearer KEY\" (Prometheus: \
             alertmanagers[].authorization.credentials)"
                .into(),
        );
    }
    let route = match keyed_route(&state, key, IntegrationType::Alertmanager).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match alertmanager::parse_api_alerts(&bytes, state.now()) {
        // Alertmanager answers 200 with an empty body.
        Ok(signals) => {
            match state.pipeline.submit(signals.into_iter().map(|s| envelope(&route, "prometheus", s)).collect()).await
            {
                Ok(_) => StatusCode::OK.into_response(),
                Err(IngestError::Busy) => {
                    rejected(StatusCode::TOO_MANY_REQUESTS, "the ingest queue is full; retry with backoff".into())
                }
                Err(e) => ingest_failure(e),
            }
        }
        Err(m) => rejected(StatusCode::BAD_REQUEST, m),
    }
}
