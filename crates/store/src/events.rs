//! Internal events of the ingest writer and its sweeper (see `opsdeck_core::telemetry`).

use opsdeck_core::telemetry::InternalEvent;

/// Registers every series at zero so `/metrics` lists them before the first event.
pub fn describe() {
    for name in [
        "opsdeck_ingest_batches_total",
        "opsdeck_ingest_events_total",
        "opsdeck_ingest_batch_retries_total",
        "opsdeck_ingest_failures_total",
        "opsdeck_alerts_expired_total",
        "opsdeck_snoozes_ended_total",
    ] {
        metrics::counter!(name).absolute(0);
    }
    metrics::counter!("opsdeck_ingest_refused_total", "reason" => "queue_full").absolute(0);
    metrics::counter!("opsdeck_sweep_failures_total", "sweeper" => "alerts").absolute(0);
    metrics::counter!("opsdeck_sweep_failures_total", "sweeper" => "monitor_alerts").absolute(0);
}

/// A supervised worker failed (an error or a panic) and restarts after `backoff`.
pub struct WorkerRestarted<'a> {
    pub worker: &'static str,
    pub error: &'a str,
    pub backoff: std::time::Duration,
}

impl InternalEvent for WorkerRestarted<'_> {
    fn emit(self) {
        tracing::error!(
            worker = self.worker,
            error = self.error,
            backoff_s = self.backoff.as_secs(),
            "background worker failed; restarting"
        );
        metrics::counter!("opsdeck_worker_restarts_total", "worker" => self.worker).increment(1);
    }
}

/// A batch of events was committed in one transaction.
pub struct IngestBatchWritten {
    pub events: usize,
    pub requests: usize,
}

impl InternalEvent for IngestBatchWritten {
    fn emit(self) {
        tracing::debug!(events = self.events, requests = self.requests, "ingest batch committed");
        metrics::counter!("opsdeck_ingest_batches_total").increment(1);
        metrics::counter!("opsdeck_ingest_events_total").increment(self.events as u64);
        metrics::histogram!("opsdeck_ingest_batch_events").record(self.events as f64);
    }
}

/// A request was refused at once (429) because the queue was full.
pub struct IngestRefused {
    pub events: usize,
}

impl InternalEvent for IngestRefused {
    fn emit(self) {
        // Debug only: during a storm this fires per request; the counter tells the story.
        tracing::debug!(events = self.events, "ingest queue full; request refused");
        metrics::counter!("opsdeck_ingest_refused_total", "reason" => "queue_full").increment(1);
    }
}

/// A batch failed and its requests are retried one by one, so one bad request fails alone.
pub struct IngestBatchRetried<'a> {
    pub requests: usize,
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent for IngestBatchRetried<'_> {
    fn emit(self) {
        tracing::warn!(error = %self.error, requests = self.requests,
            "ingest batch failed; retrying its requests one by one");
        metrics::counter!("opsdeck_ingest_batch_retries_total").increment(1);
    }
}

/// A request's events could not be stored; its sender got an error.
pub struct IngestFailed<'a> {
    pub events: usize,
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent for IngestFailed<'_> {
    fn emit(self) {
        tracing::error!(error = %self.error, events = self.events, "ingest failed");
        metrics::counter!("opsdeck_ingest_failures_total").increment(1);
    }
}

/// The sweeper resolved expired Alertmanager-API alerts, woke ended snoozes and resolved
/// flapping incidents that stayed quiet.
pub struct AlertsSwept {
    pub expired: usize,
    pub woken: usize,
    pub released: usize,
}

impl InternalEvent for AlertsSwept {
    fn emit(self) {
        if self.expired + self.woken + self.released > 0 {
            tracing::debug!(expired = self.expired, woken = self.woken, released = self.released, "alert sweep");
        }
        metrics::counter!("opsdeck_alerts_expired_total").increment(self.expired as u64);
        metrics::counter!("opsdeck_snoozes_ended_total").increment(self.woken as u64);
        metrics::counter!("opsdeck_flapping_released_total").increment(self.released as u64);
    }
}

/// A sweep failed; it runs again on its next tick.
pub struct SweepFailed<'a> {
    pub sweeper: &'static str,
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent for SweepFailed<'_> {
    fn emit(self) {
        tracing::warn!(error = %self.error, sweeper = self.sweeper, "sweep failed");
        metrics::counter!("opsdeck_sweep_failures_total", "sweeper" => self.sweeper).increment(1);
    }
}
