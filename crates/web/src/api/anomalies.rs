//! A monitor's latency anomalies (`GET /api/v1/monitors/{id}/anomalies`), and whether they alert
//! on its service (`PUT` / `DELETE /api/v1/monitors/{id}/anomaly-alert`).

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
    OpenApiRouter::new().routes(routes!(monitor_anomalies)).routes(routes!(get_watch, watch, unwatch))
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

/// Whether a monitor's latency anomalies alert.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AnomalyAlertDto {
    pub monitor_id: uuid::Uuid,
    /// Its latency anomalies raise warnings on its service.
    pub enabled: bool,
    /// The service an alert fires on now, if one does.
    pub alerting_service_id: Option<uuid::Uuid>,
}

async fn watch_dto(state: &AppState, monitor_id: uuid::Uuid) -> Result<AnomalyAlertDto, ApiError> {
    let w = state.db.anomaly_watches(Some(monitor_id)).await?.into_iter().next();
    Ok(AnomalyAlertDto { monitor_id, enabled: w.is_some(), alerting_service_id: w.and_then(|w| w.alerting_service_id) })
}

#[utoipa::path(
    get,
    path = "/api/v1/monitors/{id}/anomaly-alert",
    tag = "monitors",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = AnomalyAlertDto))
)]
async fn get_watch(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<AnomalyAlertDto>, ApiError> {
    auth.require(Permission::Read)?;
    let m = state.db.get_monitor(parse_id(Entity::Monitor, &id)?).await?;
    Ok(Json(watch_dto(&state, m.monitor.id).await?))
}

/// Makes the monitor's latency anomalies raise warnings on its service (managers): an hour
/// whose mean latency is anomalous alerts (dedup key `latency-anomaly:{id without dashes}`, the
/// expected range in the details) and resolves once no hour of the last two is.
#[utoipa::path(
    put,
    path = "/api/v1/monitors/{id}/anomaly-alert",
    tag = "monitors",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = AnomalyAlertDto))
)]
async fn watch(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<AnomalyAlertDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let id = parse_id(Entity::Monitor, &id)?;
    crate::operations::anomalies::set_watch(&state, &auth, id, true).await?;
    Ok(Json(watch_dto(&state, id).await?))
}

/// Stops the monitor's latency anomalies alerting (managers); an alert that fires resolves.
#[utoipa::path(
    delete,
    path = "/api/v1/monitors/{id}/anomaly-alert",
    tag = "monitors",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = AnomalyAlertDto))
)]
async fn unwatch(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<AnomalyAlertDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let id = parse_id(Entity::Monitor, &id)?;
    crate::operations::anomalies::set_watch(&state, &auth, id, false).await?;
    Ok(Json(watch_dto(&state, id).await?))
}
