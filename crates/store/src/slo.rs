//! Service level objectives: their definitions, and the counts their SLIs read: monitor checks
//! (hourly rollups for spans of an hour and more, raw results for shorter ones) or good/total
//! counts pushed per minute. Prometheus SLIs are read by the caller, over HTTP.

use crate::audit::audit;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::slo::{self, Counts, MinuteCounts, PrometheusRatio, Sli, SloSpec, SloWindow};
use sqlx::types::Json;
use uuid::Uuid;

/// SLOs an instance keeps, at most.
pub const SLOS_MAX: i64 = 5000;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Slo {
    pub id: Uuid,
    #[serde(flatten)]
    pub spec: SloSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    description: String,
    service_id: Uuid,
    monitor_ids: Json<Vec<Uuid>>,
    target: f64,
    rolling_days: Option<i32>,
    time_zone: Option<String>,
    exclude_maintenance: bool,
    sli_kind: String,
    sli_source: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<Row> for Slo {
    fn from(r: Row) -> Slo {
        let window = match (r.rolling_days, r.time_zone) {
            (_, Some(time_zone)) => SloWindow::CalendarMonth { time_zone },
            (days, None) => SloWindow::Rolling { days: days.and_then(|d| u16::try_from(d).ok()).unwrap_or(28) },
        };
        let source = r.sli_source.as_deref().and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok());
        let sli = match (r.sli_kind.as_str(), source) {
            ("events", _) => Sli::Events,
            ("prometheus", Some(p)) => match serde_json::from_value::<PrometheusRatio>(p) {
                Ok(p) => Sli::Prometheus(p),
                Err(_) => Sli::Availability { monitor_ids: r.monitor_ids.0 },
            },
            // An unreadable threshold stays a latency SLI with no data, never another kind.
            ("latency", l) => Sli::Latency {
                monitor_ids: r.monitor_ids.0,
                threshold_ms: l.and_then(|l| l.get("threshold_ms")?.as_f64()).unwrap_or(f64::NAN),
            },
            _ => Sli::Availability { monitor_ids: r.monitor_ids.0 },
        };
        Slo {
            id: r.id,
            spec: SloSpec {
                name: r.name,
                description: r.description,
                service_id: r.service_id,
                sli,
                target: r.target,
                window,
                exclude_maintenance: r.exclude_maintenance,
            },
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const COLS: &str = "id, name, description, service_id, monitor_ids, target, rolling_days, time_zone, \
                    exclude_maintenance, sli_kind, sli_source, created_at, updated_at";

/// The SLI's kind and, for Prometheus and latency, its source as JSON.
fn sli_cols(sli: &Sli) -> (&'static str, Option<String>) {
    let source = match sli {
        Sli::Prometheus(p) => serde_json::to_string(p).ok(),
        Sli::Latency { threshold_ms, .. } => Some(serde_json::json!({ "threshold_ms": threshold_ms }).to_string()),
        _ => None,
    };
    (sli.kind(), source)
}

/// What a check counts as good for an SLI on monitors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CheckMeasure {
    /// It passed (up or degraded); checks in maintenance left out of rollups when asked.
    Passed { exclude_maintenance: bool },
    /// It passed and was answered within the first `buckets` latency buckets (up to
    /// `threshold_ms`); a failure, a timeout included, is bad (maintenance counts: the histogram
    /// does not record it).
    Within { buckets: usize, threshold_ms: f64 },
}

impl CheckMeasure {
    /// The measure of an availability or latency SLI.
    pub fn of(spec: &SloSpec) -> Option<CheckMeasure> {
        match &spec.sli {
            Sli::Availability { .. } => Some(CheckMeasure::Passed { exclude_maintenance: spec.exclude_maintenance }),
            Sli::Latency { threshold_ms, .. } => slo::latency_buckets(*threshold_ms)
                .map(|buckets| CheckMeasure::Within { buckets, threshold_ms: *threshold_ms }),
            _ => None,
        }
    }

    /// (total, bad) expressions over a `check_rollups` row. For latency, good is the checks within
    /// the threshold, but at most the checks that passed: failures without a latency (timeouts,
    /// refused connections) are bad, and so are failures answered fast when no passing check was
    /// slow (the histogram does not tell failures apart, so this is exact unless a row holds
    /// both fast failures and slow successes).
    pub(crate) fn rollup_exprs(self) -> (String, String) {
        match self {
            CheckMeasure::Passed { exclude_maintenance: true } => {
                ("total - maintenance".into(), "failures - maint_failures".into())
            }
            CheckMeasure::Passed { exclude_maintenance: false } => ("total".into(), "failures".into()),
            CheckMeasure::Within { buckets, .. } => {
                let n = opsdeck_core::monitor::BUCKET_BOUNDS_MS.len() + 1;
                let cols: Vec<String> = (0..buckets.min(n)).map(|i| format!("h{i}")).collect();
                let fast = if cols.is_empty() { "0".to_owned() } else { format!("({})", cols.join(" + ")) };
                let good = format!("(CASE WHEN {fast} < total - failures THEN {fast} ELSE total - failures END)");
                ("total".into(), format!("(total - {good})"))
            }
        }
    }

    /// (total, bad) expressions over a `check_results` row.
    pub(crate) fn raw_exprs(self) -> (String, String) {
        match self {
            CheckMeasure::Passed { .. } => {
                ("1".into(), "CASE WHEN status IN ('down', 'unknown') THEN 1 ELSE 0 END".into())
            }
            // Good: passed within the threshold (a bucket bound, a constant of the code, never user
            // text); a failure, or a check without a latency, is bad.
            CheckMeasure::Within { threshold_ms, .. } => (
                "1".into(),
                format!(
                    "CASE WHEN status IN ('down', 'unknown') OR latency_ms IS NULL OR latency_ms > {threshold_ms:?} \
                     THEN 1 ELSE 0 END"
                ),
            ),
        }
    }
}

fn window_cols(w: &SloWindow) -> (Option<i32>, Option<&str>) {
    match w {
        SloWindow::Rolling { days } => (Some(i32::from(*days)), None),
        SloWindow::CalendarMonth { time_zone } => (None, Some(time_zone.as_str())),
    }
}

impl Db {
    pub async fn create_slo(&self, actor: &Actor, now: DateTime<Utc>, spec: &SloSpec) -> StoreResult<Slo> {
        let id = Uuid::now_v7();
        let (days, zone) = window_cols(&spec.window);
        let (kind, source) = sli_cols(&spec.sli);
        write_tx!(self, |tx| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM slos").fetch_one(&mut *tx).await?;
            if n >= SLOS_MAX {
                return Err(StoreError::Conflict(format!("at most {SLOS_MAX} SLOs; delete old ones first")));
            }
            sqlx::query(
                "INSERT INTO slos (id, name, description, service_id, monitor_ids, target, rolling_days, time_zone, \
                 exclude_maintenance, sli_kind, sli_source, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $12, $10, $10)",
            )
            .bind(id)
            .bind(&spec.name)
            .bind(&spec.description)
            .bind(spec.service_id)
            .bind(Json(spec.sli.monitor_ids()))
            .bind(spec.target)
            .bind(days)
            .bind(zone)
            .bind(spec.exclude_maintenance)
            .bind(now.timestamp_millis())
            .bind(kind)
            .bind(&source)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("slo.create", "slo", Some(id), format!("Created SLO {}", spec.name)).after(spec)
            );
        });
        self.get_slo(id).await
    }

    /// Replaces an SLO's definition (its alert state stays: the next evaluation moves it).
    pub async fn update_slo(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Slo,
        spec: &SloSpec,
    ) -> StoreResult<Slo> {
        let (days, zone) = window_cols(&spec.window);
        let (kind, source) = sli_cols(&spec.sli);
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE slos SET name = $1, description = $2, service_id = $3, monitor_ids = $4, target = $5, \
                 rolling_days = $6, time_zone = $7, exclude_maintenance = $8, updated_at = $9, sli_kind = $11, \
                 sli_source = $12 WHERE id = $10",
            )
            .bind(&spec.name)
            .bind(&spec.description)
            .bind(spec.service_id)
            .bind(Json(spec.sli.monitor_ids()))
            .bind(spec.target)
            .bind(days)
            .bind(zone)
            .bind(spec.exclude_maintenance)
            .bind(now.timestamp_millis())
            .bind(before.id)
            .bind(kind)
            .bind(&source)
            .execute(&mut *tx)
            .await?;
            // Counts pushed for another kind of SLI mean nothing to this one.
            if before.spec.sli.kind() != kind {
                sqlx::query("DELETE FROM slo_events WHERE slo_id = $1").bind(before.id).execute(&mut *tx).await?;
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("slo.update", "slo", Some(before.id), format!("Changed SLO {}", spec.name))
                    .before(&before.spec)
                    .after(spec)
            );
        });
        self.get_slo(before.id).await
    }

    /// Deletes an SLO; the burn-rate alert it raises at that moment resolves.
    pub async fn delete_slo(&self, actor: &Actor, now: DateTime<Utc>, before: &Slo) -> StoreResult<()> {
        write_tx!(self, |tx| {
            let gone: Option<(Option<String>, Uuid)> =
                sqlx::query_as("DELETE FROM slos WHERE id = $1 RETURNING alerting, service_id")
                    .bind(before.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some((Some(_), service_id)) = gone {
                sqlx::query(
                    "INSERT INTO slo_alerts (id, slo_id, service_id, urgency, summary, at, alert_pending) \
                     VALUES ($1, $2, $3, 'none', $4, $5, TRUE)",
                )
                .bind(Uuid::now_v7())
                .bind(before.id)
                .bind(service_id)
                .bind(format!("SLO {} was deleted", before.spec.name))
                .bind(now.timestamp_millis())
                .execute(&mut *tx)
                .await?;
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("slo.delete", "slo", Some(before.id), format!("Deleted SLO {}", before.spec.name))
                    .before(&before.spec)
            );
        });
        Ok(())
    }

    pub async fn get_slo(&self, id: Uuid) -> StoreResult<Slo> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM slos WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Slo::from).ok_or(StoreError::NotFound(Entity::Slo))
    }

    /// SLOs by name, of one service or all, at most `limit`.
    pub async fn list_slos(&self, service_id: Option<Uuid>, limit: i64) -> StoreResult<Vec<Slo>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM slos WHERE ($1 IS NULL OR service_id = $1) ORDER BY name, id LIMIT $2"
            )))
            .bind(service_id)
            .bind(limit.clamp(1, SLOS_MAX))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Slo::from).collect())
    }

    /// Good and total checks of `monitors` from `from` to now, by `measure`. Spans of an hour
    /// and more read the hourly rollups (whole hours from the one `from` falls in); shorter spans
    /// read raw results (which do not record maintenance: every check counts).
    pub async fn check_counts(
        &self,
        monitors: &[Uuid],
        from: DateTime<Utc>,
        now: DateTime<Utc>,
        measure: CheckMeasure,
    ) -> StoreResult<Counts> {
        if monitors.is_empty() {
            return Ok(Counts::default());
        }
        let mut counts = Counts::default();
        let short = now - from < Duration::hours(1);
        for chunk in crate::dialect::fixed_chunks(monitors) {
            let ids = crate::dialect::placeholders(self.backend(), chunk.len(), 3);
            let sql = if short {
                let (total, bad) = measure.raw_exprs();
                format!(
                    "SELECT CAST(COALESCE(SUM({total}), 0) AS BIGINT), CAST(COALESCE(SUM({bad}), 0) AS BIGINT) \
                     FROM check_results WHERE at >= $1 AND at <= $2 AND monitor_id IN ({ids})"
                )
            } else {
                let (total, bad) = measure.rollup_exprs();
                format!(
                    "SELECT CAST(COALESCE(SUM({total}), 0) AS BIGINT), CAST(COALESCE(SUM({bad}), 0) AS BIGINT) \
                     FROM check_rollups WHERE resolution = {} AND bucket >= $1 AND bucket <= $2 \
                     AND monitor_id IN ({ids})",
                    crate::monitor::HOUR
                )
            };
            let start = if short {
                from.timestamp_millis()
            } else {
                let hour = i64::from(crate::monitor::HOUR) * 1000;
                from.timestamp_millis().div_euclid(hour) * hour
            };
            let (total, bad): (i64, i64) = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(start).bind(now.timestamp_millis());
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_one(pool).await?
            });
            let total = u64::try_from(total).unwrap_or(0);
            let bad = u64::try_from(bad).unwrap_or(0).min(total);
            counts = counts + Counts::events(total - bad, total);
        }
        Ok(counts)
    }

    /// The counts of a monitor or pushed SLI from `from` to `now`; `None` for a Prometheus SLI,
    /// which the caller reads from its server.
    pub async fn slo_counts(&self, s: &Slo, from: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<Option<Counts>> {
        match &s.spec.sli {
            Sli::Availability { monitor_ids } | Sli::Latency { monitor_ids, .. } => match CheckMeasure::of(&s.spec) {
                Some(m) => Ok(Some(self.check_counts(monitor_ids, from, now, m).await?)),
                None => Ok(None),
            },
            Sli::Events => Ok(Some(self.event_counts(s.id, from, now).await?)),
            Sli::Prometheus(_) => Ok(None),
        }
    }

    /// Pushed counts of an SLO over the minutes from the one `from` falls in to the one `now`
    /// falls in (the minute under way counts).
    pub async fn event_counts(&self, slo_id: Uuid, from: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<Counts> {
        let start = from.timestamp_millis().div_euclid(60_000) * 60_000;
        let (good, total): (i64, i64) = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(good), 0) AS BIGINT), CAST(COALESCE(SUM(total), 0) AS BIGINT) \
                 FROM slo_events WHERE slo_id = $1 AND minute >= $2 AND minute <= $3",
            )
            .bind(slo_id)
            .bind(start)
            .bind(now.timestamp_millis())
            .fetch_one(pool)
            .await?
        });
        Ok(Counts::events(u64::try_from(good).unwrap_or(0), u64::try_from(total).unwrap_or(0)))
    }

    /// Adds pushed counts to their minutes (a minute pushed twice sums) and drops the counts
    /// older than [`slo::EVENTS_KEEP_DAYS`], in one transaction.
    pub async fn push_slo_events(&self, slo_id: Uuid, now: DateTime<Utc>, counts: &[MinuteCounts]) -> StoreResult<()> {
        let oldest = (now - Duration::days(slo::EVENTS_KEEP_DAYS)).timestamp_millis();
        write_tx!(self, |tx| {
            for c in counts {
                // A minute's total stays within the cap, so no sum over the kept days overflows.
                let n = sqlx::query(
                    "INSERT INTO slo_events (slo_id, minute, good, total) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (slo_id, minute) DO UPDATE SET good = slo_events.good + excluded.good, \
                     total = slo_events.total + excluded.total WHERE slo_events.total + excluded.total <= $5",
                )
                .bind(slo_id)
                .bind(c.minute)
                .bind(i64::try_from(c.good).unwrap_or(i64::MAX))
                .bind(i64::try_from(c.total).unwrap_or(i64::MAX))
                .bind(i64::try_from(slo::EVENT_COUNT_MAX).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(StoreError::Invalid(opsdeck_core::Error::invalid(
                        "events",
                        format!("a minute may total at most {} events; nothing was added", slo::EVENT_COUNT_MAX),
                    )));
                }
            }
            sqlx::query("DELETE FROM slo_events WHERE slo_id = $1 AND minute < $2")
                .bind(slo_id)
                .bind(oldest)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }
}
