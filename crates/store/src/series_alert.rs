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

pub(crate) const QUEUE: &str = "INSERT INTO series_alerts (id, series_id, service_id, kind, firing, summary, \
                                details, at, alert_pending) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE)";

fn column(c: Condition) -> &'static str {
    match c {
        Condition::Exhaustion => "exhaustion_alerting",
        Condition::Anomaly => "anomaly_alerting",
    }
}

/// Series that alert, at most (each is forecast every few minutes).
pub const WATCHED_MAX: i64 = 1000;

/// Whether `spec` alerts on condition `c`.
fn enabled(spec: &SeriesAlertSpec, c: Condition) -> bool {
    match c {
        Condition::Exhaustion => spec.capacity.is_some(),
        Condition::Anomaly => spec.anomalies,
    }
}

impl Db {
    /// Sets (or, with `None`, clears) what a series alerts on. An alert that fires now resolves
    /// when its condition is no longer wanted or moves to another service; the next judgement
    /// raises what is still true anew. At most [`WATCHED_MAX`] series alert.
    pub async fn set_series_alert(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Series,
        spec: Option<&SeriesAlertSpec>,
    ) -> StoreResult<Series> {
        let json = spec.map(serde_json::to_string).transpose().map_err(|e| StoreError::Config(e.to_string()))?;
        write_tx!(self, |tx| {
            if spec.is_some() && before.alert.is_none() {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM series WHERE alert_service_id IS NOT NULL")
                    .fetch_one(&mut *tx)
                    .await?;
                if n >= WATCHED_MAX {
                    return Err(StoreError::Conflict(format!(
                        "at most {WATCHED_MAX} series alert; stop one first (DELETE /api/v1/series/NAME/alert)"
                    )));
                }
            }
            // The row as it is now, locked against a watcher's move until this commits.
            let now_ms = now.timestamp_millis();
            let current: Option<(Option<Uuid>, bool, bool)> = sqlx::query_as(
                "UPDATE series SET updated_at = $1 WHERE id = $2 \
                 RETURNING alert_service_id, exhaustion_alerting, anomaly_alerting",
            )
            .bind(now_ms)
            .bind(before.id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((service, exhaustion, anomaly)) = current else {
                return Err(StoreError::NotFound(Entity::Series));
            };
            let mut keep = (exhaustion, anomaly);
            for (c, firing) in [(Condition::Exhaustion, exhaustion), (Condition::Anomaly, anomaly)] {
                let wanted = spec.is_some_and(|n| Some(n.service_id) == service && enabled(n, c));
                let Some(service) = service.filter(|_| firing && !wanted) else { continue };
                sqlx::query(QUEUE)
                    .bind(Uuid::now_v7())
                    .bind(before.id)
                    .bind(service)
                    .bind(c.as_str())
                    .bind(false)
                    .bind(format!("{}: its {} alert was turned off or moved", before.name, c.as_str()))
                    .bind("{}")
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                match c {
                    Condition::Exhaustion => keep.0 = false,
                    Condition::Anomaly => keep.1 = false,
                }
            }
            sqlx::query(
                "UPDATE series SET alert = $1, alert_service_id = $2, exhaustion_alerting = $3, \
                 anomaly_alerting = $4 WHERE id = $5",
            )
            .bind(&json)
            .bind(spec.map(|s| s.service_id))
            .bind(keep.0)
            .bind(keep.1)
            .bind(before.id)
            .execute(&mut *tx)
            .await?;
            let what = match spec {
                Some(_) => format!("Series {} now alerts from its forecast", before.name),
                None => format!("Series {} no longer alerts", before.name),
            };
            audit!(tx, actor, now, AuditRecord::new("series.alert", "series", Some(before.id), what).after(spec));
        });
        self.get_series(&before.name).await
    }

    /// Moves condition `c` of `s` from `was` to `firing`, queueing the change: a compare-and-set
    /// on the flag and on the settings judged (`s.alert`), so two nodes judging at once queue it
    /// once and settings changed meanwhile move nothing. True when it moved.
    pub async fn move_series_alert(
        &self,
        s: &Series,
        c: Condition,
        firing: bool,
        summary: &str,
        details: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let Some(spec) = &s.alert else { return Ok(false) };
        let was = match c {
            Condition::Exhaustion => s.exhaustion_alerting,
            Condition::Anomaly => s.anomaly_alerting,
        };
        if was == firing {
            return Ok(false);
        }
        let json = serde_json::to_string(spec).map_err(|e| StoreError::Config(e.to_string()))?;
        let col = column(c);
        Ok(write_tx!(self, |tx| {
            let n = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE series SET {col} = $1 WHERE id = $2 AND {col} = $3 AND alert = $4 AND alert_service_id = $5"
            )))
            .bind(firing)
            .bind(s.id)
            .bind(was)
            .bind(&json)
            .bind(spec.service_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                sqlx::query(QUEUE)
                    .bind(Uuid::now_v7())
                    .bind(s.id)
                    .bind(spec.service_id)
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
    let source = if a.kind == "anomaly" { "series anomaly" } else { "capacity forecast" };
    let key = format!("series:{}:{}", a.series_id.simple(), a.kind);
    warning_envelope(
        ("series", "series", source),
        key,
        a.service_id,
        a.firing.then_some((&a.summary, &a.details, a.at)),
    )
}

/// A warning computed by Opsdeck (a forecast, an anomaly) on `service_id`: raised with
/// `(summary, details JSON, at)`, or resolved (`None`). `kind` is (scope, source type, source).
pub(crate) fn warning_envelope(
    kind: (&str, &'static str, &str),
    key: String,
    service_id: Uuid,
    raise: Option<(&String, &String, i64)>,
) -> crate::ingest::Envelope {
    use opsdeck_core::alert::{Action, Severity, Signal};
    let signal = match raise {
        Some((summary, details, at)) => {
            let mut sig = Signal::trigger(key, summary.clone(), Severity::Warning);
            sig.source = kind.2.into();
            sig.started_at = Some(from_millis(at));
            sig.details = serde_json::from_str(details).unwrap_or(serde_json::Value::Null);
            sig
        }
        None => Signal::follow_up(Action::Resolve, key),
    };
    crate::ingest::Envelope { scope: kind.0.into(), integration_id: None, service_id, source_type: kind.1, signal }
}
