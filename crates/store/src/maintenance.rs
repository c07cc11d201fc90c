//! Maintenance windows.

use crate::audit::{audit, bump};
use crate::monitor::MONITORS;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::maintenance::WindowSpec;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Window {
    pub id: Uuid,
    #[serde(flatten)]
    pub spec: WindowSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    description: String,
    starts_at: i64,
    duration_minutes: i32,
    rrule: Option<String>,
    timezone: String,
    service_ids: Json<Vec<Uuid>>,
    monitor_ids: Json<Vec<Uuid>>,
    created_at: i64,
    updated_at: i64,
}

impl From<Row> for Window {
    fn from(r: Row) -> Self {
        Window {
            id: r.id,
            spec: WindowSpec {
                name: r.name,
                description: r.description,
                starts_at: from_millis(r.starts_at),
                duration_minutes: r.duration_minutes,
                rrule: r.rrule,
                timezone: r.timezone,
                service_ids: r.service_ids.0,
                monitor_ids: r.monitor_ids.0,
            },
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const COLS: &str = "id, name, description, starts_at, duration_minutes, rrule, timezone, service_ids, \
                    monitor_ids, created_at, updated_at";

/// More windows than this is a configuration problem, not a schedule.
pub const MAX_WINDOWS: i64 = 1000;

impl Db {
    pub async fn create_window(&self, actor: &Actor, now: DateTime<Utc>, spec: WindowSpec) -> StoreResult<Window> {
        let w = Window { id: Uuid::now_v7(), spec, created_at: now, updated_at: now };
        let s = &w.spec;
        write_tx!(self, |tx| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM maintenance_windows").fetch_one(&mut *tx).await?;
            if n >= MAX_WINDOWS {
                return Err(StoreError::Conflict(format!(
                    "at most {MAX_WINDOWS} maintenance windows; delete old ones first"
                )));
            }
            sqlx::query(
                "INSERT INTO maintenance_windows (id, name, description, starts_at, \
                 duration_minutes, rrule, timezone, service_ids, monitor_ids, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
            )
            .bind(w.id)
            .bind(&s.name)
            .bind(&s.description)
            .bind(s.starts_at.timestamp_millis())
            .bind(s.duration_minutes)
            .bind(&s.rrule)
            .bind(&s.timezone)
            .bind(Json(&s.service_ids))
            .bind(Json(&s.monitor_ids))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "maintenance.create",
                    "maintenance",
                    Some(w.id),
                    format!("Planned maintenance {}", s.name)
                )
                .after(s)
            );
            bump!(tx, MONITORS);
        });
        Ok(w)
    }

    pub async fn get_window(&self, id: Uuid) -> StoreResult<Window> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM maintenance_windows WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Window::from).ok_or(StoreError::NotFound(Entity::MaintenanceWindow))
    }

    /// Every window, newest first start (bounded by [`MAX_WINDOWS`]).
    pub async fn list_windows(&self) -> StoreResult<Vec<Window>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM maintenance_windows ORDER BY starts_at DESC LIMIT $1"
            )))
            .bind(MAX_WINDOWS)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Window::from).collect())
    }

    pub async fn update_window(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        spec: WindowSpec,
    ) -> StoreResult<Window> {
        let before = self.get_window(id).await?;
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE maintenance_windows SET name = $1, description = $2, starts_at = $3, \
                 duration_minutes = $4, rrule = $5, timezone = $6, service_ids = $7, monitor_ids = \
                 $8, updated_at = $9 WHERE id = $10",
            )
            .bind(&spec.name)
            .bind(&spec.description)
            .bind(spec.starts_at.timestamp_millis())
            .bind(spec.duration_minutes)
            .bind(&spec.rrule)
            .bind(&spec.timezone)
            .bind(Json(&spec.service_ids))
            .bind(Json(&spec.monitor_ids))
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "maintenance.update",
                    "maintenance",
                    Some(id),
                    format!("Changed maintenance {}", spec.name)
                )
                .before(&before.spec)
                .after(&spec)
            );
            bump!(tx, MONITORS);
        });
        Ok(Window { spec, updated_at: now, ..before })
    }

    pub async fn delete_window(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_window(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM maintenance_windows WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "maintenance.delete",
                    "maintenance",
                    Some(id),
                    format!("Deleted maintenance {}", before.spec.name)
                )
                .before(&before.spec)
            );
            bump!(tx, MONITORS);
        });
        Ok(())
    }
}
