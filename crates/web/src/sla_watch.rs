//! The SLA watcher: every 30 seconds one node (it holds a lease) judges the open tickets whose
//! clocks are due (every write to a ticket and every policy change makes a ticket due; a judged
//! ticket is due again at its next 75 % or 100 % mark), records warnings and breaches once,
//! and queues their e-mails in the ticket outbox, which the notifier sends. The same pass closes
//! the tickets resolved longer ago than the desk's auto-close days.

use crate::AppState;
use crate::error::ApiError;
use crate::operations::ticket_sla::{self, BATCH};
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_secs(30);
const LEASE: &str = "sla_watch";
/// A pass takes no new batch after this long; the rest wait for the next pass.
const BUDGET: Duration = Duration::from_secs(25);

/// Runs until `stop` turns true, as `node` in the lease; a pass that ends at its budget with
/// tickets still due is followed by the next at once.
pub async fn run(state: AppState, node: String, stop: tokio::sync::watch::Receiver<bool>) {
    crate::leased::run_draining(
        state,
        node,
        LEASE,
        EVERY,
        "SLA clocks could not be judged",
        stop,
        |state, node| async move { pass(&state, &node).await.map(|(_, more)| more) },
    )
    .await;
}

/// Judges every ticket due now, a batch at a time; how many warnings and breaches were
/// recorded (0 when another node holds the lease).
pub async fn judge_due(state: &AppState, node: &str) -> Result<usize, ApiError> {
    Ok(pass(state, node).await?.0)
}

/// One pass: the notices recorded, and whether due tickets are left (the budget ran out).
async fn pass(state: &AppState, node: &str) -> Result<(usize, bool), ApiError> {
    let Some(mut lease) = crate::leased::Lease::take(state, LEASE, node).await? else { return Ok((0, false)) };
    let started = Instant::now();
    let now = state.now();
    let mut recorded = 0;
    loop {
        let due = state.db.tickets_due_for_sla(now, BATCH).await?;
        let full = due.len() as i64 == BATCH;
        recorded += ticket_sla::judge(state, due, now).await?;
        if !lease.keep().await? {
            return Ok((recorded, false));
        }
        if !full {
            close_resolved(state, now, started).await?;
            return Ok((recorded, false));
        }
        if started.elapsed() >= BUDGET {
            return Ok((recorded, true));
        }
    }
}

/// Closes the tickets resolved longer ago than the desk's auto-close days (none when 0), a batch
/// at a time within the pass's budget.
async fn close_resolved(
    state: &AppState,
    now: chrono::DateTime<chrono::Utc>,
    started: Instant,
) -> Result<(), ApiError> {
    let days = crate::operations::desk_settings::auto_close_days(state).await?;
    if days == 0 {
        return Ok(());
    }
    let Some(cutoff) = now.checked_sub_signed(chrono::Duration::days(i64::from(days))) else { return Ok(()) };
    while started.elapsed() < BUDGET {
        let closed = state.db.close_resolved(now, cutoff, BATCH).await?;
        if closed > 0 {
            state.events.publish(crate::operations::tickets::TICKET_CHANGED, None, format!("{closed} closed"));
        }
        if (closed as i64) < BATCH {
            break;
        }
    }
    Ok(())
}
