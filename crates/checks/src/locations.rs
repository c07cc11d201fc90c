//! Monitors that run from several locations: the nodes' own result is stored as the `server`
//! location's, and the verdict comes from every location's newest result and the quorum.

use chrono::{DateTime, Utc};
use opsdeck_core::agent::{self, SERVER};
use opsdeck_core::monitor::{CheckOutcome, CheckStatus};
use opsdeck_store::Db;
use opsdeck_store::agent::LocationResult;
use opsdeck_store::monitor::DueMonitor;

/// Whether the nodes themselves are one of the locations.
pub fn runs_here(locations: &[String]) -> bool {
    locations.is_empty() || locations.iter().any(|l| l == SERVER)
}

/// Stores this node's own result (if it is a location) and judges the monitor from its
/// locations' newest results. A database that cannot be read gives an unknown result, which
/// cannot be stored either (the same database takes the record).
pub async fn verdict(
    db: &Db,
    m: &DueMonitor,
    own: Option<CheckOutcome>,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> CheckOutcome {
    if let Some(o) = &own {
        let result = LocationResult {
            monitor_id: m.id,
            at: started,
            status: o.status,
            latency_ms: o.latency_ms,
            reason: o.reason.clone(),
        };
        if let Err(e) = db.record_location_results(None, SERVER, &[result], now, None, 0).await {
            tracing::warn!(error = %e, "storing the server location's result failed");
            return unreadable();
        }
    }
    match db.location_votes(m.id).await {
        Ok(votes) => {
            let fresh_from = now - agent::fresh_for(m.interval_seconds, m.timeout_seconds);
            agent::verdict(&votes, m.quorum, fresh_from)
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading the locations' results failed");
            unreadable()
        }
    }
}

fn unreadable() -> CheckOutcome {
    CheckOutcome {
        status: CheckStatus::Unknown,
        latency_ms: None,
        reason: "the locations' results could not be read (the database did not answer)".into(),
        details: serde_json::Value::Null,
    }
}
