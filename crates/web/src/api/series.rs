//! Metric series for capacity forecasts: push points, list, forecast, delete.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::operations::series::{self as op, Forecast};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::role::Permission;
use opsdeck_core::series::{ForecastSpec, Method, Point};
use opsdeck_store::series::Series;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_series))
        .routes(routes!(get_series, delete_series))
        .routes(routes!(push_points))
        .routes(routes!(forecast))
        .routes(routes!(set_source, clear_source))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointBody {
    #[schema(schema_with = crate::api::schema::date_time)]
    pub at: String,
    pub value: f64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointsBody {
    /// 1 to 10,000 points; a point at a time the series already has replaces its value.
    #[schema(min_items = 1, max_items = 10000)]
    pub points: Vec<PointBody>,
}

#[derive(Serialize, ToSchema)]
pub struct SeriesDto {
    /// The series' id (its alerts' dedup keys are `series:{id without dashes}:{condition}`).
    pub id: Uuid,
    pub name: String,
    /// Points kept (at most 100,000, the newest).
    pub points: i64,
    pub last_at: Option<String>,
    pub last_value: Option<f64>,
    /// Set when the series is read from Prometheus instead of pushed points.
    pub source: Option<SourceDto>,
    /// What its forecast alerts on, if anything (`PUT /api/v1/series/{name}/alert`).
    pub alert: Option<super::series_alerts::SeriesAlertBody>,
    /// The alerts that fire now: `exhaustion`, `anomaly`.
    pub alerting: Vec<String>,
    pub created_at: String,
}

/// A Prometheus server and a PromQL query that gives one series.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceDto {
    /// The server's base URL, e.g. `http://prometheus:9090`.
    #[schema(schema_with = crate::api::schema::url)]
    pub prometheus_url: String,
    /// One series, e.g. `sum(node_filesystem_size_bytes - node_filesystem_avail_bytes)`.
    #[schema(min_length = 1, max_length = 4000)]
    pub query: String,
}

pub(crate) fn dto(s: &Series) -> SeriesDto {
    let mut alerting = Vec::new();
    if s.exhaustion_alerting {
        alerting.push("exhaustion".to_owned());
    }
    if s.anomaly_alerting {
        alerting.push("anomaly".to_owned());
    }
    SeriesDto {
        id: s.id,
        alert: s.alert.as_ref().map(super::series_alerts::SeriesAlertBody::of),
        alerting,
        name: s.name.clone(),
        points: s.points,
        last_at: s.last_at.map(ts),
        last_value: s.last_value,
        source: s.source.as_ref().map(|p| SourceDto { prometheus_url: p.url.clone(), query: p.query.clone() }),
        created_at: ts(s.created_at),
    }
}

#[derive(Serialize, ToSchema)]
pub struct PushResult {
    pub series: SeriesDto,
    /// Points written by this request (one per millisecond given).
    pub accepted: usize,
}

/// Writes points to a series, creating it on first use (responders and up).
#[utoipa::path(
    post,
    path = "/api/v1/series/{name}/points",
    tag = "series",
    params(("name" = String, Path, pattern = r"^[A-Za-z_:][A-Za-z0-9_:.\-]{0,199}$")),
    request_body = PointsBody,
    responses((status = 200, body = PushResult))
)]
async fn push_points(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PointsBody>,
) -> Result<Json<PushResult>, ApiError> {
    auth.require(Permission::Respond)?;
    let mut points = Vec::with_capacity(body.points.len().min(opsdeck_core::series::PUSH_MAX));
    for (i, p) in body.points.into_iter().enumerate().take(opsdeck_core::series::PUSH_MAX + 1) {
        let at = opsdeck_core::time::parse_rfc3339("points", &p.at)
            .map_err(|_| ApiError::invalid("points", format!("point {i}: `at` must be an RFC 3339 time")))?;
        points.push(Point { at, value: p.value });
    }
    let (s, accepted) = op::push(&state, &auth, &name, points).await?;
    Ok(Json(PushResult { series: dto(&s), accepted }))
}

#[utoipa::path(get, path = "/api/v1/series", tag = "series", responses((status = 200, body = List<SeriesDto>)))]
async fn list_series(State(state): State<AppState>, auth: Auth) -> Result<Json<List<SeriesDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let items = state.db.list_series(opsdeck_store::series::SERIES_MAX).await?.iter().map(dto).collect();
    Ok(Json(List { items, next_cursor: None }))
}

#[utoipa::path(
    get,
    path = "/api/v1/series/{name}",
    tag = "series",
    params(("name" = String, Path, pattern = r"^[A-Za-z_:][A-Za-z0-9_:.\-]{0,199}$")),
    responses((status = 200, body = SeriesDto))
)]
async fn get_series(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<Json<SeriesDto>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(dto(&state.db.get_series(name.trim()).await?)))
}

/// Deletes a series and its points (managers).
#[utoipa::path(
    delete,
    path = "/api/v1/series/{name}",
    tag = "series",
    params(("name" = String, Path, pattern = r"^[A-Za-z_:][A-Za-z0-9_:.\-]{0,199}$")),
    responses((status = 204))
)]
async fn delete_series(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete(&state, &auth, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct ForecastQuery {
    /// The capacity whose crossing is reported (e.g. the disk's size); none: no time to exhaustion.
    pub capacity: Option<f64>,
    /// `linear` (least squares, as Prometheus' `predict_linear`; default) or `holt` (damped Holt).
    #[param(pattern = "^(linear|holt)?$")]
    pub method: Option<String>,
    /// Days of history to learn from (default 30; the newest 10,000 points at most).
    #[param(minimum = 1, maximum = 730)]
    pub training_days: Option<i64>,
    /// Hours of history instead (wins over `training_days`).
    #[param(minimum = 1, maximum = 17520)]
    pub training_hours: Option<i64>,
    /// Days ahead the forecast path covers (default 30).
    #[param(minimum = 1, maximum = 730)]
    pub horizon_days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ForecastStepDto {
    pub at: String,
    pub value: f64,
    /// The 95 % prediction interval.
    pub lower: f64,
    pub upper: f64,
}

#[derive(Serialize, ToSchema)]
pub struct ForecastDto {
    pub series: String,
    /// `linear` or `holt`.
    pub method: String,
    pub evaluated_at: String,
    pub training_points: usize,
    /// The fitted value now.
    pub value_now: f64,
    /// The fitted trend, per day.
    pub slope_per_day: f64,
    pub capacity: Option<f64>,
    /// Seconds until the forecast reaches `capacity`; `null` without a capacity or when it is
    /// not reached within five years.
    pub time_to_exhaustion_seconds: Option<f64>,
    /// The earliest it may be reached (the upper 95 % bound crosses), seconds from now.
    pub lower: Option<f64>,
    /// The latest (the lower 95 % bound crosses); `null` when that bound never reaches it.
    pub upper: Option<f64>,
    pub exhausts_at: Option<String>,
    /// The path from now to the horizon, 121 steps.
    pub forecast: Vec<ForecastStepDto>,
    /// Points of the history outside what their hour of the week leads to expect (judged once
    /// that hour has a week of history), with the range that was expected.
    pub anomalies: Vec<AnomalyDto>,
}

#[derive(Serialize, ToSchema)]
pub struct AnomalyDto {
    pub at: String,
    pub value: f64,
    pub expected_low: f64,
    pub expected_high: f64,
    /// The residual's robust z-score (beyond ±3.5 is anomalous).
    pub score: f64,
}

impl From<&opsdeck_core::anomaly::Anomaly> for AnomalyDto {
    fn from(a: &opsdeck_core::anomaly::Anomaly) -> AnomalyDto {
        AnomalyDto {
            at: ts(a.at),
            value: a.value,
            expected_low: a.expected_low,
            expected_high: a.expected_high,
            score: a.score,
        }
    }
}

pub fn forecast_dto(f: &Forecast) -> ForecastDto {
    ForecastDto {
        series: f.series.name.clone(),
        method: f.spec.method.as_str().to_owned(),
        evaluated_at: ts(f.evaluated_at),
        training_points: f.history.len(),
        value_now: f.value_now,
        slope_per_day: f.slope_per_day,
        capacity: f.spec.capacity,
        time_to_exhaustion_seconds: f.exhaustion.map(|e| e.seconds),
        lower: f.exhaustion.map(|e| e.lower),
        upper: f.exhaustion.and_then(|e| e.upper),
        exhausts_at: f.exhausts_at().map(ts),
        forecast: f
            .path
            .iter()
            .map(|s| ForecastStepDto { at: ts(s.at), value: s.value, lower: s.lower, upper: s.upper })
            .collect(),
        anomalies: f.anomalies.iter().map(AnomalyDto::from).collect(),
    }
}

/// The series' forecast with its 95 % band and, given a capacity, the time until it is reached.
#[utoipa::path(
    get,
    path = "/api/v1/series/{name}/forecast",
    tag = "series",
    params(("name" = String, Path, pattern = r"^[A-Za-z_:][A-Za-z0-9_:.\-]{0,199}$"), ForecastQuery),
    responses((status = 200, body = ForecastDto))
)]
async fn forecast(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<ForecastQuery>,
) -> Result<Json<ForecastDto>, ApiError> {
    auth.require(Permission::Read)?;
    let method = Method::parse(q.method.as_deref().unwrap_or(""))?;
    let spec = ForecastSpec::new(method, q.training_days, q.horizon_days, q.capacity)?
        .with_training_hours(q.training_hours)?;
    Ok(Json(forecast_dto(&op::forecast(&state, &name, spec).await?)))
}

/// Reads the series from a Prometheus query from now on (managers): its forecasts query
/// `/api/v1/query_range` over their training window. Creates the series if it is new.
#[utoipa::path(
    put,
    path = "/api/v1/series/{name}/source",
    tag = "series",
    params(("name" = String, Path, pattern = r"^[A-Za-z_:][A-Za-z0-9_:.\-]{0,199}$")),
    request_body = SourceDto,
    responses((status = 200, body = SeriesDto))
)]
async fn set_source(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<SourceDto>,
) -> Result<Json<SeriesDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let src = opsdeck_core::series::PrometheusSource::new(&body.prometheus_url, &body.query)?;
    Ok(Json(dto(&op::set_source(&state, &auth, &name, Some(src)).await?)))
}

/// Reads the series from its pushed points again (managers).
#[utoipa::path(
    delete,
    path = "/api/v1/series/{name}/source",
    tag = "series",
    params(("name" = String, Path, pattern = r"^[A-Za-z_:][A-Za-z0-9_:.\-]{0,199}$")),
    responses((status = 200, body = SeriesDto))
)]
async fn clear_source(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<Json<SeriesDto>, ApiError> {
    auth.require(Permission::Configure)?;
    state.db.get_series(name.trim()).await?;
    Ok(Json(dto(&op::set_source(&state, &auth, &name, None).await?)))
}
