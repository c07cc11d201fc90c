//! Rescheduling overdue monitors and pruning history.

use super::*;

impl Db {
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

    /// Deletes history past its retention; returns rows removed. Rows go in chunks, each its
    /// own short write, so other writers (claims, results, ingest) are not held up behind one
    /// large delete (an hour of hourly rollups is a row per monitor).
    pub async fn prune_monitoring(&self, now: DateTime<Utc>, r: &Retention) -> StoreResult<u64> {
        let ms = now.timestamp_millis();
        let hour = 3_600_000i64;
        let rollups = "DELETE FROM check_rollups WHERE (monitor_id, resolution, bucket) IN (SELECT monitor_id, \
                       resolution, bucket FROM check_rollups WHERE resolution = $1 AND bucket < $2 LIMIT $3)";
        let mut n = 0;
        for (resolution, keep_ms) in [
            (MINUTE, i64::from(r.minutely_hours) * hour),
            (HOUR, i64::from(r.hourly_days) * 24 * hour),
            (DAY, i64::from(r.daily_days) * 24 * hour),
        ] {
            n += self.delete_in_chunks(rollups, Some(resolution), ms - keep_ms).await?;
        }
        // Per-service day sums (`kpi_service_days`) stay: a few hundred rows a day, and reports
        // over years keep reading them after the daily rollups they came from are gone.
        let events = "DELETE FROM monitor_events WHERE id IN (SELECT id FROM monitor_events WHERE at < $1 LIMIT $2)";
        n += self.delete_in_chunks(events, None, ms - i64::from(r.events_days) * 24 * hour).await?;
        Ok(n)
    }

    /// Runs `sql` (binding `resolution` if given, then `before` and the chunk size) until it
    /// deletes less than a chunk.
    async fn delete_in_chunks(&self, sql: &'static str, resolution: Option<i32>, before: i64) -> StoreResult<u64> {
        const CHUNK: i64 = 5_000;
        let mut n = 0;
        loop {
            let deleted = with_writer!(self, |pool| {
                let q = sqlx::query(sql);
                let q = match resolution {
                    Some(res) => q.bind(res),
                    None => q,
                };
                q.bind(before).bind(CHUNK).execute(pool).await?.rows_affected()
            });
            n += deleted;
            if deleted < CHUNK as u64 {
                return Ok(n);
            }
        }
    }
}
