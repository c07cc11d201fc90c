//! Alerts from series forecasts: a series' alert settings, whether each condition alerts now
//! (moved by compare-and-set, so nodes judging at once queue a change once), and the outbox of
//! changes the alert pipeline drains like monitor and SLO alerts.

use crate::audit::audit;
use crate::series::Series;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::series_alert::{Condition, SeriesAlertSpec};
use uuid::Uuid;

/// A queued change of a series alert.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeriesAlert {
    pub id: Uuid,
    pub series_id: Uuid,
    pub service_id: Uuid,
    /// `exhaustion` or `anomaly`.
    pub kind: String,
    pub firing: bool,
    pub summary: String,
    /// JSON: what the forecast said.
    pub details: String,
    pub at: i64,
}

const QUEUE: &str = "INSERT INTO series_alerts (id, series_id, service_id, kind, firing, summary, details, at, \
                     alert_pending) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE)";

fn column(c: Condition) -> &'static str {
    match c {
        Condition::Exhaustion => "exhaustion_alerting",
        Condition::Anomaly => "anomaly_alerting",
    }
}

/// The conditions of `s` that alert now, with the service they alert on.
pub(crate) fn alerting(s: &Series) -> Vec<(Condition, Uuid)> {
    let Some(a) = &s.alert else { return Vec::new() };
    Condition::ALL
        .into_iter()
        .filter(|c| match c {
            Condition::Exhaustion => s.exhaustion_alerting,
            Condition::Anomaly => s.anomaly_alerting,
        })
        .map(|c| (c, a.service_id))
        .collect()
}

impl Db {
    /// Sets (or, with `None`, clears) what series `name` alerts on. Alerts that fire now resolve
    /// when their settings go or move to another service; the next judgement raises them anew.
    pub async fn set_series_alert(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Series,
        spec: Option<&SeriesAlertSpec>,
    ) -> StoreResult<Series> {
        let keep = spec.is_some_and(|s| before.alert.as_ref().is_some_and(|b| b.service_id == s.service_id));
        let json = spec.map(serde_json::to_string).transpose().map_err(|e| StoreError::Config(e.to_string()))?;
        write_tx!(self, |tx| {
            let n = sqlx::query("UPDATE series SET alert = $1, updated_at = $2 WHERE id = $3")
                .bind(&json)
                .bind(now.timestamp_millis())
                .bind(before.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(Entity::Series));
            }
            if !keep {
                for (c, service) in alerting(before) {
                    sqlx::query(QUEUE)
                        .bind(Uuid::now_v7())
                        .bind(before.id)
                        .bind(service)
                        .bind(c.as_str())
                        .bind(false)
                        .bind(format!("{}: its {} alert was turned off", before.name, c.as_str()))
                        .bind("{}")
                        .bind(now.timestamp_millis())
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("UPDATE series SET exhaustion_alerting = FALSE, anomaly_alerting = FALSE WHERE id = $1")
                    .bind(before.id)
                    .execute(&mut *tx)
                    .await?;
            }
            let what = match spec {
                Some(_) => format!("Series {} now alerts from its forecast", before.name),
                None => format!("Series {} no longer alerts", before.name),
            };
            audit!(tx, actor, now, AuditRecord::new("series.alert", "series", Some(before.id), what).after(spec));
        });
        self.get_series(&before.name).await
    }

    /// Moves condition `c` of `s` from `was` to `firing`, queueing the change: a compare-and-set,
    /// so two nodes judging at once queue it once. True when it moved.
    #[allow(clippy::too_many_arguments)]
    pub async fn move_series_alert(
        &self,
        s: &Series,
        service_id: Uuid,
        c: Condition,
        was: bool,
        firing: bool,
        summary: &str,
        details: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        if was == firing {
            return Ok(false);
        }
        let col = column(c);
        Ok(write_tx!(self, |tx| {
            let n = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE series SET {col} = $1 WHERE id = $2 AND {col} = $3 AND alert IS NOT NULL"
            )))
            .bind(firing)
            .bind(s.id)
            .bind(was)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                sqlx::query(QUEUE)
                    .bind(Uuid::now_v7())
                    .bind(s.id)
                    .bind(service_id)
                    .bind(c.as_str())
                    .bind(firing)
                    .bind(summary)
                    .bind(details.to_string())
                    .bind(now.timestamp_millis())
                    .execute(&mut *tx)
                    .await?;
            }
            n == 1
        }))
    }

    pub async fn pending_series_alerts(&self, limit: i64) -> StoreResult<Vec<SeriesAlert>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, series_id, service_id, kind, firing, summary, details, at FROM series_alerts \
                 WHERE alert_pending = TRUE ORDER BY at, id LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn series_alerts_sent(&self, ids: &[Uuid]) -> StoreResult<()> {
        self.clear_alert_pending("series_alerts", ids).await
    }
}

/// The alert a series raises on its service: dedup key `series:{id}:{kind}`, a warning; a change
/// that is not firing resolves it.
pub fn series_alert_envelope(a: &SeriesAlert) -> crate::ingest::Envelope {
    use opsdeck_core::alert::{Action, Severity, Signal};
    let key = format!("series:{}:{}", a.series_id.simple(), a.kind);
    let signal = if a.firing {
        let mut sig = Signal::trigger(key, a.summary.clone(), Severity::Warning);
        sig.source = if a.kind == "anomaly" { "series anomaly" } else { "capacity forecast" }.into();
        sig.started_at = Some(from_millis(a.at));
        sig.details = serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null);
        sig
    } else {
        Signal::follow_up(Action::Resolve, key)
    };
    crate::ingest::Envelope {
        scope: "series".into(),
        integration_id: None,
        service_id: a.service_id,
        source_type: "series",
        signal,
    }
}
