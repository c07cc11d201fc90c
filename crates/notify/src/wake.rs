//! When the notifier makes its next pass: on a slow poll, or soon after something was written.

use crate::NotifyConfig;
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, sleep_until};

/// Waits until the next pass is due: `tick` after the last one `began`, or `wake_gap` after it
/// once `woken`. False when the notifier is to stop.
pub(crate) async fn next_pass(
    began: Instant,
    config: &NotifyConfig,
    woken: &Notify,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        _ = after(began, config.tick) => true,
        _ = woken.notified() => tokio::select! {
            _ = after(began, config.wake_gap) => true,
            _ = shutdown.changed() => false,
        },
        _ = shutdown.changed() => false,
    }
}

/// Sleeps until `d` after `began`; a span past the clock's range never ends (no overflow).
async fn after(began: Instant, d: std::time::Duration) {
    match began.checked_add(d) {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config() -> NotifyConfig {
        NotifyConfig { tick: Duration::from_secs(1), wake_gap: Duration::from_millis(200), ..NotifyConfig::default() }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_notifier_polls_every_tick_and_a_woken_one_after_the_gap() {
        let (config, woken) = (config(), Notify::new());
        let (_stop, mut shutdown) = watch::channel(false);
        let began = Instant::now();
        assert!(next_pass(began, &config, &woken, &mut shutdown).await);
        assert_eq!(began.elapsed(), Duration::from_secs(1), "nothing written: the next poll");

        // Woken during a pass (before the wait starts): the wake is kept, the gap is kept.
        let began = Instant::now();
        woken.notify_one();
        woken.notify_one();
        assert!(next_pass(began, &config, &woken, &mut shutdown).await);
        assert_eq!(began.elapsed(), Duration::from_millis(200), "many wake-ups, one pass");
        let began = Instant::now();
        assert!(next_pass(began, &config, &woken, &mut shutdown).await);
        assert_eq!(began.elapsed(), Duration::from_secs(1), "the wake-ups were used up");

        // Woken long after the pass began: at once.
        let began = Instant::now();
        tokio::time::advance(Duration::from_millis(500)).await;
        woken.notify_one();
        assert!(next_pass(began, &config, &woken, &mut shutdown).await);
        assert_eq!(began.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_tick_past_the_clock_range_waits_for_a_wake_instead_of_overflowing() {
        let config = NotifyConfig { tick: Duration::MAX, ..config() };
        let (woken, (_stop, mut shutdown)) = (Notify::new(), watch::channel(false));
        let began = Instant::now();
        woken.notify_one();
        assert!(next_pass(began, &config, &woken, &mut shutdown).await);
        assert_eq!(began.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn a_shutdown_ends_the_wait() {
        let (config, woken) = (config(), Notify::new());
        let (stop, mut shutdown) = watch::channel(false);
        let began = Instant::now();
        let waiting = next_pass(began, &config, &woken, &mut shutdown);
        stop.send(true).expect("a receiver");
        assert!(!waiting.await, "stops instead of passing");
        assert!(began.elapsed() < Duration::from_secs(1));
    }
}
