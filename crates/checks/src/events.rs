//! Internal events of the check scheduler (see `opsdeck_core::telemetry`).

use opsdeck_core::telemetry::InternalEvent;

/// Registers every series at zero so `/metrics` lists them before the first event.
pub fn describe() {
    for name in [
        "opsdeck_checks_claimed_total",
        "opsdeck_check_results_stored_total",
        "opsdeck_check_results_failed_total",
        "opsdeck_check_tasks_panicked_total",
        "opsdeck_checks_respread_total",
    ] {
        metrics::counter!(name).absolute(0);
    }
    for status in ["up", "degraded", "down", "unknown"] {
        metrics::counter!("opsdeck_checks_total", "status" => status).absolute(0);
    }
}

/// Monitors claimed (leased) for checking by this node.
pub struct ChecksClaimed {
    pub monitors: usize,
    /// How long the claim took (it queues behind other writes on SQLite).
    pub seconds: f64,
}

impl InternalEvent for ChecksClaimed {
    fn emit(self) {
        metrics::counter!("opsdeck_checks_claimed_total").increment(self.monitors as u64);
        metrics::histogram!("opsdeck_scheduler_claim_seconds").record(self.seconds);
    }
}

/// A check started `lag_seconds` after it was due: the scheduler's key health signal.
pub struct CheckStarted {
    pub lag_seconds: f64,
}

impl InternalEvent for CheckStarted {
    fn emit(self) {
        metrics::histogram!("opsdeck_check_lag_seconds").record(self.lag_seconds);
    }
}

/// A check finished with a status.
pub struct CheckFinished {
    pub status: &'static str,
}

impl InternalEvent for CheckFinished {
    fn emit(self) {
        metrics::counter!("opsdeck_checks_total", "status" => self.status).increment(1);
    }
}

/// A batch of results was stored (results whose lease was lost are dropped by the store).
pub struct ResultsStored {
    pub results: usize,
    pub state_changes: usize,
    /// How long the batch's transaction took.
    pub seconds: f64,
}

impl InternalEvent for ResultsStored {
    fn emit(self) {
        tracing::debug!(results = self.results, changes = self.state_changes, "check results stored");
        metrics::counter!("opsdeck_check_results_stored_total").increment(self.results as u64);
        metrics::histogram!("opsdeck_check_results_store_seconds").record(self.seconds);
    }
}

/// A batch of results could not be stored; the leases expire and the monitors are checked again.
pub struct ResultsStoreFailed<'a> {
    pub results: usize,
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent for ResultsStoreFailed<'_> {
    fn emit(self) {
        tracing::error!(error = %self.error, count = self.results, "storing check results failed");
        metrics::counter!("opsdeck_check_results_failed_total").increment(self.results as u64);
    }
}

/// A check task panicked (a bug in a prober); its monitor is checked again when its lease ends.
pub struct CheckTaskPanicked;

impl InternalEvent for CheckTaskPanicked {
    fn emit(self) {
        tracing::error!("a check task panicked; the monitor is checked again when its lease ends");
        metrics::counter!("opsdeck_check_tasks_panicked_total").increment(1);
    }
}

/// Overdue monitors (after downtime) were spread over their next interval.
pub struct OverdueRespread {
    pub monitors: u64,
}

impl InternalEvent for OverdueRespread {
    fn emit(self) {
        tracing::info!(monitors = self.monitors, "spread overdue checks over their next interval");
        metrics::counter!("opsdeck_checks_respread_total").increment(self.monitors);
    }
}

/// A scheduler step failed against the database; the loop goes on and retries.
pub struct SchedulerStepFailed<'a> {
    pub step: &'static str,
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent for SchedulerStepFailed<'_> {
    fn emit(self) {
        tracing::warn!(error = %self.error, step = self.step, "scheduler step failed");
        metrics::counter!("opsdeck_scheduler_errors_total", "step" => self.step).increment(1);
    }
}
