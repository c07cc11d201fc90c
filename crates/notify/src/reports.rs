//! The outboxes of whole e-mails (scheduled reports and lifecycle reminder digests): claimed with
//! leases and sent like the other outboxes (retries with back-off, given up after
//! [`opsdeck_core::escalation::MAX_ATTEMPTS`]).

use crate::{Notifier, NotifyError, Pass, send};
use opsdeck_store::report_schedule::MailOutbox;
use opsdeck_store::status_subscriber::DeliveryResult;

impl Notifier {
    /// Sends due report and reminder e-mails, a few of each per pass and one at a time: each is a whole page, and a
    /// pass must not keep escalations waiting. Each is claimed on its own, for its send's timeout
    /// and some slack like the other outboxes, so a dead node's e-mail moves on within seconds.
    pub(crate) async fn deliver_reports(&self) -> Result<Pass, NotifyError> {
        const PER_PASS: usize = 5;
        let mut pass = Pass::default();
        for outbox in MailOutbox::ALL {
            let p = self.deliver_mails(outbox, PER_PASS).await?;
            pass.sent += p.sent;
            pass.retried += p.retried;
            pass.failed += p.failed;
        }
        Ok(pass)
    }

    async fn deliver_mails(&self, outbox: MailOutbox, per_pass: usize) -> Result<Pass, NotifyError> {
        let node = &self.config.node;
        let mut pass = Pass::default();
        for _ in 0..per_pass {
            let now_ms = self.clock.now().timestamp_millis();
            let Some(d) = self.db.claim_mail_deliveries(outbox, node, now_ms, now_ms + self.lease_ms(), 1).await?.pop()
            else {
                break;
            };
            let result = match crate::within(self.config.send_timeout, self.sender.send_mail(outbox, &d)).await {
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
            self.db.complete_mail_deliveries(outbox, node, now_ms, &[(d, result)]).await?;
        }
        if pass.sent + pass.retried + pass.failed >= per_pass {
            // More may be waiting (a report to many people): the next pass comes after the
            // wake gap, not the poll, as when passes came five times a second.
            self.wake();
        }
        Ok(pass)
    }
}
