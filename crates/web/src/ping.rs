//! Heartbeat endpoints that jobs call: `/ping/{token}` (success), `/ping/{token}/start` and
//! `/ping/{token}/fail`, by GET or POST, without other authentication than the secret token.

use crate::AppState;
use crate::error::ApiError;
use crate::operations::monitors::publish_changes;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opsdeck_core::monitor::{CheckOutcome, CheckStatus};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ping/{token}", get(success).post(success))
        .route("/ping/{token}/start", get(start).post(start))
        .route("/ping/{token}/fail", get(fail).post(fail))
}

fn answer(r: Result<(), ApiError>) -> Response {
    match r {
        Ok(()) => (StatusCode::OK, "OK\n").into_response(),
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            (StatusCode::NOT_FOUND, "unknown ping URL: check the token\n").into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn record(state: &AppState, token: &str, outcome: CheckOutcome) -> Result<(), ApiError> {
    let (_, changes) = state.db.record_ping(token, state.now(), outcome, &state.config.retention).await?;
    publish_changes(state, &changes).await;
    Ok(())
}

async fn success(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    answer(record(&state, &token, CheckOutcome::up(0.0, "ping received")).await)
}

async fn fail(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let outcome = CheckOutcome {
        status: CheckStatus::Down,
        latency_ms: None,
        reason: "the job reported a failure".into(),
        details: serde_json::Value::Null,
    };
    answer(record(&state, &token, outcome).await)
}

async fn start(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    answer(state.db.record_ping_start(&token, state.now()).await.map(|_| ()).map_err(ApiError::from))
}
