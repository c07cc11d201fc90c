//! Schedules and their overrides.

use super::*;

impl Db {
    pub async fn create_schedule(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        spec: ScheduleSpec,
    ) -> StoreResult<Schedule> {
        let s = Schedule { id: Uuid::now_v7(), spec, feed_token: feed_token(), created_at: now, updated_at: now };
        write_tx!(self, |tx| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schedules").fetch_one(&mut *tx).await?;
            if n >= MAX_SCHEDULES {
                return Err(StoreError::Conflict(format!("at most {MAX_SCHEDULES} schedules")));
            }
            sqlx::query(
                "INSERT INTO schedules (id, name, description, timezone, team_id, layers, \
                 feed_token, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(s.id)
            .bind(&s.spec.name)
            .bind(&s.spec.description)
            .bind(&s.spec.timezone)
            .bind(s.spec.team_id)
            .bind(Json(&s.spec.layers))
            .bind(&s.feed_token)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "schedule.create",
                    "schedule",
                    Some(s.id),
                    format!("Created schedule {}", s.spec.name)
                )
                .after(&s.spec)
            );
        });
        Ok(s)
    }

    pub async fn get_schedule(&self, id: Uuid) -> StoreResult<Schedule> {
        let row: Option<ScheduleRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Schedule::from).ok_or(StoreError::NotFound(Entity::Schedule))
    }

    pub async fn list_schedules(&self) -> StoreResult<Vec<Schedule>> {
        let rows: Vec<ScheduleRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {SCHEDULE_COLS} FROM schedules ORDER BY name, id LIMIT $1"
            )))
            .bind(MAX_SCHEDULES)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Schedule::from).collect())
    }

    pub async fn update_schedule(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        spec: ScheduleSpec,
    ) -> StoreResult<Schedule> {
        let before = self.get_schedule(id).await?;
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE schedules SET name = $1, description = $2, timezone = $3, team_id = $4, \
                 layers = $5, updated_at = $6 WHERE id = $7",
            )
            .bind(&spec.name)
            .bind(&spec.description)
            .bind(&spec.timezone)
            .bind(spec.team_id)
            .bind(Json(&spec.layers))
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("schedule.update", "schedule", Some(id), format!("Changed schedule {}", spec.name))
                    .before(&before.spec)
                    .after(&spec)
            );
        });
        Ok(Schedule { spec, updated_at: now, ..before })
    }

    pub async fn delete_schedule(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_schedule(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM schedules WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "schedule.delete",
                    "schedule",
                    Some(id),
                    format!("Deleted schedule {}", before.spec.name)
                )
                .before(&before.spec)
            );
        });
        Ok(())
    }

    pub async fn schedule_by_feed_token(&self, token: &str) -> StoreResult<Schedule> {
        let row: Option<ScheduleRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE feed_token = $1")))
                .bind(token)
                .fetch_optional(pool)
                .await?
        });
        row.map(Schedule::from).ok_or(StoreError::NotFound(Entity::Schedule))
    }

    pub async fn add_override(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        schedule_id: Uuid,
        user_id: Uuid,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> StoreResult<Override> {
        let o = Override { id: Uuid::now_v7(), user_id, start, end };
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO schedule_overrides (id, schedule_id, user_id, starts_at, ends_at, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(o.id)
            .bind(schedule_id)
            .bind(user_id)
            .bind(start.timestamp_millis())
            .bind(end.timestamp_millis())
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(tx, actor, now, {
                let (who, sched) = (
                    crate::audit::name_of!(tx, "users", "username", user_id),
                    crate::audit::name_of!(tx, "schedules", schedule_id),
                );
                AuditRecord::new(
                    "schedule.override",
                    "schedule",
                    Some(schedule_id),
                    format!(
                        "Added an override on {sched}: {who} covers {} – {}",
                        start.format("%Y-%m-%d %H:%M"),
                        end.format("%Y-%m-%d %H:%M UTC")
                    ),
                )
                .after(&o)
            });
        });
        Ok(o)
    }

    /// Overrides of a schedule that overlap `[from, to)`, oldest first (later ones win).
    pub async fn overrides(
        &self,
        schedule_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Override>> {
        let rows: Vec<(Uuid, Uuid, i64, i64)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, starts_at, ends_at FROM schedule_overrides \
                 WHERE schedule_id = $1 AND ends_at > $2 AND starts_at < $3 \
                 ORDER BY created_at, id LIMIT 1000",
            )
            .bind(schedule_id)
            .bind(from.timestamp_millis())
            .bind(to.timestamp_millis())
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, user_id, s, e)| Override { id, user_id, start: from_millis(s), end: from_millis(e) })
            .collect())
    }

    pub async fn delete_override(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        schedule_id: Uuid,
        id: Uuid,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            let sched = crate::audit::name_of!(tx, "schedules", schedule_id);
            let n = sqlx::query("DELETE FROM schedule_overrides WHERE id = $1 AND schedule_id = $2")
                .bind(id)
                .bind(schedule_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(Entity::Override));
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "schedule.override_delete",
                    "schedule",
                    Some(schedule_id),
                    format!("Removed an override from {sched}")
                )
            );
        });
        Ok(())
    }
}
