//! Monitors whose latency anomalies alert on their service: the watches, the service an alert
//! fires on now (moved by compare-and-set, so nodes judging at once queue a change once), and
//! the outbox the alert pipeline drains.

use crate::audit::audit;
use crate::{Db, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::audit::{Actor, AuditRecord};
use uuid::Uuid;

/// A monitor whose latency anomalies alert, and the service its alert fires on now.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct AnomalyWatch {
    pub monitor_id: Uuid,
    pub alerting_service_id: Option<Uuid>,
}

/// A queued change of a latency anomaly alert.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AnomalyAlert {
    pub id: Uuid,
    pub monitor_id: Uuid,
    pub service_id: Uuid,
    pub firing: bool,
    pub summary: String,
    /// JSON: the hour, its mean latency and the range expected.
    pub details: String,
    pub at: i64,
}

const QUEUE: &str = "INSERT INTO anomaly_alerts (id, monitor_id, service_id, firing, summary, details, at, \
                     alert_pending) VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE)";

impl Db {
    /// Starts (`on`) or stops watching a monitor's latency anomalies; stopping while an alert
    /// fires resolves it. `name` is for the audit log.
    pub async fn watch_anomalies(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        monitor_id: Uuid,
        name: &str,
        on: bool,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            if on {
                sqlx::query(
                    "INSERT INTO anomaly_watches (monitor_id, created_at) VALUES ($1, $2) \
                     ON CONFLICT (monitor_id) DO NOTHING",
                )
                .bind(monitor_id)
                .bind(now.timestamp_millis())
                .execute(&mut *tx)
                .await?;
            } else {
                let firing: Option<Option<Uuid>> = sqlx::query_scalar(
                    "DELETE FROM anomaly_watches WHERE monitor_id = $1 RETURNING alerting_service_id",
                )
                .bind(monitor_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(service) = firing.flatten() {
                    sqlx::query(QUEUE)
                        .bind(Uuid::now_v7())
                        .bind(monitor_id)
                        .bind(service)
                        .bind(false)
                        .bind(format!("{name}: latency anomalies no longer alert"))
                        .bind("{}")
                        .bind(now.timestamp_millis())
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let what = if on { "now alert" } else { "no longer alert" };
            let record = AuditRecord::new(
                "monitor.anomaly_alert",
                "monitor",
                Some(monitor_id),
                format!("Latency anomalies of {name} {what}"),
            );
            audit!(tx, actor, now, record);
        });
        Ok(())
    }

    /// Every watch (for the watcher), or the one of `monitor_id`.
    pub async fn anomaly_watches(&self, monitor_id: Option<Uuid>) -> StoreResult<Vec<AnomalyWatch>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT monitor_id, alerting_service_id FROM anomaly_watches \
                 WHERE ($1 IS NULL OR monitor_id = $1) ORDER BY monitor_id",
            )
            .bind(monitor_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Moves a watch's alert from `w.alerting_service_id` to `to` (a service: fires there;
    /// `None`: resolves where it fired), queueing the change: a compare-and-set. True when it
    /// moved.
    pub async fn move_anomaly_alert(
        &self,
        w: &AnomalyWatch,
        to: Option<Uuid>,
        summary: &str,
        details: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let was = w.alerting_service_id;
        let Some(service) = to.or(was) else { return Ok(false) };
        if was == to {
            return Ok(false);
        }
        Ok(write_tx!(self, |tx| {
            let n = sqlx::query(
                "UPDATE anomaly_watches SET alerting_service_id = $1 WHERE monitor_id = $2 \
                 AND (alerting_service_id = $3 OR (alerting_service_id IS NULL AND $4))",
            )
            .bind(to)
            .bind(w.monitor_id)
            .bind(was.unwrap_or(Uuid::nil()))
            .bind(was.is_none())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                sqlx::query(QUEUE)
                    .bind(Uuid::now_v7())
                    .bind(w.monitor_id)
                    .bind(service)
                    .bind(to.is_some())
                    .bind(summary)
                    .bind(details.to_string())
                    .bind(now.timestamp_millis())
                    .execute(&mut *tx)
                    .await?;
            }
            n == 1
        }))
    }

    pub async fn pending_anomaly_alerts(&self, limit: i64) -> StoreResult<Vec<AnomalyAlert>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, monitor_id, service_id, firing, summary, details, at FROM anomaly_alerts \
                 WHERE alert_pending = TRUE ORDER BY at, id LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn anomaly_alerts_sent(&self, ids: &[Uuid]) -> StoreResult<()> {
        self.clear_alert_pending("anomaly_alerts", ids).await
    }
}

/// The alert a monitor's latency anomaly raises on its service: dedup key
/// `latency-anomaly:{monitor id}`, a warning; a change that is not firing resolves it.
pub fn anomaly_alert_envelope(a: &AnomalyAlert) -> crate::ingest::Envelope {
    let key = format!("latency-anomaly:{}", a.monitor_id.simple());
    let raise = a.firing.then_some((&a.summary, &a.details, a.at));
    crate::series_alert::warning_envelope(("anomaly", "anomaly", "latency anomaly"), key, a.service_id, raise)
}
