//! The SLA policy of each priority: its targets and the business-hours calendar they count in.

use crate::audit::audit;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::desk::hours::BusinessHours;
use serde::Serialize;

/// The SLA targets of one priority and the calendar they count in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaPolicy {
    pub priority: u8,
    pub first_response_minutes: u32,
    pub resolution_minutes: u32,
    pub hours: BusinessHours,
    /// Who hears of a breach besides the assignee (a team's or a manager's address).
    pub escalation_email: Option<String>,
}

impl SlaPolicy {
    /// The targets used until a priority is given its own: P1 15 min / 4 h, P2 1 h / 8 h, P3
    /// 4 h / 24 h, P4 8 h / 40 h, round the clock.
    pub fn default_for(priority: u8) -> SlaPolicy {
        let (fr, res) = match priority {
            1 => (15, 4 * 60),
            2 => (60, 8 * 60),
            3 => (4 * 60, 24 * 60),
            _ => (8 * 60, 40 * 60),
        };
        SlaPolicy {
            priority,
            first_response_minutes: fr,
            resolution_minutes: res,
            hours: BusinessHours::always(),
            escalation_email: None,
        }
    }
}

impl Db {
    /// The SLA policy of each priority 1–4 (the defaults where none is saved).
    pub async fn sla_policies(&self) -> StoreResult<Vec<SlaPolicy>> {
        let rows: Vec<(i32, i32, i32, String, Option<String>)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT priority, first_response_minutes, resolution_minutes, hours, escalation_email \
                 FROM sla_policies",
            )
            .fetch_all(pool)
            .await?
        });
        Ok((1..=4u8)
            .map(|p| {
                rows.iter()
                    .find(|r| r.0 == i32::from(p))
                    .and_then(|(_, fr, res, hours, escalation)| {
                        Some(SlaPolicy {
                            priority: p,
                            first_response_minutes: u32::try_from(*fr).ok()?,
                            resolution_minutes: u32::try_from(*res).ok()?,
                            hours: serde_json::from_str(hours).ok()?,
                            escalation_email: escalation.clone(),
                        })
                    })
                    .unwrap_or_else(|| SlaPolicy::default_for(p))
            })
            .collect())
    }

    pub async fn save_sla_policy(&self, actor: &Actor, now: DateTime<Utc>, p: &SlaPolicy) -> StoreResult<()> {
        let hours = serde_json::to_string(&p.hours).map_err(|e| StoreError::Conflict(e.to_string()))?;
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO sla_policies (priority, first_response_minutes, resolution_minutes, hours, updated_at, \
                 escalation_email) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (priority) DO UPDATE SET \
                 first_response_minutes = $2, resolution_minutes = $3, hours = $4, updated_at = $5, \
                 escalation_email = $6",
            )
            .bind(i32::from(p.priority))
            .bind(i32::try_from(p.first_response_minutes).unwrap_or(i32::MAX))
            .bind(i32::try_from(p.resolution_minutes).unwrap_or(i32::MAX))
            .bind(&hours)
            .bind(now.timestamp_millis())
            .bind(&p.escalation_email)
            .execute(&mut *tx)
            .await?;
            // Every open ticket of this priority is judged again under the new policy.
            sqlx::query(
                "UPDATE tickets SET sla_check_at = $1 WHERE priority = $2 \
                 AND state IN ('new', 'in_progress', 'pending')",
            )
            .bind(now.timestamp_millis())
            .bind(i32::from(p.priority))
            .execute(&mut *tx)
            .await?;
            let summary = format!("SLA policy of P{} saved", p.priority);
            audit!(tx, actor, now, AuditRecord::new("sla_policy.update", "sla_policy", None, summary).after(p));
        });
        Ok(())
    }
}
