//! People's contact methods and notification rules.

use super::*;

impl Db {
    pub async fn add_contact_method(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        user_id: Uuid,
        kind: ChannelKind,
        address: &str,
        label: &str,
    ) -> StoreResult<ContactMethod> {
        let c = ContactMethod {
            id: Uuid::now_v7(),
            user_id,
            kind: kind.as_str().into(),
            address: address.into(),
            label: label.into(),
        };
        write_tx!(self, |tx| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contact_methods WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
            if n >= 20 {
                return Err(StoreError::Conflict("at most 20 contact methods per person".into()));
            }
            sqlx::query(
                "INSERT INTO contact_methods (id, user_id, kind, address, label, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(c.id)
            .bind(user_id)
            .bind(&c.kind)
            .bind(&c.address)
            .bind(&c.label)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "contact.create",
                    "user",
                    Some(user_id),
                    format!(
                        "Added a {} contact method for {}",
                        c.kind,
                        crate::audit::name_of!(tx, "users", "username", user_id)
                    )
                )
                .after(c.redacted())
            );
        });
        Ok(c)
    }

    pub async fn contact_methods(&self, user_id: Uuid) -> StoreResult<Vec<ContactMethod>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, kind, address, label FROM contact_methods \
                 WHERE user_id = $1 ORDER BY created_at, id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Which of `ids` have at least one contact method (one query for a whole list).
    pub async fn users_with_contact_methods(&self, ids: &[Uuid]) -> StoreResult<std::collections::HashSet<Uuid>> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!(
            "SELECT DISTINCT user_id FROM contact_methods WHERE user_id IN ({})",
            crate::dialect::placeholders(self.backend(), ids.len(), 1)
        );
        let rows: Vec<Uuid> = with_db!(self, |pool| {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows.into_iter().collect())
    }

    pub async fn delete_contact_method(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        user_id: Uuid,
        id: Uuid,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            let kind: String = sqlx::query_scalar("SELECT kind FROM contact_methods WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or_default();
            let who = crate::audit::name_of!(tx, "users", "username", user_id);
            let n = sqlx::query("DELETE FROM contact_methods WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(Entity::ContactMethod));
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "contact.delete",
                    "user",
                    Some(user_id),
                    format!("Removed a {kind} contact method of {who}")
                )
            );
        });
        Ok(())
    }

    pub async fn add_notification_rule(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        user_id: Uuid,
        contact_method_id: Uuid,
        delay_minutes: i32,
    ) -> StoreResult<NotificationRule> {
        let r = NotificationRule { id: Uuid::now_v7(), user_id, contact_method_id, delay_minutes };
        write_tx!(self, |tx| {
            let owner: Option<Uuid> = sqlx::query_scalar("SELECT user_id FROM contact_methods WHERE id = $1")
                .bind(contact_method_id)
                .fetch_optional(&mut *tx)
                .await?;
            if owner != Some(user_id) {
                return Err(opsdeck_core::Error::invalid(
                    "contact_method_id",
                    "name one of this person's contact methods",
                )
                .into());
            }
            sqlx::query(
                "INSERT INTO notification_rules (id, user_id, contact_method_id, delay_minutes, \
                 created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(r.id)
            .bind(user_id)
            .bind(contact_method_id)
            .bind(delay_minutes)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "contact.rule",
                    "user",
                    Some(user_id),
                    format!(
                        "Added a notification rule for {} ({} min)",
                        crate::audit::name_of!(tx, "users", "username", user_id),
                        delay_minutes
                    )
                )
                .after(&r)
            );
        });
        Ok(r)
    }

    pub async fn notification_rules(&self, user_id: Uuid) -> StoreResult<Vec<NotificationRule>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, contact_method_id, delay_minutes FROM notification_rules \
                 WHERE user_id = $1 ORDER BY delay_minutes, id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn delete_notification_rule(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        user_id: Uuid,
        id: Uuid,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            let who = crate::audit::name_of!(tx, "users", "username", user_id);
            let n = sqlx::query("DELETE FROM notification_rules WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(Entity::NotificationRule));
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "contact.rule_delete",
                    "user",
                    Some(user_id),
                    format!("Removed a notification rule of {who}")
                )
            );
        });
        Ok(())
    }
}
