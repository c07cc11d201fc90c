//! The SLA watcher: every 30 seconds one node (it holds a lease) judges the open tickets whose
//! clocks are due (every write to a ticket and every policy change makes a ticket due; a judged
//! ticket is due again at its next 75 % or 100 % mark), records warnings and breaches once,
//! and queues their e-mails in the ticket outbox, which the notifier sends.

use crate::AppState;
use crate::error::ApiError;
use crate::operations::ticket_sla::{self, BATCH};
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_secs(30);
const LEASE: &str = "sla_watch";
/// A pass takes no new batch after this long; the rest wait for the next pass.
const BUDGET: Duration = Duration::from_secs(25);

/// Runs until `stop` turns true, as `node` in the lease.
pub async fn run(state: AppState, node: String, stop: tokio::sync::watch::Receiver<bool>) {
    crate::leased::run_every(
        state,
        node,
        LEASE,
        EVERY,
        "SLA clocks could not be judged",
        stop,
        |state, node| async move { judge_due(&state, &node).await },
    )
    .await;
}

/// Judges every ticket due now, a batch at a time; how many warnings and breaches were
/// recorded (0 when another node holds the lease).
pub async fn judge_due(state: &AppState, node: &str) -> Result<usize, ApiError> {
    let Some(mut lease) = crate::leased::Lease::take(state, LEASE, node).await? else { return Ok(0) };
    let started = Instant::now();
    let now = state.now();
    let mut recorded = 0;
    while started.elapsed() < BUDGET {
        let due = state.db.tickets_due_for_sla(now, BATCH).await?;
        let full = due.len() as i64 == BATCH;
        recorded += ticket_sla::judge(state, due, now).await?;
        if !full || !lease.keep().await? {
            break;
        }
    }
    Ok(recorded)
}
