//! Postmortems and their action items.

use super::*;

impl Db {
    pub async fn get_postmortem(&self, incident_id: Uuid) -> StoreResult<Option<Postmortem>> {
        type PmTuple = (String, String, String, String, String, String, String, i64, i64);
        let row: Option<PmTuple> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT summary, impact, root_cause, contributing_factors, timeline, lessons, \
                 author, created_at, updated_at FROM postmortems WHERE incident_id = $1",
            )
            .bind(incident_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(summary, impact, root_cause, contributing_factors, timeline, lessons, author, c, u)| Postmortem {
            incident_id,
            spec: PostmortemSpec { summary, impact, root_cause, contributing_factors, timeline, lessons },
            author,
            created_at: from_millis(c),
            updated_at: from_millis(u),
        }))
    }

    /// Writes the postmortem of a resolved incident.
    pub async fn save_postmortem(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        incident_id: Uuid,
        spec: PostmortemSpec,
    ) -> StoreResult<Postmortem> {
        let inc = self.get_incident(incident_id).await?;
        if inc.status != Status::Resolved {
            return Err(StoreError::Conflict(
                "postmortems are written for resolved incidents; resolve it first".into(),
            ));
        }
        let ms = now.timestamp_millis();
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO postmortems (incident_id, summary, impact, root_cause, \
                 contributing_factors, timeline, lessons, author, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (incident_id) \
                 DO UPDATE SET summary = excluded.summary, impact = excluded.impact, root_cause = \
                 excluded.root_cause, contributing_factors = excluded.contributing_factors, timeline \
                 = excluded.timeline, lessons = excluded.lessons, updated_at = excluded.updated_at",
            )
            .bind(incident_id)
            .bind(&spec.summary)
            .bind(&spec.impact)
            .bind(&spec.root_cause)
            .bind(&spec.contributing_factors)
            .bind(&spec.timeline)
            .bind(&spec.lessons)
            .bind(&actor.label)
            .bind(ms)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "postmortem.save",
                    "incident",
                    Some(incident_id),
                    format!("Saved the postmortem of {}", incident::display_number(inc.number))
                )
                .after(&spec)
            );
        });
        self.get_postmortem(incident_id).await?.ok_or(StoreError::NotFound(Entity::Postmortem))
    }

    pub async fn list_action_items(
        &self,
        incident_id: Option<Uuid>,
        open_only: bool,
        limit: i64,
    ) -> StoreResult<Vec<ActionItem>> {
        let rows: Vec<ActionRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{ACTION_SELECT} WHERE ($1 IS NULL OR a.incident_id = $1) AND ($2 = FALSE OR a.status <> 'done') \
                 ORDER BY CASE WHEN a.due_date IS NULL THEN 1 ELSE 0 END, a.due_date, a.created_at LIMIT $3"
            )))
            .bind(incident_id)
            .bind(open_only)
            .bind(limit.clamp(1, 1000))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(ActionItem::from).collect())
    }

    pub async fn get_action_item(&self, id: Uuid) -> StoreResult<ActionItem> {
        let row: Option<ActionRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{ACTION_SELECT} WHERE a.id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(ActionItem::from).ok_or(StoreError::NotFound(Entity::ActionItem))
    }

    pub async fn create_action_item(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        incident_id: Uuid,
        spec: ActionItemSpec,
    ) -> StoreResult<ActionItem> {
        self.get_incident(incident_id).await?;
        if let Some(owner) = spec.owner_id {
            self.usernames(&[Some(owner)])
                .await
                .map_err(|_| opsdeck_core::Error::invalid("owner_id", format!("no user has id {owner}")))?;
        }
        let id = Uuid::now_v7();
        let ms = now.timestamp_millis();
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO action_items (id, incident_id, title, owner_id, due_date, status, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(id)
            .bind(incident_id)
            .bind(&spec.title)
            .bind(spec.owner_id)
            .bind(spec.due_date.map(|d| d.to_string()))
            .bind(spec.status.as_str())
            .bind(ms)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "action_item.create",
                    "action_item",
                    Some(id),
                    format!("Added action item {}", spec.title)
                )
                .after(&spec)
            );
        });
        self.get_action_item(id).await
    }

    pub async fn update_action_item(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        spec: ActionItemSpec,
    ) -> StoreResult<ActionItem> {
        let before = self.get_action_item(id).await?;
        if let Some(owner) = spec.owner_id {
            self.usernames(&[Some(owner)])
                .await
                .map_err(|_| opsdeck_core::Error::invalid("owner_id", format!("no user has id {owner}")))?;
        }
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE action_items SET title = $1, owner_id = $2, due_date = $3, status = $4, \
                 updated_at = $5 WHERE id = $6",
            )
            .bind(&spec.title)
            .bind(spec.owner_id)
            .bind(spec.due_date.map(|d| d.to_string()))
            .bind(spec.status.as_str())
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "action_item.update",
                    "action_item",
                    Some(id),
                    format!("Changed action item {}", spec.title)
                )
                .before(&before)
                .after(&spec)
            );
        });
        self.get_action_item(id).await
    }

    pub async fn delete_action_item(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_action_item(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM action_items WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "action_item.delete",
                    "action_item",
                    Some(id),
                    format!("Deleted action item {}", before.title)
                )
                .before(&before)
            );
        });
        Ok(())
    }
}
