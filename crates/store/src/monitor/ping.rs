//! Heartbeat pings.

use super::*;

impl Db {
    /// Notes that a watched job started (`/ping/{token}/start`); the next ping's latency is the
    /// job's run time.
    pub async fn record_ping_start(&self, token: &str, now: DateTime<Utc>) -> StoreResult<MonitorView> {
        let m = self.get_monitor_by_ping_token(token).await?;
        with_writer!(self, |pool| {
            sqlx::query("UPDATE monitors SET ping_started_at = $1 WHERE id = $2")
                .bind(now.timestamp_millis())
                .bind(m.monitor.id)
                .execute(pool)
                .await?;
        });
        Ok(m)
    }

    /// Records a heartbeat ping as a check result; after a `/start`, its latency is the job's
    /// duration.
    pub async fn record_ping(
        &self,
        token: &str,
        now: DateTime<Utc>,
        mut outcome: CheckOutcome,
        retention: &Retention,
    ) -> StoreResult<(MonitorView, Vec<StateChange>)> {
        let m = self.get_monitor_by_ping_token(token).await?;
        let Settings::Heartbeat(h) = &m.monitor.spec.settings else {
            return Err(StoreError::NotFound(Entity::Monitor));
        };
        let next = opsdeck_core::monitor::heartbeat_deadline(&h.schedule, now, h.grace_seconds).unwrap_or(now);
        let started: Option<i64> = with_writer!(self, |pool| {
            let started: Option<i64> = sqlx::query_scalar("SELECT ping_started_at FROM monitors WHERE id = $1")
                .bind(m.monitor.id)
                .fetch_one(pool)
                .await?;
            sqlx::query("UPDATE monitors SET last_ping_at = $1, ping_started_at = NULL WHERE id = $2")
                .bind(now.timestamp_millis())
                .bind(m.monitor.id)
                .execute(pool)
                .await?;
            started
        });
        if let Some(s) = started.filter(|s| *s <= now.timestamp_millis()) {
            outcome.latency_ms = Some((now.timestamp_millis() - s) as f64);
        }
        let changes = self
            .record_checks(
                &[CheckRecord {
                    hold: false,
                    monitor_id: m.monitor.id,
                    at: now,
                    outcome,
                    next_run_at: next,
                    claim: None,
                    maintenance: false,
                }],
                retention,
            )
            .await?;
        Ok((self.get_monitor(m.monitor.id).await?, changes))
    }
}
