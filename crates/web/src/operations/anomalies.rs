//! Anomalies in a monitor's latency: the hourly means of the last four weeks judged by
//! [`opsdeck_core::anomaly::detect`] (a baseline per hour of the week, a robust z-score of the
//! residual), for the API and the monitor page; and the monitors whose anomalies alert.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use chrono::Duration;
use opsdeck_core::anomaly::{self, Anomaly};
use opsdeck_core::role::Permission;
use opsdeck_store::anomaly_watch::AnomalyWatch;
use uuid::Uuid;

/// How far back a monitor's latency is read.
pub const LATENCY_DAYS: i64 = 28;

/// The latency anomalies of `monitor_id` over the last [`LATENCY_DAYS`], oldest first.
pub async fn monitor_latency(state: &AppState, monitor_id: Uuid) -> Result<Vec<Anomaly>, ApiError> {
    let now = state.now();
    let since = opsdeck_core::time::sub(now, Duration::days(LATENCY_DAYS)).unwrap_or(now);
    let hours = state.db.rollups(monitor_id, opsdeck_store::monitor::HOUR, since).await?;
    let points: Vec<_> =
        hours.iter().filter(|r| r.total > 0).map(|r| (r.bucket, r.latency_sum / r.total as f64)).collect();
    Ok(anomaly::detect(&points))
}

/// Makes a monitor's latency anomalies alert on its service, or stops them (managers and up);
/// it needs a service to alert on.
pub async fn set_watch(state: &AppState, auth: &Auth, monitor_id: Uuid, on: bool) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    let m = state.db.get_monitor(monitor_id).await?;
    if on && m.monitor.spec.service_id.is_none() {
        return Err(ApiError::invalid("service_id", "give the monitor a service first: its alerts are raised there"));
    }
    Ok(state.db.watch_anomalies(&auth.actor(), state.now(), monitor_id, &m.monitor.spec.name, on).await?)
}

/// What a watched monitor's latency says now: the service to alert on (`None`: no current
/// anomaly, or no service), a summary and details. The alert lives in the two hours after the
/// unusual hour began.
pub async fn judge_watch(
    state: &AppState,
    w: &AnomalyWatch,
) -> Result<(Option<Uuid>, String, serde_json::Value), ApiError> {
    let m = state.db.get_monitor(w.monitor_id).await?;
    let name = m.monitor.spec.name;
    let found = monitor_latency(state, w.monitor_id).await?;
    match anomaly::current(&found, state.now(), opsdeck_core::series_alert::ANOMALY_FRESH) {
        Some(a) => Ok((
            m.monitor.spec.service_id,
            format!(
                "{name}: mean latency {:.0} ms in the hour from {}, outside the {:.0} to {:.0} ms its hour of the \
                 week expects",
                a.value,
                a.at.format("%Y-%m-%d %H:%M UTC"),
                a.expected_low,
                a.expected_high
            ),
            serde_json::json!({"monitor_id": w.monitor_id, "monitor": name, "at": a.at.to_rfc3339(),
                "latency_ms": a.value, "expected_low_ms": a.expected_low, "expected_high_ms": a.expected_high,
                "score": a.score}),
        )),
        None => Ok((None, format!("{name}: latency is back in its expected range"), serde_json::json!({}))),
    }
}
