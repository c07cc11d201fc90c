//! The desk's settings (`/api/v1/desk/settings`: the priority matrix, auto-close) and an agent's
//! override of a ticket's priority.

use super::tickets::{SlaPolicyDto, TicketDto, dto, policy_dto};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::operations::desk_settings::{self as op, DeskSettings};
use axum::Json;
use axum::extract::{Path, State};
use opsdeck_core::desk::ticket::PriorityMatrix;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(set_priority))
        .routes(routes!(import_holidays))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeskSettingsDto {
    /// Priority 1–4 by impact (rows, 1 first) and urgency (columns, 1 first). A new matrix
    /// applies to tickets raised from then on.
    #[schema(schema_with = crate::api::ticket_schema::priority_matrix)]
    pub priority_matrix: [[u8; 4]; 4],
    /// Resolved tickets are closed this many days after their resolution; 0 never closes them.
    #[schema(minimum = 0, maximum = 365)]
    pub auto_close_days: u32,
}

fn settings_dto(s: DeskSettings) -> DeskSettingsDto {
    DeskSettingsDto { priority_matrix: s.matrix.cells, auto_close_days: s.auto_close_days }
}

/// The desk's settings (responders and up).
#[utoipa::path(get, path = "/api/v1/desk/settings", tag = "tickets",
    responses((status = 200, body = DeskSettingsDto)))]
async fn get_settings(State(state): State<AppState>, auth: Auth) -> Result<Json<DeskSettingsDto>, ApiError> {
    Ok(Json(settings_dto(op::settings(&state, &auth).await?)))
}

/// Saves the desk's settings (managers and up); each change is audited. 422 names a priority
/// outside 1–4 or days outside 0–365.
#[utoipa::path(put, path = "/api/v1/desk/settings", tag = "tickets", request_body = DeskSettingsDto,
    responses((status = 200, body = DeskSettingsDto)))]
async fn put_settings(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<DeskSettingsDto>,
) -> Result<Json<DeskSettingsDto>, ApiError> {
    let s = DeskSettings { matrix: PriorityMatrix { cells: b.priority_matrix }, auto_close_days: b.auto_close_days };
    Ok(Json(settings_dto(op::save(&state, &auth, &s).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityBody {
    #[schema(minimum = 1, maximum = 4)]
    pub priority: i64,
    /// Why (required): kept on the ticket, as an internal note and in the audit log.
    #[schema(schema_with = crate::api::ticket_schema::reason)]
    pub reason: String,
    pub version: Option<i64>,
}

/// Overrides a ticket's priority (responders and up): its SLA targets follow at once. 422 when
/// it has that priority already or no reason is given; 409 on a closed ticket or a stale version.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/priority", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")), request_body = PriorityBody,
    responses((status = 200, body = TicketDto)))]
async fn set_priority(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PriorityBody>,
) -> Result<Json<TicketDto>, ApiError> {
    let v = crate::operations::tickets::set_priority(&state, &auth, &id, b.priority, &b.reason, b.version).await?;
    Ok(Json(dto(v)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidaysBody {
    /// An iCalendar file's text (at most 900,000 bytes): each event's days (DTSTART up to
    /// DTEND) join the priority's holidays.
    #[schema(max_length = 225000)]
    pub ical: String,
}

/// Imports holidays from an iCalendar file into a priority's SLA policy (managers and up): open
/// tickets' clocks follow at once. 422 names a file that is not iCalendar or holds no events.
#[utoipa::path(post, path = "/api/v1/sla-policies/{priority}/holidays", tag = "tickets",
    params(("priority" = String, Path, description = "1 to 4", pattern = "^[1-4]$")), request_body = HolidaysBody,
    responses((status = 200, body = SlaPolicyDto)))]
async fn import_holidays(
    State(state): State<AppState>,
    auth: Auth,
    Path(priority): Path<String>,
    ApiJson(b): ApiJson<HolidaysBody>,
) -> Result<Json<SlaPolicyDto>, ApiError> {
    let priority = match priority.parse::<u8>() {
        Ok(p @ 1..=4) => p,
        _ => return Err(ApiError::invalid("priority", "must be 1 to 4")),
    };
    Ok(Json(policy_dto(op::import_holidays(&state, &auth, priority, &b.ical).await?)))
}
