//! Scheduled operations reports: who gets the weekly or monthly KPI report by e-mail.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, parse_id};
use crate::operations::report_schedules as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_core::clock::from_millis;
use opsdeck_core::report_schedule::ReportScheduleSpec;
use opsdeck_core::role::Permission;
use opsdeck_store::report_schedule::ReportSchedule;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(get_schedule, delete_schedule))
        .routes(routes!(send_now))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportScheduleBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    /// `weekly` (Monday to Monday, UTC) or `monthly` (a calendar month, UTC).
    #[schema(pattern = r"^[\t\n\x0b\x0c\r ]*(weekly|monthly)[\t\n\x0b\x0c\r ]*$")]
    pub cadence: String,
    /// 1 to 20 e-mail addresses.
    #[schema(min_items = 1, max_items = 20)]
    pub recipients: Vec<String>,
    /// Only this service's figures; all services when absent.
    pub service_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct ReportDeliveryDto {
    /// The period's label (with "sent by hand" and a time for a "send now").
    pub period: String,
    pub recipient: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReportScheduleDto {
    pub id: Uuid,
    pub name: String,
    pub cadence: String,
    pub recipients: Vec<String>,
    pub service_id: Option<Uuid>,
    /// The last period queued (for a new schedule, the one that was due when it was made).
    pub last_period: String,
    pub last_sent_at: Option<String>,
    pub created_at: String,
    /// The newest e-mails (on `GET /api/v1/report-schedules/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<ReportDeliveryDto>>,
}

fn dto(s: ReportSchedule) -> ReportScheduleDto {
    ReportScheduleDto {
        id: s.id,
        name: s.spec.name,
        cadence: s.spec.cadence.as_str().to_owned(),
        recipients: s.spec.recipients,
        service_id: s.spec.service_id,
        last_period: s.last_period,
        last_sent_at: s.last_sent_at.map(ts),
        created_at: ts(s.created_at),
        deliveries: None,
    }
}

/// Scheduled reports (managers: they name people's addresses).
#[utoipa::path(
    get,
    path = "/api/v1/report-schedules",
    tag = "reports",
    responses((status = 200, body = List<ReportScheduleDto>))
)]
async fn list_schedules(State(state): State<AppState>, auth: Auth) -> Result<Json<List<ReportScheduleDto>>, ApiError> {
    // Managers: schedules name people's addresses and the mail server's errors.
    auth.require(Permission::Configure)?;
    let items = state.db.list_report_schedules().await?.into_iter().map(dto).collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Schedules a report (managers). The first e-mail goes out when the next period ends.
#[utoipa::path(
    post,
    path = "/api/v1/report-schedules",
    tag = "reports",
    request_body = ReportScheduleBody,
    responses((status = 201, body = ReportScheduleDto))
)]
async fn create_schedule(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<ReportScheduleBody>,
) -> Result<(StatusCode, Json<ReportScheduleDto>), ApiError> {
    auth.require(Permission::Configure)?;
    let spec = ReportScheduleSpec::new(&b.name, &b.cadence, &b.recipients, b.service_id)?;
    Ok((StatusCode::CREATED, Json(dto(op::create(&state, &auth, spec).await?))))
}

/// A schedule with its newest e-mails (managers).
#[utoipa::path(
    get,
    path = "/api/v1/report-schedules/{id}",
    tag = "reports",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ReportScheduleDto))
)]
async fn get_schedule(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<ReportScheduleDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let s = state.db.get_report_schedule(parse_id(Entity::ReportSchedule, &id)?).await?;
    let deliveries = state
        .db
        .report_deliveries(s.id, 50)
        .await?
        .into_iter()
        .map(|d| ReportDeliveryDto {
            period: d.period,
            recipient: d.recipient,
            status: d.status,
            last_error: d.last_error,
            sent_at: d.sent_at.map(|t| ts(from_millis(t))),
            created_at: ts(from_millis(d.created_at)),
        })
        .collect();
    Ok(Json(ReportScheduleDto { deliveries: Some(deliveries), ..dto(s) }))
}

/// Deletes a schedule and its e-mails (managers).
#[utoipa::path(
    delete,
    path = "/api/v1/report-schedules/{id}",
    tag = "reports",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_schedule(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    let s = state.db.get_report_schedule(parse_id(Entity::ReportSchedule, &id)?).await?;
    op::delete(&state, &auth, &s).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct SentNow {
    /// E-mails queued: one per recipient.
    pub queued: usize,
}

/// E-mails the last ended period's report to the schedule's recipients now (managers).
#[utoipa::path(
    post,
    path = "/api/v1/report-schedules/{id}/send",
    tag = "reports",
    params(("id" = Uuid, Path)),
    responses((status = 202, body = SentNow))
)]
async fn send_now(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<SentNow>), ApiError> {
    auth.require(Permission::Configure)?;
    let s = state.db.get_report_schedule(parse_id(Entity::ReportSchedule, &id)?).await?;
    let queued = crate::report_mailer::send_now(&state, &auth, &s).await?;
    Ok((StatusCode::ACCEPTED, Json(SentNow { queued })))
}
