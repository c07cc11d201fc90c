//! Integrations (a service's inbound alert sources, each with a secret key) and per-service
//! alert settings.

use crate::audit::{audit, bump};
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::alert::rules::AlertSettings;
use opsdeck_core::alert::webhook::Mapping;
use opsdeck_core::alert::{IntegrationType, generate_key};
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::secret::digest;
use sqlx::types::Json;
use uuid::Uuid;

/// The revision counter every integration change bumps (ingest caches key lookups by it).
pub const INTEGRATIONS: &str = "integrations";

/// More integrations per service than this is a configuration problem.
pub const MAX_PER_SERVICE: i64 = 50;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Integration {
    pub id: Uuid,
    pub service_id: Uuid,
    pub kind: IntegrationType,
    pub name: String,
    /// The first characters of the key, so users can tell keys apart.
    pub key_hint: String,
    pub mapping: Mapping,
    pub last_event_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What ingest needs to know about a key.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub integration_id: Uuid,
    pub service_id: Uuid,
    pub kind: IntegrationType,
    pub mapping: Mapping,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    service_id: Uuid,
    kind: String,
    name: String,
    key_hint: String,
    mapping: Json<Mapping>,
    last_event_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl From<Row> for Integration {
    fn from(r: Row) -> Self {
        Integration {
            id: r.id,
            service_id: r.service_id,
            kind: IntegrationType::parse(&r.kind).unwrap_or(IntegrationType::Webhook),
            name: r.name,
            key_hint: r.key_hint,
            mapping: r.mapping.0,
            last_event_at: r.last_event_at.map(from_millis),
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const COLS: &str = "id, service_id, kind, name, key_hint, mapping, last_event_at, created_at, updated_at";

fn hint(key: &str) -> String {
    key.chars().take(6).collect()
}

#[derive(sqlx::FromRow)]
struct SettingsRow {
    grouping: String,
    group_window_seconds: i32,
    auto_resolve: bool,
    reopen_window_seconds: i32,
    rules: Json<Vec<opsdeck_core::alert::rules::Rule>>,
}

impl From<SettingsRow> for AlertSettings {
    fn from(r: SettingsRow) -> Self {
        AlertSettings {
            grouping: opsdeck_core::alert::rules::Grouping::parse(&r.grouping).unwrap_or_default(),
            group_window_seconds: r.group_window_seconds,
            auto_resolve: r.auto_resolve,
            reopen_window_seconds: r.reopen_window_seconds,
            rules: r.rules.0,
        }
    }
}

impl Db {
    /// Creates an integration and returns it with its key, which is shown this once.
    pub async fn create_integration(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        service_id: Uuid,
        kind: IntegrationType,
        name: &str,
        mapping: Mapping,
    ) -> StoreResult<(Integration, String)> {
        let key = generate_key();
        let it = Integration {
            id: Uuid::now_v7(),
            service_id,
            kind,
            name: name.to_owned(),
            key_hint: hint(&key),
            mapping,
            last_event_at: None,
            created_at: now,
            updated_at: now,
        };
        write_tx!(self, |tx| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM integrations WHERE service_id = $1")
                .bind(service_id)
                .fetch_one(&mut *tx)
                .await?;
            if n >= MAX_PER_SERVICE {
                return Err(StoreError::Conflict(format!("a service can have at most {MAX_PER_SERVICE} integrations")));
            }
            sqlx::query(
                "INSERT INTO integrations (id, service_id, kind, name, key_hash, key_hint, mapping, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(it.id)
            .bind(service_id)
            .bind(kind.as_str())
            .bind(&it.name)
            .bind(digest(&key))
            .bind(&it.key_hint)
            .bind(Json(&it.mapping))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "integration.create",
                    "integration",
                    Some(it.id),
                    format!("Added {} integration {}", kind.as_str(), it.name)
                )
                .after(&it)
            );
            bump!(tx, INTEGRATIONS);
        });
        Ok((it, key))
    }

    pub async fn get_integration(&self, id: Uuid) -> StoreResult<Integration> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM integrations WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Integration::from).ok_or(StoreError::NotFound(Entity::Integration))
    }

    /// A service's integrations, oldest first (at most [`MAX_PER_SERVICE`]).
    pub async fn list_integrations(&self, service_id: Uuid) -> StoreResult<Vec<Integration>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM integrations WHERE service_id = $1 ORDER BY created_at, id"
            )))
            .bind(service_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Integration::from).collect())
    }

    /// Renames an integration or changes its webhook mapping.
    pub async fn update_integration(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        name: &str,
        mapping: Mapping,
    ) -> StoreResult<Integration> {
        let before = self.get_integration(id).await?;
        let after = Integration { name: name.to_owned(), mapping, updated_at: now, ..before.clone() };
        write_tx!(self, |tx| {
            sqlx::query("UPDATE integrations SET name = $1, mapping = $2, updated_at = $3 WHERE id = $4")
                .bind(&after.name)
                .bind(Json(&after.mapping))
                .bind(now.timestamp_millis())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "integration.update",
                    "integration",
                    Some(id),
                    format!("Changed integration {}", after.name)
                )
                .before(&before)
                .after(&after)
            );
            bump!(tx, INTEGRATIONS);
        });
        Ok(after)
    }

    /// Replaces the key; the old one stops working at once.
    pub async fn rotate_integration_key(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
    ) -> StoreResult<(Integration, String)> {
        let before = self.get_integration(id).await?;
        let key = generate_key();
        write_tx!(self, |tx| {
            sqlx::query("UPDATE integrations SET key_hash = $1, key_hint = $2, updated_at = $3 WHERE id = $4")
                .bind(digest(&key))
                .bind(hint(&key))
                .bind(now.timestamp_millis())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "integration.rotate",
                    "integration",
                    Some(id),
                    format!("Rotated the key of integration {}", before.name)
                )
            );
            bump!(tx, INTEGRATIONS);
        });
        Ok((Integration { key_hint: hint(&key), updated_at: now, ..before }, key))
    }

    pub async fn delete_integration(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_integration(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM integrations WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "integration.delete",
                    "integration",
                    Some(id),
                    format!("Deleted integration {}", before.name)
                )
                .before(&before)
            );
            bump!(tx, INTEGRATIONS);
        });
        Ok(())
    }

    /// Looks a key up by its digest.
    pub async fn route_for_key(&self, key: &str) -> StoreResult<Option<Route>> {
        let row: Option<(Uuid, Uuid, String, Json<Mapping>)> = with_db!(self, |pool| {
            sqlx::query_as("SELECT id, service_id, kind, mapping FROM integrations WHERE key_hash = $1")
                .bind(digest(key))
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(integration_id, service_id, kind, mapping)| Route {
            integration_id,
            service_id,
            kind: IntegrationType::parse(&kind).unwrap_or(IntegrationType::Webhook),
            mapping: mapping.0,
        }))
    }

    pub async fn integrations_revision(&self) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM revisions WHERE name = $1").bind(INTEGRATIONS).fetch_one(pool).await?
        }))
    }

    /// A service's alert settings (the defaults until someone changes them).
    pub async fn alert_settings(&self, service_id: Uuid) -> StoreResult<AlertSettings> {
        let row: Option<SettingsRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT grouping, group_window_seconds, auto_resolve, reopen_window_seconds, rules \
                 FROM service_alert_settings WHERE service_id = $1",
            )
            .bind(service_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(AlertSettings::from).unwrap_or_default())
    }

    pub async fn set_alert_settings(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        service_id: Uuid,
        settings: &AlertSettings,
    ) -> StoreResult<()> {
        let before = self.alert_settings(service_id).await?;
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO service_alert_settings (service_id, grouping, group_window_seconds, \
                 auto_resolve, rules, updated_at, reopen_window_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (service_id) DO UPDATE \
                 SET grouping = excluded.grouping, group_window_seconds = \
                 excluded.group_window_seconds, auto_resolve = excluded.auto_resolve, rules = \
                 excluded.rules, updated_at = excluded.updated_at, \
                 reopen_window_seconds = excluded.reopen_window_seconds",
            )
            .bind(service_id)
            .bind(settings.grouping.as_str())
            .bind(settings.group_window_seconds)
            .bind(settings.auto_resolve)
            .bind(Json(&settings.rules))
            .bind(now.timestamp_millis())
            .bind(settings.reopen_window_seconds)
            .execute(&mut *tx)
            .await?;
            // The ingest writer keeps settings while the catalogue revision holds.
            bump!(tx, crate::catalogue::CATALOGUE);
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "service.alert_settings",
                    "service",
                    Some(service_id),
                    format!("Changed the alert settings of {}", crate::audit::name_of!(tx, "services", service_id))
                )
                .before(&before)
                .after(settings)
            );
        });
        Ok(())
    }
}
