//! Background passes that one node runs at a time: a worker lease taken at the start of a pass
//! and renewed as it goes, and the loop that runs a pass every so often until the server stops
//! (giving the lease back, so another node, or this one restarted, takes over at once).

use crate::AppState;
use crate::error::ApiError;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long a pass holds the lease without renewing it.
const LEASE_MS: i64 = 15_000;

/// A worker lease held by this node for one pass. Besides the renewals the pass asks for with
/// [`Lease::keep`], a keeper renews it every quarter of its length while the pass runs, so a
/// step that takes long (a slow server to read) does not let it lapse; dropping the lease stops
/// the keeper.
pub struct Lease<'a> {
    state: &'a AppState,
    name: &'static str,
    node: &'a str,
    renewed: i64,
    lost: Arc<AtomicBool>,
    keeper: tokio::task::JoinHandle<()>,
}

impl<'a> Lease<'a> {
    /// Takes lease `name` for `node`; `None` when another node holds it.
    pub async fn take(state: &'a AppState, name: &'static str, node: &'a str) -> Result<Option<Lease<'a>>, ApiError> {
        let now = state.now().timestamp_millis();
        if !state.db.try_worker_lease(name, node, now, now + LEASE_MS).await? {
            return Ok(None);
        }
        let lost = Arc::new(AtomicBool::new(false));
        let keeper = {
            let (state, owner, lost) = (state.clone(), node.to_owned(), lost.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(LEASE_MS.unsigned_abs() / 4)).await;
                    let now = state.now().timestamp_millis();
                    // A failed renewal is tried again; only another holder ends the pass.
                    if let Ok(false) = state.db.try_worker_lease(name, &owner, now, now + LEASE_MS).await {
                        lost.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            })
        };
        Ok(Some(Lease { state, name, node, renewed: now, lost, keeper }))
    }

    /// Renews the lease when a quarter of it has gone; false when another node took it over (this
    /// one stalled): the pass stops and the other goes on.
    pub async fn keep(&mut self) -> Result<bool, ApiError> {
        if self.lost.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let now = self.state.now().timestamp_millis();
        if now - self.renewed <= LEASE_MS / 4 {
            return Ok(true);
        }
        if !self.state.db.try_worker_lease(self.name, self.node, now, now + LEASE_MS).await? {
            return Ok(false);
        }
        self.renewed = now;
        Ok(true)
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// Runs `pass` every `every` until `stop` turns true, then gives lease `name` back; a pass that
/// fails is logged as `what` and the next one runs on time.
pub async fn run_every<F, Fut>(
    state: AppState,
    node: String,
    name: &'static str,
    every: Duration,
    what: &'static str,
    stop: tokio::sync::watch::Receiver<bool>,
    pass: F,
) where
    F: Fn(AppState, String) -> Fut,
    Fut: Future<Output = Result<usize, ApiError>>,
{
    let pass = |state, node| {
        let fut = pass(state, node);
        async move { fut.await.map(|_| false) }
    };
    run_draining(state, node, name, every, what, stop, pass).await;
}

/// As [`run_every`], for a pass that stops at a time budget with work left (`Ok(true)`): the
/// next pass then starts at once instead of at the next tick, so a backlog drains without
/// pauses while the server can still stop between passes.
pub async fn run_draining<F, Fut>(
    state: AppState,
    node: String,
    name: &'static str,
    every: Duration,
    what: &'static str,
    mut stop: tokio::sync::watch::Receiver<bool>,
    pass: F,
) where
    F: Fn(AppState, String) -> Fut,
    Fut: Future<Output = Result<bool, ApiError>>,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => {
                let _ = state.db.release_worker_lease(name, &node).await;
                return;
            }
        }
        match pass(state.clone(), node.clone()).await {
            Ok(true) => tick.reset_immediately(),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e.message, "{what}"),
        }
    }
}
