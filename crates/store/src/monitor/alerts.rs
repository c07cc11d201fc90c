//! The monitor alert outbox. A state change that raises or resolves an alert is written with
//! `alert_pending` in the same transaction as the new state ([`Db::record_checks`],
//! [`Db::set_monitor_paused`]); the ingest pipeline drains pending changes in order
//! ([`crate::pipeline::Pipeline::drain_monitor_alerts`]). A full ingest queue, a failed batch or a
//! restart only delays an alert: none is lost, and down-then-up never arrives reversed.

use super::*;
use crate::ingest::Envelope;
use opsdeck_core::alert::{Action, Severity, Signal};

/// Whether a change to `to` raises (down, degraded) or resolves (up, paused) an alert. Monitors
/// without a service raise none: alerts belong to a service.
pub fn raises_alert(to: MonitorState, service_id: Option<Uuid>) -> bool {
    service_id.is_some()
        && matches!(to, MonitorState::Down | MonitorState::Degraded | MonitorState::Up | MonitorState::Paused)
}

/// The alert a change raises: down triggers (critical), degraded triggers (warning), up or
/// paused resolves; dedup key `monitor:{id}`.
pub fn alert_envelope(c: &StateChange) -> Option<Envelope> {
    let service_id = c.service_id.filter(|_| raises_alert(c.transition.to, c.service_id))?;
    let key = format!("monitor:{}", c.monitor_id);
    let signal = match c.transition.to {
        MonitorState::Down | MonitorState::Degraded => {
            let (sev, word) = if c.transition.to == MonitorState::Down {
                (Severity::Critical, "down")
            } else {
                (Severity::Warning, "degraded")
            };
            let mut s = Signal::trigger(key, format!("{} is {word}: {}", c.name, c.reason), sev);
            s.source = c.name.clone();
            s.started_at = Some(c.at);
            s.labels.insert("monitor".into(), c.name.clone());
            s.details =
                serde_json::json!({"monitor_id": c.monitor_id, "reason": c.reason, "from": c.transition.from.as_str()});
            s
        }
        _ => Signal::follow_up(Action::Resolve, key),
    };
    Some(Envelope { scope: "monitor".into(), integration_id: None, service_id, source_type: "monitor", signal })
}

impl Db {
    /// Pending monitor alerts, oldest first: (event id, the change).
    pub async fn pending_monitor_alerts(&self, limit: i64) -> StoreResult<Vec<(Uuid, StateChange)>> {
        type Row = (Uuid, Uuid, String, Option<Uuid>, i64, String, String, String);
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT e.id, e.monitor_id, m.name, m.service_id, e.at, e.from_state, e.to_state, e.reason \
                 FROM monitor_events e JOIN monitors m ON m.id = e.monitor_id \
                 WHERE e.alert_pending ORDER BY e.at, e.id LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, monitor_id, name, service_id, at, from, to, reason)| {
                let state = |s: &str| MonitorState::parse(s).unwrap_or(MonitorState::Pending);
                let transition = Transition { from: state(&from), to: state(&to) };
                (id, StateChange { monitor_id, name, service_id, at: from_millis(at), transition, reason })
            })
            .collect())
    }

    /// Whether any alert outbox (monitor, vendor, SLO, series, latency anomaly) holds an alert
    /// not yet handed to ingest. A read: an idle drain takes no lease and writes nothing.
    pub async fn alerts_pending(&self) -> StoreResult<bool> {
        // `= TRUE` seeks the `(alert_pending, at)` indexes; monitor events have a partial
        // index on the bare condition.
        const SQL: &str = "SELECT EXISTS (SELECT 1 FROM monitor_events WHERE alert_pending) \
            OR EXISTS (SELECT 1 FROM vendor_alerts WHERE alert_pending = TRUE) \
            OR EXISTS (SELECT 1 FROM slo_alerts WHERE alert_pending = TRUE) \
            OR EXISTS (SELECT 1 FROM series_alerts WHERE alert_pending = TRUE) \
            OR EXISTS (SELECT 1 FROM anomaly_alerts WHERE alert_pending = TRUE)";
        Ok(with_db!(self, |pool| sqlx::query_scalar::<_, bool>(SQL).fetch_one(pool).await?))
    }

    /// Marks monitor alerts as handed to the alert pipeline.
    pub async fn monitor_alerts_sent(&self, ids: &[Uuid]) -> StoreResult<()> {
        self.clear_alert_pending("monitor_events", ids).await
    }

    /// Clears `alert_pending` on rows of an alert outbox (`monitor_events`, `vendor_alerts`).
    pub(crate) async fn clear_alert_pending(&self, table: &'static str, ids: &[Uuid]) -> StoreResult<()> {
        let backend = self.backend();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "UPDATE {table} SET alert_pending = FALSE WHERE id IN ({})",
                crate::dialect::placeholders(backend, chunk.len(), 1)
            );
            with_db!(self, |pool| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(pool).await?;
            });
        }
        Ok(())
    }

    /// Takes (or renews) the named lease for `node` until `until_ms`, if nobody else holds it.
    pub async fn try_worker_lease(&self, name: &str, node: &str, now_ms: i64, until_ms: i64) -> StoreResult<bool> {
        let got: Option<String> = with_writer!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO worker_leases (name, owner, lease_until) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
                 WHERE worker_leases.lease_until < $4 OR worker_leases.owner = excluded.owner RETURNING name",
            )
            .bind(name)
            .bind(node)
            .bind(until_ms)
            .bind(now_ms)
            .fetch_optional(pool)
            .await?
        });
        Ok(got.is_some())
    }

    /// Gives the named lease back, if `node` holds it.
    pub async fn release_worker_lease(&self, name: &str, node: &str) -> StoreResult<()> {
        with_writer!(self, |pool| {
            sqlx::query("UPDATE worker_leases SET lease_until = 0 WHERE name = $1 AND owner = $2")
                .bind(name)
                .bind(node)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
