//! Many monitors in one request: creating them (`POST /api/v1/monitors/batch`, for `opsdeck
//! apply` and other configuration-as-code tools: one transaction per request, all or nothing),
//! and pausing, resuming or deleting them (`POST /api/v1/monitors/bulk`).

use super::monitors::CreateMonitor;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::operations::monitors as op;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_batch)).routes(routes!(bulk))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMonitors {
    /// The monitors to create, each as for `POST /api/v1/monitors`.
    #[schema(min_items = 1, max_items = 1000)]
    pub monitors: Vec<CreateMonitor>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedMonitors {
    /// The new monitors' ids, in the order they were sent.
    pub ids: Vec<Uuid>,
}

/// Creates 1 to 1,000 monitors at once: all are created, or none is and the 422 names every
/// wrong field as `monitors[i].field` (the first 50). Each is audited as a single create would be.
#[utoipa::path(
    post,
    path = "/api/v1/monitors/batch",
    tag = "monitors",
    request_body = CreateMonitors,
    responses((status = 201, body = CreatedMonitors))
)]
async fn create_batch(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<CreateMonitors>,
) -> Result<(StatusCode, Json<CreatedMonitors>), ApiError> {
    let inputs = req.monitors.into_iter().map(CreateMonitor::into_input).collect();
    let ids = op::create_monitors(&state, &auth, inputs).await?;
    Ok((StatusCode::CREATED, Json(CreatedMonitors { ids })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    #[schema(max_items = 1000)]
    pub ids: Vec<Uuid>,
    /// pause, resume or delete.
    #[schema(schema_with = crate::api::schema::bulk_action)]
    pub action: String,
}

#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    pub done: usize,
}

/// Pauses, resumes or deletes several monitors at once.
#[utoipa::path(
    post,
    path = "/api/v1/monitors/bulk",
    tag = "monitors",
    request_body = BulkRequest,
    responses((status = 200, body = BulkResult))
)]
async fn bulk(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<BulkRequest>,
) -> Result<Json<BulkResult>, ApiError> {
    Ok(Json(BulkResult { done: op::bulk_action(&state, &auth, &req.ids, &req.action).await? }))
}
