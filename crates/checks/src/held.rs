//! The leases of the checks this node has claimed: short, renewed while a check waits for its
//! time, runs and is stored, so a node that dies gives its monitors up within seconds, and
//! fenced, so a node that stalled past its lease (a pause, a stop signal, a network cut) stores
//! nothing of the checks another node has taken over.

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use uuid::Uuid;

/// How long a lease lasts from its claim or last renewal. A dead node's monitors are claimed
/// again by another node at most this long (plus a tick) after its last renewal.
pub const LEASE: Duration = Duration::seconds(10);

/// A lease is renewed once less than this is left of it (renewals run every tick, a second).
pub const RENEW_WITHIN: Duration = Duration::seconds(8);

/// Past its due time plus its timeout, a check is given this long to be stored before this node
/// stops renewing its lease: a check task that was lost (it panicked) cannot hold its monitor
/// forever.
pub const STORE_GRACE: Duration = Duration::seconds(30);

/// `t` plus the sum of `spans`, or the end of time rather than an overflow panic.
pub fn later(t: DateTime<Utc>, spans: &[Duration]) -> DateTime<Utc> {
    spans.iter().try_fold(t, |t, d| t.checked_add_signed(*d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

struct Entry {
    /// Which claim of the monitor this is: a result of an earlier claim is never stored under a
    /// later one.
    seq: u64,
    until: DateTime<Utc>,
    renew_until: DateTime<Utc>,
}

/// Leases this node holds, by monitor.
#[derive(Default)]
pub struct Held {
    entries: Mutex<HashMap<Uuid, Entry>>,
    next_seq: AtomicU64,
}

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Entry>> {
        // A panic while holding this lock leaves a plain map behind; its entries stay usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a claim of `id` leased until `until`, renewed at most until `renew_until`; returns
    /// the claim's sequence number.
    pub fn claimed(&self, id: Uuid, until: DateTime<Utc>, renew_until: DateTime<Utc>) -> u64 {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, Entry { seq, until, renew_until });
        seq
    }

    /// Claim `seq` of `id` starts its check now: its lease is renewed until `renew_until`.
    pub fn started(&self, id: Uuid, seq: u64, renew_until: DateTime<Utc>) {
        if let Some(e) = self.lock().get_mut(&id).filter(|e| e.seq == seq) {
            e.renew_until = e.renew_until.max(renew_until);
        }
    }

    /// Whether claim `seq` of `id` still holds its lease at `now`: its result may be stored.
    pub fn holds(&self, id: Uuid, seq: u64, now: DateTime<Utc>) -> bool {
        self.lock().get(&id).is_some_and(|e| e.seq == seq && e.until > now)
    }

    /// Whether claim `seq` of `id` is still this node's latest claim of it (its result may go to
    /// the store, whose update is conditioned on the lease's owner: if another node took the
    /// monitor over meanwhile, nothing is stored).
    pub fn current(&self, id: Uuid, seq: u64) -> bool {
        self.lock().get(&id).is_some_and(|e| e.seq == seq)
    }

    /// Forgets claim `seq` of `id` (stored, dropped or lost).
    pub fn release(&self, id: Uuid, seq: u64) {
        let mut map = self.lock();
        if map.get(&id).is_some_and(|e| e.seq == seq) {
            map.remove(&id);
        }
    }

    /// The monitors whose leases end within [`RENEW_WITHIN`] of `now`, or ended (a late renewal
    /// still holds if no other node took the monitor: the database decides); entries past their
    /// renewal limit are forgotten instead, and their results are not stored.
    pub fn due_for_renewal(&self, now: DateTime<Utc>) -> Vec<Uuid> {
        let mut map = self.lock();
        map.retain(|_, e| e.renew_until > now);
        map.iter().filter(|(_, e)| e.until - now < RENEW_WITHIN).map(|(id, _)| *id).collect()
    }

    /// Applies a renewal of `asked` to `until`: the monitors in `kept` hold it, the others were
    /// lost (taken over, paused, edited or deleted) and are forgotten.
    pub fn renewed(&self, asked: &[Uuid], kept: &[Uuid], until: DateTime<Utc>) {
        let kept: std::collections::HashSet<&Uuid> = kept.iter().collect();
        let mut map = self.lock();
        for id in asked {
            if kept.contains(id) {
                if let Some(e) = map.get_mut(id) {
                    e.until = until;
                }
            } else {
                map.remove(id);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn renewal_limits_never_overflow() {
        assert_eq!(later(t(0), &[LEASE, STORE_GRACE]), t(40));
        assert_eq!(later(DateTime::<Utc>::MAX_UTC, &[LEASE]), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn a_later_claim_fences_an_earlier_result() {
        let held = Held::default();
        let id = Uuid::now_v7();
        let first = held.claimed(id, t(10), t(60));
        assert!(held.holds(id, first, t(1)));
        let second = held.claimed(id, t(20), t(70));
        assert!(!held.holds(id, first, t(1)), "the first claim's result is not stored");
        assert!(held.holds(id, second, t(1)));
        held.release(id, first);
        assert!(held.holds(id, second, t(1)), "releasing an old claim leaves the new one");
        held.release(id, second);
        assert!(held.is_empty());
    }

    #[test]
    fn an_ended_lease_holds_nothing() {
        let held = Held::default();
        let id = Uuid::now_v7();
        let seq = held.claimed(id, t(10), t(60));
        assert!(!held.holds(id, seq, t(10)), "a node that stalled past its lease starts nothing");
        assert_eq!(held.due_for_renewal(t(11)), vec![id], "a late renewal is tried: the database decides");
        held.renewed(&[id], &[], t(21));
        assert!(!held.current(id, seq), "taken over meanwhile: its result is not stored");
        assert!(held.is_empty());
    }

    #[test]
    fn renewals_pick_leases_about_to_end_and_forget_lost_ones() {
        let held = Held::default();
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        held.claimed(a, t(5), t(60));
        held.claimed(b, t(30), t(60));
        let sc = held.claimed(c, t(5), t(3));
        held.started(c, sc + 1, t(60));
        let mut due = held.due_for_renewal(t(4));
        due.sort();
        assert_eq!(due, vec![a], "b has time left; c is past its renewal limit");
        assert!(!held.holds(c, sc, t(4)));
        held.renewed(&[a], &[], t(14));
        assert_eq!(held.len(), 1, "a was lost to another node");
        let sb = held.claimed(b, t(7), t(60));
        held.renewed(&[b], &[b], t(17));
        assert!(held.holds(b, sb, t(16)));
    }
}
