//! Mail to the desk, kept: each message once (by Message-ID) with what became of it — a new
//! ticket, a reply or note on one (reopening or resuming it when its requester answers), or
//! refused with why — written in one transaction with its attachments.

use super::{Ticket, TicketState, insert_ticket, record_move};
use crate::audit::audit;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::desk::request_item::Approval;
use opsdeck_core::desk::ticket::TicketSpec;
use opsdeck_core::desk::upload::PER_TICKET_MAX;
use serde::Serialize;
use uuid::Uuid;

/// What the desk read: the message's id, sender, subject, and notes (left-out attachments…).
#[derive(Debug, Clone)]
pub struct MailRecord {
    pub message_id: String,
    pub sender: String,
    pub subject: String,
    pub detail: String,
}

/// A file to attach to the ticket.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// What a message becomes.
#[derive(Debug)]
pub enum MailAction<'a> {
    /// A new ticket from its sender (`requester`: their account, when they have one).
    /// `routed`: where the routing rules send it.
    Create { spec: &'a TicketSpec, priority: u8, requester: Option<Uuid>, routed: Option<&'a super::routing::Routed> },
    /// A reply on `ticket` (`internal`: a note, for mail from someone other than its requester),
    /// moving it to `resume` first when its requester answers a pending or resolved ticket.
    Reply { ticket: &'a Ticket, body: &'a str, internal: bool, author: Option<Uuid>, resume: Option<TicketState> },
    /// Nothing: the message is kept in the log with why.
    Refuse,
}

/// One message in the log.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct MailIn {
    pub message_id: String,
    pub received_at: i64,
    pub sender: String,
    pub subject: String,
    pub outcome: String,
    pub ticket_id: Option<Uuid>,
    pub detail: String,
}

/// An attachment without its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AttachmentMeta {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: i64,
    /// Who attached it (a mail's sender, or who uploaded it).
    pub author: String,
}

/// The conflict a message kept twice at once (two nodes) answers.
pub const ALREADY: &str = "this message was read already";

/// An attachment as its row holds it: (id, ticket, name, type, size, created, author, bytes).
type AttachmentRow = (Uuid, Uuid, String, String, i64, i64, String, Vec<u8>);

impl Db {
    /// Whether message `message_id` from `sender` was read before.
    pub async fn mail_known(&self, message_id: &str, sender: &str) -> StoreResult<bool> {
        let n: i64 = with_db!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM ticket_mail_in WHERE message_id = $1 AND sender = $2")
                .bind(message_id)
                .bind(sender)
                .fetch_one(pool)
                .await?
        });
        Ok(n > 0)
    }

    /// Keeps a message: what it becomes, its log row and its attachments, together. Gives the
    /// ticket it went to, if any.
    pub async fn take_mail(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        record: &MailRecord,
        action: &MailAction<'_>,
        attachments: &[NewAttachment],
    ) -> StoreResult<Option<Uuid>> {
        let at = now.timestamp_millis();
        let (outcome, ticket_id) = match action {
            MailAction::Create { .. } => ("created", Some(Uuid::now_v7())),
            MailAction::Reply { ticket, internal: false, .. } => ("replied", Some(ticket.id)),
            MailAction::Reply { ticket, internal: true, .. } => ("noted", Some(ticket.id)),
            MailAction::Refuse => ("refused", None),
        };
        let internal = matches!(action, MailAction::Reply { internal: true, .. });
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO ticket_mail_in (message_id, received_at, sender, subject, outcome, ticket_id, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&record.message_id)
            .bind(at)
            .bind(&record.sender)
            .bind(&record.subject)
            .bind(outcome)
            .bind(None::<Uuid>)
            .bind(&record.detail)
            .execute(&mut *tx)
            .await
            .map_err(crate::error::unique(ALREADY))?;
            let summary = match action {
                MailAction::Create { spec, priority, requester, routed } => {
                    let id = ticket_id.unwrap_or_else(Uuid::now_v7);
                    let columns = (None::<Uuid>, None::<String>, Approval::None, None::<Uuid>, None::<String>);
                    let number = insert_ticket!(tx, id, spec, *priority, *requester, at, "new", "", columns);
                    if let Some(r) = routed {
                        super::routing::hand_out!(tx, id, *r);
                    }
                    format!("Mail from {} raised {}-{number}", record.sender, spec.kind.prefix())
                }
                MailAction::Reply { ticket, body, internal, author, resume } => {
                    if let Some(to) = resume {
                        record_move!(tx, &actor.label, at, ticket, *to, "the requester answered by e-mail");
                    }
                    sqlx::query(
                        "INSERT INTO ticket_replies (id, ticket_id, author_id, author, body, internal, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(ticket.id)
                    .bind(*author)
                    .bind(&actor.label)
                    .bind(*body)
                    .bind(*internal)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE tickets SET updated_at = $2, sla_check_at = $2 WHERE id = $1")
                        .bind(ticket.id)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                    format!("Mail from {} on {}", record.sender, ticket.key())
                }
                MailAction::Refuse => format!("Mail from {} refused: {}", record.sender, record.detail),
            };
            if let Some(tid) = ticket_id {
                sqlx::query("UPDATE ticket_mail_in SET ticket_id = $1 WHERE message_id = $2 AND sender = $3")
                    .bind(tid)
                    .bind(&record.message_id)
                    .bind(&record.sender)
                    .execute(&mut *tx)
                    .await?;
                // A ticket keeps at most PER_TICKET_MAX files: the rest are left out, and said so.
                let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ticket_attachments WHERE ticket_id = $1")
                    .bind(tid)
                    .fetch_one(&mut *tx)
                    .await?;
                let room = usize::try_from(PER_TICKET_MAX.saturating_sub(held)).unwrap_or(0);
                if attachments.len() > room {
                    let note = format!(
                        "; {} attachment(s) left out: the ticket holds {PER_TICKET_MAX} files",
                        attachments.len() - room
                    );
                    sqlx::query(
                        "UPDATE ticket_mail_in SET detail = detail || $1 WHERE message_id = $2 AND sender = $3",
                    )
                    .bind(note)
                    .bind(&record.message_id)
                    .bind(&record.sender)
                    .execute(&mut *tx)
                    .await?;
                }
                for a in attachments.iter().take(room) {
                    sqlx::query(
                        "INSERT INTO ticket_attachments (id, ticket_id, filename, content_type, size, data, \
                         created_at, internal, author) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(tid)
                    .bind(&a.filename)
                    .bind(&a.content_type)
                    .bind(i64::try_from(a.data.len()).unwrap_or(i64::MAX))
                    .bind(&a.data)
                    .bind(at)
                    .bind(internal)
                    .bind(&record.sender)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            audit!(tx, actor, now, AuditRecord::new("ticket.mail_in", "ticket", ticket_id, summary));
        });
        Ok(ticket_id)
    }

    /// The newest `limit` messages read, newest first.
    pub async fn recent_mail(&self, limit: i64) -> StoreResult<Vec<MailIn>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT message_id, received_at, sender, subject, outcome, ticket_id, detail FROM ticket_mail_in \
                 ORDER BY received_at DESC, message_id LIMIT $1",
            )
            .bind(limit.clamp(1, 500))
            .fetch_all(pool)
            .await?
        }))
    }

    /// A ticket's attachments (at most 200), oldest first, without their bytes; the ones that
    /// came with internal notes only when `internal`.
    pub async fn ticket_attachments(&self, ticket_id: Uuid, internal: bool) -> StoreResult<Vec<AttachmentMeta>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, ticket_id, filename, content_type, size, created_at, author FROM ticket_attachments \
                 WHERE ticket_id = $1 AND ($2 = TRUE OR internal = FALSE) ORDER BY created_at, id LIMIT 200",
            )
            .bind(ticket_id)
            .bind(internal)
            .fetch_all(pool)
            .await?
        }))
    }

    /// One attachment of `ticket_id` with its bytes.
    pub async fn ticket_attachment(
        &self,
        ticket_id: Uuid,
        id: Uuid,
        internal: bool,
    ) -> StoreResult<(AttachmentMeta, Vec<u8>)> {
        let row: Option<AttachmentRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, ticket_id, filename, content_type, size, created_at, author, data FROM ticket_attachments \
                 WHERE ticket_id = $1 AND id = $2 AND ($3 = TRUE OR internal = FALSE)",
            )
            .bind(ticket_id)
            .bind(id)
            .bind(internal)
            .fetch_optional(pool)
            .await?
        });
        let (id, ticket_id, filename, content_type, size, created_at, author, data) =
            row.ok_or(StoreError::NotFound(Entity::Ticket))?;
        Ok((AttachmentMeta { id, ticket_id, filename, content_type, size, created_at, author }, data))
    }
}
