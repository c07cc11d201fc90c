//! Anomalies in a monitor's latency: the hourly means of the last four weeks judged by
//! [`opsdeck_core::anomaly::detect`] (a baseline per hour of the week, a robust z-score of the
//! residual), for the API and the monitor page.

use crate::AppState;
use crate::error::ApiError;
use chrono::Duration;
use opsdeck_core::anomaly::{self, Anomaly};
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
