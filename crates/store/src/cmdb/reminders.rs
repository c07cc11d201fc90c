//! Lifecycle reminders: their settings, the dates coming up, and queuing a digest e-mail so each
//! date is announced once per lead time whichever node gets there first.

use crate::audit::audit;
use crate::report_schedule::ReportMail;
use crate::{Db, StoreResult, with_db, write_tx};
use chrono::{DateTime, NaiveDate, Utc};
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::cmdb::reminder::ReminderSettings;
use sqlx::types::Json;
use uuid::Uuid;

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

/// The event names a reminder may carry, as `'static` strings.
fn event_name(s: &str) -> Option<&'static str> {
    ["warranty_end", "end_of_support", "end_of_life", "notice_deadline", "contract_end", "contract_renewal"]
        .into_iter()
        .find(|e| *e == s)
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

    /// Dates that entered a lead time and were not announced under it yet, earliest first, at
    /// most `limit`: warranty, support and life ends of CIs that are not retired, and contracts'
    /// notice deadlines, ends and renewals. The lead each date falls under (the smallest it is
    /// within) is computed in SQL so the announced ones are left out there, and every pass makes
    /// progress however many dates share a day.
    pub async fn unannounced_dates(
        &self,
        today: NaiveDate,
        settings: &ReminderSettings,
        limit: i64,
    ) -> StoreResult<Vec<(UpcomingDate, u32)>> {
        let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        let (from, until) = (day(today), day(settings.horizon(today)));
        // `CASE WHEN d <= 'today+7' THEN 7 WHEN d <= 'today+30' THEN 30 … END`: the literals are
        // dates and numbers this function formats, never user text.
        let lead_of = |column: &str| {
            let mut case = String::from("CASE");
            for lead in &settings.lead_days {
                let edge = today.checked_add_days(chrono::Days::new((*lead).into())).unwrap_or(NaiveDate::MAX);
                case.push_str(&format!(" WHEN {column} <= '{}' THEN {lead}", day(edge)));
            }
            case.push_str(" END");
            case
        };
        let limit = limit.clamp(1, 10_000);
        let mut out = Vec::new();
        let sources = [
            ("ci", "cis c", "c.warranty_end", "c.class", "'warranty_end'", "c.status <> 'retired'"),
            ("ci", "cis c", "c.end_of_support", "c.class", "'end_of_support'", "c.status <> 'retired'"),
            ("ci", "cis c", "c.end_of_life", "c.class", "'end_of_life'", "c.status <> 'retired'"),
            ("contract", "contracts c", "c.notice_date", "c.vendor", "'notice_deadline'", "c.notice_days > 0"),
            (
                "contract",
                "contracts c",
                "c.end_date",
                "c.vendor",
                "CASE WHEN c.auto_renew THEN 'contract_renewal' ELSE 'contract_end' END",
                "TRUE",
            ),
        ];
        for (subject, table, column, detail, event, cond) in sources {
            let lead = lead_of(column);
            let sql = format!(
                "SELECT c.id, c.name, {detail}, {event}, {column}, {lead} FROM {table} \
                 WHERE {column} >= $1 AND {column} <= $2 AND {cond} AND NOT EXISTS (\
                 SELECT 1 FROM lifecycle_reminders_sent s WHERE s.subject_id = c.id AND s.event = {event} \
                 AND s.due_date = {column} AND s.lead_days = {lead}) ORDER BY {column}, c.id LIMIT {limit}"
            );
            let rows: Vec<(Uuid, String, String, String, String, i32)> = with_db!(self, |pool| {
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&from).bind(&until).fetch_all(pool).await?
            });
            for (id, name, detail, event, date, lead) in rows {
                let (Some(date), Some(event), Ok(lead)) =
                    (super::date(&Some(date)), event_name(&event), u32::try_from(lead))
                else {
                    continue;
                };
                out.push((UpcomingDate { subject_id: id, subject, name, detail, event, date }, lead));
            }
        }
        out.sort_by(|a, b| (a.0.date, &a.0.name, a.0.subject_id).cmp(&(b.0.date, &b.0.name, b.0.subject_id)));
        out.truncate(limit as usize);
        Ok(out)
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
        // One order for every node, so two inserting overlapping keys cannot deadlock.
        let mut keys: Vec<&ReminderKey> = keys.iter().collect();
        keys.sort_by(|a, b| {
            (a.subject_id, a.event, a.date, a.lead_days).cmp(&(b.subject_id, b.event, b.date, b.lead_days))
        });
        let queued = write_tx!(self, |tx| {
            let mut taken = false;
            for k in &keys {
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
