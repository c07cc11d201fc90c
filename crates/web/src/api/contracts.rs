//! Contracts with vendors and the CIs they cover, and the lifecycle reminder settings.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::operations::contracts as op;
use crate::operations::cursor;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_core::clock::from_millis;
use opsdeck_core::cmdb::contract::ContractInput;
use opsdeck_store::cmdb::contracts::{Contract, ContractFilter, CoveredCi};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contracts, create_contract))
        .routes(routes!(get_contract, update_contract, delete_contract))
        .routes(routes!(get_reminders, put_reminders))
}

fn day(d: chrono::NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

#[derive(Serialize, ToSchema)]
pub struct ContractEventDto {
    /// notice_deadline, contract_end or contract_renewal.
    pub event: String,
    pub date: String,
}

#[derive(Serialize, ToSchema)]
pub struct CoveredCiDto {
    pub id: Uuid,
    pub name: String,
    pub class: String,
}

#[derive(Serialize, ToSchema)]
pub struct ContractDto {
    pub id: Uuid,
    pub name: String,
    pub vendor: String,
    /// support, maintenance, warranty, licence, subscription, lease or other.
    pub kind: String,
    pub number: Option<String>,
    pub start_date: Option<String>,
    pub end_date: String,
    /// It runs another term unless cancelled by the notice deadline.
    pub auto_renew: bool,
    pub notice_days: u32,
    /// end_date less notice_days, when there is a notice period.
    pub notice_deadline: Option<String>,
    /// Its dates reminders announce, earliest first.
    pub events: Vec<ContractEventDto>,
    /// What one term costs.
    pub cost: Option<f64>,
    pub owner_team_id: Option<Uuid>,
    pub owner_team_name: Option<String>,
    pub notes: String,
    pub ci_count: i64,
    /// The CIs it covers (on `GET /api/v1/contracts/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cis: Option<Vec<CoveredCiDto>>,
    pub created_at: String,
    pub updated_at: String,
}

pub(crate) fn dto(c: Contract, cis: Option<Vec<CoveredCi>>) -> ContractDto {
    let events = c.events();
    ContractDto {
        notice_deadline: events
            .iter()
            .find(|(e, _)| *e == opsdeck_core::cmdb::contract::ContractEvent::NoticeDeadline)
            .map(|(_, d)| day(*d)),
        events: events.into_iter().map(|(e, d)| ContractEventDto { event: e.as_str().into(), date: day(d) }).collect(),
        id: c.id,
        name: c.name,
        vendor: c.vendor,
        kind: c.kind.as_str().into(),
        number: c.number,
        start_date: c.start_date.map(day),
        end_date: day(c.end_date),
        auto_renew: c.auto_renew,
        notice_days: c.notice_days,
        cost: c.cost_cents.map(|c| c as f64 / 100.0),
        owner_team_id: c.owner_team_id,
        owner_team_name: c.owner_team_name,
        notes: c.notes,
        ci_count: c.ci_count,
        cis: cis.map(|v| {
            v.into_iter().map(|c| CoveredCiDto { id: c.id, name: c.name, class: c.class.as_str().into() }).collect()
        }),
        created_at: ts(c.created_at),
        updated_at: ts(c.updated_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    /// Who the contract is with.
    #[schema(schema_with = crate::api::schema::name)]
    pub vendor: String,
    /// Default support.
    #[schema(schema_with = crate::api::schema::contract_kind_opt)]
    pub kind: Option<String>,
    /// The vendor's contract or agreement number.
    #[schema(schema_with = crate::api::schema::contract_number_opt)]
    pub number: Option<String>,
    #[schema(schema_with = crate::api::schema::date_opt)]
    pub start_date: Option<String>,
    /// When the term ends (or renews); not before start_date.
    #[schema(schema_with = crate::api::schema::date)]
    pub end_date: String,
    /// It renews by itself unless cancelled by the notice deadline (default false).
    pub auto_renew: Option<bool>,
    /// Days of notice before end_date to cancel or renegotiate (default 0).
    #[schema(minimum = 0, maximum = 730)]
    pub notice_days: Option<i64>,
    /// What one term costs, in the instance's currency.
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    pub cost: Option<f64>,
    pub owner_team_id: Option<Uuid>,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub notes: Option<String>,
    /// The CIs it covers (at most 1,000).
    #[schema(max_items = 1000)]
    pub ci_ids: Option<Vec<Uuid>>,
}

impl ContractBody {
    fn input(self) -> ContractInput {
        ContractInput {
            name: self.name,
            vendor: self.vendor,
            kind: self.kind,
            number: self.number,
            start_date: self.start_date,
            end_date: self.end_date,
            auto_renew: self.auto_renew.unwrap_or(false),
            notice_days: self.notice_days,
            cost: self.cost,
            owner_team_id: self.owner_team_id,
            notes: self.notes,
            ci_ids: self.ci_ids.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ContractQuery {
    /// Only this vendor's contracts (exact name).
    pub vendor: Option<String>,
    /// Only contracts covering this CI.
    pub ci_id: Option<Uuid>,
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
}

/// Lists contracts by name.
#[utoipa::path(
    get,
    path = "/api/v1/contracts",
    tag = "cmdb",
    params(ContractQuery),
    responses((status = 200, body = List<ContractDto>))
)]
async fn list_contracts(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ContractQuery>,
) -> Result<Json<List<ContractDto>>, ApiError> {
    let filter = ContractFilter {
        vendor: q.vendor.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()),
        ci_id: q.ci_id,
        cursor: cursor(q.cursor.as_deref())?,
        limit: super::limit(q.limit)?,
    };
    let page = op::list(&state, &auth, &filter).await?;
    Ok(Json(List::from_page(page, |c| dto(c, None))))
}

/// Records a contract (managers and admins).
#[utoipa::path(
    post,
    path = "/api/v1/contracts",
    tag = "cmdb",
    request_body = ContractBody,
    responses((status = 201, body = ContractDto))
)]
async fn create_contract(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ContractBody>,
) -> Result<(StatusCode, Json<ContractDto>), ApiError> {
    let c = op::create(&state, &auth, &body.input()).await?;
    let id = c.id;
    let (c, cis) = op::get(&state, &auth, id).await?;
    Ok((StatusCode::CREATED, Json(dto(c, Some(cis)))))
}

/// A contract with the CIs it covers.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{id}",
    tag = "cmdb",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ContractDto))
)]
async fn get_contract(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<ContractDto>, ApiError> {
    let (c, cis) = op::get(&state, &auth, parse_id(Entity::Contract, &id)?).await?;
    Ok(Json(dto(c, Some(cis))))
}

/// Replaces a contract's fields and the CIs it covers (managers and admins).
#[utoipa::path(
    put,
    path = "/api/v1/contracts/{id}",
    tag = "cmdb",
    params(("id" = Uuid, Path)),
    request_body = ContractBody,
    responses((status = 200, body = ContractDto))
)]
async fn update_contract(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ContractBody>,
) -> Result<Json<ContractDto>, ApiError> {
    let id = parse_id(Entity::Contract, &id)?;
    op::update(&state, &auth, id, &body.input()).await?;
    let (c, cis) = op::get(&state, &auth, id).await?;
    Ok(Json(dto(c, Some(cis))))
}

/// Deletes a contract (managers and admins); the CIs stay.
#[utoipa::path(
    delete,
    path = "/api/v1/contracts/{id}",
    tag = "cmdb",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_contract(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete(&state, &auth, parse_id(Entity::Contract, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct ReminderDeliveryDto {
    pub recipient: String,
    pub subject: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct RemindersDto {
    /// Who gets the reminder digests; nobody is reminded while this is empty.
    pub recipients: Vec<String>,
    /// How many days ahead each date is announced, ascending.
    pub lead_days: Vec<u32>,
    /// The newest reminder e-mails.
    pub deliveries: Vec<ReminderDeliveryDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemindersBody {
    /// 0 to 20 e-mail addresses (none turns reminders off).
    #[schema(max_items = 20)]
    pub recipients: Vec<String>,
    /// 1 to 6 lead times, 1 to 730 days each (default 90, 30 and 7).
    #[schema(min_items = 1, max_items = 6)]
    pub lead_days: Option<Vec<i64>>,
}

/// Who gets lifecycle reminders and how far ahead (managers and admins): warranties, vendor
/// support and lives of CIs ending, and contracts' notice deadlines, ends and renewals.
#[utoipa::path(get, path = "/api/v1/cmdb/reminders", tag = "cmdb", responses((status = 200, body = RemindersDto)))]
async fn get_reminders(State(state): State<AppState>, auth: Auth) -> Result<Json<RemindersDto>, ApiError> {
    let (s, deliveries) = op::reminder_settings(&state, &auth).await?;
    Ok(Json(RemindersDto {
        recipients: s.recipients,
        lead_days: s.lead_days,
        deliveries: deliveries
            .into_iter()
            .map(|d| ReminderDeliveryDto {
                recipient: d.recipient,
                subject: d.subject,
                status: d.status,
                last_error: d.last_error,
                sent_at: d.sent_at.map(|t| ts(from_millis(t))),
                created_at: ts(from_millis(d.created_at)),
            })
            .collect(),
    }))
}

/// Sets who gets lifecycle reminders and how far ahead (managers and admins). Dates already
/// within a lead time are announced at once.
#[utoipa::path(
    put,
    path = "/api/v1/cmdb/reminders",
    tag = "cmdb",
    request_body = RemindersBody,
    responses((status = 200, body = RemindersDto))
)]
async fn put_reminders(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<RemindersBody>,
) -> Result<Json<RemindersDto>, ApiError> {
    let leads: Vec<i64> = match body.lead_days {
        Some(l) => l,
        None => opsdeck_core::cmdb::reminder::LEADS_DEFAULT.iter().map(|d| i64::from(*d)).collect(),
    };
    op::save_reminder_settings(&state, &auth, &body.recipients, &leads).await?;
    get_reminders(State(state), auth).await
}
