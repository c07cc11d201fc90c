//! The per-location part of a monitor's answer.

use super::monitors::{LastResultDto, MonitorDto};
use super::ts;
use crate::AppState;
use crate::error::ApiError;
use crate::operations::monitor_locations::{self as op, LocationView};
use opsdeck_store::monitor::MonitorView;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct LocationDto {
    /// `server` for the Opsdeck nodes, else an agent's location.
    pub location: String,
    /// up, degraded, down, stale (its newest result is too old to vote) or pending.
    #[schema(pattern = "^(up|degraded|down|stale|pending)$")]
    pub state: String,
    pub last_result: Option<LastResultDto>,
    /// Percent of the last 24 hours' checks from this location that passed (one monitor's
    /// answer only; null in lists and without checks).
    pub uptime_24h: Option<f64>,
    /// Checks from this location in the last 24 hours (one monitor's answer only).
    pub checks_24h: Option<i64>,
    /// Mean latency from this location over the last 24 hours (one monitor's answer only).
    pub latency_avg_ms_24h: Option<f64>,
}

impl From<LocationView> for LocationDto {
    fn from(l: LocationView) -> Self {
        LocationDto {
            state: l.state.into(),
            uptime_24h: l.uptime_percent(),
            checks_24h: l.day.as_ref().map(|d| d.checks),
            latency_avg_ms_24h: l.day.as_ref().and_then(|d| d.latency_avg_ms),
            last_result: l.last.map(|r| LastResultDto {
                at: ts(r.at),
                ok: r.status.is_ok(),
                status: r.status.as_str().into(),
                latency_ms: r.latency_ms,
                reason: r.reason,
            }),
            location: l.location,
        }
    }
}

/// The DTO of one monitor with its locations, the last day's figures included.
pub async fn one(
    state: &AppState,
    v: MonitorView,
    dto: impl FnOnce(MonitorView) -> MonitorDto,
) -> Result<MonitorDto, ApiError> {
    let locations = op::of_monitor(state, &v).await?;
    let mut d = dto(v);
    d.locations = locations.into_iter().map(LocationDto::from).collect();
    Ok(d)
}
