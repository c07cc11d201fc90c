//! The scheduled reports' e-mail outbox: claimed with leases and sent like the other outboxes
//! (retries with back-off, given up after [`opsdeck_core::escalation::MAX_ATTEMPTS`]).

use crate::{Notifier, NotifyError, Pass, send};
use opsdeck_store::status_subscriber::DeliveryResult;

impl Notifier {
    /// Sends due report e-mails, a few per pass and one at a time: each is a whole page, and a
    /// pass must not keep escalations waiting. The lease outlasts the slowest few sends, so no
    /// other node takes them over meanwhile.
    pub(crate) async fn deliver_reports(&self) -> Result<Pass, NotifyError> {
        const PER_PASS: i64 = 5;
        const LEASE_MS: i64 = 10 * 60_000;
        let now_ms = self.clock.now().timestamp_millis();
        let node = &self.config.node;
        let due = self.db.claim_report_deliveries(node, now_ms, now_ms + LEASE_MS, PER_PASS).await?;
        let mut pass = Pass::default();
        let mut results = Vec::with_capacity(due.len());
        for d in due {
            let result = match self.sender.send_report(&d).await {
                Ok(()) => {
                    pass.sent += 1;
                    DeliveryResult::Sent
                }
                Err(send::SendError { message, permanent }) => {
                    if permanent || d.attempts.saturating_add(1) >= opsdeck_core::escalation::MAX_ATTEMPTS {
                        pass.failed += 1;
                        DeliveryResult::Failed { error: message }
                    } else {
                        pass.retried += 1;
                        let at = now_ms
                            + opsdeck_core::escalation::backoff_ms(d.attempts.saturating_add(1), rand::random::<f64>());
                        DeliveryResult::Retry { error: message, at }
                    }
                }
            };
            results.push((d, result));
        }
        self.db.complete_report_deliveries(node, now_ms, &results).await?;
        Ok(pass)
    }
}
