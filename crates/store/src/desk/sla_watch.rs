//! What the SLA watcher reads and writes: the open tickets whose clocks are due to be judged
//! (`sla_check_at`, set to "now" by every write to a ticket and by a policy change), each warning
//! or breach recorded once with its e-mails in the same transaction, and the ticket e-mail
//! outbox.

use super::{Row, SELECT, Ticket};
use crate::audit::{audit, audit_many};
use crate::dialect::{fixed_chunks, multi_row, placeholders};
use crate::{Db, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::audit::{Actor, AuditRecord};
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// An e-mail about a ticket, threaded under the ticket's own Message-ID.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketMail {
    pub recipient: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// The Message-ID every e-mail about ticket `id` replies to, so they form one thread and an
/// answer's References name the ticket.
pub fn thread_of(id: Uuid) -> String {
    format!("<ticket-{}@opsdeck>", id.simple())
}

/// Queues `$m` (a [`TicketMail`]) for ticket `$ticket` inside a write transaction.
macro_rules! insert_mail {
    ($tx:ident, $ticket:expr, $m:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO ticket_mails (id, ticket_id, recipient, subject, html, body, thread, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8)",
        )
        .bind(Uuid::now_v7())
        .bind($ticket)
        .bind(&$m.recipient)
        .bind(&$m.subject)
        .bind(&$m.html)
        .bind(&$m.text)
        .bind($crate::desk::sla_watch::thread_of($ticket))
        .bind($at)
        .execute(&mut *$tx)
        .await?;
    };
}
pub(crate) use insert_mail;

/// A warning or breach the watcher found, with its e-mails.
#[derive(Debug, Clone)]
pub struct SlaNotice {
    /// `first_response` or `resolution`.
    pub clock: &'static str,
    /// `warning` (75 %) or `breach` (100 %).
    pub kind: &'static str,
    pub mails: Vec<TicketMail>,
}

/// One ticket as the watcher judged it.
#[derive(Debug, Clone)]
pub struct Judged {
    pub ticket: Ticket,
    pub notices: Vec<SlaNotice>,
    pub next: Option<DateTime<Utc>>,
}

impl Db {
    /// Up to `limit` open tickets whose clocks are due to be judged at `now`, oldest check first.
    pub async fn tickets_due_for_sla(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<Ticket>> {
        let sql = format!(
            "{SELECT} WHERE sla_check_at IS NOT NULL AND sla_check_at <= $1 ORDER BY sla_check_at, number LIMIT $2"
        );
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(now.timestamp_millis())
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Ticket::from).collect())
    }

    /// The warnings and breaches already recorded for `ids`: (ticket, clock, kind).
    pub async fn sla_events_of(&self, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String, String)>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT ticket_id, clock, kind FROM ticket_sla_events WHERE ticket_id IN ({})",
                crate::dialect::placeholders(self.backend(), chunk.len(), 1)
            );
            let rows: Vec<(Uuid, String, String)> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// Records what the watcher judged at `now`, in one transaction for the batch: for each
    /// ticket, each notice not recorded before (with its e-mails, so a notice is mailed once
    /// whatever the nodes do), and the next instant to judge it (`None`: nothing left to cross),
    /// written only if the ticket was not written since it was read (its `sla_check_at` is
    /// still the one read). How many notices were recorded. A batch is a few multi-row
    /// statements, not a few per ticket: each statement is a round trip to the database's
    /// connection (on SQLite, to its thread), and those were most of a recomputation's time.
    pub async fn record_sla_judgements(&self, now: DateTime<Utc>, judged: &[Judged]) -> StoreResult<usize> {
        let at = now.timestamp_millis();
        let actor = Actor::system("sla");
        let backend = self.backend();
        let notices: Vec<(&Ticket, &SlaNotice)> =
            judged.iter().flat_map(|j| j.notices.iter().map(move |n| (&j.ticket, n))).collect();
        // The next checks, grouped by (next, the check read): a batch judged alike is one update.
        let mut next: BTreeMap<(Option<i64>, Option<i64>), Vec<Uuid>> = BTreeMap::new();
        for j in judged {
            next.entry((j.next.map(|t| t.timestamp_millis()), j.ticket.sla_check_at)).or_default().push(j.ticket.id);
        }
        let recorded = write_tx!(self, |tx| {
            // Each warning or breach is recorded once: the insert gives back the rows it added.
            let mut fresh: HashSet<(Uuid, String, String)> = HashSet::new();
            for chunk in fixed_chunks(&notices) {
                let head = "INSERT INTO ticket_sla_events (ticket_id, clock, kind, at) VALUES ";
                let tail = " ON CONFLICT DO NOTHING RETURNING ticket_id, clock, kind";
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(multi_row(backend, head, 4, chunk.len(), tail)));
                for (t, n) in chunk {
                    q = q.bind(t.id).bind(n.clock).bind(n.kind).bind(at);
                }
                let added: Vec<(Uuid, String, String)> = q.fetch_all(&mut *tx).await?;
                fresh.extend(added);
            }
            let mut audits = Vec::new();
            for (ticket, notice) in &notices {
                if !fresh.contains(&(ticket.id, notice.clock.to_owned(), notice.kind.to_owned())) {
                    continue;
                }
                for m in &notice.mails {
                    insert_mail!(tx, ticket.id, m, at);
                }
                let what = if notice.kind == "breach" { "breached" } else { "at 75 %" };
                let clock = notice.clock.replace('_', " ");
                let summary = format!("{} {clock} SLA {what}", ticket.key());
                audits.push(AuditRecord::new("ticket.sla", "ticket", Some(ticket.id), summary));
            }
            let n = audits.len();
            audit_many!(tx, backend, &actor, now, audits);
            // A write since the read set a newer check: that one stands.
            for ((next_at, read), ids) in &next {
                for chunk in ids.chunks(500) {
                    let sql = format!(
                        "UPDATE tickets SET sla_check_at = $1 WHERE sla_check_at = $2 AND id IN ({})",
                        placeholders(backend, chunk.len(), 3)
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(*next_at).bind(*read);
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    q.execute(&mut *tx).await?;
                }
            }
            n
        });
        Ok(recorded)
    }

    /// How many open tickets wait to be judged at `now` (for the watcher's metrics and tests).
    pub async fn sla_backlog(&self, now: DateTime<Utc>) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE sla_check_at IS NOT NULL AND sla_check_at <= $1")
                .bind(now.timestamp_millis())
                .fetch_one(pool)
                .await?
        }))
    }

    /// Assigns a ticket at `version` to `assignee` (`None`: unassigned), and to `team` when given.
    pub async fn assign_ticket(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Ticket,
        assignee: Option<(Uuid, &str)>,
        team: Option<(Uuid, &str)>,
    ) -> StoreResult<Ticket> {
        let at = now.timestamp_millis();
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE tickets SET assignee_id = $1, version = version + 1, updated_at = $2, sla_check_at = $2, \
                 team_id = COALESCE($5, team_id) WHERE id = $3 AND version = $4",
            )
            .bind(assignee.map(|a| a.0))
            .bind(at)
            .bind(before.id)
            .bind(before.version)
            .bind(team.map(|t| t.0))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(crate::StoreError::Conflict(format!(
                    "{} was changed by someone else since you loaded it; reload it",
                    before.key()
                )));
            }
            let mut summary = match assignee {
                Some((_, name)) => format!("{} assigned to {name}", before.key()),
                None => format!("{} unassigned", before.key()),
            };
            if let Some((_, name)) = team {
                summary.push_str(&format!(", team {name}"));
            }
            audit!(tx, actor, now, AuditRecord::new("ticket.assign", "ticket", Some(before.id), summary));
        });
        self.get_ticket(before.id).await
    }
}
