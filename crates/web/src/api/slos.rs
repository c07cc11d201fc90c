//! Service level objectives: an SLI (a service's monitors, pushed good/total counts, or two
//! PromQL queries) against a target over a rolling or calendar-month window, with the error
//! budget left and the burn rates now.

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
use opsdeck_core::slo::{Sli, SloSpec, SloWindow, Urgency};
use opsdeck_store::slo::Slo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_slos, create_slo))
        .routes(routes!(get_slo, update_slo, delete_slo))
        .routes(routes!(push_events))
}

/// What the SLI measures. `availability`: the share of `monitor_ids`' checks that passed.
/// `latency`: the share of their checks answered within `threshold_ms` (a latency bucket bound:
/// 1, 2.5, 5, 10, 25, 50, 75, 100, 150, 250, 400, 600, 1000, 2500, 5000 or 10000).
/// `events`: good/total counts pushed to `/api/v1/slos/{id}/events`. `prometheus`: the ratio of
/// `good_query` (or 1 − `bad_query`) to `total_query` on `prometheus_url`; each query holds
/// `{{.window}}` where the span goes, e.g. `sum(rate(http_requests_total[{{.window}}]))`.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SliBody {
    #[schema(pattern = "^(availability|latency|events|prometheus)$")]
    #[serde(rename = "type")]
    pub kind: String,
    /// For `availability` and `latency`: 1 to 100 monitors.
    #[schema(max_items = 100)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_ids: Option<Vec<Uuid>>,
    /// For `latency`: the bound a check must be answered within, in milliseconds.
    #[schema(minimum = 1, maximum = 10000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_ms: Option<f64>,
    /// For `prometheus`: the server's base URL (no user name or password: readers see it).
    #[schema(max_length = 2048)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_url: Option<String>,
    #[schema(max_length = 4000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub good_query: Option<String>,
    #[schema(max_length = 4000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_query: Option<String>,
    #[schema(max_length = 4000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_query: Option<String>,
}

impl SliBody {
    fn of(sli: &Sli) -> SliBody {
        let mut b = SliBody {
            kind: sli.kind().into(),
            monitor_ids: None,
            threshold_ms: None,
            prometheus_url: None,
            good_query: None,
            bad_query: None,
            total_query: None,
        };
        match sli {
            Sli::Availability { monitor_ids } => b.monitor_ids = Some(monitor_ids.clone()),
            Sli::Latency { monitor_ids, threshold_ms } => {
                b.monitor_ids = Some(monitor_ids.clone());
                b.threshold_ms = Some(*threshold_ms);
            }
            Sli::Events => {}
            Sli::Prometheus(p) => {
                b.prometheus_url = Some(p.url.clone());
                b.good_query = p.good_query.clone();
                b.bad_query = p.bad_query.clone();
                b.total_query = Some(p.total_query.clone());
            }
        }
        b
    }

    fn sli(self) -> opsdeck_core::Result<Sli> {
        let only = |what: &str, extra: bool| {
            if extra {
                Err(opsdeck_core::Error::invalid("sli", format!("a {} SLI takes {what}", self.kind)))
            } else {
                Ok(())
            }
        };
        let prom = self.prometheus_url.is_some()
            || self.good_query.is_some()
            || self.bad_query.is_some()
            || self.total_query.is_some();
        let threshold = self.threshold_ms.is_some();
        match self.kind.as_str() {
            "availability" => {
                only("only monitor_ids", prom || threshold)?;
                Sli::availability(self.monitor_ids.clone().unwrap_or_default())
            }
            "latency" => {
                only("only monitor_ids and threshold_ms", prom)?;
                let t = self.threshold_ms.ok_or_else(|| {
                    opsdeck_core::Error::invalid("sli.threshold_ms", "give the latency bound in milliseconds")
                })?;
                Sli::latency(self.monitor_ids.clone().unwrap_or_default(), t)
            }
            "events" => {
                only(
                    "no other field (push its counts to /api/v1/slos/{id}/events)",
                    prom || threshold || self.monitor_ids.is_some(),
                )?;
                Ok(Sli::Events)
            }
            "prometheus" => {
                only(
                    "prometheus_url, good_query or bad_query, and total_query",
                    self.monitor_ids.is_some() || threshold,
                )?;
                Sli::prometheus(
                    self.prometheus_url.as_deref().unwrap_or_default(),
                    self.good_query.as_deref(),
                    self.bad_query.as_deref(),
                    self.total_query.as_deref().unwrap_or_default(),
                )
            }
            _ => Err(opsdeck_core::Error::invalid("sli", "type must be availability, latency, events or prometheus")),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SloEventBody {
    /// The minute the counts belong to (counts of the same minute add up).
    #[schema(schema_with = crate::api::schema::date_time)]
    pub at: String,
    #[schema(maximum = 1000000000000_u64)]
    pub good: u64,
    /// At least `good`.
    #[schema(maximum = 1000000000000_u64)]
    pub total: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SloEventsBody {
    /// 1 to 10,000 entries, each within the last 92 days.
    #[schema(min_items = 1, max_items = 10000)]
    pub events: Vec<SloEventBody>,
}

#[derive(Serialize, ToSchema)]
pub struct SloEventsAccepted {
    pub accepted: usize,
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
    /// Good and total over the window: checks or pushed events (whole numbers), or the values
    /// of the two Prometheus queries; null when the SLI cannot be read now.
    #[schema(value_type = Option<f64>)]
    pub good: Option<serde_json::Number>,
    #[schema(value_type = Option<f64>)]
    pub total: Option<serde_json::Number>,
    /// Why the SLI cannot be read now (its Prometheus server failed); the figures are then null.
    pub source_error: Option<String>,
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

/// Whole counts as integers (checks, pushed events), anything else as a real.
fn count(v: f64) -> serde_json::Number {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        serde_json::Number::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).unwrap_or_else(|| 0.into())
    }
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
        sli: SliBody::of(&s.spec.sli),
        target: s.spec.target,
        window,
        exclude_maintenance: s.spec.exclude_maintenance,
        window_start: ts(e.window_start),
        good: e.source_error.is_none().then(|| count(e.counts.good)),
        total: e.source_error.is_none().then(|| count(e.counts.total)),
        source_error: e.source_error,
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
            self.sli.sli(),
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
    use futures_util::{StreamExt, TryStreamExt};
    let slos = state.db.list_slos(q.service_id, 500).await?;
    // A few side by side: SLOs on a Prometheus server wait for its answers.
    let items = futures_util::stream::iter(slos).map(|s| dto(&state, s)).buffered(8).try_collect().await?;
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

/// Adds good/total counts to an SLO whose SLI is `events` (responders and up).
#[utoipa::path(
    post,
    path = "/api/v1/slos/{id}/events",
    tag = "slos",
    params(("id" = Uuid, Path)),
    request_body = SloEventsBody,
    responses((status = 200, body = SloEventsAccepted))
)]
async fn push_events(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SloEventsBody>,
) -> Result<Json<SloEventsAccepted>, ApiError> {
    auth.require(Permission::Respond)?;
    let s = state.db.get_slo(parse_id(Entity::Slo, &id)?).await?;
    let max = opsdeck_core::slo::EVENTS_PER_PUSH_MAX;
    let mut entries = Vec::with_capacity(body.events.len().min(max));
    for (i, e) in body.events.into_iter().enumerate().take(max + 1) {
        let at = opsdeck_core::time::parse_rfc3339("events", &e.at)
            .map_err(|_| ApiError::invalid("events", format!("entry {i}: `at` must be an RFC 3339 time")))?;
        entries.push((at, e.good, e.total));
    }
    let accepted = op::push_events(&state, &auth, &s, &entries).await?;
    Ok(Json(SloEventsAccepted { accepted }))
}
