//! The alerts list.

use super::*;

impl Db {
    /// Newest first.
    pub async fn list_alerts(&self, f: &AlertFilter) -> StoreResult<Page<Alert>> {
        let limit = page::clamp_limit(f.limit);
        let pattern = f.q.as_deref().filter(|q| !q.trim().is_empty()).map(page::like_pattern);
        let (c_at, c_id) = match &f.cursor {
            Some(c) => (c.key.parse::<i64>().ok(), Some(c.id)),
            None => (None, None),
        };
        let rows: Vec<AlertRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ALERT_COLS} FROM alerts WHERE ($1 IS NULL OR incident_id = $1) \
                 AND ($2 IS NULL OR service_id = $2) AND ($3 IS NULL OR status = $3) \
                 AND ($4 IS NULL OR LOWER(summary) LIKE $4 ESCAPE '\\' OR dedup_key = $5) \
                 AND ($6 IS NULL OR first_seen < $6 OR (first_seen = $6 AND id < $7)) \
                 ORDER BY first_seen DESC, id DESC LIMIT $8"
            )))
            .bind(f.incident_id)
            .bind(f.service_id)
            .bind(f.status.map(|s| s.as_str()))
            .bind(pattern.as_deref())
            .bind(f.q.as_deref().map(str::trim))
            .bind(c_at)
            .bind(c_id)
            .bind(limit + 1)
            .fetch_all(pool)
            .await?
        });
        Ok(page::finish(rows, limit, |r| Cursor { key: r.first_seen.to_string(), id: r.id }).map(Alert::from))
    }

    pub async fn get_alert(&self, id: Uuid) -> StoreResult<Alert> {
        let row: Option<AlertRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {ALERT_COLS} FROM alerts WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Alert::from).ok_or(StoreError::NotFound(Entity::Alert))
    }

    /// Alerts per status and in all.
    pub async fn alert_counts(&self) -> StoreResult<HashMap<String, i64>> {
        let rows: Vec<(String, i64)> = with_db!(self, |pool| {
            sqlx::query_as("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetch_all(pool).await?
        });
        Ok(rows.into_iter().collect())
    }
}
