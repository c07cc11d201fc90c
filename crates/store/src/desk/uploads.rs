//! Files people attach to tickets by hand, and removing one: each write checks the ticket's
//! count inside its transaction and is audited (the name and size, never the bytes).

use super::mail_in::{AttachmentMeta, NewAttachment};
use crate::audit::audit;
use crate::{Db, StoreError, StoreResult, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::desk::upload::PER_TICKET_MAX;
use uuid::Uuid;

impl Db {
    /// Attaches `file` to ticket `ticket_id` for `author` (a person's name, never a token's
    /// label; `internal`: agents only see it). A conflict when the ticket holds
    /// [`PER_TICKET_MAX`] files already.
    pub async fn attach_file(
        &self,
        (actor, author): (&Actor, &str),
        now: DateTime<Utc>,
        ticket_id: Uuid,
        file: &NewAttachment,
        internal: bool,
    ) -> StoreResult<AttachmentMeta> {
        let (id, at) = (Uuid::now_v7(), now.timestamp_millis());
        let size = i64::try_from(file.data.len()).unwrap_or(i64::MAX);
        write_tx!(self, |tx| {
            // The ticket's row first: on PostgreSQL it locks, so two uploads count in turn.
            sqlx::query("UPDATE tickets SET updated_at = $2 WHERE id = $1")
                .bind(ticket_id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ticket_attachments WHERE ticket_id = $1")
                .bind(ticket_id)
                .fetch_one(&mut *tx)
                .await?;
            if held >= PER_TICKET_MAX {
                return Err(StoreError::Conflict(format!(
                    "the ticket holds {PER_TICKET_MAX} files already; remove one first"
                )));
            }
            sqlx::query(
                "INSERT INTO ticket_attachments (id, ticket_id, filename, content_type, size, data, created_at, \
                 internal, author) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id)
            .bind(ticket_id)
            .bind(&file.filename)
            .bind(&file.content_type)
            .bind(size)
            .bind(&file.data)
            .bind(at)
            .bind(internal)
            .bind(author)
            .execute(&mut *tx)
            .await?;
            let summary =
                format!("{} attached ({size} bytes{})", file.filename, if internal { ", internal" } else { "" });
            audit!(tx, actor, now, AuditRecord::new("ticket.attach", "ticket", Some(ticket_id), summary));
        });
        Ok(AttachmentMeta {
            id,
            ticket_id,
            filename: file.filename.clone(),
            content_type: file.content_type.clone(),
            size,
            created_at: at,
            author: author.to_owned(),
        })
    }

    /// Removes attachment `id` of ticket `ticket_id`.
    pub async fn delete_attachment(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        ticket_id: Uuid,
        id: Uuid,
    ) -> StoreResult<()> {
        let at = now.timestamp_millis();
        write_tx!(self, |tx| {
            let name: Option<String> = sqlx::query_scalar(
                "DELETE FROM ticket_attachments WHERE ticket_id = $1 AND id = $2 RETURNING filename",
            )
            .bind(ticket_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(name) = name else {
                return Err(StoreError::NotFound(Entity::Ticket));
            };
            sqlx::query("UPDATE tickets SET updated_at = $2 WHERE id = $1")
                .bind(ticket_id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            let summary = format!("{name} removed");
            audit!(tx, actor, now, AuditRecord::new("ticket.detach_file", "ticket", Some(ticket_id), summary));
        });
        Ok(())
    }
}
