//! Broadcast channels.

use super::*;

impl Db {
    #[allow(clippy::too_many_arguments)]
    pub async fn create_channel(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        name: &str,
        kind: ChannelKind,
        config: ChannelConfig,
        service_id: Option<Uuid>,
        team_id: Option<Uuid>,
    ) -> StoreResult<Channel> {
        let c = Channel { id: Uuid::now_v7(), name: name.into(), kind, config, service_id, team_id };
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO channels (id, name, kind, config, service_id, team_id, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(c.id)
            .bind(&c.name)
            .bind(kind.as_str())
            .bind(Json(&c.config))
            .bind(service_id)
            .bind(team_id)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "channel.create",
                    "channel",
                    Some(c.id),
                    format!("Created {} channel {}", kind.as_str(), c.name)
                )
            );
        });
        Ok(c)
    }

    pub async fn get_channel(&self, id: Uuid) -> StoreResult<Channel> {
        let row: Option<ChannelRow> = with_db!(self, |pool| {
            sqlx::query_as("SELECT id, name, kind, config, service_id, team_id FROM channels WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Channel::from).ok_or(StoreError::NotFound(Entity::Channel))
    }

    pub async fn list_channels(&self, service_id: Option<Uuid>) -> StoreResult<Vec<Channel>> {
        let rows: Vec<ChannelRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, kind, config, service_id, team_id FROM channels \
                 WHERE ($1 IS NULL OR service_id = $1) ORDER BY name, id LIMIT 500",
            )
            .bind(service_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Channel::from).collect())
    }

    /// The channels that announce a service's incidents: its own, and its owning team's.
    pub async fn channels_for(&self, service_id: Uuid, team_id: Option<Uuid>) -> StoreResult<Vec<Channel>> {
        let rows: Vec<ChannelRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, kind, config, service_id, team_id FROM channels \
                 WHERE service_id = $1 OR ($2 IS NOT NULL AND team_id = $2 \
                 AND service_id IS NULL) ORDER BY name, id LIMIT 100",
            )
            .bind(service_id)
            .bind(team_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Channel::from).collect())
    }

    pub async fn delete_channel(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_channel(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM channels WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("channel.delete", "channel", Some(id), format!("Deleted channel {}", before.name))
            );
        });
        Ok(())
    }
}
