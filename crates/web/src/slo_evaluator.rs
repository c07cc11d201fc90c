//! The SLO evaluator: once a minute one node (it holds a lease) evaluates every SLO and moves
//! its burn-rate alert, each move a compare-and-set that queues the change for the alert
//! pipeline. It runs beside the notifier, not in it: an SLO's Prometheus server that is slow to
//! answer must not hold up escalations.

use crate::AppState;
use crate::error::ApiError;
use crate::operations::slos;
use opsdeck_core::telemetry::InternalEvent;
use std::time::Duration;

/// How often SLOs are evaluated (the shortest burn window is five minutes).
const EVERY: Duration = Duration::from_secs(60);
const LEASE: &str = "slo_evaluator";
/// SLOs evaluated at once.
const PARALLEL: usize = 8;

/// Runs until `stop` turns true, as `node` in the lease.
pub async fn run(state: AppState, node: String, stop: tokio::sync::watch::Receiver<bool>) {
    crate::leased::run_every(
        state,
        node,
        LEASE,
        EVERY,
        "SLOs could not be evaluated",
        stop,
        |state, node| async move { evaluate_all(&state, &node).await },
    )
    .await;
}

/// Evaluates every SLO and moves the alerts whose urgency changed; how many moved (0 when
/// another node holds the lease). An SLO whose evaluation fails is logged and keeps its alert.
pub async fn evaluate_all(state: &AppState, node: &str) -> Result<usize, ApiError> {
    let Some(mut lease) = crate::leased::Lease::take(state, LEASE, node).await? else { return Ok(0) };
    let started = std::time::Instant::now();
    let alerting = state.db.slo_alert_states().await?;
    let slos = state.db.list_slos(None, opsdeck_store::slo::SLOS_MAX).await?;
    let count = slos.len();
    let mut moved = 0;
    // A few at a time, so SLOs on a slow Prometheus server do not hold up the others for long.
    use futures_util::StreamExt;
    let mut evaluated = futures_util::stream::iter(slos)
        .map(|s| async move {
            let e = slos::evaluate(state, &s).await;
            (s, e)
        })
        .buffer_unordered(PARALLEL);
    while let Some((s, e)) = evaluated.next().await {
        // Lost to another node (this one stalled): it goes on from here.
        if !lease.keep().await? {
            break;
        }
        let e = match e {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(slo = %s.id, error = %e.message, "an SLO could not be evaluated");
                continue;
            }
        };
        if let Some(why) = &e.source_error {
            tracing::warn!(slo = %s.id, error = %why, "an SLO's Prometheus server could not be read");
        }
        let was = alerting.get(&s.id).map(String::as_str);
        moved += usize::from(state.db.move_slo_alert(&s, was, &e, state.now()).await?);
    }
    if moved > 0 {
        opsdeck_notify::events::SloAlertsChanged { changed: moved }.emit();
    }
    opsdeck_notify::events::SlosEvaluated { slos: count, seconds: started.elapsed().as_secs_f64() }.emit();
    Ok(moved)
}
