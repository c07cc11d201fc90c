//! Scheduled reports and their e-mail outbox. Queuing a period's report is a compare-and-set on
//! `last_period` with the e-mails in the same transaction, so any number of nodes may try and
//! each period goes out once; the notifier claims the e-mails with leases.

use crate::audit::audit;
use crate::dialect::{Claim, claim_leased};
use crate::status_subscriber::DeliveryResult;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::report_schedule::{Cadence, ReportScheduleSpec};
use sqlx::types::Json;
use uuid::Uuid;

/// Schedules an instance keeps, at most.
pub const SCHEDULES_MAX: i64 = 200;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReportSchedule {
    pub id: Uuid,
    #[serde(flatten)]
    pub spec: ReportScheduleSpec,
    /// The label of the last period queued (or, for a new schedule, the one due when it was made).
    pub last_period: String,
    /// When that period began: a period is queued only if it began later.
    pub last_period_start: DateTime<Utc>,
    /// Moves with every queuing ("send now" too): the compare-and-set token.
    pub version: i64,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    cadence: String,
    recipients: Json<Vec<String>>,
    service_id: Option<Uuid>,
    last_period: String,
    last_period_start: i64,
    version: i64,
    last_sent_at: Option<i64>,
    created_at: i64,
}

impl From<Row> for ReportSchedule {
    fn from(r: Row) -> Self {
        ReportSchedule {
            id: r.id,
            spec: ReportScheduleSpec {
                name: r.name,
                cadence: Cadence::parse(&r.cadence).unwrap_or(Cadence::Monthly),
                recipients: r.recipients.0,
                service_id: r.service_id,
            },
            last_period: r.last_period,
            last_period_start: from_millis(r.last_period_start),
            version: r.version,
            last_sent_at: r.last_sent_at.map(from_millis),
            created_at: from_millis(r.created_at),
        }
    }
}

const COLS: &str =
    "id, name, cadence, recipients, service_id, last_period, last_period_start, version, last_sent_at, created_at";

/// One e-mail of a report, ready to queue.
#[derive(Debug, Clone)]
pub struct ReportMail {
    pub recipient: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// The outboxes of whole e-mails (a subject, a text and an HTML body per recipient): scheduled
/// reports and lifecycle reminder digests. Both are claimed and completed the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailOutbox {
    Reports,
    Reminders,
    /// Requests for a change's approval, with signed links.
    Changes,
    /// Ticket e-mails: SLA warnings and breaches, agents' replies to requesters (threaded).
    Tickets,
}

impl MailOutbox {
    pub const ALL: [MailOutbox; 4] =
        [MailOutbox::Reports, MailOutbox::Reminders, MailOutbox::Changes, MailOutbox::Tickets];

    fn table(self) -> &'static str {
        match self {
            MailOutbox::Reports => "report_deliveries",
            MailOutbox::Reminders => "reminder_deliveries",
            MailOutbox::Changes => "change_mails",
            MailOutbox::Tickets => "ticket_mails",
        }
    }

    /// The Message-ID prefix of its e-mails.
    pub fn as_str(self) -> &'static str {
        match self {
            MailOutbox::Reports => "report",
            MailOutbox::Reminders => "reminder",
            MailOutbox::Changes => "change",
            MailOutbox::Tickets => "ticket",
        }
    }
}

/// A claimed e-mail of a [`MailOutbox`].
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueReport {
    pub id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub html: String,
    pub body: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    /// The Message-ID this e-mail replies to (`In-Reply-To`, `References`): a ticket's thread.
    pub thread: Option<String>,
}

impl Db {
    /// `due` is the period due now (label, start), recorded as already sent so a new schedule
    /// starts with the next one (send one at once with [`Db::queue_report`]).
    pub async fn create_report_schedule(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        spec: &ReportScheduleSpec,
        due: (&str, DateTime<Utc>),
    ) -> StoreResult<ReportSchedule> {
        let id = Uuid::now_v7();
        write_tx!(self, |tx| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM report_schedules").fetch_one(&mut *tx).await?;
            if n >= SCHEDULES_MAX {
                return Err(StoreError::Conflict(format!("at most {SCHEDULES_MAX} report schedules")));
            }
            sqlx::query(
                "INSERT INTO report_schedules (id, name, cadence, recipients, service_id, last_period, \
                 last_period_start, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)",
            )
            .bind(id)
            .bind(&spec.name)
            .bind(spec.cadence.as_str())
            .bind(Json(&spec.recipients))
            .bind(spec.service_id)
            .bind(due.0)
            .bind(due.1.timestamp_millis())
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "report_schedule.create",
                    "report_schedule",
                    Some(id),
                    format!("Scheduled {}", spec.name)
                )
                .after(spec)
            );
        });
        self.get_report_schedule(id).await
    }

    pub async fn delete_report_schedule(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &ReportSchedule,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM report_schedules WHERE id = $1").bind(before.id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "report_schedule.delete",
                    "report_schedule",
                    Some(before.id),
                    format!("Deleted report schedule {}", before.spec.name)
                )
                .before(&before.spec)
            );
        });
        Ok(())
    }

    pub async fn get_report_schedule(&self, id: Uuid) -> StoreResult<ReportSchedule> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM report_schedules WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(ReportSchedule::from).ok_or(StoreError::NotFound(Entity::ReportSchedule))
    }

    pub async fn list_report_schedules(&self) -> StoreResult<Vec<ReportSchedule>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM report_schedules ORDER BY name, id LIMIT {SCHEDULES_MAX}"
            )))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(ReportSchedule::from).collect())
    }

    /// Queues a report's e-mails if the schedule is still at the `version` read and `period` (label,
    /// start) began no earlier than the last one queued; `false` when another node, an earlier
    /// pass or a second click did it first. A scheduled period must begin later (pass the last
    /// one's own label and start for a "send now"). `key` makes each e-mail unique: the period's
    /// label, or a fresh one for a "send now".
    pub async fn queue_report(
        &self,
        now: DateTime<Utc>,
        schedule: &ReportSchedule,
        period: (&str, DateTime<Utc>),
        key: &str,
        mails: &[ReportMail],
    ) -> StoreResult<bool> {
        let queued = write_tx!(self, |tx| {
            let moved = sqlx::query(
                "UPDATE report_schedules SET last_period = $1, last_period_start = $2, version = version + 1, \
                 last_sent_at = $3, updated_at = $3 WHERE id = $4 AND version = $5 AND last_period_start <= $2",
            )
            .bind(period.0)
            .bind(period.1.timestamp_millis())
            .bind(now.timestamp_millis())
            .bind(schedule.id)
            .bind(schedule.version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                false
            } else {
                for m in mails {
                    sqlx::query(
                        "INSERT INTO report_deliveries (id, schedule_id, period, recipient, subject, html, body, \
                         status, attempts, next_attempt_at, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8) \
                         ON CONFLICT (schedule_id, period, recipient) DO NOTHING",
                    )
                    .bind(Uuid::now_v7())
                    .bind(schedule.id)
                    .bind(key)
                    .bind(&m.recipient)
                    .bind(&m.subject)
                    .bind(&m.html)
                    .bind(&m.text)
                    .bind(now.timestamp_millis())
                    .execute(&mut *tx)
                    .await?;
                }
                true
            }
        });
        Ok(queued)
    }

    pub async fn claim_mail_deliveries(
        &self,
        outbox: MailOutbox,
        node: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<DueReport>> {
        let claim = Claim {
            table: outbox.table(),
            key: "id",
            due: "status = 'pending' AND next_attempt_at <= $3",
            order: "next_attempt_at",
            returning: match outbox {
                MailOutbox::Tickets => "id, recipient, subject, html, body, attempts, next_attempt_at, thread",
                _ => "id, recipient, subject, html, body, attempts, next_attempt_at, CAST(NULL AS TEXT) AS thread",
            },
            due_by: None,
        };
        Ok(claim_leased(self, &claim, node, now, lease_until, limit).await?)
    }

    /// Records send results (only for rows this node still leases).
    pub async fn complete_mail_deliveries(
        &self,
        outbox: MailOutbox,
        node: &str,
        now: i64,
        results: &[(DueReport, DeliveryResult)],
    ) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        write_tx!(self, |tx| {
            for (d, r) in results {
                let (status, next, error, sent) = match r {
                    DeliveryResult::Sent => ("sent", d.next_attempt_at, None, Some(now)),
                    DeliveryResult::Retry { error, at } => ("pending", *at, Some(error.as_str()), None),
                    DeliveryResult::Failed { error } => ("failed", d.next_attempt_at, Some(error.as_str()), None),
                };
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {} SET status = $1, attempts = $2, next_attempt_at = $3, \
                     last_error = COALESCE($4, last_error), sent_at = $5, lease_owner = NULL, lease_until = NULL \
                     WHERE id = $6 AND lease_owner = $7 AND status = 'pending'",
                    outbox.table()
                )))
                .bind(status)
                .bind(d.attempts.saturating_add(1))
                .bind(next)
                .bind(error)
                .bind(sent)
                .bind(d.id)
                .bind(node)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    /// The e-mails of a schedule, newest first: period, recipient, status, last error.
    pub async fn report_deliveries(&self, schedule_id: Uuid, limit: i64) -> StoreResult<Vec<DeliveryRow>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT period, recipient, status, last_error, sent_at, created_at FROM report_deliveries \
                 WHERE schedule_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
            )
            .bind(schedule_id)
            .bind(limit.clamp(1, 500))
            .fetch_all(pool)
            .await?
        }))
    }
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct DeliveryRow {
    pub period: String,
    pub recipient: String,
    pub status: String,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
    pub created_at: i64,
}
