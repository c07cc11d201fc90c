//! Monitors, their check results, rollups and state-change events.

use crate::audit::{audit, audit_many, bump};
use crate::dialect::{fixed_chunks, multi_row, placeholders};
use crate::page::{self, Cursor, Page};
use crate::{Db, StoreError, StoreResult, with_db, with_writer, write_tx};
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::monitor::{
    BUCKET_BOUNDS_MS, CheckOutcome, CheckStatus, Health, LatencyHistogram, Monitor, MonitorSpec, MonitorState,
    MonitorType, Settings, Transition, first_run,
};
use opsdeck_core::secret;
use sqlx::types::Json;
use std::collections::HashMap;
use uuid::Uuid;

/// The revision counter bumped by every monitor write (for cached renderings).
pub const MONITORS: &str = "monitors";

/// Rollup resolutions in seconds.
pub const MINUTE: i32 = 60;
pub const HOUR: i32 = 3600;
pub const DAY: i32 = 86_400;

const MONITOR_COLS: &str = "m.id, m.name, m.service_id, m.kind, m.interval_seconds, m.timeout_seconds, m.down_after, \
    m.up_after, m.tags, m.settings, m.paused, m.state, m.state_since, m.fail_streak, m.ok_streak, m.ping_token, \
    m.next_run_at, m.last_check_at, m.last_ping_at, m.last_status, m.last_latency_ms, m.last_reason, m.created_at, \
    m.updated_at, m.locations, m.quorum, s.name AS service_name";

#[derive(sqlx::FromRow)]
struct MonitorRow {
    id: Uuid,
    name: String,
    service_id: Option<Uuid>,
    kind: String,
    interval_seconds: i32,
    timeout_seconds: i32,
    down_after: i32,
    up_after: i32,
    tags: Json<Vec<String>>,
    settings: Json<Settings>,
    paused: bool,
    state: String,
    state_since: i64,
    fail_streak: i32,
    ok_streak: i32,
    ping_token: Option<String>,
    next_run_at: i64,
    last_check_at: Option<i64>,
    last_ping_at: Option<i64>,
    last_status: Option<String>,
    last_latency_ms: Option<f64>,
    last_reason: Option<String>,
    created_at: i64,
    updated_at: i64,
    locations: Json<Vec<String>>,
    quorum: i32,
    service_name: Option<String>,
}

/// A monitor with what lists need beside it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MonitorView {
    #[serde(flatten)]
    pub monitor: Monitor,
    pub service_name: Option<String>,
    pub state_since: DateTime<Utc>,
    /// The newest result, as lists and the API show it.
    pub last_result: Option<RawResult>,
}

impl TryFrom<MonitorRow> for MonitorView {
    type Error = StoreError;
    fn try_from(r: MonitorRow) -> StoreResult<Self> {
        let kind: MonitorType = r.kind.parse()?;
        let last_result = match (r.last_check_at, r.last_status) {
            (Some(at), Some(status)) => Some(RawResult {
                at: from_millis(at),
                status: CheckStatus::parse(&status),
                latency_ms: r.last_latency_ms,
                reason: r.last_reason.unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(MonitorView {
            monitor: Monitor {
                id: r.id,
                spec: MonitorSpec {
                    name: r.name,
                    service_id: r.service_id,
                    kind,
                    interval_seconds: r.interval_seconds,
                    timeout_seconds: r.timeout_seconds,
                    down_after: r.down_after,
                    up_after: r.up_after,
                    tags: r.tags.0,
                    settings: r.settings.0,
                    locations: r.locations.0,
                    quorum: r.quorum,
                },
                paused: r.paused,
                health: Health {
                    state: MonitorState::parse(&r.state).unwrap_or(MonitorState::Pending),
                    fail_streak: r.fail_streak,
                    ok_streak: r.ok_streak,
                },
                ping_token: r.ping_token,
                next_run_at: from_millis(r.next_run_at),
                last_check_at: r.last_check_at.map(from_millis),
                last_ping_at: r.last_ping_at.map(from_millis),
                created_at: from_millis(r.created_at),
                updated_at: from_millis(r.updated_at),
            },
            service_name: r.service_name,
            state_since: from_millis(r.state_since),
            last_result,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct MonitorFilter {
    pub q: Option<String>,
    pub state: Option<MonitorState>,
    pub service_id: Option<Uuid>,
    pub kind: Option<MonitorType>,
    pub tag: Option<String>,
    pub cursor: Option<Cursor>,
    pub limit: Option<i64>,
}

/// A monitor claimed for checking.
#[derive(Debug, Clone)]
pub struct DueMonitor {
    pub id: Uuid,
    pub settings: Settings,
    pub timeout_seconds: i32,
    pub interval_seconds: i32,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_ping_at: Option<DateTime<Utc>>,
    /// Where it runs from (empty: the nodes only) and how many must fail.
    pub locations: Vec<String>,
    pub quorum: i32,
    /// Its last edit (a new target waits this long for its locations' first results).
    pub updated_at: DateTime<Utc>,
    /// Carried to [`Db::record_checks`] with the result.
    pub claim: Claim,
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: Uuid,
    name: String,
    service_id: Option<Uuid>,
    settings: Json<Settings>,
    timeout_seconds: i32,
    interval_seconds: i32,
    down_after: i32,
    up_after: i32,
    state: String,
    fail_streak: i32,
    ok_streak: i32,
    next_run_at: i64,
    created_at: i64,
    last_ping_at: Option<i64>,
    locations: Json<Vec<String>>,
    quorum: i32,
    updated_at: i64,
}

/// One finished check, ready to be stored.
#[derive(Debug, Clone)]
pub struct CheckRecord {
    pub monitor_id: Uuid,
    /// When the check started.
    pub at: DateTime<Utc>,
    pub outcome: CheckOutcome,
    /// When the monitor should run next.
    pub next_run_at: DateTime<Utc>,
    /// What the claim saw, for leased checks; `None` for pings.
    pub claim: Option<Claim>,
    /// The monitor was inside a maintenance window when checked.
    pub maintenance: bool,
    /// No verdict yet (a monitor run from agents that none has reported on): the monitor is
    /// only rescheduled and its lease released; its state and history stay as they are.
    pub hold: bool,
}

/// The monitor as it was when a node leased it.
#[derive(Debug, Clone)]
pub struct Claim {
    pub node: String,
    pub health: Health,
    pub down_after: i32,
    pub up_after: i32,
    pub interval_seconds: i32,
    pub name: String,
    pub service_id: Option<Uuid>,
}

/// What a ping reads of its monitor: state, streaks, thresholds, paused, interval, name, service.
type PingRow = (String, i32, i32, i32, i32, bool, i32, String, Option<Uuid>);

/// A state change that a stored result caused.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StateChange {
    pub monitor_id: Uuid,
    pub name: String,
    pub service_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub transition: Transition,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MonitorEvent {
    pub id: Uuid,
    pub monitor_id: Uuid,
    pub at: DateTime<Utc>,
    pub from: MonitorState,
    pub to: MonitorState,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RawResult {
    pub at: DateTime<Utc>,
    pub status: CheckStatus,
    pub latency_ms: Option<f64>,
    pub reason: String,
}

/// Aggregated checks over a window.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Rollup {
    pub bucket: DateTime<Utc>,
    pub total: i64,
    pub failures: i64,
    pub degraded: i64,
    pub maintenance: i64,
    /// Failures during maintenance (also counted in `failures`).
    pub maint_failures: i64,
    pub latency_sum: f64,
    pub histogram: LatencyHistogram,
}

impl Rollup {
    /// Share of checks that passed, leaving out checks made during maintenance.
    pub fn uptime(&self) -> Option<f64> {
        let counted = self.total - self.maintenance;
        let failed = self.failures - self.maint_failures;
        (counted > 0).then(|| 100.0 * (counted - failed).max(0) as f64 / counted as f64)
    }

    pub fn uptime_raw(&self) -> Option<f64> {
        (self.total > 0).then(|| 100.0 * (self.total - self.failures).max(0) as f64 / self.total as f64)
    }

    pub fn avg_latency(&self) -> Option<f64> {
        let n = self.histogram.total();
        (n > 0).then(|| self.latency_sum / n as f64)
    }

    fn add(&mut self, o: &Rollup) {
        self.total += o.total;
        self.failures += o.failures;
        self.degraded += o.degraded;
        self.maintenance += o.maintenance;
        self.maint_failures += o.maint_failures;
        self.latency_sum += o.latency_sum;
        self.histogram.merge(&o.histogram);
    }
}

#[derive(sqlx::FromRow)]
struct RollupRow {
    bucket: i64,
    total: i32,
    failures: i32,
    degraded: i32,
    maintenance: i32,
    maint_failures: i32,
    latency_sum: f64,
    h0: i32,
    h1: i32,
    h2: i32,
    h3: i32,
    h4: i32,
    h5: i32,
    h6: i32,
    h7: i32,
    h8: i32,
    h9: i32,
    h10: i32,
    h11: i32,
    h12: i32,
    h13: i32,
    h14: i32,
    h15: i32,
    h16: i32,
}

impl From<RollupRow> for Rollup {
    fn from(r: RollupRow) -> Self {
        let h = [
            r.h0, r.h1, r.h2, r.h3, r.h4, r.h5, r.h6, r.h7, r.h8, r.h9, r.h10, r.h11, r.h12, r.h13, r.h14, r.h15, r.h16,
        ];
        Rollup {
            bucket: from_millis(r.bucket),
            total: r.total.into(),
            failures: r.failures.into(),
            degraded: r.degraded.into(),
            maintenance: r.maintenance.into(),
            maint_failures: r.maint_failures.into(),
            latency_sum: r.latency_sum,
            histogram: LatencyHistogram { counts: h.iter().map(|c| (*c).max(0) as u32).collect() },
        }
    }
}

const ROLLUP_COLS: &str = "bucket, total, failures, degraded, maintenance, maint_failures, latency_sum, h0, \
                           h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14, h15, h16";

const UPSERT_ROLLUPS_HEAD: &str = "INSERT INTO check_rollups (monitor_id, resolution, bucket, total, failures, \
                                   degraded, maintenance, maint_failures, latency_sum, h0, h1, h2, h3, h4, h5, h6, h7, \
                                   h8, h9, h10, h11, h12, h13, h14, h15, h16) VALUES ";

const UPSERT_ROLLUPS_TAIL: &str = " ON CONFLICT (monitor_id, resolution, bucket) DO UPDATE \
                                   SET total = check_rollups.total + excluded.total, failures = check_rollups.failures \
                                   + excluded.failures, degraded = check_rollups.degraded + excluded.degraded, \
                                   maintenance = check_rollups.maintenance + excluded.maintenance, maint_failures = \
                                   check_rollups.maint_failures + excluded.maint_failures, latency_sum = \
                                   check_rollups.latency_sum + excluded.latency_sum, h0 = check_rollups.h0 + \
                                   excluded.h0, h1 = check_rollups.h1 + excluded.h1, h2 = check_rollups.h2 + \
                                   excluded.h2, h3 = check_rollups.h3 + excluded.h3, h4 = check_rollups.h4 + \
                                   excluded.h4, h5 = check_rollups.h5 + excluded.h5, h6 = check_rollups.h6 + \
                                   excluded.h6, h7 = check_rollups.h7 + excluded.h7, h8 = check_rollups.h8 + \
                                   excluded.h8, h9 = check_rollups.h9 + excluded.h9, h10 = check_rollups.h10 + \
                                   excluded.h10, h11 = check_rollups.h11 + excluded.h11, h12 = check_rollups.h12 + \
                                   excluded.h12, h13 = check_rollups.h13 + excluded.h13, h14 = check_rollups.h14 + \
                                   excluded.h14, h15 = check_rollups.h15 + excluded.h15, h16 = check_rollups.h16 + \
                                   excluded.h16";

/// A rollup increment summed in memory before it is written.
#[derive(Default)]
struct RollupAgg {
    total: i32,
    failures: i32,
    degraded: i32,
    maintenance: i32,
    maint_failures: i32,
    latency_sum: f64,
    hist: [i32; BUCKET_BOUNDS_MS.len() + 1],
}

impl RollupAgg {
    fn add(&mut self, o: &CheckOutcome, maintenance: bool) {
        self.total += 1;
        self.failures += i32::from(!o.status.is_ok());
        self.degraded += i32::from(o.status == CheckStatus::Degraded);
        self.maintenance += i32::from(maintenance);
        self.maint_failures += i32::from(maintenance && !o.status.is_ok());
        if let Some(l) = o.latency_ms {
            self.latency_sum += l;
            let i = BUCKET_BOUNDS_MS.iter().position(|b| l <= *b).unwrap_or(BUCKET_BOUNDS_MS.len());
            self.hist[i] += 1;
        }
    }
}

/// How long each kind of history is kept (`[retention]` in the configuration file).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Raw results kept per monitor (newest first).
    pub raw_per_monitor: i32,
    pub raw_max_age_hours: i32,
    /// Minute rollups are no longer written (nothing read them; raw results cover the last
    /// hours): rows an older version wrote are pruned after this many hours. Accepted so that
    /// existing configuration files still load.
    pub minutely_hours: i32,
    pub hourly_days: i32,
    pub daily_days: i32,
    pub events_days: i32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw_per_monitor: 100,
            raw_max_age_hours: 48,
            minutely_hours: 6,
            hourly_days: 90,
            daily_days: 400,
            events_days: 400,
        }
    }
}

impl Retention {
    /// Every field within its range, or the first that is not, named as in the `[retention]`
    /// table. A zero or negative keep would prune history as soon as it is written.
    pub fn check(&self) -> Result<(), String> {
        let fields = [
            ("raw_per_monitor", self.raw_per_monitor, 1, 10_000),
            ("raw_max_age_hours", self.raw_max_age_hours, 1, 24 * 366),
            ("minutely_hours", self.minutely_hours, 1, 24 * 366),
            ("hourly_days", self.hourly_days, 1, 3_660),
            ("daily_days", self.daily_days, 1, 36_600),
            ("events_days", self.events_days, 1, 36_600),
        ];
        match fields.into_iter().find(|(_, v, lo, hi)| !(lo..=hi).contains(&v)) {
            Some((name, v, lo, hi)) => Err(format!("retention.{name} must be {lo} to {hi} (got {v})")),
            None => Ok(()),
        }
    }
}

fn bucket_start(at: DateTime<Utc>, resolution: i32) -> i64 {
    let r = i64::from(resolution) * 1000;
    at.timestamp_millis().div_euclid(r) * r
}

mod alerts;
mod history;
mod monitors;
mod ping;
mod schedule;
mod upkeep;

pub use alerts::{alert_envelope, raises_alert};

/// Row type shared with the dialect's claim statement.
pub(crate) struct DueRowPub(DueRow);

impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for DueRowPub
where
    DueRow: sqlx::FromRow<'r, R>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        DueRow::from_row(row).map(DueRowPub)
    }
}

impl Db {
    /// Writes historical rollups (imports, demo back-fill); existing buckets are left alone.
    pub async fn backfill_rollups(&self, monitor_id: Uuid, resolution: i32, rows: &[Rollup]) -> StoreResult<()> {
        write_tx!(self, |tx| {
            for r in rows {
                let mut q = sqlx::query(
                    "INSERT INTO check_rollups (monitor_id, resolution, bucket, total, failures, \
                     degraded, maintenance, maint_failures, latency_sum, h0, h1, h2, h3, h4, h5, h6, h7, \
                     h8, h9, h10, h11, h12, h13, h14, h15, h16) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                     $18, $19, $20, $21, $22, $23, $24, $25, $26) \
                     ON CONFLICT (monitor_id, resolution, bucket) DO NOTHING",
                )
                .bind(monitor_id)
                .bind(resolution)
                .bind(bucket_start(r.bucket, resolution))
                .bind(r.total as i32)
                .bind(r.failures as i32)
                .bind(r.degraded as i32)
                .bind(r.maintenance as i32)
                .bind(r.maint_failures as i32)
                .bind(r.latency_sum);
                for i in 0..=BUCKET_BOUNDS_MS.len() {
                    q = q.bind(r.histogram.counts.get(i).copied().unwrap_or(0) as i32);
                }
                q.execute(&mut *tx).await?;
            }
            bump!(tx, MONITORS);
            if resolution == DAY {
                // Closed days may have been summed per service already: sum them again.
                bump!(tx, crate::kpi::KPI_DAYS);
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Retention;

    #[test]
    fn retention_names_the_field_out_of_range() {
        assert_eq!(Retention::default().check(), Ok(()));
        let bad = Retention { hourly_days: 0, ..Retention::default() };
        assert_eq!(bad.check(), Err("retention.hourly_days must be 1 to 3660 (got 0)".to_owned()));
        let bad = Retention { raw_per_monitor: -5, ..Retention::default() };
        assert!(bad.check().unwrap_err().starts_with("retention.raw_per_monitor"));
    }
}
