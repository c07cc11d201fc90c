//! The series watcher: every few minutes one node (it holds a lease) judges every series with
//! alert settings from its forecast, and every monitor whose latency anomalies alert, and moves
//! their alerts, each move a compare-and-set that queues the change for the alert pipeline. A
//! worker of its own: forecasts read up to 10,000
//! points each, from the database or a Prometheus server, and must not hold up SLO evaluation.

use crate::AppState;
use crate::error::ApiError;
use crate::operations::series_alerts;
use std::time::{Duration, Instant};

/// How often series are judged: capacity warnings are days ahead, anomalies hourly.
const EVERY: Duration = Duration::from_secs(300);
const LEASE: &str = "series_watcher";
/// Series judged at once.
const PARALLEL: usize = 4;
/// A pass starts no new judgement after this long; the rest wait for the next pass.
const BUDGET: Duration = Duration::from_secs(240);

/// Runs until `stop` turns true, as `node` in the lease.
pub async fn run(state: AppState, node: String, stop: tokio::sync::watch::Receiver<bool>) {
    crate::leased::run_every(
        state,
        node,
        LEASE,
        EVERY,
        "series alerts could not be judged",
        stop,
        |state, node| async move { evaluate_all(&state, &node).await },
    )
    .await;
}

/// Judges every series that alerts; how many alerts moved (0 when another node holds the lease).
/// A series whose forecast cannot be made, or whose move fails, keeps its alerts and is logged.
pub async fn evaluate_all(state: &AppState, node: &str) -> Result<usize, ApiError> {
    use futures_util::StreamExt;
    let Some(mut lease) = crate::leased::Lease::take(state, LEASE, node).await? else { return Ok(0) };
    let started = Instant::now();
    let watched: Vec<_> = state
        .db
        .list_series(opsdeck_store::series::SERIES_MAX)
        .await?
        .into_iter()
        .filter(|s| s.alert.is_some())
        .collect();
    let mut judged = futures_util::stream::iter(watched)
        .take_while(|_| std::future::ready(started.elapsed() < BUDGET))
        .map(|s| async move {
            let j = series_alerts::judge(state, &s).await;
            (s, j)
        })
        .buffer_unordered(PARALLEL);
    let mut moved = 0;
    moved += watch_monitors(state, started).await;
    while let Some((s, j)) = judged.next().await {
        // Lost to another node (this one stalled): it goes on from here.
        if !lease.keep().await? {
            break;
        }
        let judgements = match j {
            Ok(Some(j)) => j,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(series = %s.name, error = %e.message, "a series' forecast could not be judged");
                continue;
            }
        };
        for j in judgements {
            match state.db.move_series_alert(&s, j.condition, j.firing, &j.summary, &j.details, state.now()).await {
                Ok(m) => moved += usize::from(m),
                Err(e) => tracing::warn!(series = %s.name, error = %e, "a series alert could not be moved"),
            }
        }
    }
    Ok(moved)
}

/// Judges the monitors whose latency anomalies alert (a read of four weeks of hourly rollups
/// each); how many alerts moved. Failures are logged and leave the alert as it is.
async fn watch_monitors(state: &AppState, started: Instant) -> usize {
    let watches = match state.db.anomaly_watches(None).await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "latency anomaly watches could not be read");
            return 0;
        }
    };
    let mut moved = 0;
    for w in watches {
        if started.elapsed() >= BUDGET {
            break;
        }
        let result = async {
            let (to, summary, details) = crate::operations::anomalies::judge_watch(state, &w).await?;
            // A monitor moved to another service: resolve where it fired first, raise anew next.
            let to =
                if w.alerting_service_id.is_some() && to.is_some() && to != w.alerting_service_id { None } else { to };
            Ok::<_, ApiError>(state.db.move_anomaly_alert(&w, to, &summary, &details, state.now()).await?)
        }
        .await;
        match result {
            Ok(m) => moved += usize::from(m),
            Err(e) => tracing::warn!(monitor = %w.monitor_id, error = %e.message, "latency anomalies not judged"),
        }
    }
    moved
}
