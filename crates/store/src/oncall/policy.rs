//! Escalation policies and which service uses which.

use super::*;

impl Db {
    pub async fn create_policy(&self, actor: &Actor, now: DateTime<Utc>, spec: PolicySpec) -> StoreResult<Policy> {
        let p = Policy { id: Uuid::now_v7(), spec, created_at: now, updated_at: now };
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO escalation_policies (id, name, description, loops, levels, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(p.id)
            .bind(&p.spec.name)
            .bind(&p.spec.description)
            .bind(p.spec.loops as i32)
            .bind(Json(&p.spec.levels))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "policy.create",
                    "escalation_policy",
                    Some(p.id),
                    format!("Created escalation policy {}", p.spec.name)
                )
                .after(&p.spec)
            );
        });
        Ok(p)
    }

    pub async fn get_policy(&self, id: Uuid) -> StoreResult<Policy> {
        let row: Option<PolicyRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, description, loops, levels, created_at, updated_at \
                 FROM escalation_policies WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(Policy::from).ok_or(StoreError::NotFound(Entity::EscalationPolicy))
    }

    pub async fn list_policies(&self) -> StoreResult<Vec<Policy>> {
        let rows: Vec<PolicyRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, description, loops, levels, created_at, updated_at \
                 FROM escalation_policies ORDER BY name, id LIMIT 500",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Policy::from).collect())
    }

    pub async fn update_policy(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        spec: PolicySpec,
    ) -> StoreResult<Policy> {
        let before = self.get_policy(id).await?;
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE escalation_policies SET name = $1, description = $2, loops = $3, levels = \
                 $4, updated_at = $5 WHERE id = $6",
            )
            .bind(&spec.name)
            .bind(&spec.description)
            .bind(spec.loops as i32)
            .bind(Json(&spec.levels))
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "policy.update",
                    "escalation_policy",
                    Some(id),
                    format!("Changed escalation policy {}", spec.name)
                )
                .before(&before.spec)
                .after(&spec)
            );
        });
        Ok(Policy { spec, updated_at: now, ..before })
    }

    pub async fn delete_policy(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_policy(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM escalation_policies WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "policy.delete",
                    "escalation_policy",
                    Some(id),
                    format!("Deleted escalation policy {}", before.spec.name)
                )
                .before(&before.spec)
            );
        });
        Ok(())
    }

    /// Sets (or clears) the escalation policy of a service.
    pub async fn set_service_policy(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        service_id: Uuid,
        policy_id: Option<Uuid>,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            match policy_id {
                Some(p) => {
                    sqlx::query(
                        "INSERT INTO service_policies (service_id, policy_id) VALUES ($1, $2) \
                                 ON CONFLICT (service_id) DO UPDATE SET policy_id = excluded.policy_id",
                    )
                    .bind(service_id)
                    .bind(p)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM service_policies WHERE service_id = $1")
                        .bind(service_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let service = crate::audit::name_of!(tx, "services", service_id);
            let summary = match policy_id {
                Some(p) => {
                    let policy = crate::audit::name_of!(tx, "escalation_policies", p);
                    format!("Set the escalation policy of {service} to {policy}")
                }
                None => format!("Removed the escalation policy of {service}"),
            };
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("service.escalation_policy", "service", Some(service_id), summary).after(policy_id)
            );
        });
        Ok(())
    }

    pub async fn service_policy(&self, service_id: Uuid) -> StoreResult<Option<Uuid>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT policy_id FROM service_policies WHERE service_id = $1")
                .bind(service_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The escalation policy of each of `service_ids` that has one, in one query.
    pub async fn service_policy_ids(&self, service_ids: &[Uuid]) -> StoreResult<std::collections::HashMap<Uuid, Uuid>> {
        if service_ids.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let sql = format!(
            "SELECT service_id, policy_id FROM service_policies WHERE service_id IN ({})",
            crate::dialect::placeholders(self.backend(), service_ids.len(), 1)
        );
        let rows: Vec<(Uuid, Uuid)> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in service_ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Which services use which policy: (policy id, service name, service slug), by name.
    pub async fn policy_services(&self) -> StoreResult<Vec<(Uuid, String, String)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT p.policy_id, s.name, s.slug FROM service_policies p JOIN services s ON s.id = p.service_id \
                 ORDER BY s.name LIMIT 5000",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Schedules owned by a team.
    pub async fn team_schedule_ids(&self, team_id: Uuid) -> StoreResult<Vec<Uuid>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM schedules WHERE team_id = $1 ORDER BY name LIMIT 50")
                .bind(team_id)
                .fetch_all(pool)
                .await?
        }))
    }
}
