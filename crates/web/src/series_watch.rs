//! The series watcher: once a minute, beside the SLO evaluator, one node (it holds a lease)
//! judges every series with alert settings from its forecast and moves its alerts, each move a
//! compare-and-set that queues the change for the alert pipeline.

use crate::AppState;
use crate::error::ApiError;
use crate::operations::series_alerts;

const LEASE: &str = "series_watcher";
const LEASE_MS: i64 = 120_000;
/// Series judged once a minute, at most (each reads up to its training window of points).
const SERIES_MAX: i64 = 1000;

/// Judges every series that alerts; how many alerts moved (0 when another node holds the lease).
/// A series whose forecast cannot be made keeps its alerts.
pub async fn evaluate_all(state: &AppState, node: &str) -> Result<usize, ApiError> {
    let mut renewed = state.now().timestamp_millis();
    if !state.db.try_worker_lease(LEASE, node, renewed, renewed + LEASE_MS).await? {
        return Ok(0);
    }
    let mut moved = 0;
    for s in state
        .db
        .list_series(opsdeck_store::series::SERIES_MAX)
        .await?
        .into_iter()
        .filter(|s| s.alert.is_some())
        .take(SERIES_MAX as usize)
    {
        let ms = state.now().timestamp_millis();
        if ms - renewed > LEASE_MS / 4 {
            if !state.db.try_worker_lease(LEASE, node, ms, ms + LEASE_MS).await? {
                break;
            }
            renewed = ms;
        }
        let judged = match series_alerts::judge(state, &s).await {
            Ok(Some(j)) => j,
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(series = %s.name, error = %e.message, "a series could not be judged");
                continue;
            }
        };
        let Some(service) = s.alert.as_ref().map(|a| a.service_id) else { continue };
        for j in judged {
            let was = match j.condition {
                opsdeck_core::series_alert::Condition::Exhaustion => s.exhaustion_alerting,
                opsdeck_core::series_alert::Condition::Anomaly => s.anomaly_alerting,
            };
            let now = state.now();
            moved += usize::from(
                state
                    .db
                    .move_series_alert(&s, service, j.condition, was, j.firing, &j.summary, &j.details, now)
                    .await?,
            );
        }
    }
    Ok(moved)
}

/// Gives the lease back (the server stops).
pub async fn release(state: &AppState, node: &str) {
    let _ = state.db.release_worker_lease(LEASE, node).await;
}
