//! What a ticket is linked to: its parent and children (a parent resolved resolves its open
//! children in the same transaction), the incident it was promoted to or attached to, and the
//! configuration items it concerns.

use super::{Row, SELECT, Ticket, record_move};
use crate::audit::audit;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::desk::ticket::TicketState;
use uuid::Uuid;

/// Children of one parent, at most.
pub const CHILDREN_MAX: i64 = 500;
/// Configuration items on one ticket, at most.
pub const CIS_MAX: usize = 50;

/// Bumps a ticket's version (setting `$set` to `$value` too) if it is still at the one its
/// writer loaded; a conflict otherwise.
macro_rules! touch {
    ($tx:ident, $before:expr, $at:expr) => {{
        let q = sqlx::query("UPDATE tickets SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3");
        let done = q.bind($at).bind($before.id).bind($before.version).execute(&mut *$tx).await?;
        conflict_unless!(done, $before);
    }};
    ($tx:ident, $before:expr, $at:expr, $set:literal, $value:expr) => {{
        let q = sqlx::query(concat!(
            "UPDATE tickets SET ",
            $set,
            " = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4"
        ));
        let done = q.bind($value).bind($at).bind($before.id).bind($before.version).execute(&mut *$tx).await?;
        conflict_unless!(done, $before);
    }};
}

macro_rules! conflict_unless {
    ($done:expr, $before:expr) => {
        if $done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "{} was changed by someone else since you loaded it; reload it",
                $before.key()
            )));
        }
    };
}

impl Db {
    /// Moves ticket `before` to `to`, and each of `children` (open ones the caller checked may
    /// move) with it, in one transaction.
    pub async fn move_ticket_with(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Ticket,
        to: TicketState,
        reason: &str,
        children: &[Ticket],
    ) -> StoreResult<Ticket> {
        let (id, at) = (before.id, now.timestamp_millis());
        let because = format!("with its parent {}", before.key());
        write_tx!(self, |tx| {
            record_move!(tx, &actor.label, at, before, to, reason);
            for c in children {
                record_move!(tx, &actor.label, at, c, to, &because);
            }
            let mut summary = format!("{} {} → {}", before.key(), before.state.as_str(), to.as_str());
            if !children.is_empty() {
                let keys: Vec<String> = children.iter().map(Ticket::key).collect();
                summary.push_str(&format!(", with {}", keys.join(", ")));
            }
            audit!(tx, actor, now, AuditRecord::new("ticket.move", "ticket", Some(id), summary));
        });
        self.get_ticket(id).await
    }

    /// A parent's children, oldest first.
    pub async fn ticket_children(&self, parent: Uuid) -> StoreResult<Vec<Ticket>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE parent_id = $1 ORDER BY number LIMIT $2")))
                .bind(parent)
                .bind(CHILDREN_MAX)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Ticket::from).collect())
    }

    /// The tickets linked to an incident, oldest first.
    pub async fn tickets_of_incident(&self, incident: Uuid) -> StoreResult<Vec<Ticket>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE incident_id = $1 ORDER BY number LIMIT 500")))
                .bind(incident)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Ticket::from).collect())
    }

    /// Puts ticket `before` (at its version) under `parent`, or on its own (`None`). The rule
    /// that keeps children one level deep is checked again here, on rows this transaction has
    /// written (so locked), in id order: the parent must still be open and no one's child (its
    /// version is bumped), the child must still have no children, and a parent has at most
    /// [`CHILDREN_MAX`]. Two concurrent links can then never make a chain or a loop.
    pub async fn set_ticket_parent(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Ticket,
        parent: Option<&Ticket>,
    ) -> StoreResult<Ticket> {
        let at = now.timestamp_millis();
        let mut order: Vec<(Uuid, bool)> = vec![(before.id, true)];
        order.extend(parent.map(|p| (p.id, false)));
        order.sort();
        write_tx!(self, |tx| {
            for (id, child) in &order {
                if *child {
                    touch!(tx, before, at, "parent_id", parent.map(|p| p.id));
                    continue;
                }
                let done = sqlx::query(
                    "UPDATE tickets SET version = version + 1 \
                     WHERE id = $1 AND parent_id IS NULL AND state <> 'closed'",
                )
                .bind(*id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    let key = parent.map(Ticket::key).unwrap_or_default();
                    return Err(StoreError::Conflict(format!(
                        "{key} became a child or was closed meanwhile; reload it"
                    )));
                }
            }
            if let Some(p) = parent {
                let count = |id: Uuid| {
                    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM tickets WHERE parent_id = $1").bind(id)
                };
                if count(before.id).fetch_one(&mut *tx).await? > 0 {
                    return Err(StoreError::Conflict(format!("{} has children of its own meanwhile", before.key())));
                }
                if count(p.id).fetch_one(&mut *tx).await? > CHILDREN_MAX {
                    return Err(StoreError::Conflict(format!("{} has {CHILDREN_MAX} children already", p.key())));
                }
            }
            let summary = match parent {
                Some(p) => format!("{} is a child of {}", before.key(), p.key()),
                None => format!("{} is on its own", before.key()),
            };
            audit!(tx, actor, now, AuditRecord::new("ticket.parent", "ticket", Some(before.id), summary));
        });
        self.get_ticket(before.id).await
    }

    /// A parent's open children (new, in progress, pending), oldest first.
    pub async fn open_children(&self, parent: Uuid) -> StoreResult<Vec<Ticket>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE parent_id = $1 AND state IN ('new', 'in_progress', 'pending') ORDER BY number LIMIT $2"
            )))
            .bind(parent)
            .bind(CHILDREN_MAX)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Ticket::from).collect())
    }

    /// Attaches ticket `before` to an incident (`(id, INC-n)`), or detaches it (`None`).
    pub async fn set_ticket_incident(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Ticket,
        incident: Option<(Uuid, &str)>,
    ) -> StoreResult<Ticket> {
        let at = now.timestamp_millis();
        write_tx!(self, |tx| {
            touch!(tx, before, at, "incident_id", incident.map(|i| i.0));
            let summary = match incident {
                Some((_, key)) => format!("{} attached to {key}", before.key()),
                None => format!("{} detached from its incident", before.key()),
            };
            audit!(tx, actor, now, AuditRecord::new("ticket.incident", "ticket", Some(before.id), summary));
        });
        self.get_ticket(before.id).await
    }

    /// Replaces the configuration items ticket `before` concerns (`cis`: id and name).
    pub async fn set_ticket_cis(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Ticket,
        cis: &[(Uuid, String)],
    ) -> StoreResult<Ticket> {
        let at = now.timestamp_millis();
        write_tx!(self, |tx| {
            touch!(tx, before, at);
            sqlx::query("DELETE FROM ticket_cis WHERE ticket_id = $1").bind(before.id).execute(&mut *tx).await?;
            for (ci, _) in cis {
                sqlx::query("INSERT INTO ticket_cis (ticket_id, ci_id) VALUES ($1, $2)")
                    .bind(before.id)
                    .bind(*ci)
                    .execute(&mut *tx)
                    .await?;
            }
            let names: Vec<&str> = cis.iter().map(|c| c.1.as_str()).collect();
            let summary = if names.is_empty() {
                format!("{} concerns no configuration item", before.key())
            } else {
                format!("{} concerns {}", before.key(), names.join(", "))
            };
            audit!(tx, actor, now, AuditRecord::new("ticket.cis", "ticket", Some(before.id), summary));
        });
        self.get_ticket(before.id).await
    }

    /// The configuration items a ticket concerns (id, name), by name.
    pub async fn ticket_cis(&self, ticket: Uuid) -> StoreResult<Vec<(Uuid, String)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT c.id, c.name FROM ticket_cis t JOIN cis c ON c.id = t.ci_id WHERE t.ticket_id = $1 \
                 ORDER BY c.name",
            )
            .bind(ticket)
            .fetch_all(pool)
            .await?
        }))
    }
}
