//! Rate budgets every node shares (public sign-ups): a fixed window per key, counted in the
//! database, so a client gets one budget however many nodes answer it.

use crate::{Db, StoreResult, write_tx};
use chrono::{DateTime, Utc};

/// One budget to take from: `key` may act `limit` times per `window_ms`.
pub struct Budget<'a> {
    pub key: &'a str,
    pub limit: i32,
    pub window_ms: i64,
}

impl Db {
    /// Takes one from every budget, or from none: false when any is spent.
    pub async fn take_budgets(&self, now: DateTime<Utc>, budgets: &[Budget<'_>]) -> StoreResult<bool> {
        let now_ms = now.timestamp_millis();
        let ok = write_tx!(self, |tx| {
            let mut ok = true;
            for b in budgets {
                let row: Option<(i64, i32)> =
                    sqlx::query_as("SELECT window_start, used FROM rate_budgets WHERE key = $1")
                        .bind(b.key)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let Some((start, used)) = row
                    && now_ms.saturating_sub(start) < b.window_ms
                    && used >= b.limit
                {
                    ok = false;
                }
            }
            if ok {
                for b in budgets {
                    // A new window starts when the old one is over; otherwise one more is used.
                    sqlx::query(
                        "INSERT INTO rate_budgets (key, window_start, used) VALUES ($1, $2, 1) \
                         ON CONFLICT (key) DO UPDATE SET \
                         used = CASE WHEN rate_budgets.window_start <= $3 THEN 1 ELSE rate_budgets.used + 1 END, \
                         window_start = CASE WHEN rate_budgets.window_start <= $3 THEN $2 \
                         ELSE rate_budgets.window_start END",
                    )
                    .bind(b.key)
                    .bind(now_ms)
                    .bind(now_ms.saturating_sub(b.window_ms))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            ok
        });
        Ok(ok)
    }

    /// Forgets budgets whose window began before `before` (housekeeping).
    pub async fn purge_rate_budgets(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let n = write_tx!(self, |tx| {
            sqlx::query("DELETE FROM rate_budgets WHERE window_start < $1")
                .bind(before.timestamp_millis())
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(n)
    }
}
