//! The portal's request items, and what happens to a request raised from one: its approval
//! (a decision moves it out of pending in the same transaction as the reply that announces it),
//! its fulfilment tasks and the requester's satisfaction rating.

use super::sla_watch::{TicketMail, insert_mail};
use super::{Ticket, TicketState};
use crate::audit::audit;
use crate::error::unique;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::desk::request_item::{Answer, Approval, Field, ItemSpec, Task};
use serde::Serialize;
use uuid::Uuid;

/// A stored request item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestItem {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub fields: Vec<Field>,
    pub approver_id: Option<Uuid>,
    pub tasks: Vec<String>,
    pub impact: u8,
    pub urgency: u8,
    pub active: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    slug: String,
    title: String,
    description: String,
    category: String,
    fields: String,
    approver_id: Option<Uuid>,
    tasks: String,
    impact: i32,
    urgency: i32,
    active: bool,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<Row> for RequestItem {
    fn from(r: Row) -> Self {
        RequestItem {
            id: r.id,
            slug: r.slug,
            title: r.title,
            description: r.description,
            category: r.category,
            fields: serde_json::from_str(&r.fields).unwrap_or_default(),
            approver_id: r.approver_id,
            tasks: serde_json::from_str(&r.tasks).unwrap_or_default(),
            impact: super::small(r.impact),
            urgency: super::small(r.urgency),
            active: r.active,
            version: r.version,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const SELECT: &str = "SELECT id, slug, title, description, category, fields, approver_id, tasks, impact, urgency, \
                      active, version, created_at, updated_at FROM request_items";

/// The e-mail a ticket being raised sends, built from the number it is given.
pub type MailFor = Box<dyn Fn(i64) -> TicketMail + Send + Sync>;

/// What a ticket raised from a request item carries besides the ticket itself.
pub struct NewRequest {
    pub item_id: Uuid,
    pub answers: Vec<Answer>,
    /// The request waits (pending, its resolution clock paused) for its approver, or for an
    /// admin when the item's approver can no longer decide.
    pub needs_approval: bool,
    pub approver_id: Option<Uuid>,
    pub tasks: Vec<String>,
    /// Tells the approver, in the transaction that raises the request.
    pub approver_mail: Option<MailFor>,
}

/// The columns a request adds to a new ticket: (item, answers, approval, approver, tasks).
pub(crate) fn request_columns(
    r: Option<&NewRequest>,
) -> (Option<Uuid>, Option<String>, Approval, Option<Uuid>, Option<String>) {
    let Some(r) = r else { return (None, None, Approval::None, None, None) };
    let tasks: Vec<Task> = r.tasks.iter().map(|t| Task { title: t.clone(), done_at: None, done_by: None }).collect();
    (
        Some(r.item_id),
        serde_json::to_string(&r.answers).ok(),
        if r.needs_approval { Approval::Pending } else { Approval::None },
        r.approver_id,
        serde_json::to_string(&tasks).ok(),
    )
}

/// An approver's decision on a pending request.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub approve: bool,
    /// The public reply that tells the requester (and stops the first-response clock).
    pub reply: &'a str,
    pub mail: Option<&'a TicketMail>,
}

const TAKEN: &str = "a request item with this slug exists; choose another slug";

impl Db {
    pub async fn create_request_item(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        s: &ItemSpec,
    ) -> StoreResult<RequestItem> {
        let (id, at) = (Uuid::now_v7(), now.timestamp_millis());
        let fields = serde_json::to_string(&s.fields).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let tasks = serde_json::to_string(&s.tasks).map_err(|e| StoreError::Conflict(e.to_string()))?;
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO request_items (id, slug, title, description, category, fields, approver_id, tasks, \
                 impact, urgency, active, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12)",
            )
            .bind(id)
            .bind(&s.slug)
            .bind(&s.title)
            .bind(&s.description)
            .bind(&s.category)
            .bind(&fields)
            .bind(s.approver_id)
            .bind(&tasks)
            .bind(i32::from(s.impact.get()))
            .bind(i32::from(s.urgency.get()))
            .bind(s.active)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(unique(TAKEN))?;
            let summary = format!("Request item {} created", s.title);
            audit!(tx, actor, now, AuditRecord::new("request_item.create", "request_item", Some(id), summary).after(s));
        });
        self.request_item(&id.to_string()).await
    }

    /// Replaces an item at `version` (409 when someone saved it since).
    pub async fn update_request_item(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &RequestItem,
        s: &ItemSpec,
    ) -> StoreResult<RequestItem> {
        let fields = serde_json::to_string(&s.fields).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let tasks = serde_json::to_string(&s.tasks).map_err(|e| StoreError::Conflict(e.to_string()))?;
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE request_items SET slug = $1, title = $2, description = $3, category = $4, fields = $5, \
                 approver_id = $6, tasks = $7, impact = $8, urgency = $9, active = $10, version = version + 1, \
                 updated_at = $11 WHERE id = $12 AND version = $13",
            )
            .bind(&s.slug)
            .bind(&s.title)
            .bind(&s.description)
            .bind(&s.category)
            .bind(&fields)
            .bind(s.approver_id)
            .bind(&tasks)
            .bind(i32::from(s.impact.get()))
            .bind(i32::from(s.urgency.get()))
            .bind(s.active)
            .bind(now.timestamp_millis())
            .bind(before.id)
            .bind(before.version)
            .execute(&mut *tx)
            .await
            .map_err(unique(TAKEN))?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "{} was changed since you loaded it; reload it",
                    before.title
                )));
            }
            let summary = format!("Request item {} updated", s.title);
            let record = AuditRecord::new("request_item.update", "request_item", Some(before.id), summary);
            audit!(tx, actor, now, record.after(s));
        });
        self.request_item(&before.id.to_string()).await
    }

    /// An item by id or slug.
    pub async fn request_item(&self, reference: &str) -> StoreResult<RequestItem> {
        let row: Option<Row> = match Uuid::parse_str(reference) {
            Ok(id) => with_db!(self, |pool| {
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
                    .bind(id)
                    .fetch_optional(pool)
                    .await?
            }),
            Err(_) => with_db!(self, |pool| {
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE slug = $1")))
                    .bind(reference)
                    .fetch_optional(pool)
                    .await?
            }),
        };
        row.map(RequestItem::from).ok_or(StoreError::NotFound(Entity::RequestItem))
    }

    /// Every item (at most 1,000), by category and title; only the active ones when asked.
    pub async fn request_items(&self, active_only: bool) -> StoreResult<Vec<RequestItem>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE ($1 = FALSE OR active = TRUE) ORDER BY category, title, id LIMIT 1000"
            )))
            .bind(active_only)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(RequestItem::from).collect())
    }

    /// Approves or rejects a pending request at its version: approved, it goes back to New and
    /// its resolution clock runs again; rejected, it is resolved. The announcing reply, its
    /// e-mail, the move and the audit row are written together.
    pub async fn decide_request(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Ticket,
        d: &Decision<'_>,
    ) -> StoreResult<Ticket> {
        let (id, at) = (before.id, now.timestamp_millis());
        let (approval, to) = if d.approve {
            (Approval::Approved, TicketState::New)
        } else {
            (Approval::Rejected, TicketState::Resolved)
        };
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE tickets SET approval = $1, state = $2, pending_reason = '', version = version + 1, \
                 updated_at = $3, sla_check_at = $3, first_response_at = COALESCE(first_response_at, $3), \
                 resolved_at = CASE WHEN $2 = 'resolved' THEN $3 ELSE NULL END \
                 WHERE id = $4 AND version = $5 AND approval = 'pending' AND state = 'pending'",
            )
            .bind(approval.as_str())
            .bind(to.as_str())
            .bind(at)
            .bind(id)
            .bind(before.version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "{} was changed since you loaded it (or was decided already); reload it",
                    before.key()
                )));
            }
            let seq: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ticket_moves WHERE ticket_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO ticket_moves (ticket_id, seq, at, from_state, to_state, reason, actor) \
                 VALUES ($1, $2, $3, 'pending', $4, $5, $6)",
            )
            .bind(id)
            .bind(i32::try_from(seq).unwrap_or(i32::MAX))
            .bind(at)
            .bind(to.as_str())
            .bind(approval.as_str())
            .bind(&actor.label)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO ticket_replies (id, ticket_id, author_id, author, body, internal, created_at) \
                 VALUES ($1, $2, $3, $4, $5, FALSE, $6)",
            )
            .bind(Uuid::now_v7())
            .bind(id)
            .bind(actor.user_id)
            .bind(&actor.label)
            .bind(d.reply)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if let Some(m) = d.mail {
                insert_mail!(tx, id, m, at);
            }
            let summary = format!("{} {}", before.key(), approval.as_str());
            audit!(tx, actor, now, AuditRecord::new("ticket.approval", "ticket", Some(id), summary));
        });
        self.get_ticket(id).await
    }

    /// Ticks off (or reopens) fulfilment task `index` of a request at its version.
    pub async fn set_ticket_task(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Ticket,
        index: usize,
        done: bool,
    ) -> StoreResult<Ticket> {
        let mut tasks = before.tasks.clone();
        let Some(task) = tasks.get_mut(index) else { return Err(StoreError::NotFound(Entity::Ticket)) };
        let at = now.timestamp_millis();
        (task.done_at, task.done_by) = if done { (Some(at), Some(actor.label.clone())) } else { (None, None) };
        let title = task.title.clone();
        let json = serde_json::to_string(&tasks).map_err(|e| StoreError::Conflict(e.to_string()))?;
        write_tx!(self, |tx| {
            let changed = sqlx::query(
                "UPDATE tickets SET tasks = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4",
            )
            .bind(&json)
            .bind(at)
            .bind(before.id)
            .bind(before.version)
            .execute(&mut *tx)
            .await?;
            if changed.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "{} was changed since you loaded it; reload it",
                    before.key()
                )));
            }
            let what = if done { "done" } else { "reopened" };
            let summary = format!("{} task {what}: {title}", before.key());
            audit!(tx, actor, now, AuditRecord::new("ticket.task", "ticket", Some(before.id), summary));
        });
        self.get_ticket(before.id).await
    }

    /// The requester's satisfaction rating (1–5) and comment; a later rating replaces it.
    pub async fn rate_ticket(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        t: &Ticket,
        score: u8,
        comment: &str,
    ) -> StoreResult<Ticket> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE tickets SET rating = $1, rating_comment = $2, rated_at = $3 WHERE id = $4")
                .bind(i32::from(score))
                .bind(comment)
                .bind(now.timestamp_millis())
                .bind(t.id)
                .execute(&mut *tx)
                .await?;
            let summary = format!("{} rated {score} of 5", t.key());
            audit!(tx, actor, now, AuditRecord::new("ticket.rate", "ticket", Some(t.id), summary));
        });
        self.get_ticket(t.id).await
    }

    /// Requests awaiting approval, oldest first (at most 50): `approver`'s, or everyone's.
    pub async fn awaiting_approval(&self, approver: Option<Uuid>) -> StoreResult<Vec<Ticket>> {
        let rows: Vec<super::Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{} WHERE approval = 'pending' AND ($1 IS NULL OR approver_id = $1) ORDER BY number LIMIT 50",
                super::SELECT
            )))
            .bind(approver)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Ticket::from).collect())
    }

    /// Satisfaction ratings given in `[from, to)`: (how many, their sum).
    pub async fn ratings_between(&self, from_ms: i64, to_ms: i64) -> StoreResult<(i64, i64)> {
        let (n, sum): (i64, Option<i64>) = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT COUNT(*), CAST(SUM(rating) AS BIGINT) FROM tickets \
                 WHERE rated_at >= $1 AND rated_at < $2 AND rating IS NOT NULL",
            )
            .bind(from_ms)
            .bind(to_ms)
            .fetch_one(pool)
            .await?
        });
        Ok((n, sum.unwrap_or(0)))
    }
}
