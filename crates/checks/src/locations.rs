//! Monitors that run from several locations: the nodes' own result is stored as the `server`
//! location's, and the verdict comes from every location's newest result and the quorum.

use chrono::{DateTime, Utc};
use opsdeck_core::agent::{self, LocationVote, SERVER};
use opsdeck_core::monitor::{CheckOutcome, CheckStatus};
use opsdeck_store::Db;
use opsdeck_store::agent::LocationResult;
use opsdeck_store::monitor::DueMonitor;

/// Whether the nodes themselves are one of the locations.
pub fn runs_here(locations: &[String]) -> bool {
    locations.is_empty() || locations.iter().any(|l| l == SERVER)
}

/// Stores this node's own result (if it is a location) and judges the monitor from its
/// locations' newest results. `None` when there is nothing to judge yet: no location has
/// reported since the monitor was created or its target changed, for as long as a result stays
/// fresh (agents learn of it within seconds; after that, silence is unknown, a failure), or the
/// results cannot be read (the same database would refuse the record).
pub async fn verdict(
    db: &Db,
    m: &DueMonitor,
    own: Option<CheckOutcome>,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<CheckOutcome> {
    let own = own.map(|o| LocationVote {
        location: SERVER.into(),
        at: started,
        status: o.status,
        latency_ms: o.latency_ms,
        reason: o.reason,
    });
    if let Some(v) = &own {
        let result = LocationResult {
            monitor_id: m.id,
            at: v.at,
            status: v.status,
            latency_ms: v.latency_ms,
            reason: v.reason.clone(),
        };
        // A failed write loses this one row of history; the verdict still counts the result.
        if let Err(e) = db.record_location_results(None, SERVER, &[result], now, None, 0).await {
            tracing::warn!(error = %e, "storing the server location's result failed");
        }
    }
    let mut votes = match db.location_votes(m.id).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "reading the locations' results failed");
            return None;
        }
    };
    // Only the locations it runs from now (an upload may race an edit), the own result fresh.
    votes.retain(|v| v.location != SERVER && m.locations.contains(&v.location));
    votes.extend(own);
    let fresh_from = now - agent::fresh_for(m.interval_seconds, m.timeout_seconds);
    if votes.is_empty() && m.updated_at >= fresh_from {
        return None;
    }
    Some(agent::verdict(&votes, m.quorum, m.locations.len(), fresh_from))
}

/// What a held check carries (it is not stored).
pub fn no_verdict() -> CheckOutcome {
    CheckOutcome {
        status: CheckStatus::Unknown,
        latency_ms: None,
        reason: "no location has reported yet".into(),
        details: serde_json::Value::Null,
    }
}
