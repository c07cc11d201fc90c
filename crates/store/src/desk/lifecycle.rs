//! A ticket's priority overridden by an agent (with why, as an internal note too), and resolved
//! tickets closed some days after their resolution.

use super::{Row, SELECT, Ticket, record_move};
use crate::audit::audit;
use crate::{Db, StoreError, StoreResult, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::desk::ticket::TicketState;
use uuid::Uuid;

impl Db {
    /// Sets ticket `before` (at its version) to `priority` for `reason`: its SLA targets follow
    /// (the clocks replay under the new priority's policy), the reason is kept on the ticket and
    /// as an internal note, and the change is audited.
    pub async fn override_priority(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Ticket,
        priority: u8,
        reason: &str,
    ) -> StoreResult<Ticket> {
        let at = now.timestamp_millis();
        let note = format!("Priority P{} → P{priority}: {reason}", before.priority);
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE tickets SET priority = $1, priority_reason = $2, version = version + 1, updated_at = $3, \
                 sla_check_at = $3 WHERE id = $4 AND version = $5",
            )
            .bind(i32::from(priority))
            .bind(reason)
            .bind(at)
            .bind(before.id)
            .bind(before.version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "{} was changed by someone else since you loaded it; reload it",
                    before.key()
                )));
            }
            sqlx::query(
                "INSERT INTO ticket_replies (id, ticket_id, author_id, author, body, internal, created_at) \
                 VALUES ($1, $2, $3, $4, $5, TRUE, $6)",
            )
            .bind(Uuid::now_v7())
            .bind(before.id)
            .bind(actor.user_id)
            .bind(&actor.label)
            .bind(&note)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let record =
                AuditRecord::new("ticket.priority", "ticket", Some(before.id), format!("{} {note}", before.key()))
                    .before(serde_json::json!({"priority": before.priority}))
                    .after(serde_json::json!({"priority": priority, "reason": reason}));
            audit!(tx, actor, now, record);
        });
        self.get_ticket(before.id).await
    }

    /// Closes up to `limit` tickets resolved at or before `cutoff`, oldest first, in one
    /// transaction; how many. Read inside the transaction, so two nodes never close one twice.
    pub async fn close_resolved(&self, now: DateTime<Utc>, cutoff: DateTime<Utc>, limit: i64) -> StoreResult<usize> {
        let (at, actor) = (now.timestamp_millis(), Actor::system("desk"));
        let why = "closed automatically some days after its resolution";
        let closed = write_tx!(self, |tx| {
            let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE state = 'resolved' AND resolved_at <= $1 ORDER BY resolved_at LIMIT $2"
            )))
            .bind(cutoff.timestamp_millis())
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            let mut n = 0usize;
            for t in rows.into_iter().map(Ticket::from) {
                n += 1;
                record_move!(tx, &actor.label, at, &t, TicketState::Closed, why);
                audit!(
                    tx,
                    &actor,
                    now,
                    AuditRecord::new("ticket.move", "ticket", Some(t.id), format!("{} {why}", t.key()))
                );
            }
            n
        });
        Ok(closed)
    }
}
