//! Reading incidents: one, a page of them, counts by status.

use super::*;

impl Db {
    pub async fn get_incident(&self, id: Uuid) -> StoreResult<Incident> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE i.id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        let mut inc = row.map(Incident::from).ok_or(StoreError::NotFound(Entity::Incident))?;
        self.fill_services(std::slice::from_mut(&mut inc)).await?;
        Ok(inc)
    }

    pub async fn get_incident_by_number(&self, number: i64) -> StoreResult<Incident> {
        let id: Option<Uuid> = with_db!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM incidents WHERE number = $1").bind(number).fetch_optional(pool).await?
        });
        self.get_incident(id.ok_or(StoreError::NotFound(Entity::Incident))?).await
    }

    pub(super) async fn fill_services(&self, incs: &mut [Incident]) -> StoreResult<()> {
        if incs.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = incs.iter().map(|i| i.id).collect();
        let sql = format!(
            "SELECT incident_id, service_id FROM incident_services WHERE incident_id IN ({})",
            placeholders(self.backend(), ids.len(), 1)
        );
        let rows: Vec<(Uuid, Uuid)> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        let mut by: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (i, s) in rows {
            by.entry(i).or_default().push(s);
        }
        for inc in incs {
            if let Some(list) = by.remove(&inc.id) {
                for s in list {
                    if !inc.service_ids.contains(&s) {
                        inc.service_ids.push(s);
                    }
                }
            }
        }
        Ok(())
    }

    /// Newest first.
    pub async fn list_incidents(&self, f: &IncidentFilter) -> StoreResult<Page<Incident>> {
        let limit = page::clamp_limit(f.limit);
        let pattern = f.q.as_deref().filter(|q| !q.trim().is_empty()).map(page::like_pattern);
        let number = f.q.as_deref().and_then(incident::parse_number);
        let (c_at, c_id) = match &f.cursor {
            Some(c) => (c.key.parse::<i64>().ok(), Some(c.id)),
            None => (None, None),
        };
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE ($1 IS NULL OR i.status = $1) AND ($2 = FALSE OR i.status <> 'resolved') \
                 AND ($3 IS NULL OR i.id IN (SELECT incident_id FROM incident_services WHERE service_id = $3)) \
                 AND ($4 IS NULL OR i.severity = $4) \
                 AND ($5 IS NULL OR LOWER(i.title) LIKE $5 ESCAPE '\\' OR i.number = $6) \
                 AND ($7 IS NULL OR i.created_at < $7 OR (i.created_at = $7 AND i.id < $8)) \
                 ORDER BY i.created_at DESC, i.id DESC LIMIT $9"
            )))
            .bind(f.status.map(|s| s.as_str()))
            .bind(f.open)
            .bind(f.service_id)
            .bind(f.severity.map(|s| s.as_str()))
            .bind(pattern.as_deref())
            .bind(number)
            .bind(c_at)
            .bind(c_id)
            .bind(limit + 1)
            .fetch_all(pool)
            .await?
        });
        let page = page::finish(rows, limit, |r| Cursor { key: r.created_at.to_string(), id: r.id });
        let mut page = page.map(Incident::from);
        self.fill_services(&mut page.items).await?;
        Ok(page)
    }

    /// Incidents per status (for the list's counters), optionally for one service.
    pub async fn incident_counts(&self, service_id: Option<Uuid>) -> StoreResult<HashMap<Status, i64>> {
        let rows: Vec<(String, i64)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT status, COUNT(*) FROM incidents WHERE ($1 IS NULL OR id IN \
                            (SELECT incident_id FROM incident_services WHERE service_id = $1)) GROUP BY status",
            )
            .bind(service_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().filter_map(|(s, n)| Status::parse(&s).map(|s| (s, n))).collect())
    }

    /// Open incidents of several services at once, for lists: service → (count, worst severity).
    pub async fn open_incidents_by_service(&self, service_ids: &[Uuid]) -> StoreResult<HashMap<Uuid, (i64, String)>> {
        if service_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT s.service_id, COUNT(*), MIN(i.severity) FROM incidents i \
             JOIN incident_services s ON s.incident_id = i.id \
             WHERE i.status <> 'resolved' AND s.service_id IN ({}) GROUP BY s.service_id",
            crate::dialect::placeholders(self.backend(), service_ids.len(), 1)
        );
        let rows: Vec<(Uuid, i64, String)> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in service_ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|(id, n, sev)| (id, (n, sev))).collect())
    }
}
