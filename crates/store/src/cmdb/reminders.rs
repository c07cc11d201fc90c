//! Lifecycle reminders: their settings, the dates coming up, and queuing a digest e-mail so each
//! date is announced once per lead time whichever node gets there first.

use crate::audit::audit;
use crate::report_schedule::ReportMail;
use crate::{Db, StoreResult, with_db, write_tx};
use chrono::{DateTime, NaiveDate, Utc};
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::cmdb::reminder::ReminderSettings;
use sqlx::types::Json;
use std::collections::HashSet;
use uuid::Uuid;

/// Dates read per pass and kind of date, at most; the rest come on the next pass.
const CANDIDATES_MAX: i64 = 2000;
/// Queued reminders are remembered this many days after their date.
const KEEP_DAYS: u64 = 30;

/// A date coming up: a CI's warranty, support or life ending, or a contract's notice deadline,
/// end or renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpcomingDate {
    pub subject_id: Uuid,
    /// `ci` or `contract`.
    pub subject: &'static str,
    pub name: String,
    /// The CI's class, or the contract's vendor.
    pub detail: String,
    /// `warranty_end`, `end_of_support`, `end_of_life`, `notice_deadline`, `contract_end` or
    /// `contract_renewal`.
    pub event: &'static str,
    pub date: NaiveDate,
}

/// One reminder: a date under one lead time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReminderKey {
    pub subject_id: Uuid,
    pub event: &'static str,
    pub date: NaiveDate,
    pub lead_days: u32,
}

impl Db {
    /// The reminder settings; nobody is reminded until recipients are set.
    pub async fn reminder_settings(&self) -> StoreResult<ReminderSettings> {
        type Row = (Json<Vec<String>>, Json<Vec<u32>>);
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as("SELECT recipients, lead_days FROM lifecycle_reminder_settings WHERE id = 1")
                .fetch_optional(pool)
                .await?
        });
        Ok(match row {
            Some((r, l)) if !l.0.is_empty() => ReminderSettings { recipients: r.0, lead_days: l.0 },
            _ => ReminderSettings::default(),
        })
    }

    pub async fn save_reminder_settings(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        settings: &ReminderSettings,
    ) -> StoreResult<ReminderSettings> {
        let before = self.reminder_settings().await?;
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO lifecycle_reminder_settings (id, recipients, lead_days, updated_at) \
                 VALUES (1, $1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET recipients = $1, lead_days = $2, updated_at = $3",
            )
            .bind(Json(&settings.recipients))
            .bind(Json(&settings.lead_days))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            let summary = format!("Lifecycle reminders go to {} recipient(s)", settings.recipients.len());
            let record = AuditRecord::new("lifecycle_reminders.update", "settings", None, summary)
                .before(&before)
                .after(settings);
            audit!(tx, actor, now, record);
        });
        Ok(settings.clone())
    }

    /// The dates from `from` to `until`: of CIs that are not retired, and of contracts.
    pub async fn upcoming_dates(&self, from: NaiveDate, until: NaiveDate) -> StoreResult<Vec<UpcomingDate>> {
        let (from_text, until_text) = (from.format("%Y-%m-%d").to_string(), until.format("%Y-%m-%d").to_string());
        let mut out = Vec::new();
        for (event, column) in
            [("warranty_end", "warranty_end"), ("end_of_support", "end_of_support"), ("end_of_life", "end_of_life")]
        {
            let sql = format!(
                "SELECT id, name, class, {column} FROM cis WHERE {column} >= $1 AND {column} <= $2 \
                 AND status <> 'retired' ORDER BY {column}, id LIMIT {CANDIDATES_MAX}"
            );
            let rows: Vec<(Uuid, String, String, String)> = with_db!(self, |pool| {
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&from_text).bind(&until_text).fetch_all(pool).await?
            });
            out.extend(rows.into_iter().filter_map(|(id, name, class, d)| {
                Some(UpcomingDate {
                    subject_id: id,
                    subject: "ci",
                    name,
                    detail: class,
                    event,
                    date: super::date(&Some(d))?,
                })
            }));
        }
        for (c, event, date) in self.contracts_due(Some(from), until, CANDIDATES_MAX).await? {
            out.push(UpcomingDate {
                subject_id: c.id,
                subject: "contract",
                name: c.name,
                detail: c.vendor,
                event: event.as_str(),
                date,
            });
        }
        out.sort_by(|a, b| (a.date, &a.name).cmp(&(b.date, &b.name)));
        Ok(out)
    }

    /// The reminders already queued for dates from `from` on.
    pub async fn reminders_queued(&self, from: NaiveDate) -> StoreResult<HashSet<(Uuid, String, String, i64)>> {
        let rows: Vec<(Uuid, String, String, i64)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT subject_id, event, due_date, CAST(lead_days AS BIGINT) FROM lifecycle_reminders_sent \
                 WHERE due_date >= $1",
            )
            .bind(from.format("%Y-%m-%d").to_string())
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Records `keys` as queued and queues `mails`, in one transaction; `false` (nothing written)
    /// when another node queued any of them first. Forgets reminders of dates long past.
    pub async fn queue_reminders(
        &self,
        now: DateTime<Utc>,
        keys: &[ReminderKey],
        mails: &[ReportMail],
    ) -> StoreResult<bool> {
        let at = now.timestamp_millis();
        let forget = now
            .date_naive()
            .checked_sub_days(chrono::Days::new(KEEP_DAYS))
            .unwrap_or(NaiveDate::MIN)
            .format("%Y-%m-%d")
            .to_string();
        let queued = write_tx!(self, |tx| {
            let mut taken = false;
            for k in keys {
                let done = sqlx::query(
                    "INSERT INTO lifecycle_reminders_sent (subject_id, event, due_date, lead_days, queued_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(k.subject_id)
                .bind(k.event)
                .bind(k.date.format("%Y-%m-%d").to_string())
                .bind(k.lead_days as i32)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    taken = true;
                    break;
                }
            }
            if taken {
                // Dropping the transaction rolls it back: the other node's digest has these.
                return Ok(false);
            }
            for m in mails {
                sqlx::query(
                    "INSERT INTO reminder_deliveries (id, recipient, subject, html, body, status, attempts, \
                     next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
                )
                .bind(Uuid::now_v7())
                .bind(&m.recipient)
                .bind(&m.subject)
                .bind(&m.html)
                .bind(&m.text)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("DELETE FROM lifecycle_reminders_sent WHERE due_date < $1")
                .bind(&forget)
                .execute(&mut *tx)
                .await?;
            true
        });
        Ok(queued)
    }

    /// The newest reminder e-mails: recipient, subject, status, last error, when sent and queued.
    pub async fn reminder_deliveries(&self, limit: i64) -> StoreResult<Vec<ReminderDelivery>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT recipient, subject, status, last_error, sent_at, created_at FROM reminder_deliveries \
                 ORDER BY created_at DESC, id DESC LIMIT $1",
            )
            .bind(limit.clamp(1, 200))
            .fetch_all(pool)
            .await?
        }))
    }
}

/// A reminder e-mail as the lifecycle page lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct ReminderDelivery {
    pub recipient: String,
    pub subject: String,
    pub status: String,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
    pub created_at: i64,
}
