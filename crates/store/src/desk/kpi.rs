//! What the desk's KPIs read: the tickets resolved in a period, how many were raised in it, and
//! the backlog.

use super::{Row, SELECT, Ticket};
use crate::{Db, StoreResult, with_db};

/// The most resolved tickets one KPI period reads (a year of a very busy desk).
pub const RESOLVED_MAX: i64 = 200_000;

impl Db {
    /// Tickets resolved in `[from, to)` (epoch ms) and still resolved or closed, at most
    /// [`RESOLVED_MAX`].
    pub async fn tickets_resolved_between(&self, from: i64, to: i64) -> StoreResult<Vec<Ticket>> {
        let sql = format!(
            "{SELECT} WHERE resolved_at >= $1 AND resolved_at < $2 AND state IN ('resolved', 'closed') \
             ORDER BY resolved_at LIMIT $3"
        );
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(from)
                .bind(to)
                .bind(RESOLVED_MAX)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Ticket::from).collect())
    }

    /// Tickets raised in `[from, to)` (epoch ms).
    pub async fn tickets_raised_between(&self, from: i64, to: i64) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE created_at >= $1 AND created_at < $2")
                .bind(from)
                .bind(to)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Tickets open now (new, in progress or pending).
    pub async fn open_ticket_count(&self) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE state IN ('new', 'in_progress', 'pending')")
                .fetch_one(pool)
                .await?
        }))
    }
}
