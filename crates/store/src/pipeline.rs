//! The ingest queue: requests hand their envelopes to one writer task, which applies whatever
//! has queued up as one batch ([`Db::apply_signals`]) and answers each request after the
//! commit. The queue is bounded by events, not requests; when it is full, callers are told at
//! once ([`IngestError::Busy`], HTTP 429) instead of waiting in an unbounded queue.

use crate::Db;
use crate::events::{AlertsSwept, IngestBatchRetried, IngestBatchWritten, IngestFailed, IngestRefused, SweepFailed};
use crate::ingest::{Applied, Envelope, Report, ServiceCache};
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
    /// How often the monitor alert outbox is drained besides right after each state change (a
    /// retry after a full queue, or after another node died holding the drain lease).
    pub drain_every: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            max_queued_events: 20_000,
            max_batch: 2_000,
            sweep_every: Duration::from_secs(5),
            drain_every: Duration::from_secs(2),
        }
    }
}

/// The lease that lets one node at a time drain the monitor alert outbox, so alerts of one
/// monitor reach the pipeline in order.
const DRAIN_LEASE: &str = "monitor-alerts";
const DRAIN_LEASE_MS: i64 = 15_000;
const DRAIN_BATCH: i64 = 500;

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
    /// This node's name in worker leases.
    node: Arc<str>,
    /// One drain at a time on this node.
    draining: Arc<tokio::sync::Mutex<()>>,
    /// What the writer knows of services between batches (one writer at a time uses it).
    services: Arc<tokio::sync::Mutex<ServiceCache>>,
    pub stats: Arc<PipelineStats>,
}

impl Pipeline {
    /// Starts the writer and the monitor alert drainer on the current Tokio runtime, each under
    /// `workers`' supervision (a panic restarts it; the queue survives).
    pub fn start(
        db: Db,
        clock: Arc<dyn Clock>,
        config: PipelineConfig,
        sink: ReportSink,
        workers: &crate::worker::Workers,
    ) -> Pipeline {
        let (tx, rx) = mpsc::unbounded_channel();
        let p = Pipeline {
            tx,
            permits: Arc::new(Semaphore::new(config.max_queued_events)),
            max_queued: config.max_queued_events,
            db,
            clock,
            sink,
            node: format!("ingest-{}", uuid::Uuid::now_v7().simple()).into(),
            draining: Arc::default(),
            services: Arc::default(),
            stats: Arc::default(),
        };
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let (writer, cfg) = (p.clone(), config.clone());
        workers.spawn("ingest_writer", move || {
            let (w, rx, cfg) = (writer.clone(), rx.clone(), cfg.clone());
            async move {
                w.writer(&mut *rx.lock().await, cfg).await;
                Ok(())
            }
        });
        let drainer = p.clone();
        workers.spawn("monitor_alert_drainer", move || drainer.clone().drainer(config.drain_every));
        p
    }

    /// Hands pending monitor alerts to the queue, oldest first, and marks them sent once stored.
    /// A full queue leaves the rest pending for the next drain. Returns how many were handed over.
    pub async fn drain_monitor_alerts(&self) -> crate::StoreResult<usize> {
        let _one = self.draining.lock().await;
        // Nothing pending, the usual case: no lease is taken, so an idle drain commits nothing
        // (it took and released the lease six times, each a commit with an fsync).
        if !self.db.alerts_pending().await? {
            return Ok(0);
        }
        let now = self.clock.now().timestamp_millis();
        if !self.db.try_worker_lease(DRAIN_LEASE, &self.node, now, now + DRAIN_LEASE_MS).await? {
            return Ok(0);
        }
        let mut sent = 0;
        let result = loop {
            // Renewed before each batch: a long backlog must not outlive the lease while another
            // node takes over and sends the same alerts out of order.
            let now = self.clock.now().timestamp_millis();
            match self.db.try_worker_lease(DRAIN_LEASE, &self.node, now, now + DRAIN_LEASE_MS).await {
                Ok(true) => {}
                Ok(false) => break Ok(sent),
                Err(e) => break Err(e),
            }
            let batch = match self.db.pending_monitor_alerts(DRAIN_BATCH).await {
                Ok(b) => b,
                Err(e) => break Err(e),
            };
            if batch.is_empty() {
                break Ok(sent);
            }
            let envs: Vec<Envelope> = batch.iter().filter_map(|(_, c)| crate::monitor::alert_envelope(c)).collect();
            match self.submit(envs).await {
                Ok(_) => {}
                Err(IngestError::Busy) => break Ok(sent),
                Err(IngestError::Failed(e)) => break Err(crate::StoreError::Config(format!("monitor alerts: {e}"))),
            }
            let ids: Vec<uuid::Uuid> = batch.iter().map(|(id, _)| *id).collect();
            if let Err(e) = self.db.monitor_alerts_sent(&ids).await {
                break Err(e);
            }
            sent += ids.len();
            if ids.len() < DRAIN_BATCH as usize {
                break Ok(sent);
            }
        };
        // Vendor alerts (a dependency of a service changed), the same way.
        let result = match result {
            Ok(n) => self.drain_vendor_alerts().await.map(|m| n + m),
            e => e,
        };
        // SLO burn-rate alerts and series alerts, the same way.
        let result = match result {
            Ok(n) => self.drain_slo_alerts().await.map(|m| n + m),
            e => e,
        };
        let result = match result {
            Ok(n) => self.drain_series_alerts().await.map(|m| n + m),
            e => e,
        };
        let result = match result {
            Ok(n) => self.drain_anomaly_alerts().await.map(|m| n + m),
            e => e,
        };
        let _ = self.db.release_worker_lease(DRAIN_LEASE, &self.node).await;
        result
    }

    /// Hands pending vendor alerts to the ingest pipeline (under the drain lease).
    async fn drain_vendor_alerts(&self) -> crate::StoreResult<usize> {
        let db = &self.db;
        self.drain_outbox(
            "vendor alerts",
            |n| db.pending_vendor_alerts(n),
            crate::vendor::vendor_alert_envelope,
            |a| a.id,
            |ids| async move { db.vendor_alerts_sent(&ids).await },
        )
        .await
    }

    /// Hands pending SLO burn-rate alerts to the ingest pipeline (under the drain lease).
    async fn drain_slo_alerts(&self) -> crate::StoreResult<usize> {
        let db = &self.db;
        self.drain_outbox(
            "SLO alerts",
            |n| db.pending_slo_alerts(n),
            crate::slo_alert::slo_alert_envelope,
            |a| a.id,
            |ids| async move { db.slo_alerts_sent(&ids).await },
        )
        .await
    }

    /// Hands pending series alerts (capacity forecasts, anomalies) to the ingest pipeline.
    async fn drain_series_alerts(&self) -> crate::StoreResult<usize> {
        let db = &self.db;
        self.drain_outbox(
            "series alerts",
            |n| db.pending_series_alerts(n),
            crate::series_alert::series_alert_envelope,
            |a| a.id,
            |ids| async move { db.series_alerts_sent(&ids).await },
        )
        .await
    }

    /// Hands pending monitor latency anomaly alerts to the ingest pipeline.
    async fn drain_anomaly_alerts(&self) -> crate::StoreResult<usize> {
        let db = &self.db;
        self.drain_outbox(
            "latency anomaly alerts",
            |n| db.pending_anomaly_alerts(n),
            crate::anomaly_watch::anomaly_alert_envelope,
            |a| a.id,
            |ids| async move { db.anomaly_alerts_sent(&ids).await },
        )
        .await
    }

    /// Hands one outbox's pending alerts to ingest, oldest first, a batch at a time, marking each
    /// batch sent once stored; a full queue leaves the rest for the next drain.
    async fn drain_outbox<T, P, PF, S, SF>(
        &self,
        what: &str,
        pending: P,
        envelope: fn(&T) -> Envelope,
        id: fn(&T) -> uuid::Uuid,
        sent_ids: S,
    ) -> crate::StoreResult<usize>
    where
        P: Fn(i64) -> PF,
        PF: std::future::Future<Output = crate::StoreResult<Vec<T>>>,
        S: Fn(Vec<uuid::Uuid>) -> SF,
        SF: std::future::Future<Output = crate::StoreResult<()>>,
    {
        let mut sent = 0;
        loop {
            // Renewed before each batch, as for monitor alerts; lost means another node drains.
            let now = self.clock.now().timestamp_millis();
            if !self.db.try_worker_lease(DRAIN_LEASE, &self.node, now, now + DRAIN_LEASE_MS).await? {
                return Ok(sent);
            }
            let batch = pending(DRAIN_BATCH).await?;
            if batch.is_empty() {
                return Ok(sent);
            }
            match self.submit(batch.iter().map(envelope).collect()).await {
                Ok(_) => {}
                Err(IngestError::Busy) => return Ok(sent),
                Err(IngestError::Failed(e)) => return Err(crate::StoreError::Config(format!("{what}: {e}"))),
            }
            let ids: Vec<uuid::Uuid> = batch.iter().map(id).collect();
            let n = ids.len();
            sent_ids(ids).await?;
            sent += n;
            if n < DRAIN_BATCH as usize {
                return Ok(sent);
            }
        }
    }

    /// Drains the monitor alert outbox every `every`; a failed drain is counted and retried.
    async fn drainer(self, every: Duration) -> Result<(), String> {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.drain_monitor_alerts().await {
                SweepFailed { sweeper: "monitor_alerts", error: &e }.emit();
            }
        }
    }

    /// Takes `events` places in the queue until the guard drops, as a burst of senders would:
    /// for tests and load drills of what a full queue does.
    pub fn occupy(&self, events: u32) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_many_owned(events).ok()
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

    async fn writer(self, rx: &mut mpsc::UnboundedReceiver<Job>, config: PipelineConfig) {
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
        let envs: Arc<[Envelope]> = envs.into();
        let applied =
            self.db.apply_signals_with(self.clock.now(), envs.clone(), &mut *self.services.lock().await).await;
        match applied {
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
                let mut rest = envs.iter().cloned();
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
            let report = self.db.apply_signals_with(now, expired.into(), &mut *self.services.lock().await).await?;
            (self.sink)(&report);
        }
        let mut changed = self.db.wake_snoozed(now).await?;
        let woken = changed.len();
        changed.extend(self.db.release_held(now).await?);
        AlertsSwept { expired: n, woken, released: changed.len() - woken }.emit();
        let total = n + changed.len();
        if !changed.is_empty() {
            (self.sink)(&Report { changed, ..Report::default() });
        }
        Ok(total)
    }
}
