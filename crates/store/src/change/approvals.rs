//! Who approved or rejected a change (per revision), the conflicts accepted with a reason, the
//! approval rules and the risk questionnaire.

use super::Change;
use crate::audit::audit;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::change::ChangeType;
use opsdeck_core::change::approval::ApprovalRule;
use opsdeck_core::change::risk::RiskLevel;
use opsdeck_core::change::spec::Questionnaire;
use opsdeck_core::clock::from_millis;
use serde::Serialize;
use uuid::Uuid;

/// One person's decision on one revision of a change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub user_id: Uuid,
    pub user: String,
    pub revision: i64,
    /// `approved` or `rejected`.
    pub decision: String,
    pub comment: String,
    pub decided_at: DateTime<Utc>,
}

/// A conflict accepted with a reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Override {
    pub conflict_key: String,
    pub reason: String,
    pub user: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A stored approval rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRule {
    pub id: Uuid,
    pub rule: ApprovalRule,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: Uuid,
    name: String,
    types: String,
    min_risk: Option<String>,
    service_ids: String,
    approvers: String,
    required: i32,
    updated_at: i64,
}

impl From<RuleRow> for StoredRule {
    fn from(r: RuleRow) -> Self {
        let types: Vec<String> = serde_json::from_str(&r.types).unwrap_or_default();
        StoredRule {
            id: r.id,
            rule: ApprovalRule {
                name: r.name,
                types: types.iter().filter_map(|t| ChangeType::parse(t)).collect(),
                min_risk: r.min_risk.as_deref().and_then(RiskLevel::parse),
                service_ids: serde_json::from_str(&r.service_ids).unwrap_or_default(),
                approvers: serde_json::from_str(&r.approvers).unwrap_or_default(),
                required: u32::try_from(r.required).unwrap_or(1),
            },
            updated_at: from_millis(r.updated_at),
        }
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

impl Db {
    /// Records `user`'s decision on the change's current revision; a second decision by the same
    /// person on the same revision is refused.
    pub async fn record_decision(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        change: &Change,
        user: Uuid,
        approve: bool,
        comment: &str,
    ) -> StoreResult<()> {
        let decision = if approve { "approved" } else { "rejected" };
        write_tx!(self, |tx| {
            // The decision is on the change as the approver saw it: one edited or moved since
            // is decided again after a reload.
            let now_at: Option<(i64, i64)> = sqlx::query_as("SELECT revision, version FROM changes WHERE id = $1")
                .bind(change.id)
                .fetch_optional(&mut *tx)
                .await?;
            if now_at != Some((change.revision, change.version)) {
                return Err(StoreError::Conflict(format!(
                    "{} was changed since you loaded it; reload it and decide again",
                    change.key()
                )));
            }
            let taken: Option<String> = sqlx::query_scalar(
                "SELECT decision FROM change_approvals WHERE change_id = $1 AND user_id = $2 AND revision = $3",
            )
            .bind(change.id)
            .bind(user)
            .bind(change.revision)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(d) = taken {
                return Err(StoreError::Conflict(format!(
                    "you already {d} {} as it stands (revision {}); an edit that needs new approvals asks again",
                    change.key(),
                    change.revision
                )));
            }
            sqlx::query(
                "INSERT INTO change_approvals (change_id, user_id, revision, decision, comment, decided_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(change.id)
            .bind(user)
            .bind(change.revision)
            .bind(decision)
            .bind(comment)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            let summary = format!("{} {} {}", actor.label, decision, change.key());
            let action = if approve { "change.approve" } else { "change.reject" };
            audit!(tx, actor, now, AuditRecord::new(action, "change", Some(change.id), summary).after(comment));
        });
        Ok(())
    }

    /// Every decision on a change, newest first (older revisions included, for the record).
    pub async fn change_decisions(&self, id: Uuid) -> StoreResult<Vec<Decision>> {
        let rows: Vec<(Uuid, String, i64, String, String, i64)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT a.user_id, u.display_name, a.revision, a.decision, a.comment, a.decided_at \
                 FROM change_approvals a JOIN users u ON u.id = a.user_id WHERE a.change_id = $1 \
                 ORDER BY a.decided_at DESC, u.display_name",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(user_id, user, revision, decision, comment, at)| Decision {
                user_id,
                user,
                revision,
                decision,
                comment,
                decided_at: from_millis(at),
            })
            .collect())
    }

    /// Accepts a conflict of a change with a reason (replacing an earlier reason for it).
    pub async fn override_conflict(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        change: &Change,
        key: &str,
        reason: &str,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM change_overrides WHERE change_id = $1 AND conflict_key = $2")
                .bind(change.id)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO change_overrides (change_id, conflict_key, reason, user_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(change.id)
            .bind(key)
            .bind(reason)
            .bind(actor.user_id)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            let summary = format!("Accepted conflict {key} on {}: {reason}", change.key());
            audit!(tx, actor, now, AuditRecord::new("change.override", "change", Some(change.id), summary));
        });
        Ok(())
    }

    pub async fn change_overrides(&self, id: Uuid) -> StoreResult<Vec<Override>> {
        let rows: Vec<(String, String, Option<String>, i64)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT o.conflict_key, o.reason, u.display_name, o.created_at FROM change_overrides o \
                 LEFT JOIN users u ON u.id = o.user_id WHERE o.change_id = $1 ORDER BY o.created_at",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(conflict_key, reason, user, at)| Override {
                conflict_key,
                reason,
                user,
                created_at: from_millis(at),
            })
            .collect())
    }

    pub async fn approval_rules(&self) -> StoreResult<Vec<StoredRule>> {
        let rows: Vec<RuleRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, types, min_risk, service_ids, approvers, required, updated_at \
                 FROM change_approval_rules ORDER BY name, id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(StoredRule::from).collect())
    }

    /// Creates a rule (`id` None) or replaces one.
    pub async fn save_approval_rule(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Option<Uuid>,
        rule: &ApprovalRule,
    ) -> StoreResult<StoredRule> {
        let types: Vec<&str> = rule.types.iter().map(|t| t.as_str()).collect();
        let at = now.timestamp_millis();
        let rid = id.unwrap_or_else(Uuid::now_v7);
        write_tx!(self, |tx| {
            let sql = if id.is_some() {
                "UPDATE change_approval_rules SET name = $2, types = $3, min_risk = $4, service_ids = $5, \
                 approvers = $6, required = $7, updated_at = $8 WHERE id = $1"
            } else {
                "INSERT INTO change_approval_rules (id, name, types, min_risk, service_ids, approvers, required, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
            };
            let done = sqlx::query(sql)
                .bind(rid)
                .bind(&rule.name)
                .bind(json(&types))
                .bind(rule.min_risk.map(|r| r.as_str()))
                .bind(json(&rule.service_ids))
                .bind(json(&rule.approvers))
                .bind(i32::try_from(rule.required).unwrap_or(1))
                .bind(at)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::ChangeRule));
            }
            let (action, verb) =
                if id.is_some() { ("change_rule.update", "Updated") } else { ("change_rule.create", "Created") };
            let summary = format!("{verb} approval rule {}", rule.name);
            audit!(tx, actor, now, AuditRecord::new(action, "change_rule", Some(rid), summary).after(rule));
        });
        self.approval_rules().await?.into_iter().find(|r| r.id == rid).ok_or(StoreError::NotFound(Entity::ChangeRule))
    }

    pub async fn delete_approval_rule(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        write_tx!(self, |tx| {
            let gone =
                sqlx::query("DELETE FROM change_approval_rules WHERE id = $1").bind(id).execute(&mut *tx).await?;
            if gone.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::ChangeRule));
            }
            let summary = "Deleted an approval rule".to_owned();
            audit!(tx, actor, now, AuditRecord::new("change_rule.delete", "change_rule", Some(id), summary));
        });
        Ok(())
    }

    /// The saved risk questionnaire, or the built-in one.
    pub async fn questionnaire(&self) -> StoreResult<Questionnaire> {
        let row: Option<String> = with_db!(self, |pool| {
            sqlx::query_scalar("SELECT questions FROM change_questionnaire WHERE id = 1").fetch_optional(pool).await?
        });
        Ok(row.and_then(|q| serde_json::from_str(&q).ok()).unwrap_or_default())
    }

    pub async fn save_questionnaire(&self, actor: &Actor, now: DateTime<Utc>, q: &Questionnaire) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM change_questionnaire WHERE id = 1").execute(&mut *tx).await?;
            sqlx::query("INSERT INTO change_questionnaire (id, questions, updated_at) VALUES (1, $1, $2)")
                .bind(json(q))
                .bind(now.timestamp_millis())
                .execute(&mut *tx)
                .await?;
            let summary = format!("Saved the risk questionnaire ({} questions)", q.questions.len());
            audit!(tx, actor, now, AuditRecord::new("change.questionnaire", "settings", None, summary).after(q));
        });
        Ok(())
    }
}
