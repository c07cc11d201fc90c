//! Service level objectives: availability of a service's monitors against a target over a
//! rolling or calendar-month window, with the error budget left and the burn rates now.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::operations::slos as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_core::role::Permission;
use opsdeck_core::slo::{SloSpec, SloWindow, Urgency};
use opsdeck_store::slo::Slo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_slos, create_slo)).routes(routes!(get_slo, update_slo, delete_slo))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SliBody {
    /// `availability`: the share of checks that passed.
    #[schema(pattern = "^availability$")]
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(min_items = 1, max_items = 100)]
    pub monitor_ids: Vec<Uuid>,
}

/// `{"rolling_days": 28}`, or `{"calendar_month": true, "time_zone": "Europe/Berlin"}`.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SloWindowBody {
    #[schema(minimum = 1, maximum = 90)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rolling_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_month: Option<bool>,
    /// For a calendar month: the zone its days begin in (default UTC).
    #[schema(schema_with = crate::api::schema::timezone_opt)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SloBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    pub service_id: Uuid,
    pub sli: SliBody,
    /// The good share to reach, e.g. 0.999.
    #[schema(minimum = 0.5, maximum = 0.99999)]
    pub target: f64,
    pub window: SloWindowBody,
    /// Checks during maintenance count neither good nor bad (default true).
    pub exclude_maintenance: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct BurnAlertDto {
    /// `page` or `ticket`.
    pub urgency: String,
    pub long_window: String,
    pub short_window: String,
    pub factor: f64,
}

#[derive(Serialize, ToSchema)]
pub struct SloDto {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub service_id: Uuid,
    pub sli: SliBody,
    pub target: f64,
    pub window: SloWindowBody,
    pub exclude_maintenance: bool,
    /// Where the current window began.
    pub window_start: String,
    /// Checks counted over the window.
    pub good: u64,
    pub total: u64,
    /// The good share over the window; null without checks (no data is neither good nor bad).
    pub sli_value: Option<f64>,
    /// The share of the error budget left (1 untouched, 0 spent, negative overspent); null
    /// without checks.
    pub error_budget_remaining: Option<f64>,
    /// Burn rate by span (`5m`, `30m`, `1h`, `2h`, `6h`, `1d`, `3d`); null: no checks in it.
    pub burn_rates: BTreeMap<String, Option<f64>>,
    /// The multiwindow burn-rate rules that fire now.
    pub alerts: Vec<BurnAlertDto>,
    pub created_at: String,
}

fn span_label(d: chrono::Duration) -> String {
    opsdeck_core::slo::burn_windows()
        .iter()
        .find(|w| w.1 == d)
        .map_or_else(|| format!("{}s", d.num_seconds()), |w| w.0.to_owned())
}

async fn dto(state: &AppState, s: Slo) -> Result<SloDto, ApiError> {
    let e = op::evaluate(state, &s).await?;
    let window = match &s.spec.window {
        SloWindow::Rolling { days } => {
            SloWindowBody { rolling_days: Some(i64::from(*days)), calendar_month: None, time_zone: None }
        }
        SloWindow::CalendarMonth { time_zone } => {
            SloWindowBody { rolling_days: None, calendar_month: Some(true), time_zone: Some(time_zone.clone()) }
        }
    };
    Ok(SloDto {
        id: s.id,
        name: s.spec.name,
        description: s.spec.description,
        service_id: s.spec.service_id,
        sli: SliBody { kind: "availability".into(), monitor_ids: s.spec.monitor_ids },
        target: s.spec.target,
        window,
        exclude_maintenance: s.spec.exclude_maintenance,
        window_start: ts(e.window_start),
        good: e.counts.good,
        total: e.counts.total,
        sli_value: e.sli,
        error_budget_remaining: e.budget_remaining,
        burn_rates: e.burn_rates.into_iter().map(|(l, r)| (l.to_owned(), r)).collect(),
        alerts: e
            .firing
            .iter()
            .map(|r| BurnAlertDto {
                urgency: match r.urgency {
                    Urgency::Page => "page".into(),
                    Urgency::Ticket => "ticket".into(),
                },
                long_window: span_label(r.long),
                short_window: span_label(r.short),
                factor: r.factor,
            })
            .collect(),
        created_at: ts(s.created_at),
    })
}

impl SloBody {
    fn spec(self) -> Result<SloSpec, ApiError> {
        if self.sli.kind != "availability" {
            return Err(ApiError::invalid("sli", "type must be availability (the share of checks that passed)"));
        }
        let w = self.window;
        let window = match (w.rolling_days, w.calendar_month.unwrap_or(false)) {
            (Some(days), false) => SloWindow::rolling(days),
            (None, true) => SloWindow::calendar_month(w.time_zone.as_deref().unwrap_or("UTC")),
            _ => Err(opsdeck_core::Error::invalid(
                "window",
                "give either rolling_days (1 to 90) or calendar_month: true (with an optional time_zone)",
            )),
        };
        Ok(SloSpec::new(
            &self.name,
            self.description.as_deref().unwrap_or(""),
            self.service_id,
            self.sli.monitor_ids,
            self.target,
            window,
            self.exclude_maintenance.unwrap_or(true),
        )?)
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SloQuery {
    /// Only this service's SLOs.
    pub service_id: Option<Uuid>,
}

/// SLOs by name with their SLI, budget and burn rates now (at most 500).
#[utoipa::path(
    get,
    path = "/api/v1/slos",
    tag = "slos",
    params(SloQuery),
    responses((status = 200, body = List<SloDto>))
)]
async fn list_slos(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<SloQuery>,
) -> Result<Json<List<SloDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let mut items = Vec::new();
    for s in state.db.list_slos(q.service_id, 500).await? {
        items.push(dto(&state, s).await?);
    }
    Ok(Json(List { items, next_cursor: None }))
}

/// Defines an SLO (managers).
#[utoipa::path(
    post,
    path = "/api/v1/slos",
    tag = "slos",
    request_body = SloBody,
    responses((status = 201, body = SloDto))
)]
async fn create_slo(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<SloBody>,
) -> Result<(StatusCode, Json<SloDto>), ApiError> {
    auth.require(Permission::Configure)?;
    let s = op::create(&state, &auth, body.spec()?).await?;
    Ok((StatusCode::CREATED, Json(dto(&state, s).await?)))
}

#[utoipa::path(
    get,
    path = "/api/v1/slos/{id}",
    tag = "slos",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SloDto))
)]
async fn get_slo(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Json<SloDto>, ApiError> {
    auth.require(Permission::Read)?;
    let s = state.db.get_slo(parse_id(Entity::Slo, &id)?).await?;
    Ok(Json(dto(&state, s).await?))
}

/// Replaces an SLO's definition (managers): the same body as creating it.
#[utoipa::path(
    put,
    path = "/api/v1/slos/{id}",
    tag = "slos",
    params(("id" = Uuid, Path)),
    request_body = SloBody,
    responses((status = 200, body = SloDto))
)]
async fn update_slo(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SloBody>,
) -> Result<Json<SloDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let before = state.db.get_slo(parse_id(Entity::Slo, &id)?).await?;
    let s = op::update(&state, &auth, &before, body.spec()?).await?;
    Ok(Json(dto(&state, s).await?))
}

/// Deletes an SLO (managers).
#[utoipa::path(
    delete,
    path = "/api/v1/slos/{id}",
    tag = "slos",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_slo(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    let s = state.db.get_slo(parse_id(Entity::Slo, &id)?).await?;
    op::delete(&state, &auth, &s).await?;
    Ok(StatusCode::NO_CONTENT)
}
