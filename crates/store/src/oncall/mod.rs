//! On-call configuration (schedules, overrides, escalation policies, contact methods,
//! notification rules, channels) and the two durable queues the notifier works from:
//! escalation timers and the notification outbox, both claimed with leases.

use crate::audit::audit;
use crate::dialect::{Claim, claim_leased, fixed_chunks, multi_row, placeholders};
use crate::stmt::{Stmt, WriteTx};
use crate::timeline::{TimelineEntry, insert_timeline};
use crate::{Db, StoreError, StoreResult, with_db, with_writer, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::escalation::{ChannelConfig, ChannelKind, Level, PolicySpec};
use opsdeck_core::oncall::{Layer, Override, ScheduleSpec};
pub use sqlx::types::Json;
use uuid::Uuid;

/// Inserts notification rows on the open transaction, skipping idempotency keys already queued.
macro_rules! insert_notifications {
    ($tx:expr, $backend:expr, $now:expr, $rows:expr) => {{
        for chunk in fixed_chunks(&$rows) {
            let sql = multi_row(
                $backend,
                "INSERT INTO notifications (id, incident_id, idempotency_key, level, user_id, \
                 contact_method_id, channel_id, channel, target, address, config, status, attempts, \
                 next_attempt_at, created_at) VALUES ",
                15,
                chunk.len(),
                " ON CONFLICT (idempotency_key) DO NOTHING",
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for n in chunk {
                q = q
                    .bind(Uuid::now_v7())
                    .bind(n.incident_id)
                    .bind(&n.idempotency_key)
                    .bind(n.level)
                    .bind(n.user_id)
                    .bind(n.contact_method_id)
                    .bind(n.channel_id)
                    .bind(n.channel.as_str())
                    .bind(&n.target)
                    .bind(&n.address)
                    .bind(Json(&n.config))
                    .bind("pending")
                    .bind(0i32)
                    .bind(n.due_at)
                    .bind($now);
            }
            q.execute(&mut *$tx).await?;
        }
    }};
}

/// Starts (or restarts at level 0) the escalation of incident `$id` under its service's policy,
/// on the open transaction, as a new round; nothing is queued when the service has no policy.
macro_rules! start_escalation {
    ($tx:expr, $id:expr, $now:expr) => {{
        sqlx::query($crate::oncall::ESCALATION_ROUND_SQL).bind($id).execute(&mut *$tx).await?;
        sqlx::query($crate::oncall::ESCALATION_START_SQL).bind($id).bind($now).execute(&mut *$tx).await?;
    }};
}
pub(crate) use start_escalation;

pub(crate) const ESCALATION_ROUND_SQL: &str =
    "UPDATE incidents SET escalation_round = escalation_round + 1 WHERE id = $1";
pub(crate) const ESCALATION_START_SQL: &str = "INSERT INTO escalations (incident_id, policy_id, level, loop_no, \
    round, next_at, created_at) SELECT i.id, sp.policy_id, 0, 0, i.escalation_round, $2, $2 FROM incidents i \
    JOIN service_policies sp ON sp.service_id = i.service_id WHERE i.id = $1 ON CONFLICT (incident_id) DO UPDATE \
    SET level = 0, loop_no = 0, round = excluded.round, next_at = excluded.next_at, lease_owner = NULL, \
    lease_until = NULL";
pub(crate) const ESCALATION_STOP_SQL: &str = "DELETE FROM escalations WHERE incident_id = $1";
pub(crate) const NOTIFICATIONS_CANCEL_SQL: &str = "UPDATE notifications SET status = 'cancelled', \
    lease_owner = NULL, lease_until = NULL WHERE incident_id = $1 AND status = 'pending'";

/// As [`start_escalation!`], on a [`WriteTx`] (the ingest batch).
pub(crate) async fn start_escalation_on<T: WriteTx>(tx: &mut T, id: Uuid, now: i64) -> crate::StoreResult<()> {
    tx.execute(Stmt::new(ESCALATION_ROUND_SQL).bind(id)).await?;
    tx.execute(Stmt::new(ESCALATION_START_SQL).bind(id).bind(now)).await?;
    Ok(())
}

/// As [`stop_escalation!`], on a [`WriteTx`] (the ingest batch).
pub(crate) async fn stop_escalation_on<T: WriteTx>(tx: &mut T, id: Uuid) -> crate::StoreResult<()> {
    tx.execute(Stmt::new(ESCALATION_STOP_SQL).bind(id)).await?;
    tx.execute(Stmt::new(NOTIFICATIONS_CANCEL_SQL).bind(id)).await?;
    Ok(())
}

/// Stops incident `$id`'s escalation and cancels its pending notifications (acknowledged or
/// resolved), on the open transaction.
macro_rules! stop_escalation {
    ($tx:expr, $id:expr) => {{
        sqlx::query($crate::oncall::ESCALATION_STOP_SQL).bind($id).execute(&mut *$tx).await?;
        sqlx::query($crate::oncall::NOTIFICATIONS_CANCEL_SQL).bind($id).execute(&mut *$tx).await?;
    }};
}
pub(crate) use stop_escalation;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Schedule {
    pub id: Uuid,
    #[serde(flatten)]
    pub spec: ScheduleSpec,
    /// Secret for the iCalendar feed URL.
    #[serde(skip)]
    pub feed_token: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: Uuid,
    name: String,
    description: String,
    timezone: String,
    team_id: Option<Uuid>,
    layers: Json<Vec<Layer>>,
    feed_token: String,
    created_at: i64,
    updated_at: i64,
}

impl From<ScheduleRow> for Schedule {
    fn from(r: ScheduleRow) -> Self {
        Schedule {
            id: r.id,
            spec: ScheduleSpec {
                name: r.name,
                description: r.description,
                timezone: r.timezone,
                team_id: r.team_id,
                layers: r.layers.0,
            },
            feed_token: r.feed_token,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const SCHEDULE_COLS: &str = "id, name, description, timezone, team_id, layers, feed_token, created_at, updated_at";

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Policy {
    pub id: Uuid,
    #[serde(flatten)]
    pub spec: PolicySpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: Uuid,
    name: String,
    description: String,
    loops: i32,
    levels: Json<Vec<Level>>,
    created_at: i64,
    updated_at: i64,
}

impl From<PolicyRow> for Policy {
    fn from(r: PolicyRow) -> Self {
        Policy {
            id: r.id,
            spec: PolicySpec {
                name: r.name,
                description: r.description,
                loops: r.loops.max(1) as u32,
                levels: r.levels.0,
            },
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct ContactMethod {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub address: String,
    pub label: String,
}

impl ContactMethod {
    /// For the audit log: a webhook address is a credential, an e-mail address is not.
    pub fn redacted(&self) -> ContactMethod {
        let address =
            if self.kind == "email" { self.address.clone() } else { opsdeck_core::secret::redact_url(&self.address) };
        ContactMethod { address, ..self.clone() }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct NotificationRule {
    pub id: Uuid,
    pub user_id: Uuid,
    pub contact_method_id: Uuid,
    pub delay_minutes: i32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Channel {
    pub id: Uuid,
    pub name: String,
    pub kind: ChannelKind,
    pub config: ChannelConfig,
    pub service_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: Uuid,
    name: String,
    kind: String,
    config: Json<ChannelConfig>,
    service_id: Option<Uuid>,
    team_id: Option<Uuid>,
}

impl From<ChannelRow> for Channel {
    fn from(r: ChannelRow) -> Self {
        Channel {
            id: r.id,
            name: r.name,
            kind: ChannelKind::parse(&r.kind).unwrap_or(ChannelKind::Webhook),
            config: r.config.0,
            service_id: r.service_id,
            team_id: r.team_id,
        }
    }
}

/// An escalation whose next level is due, leased to one node.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DueEscalation {
    pub incident_id: Uuid,
    pub policy_id: Uuid,
    pub level: i32,
    pub loop_no: i32,
    /// Which (re)start of the incident's escalation this is; part of every idempotency key.
    pub round: i32,
    pub next_at: i64,
}

/// A notification to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    pub incident_id: Uuid,
    pub idempotency_key: String,
    pub level: i32,
    pub user_id: Option<Uuid>,
    pub contact_method_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
    pub channel: ChannelKind,
    /// Who, for people: "alice (email)".
    pub target: String,
    pub address: String,
    pub config: ChannelConfig,
    pub due_at: i64,
}

/// What became of a due escalation.
#[derive(Debug, Clone, PartialEq)]
pub struct EscalationStep {
    pub incident_id: Uuid,
    pub notifications: Vec<NewNotification>,
    /// The next (level, loop, due time), or `None` when the policy is exhausted.
    pub next: Option<(i32, i32, i64)>,
    /// A timeline line for the incident.
    pub note: String,
}

/// A notification leased for sending.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DueNotification {
    pub id: Uuid,
    pub incident_id: Uuid,
    pub idempotency_key: String,
    pub level: i32,
    pub user_id: Option<Uuid>,
    pub channel: String,
    pub target: String,
    pub address: String,
    pub config: Json<ChannelConfig>,
    pub attempts: i32,
    pub next_attempt_at: i64,
}

/// One row of an incident's delivery log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub level: i32,
    pub channel: String,
    pub target: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: i64,
    pub sent_at: Option<i64>,
    pub created_at: i64,
}

/// The outcome of one send.
#[derive(Debug, Clone, PartialEq)]
pub enum SendResult {
    Sent,
    /// Retry at the given time.
    Retry {
        error: String,
        at: i64,
    },
    /// Give up.
    Failed {
        error: String,
    },
}

pub const MAX_SCHEDULES: i64 = 500;

fn feed_token() -> String {
    opsdeck_core::secret::generate("cal_")
}

mod channel;
mod contact;
mod policy;
mod queue;
mod schedule;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct IncidentBrief {
    pub id: Uuid,
    pub number: i64,
    pub title: String,
    pub status: String,
    pub severity: String,
    pub service_id: Option<Uuid>,
    pub service_name: Option<String>,
    pub runbook_url: Option<String>,
    pub team_id: Option<Uuid>,
}
