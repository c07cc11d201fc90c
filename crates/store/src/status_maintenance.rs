//! Scheduled maintenance on status pages, persisted: one row per (page, window occurrence),
//! its updates, and the subscriber messages each step sends. [`Db::sync_maintenance`] brings the
//! rows in line with the maintenance windows; every step is a compare-and-set on the row's
//! status inside one transaction, so nodes running it at once apply (and notify) each once.

use crate::audit::bump;
use crate::status_page::STATUS_PAGES;
use crate::status_subscriber::queue_update_deliveries;
use crate::{Db, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::clock::from_millis;
use opsdeck_core::status_maintenance::{self as sm, Followed, Known, MaintenanceStatus, Step, Wanted};
use sqlx::types::Json;
use std::collections::HashMap;
use uuid::Uuid;

/// Completed maintenance a page lists, at most (statuspage.io lists the latest 50).
pub const COMPLETED_MAX: i64 = 50;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MaintenanceUpdate {
    pub id: Uuid,
    pub status: MaintenanceStatus,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A maintenance as a page shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PageMaintenance {
    pub id: Uuid,
    pub page_id: Uuid,
    pub window_id: Option<Uuid>,
    pub name: String,
    /// The announcement.
    pub body: String,
    pub status: MaintenanceStatus,
    pub components: Vec<Uuid>,
    pub scheduled_for: DateTime<Utc>,
    pub scheduled_until: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Newest first.
    pub updates: Vec<MaintenanceUpdate>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    page_id: Uuid,
    window_id: Option<Uuid>,
    name: String,
    body: String,
    status: String,
    components: Json<Vec<Uuid>>,
    scheduled_for: i64,
    scheduled_until: i64,
    reminded_at: Option<i64>,
    started_at: Option<i64>,
    completed_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

const COLS: &str = "id, page_id, window_id, name, body, status, components, scheduled_for, scheduled_until, \
                    reminded_at, started_at, completed_at, created_at, updated_at";

impl Row {
    fn status(&self) -> MaintenanceStatus {
        MaintenanceStatus::parse(&self.status).unwrap_or(MaintenanceStatus::Completed)
    }

    fn known(&self) -> Known {
        Known {
            id: self.id,
            page_id: self.page_id,
            window_id: self.window_id,
            name: self.name.clone(),
            body: self.body.clone(),
            status: self.status(),
            starts: from_millis(self.scheduled_for),
            ends: from_millis(self.scheduled_until),
            components: self.components.0.clone(),
            reminded: self.reminded_at.is_some(),
            created_at: from_millis(self.created_at),
        }
    }
}

impl Db {
    /// Brings the pages' scheduled maintenance in line with the maintenance windows at `now`:
    /// announces new occurrences, reminds, starts and completes them, each step with its
    /// subscriber messages. Returns how many steps it applied.
    pub async fn sync_maintenance(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let windows: Vec<_> = self.list_windows().await?.into_iter().filter(|w| w.spec.problem().is_none()).collect();
        let pages = self.list_status_pages().await?;
        // Services of the monitors windows and components name (a window covers a monitor by its service).
        let window_monitors: Vec<Uuid> = windows
            .iter()
            .flat_map(|w| w.spec.monitor_ids.iter().copied())
            .chain(pages.iter().flat_map(|p| p.components.iter().flat_map(|c| c.monitor_ids.iter().copied())))
            .collect();
        let service_of: HashMap<Uuid, Option<Uuid>> =
            self.page_monitors(&window_monitors, &[]).await?.into_iter().map(|m| (m.0, m.1)).collect();
        let lookup = |m: Uuid| service_of.get(&m).copied().flatten();
        let mut wanted = Vec::new();
        for page in &pages {
            let comps: Vec<Followed<'_>> = page
                .components
                .iter()
                .filter(|c| !c.is_group)
                .map(|c| Followed { component_id: c.id, service_id: c.service_id, monitor_ids: &c.monitor_ids })
                .collect();
            for w in &windows {
                let covered = sm::covered(&w.spec, &comps, &lookup);
                wanted.extend(Wanted::of(page.id, w.id, &w.spec, covered, now));
            }
        }
        let now_ms = now.timestamp_millis();
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM status_maintenances WHERE status <> 'completed' OR scheduled_until > $1"
            )))
            .bind(now_ms)
            .fetch_all(pool)
            .await?
        });
        let known: Vec<Known> = rows.iter().map(Row::known).collect();
        let steps = sm::plan(now, &wanted, &known);
        if steps.is_empty() {
            return Ok(0);
        }
        let components_of: HashMap<Uuid, Vec<Uuid>> = known.iter().map(|k| (k.id, k.components.clone())).collect();
        let backend = self.backend();
        let applied = write_tx!(self, |tx| {
            let mut applied = 0usize;
            for step in &steps {
                // (maintenance, its components, the status it moved to and what it says), when notified.
                let said: Option<(Uuid, &[Uuid], MaintenanceStatus, &str)> = match step {
                    Step::Announce(w) => {
                        let id = Uuid::now_v7();
                        let status =
                            if w.starts <= now { MaintenanceStatus::InProgress } else { MaintenanceStatus::Scheduled };
                        let started = (status == MaintenanceStatus::InProgress).then_some(now_ms);
                        let n = sqlx::query(
                            "INSERT INTO status_maintenances (id, page_id, window_id, name, body, status, components, \
                             scheduled_for, scheduled_until, started_at, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) ON CONFLICT DO NOTHING",
                        )
                        .bind(id)
                        .bind(w.page_id)
                        .bind(w.window_id)
                        .bind(&w.name)
                        .bind(&w.body)
                        .bind(status.as_str())
                        .bind(Json(&w.components))
                        .bind(w.starts.timestamp_millis())
                        .bind(w.ends.timestamp_millis())
                        .bind(started)
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        (n == 1).then_some((id, w.components.as_slice(), status, w.body.as_str()))
                    }
                    Step::Revise { id, from, wanted } => {
                        let n = sqlx::query(
                            "UPDATE status_maintenances SET name = $1, body = $2, components = $3, \
                             scheduled_until = $4, updated_at = $5 WHERE id = $6 AND status = $7",
                        )
                        .bind(&wanted.name)
                        .bind(&wanted.body)
                        .bind(Json(&wanted.components))
                        .bind(wanted.ends.timestamp_millis())
                        .bind(now_ms)
                        .bind(id)
                        .bind(from.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        applied += n as usize;
                        None
                    }
                    Step::Remind { id } => {
                        let n = sqlx::query(
                            "UPDATE status_maintenances SET reminded_at = $1 WHERE id = $2 AND status = 'scheduled' \
                             AND reminded_at IS NULL",
                        )
                        .bind(now_ms)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if n == 1 {
                            let (page, comps) =
                                (page_of(&known, *id), components_of.get(id).cloned().unwrap_or_default());
                            queue_update_deliveries!(tx, backend, "reminder", page, *id, &comps, now_ms);
                            applied += 1;
                        }
                        None
                    }
                    Step::Start { id } => {
                        let n = sqlx::query(
                            "UPDATE status_maintenances SET status = 'in_progress', started_at = $1, updated_at = $1 \
                             WHERE id = $2 AND status = 'scheduled'",
                        )
                        .bind(now_ms)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        let comps = components_of.get(id).map(Vec::as_slice).unwrap_or_default();
                        (n == 1).then_some((*id, comps, MaintenanceStatus::InProgress, sm::STARTED))
                    }
                    Step::Complete { id, from, body } => {
                        let n = sqlx::query(
                            "UPDATE status_maintenances SET status = 'completed', completed_at = $1, updated_at = $1 \
                             WHERE id = $2 AND status = $3",
                        )
                        .bind(now_ms)
                        .bind(id)
                        .bind(from.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        let comps = components_of.get(id).map(Vec::as_slice).unwrap_or_default();
                        (n == 1).then_some((*id, comps, MaintenanceStatus::Completed, *body))
                    }
                };
                let Some((id, comps, status, body)) = said else { continue };
                let update_id = Uuid::now_v7();
                sqlx::query(
                    "INSERT INTO status_maintenance_updates (id, maintenance_id, status, body, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(update_id)
                .bind(id)
                .bind(status.as_str())
                .bind(body)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                let page = match step {
                    Step::Announce(w) => w.page_id,
                    _ => page_of(&known, id),
                };
                queue_update_deliveries!(tx, backend, "maintenance", page, update_id, comps, now_ms);
                applied += 1;
            }
            if applied > 0 {
                bump!(tx, STATUS_PAGES);
            }
            applied
        });
        Ok(applied)
    }

    /// A page's maintenance: scheduled and in progress by start, then the latest completed.
    pub async fn page_maintenances(&self, page_id: Uuid) -> StoreResult<Vec<PageMaintenance>> {
        let (open, done): (Vec<Row>, Vec<Row>) = with_db!(self, |pool| {
            let open = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM status_maintenances WHERE page_id = $1 AND status <> 'completed' \
                 ORDER BY scheduled_for"
            )))
            .bind(page_id)
            .fetch_all(pool)
            .await?;
            let done = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM status_maintenances WHERE page_id = $1 AND status = 'completed' \
                 ORDER BY completed_at DESC LIMIT $2"
            )))
            .bind(page_id)
            .bind(COMPLETED_MAX)
            .fetch_all(pool)
            .await?;
            (open, done)
        });
        let rows: Vec<Row> = open.into_iter().chain(done).collect();
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut updates: HashMap<Uuid, Vec<MaintenanceUpdate>> = HashMap::new();
        for chunk in crate::dialect::fixed_chunks(&rows.iter().map(|r| r.id).collect::<Vec<_>>()) {
            let sql = format!(
                "SELECT id, maintenance_id, status, body, created_at FROM status_maintenance_updates \
                 WHERE maintenance_id IN ({}) ORDER BY created_at DESC, id DESC",
                crate::dialect::placeholders(self.backend(), chunk.len(), 1)
            );
            let found: Vec<(Uuid, Uuid, String, String, i64)> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            for (id, of, status, body, at) in found {
                let Some(status) = MaintenanceStatus::parse(&status) else { continue };
                updates.entry(of).or_default().push(MaintenanceUpdate {
                    id,
                    status,
                    body,
                    created_at: from_millis(at),
                });
            }
        }
        Ok(rows
            .into_iter()
            .map(|r| PageMaintenance {
                status: r.status(),
                updates: updates.remove(&r.id).unwrap_or_default(),
                id: r.id,
                page_id: r.page_id,
                window_id: r.window_id,
                name: r.name,
                body: r.body,
                components: r.components.0,
                scheduled_for: from_millis(r.scheduled_for),
                scheduled_until: from_millis(r.scheduled_until),
                started_at: r.started_at.map(from_millis),
                completed_at: r.completed_at.map(from_millis),
                created_at: from_millis(r.created_at),
                updated_at: from_millis(r.updated_at),
            })
            .collect())
    }
}

fn page_of(known: &[Known], id: Uuid) -> Uuid {
    known.iter().find(|k| k.id == id).map(|k| k.page_id).unwrap_or_default()
}
