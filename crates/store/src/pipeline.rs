//! The ingest queue: requests hand their envelopes to one writer task, which applies whatever
//! has queued up as one batch ([`Db::apply_signals`]) and answers each request after the
//! commit. The queue is bounded by events, not requests; when it is full, callers are told at
//! once ([`IngestError::Busy`], HTTP 429) instead of waiting in an unbounded queue.

use crate::Db;
use crate::events::{AlertsSwept, IngestBatchRetried, IngestBatchWritten, IngestFailed, IngestRefused, SweepFailed};
use crate::ingest::{Applied, Envelope, Report};
use opsdeck_core::clock::Clock;
use opsdeck_core::telemetry::InternalEvent;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IngestError {
    #[error("the ingest queue is full; retry with backoff")]
    Busy,
    #[error("the event could not be stored: {0}")]
    Failed(String),
}

/// Called after each committed batch (live updates).
pub type ReportSink = Arc<dyn Fn(&Report) + Send + Sync>;

#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// Events waiting or being written, at most.
    pub max_queued_events: usize,
    /// Events per transaction, at most.
    pub max_batch: usize,
    /// How often expired alerts and ended snoozes are looked for (when driven by real time).
    pub sweep_every: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig { max_queued_events: 20_000, max_batch: 2_000, sweep_every: Duration::from_secs(5) }
    }
}

struct Job {
    envs: Vec<Envelope>,
    reply: oneshot::Sender<Result<Vec<Applied>, IngestError>>,
}

/// Counters for /metrics.
#[derive(Default, Debug)]
pub struct PipelineStats {
    pub events: AtomicU64,
    pub batches: AtomicU64,
    pub rejected_busy: AtomicU64,
    pub failed: AtomicU64,
}

#[derive(Clone)]
pub struct Pipeline {
    tx: mpsc::UnboundedSender<Job>,
    permits: Arc<Semaphore>,
    max_queued: usize,
    db: Db,
    clock: Arc<dyn Clock>,
    sink: ReportSink,
    pub stats: Arc<PipelineStats>,
}

impl Pipeline {
    /// Starts the writer task on the current Tokio runtime.
    pub fn start(db: Db, clock: Arc<dyn Clock>, config: PipelineConfig, sink: ReportSink) -> Pipeline {
        let (tx, rx) = mpsc::unbounded_channel();
        let p = Pipeline {
            tx,
            permits: Arc::new(Semaphore::new(config.max_queued_events)),
            max_queued: config.max_queued_events,
            db,
            clock,
            sink,
            stats: Arc::default(),
        };
        tokio::spawn(p.clone().writer(rx, config));
        p
    }

    /// Events queued or being written right now.
    pub fn queued(&self) -> usize {
        self.max_queued - self.permits.available_permits()
    }

    /// Queues `envs` and waits until they are committed.
    pub async fn submit(&self, envs: Vec<Envelope>) -> Result<Vec<Applied>, IngestError> {
        if envs.is_empty() {
            return Ok(Vec::new());
        }
        let n = u32::try_from(envs.len()).map_err(|_| IngestError::Busy)?;
        let Ok(permit) = self.permits.clone().try_acquire_many_owned(n) else {
            self.stats.rejected_busy.fetch_add(1, Ordering::Relaxed);
            IngestRefused { events: envs.len() }.emit();
            return Err(IngestError::Busy);
        };
        let (reply, rx) = oneshot::channel();
        self.tx.send(Job { envs, reply }).map_err(|_| IngestError::Failed("the server is shutting down".into()))?;
        let out = rx.await.map_err(|_| IngestError::Failed("the server is shutting down".into()))?;
        drop(permit);
        out
    }

    async fn writer(self, mut rx: mpsc::UnboundedReceiver<Job>, config: PipelineConfig) {
        let mut sweep = tokio::time::interval(config.sweep_every);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let first = tokio::select! {
                job = rx.recv() => match job {
                    Some(job) => job,
                    None => return,
                },
                _ = sweep.tick() => {
                    if let Err(e) = self.sweep().await {
                        SweepFailed { sweeper: "alerts", error: &e }.emit();
                    }
                    continue;
                }
            };
            let mut jobs = vec![first];
            let mut total = jobs[0].envs.len();
            while total < config.max_batch {
                match rx.try_recv() {
                    Ok(job) => {
                        total += job.envs.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            self.write(jobs).await;
        }
    }

    async fn write(&self, jobs: Vec<Job>) {
        // The envelopes move into one batch; each job keeps its count and reply.
        let mut envs: Vec<Envelope> = Vec::with_capacity(jobs.iter().map(|j| j.envs.len()).sum());
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            replies.push((job.envs.len(), job.reply));
            envs.extend(job.envs);
        }
        match self.db.apply_signals(self.clock.now(), &envs).await {
            Ok(report) => {
                self.stats.batches.fetch_add(1, Ordering::Relaxed);
                self.stats.events.fetch_add(envs.len() as u64, Ordering::Relaxed);
                IngestBatchWritten { events: envs.len(), requests: replies.len() }.emit();
                (self.sink)(&report);
                let mut applied = report.applied.into_iter();
                for (n, reply) in replies {
                    let mine: Vec<Applied> = applied.by_ref().take(n).collect();
                    let _ = reply.send(Ok(mine));
                }
            }
            // One bad request must not fail the others: retry each on its own.
            Err(e) if replies.len() > 1 => {
                IngestBatchRetried { requests: replies.len(), error: &e }.emit();
                let mut rest = envs.into_iter();
                for (n, reply) in replies {
                    let envs: Vec<Envelope> = rest.by_ref().take(n).collect();
                    Box::pin(self.write(vec![Job { envs, reply }])).await;
                }
            }
            Err(e) => {
                IngestFailed { events: envs.len(), error: &e }.emit();
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                for (_, reply) in replies {
                    let _ = reply.send(Err(IngestError::Failed(e.to_string())));
                }
            }
        }
    }

    /// Resolves expired alerts and wakes snoozed incidents. Runs on its own timer; tests with
    /// a fake clock call it directly.
    pub async fn sweep(&self) -> crate::StoreResult<usize> {
        let now = self.clock.now();
        let expired = self.db.expired_alerts(now, 2_000).await?;
        let n = expired.len();
        if !expired.is_empty() {
            let report = self.db.apply_signals(now, &expired).await?;
            (self.sink)(&report);
        }
        let woken = self.db.wake_snoozed(now).await?;
        AlertsSwept { expired: n, woken: woken.len() }.emit();
        if !woken.is_empty() {
            (self.sink)(&Report { changed: woken.clone(), ..Report::default() });
        }
        Ok(n + woken.len())
    }
}
