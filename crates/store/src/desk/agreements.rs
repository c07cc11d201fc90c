//! SLA agreements kept: each saved or deleted with every open ticket marked for the SLA
//! watcher (an agreement may now take or leave any of them), and the policy book the clocks
//! read: agreements by position, then the per-priority policies.

use super::{SlaPolicy, Ticket};
use crate::audit::audit;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::desk::agreement::AgreementSpec;
use serde::Serialize;
use uuid::Uuid;

/// A stored agreement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaAgreement {
    pub id: Uuid,
    pub spec: AgreementSpec,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Every SLA rule in force: the agreements in the order they are tried, each with its four
/// priorities' policies made up once, and the desk's policy of each priority.
#[derive(Debug, Clone)]
pub struct PolicyBook {
    agreements: Vec<(SlaAgreement, [SlaPolicy; 4])>,
    policies: [SlaPolicy; 4],
}

/// The policy a ticket's clocks count under, and the agreement it came from (none: the
/// desk's policy of its priority).
#[derive(Debug, Clone, Copy)]
pub struct Applied<'a> {
    pub policy: &'a SlaPolicy,
    pub agreement: Option<&'a SlaAgreement>,
}

impl PolicyBook {
    pub fn new(mut agreements: Vec<SlaAgreement>, policies: Vec<SlaPolicy>) -> PolicyBook {
        agreements.sort_by_key(|a| (a.spec.position, a.created_at, a.id));
        let policies: [SlaPolicy; 4] = std::array::from_fn(|i| {
            let p = u8::try_from(i + 1).unwrap_or(4);
            policies.iter().find(|x| x.priority == p).cloned().unwrap_or_else(|| SlaPolicy::default_for(p))
        });
        let agreements = agreements
            .into_iter()
            .map(|a| {
                let made: [SlaPolicy; 4] = std::array::from_fn(|i| {
                    let t = a.spec.targets[i];
                    SlaPolicy {
                        priority: u8::try_from(i + 1).unwrap_or(4),
                        first_response_minutes: t.first_response_minutes,
                        resolution_minutes: t.resolution_minutes,
                        hours: a.spec.hours.clone(),
                        escalation_email: a.spec.escalation_email.clone(),
                    }
                });
                (a, made)
            })
            .collect();
        PolicyBook { agreements, policies }
    }

    /// What a ticket about `service_id`, raised by `requester`, of `priority` counts under.
    pub fn lookup(&self, service_id: Option<Uuid>, requester: Option<&str>, priority: u8) -> Applied<'_> {
        let i = usize::from(priority.clamp(1, 4)) - 1;
        match self.agreements.iter().find(|(a, _)| a.spec.matches(service_id, requester)) {
            Some((a, made)) => Applied { policy: &made[i], agreement: Some(a) },
            None => Applied { policy: &self.policies[i], agreement: None },
        }
    }

    pub fn for_ticket(&self, t: &Ticket) -> Applied<'_> {
        self.lookup(t.service_id, t.requester_email.as_deref(), t.priority)
    }

    /// The desk's policy of each priority, P1 first.
    pub fn policies(&self) -> &[SlaPolicy; 4] {
        &self.policies
    }
}

type Row = (Uuid, String, i64, i64, i64);

fn agreement(row: Row) -> StoreResult<SlaAgreement> {
    let (id, spec, version, created_at, updated_at) = row;
    let spec = serde_json::from_str(&spec).map_err(|e| StoreError::Conflict(format!("SLA agreement {id}: {e}")))?;
    Ok(SlaAgreement { id, spec, version, created_at: from_millis(created_at), updated_at: from_millis(updated_at) })
}

fn json(spec: &AgreementSpec) -> StoreResult<String> {
    serde_json::to_string(spec).map_err(|e| StoreError::Conflict(e.to_string()))
}

/// Marks every open ticket for the SLA watcher inside a write transaction.
macro_rules! recheck_open {
    ($tx:ident, $at:expr) => {
        sqlx::query("UPDATE tickets SET sla_check_at = $1 WHERE state IN ('new', 'in_progress', 'pending')")
            .bind($at)
            .execute(&mut *$tx)
            .await?;
    };
}

impl Db {
    /// Every agreement, in the order they are tried.
    pub async fn sla_agreements(&self) -> StoreResult<Vec<SlaAgreement>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, spec, version, created_at, updated_at FROM sla_agreements \
                 ORDER BY position, created_at, id LIMIT 1000",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(agreement).collect()
    }

    pub async fn sla_agreement(&self, id: Uuid) -> StoreResult<SlaAgreement> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as("SELECT id, spec, version, created_at, updated_at FROM sla_agreements WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        agreement(row.ok_or(StoreError::NotFound(Entity::SlaAgreement))?)
    }

    /// The agreements and the per-priority policies, read together for the clocks.
    pub async fn policy_book(&self) -> StoreResult<PolicyBook> {
        Ok(PolicyBook::new(self.sla_agreements().await?, self.sla_policies().await?))
    }

    pub async fn count_sla_agreements(&self) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM sla_agreements").fetch_one(pool).await?))
    }

    pub async fn create_sla_agreement(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        spec: &AgreementSpec,
    ) -> StoreResult<SlaAgreement> {
        let (id, at, body) = (Uuid::now_v7(), now.timestamp_millis(), json(spec)?);
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO sla_agreements (id, name, position, spec, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 1, $5, $5)",
            )
            .bind(id)
            .bind(&spec.name)
            .bind(spec.position)
            .bind(&body)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            recheck_open!(tx, at);
            let summary = format!("SLA agreement {} added", spec.name);
            let record = AuditRecord::new("sla_agreement.create", "sla_agreement", Some(id), summary).after(spec);
            audit!(tx, actor, now, record);
        });
        self.sla_agreement(id).await
    }

    /// Replaces an agreement at `before.version` (a conflict when someone saved it since).
    pub async fn update_sla_agreement(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &SlaAgreement,
        spec: &AgreementSpec,
    ) -> StoreResult<SlaAgreement> {
        let (at, body) = (now.timestamp_millis(), json(spec)?);
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE sla_agreements SET name = $2, position = $3, spec = $4, version = version + 1, \
                 updated_at = $5 WHERE id = $1 AND version = $6",
            )
            .bind(before.id)
            .bind(&spec.name)
            .bind(spec.position)
            .bind(&body)
            .bind(at)
            .bind(before.version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "SLA agreement {} was changed by someone else since you loaded it; reload it",
                    before.spec.name
                )));
            }
            recheck_open!(tx, at);
            let summary = format!("SLA agreement {} saved", spec.name);
            let record = AuditRecord::new("sla_agreement.update", "sla_agreement", Some(before.id), summary)
                .before(&before.spec)
                .after(spec);
            audit!(tx, actor, now, record);
        });
        self.sla_agreement(before.id).await
    }

    /// Deletes an agreement: the tickets it covered count under the next rule that takes them.
    pub async fn delete_sla_agreement(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &SlaAgreement,
    ) -> StoreResult<()> {
        let at = now.timestamp_millis();
        write_tx!(self, |tx| {
            let done =
                sqlx::query("DELETE FROM sla_agreements WHERE id = $1").bind(before.id).execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::SlaAgreement));
            }
            recheck_open!(tx, at);
            let summary = format!("SLA agreement {} deleted", before.spec.name);
            let record = AuditRecord::new("sla_agreement.delete", "sla_agreement", Some(before.id), summary)
                .before(&before.spec);
            audit!(tx, actor, now, record);
        });
        Ok(())
    }
}
