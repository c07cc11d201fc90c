//! Service desk tickets: raising them (one number sequence for `TKT-n` and `REQ-n`), their moves
//! (kept in order: the SLA clocks replay them), replies and internal notes, the agent queue,
//! and the SLA policy of each priority.

pub mod agreements;
pub mod kb;
pub mod kpi;
pub mod lifecycle;
pub mod links;
pub mod mail_in;
mod policies;
pub mod problems;
pub mod requests;
pub mod routing;
pub mod sla_watch;
pub mod uploads;
pub use policies::SlaPolicy;

use crate::audit::audit;
use crate::page::{self, Cursor, Page};
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::desk::request_item::{Answer, Approval, Task};
use opsdeck_core::desk::ticket::{Moved, TicketSpec, TicketState, TicketType};
use serde::Serialize;
use uuid::Uuid;

/// A stored ticket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ticket {
    pub id: Uuid,
    pub number: i64,
    pub kind: TicketType,
    pub title: String,
    pub description: String,
    pub state: TicketState,
    pub impact: u8,
    pub urgency: u8,
    pub priority: u8,
    pub requester_email: Option<String>,
    pub requester_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub pending_reason: String,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the SLA watcher judges its clocks next (epoch ms; none once nothing is left to cross).
    pub sla_check_at: Option<i64>,
    /// The request item it was raised from, with the answers to its form.
    pub request_item_id: Option<Uuid>,
    pub answers: Vec<Answer>,
    pub approval: Approval,
    pub approver_id: Option<Uuid>,
    pub tasks: Vec<Task>,
    /// The requester's satisfaction, 1 to 5, once resolved.
    pub rating: Option<u8>,
    pub rating_comment: String,
    pub rated_at: Option<DateTime<Utc>>,
    /// The team (group) that works it, the service it concerns and its category.
    pub team_id: Option<Uuid>,
    pub service_id: Option<Uuid>,
    pub category: String,
    /// The ticket it is a child of, and the incident it was promoted to or attached to.
    pub parent_id: Option<Uuid>,
    pub incident_id: Option<Uuid>,
    /// Why an agent overrode the priority the matrix gave (empty: not overridden).
    pub priority_reason: String,
}

impl Ticket {
    /// `TKT-12` or `REQ-12`.
    pub fn key(&self) -> String {
        format!("{}-{}", self.kind.prefix(), self.number)
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    id: Uuid,
    number: i64,
    kind: String,
    title: String,
    description: String,
    state: String,
    impact: i32,
    urgency: i32,
    priority: i32,
    requester_email: Option<String>,
    requester_id: Option<Uuid>,
    assignee_id: Option<Uuid>,
    pending_reason: String,
    first_response_at: Option<i64>,
    resolved_at: Option<i64>,
    closed_at: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
    sla_check_at: Option<i64>,
    request_item_id: Option<Uuid>,
    answers: Option<String>,
    approval: String,
    approver_id: Option<Uuid>,
    tasks: Option<String>,
    rating: Option<i32>,
    rating_comment: String,
    rated_at: Option<i64>,
    team_id: Option<Uuid>,
    service_id: Option<Uuid>,
    category: String,
    parent_id: Option<Uuid>,
    incident_id: Option<Uuid>,
    priority_reason: String,
}

fn small(v: i32) -> u8 {
    u8::try_from(v).unwrap_or(4)
}

impl From<Row> for Ticket {
    fn from(r: Row) -> Self {
        Ticket {
            id: r.id,
            number: r.number,
            kind: TicketType::parse(&r.kind).unwrap_or(TicketType::IncidentReport),
            title: r.title,
            description: r.description,
            state: TicketState::parse(&r.state).unwrap_or(TicketState::New),
            impact: small(r.impact),
            urgency: small(r.urgency),
            priority: small(r.priority),
            requester_email: r.requester_email,
            requester_id: r.requester_id,
            assignee_id: r.assignee_id,
            pending_reason: r.pending_reason,
            first_response_at: r.first_response_at.map(from_millis),
            resolved_at: r.resolved_at.map(from_millis),
            closed_at: r.closed_at.map(from_millis),
            version: r.version,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
            sla_check_at: r.sla_check_at,
            request_item_id: r.request_item_id,
            answers: r.answers.and_then(|a| serde_json::from_str(&a).ok()).unwrap_or_default(),
            approval: Approval::parse(&r.approval).unwrap_or(Approval::None),
            approver_id: r.approver_id,
            tasks: r.tasks.and_then(|a| serde_json::from_str(&a).ok()).unwrap_or_default(),
            rating: r.rating.and_then(|v| u8::try_from(v).ok()),
            rating_comment: r.rating_comment,
            rated_at: r.rated_at.map(from_millis),
            team_id: r.team_id,
            service_id: r.service_id,
            category: r.category,
            parent_id: r.parent_id,
            incident_id: r.incident_id,
            priority_reason: r.priority_reason,
        }
    }
}

pub(crate) const SELECT: &str = "SELECT id, number, kind, title, description, state, impact, urgency, priority, \
     requester_email, requester_id, assignee_id, pending_reason, first_response_at, resolved_at, closed_at, version, \
     created_at, updated_at, sla_check_at, request_item_id, answers, approval, approver_id, tasks, rating, \
     rating_comment, rated_at, team_id, service_id, category, parent_id, incident_id, \
     priority_reason FROM tickets";

/// A reply or an internal note.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Reply {
    pub id: Uuid,
    pub author_id: Option<Uuid>,
    pub author: String,
    pub body: String,
    pub internal: bool,
    pub created_at: i64,
}

/// Filters of the ticket queue.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub states: Vec<TicketState>,
    pub assignee_id: Option<Uuid>,
    /// Only the tickets this person raised.
    pub requester_id: Option<Uuid>,
    /// Only this team's tickets.
    pub team_id: Option<Uuid>,
    /// Only tickets nobody is assigned to.
    pub unassigned: bool,
    pub cursor: Option<Cursor>,
    pub limit: Option<i64>,
}

/// Inserts a new ticket (numbered from the shared sequence) in transaction `tx`; gives its number.
/// `columns` are a request's (see `requests::request_columns`).
macro_rules! insert_ticket {
    ($tx:ident, $id:expr, $spec:expr, $priority:expr, $requester:expr, $at:expr, $state:expr, $reason:expr,
     $columns:expr) => {{
        let number: i64 =
            sqlx::query_scalar("UPDATE revisions SET value = value + 1 WHERE name = 'ticket_number' RETURNING value")
                .fetch_one(&mut *$tx)
                .await?;
        let (item_id, answers, approval, approver_id, tasks) = $columns;
        sqlx::query(
            "INSERT INTO tickets (id, number, kind, title, description, state, impact, urgency, priority, \
             requester_email, requester_id, version, created_at, updated_at, sla_check_at, pending_reason, \
             request_item_id, answers, approval, approver_id, tasks, team_id, service_id, category) \
             VALUES ($1, $2, $3, $4, $5, $12, $6, $7, $8, $9, $10, 1, $11, $11, $11, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21)",
        )
        .bind($id)
        .bind(number)
        .bind($spec.kind.as_str())
        .bind(&$spec.title)
        .bind(&$spec.description)
        .bind(i32::from($spec.impact.get()))
        .bind(i32::from($spec.urgency.get()))
        .bind(i32::from($priority))
        .bind(&$spec.requester_email)
        .bind($requester)
        .bind($at)
        .bind($state)
        .bind($reason)
        .bind(item_id)
        .bind(&answers)
        .bind(approval.as_str())
        .bind(approver_id)
        .bind(&tasks)
        .bind($spec.team_id)
        .bind($spec.service_id)
        .bind($spec.category.as_deref().unwrap_or(""))
        .execute(&mut *$tx)
        .await?;
        number
    }};
}
pub(crate) use insert_ticket;

/// Moves ticket `before` (at its version) to `to` in transaction `tx`, recording the move; a
/// conflict when someone changed it since.
macro_rules! record_move {
    ($tx:ident, $label:expr, $at:expr, $before:expr, $to:expr, $reason:expr) => {{
        let done = sqlx::query(
            "UPDATE tickets SET state = $1, pending_reason = $2, version = version + 1, updated_at = $3, \
             sla_check_at = $3, \
             resolved_at = CASE WHEN $1 = 'resolved' THEN $3 WHEN $1 = 'closed' THEN resolved_at ELSE NULL END, \
             closed_at = CASE WHEN $1 = 'closed' THEN $3 ELSE NULL END WHERE id = $4 AND version = $5",
        )
        .bind($to.as_str())
        .bind(if $to == TicketState::Pending { $reason } else { "" })
        .bind($at)
        .bind($before.id)
        .bind($before.version)
        .execute(&mut *$tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "{} was changed by someone else since you loaded it; reload it",
                $before.key()
            )));
        }
        let seq: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ticket_moves WHERE ticket_id = $1")
            .bind($before.id)
            .fetch_one(&mut *$tx)
            .await?;
        sqlx::query(
            "INSERT INTO ticket_moves (ticket_id, seq, at, from_state, to_state, reason, actor) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($before.id)
        .bind(i32::try_from(seq).unwrap_or(i32::MAX))
        .bind($at)
        .bind($before.state.as_str())
        .bind($to.as_str())
        .bind($reason)
        .bind($label)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(crate) use record_move;

impl Db {
    /// Raises a ticket with its priority for `requester` (an account, when it has one); its
    /// history starts empty (it is New from its creation time).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_ticket(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        spec: &TicketSpec,
        priority: u8,
        requester: Option<Uuid>,
        request: Option<&requests::NewRequest>,
        routed: Option<&routing::Routed>,
    ) -> StoreResult<Ticket> {
        let (id, at) = (Uuid::now_v7(), now.timestamp_millis());
        let columns = requests::request_columns(request);
        // A request that needs approval waits for it from the start, its resolution clock paused.
        let awaits = columns.2 == Approval::Pending;
        let (state, reason) = if awaits { ("pending", "Awaiting approval") } else { ("new", "") };
        write_tx!(self, |tx| {
            let number = insert_ticket!(tx, id, spec, priority, requester, at, state, reason, columns);
            let routing = match routed {
                Some(r) => {
                    let to = routing::hand_out!(tx, id, r);
                    format!(" (routed by {:?}{})", r.rule, if to.is_some() { ", assigned" } else { "" })
                }
                None => String::new(),
            };
            if awaits {
                sqlx::query(
                    "INSERT INTO ticket_moves (ticket_id, seq, at, from_state, to_state, reason, actor) \
                     VALUES ($1, 0, $2, 'new', 'pending', $3, $4)",
                )
                .bind(id)
                .bind(at)
                .bind(reason)
                .bind(&actor.label)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(m) = request.and_then(|r| r.approver_mail.as_ref()).map(|f| f(number)) {
                sla_watch::insert_mail!(tx, id, m, at);
            }
            let summary = format!("Raised {}-{number} {}{routing}", spec.kind.prefix(), spec.title);
            audit!(tx, actor, now, AuditRecord::new("ticket.create", "ticket", Some(id), summary).after(spec));
        });
        self.get_ticket(id).await
    }

    pub async fn get_ticket(&self, id: Uuid) -> StoreResult<Ticket> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1"))).bind(id).fetch_optional(pool).await?
        });
        row.map(Ticket::from).ok_or(StoreError::NotFound(Entity::Ticket))
    }

    pub async fn ticket_by_number(&self, number: i64) -> StoreResult<Ticket> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE number = $1")))
                .bind(number)
                .fetch_optional(pool)
                .await?
        });
        row.map(Ticket::from).ok_or(StoreError::NotFound(Entity::Ticket))
    }

    /// The queue: tickets in `states` (all when empty), most urgent first (priority, then
    /// oldest), a page at a time.
    pub async fn tickets(&self, f: &TicketFilter) -> StoreResult<Page<Ticket>> {
        let limit = page::clamp_limit(f.limit);
        let states: Vec<&str> = f.states.iter().map(|s| s.as_str()).collect();
        let state_list = if states.is_empty() {
            "TRUE".to_owned()
        } else {
            // Fixed words from TicketState, never user text.
            format!("state IN ({})", states.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", "))
        };
        let unassigned = if f.unassigned { "AND assignee_id IS NULL" } else { "" };
        // The cursor orders by (priority, number): key is "priority:number".
        let (after_p, after_n) = f
            .cursor
            .as_ref()
            .and_then(|c| c.key.split_once(':'))
            .and_then(|(p, n)| Some((p.parse::<i64>().ok()?, n.parse::<i64>().ok()?)))
            .unwrap_or((0, 0));
        let sql = format!(
            "{SELECT} WHERE {state_list} AND ($1 IS NULL OR assignee_id = $1) AND ($5 IS NULL OR requester_id = $5) \
             AND ($6 IS NULL OR team_id = $6) {unassigned} AND (priority, number) > ($2, $3) \
             ORDER BY priority, number LIMIT $4"
        );
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(f.assignee_id)
                .bind(after_p)
                .bind(after_n)
                .bind(limit + 1)
                .bind(f.requester_id)
                .bind(f.team_id)
                .fetch_all(pool)
                .await?
        });
        Ok(page::finish(rows, limit, |r| Cursor { key: format!("{}:{}", r.priority, r.number), id: r.id })
            .map(Ticket::from))
    }

    /// Moves a ticket at `version` to `to`, recording the move (and the pending reason).
    pub async fn move_ticket(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Ticket,
        to: TicketState,
        reason: &str,
    ) -> StoreResult<Ticket> {
        self.move_ticket_with(actor, now, before, to, reason, &[]).await
    }

    /// A ticket's moves in order, as the SLA clocks read them.
    pub async fn ticket_moves(&self, id: Uuid) -> StoreResult<Vec<Moved>> {
        let rows: Vec<(i64, String)> = with_db!(self, |pool| {
            sqlx::query_as("SELECT at, to_state FROM ticket_moves WHERE ticket_id = $1 ORDER BY seq")
                .bind(id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(at, to)| Some(Moved { at: from_millis(at), to: TicketState::parse(&to)? }))
            .collect())
    }

    /// The moves of each of `ids`, in order: one query per 500 tickets for a page of the queue.
    pub async fn ticket_moves_of(&self, ids: &[Uuid]) -> StoreResult<std::collections::HashMap<Uuid, Vec<Moved>>> {
        let backend = self.backend();
        let mut out: std::collections::HashMap<Uuid, Vec<Moved>> = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT ticket_id, at, to_state FROM ticket_moves WHERE ticket_id IN ({}) ORDER BY ticket_id, seq",
                crate::dialect::placeholders(backend, chunk.len(), 1)
            );
            let rows: Vec<(Uuid, i64, String)> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            for (id, at, to) in rows {
                if let Some(to) = TicketState::parse(&to) {
                    out.entry(id).or_default().push(Moved { at: from_millis(at), to });
                }
            }
        }
        Ok(out)
    }

    /// Adds a reply or an internal note; the first public reply by someone other than the
    /// requester is the ticket's first response.
    pub async fn add_reply(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        ticket: &Ticket,
        body: &str,
        internal: bool,
        mail: Option<&sla_watch::TicketMail>,
    ) -> StoreResult<Reply> {
        let (id, at) = (Uuid::now_v7(), now.timestamp_millis());
        let responds = !internal && actor.user_id.is_some() && actor.user_id != ticket.requester_id;
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO ticket_replies (id, ticket_id, author_id, author, body, internal, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(ticket.id)
            .bind(actor.user_id)
            .bind(&actor.label)
            .bind(body)
            .bind(internal)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE tickets SET updated_at = $2, sla_check_at = $2, first_response_at = \
                 CASE WHEN $3 AND first_response_at IS NULL THEN $2 ELSE first_response_at END WHERE id = $1",
            )
            .bind(ticket.id)
            .bind(at)
            .bind(responds)
            .execute(&mut *tx)
            .await?;
            if let Some(m) = mail {
                sla_watch::insert_mail!(tx, ticket.id, m, at);
            }
            let what = if internal { "Internal note on" } else { "Replied to" };
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("ticket.reply", "ticket", Some(ticket.id), format!("{what} {}", ticket.key()))
            );
        });
        Ok(Reply {
            id,
            author_id: actor.user_id,
            author: actor.label.clone(),
            body: body.to_owned(),
            internal,
            created_at: at,
        })
    }

    /// A ticket's newest 2,000 replies and notes, oldest first.
    pub async fn ticket_replies(&self, id: Uuid) -> StoreResult<Vec<Reply>> {
        let mut rows: Vec<Reply> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, author_id, author, body, internal, created_at FROM ticket_replies \
                 WHERE ticket_id = $1 ORDER BY created_at DESC, id DESC LIMIT 2000",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        rows.reverse();
        Ok(rows)
    }
}
