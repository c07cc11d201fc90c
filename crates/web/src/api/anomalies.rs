//! A monitor's latency anomalies: `GET /api/v1/monitors/{id}/anomalies`.

use super::List;
use super::series::AnomalyDto;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::parse_id;
use axum::Json;
use axum::extract::{Path, State};
use opsdeck_core::Entity;
use opsdeck_core::role::Permission;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(monitor_anomalies))
}

/// Hours of the last 28 days whose mean latency lies outside what that hour of the week (after a
/// week of history) and the spread of recent hours lead to expect, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/monitors/{id}/anomalies",
    tag = "monitors",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = List<AnomalyDto>))
)]
async fn monitor_anomalies(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<AnomalyDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let m = state.db.get_monitor(parse_id(Entity::Monitor, &id)?).await?;
    let items = crate::operations::anomalies::monitor_latency(&state, m.monitor.id)
        .await?
        .iter()
        .map(AnomalyDto::from)
        .collect();
    Ok(Json(List { items, next_cursor: None }))
}
