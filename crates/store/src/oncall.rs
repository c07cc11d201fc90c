//! On-call configuration (schedules, overrides, escalation policies, contact methods,
//! notification rules, channels) and the two durable queues the notifier works from:
//! escalation timers and the notification outbox, both claimed with leases.

use crate::audit::audit;
use crate::dialect::{Claim, claim_leased, fixed_chunks, multi_row, placeholders};
use crate::timeline::{TimelineEntry, insert_timeline};
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
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
/// on the open transaction; nothing happens when the service has no policy.
macro_rules! start_escalation {
    ($tx:expr, $id:expr, $now:expr) => {{
        sqlx::query(
            "INSERT INTO escalations (incident_id, policy_id, level, loop_no, next_at, \
             created_at) SELECT i.id, sp.policy_id, 0, 0, $2, $2 FROM incidents i \
             JOIN service_policies sp ON sp.service_id = i.service_id WHERE i.id = $1 \
             ON CONFLICT (incident_id) DO UPDATE \
             SET level = 0, loop_no = 0, next_at = excluded.next_at, lease_owner = NULL, \
             lease_until = NULL",
        )
        .bind($id)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(crate) use start_escalation;

/// Stops incident `$id`'s escalation and cancels its pending notifications (acknowledged or
/// resolved), on the open transaction.
macro_rules! stop_escalation {
    ($tx:expr, $id:expr) => {{
        sqlx::query("DELETE FROM escalations WHERE incident_id = $1").bind($id).execute(&mut *$tx).await?;
        sqlx::query(
            "UPDATE notifications SET status = 'cancelled', lease_owner = NULL, lease_until = NULL \
                     WHERE incident_id = $1 AND status = 'pending'",
        )
        .bind($id)
        .execute(&mut *$tx)
        .await?;
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

impl Db {
    // ---- schedules --------------------------------------------------------------------------

    pub async fn create_schedule(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        spec: ScheduleSpec,
    ) -> StoreResult<Schedule> {
        let s = Schedule { id: Uuid::now_v7(), spec, feed_token: feed_token(), created_at: now, updated_at: now };
        write_tx!(self, |tx| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schedules").fetch_one(&mut *tx).await?;
            if n >= MAX_SCHEDULES {
                return Err(StoreError::Conflict(format!("at most {MAX_SCHEDULES} schedules")));
            }
            sqlx::query(
                "INSERT INTO schedules (id, name, description, timezone, team_id, layers, \
                 feed_token, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(s.id)
            .bind(&s.spec.name)
            .bind(&s.spec.description)
            .bind(&s.spec.timezone)
            .bind(s.spec.team_id)
            .bind(Json(&s.spec.layers))
            .bind(&s.feed_token)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "schedule.create",
                    "schedule",
                    Some(s.id),
                    format!("Created schedule {}", s.spec.name)
                )
                .after(&s.spec)
            );
        });
        Ok(s)
    }

    pub async fn get_schedule(&self, id: Uuid) -> StoreResult<Schedule> {
        let row: Option<ScheduleRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Schedule::from).ok_or(StoreError::NotFound(Entity::Schedule))
    }

    pub async fn list_schedules(&self) -> StoreResult<Vec<Schedule>> {
        let rows: Vec<ScheduleRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {SCHEDULE_COLS} FROM schedules ORDER BY name, id LIMIT $1"
            )))
            .bind(MAX_SCHEDULES)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Schedule::from).collect())
    }

    pub async fn update_schedule(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        spec: ScheduleSpec,
    ) -> StoreResult<Schedule> {
        let before = self.get_schedule(id).await?;
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE schedules SET name = $1, description = $2, timezone = $3, team_id = $4, \
                 layers = $5, updated_at = $6 WHERE id = $7",
            )
            .bind(&spec.name)
            .bind(&spec.description)
            .bind(&spec.timezone)
            .bind(spec.team_id)
            .bind(Json(&spec.layers))
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("schedule.update", "schedule", Some(id), format!("Changed schedule {}", spec.name))
                    .before(&before.spec)
                    .after(&spec)
            );
        });
        Ok(Schedule { spec, updated_at: now, ..before })
    }

    pub async fn delete_schedule(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_schedule(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM schedules WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "schedule.delete",
                    "schedule",
                    Some(id),
                    format!("Deleted schedule {}", before.spec.name)
                )
                .before(&before.spec)
            );
        });
        Ok(())
    }

    pub async fn schedule_by_feed_token(&self, token: &str) -> StoreResult<Schedule> {
        let row: Option<ScheduleRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE feed_token = $1")))
                .bind(token)
                .fetch_optional(pool)
                .await?
        });
        row.map(Schedule::from).ok_or(StoreError::NotFound(Entity::Schedule))
    }

    pub async fn add_override(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        schedule_id: Uuid,
        user_id: Uuid,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> StoreResult<Override> {
        let o = Override { id: Uuid::now_v7(), user_id, start, end };
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO schedule_overrides (id, schedule_id, user_id, starts_at, ends_at, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(o.id)
            .bind(schedule_id)
            .bind(user_id)
            .bind(start.timestamp_millis())
            .bind(end.timestamp_millis())
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("schedule.override", "schedule", Some(schedule_id), "Added an override".to_string())
                    .after(&o)
            );
        });
        Ok(o)
    }

    /// Overrides of a schedule that overlap `[from, to)`, oldest first (later ones win).
    pub async fn overrides(
        &self,
        schedule_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Override>> {
        let rows: Vec<(Uuid, Uuid, i64, i64)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, starts_at, ends_at FROM schedule_overrides \
                 WHERE schedule_id = $1 AND ends_at > $2 AND starts_at < $3 \
                 ORDER BY created_at, id LIMIT 1000",
            )
            .bind(schedule_id)
            .bind(from.timestamp_millis())
            .bind(to.timestamp_millis())
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, user_id, s, e)| Override { id, user_id, start: from_millis(s), end: from_millis(e) })
            .collect())
    }

    pub async fn delete_override(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        schedule_id: Uuid,
        id: Uuid,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            let n = sqlx::query("DELETE FROM schedule_overrides WHERE id = $1 AND schedule_id = $2")
                .bind(id)
                .bind(schedule_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(Entity::Override));
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "schedule.override_delete",
                    "schedule",
                    Some(schedule_id),
                    "Removed an override".to_string()
                )
            );
        });
        Ok(())
    }

    // ---- escalation policies ----------------------------------------------------------------

    pub async fn create_policy(&self, actor: &Actor, now: DateTime<Utc>, spec: PolicySpec) -> StoreResult<Policy> {
        let p = Policy { id: Uuid::now_v7(), spec, created_at: now, updated_at: now };
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO escalation_policies (id, name, description, loops, levels, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(p.id)
            .bind(&p.spec.name)
            .bind(&p.spec.description)
            .bind(p.spec.loops as i32)
            .bind(Json(&p.spec.levels))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "policy.create",
                    "escalation_policy",
                    Some(p.id),
                    format!("Created escalation policy {}", p.spec.name)
                )
                .after(&p.spec)
            );
        });
        Ok(p)
    }

    pub async fn get_policy(&self, id: Uuid) -> StoreResult<Policy> {
        let row: Option<PolicyRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, description, loops, levels, created_at, updated_at \
                 FROM escalation_policies WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(Policy::from).ok_or(StoreError::NotFound(Entity::EscalationPolicy))
    }

    pub async fn list_policies(&self) -> StoreResult<Vec<Policy>> {
        let rows: Vec<PolicyRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, description, loops, levels, created_at, updated_at \
                 FROM escalation_policies ORDER BY name, id LIMIT 500",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Policy::from).collect())
    }

    pub async fn update_policy(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        spec: PolicySpec,
    ) -> StoreResult<Policy> {
        let before = self.get_policy(id).await?;
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE escalation_policies SET name = $1, description = $2, loops = $3, levels = \
                 $4, updated_at = $5 WHERE id = $6",
            )
            .bind(&spec.name)
            .bind(&spec.description)
            .bind(spec.loops as i32)
            .bind(Json(&spec.levels))
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "policy.update",
                    "escalation_policy",
                    Some(id),
                    format!("Changed escalation policy {}", spec.name)
                )
                .before(&before.spec)
                .after(&spec)
            );
        });
        Ok(Policy { spec, updated_at: now, ..before })
    }

    pub async fn delete_policy(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_policy(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM escalation_policies WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "policy.delete",
                    "escalation_policy",
                    Some(id),
                    format!("Deleted escalation policy {}", before.spec.name)
                )
                .before(&before.spec)
            );
        });
        Ok(())
    }

    /// Sets (or clears) the escalation policy of a service.
    pub async fn set_service_policy(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        service_id: Uuid,
        policy_id: Option<Uuid>,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            match policy_id {
                Some(p) => {
                    sqlx::query(
                        "INSERT INTO service_policies (service_id, policy_id) VALUES ($1, $2) \
                                 ON CONFLICT (service_id) DO UPDATE SET policy_id = excluded.policy_id",
                    )
                    .bind(service_id)
                    .bind(p)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM service_policies WHERE service_id = $1")
                        .bind(service_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "service.escalation_policy",
                    "service",
                    Some(service_id),
                    "Changed the escalation policy".to_string()
                )
                .after(policy_id)
            );
        });
        Ok(())
    }

    pub async fn service_policy(&self, service_id: Uuid) -> StoreResult<Option<Uuid>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT policy_id FROM service_policies WHERE service_id = $1")
                .bind(service_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Schedules owned by a team.
    pub async fn team_schedule_ids(&self, team_id: Uuid) -> StoreResult<Vec<Uuid>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM schedules WHERE team_id = $1 ORDER BY name LIMIT 50")
                .bind(team_id)
                .fetch_all(pool)
                .await?
        }))
    }

    // ---- contact methods and rules -----------------------------------------------------------

    pub async fn add_contact_method(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        user_id: Uuid,
        kind: ChannelKind,
        address: &str,
        label: &str,
    ) -> StoreResult<ContactMethod> {
        let c = ContactMethod {
            id: Uuid::now_v7(),
            user_id,
            kind: kind.as_str().into(),
            address: address.into(),
            label: label.into(),
        };
        write_tx!(self, |tx| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contact_methods WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
            if n >= 20 {
                return Err(StoreError::Conflict("at most 20 contact methods per person".into()));
            }
            sqlx::query(
                "INSERT INTO contact_methods (id, user_id, kind, address, label, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(c.id)
            .bind(user_id)
            .bind(&c.kind)
            .bind(&c.address)
            .bind(&c.label)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("contact.create", "user", Some(user_id), format!("Added a {} contact method", c.kind))
                    .after(&c)
            );
        });
        Ok(c)
    }

    pub async fn contact_methods(&self, user_id: Uuid) -> StoreResult<Vec<ContactMethod>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, kind, address, label FROM contact_methods \
                 WHERE user_id = $1 ORDER BY created_at, id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn delete_contact_method(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        user_id: Uuid,
        id: Uuid,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            let n = sqlx::query("DELETE FROM contact_methods WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(Entity::ContactMethod));
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("contact.delete", "user", Some(user_id), "Removed a contact method".to_string())
            );
        });
        Ok(())
    }

    pub async fn add_notification_rule(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        user_id: Uuid,
        contact_method_id: Uuid,
        delay_minutes: i32,
    ) -> StoreResult<NotificationRule> {
        let r = NotificationRule { id: Uuid::now_v7(), user_id, contact_method_id, delay_minutes };
        write_tx!(self, |tx| {
            let owner: Option<Uuid> = sqlx::query_scalar("SELECT user_id FROM contact_methods WHERE id = $1")
                .bind(contact_method_id)
                .fetch_optional(&mut *tx)
                .await?;
            if owner != Some(user_id) {
                return Err(opsdeck_core::Error::invalid(
                    "contact_method_id",
                    "name one of this person's contact methods",
                )
                .into());
            }
            sqlx::query(
                "INSERT INTO notification_rules (id, user_id, contact_method_id, delay_minutes, \
                 created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(r.id)
            .bind(user_id)
            .bind(contact_method_id)
            .bind(delay_minutes)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "contact.rule",
                    "user",
                    Some(user_id),
                    format!("Added a notification rule ({} min)", delay_minutes)
                )
                .after(&r)
            );
        });
        Ok(r)
    }

    pub async fn notification_rules(&self, user_id: Uuid) -> StoreResult<Vec<NotificationRule>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, contact_method_id, delay_minutes FROM notification_rules \
                 WHERE user_id = $1 ORDER BY delay_minutes, id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn delete_notification_rule(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        user_id: Uuid,
        id: Uuid,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            let n = sqlx::query("DELETE FROM notification_rules WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(Entity::NotificationRule));
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "contact.rule_delete",
                    "user",
                    Some(user_id),
                    "Removed a notification rule".to_string()
                )
            );
        });
        Ok(())
    }

    // ---- channels -----------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub async fn create_channel(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        name: &str,
        kind: ChannelKind,
        config: ChannelConfig,
        service_id: Option<Uuid>,
        team_id: Option<Uuid>,
    ) -> StoreResult<Channel> {
        let c = Channel { id: Uuid::now_v7(), name: name.into(), kind, config, service_id, team_id };
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO channels (id, name, kind, config, service_id, team_id, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(c.id)
            .bind(&c.name)
            .bind(kind.as_str())
            .bind(Json(&c.config))
            .bind(service_id)
            .bind(team_id)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "channel.create",
                    "channel",
                    Some(c.id),
                    format!("Created {} channel {}", kind.as_str(), c.name)
                )
            );
        });
        Ok(c)
    }

    pub async fn get_channel(&self, id: Uuid) -> StoreResult<Channel> {
        let row: Option<ChannelRow> = with_db!(self, |pool| {
            sqlx::query_as("SELECT id, name, kind, config, service_id, team_id FROM channels WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Channel::from).ok_or(StoreError::NotFound(Entity::Channel))
    }

    pub async fn list_channels(&self, service_id: Option<Uuid>) -> StoreResult<Vec<Channel>> {
        let rows: Vec<ChannelRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, kind, config, service_id, team_id FROM channels \
                 WHERE ($1 IS NULL OR service_id = $1) ORDER BY name, id LIMIT 500",
            )
            .bind(service_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Channel::from).collect())
    }

    /// The channels that announce a service's incidents: its own, and its owning team's.
    pub async fn channels_for(&self, service_id: Uuid, team_id: Option<Uuid>) -> StoreResult<Vec<Channel>> {
        let rows: Vec<ChannelRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, kind, config, service_id, team_id FROM channels \
                 WHERE service_id = $1 OR ($2 IS NOT NULL AND team_id = $2 \
                 AND service_id IS NULL) ORDER BY name, id LIMIT 100",
            )
            .bind(service_id)
            .bind(team_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Channel::from).collect())
    }

    pub async fn delete_channel(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_channel(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM channels WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("channel.delete", "channel", Some(id), format!("Deleted channel {}", before.name))
            );
        });
        Ok(())
    }

    // ---- the escalation queue -----------------------------------------------------------------

    /// Leases due escalations to `node` until `lease_until`.
    pub async fn claim_due_escalations(
        &self,
        node: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<DueEscalation>> {
        let claim = Claim {
            table: "escalations",
            key: "incident_id",
            due: "next_at <= $3",
            order: "next_at",
            returning: "incident_id, policy_id, level, loop_no, next_at",
        };
        Ok(claim_leased(self, &claim, node, now, lease_until, limit).await?)
    }

    /// Stores what the notifier decided for leased escalations: their notifications (once per
    /// idempotency key), the next level or the end, and a timeline line. A step whose lease was
    /// lost (acknowledged meanwhile, or another node took it) is dropped whole.
    pub async fn complete_escalations(&self, node: &str, now: i64, steps: &[EscalationStep]) -> StoreResult<usize> {
        if steps.is_empty() {
            return Ok(0);
        }
        let backend = self.backend();
        let done;
        write_tx!(self, |tx| {
            let mut kept: Vec<&EscalationStep> = Vec::with_capacity(steps.len());
            for s in steps {
                let n = match s.next {
                    Some((level, loop_no, at)) => sqlx::query(
                        "UPDATE escalations SET level = $1, loop_no = $2, next_at = $3, lease_owner = NULL, \
                         lease_until = NULL WHERE incident_id = $4 AND lease_owner = $5",
                    )
                    .bind(level)
                    .bind(loop_no)
                    .bind(at)
                    .bind(s.incident_id)
                    .bind(node)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                    None => sqlx::query("DELETE FROM escalations WHERE incident_id = $1 AND lease_owner = $2")
                        .bind(s.incident_id)
                        .bind(node)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                };
                if n > 0 {
                    kept.push(s);
                }
            }
            let rows: Vec<&NewNotification> = kept.iter().flat_map(|s| s.notifications.iter()).collect();
            insert_notifications!(tx, backend, now, rows);
            let notes: Vec<(Uuid, &str)> =
                kept.iter().filter(|s| !s.note.is_empty()).map(|s| (s.incident_id, s.note.as_str())).collect();
            let notes = notes.iter().map(|(inc, body)| {
                TimelineEntry::new(*inc, now, opsdeck_core::incident::kind::ESCALATED, "escalation", *body)
            });
            insert_timeline!(tx, backend, notes.collect());
            done = kept.len();
        });
        Ok(done)
    }

    /// Queues notifications directly (broadcast channels, test notifications).
    pub async fn queue_notifications(&self, now: i64, rows: &[NewNotification]) -> StoreResult<()> {
        let backend = self.backend();
        let rows: Vec<&NewNotification> = rows.iter().collect();
        write_tx!(self, |tx| {
            insert_notifications!(tx, backend, now, rows);
        });
        Ok(())
    }

    // ---- the outbox ---------------------------------------------------------------------------

    /// Leases due notifications to `node` until `lease_until`.
    pub async fn claim_due_notifications(
        &self,
        node: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<DueNotification>> {
        let claim = Claim {
            table: "notifications",
            key: "id",
            due: "status = 'pending' AND next_attempt_at <= $3",
            order: "next_attempt_at",
            returning: "id, incident_id, idempotency_key, level, user_id, channel, target, address, config, \
                        attempts, next_attempt_at",
        };
        Ok(claim_leased(self, &claim, node, now, lease_until, limit).await?)
    }

    /// Records send results in one transaction (only for rows this node still leases); a
    /// notification given up is noted on its incident's timeline.
    #[allow(clippy::type_complexity)]
    pub async fn complete_notifications(
        &self,
        node: &str,
        now: i64,
        results: &[(DueNotification, SendResult)],
    ) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        let backend = self.backend();
        write_tx!(self, |tx| {
            let rows: Vec<(Uuid, &'static str, i32, i64, Option<&str>, Option<i64>)> = results
                .iter()
                .map(|(n, r)| match r {
                    SendResult::Sent => (n.id, "sent", n.attempts + 1, n.next_attempt_at, None, Some(now)),
                    SendResult::Retry { error, at } => {
                        (n.id, "pending", n.attempts + 1, *at, Some(error.as_str()), None)
                    }
                    SendResult::Failed { error } => {
                        (n.id, "failed", n.attempts + 1, n.next_attempt_at, Some(error.as_str()), None)
                    }
                })
                .collect();
            for chunk in fixed_chunks(&rows) {
                let sql = multi_row(
                    backend,
                    "WITH v (id, status, attempts, next_attempt_at, last_error, sent_at) AS (VALUES ",
                    6,
                    chunk.len(),
                    ") UPDATE notifications SET status = v.status, attempts = v.attempts, \
                     next_attempt_at = v.next_attempt_at, last_error = COALESCE(v.last_error, \
                     notifications.last_error), sent_at = v.sent_at, lease_owner = NULL, lease_until = \
                     NULL FROM v WHERE notifications.id = v.id AND notifications.lease_owner = $NODE \
                     AND notifications.status = 'pending'",
                );
                let sql = sql.replace("$NODE", &placeholders(backend, 1, chunk.len() * 6 + 1));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id, status, attempts, next, err, sent) in chunk {
                    q = q.bind(*id).bind(*status).bind(*attempts).bind(*next).bind(*err).bind(*sent);
                }
                q.bind(node).execute(&mut *tx).await?;
            }
            let failed: Vec<(Uuid, String)> = results
                .iter()
                .filter_map(|(n, r)| match r {
                    SendResult::Failed { error } => Some((
                        n.incident_id,
                        format!(
                            "Notification to {} via {} failed after {} attempts: {error}",
                            n.target,
                            n.channel,
                            n.attempts + 1
                        ),
                    )),
                    _ => None,
                })
                .collect();
            let failed = failed
                .into_iter()
                .map(|(inc, body)| TimelineEntry::new(inc, now, "notification_failed", "notifier", body));
            insert_timeline!(tx, backend, failed.collect());
        });
        Ok(())
    }

    /// An incident's delivery log, oldest first.
    pub async fn deliveries(&self, incident_id: Uuid) -> StoreResult<Vec<Delivery>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, level, channel, target, status, attempts, last_error, next_attempt_at, sent_at, created_at \
                            FROM notifications WHERE incident_id = $1 ORDER BY created_at, id LIMIT 1000",
            )
            .bind(incident_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The key that signs action links in messages (created on first use).
    pub async fn signing_key(&self) -> StoreResult<Vec<u8>> {
        const KEY: &str = "link_signing_key";
        let fresh = serde_json::Value::String(opsdeck_core::secret::generate(""));
        with_db!(self, |pool| {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, 0) ON CONFLICT (key) DO NOTHING",
            )
            .bind(KEY)
            .bind(fresh.to_string())
            .execute(pool)
            .await?;
        });
        let v = self.get_setting(KEY).await?.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        Ok(v.into_bytes())
    }

    /// What messages say about incidents, for many at once: (id, number, title, status,
    /// severity, service id, service name, runbook).
    pub async fn incident_briefs(&self, ids: &[Uuid]) -> StoreResult<Vec<IncidentBrief>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in fixed_chunks(ids) {
            let sql = format!(
                "SELECT i.id, i.number, i.title, i.status, i.severity, i.service_id, s.name AS \
                 service_name, s.runbook_url, s.team_id FROM incidents i LEFT \
                 JOIN services s ON s.id = i.service_id WHERE i.id IN ({})",
                placeholders(self.backend(), chunk.len(), 1)
            );
            let rows: Vec<IncidentBrief> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// Users by id: (id, username, display name).
    pub async fn user_names(&self, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, username, display_name FROM users WHERE id IN ({}) AND NOT disabled",
            placeholders(self.backend(), ids.len(), 1)
        );
        Ok(with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        }))
    }
}

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
