//! Monitors, their check results, rollups and state-change events.

use crate::audit::{audit, bump};
use crate::dialect::placeholders;
use crate::page::{self, Cursor, Page};
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
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
    m.updated_at, s.name AS service_name";

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

fn bucket_start(at: DateTime<Utc>, resolution: i32) -> i64 {
    let r = i64::from(resolution) * 1000;
    at.timestamp_millis().div_euclid(r) * r
}

impl Db {
    pub async fn create_monitor(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        spec: MonitorSpec,
        paused: bool,
    ) -> StoreResult<MonitorView> {
        let id = Uuid::now_v7();
        let ping_token = (spec.kind == MonitorType::Heartbeat).then(|| secret::generate("hb_"));
        let next = match &spec.settings {
            // Heartbeats are "checked" when their deadline passes.
            Settings::Heartbeat(h) => {
                opsdeck_core::monitor::heartbeat_deadline(&h.schedule, now, h.grace_seconds).unwrap_or(now)
            }
            _ => first_run(id, now, spec.interval_seconds),
        };
        let state = if paused { MonitorState::Paused } else { MonitorState::Pending }.as_str();
        let ms = now.timestamp_millis();
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO monitors (id, name, service_id, kind, interval_seconds, \
                 timeout_seconds, down_after, up_after, tags, settings, paused, state, state_since, \
                 fail_streak, ok_streak, ping_token, next_run_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, 0, $14, $15, \
                 $13, $13)",
            )
            .bind(id)
            .bind(&spec.name)
            .bind(spec.service_id)
            .bind(spec.kind.as_str())
            .bind(spec.interval_seconds)
            .bind(spec.timeout_seconds)
            .bind(spec.down_after)
            .bind(spec.up_after)
            .bind(Json(&spec.tags))
            .bind(Json(&spec.settings))
            .bind(paused)
            .bind(state)
            .bind(ms)
            .bind(&ping_token)
            .bind(next.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("monitor.create", "monitor", Some(id), format!("Created monitor {}", spec.name))
                    .after(&spec)
            );
            bump!(tx, MONITORS);
        });
        self.get_monitor(id).await
    }

    async fn ensure_service(&self, service_id: Option<Uuid>) -> StoreResult<()> {
        if let Some(id) = service_id {
            match self.get_service(crate::catalogue::Ref::Id(id)).await {
                Err(StoreError::NotFound(_)) => {
                    return Err(opsdeck_core::Error::invalid("service_id", "no service has this id").into());
                }
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        Ok(())
    }

    /// Validates references before a monitor is written.
    pub async fn check_monitor_refs(&self, spec: &MonitorSpec) -> StoreResult<()> {
        self.ensure_service(spec.service_id).await
    }

    pub async fn get_monitor(&self, id: Uuid) -> StoreResult<MonitorView> {
        let row: Option<MonitorRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {MONITOR_COLS} FROM monitors m LEFT JOIN services s ON s.id = m.service_id WHERE m.id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.ok_or(StoreError::NotFound(Entity::Monitor))?.try_into()
    }

    pub async fn get_monitor_by_ping_token(&self, token: &str) -> StoreResult<MonitorView> {
        let row: Option<MonitorRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {MONITOR_COLS} FROM monitors m LEFT \
                 JOIN services s ON s.id = m.service_id WHERE m.ping_token = $1"
            )))
            .bind(token)
            .fetch_optional(pool)
            .await?
        });
        row.ok_or(StoreError::NotFound(Entity::Monitor))?.try_into()
    }

    pub async fn monitors_revision(&self) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM revisions WHERE name = $1").bind(MONITORS).fetch_one(pool).await?
        }))
    }

    /// Monitors by name with filters; keyset-paginated.
    pub async fn list_monitors(&self, f: &MonitorFilter) -> StoreResult<Page<MonitorView>> {
        let limit = page::clamp_limit(f.limit);
        let pattern = f.q.as_deref().filter(|q| !q.trim().is_empty()).map(page::like_pattern);
        let tag = f
            .tag
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| format!("%\"{}\"%", t.replace(['%', '_', '"', '\\'], "")));
        let (c_name, c_id) = (f.cursor.as_ref().map(|c| c.key.as_str()), f.cursor.as_ref().map(|c| c.id));
        let rows: Vec<MonitorRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {MONITOR_COLS} FROM monitors m LEFT \
                 JOIN services s ON s.id = m.service_id WHERE ($1 IS NULL \
                 OR LOWER(m.name) LIKE $1 ESCAPE '\\') AND ($2 IS NULL OR m.state = $2) \
                 AND ($3 IS NULL OR m.service_id = $3) AND ($4 IS NULL OR m.kind = $4) \
                 AND ($5 IS NULL OR CAST(m.tags AS TEXT) LIKE $5) AND ($6 IS NULL OR m.name > $6 \
                 OR (m.name = $6 AND m.id > $7)) ORDER BY m.name, m.id LIMIT $8"
            )))
            .bind(pattern.as_deref())
            .bind(f.state.map(MonitorState::as_str))
            .bind(f.service_id)
            .bind(f.kind.map(MonitorType::as_str))
            .bind(tag.as_deref())
            .bind(c_name)
            .bind(c_id)
            .bind(limit + 1)
            .fetch_all(pool)
            .await?
        });
        let page = page::finish(rows, limit, |r| Cursor { key: r.name.clone(), id: r.id });
        Ok(Page {
            items: page.items.into_iter().map(MonitorView::try_from).collect::<StoreResult<_>>()?,
            next_cursor: page.next_cursor,
        })
    }

    /// Number of monitors in each state.
    pub async fn monitor_state_counts(&self, service_id: Option<Uuid>) -> StoreResult<HashMap<MonitorState, i64>> {
        let rows: Vec<(String, i64)> = with_db!(self, |pool| {
            sqlx::query_as("SELECT state, COUNT(*) FROM monitors WHERE ($1 IS NULL OR service_id = $1) GROUP BY state")
                .bind(service_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().filter_map(|(s, n)| MonitorState::parse(&s).map(|s| (s, n))).collect())
    }

    pub async fn update_monitor(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        spec: MonitorSpec,
    ) -> StoreResult<MonitorView> {
        let before = self.get_monitor(id).await?;
        if before.monitor.spec == spec {
            return Ok(before);
        }
        let b = &before.monitor;
        let reschedule = b.spec.interval_seconds != spec.interval_seconds || b.spec.settings != spec.settings;
        let next = if !reschedule {
            b.next_run_at
        } else if let Settings::Heartbeat(h) = &spec.settings {
            let since = b.last_ping_at.unwrap_or(now);
            opsdeck_core::monitor::heartbeat_deadline(&h.schedule, since, h.grace_seconds).unwrap_or(now)
        } else {
            now
        };
        let ping_token = match (spec.kind, &b.ping_token) {
            (MonitorType::Heartbeat, Some(t)) => Some(t.clone()),
            (MonitorType::Heartbeat, None) => Some(secret::generate("hb_")),
            _ => None,
        };
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE monitors SET name = $1, service_id = $2, kind = $3, interval_seconds = $4, \
                 timeout_seconds = $5, down_after = $6, up_after = $7, tags = $8, settings = $9, \
                 next_run_at = $10, ping_token = $11, updated_at = $12, lease_owner = NULL, \
                 lease_until = NULL WHERE id = $13",
            )
            .bind(&spec.name)
            .bind(spec.service_id)
            .bind(spec.kind.as_str())
            .bind(spec.interval_seconds)
            .bind(spec.timeout_seconds)
            .bind(spec.down_after)
            .bind(spec.up_after)
            .bind(Json(&spec.tags))
            .bind(Json(&spec.settings))
            .bind(next.timestamp_millis())
            .bind(&ping_token)
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("monitor.update", "monitor", Some(id), format!("Updated monitor {}", spec.name))
                    .before(&b.spec)
                    .after(&spec)
            );
            bump!(tx, MONITORS);
        });
        self.get_monitor(id).await
    }

    pub async fn delete_monitor(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_monitor(id).await?;
        write_tx!(self, |tx| {
            for sql in [
                "DELETE FROM check_results WHERE monitor_id = $1",
                "DELETE FROM check_rollups WHERE monitor_id = $1",
                "DELETE FROM monitor_events WHERE monitor_id = $1",
                "DELETE FROM monitors WHERE id = $1",
            ] {
                sqlx::query(sql).bind(id).execute(&mut *tx).await?;
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "monitor.delete",
                    "monitor",
                    Some(id),
                    format!("Deleted monitor {}", before.monitor.spec.name)
                )
                .before(&before.monitor.spec)
            );
            bump!(tx, MONITORS);
        });
        Ok(())
    }

    /// Pauses or resumes a monitor; resuming starts over from `pending` and checks at once.
    pub async fn set_monitor_paused(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        paused: bool,
    ) -> StoreResult<Option<StateChange>> {
        let before = self.get_monitor(id).await?;
        if before.monitor.paused == paused {
            return Ok(None);
        }
        let to = if paused { MonitorState::Paused } else { MonitorState::Pending };
        let (health, transition) = before.monitor.health.set_override(to);
        let reason = if paused { format!("paused by {}", actor.label) } else { format!("resumed by {}", actor.label) };
        let ms = now.timestamp_millis();
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE monitors SET paused = $1, state = $2, state_since = $3, fail_streak = 0, ok_streak = 0, \
                         next_run_at = $3, lease_owner = NULL, lease_until = NULL, updated_at = $3 WHERE id = $4",
            )
            .bind(paused)
            .bind(health.state.as_str())
            .bind(ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if let Some(t) = transition {
                sqlx::query(
                    "INSERT INTO monitor_events (id, monitor_id, at, from_state, to_state, reason) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(Uuid::now_v7())
                .bind(id)
                .bind(ms)
                .bind(t.from.as_str())
                .bind(t.to.as_str())
                .bind(&reason)
                .execute(&mut *tx)
                .await?;
            }
            let action = if paused { "monitor.pause" } else { "monitor.resume" };
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    action,
                    "monitor",
                    Some(id),
                    format!("{} monitor {}", if paused { "Paused" } else { "Resumed" }, before.monitor.spec.name)
                )
            );
            bump!(tx, MONITORS);
        });
        Ok(transition.map(|transition| StateChange {
            monitor_id: id,
            name: before.monitor.spec.name.clone(),
            service_id: before.monitor.spec.service_id,
            at: now,
            transition,
            reason,
        }))
    }

    /// Makes a monitor due now ("check now").
    pub async fn check_monitor_now(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        let n = with_db!(self, |pool| {
            sqlx::query(
                "UPDATE monitors SET next_run_at = $1, lease_owner = NULL, lease_until = NULL \
                 WHERE id = $2 AND NOT paused",
            )
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            self.get_monitor(id).await?;
            return Err(StoreError::Conflict("the monitor is paused; resume it first".into()));
        }
        Ok(())
    }

    /// When the next unleased monitor is due (the scheduler sleeps until then).
    pub async fn next_due_at(&self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>> {
        let ms: Option<i64> = with_db!(self, |pool| {
            sqlx::query_scalar(
                "SELECT MIN(next_run_at) FROM monitors WHERE NOT paused AND (lease_until IS NULL \
                 OR lease_until < $1)",
            )
            .bind(now.timestamp_millis())
            .fetch_one(pool)
            .await?
        });
        Ok(ms.map(from_millis))
    }

    /// Claims up to `limit` due monitors for `node` until `lease_until`.
    pub async fn claim_due_monitors(
        &self,
        node: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<DueMonitor>> {
        let rows = crate::dialect::claim_due_monitors(
            self,
            node,
            now.timestamp_millis(),
            lease_until.timestamp_millis(),
            limit,
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|DueRowPub(r)| DueMonitor {
                id: r.id,
                settings: r.settings.0,
                timeout_seconds: r.timeout_seconds,
                interval_seconds: r.interval_seconds,
                due_at: from_millis(r.next_run_at),
                created_at: from_millis(r.created_at),
                last_ping_at: r.last_ping_at.map(from_millis),
                claim: Claim {
                    node: node.to_owned(),
                    health: Health {
                        state: MonitorState::parse(&r.state).unwrap_or(MonitorState::Pending),
                        fail_streak: r.fail_streak,
                        ok_streak: r.ok_streak,
                    },
                    down_after: r.down_after,
                    up_after: r.up_after,
                    interval_seconds: r.interval_seconds,
                    name: r.name,
                    service_id: r.service_id,
                },
            })
            .collect())
    }

    /// Stores finished checks in one transaction: the new health and schedule (releasing the
    /// lease), raw results, rollups, and an event per state change, which it returns.
    ///
    /// This is the hot write path: raw results and rollups go in as multi-row statements, and
    /// rollups are summed in memory first, so a batch of checks costs few statements.
    pub async fn record_checks(&self, records: &[CheckRecord], retention: &Retention) -> StoreResult<Vec<StateChange>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.backend();
        let mut changes = Vec::new();
        write_tx!(self, |tx| {
            let mut accepted: Vec<&CheckRecord> = Vec::with_capacity(records.len());
            let mut rollups: HashMap<(Uuid, i32, i64), RollupAgg> = HashMap::new();
            // (record, claim, new health, transition) of every stored result.
            let mut stored: Vec<(&CheckRecord, Claim, Option<Transition>)> = Vec::with_capacity(records.len());
            let mut leased: Vec<(&CheckRecord, Claim, Health, Option<Transition>)> = Vec::with_capacity(records.len());
            for rec in records {
                // Leased checks carry what the claim saw; pings read the monitor now, one at a
                // time, so two pings of one monitor in a batch see each other.
                let claim = match &rec.claim {
                    Some(c) => c.clone(),
                    None => {
                        let cur: Option<PingRow> = sqlx::query_as(
                            "SELECT state, fail_streak, ok_streak, down_after, up_after, paused, \
                             interval_seconds, name, service_id FROM monitors WHERE id = $1",
                        )
                        .bind(rec.monitor_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        // Deleted meanwhile, or paused: a ping changes nothing.
                        let Some((state, fail, ok, down_after, up_after, paused, interval, name, service_id)) = cur
                        else {
                            continue;
                        };
                        if paused {
                            continue;
                        }
                        let health = Health {
                            state: MonitorState::parse(&state).unwrap_or(MonitorState::Pending),
                            fail_streak: fail,
                            ok_streak: ok,
                        };
                        Claim {
                            node: String::new(),
                            health,
                            down_after,
                            up_after,
                            interval_seconds: interval,
                            name,
                            service_id,
                        }
                    }
                };
                let o = &rec.outcome;
                // Maintenance freezes the state at `maintenance`; leaving it starts over from
                // pending, so the first result after the window decides.
                let (next, transition) = match (rec.maintenance, claim.health.state == MonitorState::Maintenance) {
                    (true, _) => claim.health.set_override(MonitorState::Maintenance),
                    (false, true) => {
                        let (h, _) = Health::default().apply(o.status, claim.down_after, claim.up_after);
                        (h, Some(Transition { from: MonitorState::Maintenance, to: h.state }))
                    }
                    (false, false) => claim.health.apply(o.status, claim.down_after, claim.up_after),
                };
                if rec.claim.is_some() {
                    leased.push((rec, claim, next, transition));
                    continue;
                }
                let at_ms = rec.at.timestamp_millis();
                let updated = sqlx::query(
                    "UPDATE monitors SET state = $1, fail_streak = $2, ok_streak = $3, next_run_at = $4, \
                     lease_owner = NULL, lease_until = NULL, last_check_at = $5, last_status = $6, \
                     last_latency_ms = $7, last_reason = $8, last_details = $9, state_since = CASE WHEN \
                     $10 THEN $5 ELSE state_since END WHERE id = $11",
                )
                .bind(next.state.as_str())
                .bind(next.fail_streak)
                .bind(next.ok_streak)
                .bind(rec.next_run_at.timestamp_millis())
                .bind(at_ms)
                .bind(o.status.as_str())
                .bind(o.latency_ms)
                .bind(&o.reason)
                .bind(Json(&o.details))
                .bind(transition.is_some())
                .bind(rec.monitor_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated > 0 {
                    stored.push((rec, claim, transition));
                }
            }

            // Leased checks: one statement per 64 results. The state update is conditioned on
            // the lease: if this node lost it (the monitor was paused, edited, re-queued or
            // deleted meanwhile), nothing of that result is stored.
            for chunk in crate::dialect::fixed_chunks(&leased) {
                let sql = crate::dialect::multi_row(
                    backend,
                    "WITH v (id, state, fail_streak, ok_streak, next_run_at, at, status, latency, \
                     reason, details, changed, node) AS (VALUES ",
                    12,
                    chunk.len(),
                    ") UPDATE monitors SET state = v.state, fail_streak = v.fail_streak, ok_streak = \
                     v.ok_streak, next_run_at = v.next_run_at, lease_owner = NULL, lease_until = NULL, \
                     last_check_at = v.at, last_status = v.status, last_latency_ms = v.latency, \
                     last_reason = v.reason, last_details = v.details, state_since = CASE WHEN v.changed \
                     THEN v.at ELSE monitors.state_since END FROM v WHERE monitors.id = v.id \
                     AND monitors.lease_owner = v.node RETURNING monitors.id",
                );
                let mut q = sqlx::query_scalar::<_, Uuid>(sqlx::AssertSqlSafe(sql));
                for (rec, claim, next, transition) in chunk {
                    let o = &rec.outcome;
                    q = q
                        .bind(rec.monitor_id)
                        .bind(next.state.as_str())
                        .bind(next.fail_streak)
                        .bind(next.ok_streak)
                        .bind(rec.next_run_at.timestamp_millis())
                        .bind(rec.at.timestamp_millis())
                        .bind(o.status.as_str())
                        .bind(o.latency_ms)
                        .bind(&o.reason)
                        .bind(Json(&o.details))
                        .bind(transition.is_some())
                        .bind(&claim.node);
                }
                let ok: std::collections::HashSet<Uuid> = q.fetch_all(&mut *tx).await?.into_iter().collect();
                for (rec, claim, _, transition) in chunk {
                    if ok.contains(&rec.monitor_id) {
                        stored.push((rec, claim.clone(), *transition));
                    }
                }
            }

            for (rec, claim, transition) in stored {
                let at_ms = rec.at.timestamp_millis();
                let o = &rec.outcome;
                let maintenance = rec.maintenance;
                for res in [MINUTE, HOUR, DAY] {
                    rollups.entry((rec.monitor_id, res, bucket_start(rec.at, res))).or_default().add(o, maintenance);
                }
                // Raw results stay bounded (≈ the newest N, never older than the age limit).
                // Pruned on every 10th check of a monitor: one delete of ~10 rows beats ten.
                let interval_ms = i64::from(claim.interval_seconds.max(1)) * 1000;
                if (at_ms / interval_ms) % 10 == 0 || rec.claim.is_none() {
                    let keep_from = (at_ms - interval_ms * i64::from(retention.raw_per_monitor))
                        .max(at_ms - i64::from(retention.raw_max_age_hours) * 3_600_000);
                    sqlx::query("DELETE FROM check_results WHERE monitor_id = $1 AND at < $2")
                        .bind(rec.monitor_id)
                        .bind(keep_from)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(t) = transition {
                    sqlx::query(
                        "INSERT INTO monitor_events (id, monitor_id, at, from_state, to_state, reason) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(rec.monitor_id)
                    .bind(at_ms)
                    .bind(t.from.as_str())
                    .bind(t.to.as_str())
                    .bind(&o.reason)
                    .execute(&mut *tx)
                    .await?;
                    changes.push(StateChange {
                        monitor_id: rec.monitor_id,
                        name: claim.name.clone(),
                        service_id: claim.service_id,
                        at: rec.at,
                        transition: t,
                        reason: o.reason.clone(),
                    });
                }
                accepted.push(rec);
            }

            for chunk in crate::dialect::fixed_chunks(&accepted) {
                let sql = crate::dialect::multi_row(
                    backend,
                    "INSERT INTO check_results (monitor_id, at, status, latency_ms, reason) VALUES ",
                    5,
                    chunk.len(),
                    " ON CONFLICT (monitor_id, at) DO NOTHING",
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for rec in chunk {
                    let o = &rec.outcome;
                    q = q
                        .bind(rec.monitor_id)
                        .bind(rec.at.timestamp_millis())
                        .bind(o.status.as_str())
                        .bind(o.latency_ms)
                        .bind(&o.reason);
                }
                q.execute(&mut *tx).await?;
            }

            let rows: Vec<((Uuid, i32, i64), RollupAgg)> = rollups.into_iter().collect();
            for chunk in crate::dialect::fixed_chunks(&rows) {
                let sql = crate::dialect::multi_row(backend, UPSERT_ROLLUPS_HEAD, 26, chunk.len(), UPSERT_ROLLUPS_TAIL);
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for ((id, res, bucket), a) in chunk {
                    q = q
                        .bind(*id)
                        .bind(*res)
                        .bind(*bucket)
                        .bind(a.total)
                        .bind(a.failures)
                        .bind(a.degraded)
                        .bind(a.maintenance)
                        .bind(a.maint_failures)
                        .bind(a.latency_sum);
                    for h in a.hist {
                        q = q.bind(h);
                    }
                }
                q.execute(&mut *tx).await?;
            }
            bump!(tx, MONITORS);
        });
        Ok(changes)
    }

    /// Notes that a watched job started (`/ping/{token}/start`); the next ping's latency is the
    /// job's run time.
    pub async fn record_ping_start(&self, token: &str, now: DateTime<Utc>) -> StoreResult<MonitorView> {
        let m = self.get_monitor_by_ping_token(token).await?;
        with_db!(self, |pool| {
            sqlx::query("UPDATE monitors SET ping_started_at = $1 WHERE id = $2")
                .bind(now.timestamp_millis())
                .bind(m.monitor.id)
                .execute(pool)
                .await?;
        });
        Ok(m)
    }

    /// Records a heartbeat ping as a check result; after a `/start`, its latency is the job's
    /// duration.
    pub async fn record_ping(
        &self,
        token: &str,
        now: DateTime<Utc>,
        mut outcome: CheckOutcome,
        retention: &Retention,
    ) -> StoreResult<(MonitorView, Vec<StateChange>)> {
        let m = self.get_monitor_by_ping_token(token).await?;
        let Settings::Heartbeat(h) = &m.monitor.spec.settings else {
            return Err(StoreError::NotFound(Entity::Monitor));
        };
        let next = opsdeck_core::monitor::heartbeat_deadline(&h.schedule, now, h.grace_seconds).unwrap_or(now);
        let started: Option<i64> = with_db!(self, |pool| {
            let started: Option<i64> = sqlx::query_scalar("SELECT ping_started_at FROM monitors WHERE id = $1")
                .bind(m.monitor.id)
                .fetch_one(pool)
                .await?;
            sqlx::query("UPDATE monitors SET last_ping_at = $1, ping_started_at = NULL WHERE id = $2")
                .bind(now.timestamp_millis())
                .bind(m.monitor.id)
                .execute(pool)
                .await?;
            started
        });
        if let Some(s) = started.filter(|s| *s <= now.timestamp_millis()) {
            outcome.latency_ms = Some((now.timestamp_millis() - s) as f64);
        }
        let changes = self
            .record_checks(
                &[CheckRecord {
                    monitor_id: m.monitor.id,
                    at: now,
                    outcome,
                    next_run_at: next,
                    claim: None,
                    maintenance: false,
                }],
                retention,
            )
            .await?;
        Ok((self.get_monitor(m.monitor.id).await?, changes))
    }

    /// The newest raw results of each monitor, newest first, at most `n` each.
    pub async fn recent_results(&self, ids: &[Uuid], n: i64) -> StoreResult<HashMap<Uuid, Vec<RawResult>>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT monitor_id, at, status, latency_ms, reason \
             FROM ( SELECT monitor_id, at, status, latency_ms, reason, ROW_NUMBER() OVER \
             (PARTITION BY monitor_id ORDER BY at DESC) AS rn FROM check_results \
             WHERE monitor_id IN ({})) r WHERE rn <= {} ORDER BY monitor_id, at DESC",
            placeholders(self.backend(), ids.len(), 1),
            placeholders(self.backend(), 1, ids.len() + 1),
        );
        let rows: Vec<(Uuid, i64, String, Option<f64>, String)> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for id in ids {
                q = q.bind(*id);
            }
            q.bind(n).fetch_all(pool).await?
        });
        let mut out: HashMap<Uuid, Vec<RawResult>> = HashMap::new();
        for (id, at, status, latency_ms, reason) in rows {
            out.entry(id).or_default().push(RawResult {
                at: from_millis(at),
                status: CheckStatus::parse(&status),
                latency_ms,
                reason,
            });
        }
        Ok(out)
    }

    pub async fn monitor_events(&self, monitor_id: Option<Uuid>, limit: i64) -> StoreResult<Vec<MonitorEvent>> {
        let rows: Vec<(Uuid, Uuid, i64, String, String, String)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, monitor_id, at, from_state, to_state, reason FROM monitor_events \
                            WHERE ($1 IS NULL OR monitor_id = $1) ORDER BY at DESC, id DESC LIMIT $2",
            )
            .bind(monitor_id)
            .bind(limit.clamp(1, 1000))
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, monitor_id, at, from, to, reason)| MonitorEvent {
                id,
                monitor_id,
                at: from_millis(at),
                from: MonitorState::parse(&from).unwrap_or(MonitorState::Pending),
                to: MonitorState::parse(&to).unwrap_or(MonitorState::Pending),
                reason,
            })
            .collect())
    }

    /// Rollups of one monitor at `resolution` from `since`, oldest first.
    pub async fn rollups(&self, monitor_id: Uuid, resolution: i32, since: DateTime<Utc>) -> StoreResult<Vec<Rollup>> {
        let rows: Vec<RollupRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ROLLUP_COLS} FROM check_rollups WHERE monitor_id = $1 \
                 AND resolution = $2 AND bucket >= $3 ORDER BY bucket"
            )))
            .bind(monitor_id)
            .bind(resolution)
            .bind(bucket_start(since, resolution))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Rollup::from).collect())
    }

    /// Totals over the last `window`: hourly rollups up to 2 days, daily beyond.
    pub async fn rollup_window(&self, monitor_id: Uuid, now: DateTime<Utc>, window: Duration) -> StoreResult<Rollup> {
        let res = if window <= Duration::days(2) { HOUR } else { DAY };
        let mut total = Rollup { bucket: now - window, ..Default::default() };
        for r in self.rollups(monitor_id, res, now - window).await? {
            total.add(&r);
        }
        Ok(total)
    }

    /// Spreads monitors that are more than one interval overdue (after downtime) over their
    /// next interval, so a restart does not run every overdue check at once.
    pub async fn reschedule_overdue(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let rows: Vec<(Uuid, i32)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, interval_seconds FROM monitors WHERE NOT paused AND kind <> 'heartbeat' \
                            AND next_run_at < $1 - CAST(interval_seconds AS BIGINT) * 1000",
            )
            .bind(now.timestamp_millis())
            .fetch_all(pool)
            .await?
        });
        if rows.is_empty() {
            return Ok(0);
        }
        write_tx!(self, |tx| {
            for (id, interval) in &rows {
                sqlx::query("UPDATE monitors SET next_run_at = $1 WHERE id = $2")
                    .bind(first_run(*id, now, *interval).timestamp_millis())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        });
        Ok(rows.len() as u64)
    }

    /// Deletes history past its retention; returns rows removed.
    pub async fn prune_monitoring(&self, now: DateTime<Utc>, r: &Retention) -> StoreResult<u64> {
        let ms = now.timestamp_millis();
        let hour = 3_600_000i64;
        let mut n = 0;
        with_db!(self, |pool| {
            n += sqlx::query("DELETE FROM check_rollups WHERE resolution = $1 AND bucket < $2")
                .bind(MINUTE)
                .bind(ms - i64::from(r.minutely_hours) * hour)
                .execute(pool)
                .await?
                .rows_affected();
            n += sqlx::query("DELETE FROM check_rollups WHERE resolution = $1 AND bucket < $2")
                .bind(HOUR)
                .bind(ms - i64::from(r.hourly_days) * 24 * hour)
                .execute(pool)
                .await?
                .rows_affected();
            n += sqlx::query("DELETE FROM check_rollups WHERE resolution = $1 AND bucket < $2")
                .bind(DAY)
                .bind(ms - i64::from(r.daily_days) * 24 * hour)
                .execute(pool)
                .await?
                .rows_affected();
            n += sqlx::query("DELETE FROM monitor_events WHERE at < $1")
                .bind(ms - i64::from(r.events_days) * 24 * hour)
                .execute(pool)
                .await?
                .rows_affected();
        });
        Ok(n)
    }
}

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
        });
        Ok(())
    }
}
