//! Internal events of the escalation and notification worker (see `opsdeck_core::telemetry`).

use opsdeck_core::telemetry::InternalEvent;

/// Registers every series at zero so `/metrics` lists them before the first event.
pub fn describe() {
    for name in [
        "opsdeck_escalation_steps_total",
        "opsdeck_notifier_pass_failures_total",
        "opsdeck_send_tasks_panicked_total",
        "opsdeck_maintenance_steps_total",
        "opsdeck_slo_alert_changes_total",
    ] {
        metrics::counter!(name).absolute(0);
    }
    for outcome in ["sent", "retried", "given_up"] {
        metrics::counter!("opsdeck_notifications_total", "outcome" => outcome).absolute(0);
    }
}

/// Escalation levels were stepped: their notifications queued and the next level scheduled.
pub struct EscalationsStepped {
    pub steps: usize,
}

impl InternalEvent for EscalationsStepped {
    fn emit(self) {
        if self.steps > 0 {
            tracing::debug!(steps = self.steps, "escalations stepped");
        }
        metrics::counter!("opsdeck_escalation_steps_total").increment(self.steps as u64);
    }
}

/// One outbox pass: how many messages went out, will be retried, or were given up.
pub struct NotificationsDelivered {
    pub sent: usize,
    pub retried: usize,
    pub given_up: usize,
}

impl InternalEvent for NotificationsDelivered {
    fn emit(self) {
        if self.retried + self.given_up > 0 {
            tracing::warn!(sent = self.sent, retried = self.retried, given_up = self.given_up, "notification failures");
        } else if self.sent > 0 {
            tracing::debug!(sent = self.sent, "notifications sent");
        }
        metrics::counter!("opsdeck_notifications_total", "outcome" => "sent").increment(self.sent as u64);
        metrics::counter!("opsdeck_notifications_total", "outcome" => "retried").increment(self.retried as u64);
        metrics::counter!("opsdeck_notifications_total", "outcome" => "given_up").increment(self.given_up as u64);
    }
}

/// A send task panicked; its notification stays leased and is sent again when the lease ends.
pub struct SendTaskPanicked;

impl InternalEvent for SendTaskPanicked {
    fn emit(self) {
        tracing::error!("a notification send task panicked; it is retried when its lease ends");
        metrics::counter!("opsdeck_send_tasks_panicked_total").increment(1);
    }
}

/// A notifier pass failed against the database; the next tick tries again.
pub struct NotifierPassFailed<'a> {
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent for NotifierPassFailed<'_> {
    fn emit(self) {
        tracing::warn!(error = %self.error, "notifier pass failed");
        metrics::counter!("opsdeck_notifier_pass_failures_total").increment(1);
    }
}

/// Scheduled maintenance on status pages moved: announced, reminded of, started or completed.
pub struct MaintenanceMoved {
    pub steps: usize,
}

impl InternalEvent for MaintenanceMoved {
    fn emit(self) {
        tracing::info!(steps = self.steps, "scheduled maintenance moved");
        metrics::counter!("opsdeck_maintenance_steps_total").increment(self.steps as u64);
    }
}

/// SLO burn-rate alerts were raised, changed urgency or resolved.
pub struct SloAlertsChanged {
    pub changed: usize,
}

impl InternalEvent for SloAlertsChanged {
    fn emit(self) {
        tracing::info!(changed = self.changed, "SLO burn-rate alerts changed");
        metrics::counter!("opsdeck_slo_alert_changes_total").increment(self.changed as u64);
    }
}

/// The SLO evaluator finished a pass over every SLO.
pub struct SlosEvaluated {
    pub slos: usize,
    pub seconds: f64,
}

impl InternalEvent for SlosEvaluated {
    fn emit(self) {
        tracing::debug!(slos = self.slos, seconds = self.seconds, "SLOs evaluated");
        metrics::histogram!("opsdeck_slo_evaluation_seconds").record(self.seconds);
        metrics::gauge!("opsdeck_slos_evaluated").set(self.slos as f64);
    }
}
