//! The change lockdown (at most one in force: while it is, changes that are not emergencies
//! are on hold) and the approval requests e-mailed to approvers, each queued once per change,
//! revision and approver whichever node gets there first.

use crate::audit::audit;
use crate::report_schedule::ReportMail;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use serde::Serialize;
use uuid::Uuid;

/// A lockdown in force: why, since when and who started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lockdown {
    pub id: Uuid,
    pub reason: String,
    pub started_at: DateTime<Utc>,
    pub started_by: String,
}

impl Db {
    /// The lockdown in force, if any.
    pub async fn change_lockdown(&self) -> StoreResult<Option<Lockdown>> {
        let row: Option<(Uuid, String, i64, String)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, reason, started_at, started_by FROM change_lockdowns WHERE ended_at IS NULL LIMIT 1",
            )
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(id, reason, at, by)| Lockdown { id, reason, started_at: from_millis(at), started_by: by }))
    }

    /// Starts a lockdown; a conflict when one is already in force.
    pub async fn start_change_lockdown(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        reason: &str,
    ) -> StoreResult<Lockdown> {
        let id = Uuid::now_v7();
        write_tx!(self, |tx| {
            let active: Option<String> =
                sqlx::query_scalar("SELECT reason FROM change_lockdowns WHERE ended_at IS NULL LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(r) = active {
                return Err(StoreError::Conflict(format!(
                    "a change lockdown is already in force ({r}); lift it first"
                )));
            }
            sqlx::query("INSERT INTO change_lockdowns (id, reason, started_at, started_by) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(reason)
                .bind(now.timestamp_millis())
                .bind(&actor.label)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::unique("a change lockdown is already in force"))?;
            let record = AuditRecord::new(
                "change.lockdown",
                "change_lockdown",
                Some(id),
                format!("Locked changes down: {reason}"),
            );
            audit!(tx, actor, now, record);
        });
        self.change_lockdown().await?.ok_or(StoreError::Conflict("the lockdown was lifted at once".into()))
    }

    /// Lifts the lockdown in force; a conflict when there is none.
    pub async fn lift_change_lockdown(&self, actor: &Actor, now: DateTime<Utc>) -> StoreResult<Lockdown> {
        let Some(l) = self.change_lockdown().await? else {
            return Err(StoreError::Conflict("no change lockdown is in force".into()));
        };
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE change_lockdowns SET ended_at = $2, ended_by = $3 WHERE id = $1 AND ended_at IS NULL",
            )
            .bind(l.id)
            .bind(now.timestamp_millis())
            .bind(&actor.label)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict("no change lockdown is in force".into()));
            }
            let record =
                AuditRecord::new("change.lockdown_lift", "change_lockdown", Some(l.id), "Lifted the change lockdown");
            audit!(tx, actor, now, record);
        });
        Ok(l)
    }

    /// Queues each mail of `mails` (an approver and their e-mail) unless that approver was
    /// already asked about this revision of the change; returns how many were queued.
    pub async fn queue_approval_requests(
        &self,
        now: DateTime<Utc>,
        change_id: Uuid,
        revision: i64,
        mails: &[(Uuid, ReportMail)],
    ) -> StoreResult<usize> {
        let at = now.timestamp_millis();
        let mut mails: Vec<&(Uuid, ReportMail)> = mails.iter().collect();
        // One order for every node, so two queuing the same requests cannot deadlock.
        mails.sort_by_key(|m| m.0);
        let queued = write_tx!(self, |tx| {
            let mut n = 0;
            for (user, m) in &mails {
                let fresh = sqlx::query(
                    "INSERT INTO change_approval_requests (change_id, revision, user_id, queued_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(change_id)
                .bind(revision)
                .bind(*user)
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if fresh == 0 {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO change_mails (id, recipient, subject, html, body, status, attempts, \
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
                n += 1;
            }
            n
        });
        Ok(queued)
    }

    /// The approvers already asked about this revision of a change.
    pub async fn approval_requests(&self, change_id: Uuid, revision: i64) -> StoreResult<Vec<Uuid>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar(
                "SELECT user_id FROM change_approval_requests WHERE change_id = $1 AND revision = $2 ORDER BY user_id",
            )
            .bind(change_id)
            .bind(revision)
            .fetch_all(pool)
            .await?
        }))
    }
}
