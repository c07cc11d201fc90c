//! Capacity: the pushed metric series (`/capacity`) and one series' forecast with its band and
//! the time until a capacity is reached (`/capacity/{name}`).

use super::forecast_chart::forecast_chart;
use super::{Chrome, PageAuth, error_page};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::series::{self as op, Forecast};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::series::{ForecastSpec, Method};
use opsdeck_store::series::Series;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Template, WebTemplate)]
#[template(path = "capacity/list.html")]
pub struct ListPage {
    chrome: Chrome,
    series: Vec<Series>,
    origin: String,
}

pub async fn list(State(state): State<AppState>, page: PageAuth) -> Response {
    let chrome = chrome!(page, state, "capacity", None);
    let series = try_page!(state.db.list_series(1000).await);
    let settings = try_page!(crate::operations::settings::load(&state).await);
    let origin = settings.public_url.unwrap_or_else(|| "http://localhost:8080".into());
    ListPage { chrome, series, origin: origin.trim_end_matches('/').to_owned() }.into_response()
}

#[derive(Deserialize, Default)]
pub struct ForecastForm {
    capacity: Option<String>,
    method: Option<String>,
    training_days: Option<String>,
    horizon_days: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "capacity/series.html")]
pub struct SeriesPage {
    chrome: Chrome,
    f: Forecast,
    chart: String,
    /// "in 12 days (between 9 and 15)" or why there is none.
    verdict: String,
    /// `bad` when the capacity is reached within the horizon.
    tone: &'static str,
    capacity_f: String,
    method_f: String,
    training_f: String,
    horizon_f: String,
    /// Services to alert on (managers' form), and the one alerted on now (id, name).
    services: Vec<(Uuid, String)>,
    alert_service: String,
    alert_service_id: String,
    /// The form's fields, from the settings in force (or the forecast being viewed).
    alert_capacity: String,
    alert_within: String,
    alert_method: String,
    alert_training: String,
}

fn days(secs: f64) -> String {
    let d = secs / 86_400.0;
    if d < 1.0 { super::human_duration(secs.round() as i64) } else { format!("{d:.1} days") }
}

/// What the page says about the capacity.
fn verdict(f: &Forecast) -> (String, &'static str) {
    let Some(capacity) = f.spec.capacity else {
        return ("Give a capacity to see when it is reached.".into(), "");
    };
    match f.exhaustion {
        Some(e) if e.seconds <= 0.0 => (format!("Already at or over {capacity}."), "bad"),
        Some(e) => {
            let latest = e.upper.map(days).unwrap_or_else(|| "not within five years".into());
            let when = f.exhausts_at().map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default();
            let tone = if e.seconds <= f64::from(f.spec.horizon_days) * 86_400.0 { "bad" } else { "" };
            (
                format!(
                    "Reaches {capacity} in {} ({when}); earliest in {}, latest {latest}.",
                    days(e.seconds),
                    days(e.lower)
                ),
                tone,
            )
        }
        None => (format!("Does not reach {capacity} within five years at the present trend."), "ok"),
    }
}

pub async fn detail(
    State(state): State<AppState>,
    page: PageAuth,
    Path(name): Path<String>,
    Query(q): Query<ForecastForm>,
) -> Response {
    let chrome = chrome!(page, state, "capacity", None);
    let blank = |s: &Option<String>| s.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let parse_f = |field: &'static str, v: Option<String>| -> Result<Option<f64>, ApiError> {
        v.map(|v| v.parse::<f64>().map_err(|_| ApiError::invalid(field, "must be a number"))).transpose()
    };
    let parse_i = |field: &'static str, v: Option<String>| -> Result<Option<i64>, ApiError> {
        v.map(|v| v.parse::<i64>().map_err(|_| ApiError::invalid(field, "must be a whole number of days"))).transpose()
    };
    let spec = (|| -> Result<ForecastSpec, ApiError> {
        Ok(ForecastSpec::new(
            Method::parse(q.method.as_deref().unwrap_or(""))?,
            parse_i("training_days", blank(&q.training_days))?,
            parse_i("horizon_days", blank(&q.horizon_days))?,
            parse_f("capacity", blank(&q.capacity))?,
        )?)
    })();
    let spec = try_page!(spec);
    let f = try_page!(op::forecast(&state, &name, spec).await);
    let chart = forecast_chart(&f.history, &f.path, f.spec.capacity, f.evaluated_at, &f.anomalies);
    let (verdict, tone) = verdict(&f);
    let labels = try_page!(state.db.service_labels().await);
    let alert_service = f
        .series
        .alert
        .as_ref()
        .and_then(|a| labels.iter().find(|l| l.0 == a.service_id))
        .map(|l| l.1.clone())
        .unwrap_or_default();
    let a = f.series.alert.as_ref();
    SeriesPage {
        services: labels.into_iter().map(|(id, name, _)| (id, name)).collect(),
        alert_service,
        alert_service_id: a.map(|a| a.service_id.to_string()).unwrap_or_default(),
        alert_capacity: a
            .and_then(|a| a.capacity)
            .map(|c| c.to_string())
            .unwrap_or_else(|| blank(&q.capacity).unwrap_or_default()),
        alert_within: a.and_then(|a| a.within_days).map(|d| d.to_string()).unwrap_or_default(),
        alert_method: a.map_or(f.spec.method, |a| a.method).as_str().to_owned(),
        alert_training: a.map_or(f.spec.training_days, |a| a.training_days).to_string(),
        chrome,
        chart,
        verdict,
        tone,
        capacity_f: blank(&q.capacity).unwrap_or_default(),
        method_f: f.spec.method.as_str().to_owned(),
        training_f: f.spec.training_days.to_string(),
        horizon_f: f.spec.horizon_days.to_string(),
        f,
    }
    .into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SourceForm {
    name: String,
    prometheus_url: String,
    query: String,
}

/// Saves a series read from Prometheus (managers).
pub async fn set_source(State(state): State<AppState>, auth: PageAuth, Form(f): Form<SourceForm>) -> Response {
    let result = async {
        let src = opsdeck_core::series::PrometheusSource::new(&f.prometheus_url, &f.query)?;
        let s = op::set_source(&state, &auth.0, &f.name, Some(src)).await?;
        Ok(format!("{} now reads from Prometheus", s.name))
    }
    .await;
    let back = match &result {
        Ok(_) => format!("/capacity/{}", f.name.trim()),
        Err(_) => "/capacity".to_owned(),
    };
    super::outcome(&back, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AlertForm {
    service_id: String,
    capacity: String,
    within_days: String,
    anomalies: Option<String>,
    method: String,
    training_days: String,
}

/// Makes a series' forecast alert on a service (managers), through the same operation as the API.
pub async fn set_alert(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(name): Path<String>,
    Form(f): Form<AlertForm>,
) -> Response {
    let result = async {
        let service_id = crate::extract::parse_id(opsdeck_core::Entity::Service, &f.service_id)
            .map_err(|_| ApiError::invalid("service_id", "choose a service"))?;
        let num = |field: &'static str, v: &str| -> Result<Option<f64>, ApiError> {
            let v = v.trim();
            (!v.is_empty())
                .then(|| v.parse::<f64>().map_err(|_| ApiError::invalid(field, "must be a number")))
                .transpose()
        };
        let whole = |field: &'static str, v: &str| -> Result<Option<i64>, ApiError> {
            let v = v.trim();
            (!v.is_empty())
                .then(|| v.parse::<i64>().map_err(|_| ApiError::invalid(field, "must be a whole number")))
                .transpose()
        };
        let within = whole("within_days", &f.within_days)?;
        let spec = opsdeck_core::series_alert::SeriesAlertSpec::new(
            service_id,
            Method::parse(&f.method)?,
            whole("training_days", &f.training_days)?,
            num("capacity", &f.capacity)?,
            within,
            f.anomalies.is_some(),
        )?;
        let s = crate::operations::series_alerts::set(&state, &auth.0, &name, Some(spec)).await?;
        Ok(format!("{} now alerts from its forecast", s.name))
    }
    .await;
    super::outcome(&format!("/capacity/{}", name.trim()), result)
}

/// Stops a series alerting (managers).
pub async fn clear_alert(State(state): State<AppState>, auth: PageAuth, Path(name): Path<String>) -> Response {
    let result = crate::operations::series_alerts::set(&state, &auth.0, &name, None)
        .await
        .map(|s| format!("{} no longer alerts", s.name));
    super::outcome(&format!("/capacity/{}", name.trim()), result)
}
