//! The check counts an availability SLI reads over all its spans at once (the window and every
//! burn-rate span): one query for the spans under an hour (raw results), one for the spans up to
//! three days (hourly rollups, a conditional sum per span), and for longer spans daily rollups
//! for the whole days with hourly ones at the edges. Evaluating an SLO reads a few hundred rows
//! instead of an hourly row per monitor and hour of its window, once per span.

use crate::kpi::bounds;
use crate::monitor::{DAY, HOUR};
use crate::slo::CheckMeasure;
use crate::{Db, StoreResult, with_db};
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::slo::Counts;
use sqlx::Row;
use uuid::Uuid;

/// Spans up to this long read hourly rollups; longer ones read daily rollups for whole days.
const HOURLY_MAX: Duration = Duration::days(3);

fn counts(total: i64, bad: i64) -> Counts {
    let total = u64::try_from(total).unwrap_or(0);
    Counts::events(total - u64::try_from(bad).unwrap_or(0).min(total), total)
}

impl Db {
    /// Good and total checks of `monitors` by `measure` from each of `froms` to `now`, as
    /// [`Db::check_counts`] counts them, in the order given.
    pub async fn check_counts_spans(
        &self,
        monitors: &[Uuid],
        froms: &[DateTime<Utc>],
        now: DateTime<Utc>,
        measure: CheckMeasure,
    ) -> StoreResult<Vec<Counts>> {
        let mut out = vec![Counts::default(); froms.len()];
        if monitors.is_empty() || froms.is_empty() {
            return Ok(out);
        }
        let hour = i64::from(HOUR) * 1000;
        let now_ms = now.timestamp_millis();
        let span = |i: usize| now - froms[i];
        let short: Vec<usize> = (0..froms.len()).filter(|i| span(*i) < Duration::hours(1)).collect();
        let hourly: Vec<usize> =
            (0..froms.len()).filter(|i| span(*i) >= Duration::hours(1) && span(*i) <= HOURLY_MAX).collect();
        let long: Vec<usize> = (0..froms.len()).filter(|i| span(*i) > HOURLY_MAX).collect();
        let (total, bad) = measure.rollup_exprs();
        let (raw_total, raw_bad) = measure.raw_exprs();
        let backend = self.backend();
        for chunk in crate::dialect::fixed_chunks(monitors) {
            // Raw results: a count per span, one scan from the earliest.
            if !short.is_empty() {
                let starts: Vec<i64> = short.iter().map(|i| froms[*i].timestamp_millis()).collect();
                let k = starts.len();
                let cols: Vec<String> = (1..=k)
                    .map(|p| {
                        format!(
                            "CAST(COALESCE(SUM(CASE WHEN at >= ${p} THEN {raw_total} ELSE 0 END), 0) AS BIGINT), \
                             CAST(COALESCE(SUM(CASE WHEN at >= ${p} THEN {raw_bad} ELSE 0 END), 0) AS BIGINT)"
                        )
                    })
                    .collect();
                let ids = crate::dialect::placeholders(backend, chunk.len(), k + 3);
                let sql = format!(
                    "SELECT {} FROM check_results WHERE at >= ${} AND at <= ${} AND monitor_id IN ({ids})",
                    cols.join(", "),
                    k + 1,
                    k + 2
                );
                let min = starts.iter().copied().min().unwrap_or(now_ms);
                let row = self.spans_row(&sql, &starts, (min, now_ms), chunk).await?;
                for (j, i) in short.iter().enumerate() {
                    out[*i] = out[*i] + counts(row[2 * j], row[2 * j + 1]);
                }
            }
            // Hourly rollups: whole hours from the one each span starts in.
            if !hourly.is_empty() {
                let starts: Vec<i64> =
                    hourly.iter().map(|i| froms[*i].timestamp_millis().div_euclid(hour) * hour).collect();
                let k = starts.len();
                let cols: Vec<String> = (1..=k)
                    .map(|p| {
                        format!(
                            "CAST(COALESCE(SUM(CASE WHEN bucket >= ${p} THEN {total} ELSE 0 END), 0) AS BIGINT), \
                             CAST(COALESCE(SUM(CASE WHEN bucket >= ${p} THEN {bad} ELSE 0 END), 0) AS BIGINT)"
                        )
                    })
                    .collect();
                let ids = crate::dialect::placeholders(backend, chunk.len(), k + 3);
                let sql = format!(
                    "SELECT {} FROM check_rollups WHERE resolution = {HOUR} AND bucket >= ${} AND bucket <= ${} \
                     AND monitor_id IN ({ids})",
                    cols.join(", "),
                    k + 1,
                    k + 2
                );
                let min = starts.iter().copied().min().unwrap_or(now_ms);
                let row = self.spans_row(&sql, &starts, (min, now_ms), chunk).await?;
                for (j, i) in hourly.iter().enumerate() {
                    out[*i] = out[*i] + counts(row[2 * j], row[2 * j + 1]);
                }
            }
            // Longer spans: daily rollups for the whole days, hourly at both edges.
            for i in &long {
                let (h0, d0, d1, h1) = bounds(froms[*i], now);
                let ids = crate::dialect::placeholders(backend, chunk.len(), 5);
                let part = |res: i32, lo: &str, hi: &str| {
                    format!(
                        "SELECT {total} AS t, {bad} AS b FROM check_rollups WHERE resolution = {res} \
                         AND bucket >= {lo} AND bucket < {hi} AND monitor_id IN ({ids})"
                    )
                };
                let sql = format!(
                    "SELECT CAST(COALESCE(SUM(t), 0) AS BIGINT), CAST(COALESCE(SUM(b), 0) AS BIGINT) FROM ({} \
                     UNION ALL {} UNION ALL {}) r",
                    part(DAY, "$2", "$3"),
                    part(HOUR, "$1", "$2"),
                    part(HOUR, "$3", "$4")
                );
                let row = self.spans_row(&sql, &[h0, d0, d1, h1], (i64::MIN, i64::MIN), chunk).await?;
                out[*i] = out[*i] + counts(row[0], row[1]);
            }
        }
        Ok(out)
    }

    /// Runs a span query: `binds` first, then `range` (unless `i64::MIN`), then the monitors;
    /// every column an i64.
    async fn spans_row(&self, sql: &str, binds: &[i64], range: (i64, i64), ids: &[Uuid]) -> StoreResult<Vec<i64>> {
        Ok(with_db!(self, |pool| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
            for b in binds {
                q = q.bind(*b);
            }
            if range.0 != i64::MIN {
                q = q.bind(range.0).bind(range.1);
            }
            for id in ids {
                q = q.bind(*id);
            }
            let row = q.fetch_one(pool).await?;
            (0..row.len()).map(|i| row.try_get::<i64, usize>(i)).collect::<Result<Vec<_>, _>>()?
        }))
    }
}
