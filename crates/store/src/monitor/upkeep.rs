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

    /// Deletes history past its retention; returns rows removed.
    pub async fn prune_monitoring(&self, now: DateTime<Utc>, r: &Retention) -> StoreResult<u64> {
        let ms = now.timestamp_millis();
        let hour = 3_600_000i64;
        let mut n = 0;
        with_writer!(self, |pool| {
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
