//! Instance-wide settings as a small key/value table of JSON values.

use crate::audit::audit;
use crate::{Db, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::audit::{Actor, AuditRecord};
use serde_json::Value;

impl Db {
    pub async fn get_setting(&self, key: &str) -> StoreResult<Option<Value>> {
        let raw: Option<String> = with_db!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(pool).await?
        });
        Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
    }

    pub async fn put_setting(&self, actor: &Actor, now: DateTime<Utc>, key: &str, value: &Value) -> StoreResult<()> {
        let before = self.get_setting(key).await?;
        if before.as_ref() == Some(value) {
            return Ok(());
        }
        let text = value.to_string();
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(&text)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("setting.update", "setting", None, format!("Changed setting {key}"))
                    .before(&before)
                    .after(value)
            );
        });
        Ok(())
    }
}
