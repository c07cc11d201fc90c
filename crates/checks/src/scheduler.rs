//! The check scheduler: claims due monitors through leases in the database, runs their probes
//! with bounded concurrency, and stores results in batches.
//!
//! Any number of nodes may run a scheduler against one PostgreSQL database: a monitor is leased
//! to one node at a time, for seconds, renewed while its check waits, runs and is stored
//! ([`crate::held`]); a node that dies delays its checks only until those leases end, and one
//! that stalled past them stores nothing. Time comes from the [`Clock`], so
//! [`Scheduler::run_once`] is driven by a fake clock in tests.

use crate::Prober;
use crate::events::{
    CheckFinished, CheckStarted, CheckTaskPanicked, ChecksClaimed, OverdueRespread, ResultsStoreFailed, ResultsStored,
    SchedulerStepFailed,
};
use crate::held::{self, Held};
use chrono::Duration as ChronoDuration;
use opsdeck_core::clock::Clock;
use opsdeck_core::monitor::{CheckOutcome, CheckStatus, Settings, heartbeat_deadline, next_run};
use opsdeck_core::telemetry::InternalEvent;
use opsdeck_store::Db;
use opsdeck_store::monitor::{CheckRecord, DueMonitor, Retention, StateChange};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

/// Called with the state changes of each stored batch (live updates, alerts).
pub type ChangeSink =
    Arc<dyn Fn(Vec<StateChange>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Checks running at once on this node.
    pub max_concurrency: usize,
    /// Monitors claimed per database round trip.
    pub claim_batch: i64,
    /// How far ahead monitors are claimed: each check still starts at its due time, so a claim
    /// that waits behind other writes does not make checks late.
    pub lookahead: Duration,
    /// Claimed checks (waiting for their time, running, or storing) at most, on this node.
    pub max_claimed: usize,
    /// How often the scheduler looks for due monitors.
    pub tick: Duration,
    /// Results are written at least this often…
    pub flush_every: Duration,
    /// …or as soon as this many are waiting.
    pub flush_max: usize,
    /// How often old history is pruned.
    pub prune_every: Duration,
    /// How much history is kept.
    pub retention: Retention,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            max_concurrency: 256,
            claim_batch: 1000,
            lookahead: Duration::from_secs(2),
            max_claimed: 8192,
            // Each tick claims what is due within the lookahead (a write transaction), and each
            // flush stores results (another): once a second each keeps their fixed cost small
            // at a few checks per second, while "check now" still starts within a second.
            tick: Duration::from_secs(1),
            flush_every: Duration::from_secs(1),
            flush_max: 500,
            prune_every: Duration::from_secs(300),
            retention: Retention::default(),
        }
    }
}

pub struct Scheduler {
    db: Db,
    prober: Arc<Prober>,
    clock: Arc<dyn Clock>,
    node: String,
    config: SchedulerConfig,
    on_change: ChangeSink,
    held: Held,
}

/// Lease length for [`Scheduler::run_once`], which renews nothing: long enough for the longest
/// probe timeout plus slack.
fn lease_for(timeout_seconds: i32) -> ChronoDuration {
    ChronoDuration::seconds(i64::from(timeout_seconds.max(1)) + 60)
}

impl Scheduler {
    pub fn new(
        db: Db,
        prober: Arc<Prober>,
        clock: Arc<dyn Clock>,
        config: SchedulerConfig,
        on_change: ChangeSink,
    ) -> Self {
        let node = format!("{}-{}", hostname(), uuid::Uuid::now_v7().simple());
        Scheduler { db, prober, clock, node, config, on_change, held: Held::default() }
    }

    /// This node's name in leases.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Renews the leases about to end of the checks this node holds; those it lost are forgotten,
    /// so their results are dropped.
    async fn renew_leases(&self) {
        let now = self.clock.now();
        let due = self.held.due_for_renewal(now);
        if due.is_empty() {
            return;
        }
        let until = now + held::LEASE;
        match self.db.renew_monitor_leases(&self.node, &due, until).await {
            Ok(kept) => self.held.renewed(&due, &kept, until),
            Err(e) => SchedulerStepFailed { step: "renew", error: &e }.emit(),
        }
    }

    /// Maintenance windows in force now (read once per claimed batch; windows are few).
    async fn active_windows(&self) -> Vec<opsdeck_core::maintenance::WindowSpec> {
        let now = self.clock.now();
        self.windows_within(now, now + ChronoDuration::milliseconds(1)).await
    }

    /// Maintenance windows in force at some time in `[from, to)`: a batch claimed ahead checks
    /// each monitor against these at its own start time.
    async fn windows_within(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Vec<opsdeck_core::maintenance::WindowSpec> {
        match self.db.list_windows().await {
            Ok(ws) => ws.into_iter().map(|w| w.spec).filter(|w| !w.occurrences(from, to, 1).is_empty()).collect(),
            Err(e) => {
                SchedulerStepFailed { step: "maintenance_windows", error: &e }.emit();
                Vec::new()
            }
        }
    }

    /// Runs one check of a claimed monitor and says when it should run next.
    async fn check(&self, m: &DueMonitor, maintenance: bool) -> CheckRecord {
        let started = self.clock.now();
        // How late the check starts against its schedule: the scheduler's key health signal.
        let lag = (started - m.due_at).num_milliseconds().max(0) as f64 / 1000.0;
        CheckStarted { lag_seconds: lag }.emit();
        let (outcome, hold) = if m.locations.is_empty() {
            (self.probe_here(m, started).await, false)
        } else {
            // Several locations: this node's own probe (if it is one of them) joins their
            // newest results, and the quorum decides; before any location reported, nothing.
            let own = match crate::locations::runs_here(&m.locations) {
                true => Some(self.probe_here(m, started).await),
                false => None,
            };
            match crate::locations::verdict(&self.db, m, own, started, self.clock.now()).await {
                Some(o) => (o, false),
                None => (crate::locations::no_verdict(), true),
            }
        };
        CheckFinished { status: outcome.status.as_str() }.emit();
        let now = self.clock.now();
        let next_run_at = match &m.settings {
            Settings::Heartbeat(h) if outcome.status.is_ok() => {
                heartbeat_deadline(&h.schedule, m.last_ping_at.unwrap_or(m.created_at), h.grace_seconds).unwrap_or(now)
            }
            _ => next_run(m.due_at, now, m.interval_seconds),
        };
        let claim = Some(m.claim.clone());
        CheckRecord { monitor_id: m.id, at: started, outcome, next_run_at, claim, maintenance, hold }
    }

    /// This node's own check of a monitor (a heartbeat's deadline, or a probe).
    async fn probe_here(&self, m: &DueMonitor, started: chrono::DateTime<chrono::Utc>) -> CheckOutcome {
        match &m.settings {
            Settings::Heartbeat(h) => {
                // A heartbeat is "due" when its deadline passed without a ping.
                let since = m.last_ping_at.unwrap_or(m.created_at);
                match heartbeat_deadline(&h.schedule, since, h.grace_seconds) {
                    Some(deadline) if deadline > started => CheckOutcome {
                        status: CheckStatus::Up,
                        latency_ms: None,
                        reason: "ping received in time".into(),
                        details: serde_json::Value::Null,
                    },
                    Some(deadline) => CheckOutcome::down(
                        None,
                        match m.last_ping_at {
                            Some(t) => format!(
                                "no ping since {} (expected by {})",
                                t.format("%Y-%m-%d %H:%M UTC"),
                                deadline.format("%Y-%m-%d %H:%M UTC")
                            ),
                            None => {
                                format!("no ping received yet (expected by {})", deadline.format("%Y-%m-%d %H:%M UTC"))
                            }
                        },
                    ),
                    None => CheckOutcome {
                        status: CheckStatus::Unknown,
                        latency_ms: None,
                        reason: "the schedule cannot be evaluated".into(),
                        details: serde_json::Value::Null,
                    },
                }
            }
            s => self.prober.probe(s, Duration::from_secs(m.timeout_seconds.max(1) as u64)).await,
        }
    }

    /// Claims every due monitor (up to the claim batch), checks them concurrently and stores
    /// the results. Returns how many checks ran. This is the whole cycle, without timers (and
    /// without claiming ahead).
    pub async fn run_once(self: &Arc<Self>) -> Result<usize, opsdeck_store::StoreError> {
        let now = self.clock.now();
        let due = self
            .db
            .claim_due_monitors(
                &self.node,
                now,
                now,
                now + lease_for(opsdeck_core::monitor::TIMEOUT_MAX_SECONDS),
                self.config.claim_batch,
            )
            .await?;
        let n = due.len();
        let windows = if due.is_empty() { Vec::new() } else { self.active_windows().await };
        let mut set = JoinSet::new();
        let permits = Arc::new(Semaphore::new(self.config.max_concurrency.max(1)));
        for m in due {
            let me = self.clone();
            let permits = permits.clone();
            let maint = windows.iter().any(|w| w.covers(m.id, m.claim.service_id));
            set.spawn(async move {
                let _permit = permits.acquire_owned().await;
                me.check(&m, maint).await
            });
        }
        let mut records = Vec::with_capacity(n);
        while let Some(r) = set.join_next().await {
            if let Ok(rec) = r {
                records.push(rec);
            }
        }
        let changes = self.db.record_checks(&records, &self.config.retention).await?;
        if !changes.is_empty() {
            (self.on_change)(changes).await;
        }
        Ok(n)
    }

    /// Runs until `shutdown` turns true: claims as capacity allows, writes results in batches.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        match self.db.reschedule_overdue(self.clock.now()).await {
            Ok(0) => {}
            Ok(n) => OverdueRespread { monitors: n }.emit(),
            Err(e) => SchedulerStepFailed { step: "respread", error: &e }.emit(),
        }
        let (tx, rx) = mpsc::channel::<(u64, CheckRecord)>(self.config.flush_max * 4);
        let writer = tokio::spawn(self.clone().write_loop(rx));
        // Renewals run on their own: a slow claim, prune or write must not let the leases of
        // running checks lapse, and they go on while a shutdown waits for those checks.
        let renewer = {
            let me = self.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(me.config.tick);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    me.renew_leases().await;
                }
            })
        };
        let permits = Arc::new(Semaphore::new(self.config.max_concurrency.max(1)));
        let mut last_prune = std::time::Instant::now();
        let mut tasks = JoinSet::new();
        let lookahead = ChronoDuration::from_std(self.config.lookahead).unwrap_or_default();
        loop {
            if *shutdown.borrow() {
                break;
            }
            while let Some(done) = tasks.try_join_next() {
                if done.is_err() {
                    CheckTaskPanicked.emit();
                }
            }
            let room = self.config.max_claimed.saturating_sub(tasks.len()) as i64;
            let wanted = room.min(self.config.claim_batch);
            let mut claimed = 0;
            if wanted > 0 {
                let now = self.clock.now();
                let lease = now + lookahead + held::LEASE;
                let started = std::time::Instant::now();
                match self.db.claim_due_monitors(&self.node, now, now + lookahead, lease, wanted).await {
                    Ok(due) => {
                        claimed = due.len();
                        ChecksClaimed { monitors: claimed, seconds: started.elapsed().as_secs_f64() }.emit();
                        // Windows that start within the lookahead count from their start.
                        let horizon = start_slot(now + lookahead) + ChronoDuration::seconds(1);
                        let windows = if due.is_empty() { Vec::new() } else { self.windows_within(now, horizon).await };
                        let windows = Arc::new(windows);
                        for m in due {
                            let (me, permits, tx, windows) =
                                (self.clone(), permits.clone(), tx.clone(), windows.clone());
                            // From the later of its due time and now: an overdue monitor (after
                            // an outage, or a stop of every node) is checked now.
                            let timeout = ChronoDuration::seconds(i64::from(m.timeout_seconds.max(1)));
                            let renew_until = held::later(m.due_at.max(now), &[lookahead, timeout, held::STORE_GRACE]);
                            let seq = self.held.claimed(m.id, lease, renew_until);
                            tasks.spawn(async move {
                                // Claimed ahead: wait for the due time (at most the lookahead),
                                // rounded up to a start slot so checks wake the runtime together.
                                if let Ok(early) = (start_slot(m.due_at) - me.clock.now()).to_std() {
                                    tokio::time::sleep(early).await;
                                }
                                let at = me.clock.now();
                                let maint =
                                    windows.iter().any(|w| w.covers(m.id, m.claim.service_id) && w.is_active(at));
                                let Ok(permit) = permits.acquire_owned().await else { return };
                                // A node that stalled past the lease leaves the check to the
                                // node that took it over.
                                let start = me.clock.now();
                                if !me.held.holds(m.id, seq, start) {
                                    me.held.release(m.id, seq);
                                    return;
                                }
                                // It may have waited for a permit: its timeout counts from now.
                                let limit = ChronoDuration::seconds(i64::from(m.timeout_seconds.max(1)));
                                me.held.started(m.id, seq, held::later(start, &[limit, held::STORE_GRACE]));
                                let rec = me.check(&m, maint).await;
                                drop(permit);
                                let _ = tx.send((seq, rec)).await;
                            });
                        }
                    }
                    Err(e) => SchedulerStepFailed { step: "claim", error: &e }.emit(),
                }
            }
            if last_prune.elapsed() >= self.config.prune_every {
                last_prune = std::time::Instant::now();
                if let Err(e) = self.db.prune_monitoring(self.clock.now(), &self.config.retention).await {
                    SchedulerStepFailed { step: "prune", error: &e }.emit();
                }
            }
            // More may be due right away when a full batch was claimed; otherwise everything
            // due within the lookahead is claimed, and the next claim is a tick away (the
            // lookahead is longer than the tick, so no check starts late for waiting on it).
            if wanted > 0 && claimed as i64 >= wanted {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.tick) => {}
                _ = shutdown.changed() => {}
            }
        }
        // Let running checks finish (they are bounded by their timeouts), then flush.
        while let Some(done) = tasks.join_next().await {
            if done.is_err() {
                CheckTaskPanicked.emit();
            }
        }
        drop(tx);
        let _ = writer.await;
        renewer.abort();
    }

    /// Collects results for up to `flush_every` (or `flush_max` results) and stores them in one
    /// transaction: per-transaction costs are shared by the whole batch.
    async fn write_loop(self: Arc<Self>, mut rx: mpsc::Receiver<(u64, CheckRecord)>) {
        let mut batch = Vec::with_capacity(self.config.flush_max);
        loop {
            let mut closed = false;
            match rx.recv().await {
                Some(rec) => batch.push(rec),
                None => closed = true,
            }
            if !closed {
                let deadline = tokio::time::Instant::now() + self.config.flush_every;
                while batch.len() < self.config.flush_max {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(rec)) => batch.push(rec),
                        Ok(None) => {
                            closed = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
            }
            // Fenced: only results of this node's current claims go to the store, which stores
            // them only where this node still owns the lease (another node may have taken a
            // monitor over while this one stalled).
            let (ours, lost): (Vec<_>, Vec<_>) =
                batch.drain(..).partition(|(seq, r)| self.held.current(r.monitor_id, *seq));
            for (seq, r) in &lost {
                self.held.release(r.monitor_id, *seq);
            }
            let claims: Vec<(Uuid, u64)> = ours.iter().map(|(seq, r)| (r.monitor_id, *seq)).collect();
            let records: Vec<CheckRecord> = ours.into_iter().map(|(_, r)| r).collect();
            if !records.is_empty() {
                let started = std::time::Instant::now();
                let batch = &records;
                match self.db.record_checks(batch, &self.config.retention).await {
                    Ok(changes) => {
                        let seconds = started.elapsed().as_secs_f64();
                        ResultsStored { results: batch.len(), state_changes: changes.len(), seconds }.emit();
                        if !changes.is_empty() {
                            tokio::spawn((self.on_change)(changes));
                        }
                    }
                    // The leases expire and the monitors are checked again; nothing is lost for good.
                    Err(e) => ResultsStoreFailed { results: batch.len(), error: &e }.emit(),
                }
                for (id, seq) in claims {
                    self.held.release(id, seq);
                }
            }
            if closed {
                break;
            }
        }
    }
}

/// Checks start on 100 ms boundaries: a few wake-ups a second instead of one per check, for at
/// most 100 ms of lag.
fn start_slot(due: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    const SLOT_MS: i64 = 100;
    let ms = due.timestamp_millis();
    let up = ms.checked_add(SLOT_MS - 1).map_or(ms, |m| m.div_euclid(SLOT_MS) * SLOT_MS);
    chrono::DateTime::from_timestamp_millis(up).unwrap_or(due)
}

fn hostname() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "node".into())
}

#[cfg(test)]
mod tests {
    use super::start_slot;
    use chrono::{DateTime, Utc};

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn checks_start_on_the_next_100_ms_boundary() {
        assert_eq!(start_slot(at(1_700_000_000_000)), at(1_700_000_000_000), "a boundary stays");
        assert_eq!(start_slot(at(1_700_000_000_001)), at(1_700_000_000_100));
        assert_eq!(start_slot(at(1_700_000_000_099)), at(1_700_000_000_100));
        assert_eq!(start_slot(at(-1)), at(0), "before 1970 too");
        assert_eq!(start_slot(DateTime::<Utc>::MAX_UTC), DateTime::<Utc>::MAX_UTC, "no overflow at the end of time");
    }
}
