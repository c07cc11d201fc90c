//! Maintenance windows: planned time when monitors show `maintenance`, raise no alerts, and
//! are left out of adjusted availability.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, double_option, parse_id};
use crate::operations::maintenance as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::maintenance::WindowInput;
use opsdeck_core::role::Permission;
use opsdeck_store::maintenance::Window;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_windows, create_window)).routes(routes!(
        get_window,
        update_window,
        delete_window
    ))
}

#[derive(Serialize, ToSchema)]
pub struct WindowDto {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// First occurrence (RFC 3339).
    pub starts_at: String,
    pub duration_minutes: i32,
    /// RRULE body (e.g. `FREQ=WEEKLY;BYDAY=SU`), evaluated in `timezone`; null for one-off.
    pub rrule: Option<String>,
    pub timezone: String,
    pub service_ids: Vec<Uuid>,
    pub monitor_ids: Vec<Uuid>,
    /// In force right now.
    pub active: bool,
    /// The current or next occurrence.
    pub next_start: Option<String>,
    pub next_end: Option<String>,
    /// Set when the stored window cannot be evaluated (it is then never in force), saying why.
    pub problem: Option<String>,
}

impl WindowDto {
    pub fn new(w: Window, now: DateTime<Utc>) -> Self {
        let next = w.spec.next(now);
        WindowDto {
            problem: w.spec.problem(),
            active: w.spec.is_active(now),
            next_start: next.map(|n| ts(n.0)),
            next_end: next.map(|n| ts(n.1)),
            id: w.id,
            name: w.spec.name,
            description: w.spec.description,
            starts_at: ts(w.spec.starts_at),
            duration_minutes: w.spec.duration_minutes,
            rrule: w.spec.rrule,
            timezone: w.spec.timezone,
            service_ids: w.spec.service_ids,
            monitor_ids: w.spec.monitor_ids,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowBody {
    #[schema(schema_with = crate::api::schema::name_opt)]
    pub name: Option<String>,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    /// RFC 3339, e.g. `2026-11-29T02:00:00+01:00`.
    #[schema(schema_with = crate::api::schema::date_time_opt)]
    pub starts_at: Option<String>,
    #[schema(minimum = 1, maximum = 10080)]
    pub duration_minutes: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = crate::api::schema::rrule_opt)]
    pub rrule: Option<Option<String>>,
    #[schema(schema_with = crate::api::schema::timezone_opt)]
    pub timezone: Option<String>,
    #[schema(max_items = 500)]
    pub service_ids: Option<Vec<Uuid>>,
    #[schema(max_items = 500)]
    pub monitor_ids: Option<Vec<Uuid>>,
}

impl WindowBody {
    pub fn input(self) -> Result<WindowInput, ApiError> {
        let starts_at = self.starts_at.map(|s| crate::operations::parse_time("starts_at", &s)).transpose()?;
        Ok(WindowInput {
            name: self.name,
            description: self.description,
            starts_at,
            duration_minutes: self.duration_minutes,
            rrule: self.rrule,
            timezone: self.timezone,
            service_ids: self.service_ids,
            monitor_ids: self.monitor_ids,
        })
    }
}

/// Every maintenance window, latest first.
#[utoipa::path(
    get,
    path = "/api/v1/maintenance",
    tag = "maintenance",
    responses((status = 200, body = List<WindowDto>))
)]
async fn list_windows(State(state): State<AppState>, auth: Auth) -> Result<Json<List<WindowDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let now = state.now();
    let items = state.db.list_windows().await?.into_iter().map(|w| WindowDto::new(w, now)).collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Plans a maintenance window (manager or admin).
#[utoipa::path(
    post,
    path = "/api/v1/maintenance",
    tag = "maintenance",
    request_body = WindowBody,
    responses((status = 201, body = WindowDto))
)]
async fn create_window(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<WindowBody>,
) -> Result<(StatusCode, Json<WindowDto>), ApiError> {
    auth.require(Permission::Configure)?;
    let w = op::create_window(&state, &auth, body.input()?).await?;
    Ok((StatusCode::CREATED, Json(WindowDto::new(w, state.now()))))
}

/// One window.
#[utoipa::path(
    get,
    path = "/api/v1/maintenance/{id}",
    tag = "maintenance",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WindowDto))
)]
async fn get_window(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<WindowDto>, ApiError> {
    auth.require(Permission::Read)?;
    let w = state.db.get_window(parse_id(Entity::MaintenanceWindow, &id)?).await?;
    Ok(Json(WindowDto::new(w, state.now())))
}

/// Changes a window.
#[utoipa::path(
    patch,
    path = "/api/v1/maintenance/{id}",
    tag = "maintenance",
    params(("id" = Uuid, Path)),
    request_body = WindowBody,
    responses((status = 200, body = WindowDto))
)]
async fn update_window(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WindowBody>,
) -> Result<Json<WindowDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let current = state.db.get_window(parse_id(Entity::MaintenanceWindow, &id)?).await?;
    let w = op::update_window(&state, &auth, &current, body.input()?).await?;
    Ok(Json(WindowDto::new(w, state.now())))
}

/// Deletes a window.
#[utoipa::path(
    delete,
    path = "/api/v1/maintenance/{id}",
    tag = "maintenance",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_window(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    op::delete_window(&state, &auth, parse_id(Entity::MaintenanceWindow, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
