//! Expired Alertmanager-API alerts, ended snoozes and flapping incidents that went quiet.

use super::*;

impl Db {
    /// Resolve envelopes for alerts whose `expires_at` has passed (Alertmanager-API alerts that
    /// were not sent again).
    pub async fn expired_alerts(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<Envelope>> {
        let rows: Vec<(String, Option<Uuid>, Option<Uuid>, String)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT scope, integration_id, service_id, dedup_key FROM alerts \
                            WHERE expires_at IS NOT NULL AND expires_at <= $1 AND status <> 'resolved' LIMIT $2",
            )
            .bind(now.timestamp_millis())
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(scope, integration_id, service_id, key)| {
                Some(Envelope {
                    scope,
                    integration_id,
                    service_id: service_id?,
                    source_type: "expiry",
                    signal: Signal::follow_up(Action::Resolve, key),
                })
            })
            .collect())
    }

    /// Snoozed incidents whose time is up go back to triggered; returns their ids.
    pub async fn wake_snoozed(&self, now: DateTime<Utc>) -> StoreResult<Vec<Uuid>> {
        let now_ms = now.timestamp_millis();
        let backend = self.backend();
        let ids: Vec<Uuid> = with_writer!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            tx.lock_alerts().await?;
            let ids: Vec<Uuid> = sqlx::query_scalar(
                "UPDATE incidents SET status = 'triggered', snoozed_until = NULL, updated_at = $1 \
                 WHERE snoozed_until IS NOT NULL AND snoozed_until <= $1 \
                 AND status = 'acknowledged' RETURNING id",
            )
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await?;
            for id in &ids {
                crate::oncall::start_escalation!(tx, *id, now_ms);
            }
            let ended = ids.iter().map(|id| {
                TimelineEntry::new(
                    *id,
                    now_ms,
                    kind::SNOOZED,
                    "system",
                    "Snooze ended: the incident is triggered again",
                )
            });
            insert_timeline!(tx, backend, ended.collect());
            tx.commit().await?;
            ids
        });
        Ok(ids)
    }

    /// Incidents held open for flapping whose hold has passed with no alert firing again are
    /// resolved; returns their ids.
    pub async fn release_held(&self, now: DateTime<Utc>) -> StoreResult<Vec<Uuid>> {
        let now_ms = now.timestamp_millis();
        let backend = self.backend();
        let ids: Vec<Uuid> = with_writer!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            tx.lock_alerts().await?;
            let ids: Vec<Uuid> = sqlx::query_scalar(
                "UPDATE incidents SET status = 'resolved', resolved_at = $1, \
                 mitigated_at = COALESCE(mitigated_at, $1), snoozed_until = NULL, hold_until = NULL, \
                 updated_at = $1 \
                 WHERE hold_until IS NOT NULL AND hold_until <= $1 AND status <> 'resolved' \
                 AND open_alerts = 0 RETURNING id",
            )
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await?;
            for id in &ids {
                crate::oncall::stop_escalation!(tx, *id);
            }
            let done = ids.iter().map(|id| {
                TimelineEntry::new(
                    *id,
                    now_ms,
                    kind::STATUS,
                    "alerts",
                    "Resolved automatically: no alert fired again while the flapping incident was held open",
                )
            });
            insert_timeline!(tx, backend, done.collect());
            tx.commit().await?;
            ids
        });
        Ok(ids)
    }
}
