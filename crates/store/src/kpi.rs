//! What the KPI report reads besides incidents: check counts over a period, from the rollups
//! (daily rows for the whole UTC days inside it, hourly rows for the hours at its edges). Per
//! service, whole days that have closed are read from `kpi_service_days`, each day summed once
//! from its daily rollups, so a month of 20,000 monitors is a few thousand rows rather than
//! 600,000; per monitor (the monitors SLOs name) the rollups are read by key.

use crate::monitor::{DAY, HOUR};
use crate::{Db, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::kpi::CheckTotals;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The revision `kpi_service_days` rows are valid under: bumped wherever a monitor's past
/// checks change service (a monitor moved or deleted, a service deleted). Anything writing
/// rollups for days already closed must bump it too.
pub(crate) const KPI_DAYS: &str = "kpi_days";
/// A day is summed once it ended this long ago (results stored late still land in it).
const CLOSE_AFTER_MS: i64 = 2 * 3_600_000;
/// Days summed per write, at most.
const DAYS_PER_WRITE: usize = 31;

/// One monitor's checks over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorTotals {
    pub monitor_id: Uuid,
    pub service_id: Option<Uuid>,
    pub totals: CheckTotals,
}

/// The bucket bounds that cover `[from, to)`: hours `[h0, d0)` and `[d1, h1)` around whole days
/// `[d0, d1)`. An hour partly inside the period counts whole (rollups keep nothing finer).
pub(crate) fn bounds(from: DateTime<Utc>, to: DateTime<Utc>) -> (i64, i64, i64, i64) {
    let (hour, day) = (i64::from(HOUR) * 1000, i64::from(DAY) * 1000);
    let h0 = from.timestamp_millis().div_euclid(hour) * hour;
    let h1 = to.timestamp_millis().div_euclid(hour) * hour + if to.timestamp_millis() % hour == 0 { 0 } else { hour };
    let d0 = h0.div_euclid(day) * day + if h0 % day == 0 { 0 } else { day };
    let d1 = h1.div_euclid(day) * day;
    if d0 >= d1 { (h0, h1, h1, h1) } else { (h0, d0, d1, h1) }
}

fn totals(total: i64, failures: i64, maintenance: i64, maint_failures: i64) -> CheckTotals {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    CheckTotals {
        total: n(total),
        failures: n(failures),
        maintenance: n(maintenance),
        maint_failures: n(maint_failures),
    }
}

/// `None` (monitors of no service) is kept as the nil UUID.
fn service_of(key: Uuid) -> Option<Uuid> {
    (!key.is_nil()).then_some(key)
}

impl Db {
    /// Check counts in `[from, to)` per service (`None`: monitors of no service), by the
    /// services the monitors belong to now. Closed whole days come from `kpi_service_days`
    /// (summed first where missing or stale); the rest from the rollups.
    pub async fn service_check_totals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<HashMap<Option<Uuid>, CheckTotals>> {
        let (h0, d0, d1, h1) = bounds(from, to);
        let day = i64::from(DAY) * 1000;
        // Days starting before this one ended at least CLOSE_AFTER_MS ago.
        let closed = (now.timestamp_millis() - CLOSE_AFTER_MS).div_euclid(day) * day;
        let split = closed.clamp(d0, d1);
        let mut out: HashMap<Option<Uuid>, CheckTotals> = HashMap::new();
        if split > d0 {
            self.sum_days(d0, split).await?;
            let rows: Vec<(Uuid, i64, i64, i64, i64)> = with_db!(self, |pool| {
                sqlx::query_as(
                    "SELECT service_key, CAST(SUM(total) AS BIGINT), CAST(SUM(failures) AS BIGINT), \
                     CAST(SUM(maintenance) AS BIGINT), CAST(SUM(maint_failures) AS BIGINT) FROM kpi_service_days \
                     WHERE day >= $1 AND day < $2 GROUP BY service_key",
                )
                .bind(d0)
                .bind(split)
                .fetch_all(pool)
                .await?
            });
            for (key, t, f, m, mf) in rows {
                let e = out.entry(service_of(key)).or_default();
                *e = *e + totals(t, f, m, mf);
            }
        }
        // Open days and the hours at the edges, from the rollups.
        let cols = "monitor_id, total, failures, maintenance, maint_failures FROM check_rollups";
        let sql = format!(
            "SELECT m.service_id, CAST(SUM(r.total) AS BIGINT), CAST(SUM(r.failures) AS BIGINT), \
             CAST(SUM(r.maintenance) AS BIGINT), CAST(SUM(r.maint_failures) AS BIGINT) FROM ( \
             SELECT {cols} WHERE resolution = {DAY} AND bucket >= $2 AND bucket < $3 \
             UNION ALL SELECT {cols} WHERE resolution = {HOUR} AND bucket >= $1 AND bucket < $4 \
             UNION ALL SELECT {cols} WHERE resolution = {HOUR} AND bucket >= $5 AND bucket < $6 \
             ) r JOIN monitors m ON m.id = r.monitor_id GROUP BY m.service_id"
        );
        let rows: Vec<(Option<Uuid>, i64, i64, i64, i64)> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(h0)
                .bind(split)
                .bind(d1)
                .bind(d0)
                .bind(d1)
                .bind(h1)
                .fetch_all(pool)
                .await?
        });
        for (service, t, f, m, mf) in rows {
            let e = out.entry(service).or_default();
            *e = *e + totals(t, f, m, mf);
        }
        Ok(out)
    }

    /// Sums the closed days in `[d0, d1)` that are not summed under the current revision.
    async fn sum_days(&self, d0: i64, d1: i64) -> StoreResult<()> {
        let day = i64::from(DAY) * 1000;
        let revision: i64 = with_db!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM revisions WHERE name = $1").bind(KPI_DAYS).fetch_one(pool).await?
        });
        let fresh: Vec<i64> = with_db!(self, |pool| {
            sqlx::query_scalar("SELECT day FROM kpi_days WHERE day >= $1 AND day < $2 AND revision = $3 ORDER BY day")
                .bind(d0)
                .bind(d1)
                .bind(revision)
                .fetch_all(pool)
                .await?
        });
        // A report period is at most a few years: a bounded list.
        let missing: Vec<i64> = (0..)
            .map(|i: i64| d0 + i * day)
            .take_while(|d| *d < d1)
            .filter(|d| fresh.binary_search(d).is_err())
            .collect();
        for days in missing.chunks(DAYS_PER_WRITE) {
            let (first, last) = (days[0], days[days.len() - 1]);
            // Summed on a reader, then written in a short transaction under the revision read
            // before: a change in between leaves the days stale, summed again next time. Two
            // nodes summing a day at once write the same sums (upserts, no duplicate key).
            type Row = (i64, Option<Uuid>, i64, i64, i64, i64);
            let rows: Vec<Row> = with_db!(self, |pool| {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT r.bucket, m.service_id, CAST(SUM(r.total) AS BIGINT), CAST(SUM(r.failures) AS BIGINT), \
                     CAST(SUM(r.maintenance) AS BIGINT), CAST(SUM(r.maint_failures) AS BIGINT) FROM check_rollups r \
                     JOIN monitors m ON m.id = r.monitor_id WHERE r.resolution = {DAY} AND r.bucket >= $1 \
                     AND r.bucket <= $2 GROUP BY r.bucket, m.service_id"
                )))
                .bind(first)
                .bind(last)
                .fetch_all(pool)
                .await?
            });
            let mut by_day: BTreeMap<i64, Vec<Row>> = days.iter().map(|d| (*d, Vec::new())).collect();
            for r in rows {
                if let Some(v) = by_day.get_mut(&r.0) {
                    v.push(r);
                }
            }
            write_tx!(self, |tx| {
                for (d, rows) in &by_day {
                    sqlx::query("DELETE FROM kpi_service_days WHERE day = $1").bind(d).execute(&mut *tx).await?;
                    for (_, service, t, f, m, mf) in rows {
                        sqlx::query(
                            "INSERT INTO kpi_service_days (day, service_key, total, failures, maintenance, \
                             maint_failures) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (day, service_key) DO UPDATE \
                             SET total = excluded.total, failures = excluded.failures, \
                             maintenance = excluded.maintenance, maint_failures = excluded.maint_failures",
                        )
                        .bind(d)
                        .bind(service.unwrap_or(Uuid::nil()))
                        .bind(t)
                        .bind(f)
                        .bind(m)
                        .bind(mf)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query(
                        "INSERT INTO kpi_days (day, revision) VALUES ($1, $2) \
                         ON CONFLICT (day) DO UPDATE SET revision = excluded.revision",
                    )
                    .bind(d)
                    .bind(revision)
                    .execute(&mut *tx)
                    .await?;
                }
            });
        }
        Ok(())
    }

    /// Check counts in `[from, to)` of `monitors` (those SLOs name), read by key.
    pub async fn check_totals_of(
        &self,
        monitors: &[Uuid],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<HashMap<Uuid, CheckTotals>> {
        let (h0, d0, d1, h1) = bounds(from, to);
        let mut out = HashMap::new();
        for chunk in crate::dialect::fixed_chunks(monitors) {
            let ids = crate::dialect::placeholders(self.backend(), chunk.len(), 5);
            let sql = format!(
                "SELECT monitor_id, CAST(SUM(total) AS BIGINT), CAST(SUM(failures) AS BIGINT), \
                 CAST(SUM(maintenance) AS BIGINT), CAST(SUM(maint_failures) AS BIGINT) FROM check_rollups \
                 WHERE monitor_id IN ({ids}) AND ((resolution = {DAY} AND bucket >= $2 AND bucket < $3) \
                 OR (resolution = {HOUR} AND ((bucket >= $1 AND bucket < $2) OR (bucket >= $3 AND bucket < $4)))) \
                 GROUP BY monitor_id"
            );
            let rows: Vec<(Uuid, i64, i64, i64, i64)> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(h0).bind(d0).bind(d1).bind(h1);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            for (id, t, f, m, mf) in rows {
                out.insert(id, totals(t, f, m, mf));
            }
        }
        Ok(out)
    }

    /// Check counts in `[from, to)` of every monitor that was checked then.
    pub async fn monitor_check_totals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<MonitorTotals>> {
        let (h0, d0, d1, h1) = bounds(from, to);
        let cols = "monitor_id, total, failures, maintenance, maint_failures FROM check_rollups";
        let sql = format!(
            "SELECT r.monitor_id, m.service_id, CAST(SUM(r.total) AS BIGINT), CAST(SUM(r.failures) AS BIGINT), \
             CAST(SUM(r.maintenance) AS BIGINT), CAST(SUM(r.maint_failures) AS BIGINT) FROM ( \
             SELECT {cols} WHERE resolution = {DAY} AND bucket >= $2 AND bucket < $3 \
             UNION ALL SELECT {cols} WHERE resolution = {HOUR} AND bucket >= $1 AND bucket < $2 \
             UNION ALL SELECT {cols} WHERE resolution = {HOUR} AND bucket >= $3 AND bucket < $4 \
             ) r JOIN monitors m ON m.id = r.monitor_id GROUP BY r.monitor_id, m.service_id"
        );
        type Row = (Uuid, Option<Uuid>, i64, i64, i64, i64);
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(h0).bind(d0).bind(d1).bind(h1).fetch_all(pool).await?
        });
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(rows
            .into_iter()
            .map(|(monitor_id, service_id, total, failures, maintenance, maint_failures)| MonitorTotals {
                monitor_id,
                service_id,
                totals: CheckTotals {
                    total: n(total),
                    failures: n(failures),
                    maintenance: n(maintenance),
                    maint_failures: n(maint_failures),
                },
            })
            .collect())
    }
}

impl Db {
    /// Unresolved incidents (not merged away) by severity.
    pub async fn open_incidents_by_severity(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT severity, COUNT(*) FROM incidents WHERE status <> 'resolved' AND merged_into IS NULL \
                 GROUP BY severity ORDER BY severity",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Every service's id, name and slug, for labelling report rows.
    pub async fn service_labels(&self) -> StoreResult<Vec<(Uuid, String, String)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as("SELECT id, name, slug FROM services ORDER BY name, id").fetch_all(pool).await?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    fn ms(s: &str) -> i64 {
        t(s).timestamp_millis()
    }

    #[test]
    fn whole_days_read_daily_rows_and_edges_hourly() {
        let b = bounds(t("2026-10-01T00:00:00Z"), t("2026-11-01T00:00:00Z"));
        let (oct, nov) = (ms("2026-10-01T00:00:00Z"), ms("2026-11-01T00:00:00Z"));
        assert_eq!(b, (oct, oct, nov, nov));
        let b = bounds(t("2026-10-01T10:30:00Z"), t("2026-10-03T05:00:00Z"));
        assert_eq!(
            b,
            (
                ms("2026-10-01T10:00:00Z"),
                ms("2026-10-02T00:00:00Z"),
                ms("2026-10-03T00:00:00Z"),
                ms("2026-10-03T05:00:00Z")
            )
        );
        // Within one day: hours only.
        let b = bounds(t("2026-10-01T10:30:00Z"), t("2026-10-01T12:10:00Z"));
        let end = ms("2026-10-01T13:00:00Z");
        assert_eq!(b, (ms("2026-10-01T10:00:00Z"), end, end, end));
    }
}
