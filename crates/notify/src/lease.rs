//! Fencing the outboxes' sends: a claimed message is sent only when the send, cut off at its
//! timeout, ends and is recorded before its lease does, so a node that stalled (or waited too
//! long for a permit) never sends what another node may have claimed since.

use crate::send::SendError;
use std::time::Duration;

/// How long a claim of queued work lasts beyond the longest send (every send is cut off at its
/// timeout): a dead node's work moves on within the timeout and this.
pub(crate) const LEASE_SLACK_MS: i64 = 5_000;

/// Time kept between a send's end and its lease's end, to record the result.
const RECORD_MARGIN_MS: i64 = 2_000;

/// Whether a send of at most `send_ms` that starts at `now_ms` ends, and its result is recorded,
/// before `lease_until` (ms).
pub(crate) fn may_start(now_ms: i64, send_ms: i64, lease_until: i64) -> bool {
    now_ms.saturating_add(send_ms).saturating_add(RECORD_MARGIN_MS) < lease_until
}

/// Runs `send`, cut off at `limit`: a send never outlives the lease it was started under.
pub(crate) async fn within<F>(limit: Duration, send: F) -> Result<(), SendError>
where
    F: std::future::Future<Output = Result<(), SendError>>,
{
    tokio::time::timeout(limit, send).await.unwrap_or_else(|_| {
        Err(SendError { message: format!("no answer within {} s", limit.as_secs()), permanent: false })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_starts_only_if_it_ends_and_is_recorded_within_the_lease() {
        // A 10 s send under a 15 s lease may start within 3 s of the claim.
        let lease_until = 15_000;
        assert!(may_start(0, 10_000, lease_until));
        assert!(may_start(2_999, 10_000, lease_until));
        assert!(!may_start(3_000, 10_000, lease_until), "the result could not be recorded in time");
        assert!(!may_start(30_000, 10_000, lease_until), "a node that woke after its lease sends nothing");
        assert!(!may_start(i64::MAX, 10_000, i64::MAX), "no overflow");
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_is_cut_off_at_its_timeout() {
        let hung = std::future::pending::<Result<(), SendError>>();
        let e = within(Duration::from_secs(10), hung).await.unwrap_err();
        assert!(!e.permanent, "a timeout is retried");
        assert_eq!(e.message, "no answer within 10 s");
        assert!(within(Duration::from_secs(10), async { Ok(()) }).await.is_ok());
    }
}
