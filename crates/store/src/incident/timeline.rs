//! An incident's timeline with the changes on its services.

use super::*;

impl Db {
    /// The incident's timeline, oldest first, with the changes on its services from two hours
    /// before impact until resolution.
    pub async fn incident_timeline(&self, inc: &Incident, now: DateTime<Utc>) -> StoreResult<Vec<TimelineItem>> {
        let rows: Vec<(Uuid, i64, String, String, String)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, at, kind, actor, body FROM incident_timeline \
                 WHERE incident_id = $1 ORDER BY at, id LIMIT 5000",
            )
            .bind(inc.id)
            .fetch_all(pool)
            .await?
        });
        let mut items: Vec<TimelineItem> = rows
            .into_iter()
            .map(|(id, at, kind, actor, body)| TimelineItem { id, at: from_millis(at), kind, actor, body })
            .collect();
        let from = inc.impact_start_at.checked_sub_signed(chrono::Duration::hours(2)).unwrap_or(inc.impact_start_at);
        let to = inc.resolved_at.unwrap_or(now);
        for sid in &inc.service_ids {
            for c in self.list_changes(*sid, from, to, 200).await? {
                items.push(TimelineItem {
                    id: c.id,
                    at: c.at,
                    kind: kind::CHANGE.into(),
                    actor: if c.source.is_empty() { "change".into() } else { c.source },
                    body: format!("Change: {}", c.summary),
                });
            }
        }
        items.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        Ok(items)
    }
}
