//! Supervised background workers. Each worker (the check scheduler, the notifier, the ingest
//! writer and drainer, housekeeping) runs as a task that its supervisor restarts when it panics
//! or returns an error: the failure is logged and counted, the restart waits a back-off (1 s,
//! doubling to a minute), and a worker that keeps failing makes `/readyz` answer 503 with its
//! name. Returning `Ok(())` is a requested stop: the supervisor ends too.
//!
//! Panics are contained by the task boundary (the release profile unwinds; see
//! docs/architecture.md), so a bug hit by one row stops one pass of one worker, not the process.

use crate::events::WorkerRestarted;
use opsdeck_core::telemetry::InternalEvent;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Failures in a row (without a healthy minute between) after which a worker counts as failing.
pub const FAILING_AFTER: u32 = 3;
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A run this long counts as healthy: the failure streak starts over.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Default)]
struct Health {
    streak: u32,
    restarts: u64,
    last_error: String,
}

/// The registry of supervised workers, shared with the readiness check.
#[derive(Clone, Default)]
pub struct Workers {
    health: Arc<Mutex<BTreeMap<&'static str, Health>>>,
}

impl Workers {
    pub fn new() -> Workers {
        Workers::default()
    }

    /// Runs the worker `make()` builds, and builds a new one whenever it fails, until one
    /// returns `Ok(())`.
    pub fn spawn<F, Fut>(&self, name: &'static str, make: F) -> JoinHandle<()>
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let workers = self.clone();
        workers.update(name, |_| {});
        tokio::spawn(async move {
            let mut backoff = BACKOFF_MIN;
            loop {
                let mut run = tokio::spawn(make());
                let outcome = tokio::select! {
                    r = &mut run => r,
                    () = tokio::time::sleep(HEALTHY_RUN) => {
                        // Running for a while counts as recovered.
                        workers.update(name, |h| h.streak = 0);
                        backoff = BACKOFF_MIN;
                        run.await
                    }
                };
                let error = match outcome {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => e,
                    Err(join) if join.is_panic() => format!("panicked: {}", panic_text(join.into_panic())),
                    // Cancelled: the runtime is shutting down.
                    Err(_) => return,
                };
                workers.update(name, |h| {
                    h.streak += 1;
                    h.restarts += 1;
                    h.last_error.clone_from(&error);
                });
                WorkerRestarted { worker: name, error: &error, backoff }.emit();
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        })
    }

    fn update(&self, name: &'static str, f: impl FnOnce(&mut Health)) {
        if let Ok(mut map) = self.health.lock() {
            f(map.entry(name).or_default());
        }
    }

    /// Workers that keep failing, with their last error (for `/readyz`).
    pub fn failing(&self) -> Vec<(&'static str, String)> {
        self.health
            .lock()
            .map(|m| {
                m.iter().filter(|(_, h)| h.streak >= FAILING_AFTER).map(|(n, h)| (*n, h.last_error.clone())).collect()
            })
            .unwrap_or_default()
    }

    /// How often `name` was restarted.
    pub fn restarts(&self, name: &str) -> u64 {
        self.health.lock().ok().and_then(|m| m.get(name).map(|h| h.restarts)).unwrap_or(0)
    }
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    #[allow(clippy::panic)]
    async fn a_panicking_worker_restarts_and_is_reported_until_it_recovers() {
        let workers = Workers::new();
        let runs = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(tokio::sync::Notify::new());
        let (r, s) = (runs.clone(), stop.clone());
        let done = workers.spawn("flaky", move || {
            let n = r.fetch_add(1, Ordering::SeqCst);
            let stop = s.clone();
            async move {
                match n {
                    0 => panic!("a bad row"),
                    1 | 2 => Err("database unreachable".to_owned()),
                    _ => {
                        stop.notified().await;
                        Ok(())
                    }
                }
            }
        });
        // Time is paused: the back-offs (1 s, 2 s, 4 s) pass as soon as every task waits.
        while runs.load(Ordering::SeqCst) < 4 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(workers.restarts("flaky"), 3, "restarted after a panic and two errors");
        assert_eq!(workers.failing(), vec![("flaky", "database unreachable".to_owned())]);
        tokio::time::sleep(HEALTHY_RUN + Duration::from_secs(1)).await;
        assert!(workers.failing().is_empty(), "a minute of running counts as recovered");
        stop.notify_one();
        done.await.unwrap();
    }
}
