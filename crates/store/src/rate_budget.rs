//! Rate budgets every node shares (public sign-ups): a fixed window per key, counted in the
//! database, so a client gets one budget however many nodes answer it.

use crate::{Db, StoreError, StoreResult, write_tx};
use chrono::{DateTime, Utc};

/// The refusal that rolls a take back (answered as `false`).
const SPENT: &str = "rate budget spent";

/// One budget to take from: `key` may act `limit` times per `window_ms`.
pub struct Budget<'a> {
    pub key: &'a str,
    pub limit: i32,
    pub window_ms: i64,
}

impl Db {
    /// Takes one from every budget, or from none: false when any is spent. Each take is one
    /// conditional upsert (a spent budget updates no row), so nodes racing for the last one get
    /// it once on PostgreSQL as on SQLite; a refusal rolls back what the others took.
    pub async fn take_budgets(&self, now: DateTime<Utc>, budgets: &[Budget<'_>]) -> StoreResult<bool> {
        let now_ms = now.timestamp_millis();
        // `return` inside the transaction leaves this block (rolling back), not the function.
        let taken: StoreResult<bool> = async {
            Ok(write_tx!(self, |tx| {
                for b in budgets {
                    // A new window starts when the old one is over; otherwise one more is used.
                    let n = sqlx::query(
                        "INSERT INTO rate_budgets (key, window_start, used) VALUES ($1, $2, 1) \
                     ON CONFLICT (key) DO UPDATE SET \
                     used = CASE WHEN rate_budgets.window_start <= $3 THEN 1 ELSE rate_budgets.used + 1 END, \
                     window_start = CASE WHEN rate_budgets.window_start <= $3 THEN $2 \
                     ELSE rate_budgets.window_start END \
                     WHERE rate_budgets.window_start <= $3 OR rate_budgets.used < $4",
                    )
                    .bind(b.key)
                    .bind(now_ms)
                    .bind(now_ms.saturating_sub(b.window_ms))
                    .bind(b.limit)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n == 0 {
                        return Err(StoreError::Conflict(SPENT.into()));
                    }
                }
                true
            }))
        }
        .await;
        match taken {
            Err(StoreError::Conflict(m)) if m == SPENT => Ok(false),
            other => other,
        }
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
