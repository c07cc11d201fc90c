//! Rows for the MTTx report.

use super::*;

impl Db {
    /// Incidents detected in `[from, to)`, optionally for one service, oldest first (at most
    /// [`REPORT_MAX`]); merged incidents are left out, as their time counts in the target.
    pub async fn report_incidents(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        service_id: Option<Uuid>,
    ) -> StoreResult<Vec<ReportRow>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT i.id, i.number, i.title, i.service_id, s.name AS service_name, i.severity, \
                 i.status, i.source, i.alert_count, i.impact_start_at, i.detected_at, \
                 i.acknowledged_at, i.mitigated_at, i.resolved_at FROM incidents i LEFT \
                 JOIN services s ON s.id = i.service_id WHERE i.detected_at >= $1 \
                 AND i.detected_at < $2 AND i.merged_into IS NULL AND ($3 IS NULL \
                 OR i.id IN (SELECT incident_id FROM incident_services \
                 WHERE service_id = $3)) ORDER BY i.detected_at LIMIT $4",
            )
            .bind(from.timestamp_millis())
            .bind(to.timestamp_millis())
            .bind(service_id)
            .bind(REPORT_MAX)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The sources that sent the most alert events in `[from, to)`.
    pub async fn noisiest_sources(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<NoisySource>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT a.integration_id, g.name AS integration_name, a.source_type, s.name AS \
                 service_name, COUNT(*) AS alerts, CAST(SUM(a.count) AS BIGINT) AS events \
                 FROM alerts a LEFT JOIN integrations g ON g.id = a.integration_id LEFT \
                 JOIN services s ON s.id = a.service_id WHERE a.first_seen >= $1 \
                 AND a.first_seen < $2 GROUP BY a.integration_id, g.name, a.source_type, s.name \
                 ORDER BY events DESC LIMIT $3",
            )
            .bind(from.timestamp_millis())
            .bind(to.timestamp_millis())
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }
}
