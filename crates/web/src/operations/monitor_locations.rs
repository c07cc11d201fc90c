//! Where a monitor runs from and what each location says: the per-location split the monitor
//! page and `GET /api/v1/monitors/{id}` show.

use crate::AppState;
use crate::error::ApiError;
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::agent::{self, LocationVote, SERVER};
use opsdeck_store::agent::LocationStats;
use opsdeck_store::monitor::MonitorView;
use std::collections::HashMap;
use uuid::Uuid;

/// One location of a monitor, as readers see it.
#[derive(Debug, Clone)]
pub struct LocationView {
    pub location: String,
    /// up, degraded or down (its newest result, when fresh), stale (too old to vote) or
    /// pending (no result yet).
    pub state: &'static str,
    pub last: Option<LocationVote>,
    /// The last 24 hours, when asked for.
    pub day: Option<LocationStats>,
}

impl LocationView {
    /// Percent of the last day's checks that passed.
    pub fn uptime_percent(&self) -> Option<f64> {
        self.day.as_ref().filter(|d| d.checks > 0).map(|d| d.ok as f64 * 100.0 / d.checks as f64)
    }
}

fn state_of(vote: Option<&LocationVote>, fresh_from: DateTime<Utc>) -> &'static str {
    use opsdeck_core::monitor::CheckStatus::*;
    match vote {
        None => "pending",
        Some(v) if v.at < fresh_from => "stale",
        Some(v) => match v.status {
            Up => "up",
            Degraded => "degraded",
            Down | Unknown => "down",
        },
    }
}

/// A monitor's locations from the newest results: a monitor that runs on the nodes only has
/// one, `server`, read from its own last result.
fn build(v: &MonitorView, votes: &[LocationVote], now: DateTime<Utc>) -> Vec<LocationView> {
    let spec = &v.monitor.spec;
    let fresh_from = now - agent::fresh_for(spec.interval_seconds, spec.timeout_seconds);
    if spec.locations.is_empty() {
        let last = v.last_result.as_ref().map(|r| LocationVote {
            location: SERVER.into(),
            at: r.at,
            status: r.status,
            latency_ms: r.latency_ms,
            reason: r.reason.clone(),
        });
        let state = state_of(last.as_ref(), fresh_from);
        return vec![LocationView { location: SERVER.into(), state, last, day: None }];
    }
    spec.locations
        .iter()
        .map(|l| {
            let last = votes.iter().find(|v| &v.location == l).cloned();
            LocationView { location: l.clone(), state: state_of(last.as_ref(), fresh_from), last, day: None }
        })
        .collect()
}

/// One monitor's locations with the last day's uptime and latency of each.
pub async fn of_monitor(state: &AppState, v: &MonitorView) -> Result<Vec<LocationView>, ApiError> {
    let now = state.now();
    if v.monitor.spec.locations.is_empty() {
        return Ok(build(v, &[], now));
    }
    let votes = state.db.location_votes(v.monitor.id).await?;
    let stats = state.db.location_stats(v.monitor.id, now - Duration::hours(24)).await?;
    let mut out = build(v, &votes, now);
    for l in &mut out {
        l.day = Some(stats.iter().find(|s| s.location == l.location).cloned().unwrap_or(LocationStats {
            location: l.location.clone(),
            checks: 0,
            ok: 0,
            latency_avg_ms: None,
        }));
    }
    Ok(out)
}

/// The locations of many monitors (a list page), without the day's figures: one query.
pub async fn of_monitors(state: &AppState, vs: &[MonitorView]) -> Result<HashMap<Uuid, Vec<LocationView>>, ApiError> {
    let now = state.now();
    let ids: Vec<Uuid> = vs.iter().filter(|v| !v.monitor.spec.locations.is_empty()).map(|v| v.monitor.id).collect();
    let votes = if ids.is_empty() { HashMap::new() } else { state.db.location_votes_of(&ids).await? };
    Ok(vs
        .iter()
        .map(|v| (v.monitor.id, build(v, votes.get(&v.monitor.id).map(Vec::as_slice).unwrap_or(&[]), now)))
        .collect())
}
