//! Change events (deploys and the like) that incidents show beside their timeline.

use super::*;

impl Db {
    pub async fn record_change(
        &self,
        now: DateTime<Utc>,
        service_id: Uuid,
        integration_id: Option<Uuid>,
        c: &ChangeSignal,
    ) -> StoreResult<ChangeEvent> {
        let ev = ChangeEvent {
            id: Uuid::now_v7(),
            service_id,
            at: c.at.unwrap_or(now).min(now),
            summary: c.summary.clone(),
            source: c.source.clone(),
            details: c.details.clone(),
            links: c.links.clone(),
        };
        with_db!(self, |pool| {
            sqlx::query(
                "INSERT INTO change_events (id, service_id, integration_id, at, summary, source, details, links) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(ev.id)
            .bind(service_id)
            .bind(integration_id)
            .bind(ev.at.timestamp_millis())
            .bind(&ev.summary)
            .bind(&ev.source)
            .bind(Json(&ev.details))
            .bind(Json(&ev.links))
            .execute(pool)
            .await?;
        });
        Ok(ev)
    }

    /// A service's changes in `[from, to]`, newest first.
    pub async fn list_changes(
        &self,
        service_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<ChangeEvent>> {
        type ChangeTuple = (Uuid, Uuid, i64, String, String, Json<serde_json::Value>, Json<Vec<AlertLink>>);
        let rows: Vec<ChangeTuple> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, service_id, at, summary, source, details, links FROM change_events \
                            WHERE service_id = $1 AND at >= $2 AND at <= $3 ORDER BY at DESC LIMIT $4",
            )
            .bind(service_id)
            .bind(from.timestamp_millis())
            .bind(to.timestamp_millis())
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, service_id, at, summary, source, details, links)| ChangeEvent {
                id,
                service_id,
                at: from_millis(at),
                summary,
                source,
                details: details.0,
                links: links.0,
            })
            .collect())
    }
}
