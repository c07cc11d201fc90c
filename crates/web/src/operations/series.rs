//! Metric series for capacity forecasts: pushing points, the forecast a series' history gives
//! (a least-squares line or damped Holt, with a 95 % band and the time until a capacity is
//! reached), and deleting a series. The API, the capacity pages and the CLI use these.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::forecast::{self, Exhaustion, Model, Sample};
use opsdeck_core::role::Permission;
use opsdeck_core::series::{self as core_series, ForecastSpec, Method, Point, PrometheusSource, TRAIN_MAX};
use opsdeck_store::series::Series;

/// How far ahead the time to exhaustion is searched: five years.
pub const SEARCH_DAYS: i64 = 1826;

/// Writes points to a series (created on first push). Responders and up: the tokens that
/// automation pushes with.
pub async fn push(state: &AppState, auth: &Auth, name: &str, points: Vec<Point>) -> Result<(Series, usize), ApiError> {
    auth.require(Permission::Respond)?;
    let name = core_series::parse_name(name)?;
    let points = core_series::check_points(points, state.now())?;
    let s = state.db.push_points(&auth.actor(), state.now(), &name, &points).await?;
    Ok((s, points.len()))
}

pub async fn delete(state: &AppState, auth: &Auth, name: &str) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    let s = state.db.get_series(name.trim()).await?;
    state.db.delete_series(&auth.actor(), state.now(), &s).await?;
    Ok(())
}

/// One step of the forecast path.
#[derive(Debug, Clone, Copy)]
pub struct PathStep {
    pub at: DateTime<Utc>,
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
}

/// A series' forecast: what it learnt from, the model's value and trend now, the path ahead
/// and, with a capacity, when it is reached.
pub struct Forecast {
    pub series: Series,
    pub spec: ForecastSpec,
    pub evaluated_at: DateTime<Utc>,
    /// The training points, oldest first.
    pub history: Vec<Point>,
    pub value_now: f64,
    /// Change per day, from the fitted trend.
    pub slope_per_day: f64,
    pub path: Vec<PathStep>,
    pub exhaustion: Option<Exhaustion>,
    /// Points of the history outside the range their hour of the week and the trailing
    /// residuals expect ([`opsdeck_core::anomaly::detect`]).
    pub anomalies: Vec<opsdeck_core::anomaly::Anomaly>,
}

/// The forecast of series `name` (anyone who may read).
pub async fn forecast(state: &AppState, name: &str, spec: ForecastSpec) -> Result<Forecast, ApiError> {
    let series = state.db.get_series(name.trim()).await?;
    let now = state.now();
    let from = opsdeck_core::time::sub(now, spec.training()).unwrap_or(now);
    let history = match &series.source {
        None => state.db.series_points(series.id, from, TRAIN_MAX).await?,
        Some(src) => prometheus_points(state, src, from, now).await?,
    };
    let samples: Vec<Sample> =
        history.iter().map(|p| Sample { t: (p.at - now).num_milliseconds() as f64 / 1000.0, y: p.value }).collect();
    let need = match spec.method {
        Method::Linear => "at least 2 points at different times",
        Method::Holt => "at least 3 points at different times",
    };
    let refuse = || {
        ApiError::invalid(
            "training_days",
            format!(
                "the last {} of {} hold {} points; a {} forecast needs {need}",
                spec.training_label(),
                series.name,
                history.len(),
                spec.method.as_str()
            ),
        )
    };
    let (model, slope_per_second): (Box<dyn Model + Send>, f64) = match spec.method {
        Method::Linear => {
            let l = forecast::linear(&samples).ok_or_else(refuse)?;
            (Box::new(l), l.slope)
        }
        Method::Holt => {
            let h = forecast::holt(&samples).ok_or_else(refuse)?;
            (Box::new(h), h.trend / h.step)
        }
    };
    let horizon = i64::from(spec.horizon_days) * 86_400;
    let path: Vec<PathStep> = forecast::path(model.as_ref(), horizon as f64)
        .into_iter()
        .filter_map(|s| {
            let at = opsdeck_core::time::add(now, Duration::milliseconds((s.h * 1000.0) as i64))?;
            Some(PathStep { at, value: s.value, lower: s.lower, upper: s.upper })
        })
        .collect();
    let exhaustion = spec.capacity.and_then(|c| forecast::exhaustion(model.as_ref(), c, (SEARCH_DAYS * 86_400) as f64));
    let finite = |v: f64| v.is_finite();
    let path_ok = path.iter().all(|s: &PathStep| finite(s.value) && finite(s.lower) && finite(s.upper));
    if !finite(model.at(0.0).0) || !finite(slope_per_second) || !path_ok {
        return Err(ApiError::invalid("training_days", "the history's values are too far apart to forecast"));
    }
    let anomalies = opsdeck_core::anomaly::detect(&hourly_means(&history));
    Ok(Forecast {
        anomalies,
        value_now: model.at(0.0).0,
        slope_per_day: slope_per_second * 86_400.0,
        series,
        spec,
        evaluated_at: now,
        history,
        path,
        exhaustion,
    })
}

/// The history as hourly means (the anomaly detector judges hours of the week).
fn hourly_means(points: &[Point]) -> Vec<(DateTime<Utc>, f64)> {
    let mut hours: std::collections::BTreeMap<i64, (f64, u32)> = std::collections::BTreeMap::new();
    for p in points {
        let h = p.at.timestamp().div_euclid(3600);
        let e = hours.entry(h).or_insert((0.0, 0));
        *e = (e.0 + p.value, e.1 + 1);
    }
    hours
        .into_iter()
        .filter_map(|(h, (sum, n))| Some((DateTime::<Utc>::from_timestamp(h * 3600, 0)?, sum / f64::from(n))))
        .collect()
}

/// The source's values over `[from, now]`, read from Prometheus.
async fn prometheus_points(
    state: &AppState,
    src: &PrometheusSource,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Point>, ApiError> {
    let client = state.prometheus.as_ref().ok_or_else(ApiError::internal)?;
    let values = client.query_range(&src.url, &src.query, from, now).await.map_err(|e| {
        ApiError::new(crate::error::ErrorCode::Unavailable, format!("the series' Prometheus query failed: {e}"))
    })?;
    // Only what lies in the window asked for, oldest first: a misbehaving server's stray times
    // must not stretch the forecast's grid.
    let mut points: Vec<Point> = values
        .into_iter()
        .filter(|(t, _)| t.is_finite())
        .filter_map(|(t, value)| {
            let at = DateTime::<Utc>::from_timestamp_millis((t * 1000.0) as i64)?;
            let ok = value.is_finite() && value.abs() <= opsdeck_core::series::VALUE_MAX && at >= from && at <= now;
            ok.then_some(Point { at, value })
        })
        .collect();
    points.sort_by_key(|p| p.at);
    Ok(points)
}

/// Reads series `name` from a Prometheus query (managers: the server calls out on their word),
/// or from pushed points again (`None`).
pub async fn set_source(
    state: &AppState,
    auth: &Auth,
    name: &str,
    source: Option<PrometheusSource>,
) -> Result<Series, ApiError> {
    auth.require(Permission::Configure)?;
    let name = core_series::parse_name(name)?;
    Ok(state.db.set_series_source(&auth.actor(), state.now(), &name, source.as_ref()).await?)
}

impl Forecast {
    /// When the capacity is reached, as a time.
    pub fn exhausts_at(&self) -> Option<DateTime<Utc>> {
        let e = self.exhaustion?;
        opsdeck_core::time::add(self.evaluated_at, Duration::seconds(e.seconds.round() as i64))
    }
}
