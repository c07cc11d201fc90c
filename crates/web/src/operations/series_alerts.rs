//! Alerts from series forecasts: managers say which service a series alerts on and when (a
//! capacity reached within a number of days, anomalies of the newest hour); the series watcher
//! judges each such series with [`judge`] and moves its alerts.

use super::series::{Forecast, forecast};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::role::Permission;
use opsdeck_core::series_alert::{Condition, SeriesAlertSpec, describe_seconds};
use opsdeck_store::catalogue::Ref;
use opsdeck_store::series::Series;
use serde_json::json;

/// Sets (or clears, `None`) what a series alerts on (managers and up); its service must exist.
pub async fn set(state: &AppState, auth: &Auth, name: &str, spec: Option<SeriesAlertSpec>) -> Result<Series, ApiError> {
    auth.require(Permission::Configure)?;
    let s = state.db.get_series(name.trim()).await?;
    if let Some(spec) = &spec {
        match state.db.get_service(Ref::Id(spec.service_id)).await {
            Err(opsdeck_store::StoreError::NotFound(_)) => {
                return Err(ApiError::invalid("service_id", format!("no service has id {}", spec.service_id)));
            }
            other => drop(other?),
        }
    }
    Ok(state.db.set_series_alert(&auth.actor(), state.now(), &s, spec.as_ref()).await?)
}

/// What one condition of a series says now.
pub struct Judgement {
    pub condition: Condition,
    pub firing: bool,
    pub summary: String,
    pub details: serde_json::Value,
}

/// Judges a series' alert conditions from its forecast now; `None` when it has no alert
/// settings. A forecast that cannot be made (too few points, Prometheus not answering) is an
/// error, and moves nothing.
pub async fn judge(state: &AppState, s: &Series) -> Result<Option<Vec<Judgement>>, ApiError> {
    let Some(spec) = &s.alert else { return Ok(None) };
    let f: Forecast = forecast(state, &s.name, spec.forecast_spec()?).await?;
    let mut out = Vec::new();
    if let Some(capacity) = spec.capacity {
        let e = f.exhaustion;
        let firing = spec.exhaustion_fires(e.map(|e| e.seconds));
        let summary = match e {
            Some(e) => format!(
                "{} reaches {capacity} in about {} ({} to {})",
                s.name,
                describe_seconds(e.seconds),
                describe_seconds(e.lower),
                e.upper.map_or_else(|| "never".to_owned(), describe_seconds)
            ),
            None => format!("{} is not forecast to reach {capacity}", s.name),
        };
        out.push(Judgement {
            condition: Condition::Exhaustion,
            firing,
            summary,
            details: json!({"series": s.name, "capacity": capacity, "value_now": f.value_now,
                "slope_per_day": f.slope_per_day, "time_to_exhaustion_seconds": e.map(|e| e.seconds),
                "lower": e.map(|e| e.lower), "upper": e.and_then(|e| e.upper),
                "exhausts_at": f.exhausts_at().map(|t| t.to_rfc3339()), "within_days": spec.within_days}),
        });
    }
    if spec.anomalies {
        let a = spec.current_anomaly(&f.anomalies, f.evaluated_at);
        out.push(Judgement {
            condition: Condition::Anomaly,
            firing: a.is_some(),
            summary: match a {
                Some(a) => format!(
                    "{} is {:.4} at {}, outside the {:.4} to {:.4} its hour of the week expects",
                    s.name,
                    a.value,
                    a.at.format("%Y-%m-%d %H:%M UTC"),
                    a.expected_low,
                    a.expected_high
                ),
                None => format!("{} is back in its expected range", s.name),
            },
            details: a.map_or_else(
                || json!({"series": s.name}),
                |a| {
                    json!({"series": s.name, "at": a.at.to_rfc3339(), "value": a.value,
                    "expected_low": a.expected_low, "expected_high": a.expected_high, "score": a.score})
                },
            ),
        });
    }
    Ok(Some(out))
}
