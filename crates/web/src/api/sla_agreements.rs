//! SLA agreements (`/api/v1/sla-agreements`): targets for the tickets of some services or some
//! requesters, on their own calendar, tried by position before the per-priority policies.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::operations::desk_settings::written_hours;
use crate::operations::sla_agreements::{self as op, AgreementForm};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::desk::agreement::TargetInput;
use opsdeck_store::desk::agreements::SlaAgreement;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_agreements, create_agreement)).routes(routes!(
        get_agreement,
        put_agreement,
        delete_agreement
    ))
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct TargetDto {
    #[schema(minimum = 1, maximum = 4)]
    pub priority: i64,
    /// Business minutes, 1 to 527040.
    #[schema(minimum = 1, maximum = 527040)]
    pub first_response_minutes: i64,
    #[schema(minimum = 1, maximum = 527040)]
    pub resolution_minutes: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AgreementDto {
    pub id: Uuid,
    pub name: String,
    /// Tried lowest first; the first that covers a ticket gives its targets.
    pub position: i32,
    /// The ticket's service is one of these (empty: any service).
    pub service_ids: Vec<Uuid>,
    /// The requester is one of these addresses or `@domain`s (empty: anyone).
    pub requesters: Vec<String>,
    /// One entry per priority, P1 first.
    pub targets: Vec<TargetDto>,
    pub timezone: String,
    /// Open hours per weekday, Monday first.
    pub week: Vec<Vec<String>>,
    pub holidays: Vec<String>,
    pub escalation_email: Option<String>,
    pub enabled: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn dto(a: SlaAgreement) -> AgreementDto {
    let (week, holidays) = written_hours(&a.spec.hours);
    let s = a.spec;
    let targets = (1..=4)
        .zip(s.targets)
        .map(|(priority, t)| TargetDto {
            priority,
            first_response_minutes: i64::from(t.first_response_minutes),
            resolution_minutes: i64::from(t.resolution_minutes),
        })
        .collect();
    AgreementDto {
        id: a.id,
        name: s.name,
        position: s.position,
        service_ids: s.service_ids,
        requesters: s.requesters,
        targets,
        timezone: s.hours.timezone,
        week,
        holidays,
        escalation_email: s.escalation_email,
        enabled: s.enabled,
        version: a.version,
        created_at: ts(a.created_at),
        updated_at: ts(a.updated_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    /// 0 to 10000; default 100.
    #[schema(minimum = 0, maximum = 10000)]
    pub position: Option<i64>,
    /// Up to 50 services (empty: any service).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub service_ids: Vec<Uuid>,
    /// Addresses or `@domain`s (empty: anyone).
    #[serde(default)]
    #[schema(schema_with = crate::api::ticket_schema::agreement_requesters)]
    pub requesters: Vec<String>,
    /// Exactly one entry per priority 1 to 4.
    #[schema(min_items = 4, max_items = 4)]
    pub targets: Vec<TargetDto>,
    #[schema(schema_with = crate::api::schema::timezone)]
    pub timezone: String,
    /// Seven lists of `HH:MM-HH:MM`, Monday first (an empty list: closed that day).
    #[schema(min_items = 7, max_items = 7)]
    pub week: Vec<Vec<String>>,
    /// Days the desk is closed (YYYY-MM-DD).
    #[serde(default)]
    #[schema(max_items = 1000, value_type = Vec<String>, format = Date)]
    pub holidays: Vec<String>,
    #[serde(default)]
    #[schema(schema_with = crate::api::schema::email_opt)]
    pub escalation_email: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// On an edit, the version you loaded (409 when it changed since).
    pub version: Option<i64>,
}

fn agreement_id(raw: &str) -> Result<Uuid, ApiError> {
    crate::extract::parse_id(opsdeck_core::Entity::SlaAgreement, raw)
}

fn form(b: AgreementBody) -> (AgreementForm, Option<i64>) {
    let targets = b
        .targets
        .iter()
        .map(|t| TargetInput {
            priority: t.priority,
            first_response_minutes: t.first_response_minutes,
            resolution_minutes: t.resolution_minutes,
        })
        .collect();
    let f = AgreementForm {
        name: b.name,
        position: b.position,
        service_ids: b.service_ids,
        requesters: b.requesters,
        targets,
        timezone: b.timezone,
        week: b.week,
        holidays: b.holidays,
        ical: None,
        escalation_email: b.escalation_email,
        enabled: b.enabled,
    };
    (f, b.version)
}

/// The SLA agreements in the order they are tried (agents: responders and up).
#[utoipa::path(get, path = "/api/v1/sla-agreements", tag = "tickets",
    responses((status = 200, body = List<AgreementDto>)))]
async fn list_agreements(State(state): State<AppState>, auth: Auth) -> Result<Json<List<AgreementDto>>, ApiError> {
    let items = op::list(&state, &auth).await?.into_iter().map(dto).collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Adds an SLA agreement (managers and up); open tickets it covers count under it at once.
/// 422 names every wrong field (an unknown service too); 409 past 100 agreements.
#[utoipa::path(post, path = "/api/v1/sla-agreements", tag = "tickets", request_body = AgreementBody,
    responses((status = 201, body = AgreementDto)))]
async fn create_agreement(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<AgreementBody>,
) -> Result<(StatusCode, Json<AgreementDto>), ApiError> {
    let (f, _) = form(b);
    let spec = op::spec_from(&f)?;
    Ok((StatusCode::CREATED, Json(dto(op::create(&state, &auth, &spec).await?))))
}

#[utoipa::path(get, path = "/api/v1/sla-agreements/{id}", tag = "tickets",
    params(("id" = Uuid, Path)), responses((status = 200, body = AgreementDto)))]
async fn get_agreement(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<AgreementDto>, ApiError> {
    Ok(Json(dto(op::get(&state, &auth, agreement_id(&id)?).await?)))
}

/// Replaces an SLA agreement (managers and up); open tickets' clocks follow at once.
#[utoipa::path(put, path = "/api/v1/sla-agreements/{id}", tag = "tickets",
    params(("id" = Uuid, Path)), request_body = AgreementBody, responses((status = 200, body = AgreementDto)))]
async fn put_agreement(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AgreementBody>,
) -> Result<Json<AgreementDto>, ApiError> {
    let id = agreement_id(&id)?;
    let (f, version) = form(b);
    let spec = op::spec_from(&f)?;
    Ok(Json(dto(op::update(&state, &auth, id, &spec, version).await?)))
}

/// Deletes an SLA agreement (managers and up): the tickets it covered count under the next
/// agreement that covers them, or their priority's policy.
#[utoipa::path(delete, path = "/api/v1/sla-agreements/{id}", tag = "tickets",
    params(("id" = Uuid, Path)), responses((status = 204)))]
async fn delete_agreement(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete(&state, &auth, agreement_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
