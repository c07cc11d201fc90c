//! Public incidents on status pages: one per (page, internal incident), with the updates
//! responders post from the internal incident.

use crate::audit::{audit, bump};
use crate::status_page::{STATUS_PAGES, StatusPage};
use crate::status_subscriber::queue_update_deliveries;
use crate::timeline::{TimelineEntry, insert_timeline};
use crate::{Db, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::incident::{Sev, kind};
use opsdeck_core::status_page::{ComponentStatus, Impact, IncidentStatus, UpdateSpec};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use std::collections::HashMap;
use uuid::Uuid;

/// Public incidents a page lists, at most (statuspage.io's `incidents.json` has the last 50).
pub const RECENT_MAX: i64 = 50;

/// A component an update names: its status before and after, as statuspage.io records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    pub code: Uuid,
    pub name: String,
    pub old_status: String,
    pub new_status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicUpdate {
    pub id: Uuid,
    pub status: IncidentStatus,
    pub body: String,
    pub affected: Vec<Affected>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicIncident {
    pub id: Uuid,
    pub page_id: Uuid,
    /// The internal incident it tells about (gone if that was deleted).
    pub incident_id: Option<Uuid>,
    pub name: String,
    pub status: IncidentStatus,
    pub impact: Impact,
    /// Components and the status this incident gives them while unresolved.
    pub components: Vec<(Uuid, ComponentStatus)>,
    pub started_at: DateTime<Utc>,
    pub monitoring_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Newest first.
    pub updates: Vec<PublicUpdate>,
}

/// The internal incident an update is posted from.
pub struct Source<'a> {
    pub id: Uuid,
    pub title: &'a str,
    pub severity: Sev,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    page_id: Uuid,
    incident_id: Option<Uuid>,
    name: String,
    status: String,
    impact: String,
    components: Json<Vec<(Uuid, String)>>,
    started_at: i64,
    monitoring_at: Option<i64>,
    resolved_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct UpdateRow {
    id: Uuid,
    status_incident_id: Uuid,
    status: String,
    body: String,
    affected: Json<Vec<Affected>>,
    created_at: i64,
}

const COLS: &str = "id, page_id, incident_id, name, status, impact, components, started_at, monitoring_at, \
                    resolved_at, created_at, updated_at";

fn stored(components: &[(Uuid, ComponentStatus)]) -> Vec<(Uuid, &'static str)> {
    components.iter().map(|(id, s)| (*id, s.as_str())).collect()
}

impl Db {
    /// Posts an update about `source` on `page`: opens the page's public incident for it on the
    /// first update, records the update (with `affected`, the components' statuses before and
    /// after), notes it on the internal timeline, all in one transaction.
    pub async fn post_public_update(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        page: &StatusPage,
        source: Source<'_>,
        spec: &UpdateSpec,
        affected: Vec<Affected>,
    ) -> StoreResult<Uuid> {
        let now_ms = now.timestamp_millis();
        let backend = self.backend();
        let id = write_tx!(self, |tx| {
            let existing: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM status_incidents WHERE page_id = $1 AND incident_id = $2"
            )))
            .bind(page.id)
            .bind(source.id)
            .fetch_optional(&mut *tx)
            .await?;
            let components: Vec<(Uuid, ComponentStatus)> = match (&spec.components, &existing) {
                (Some(c), _) => c.clone(),
                (None, Some(row)) => {
                    row.components.0.iter().filter_map(|(id, s)| Some((*id, ComponentStatus::parse(s)?))).collect()
                }
                (None, None) => Vec::new(),
            };
            let impact = Impact::of(components.iter().map(|c| c.1), source.severity);
            let resolved_at = (spec.status == IncidentStatus::Resolved).then_some(now_ms);
            let id = match &existing {
                Some(row) => {
                    let monitoring_at =
                        row.monitoring_at.or((spec.status == IncidentStatus::Monitoring).then_some(now_ms));
                    sqlx::query(
                        "UPDATE status_incidents SET status = $1, impact = $2, components = $3, monitoring_at = $4, \
                         resolved_at = $5, updated_at = $6, name = COALESCE($8, name) WHERE id = $7",
                    )
                    .bind(spec.status.as_str())
                    .bind(impact.as_str())
                    .bind(Json(stored(&components)))
                    .bind(monitoring_at)
                    .bind(resolved_at)
                    .bind(now_ms)
                    .bind(row.id)
                    .bind(spec.name.as_deref())
                    .execute(&mut *tx)
                    .await?;
                    row.id
                }
                None => {
                    let id = Uuid::now_v7();
                    sqlx::query(
                        "INSERT INTO status_incidents (id, page_id, incident_id, name, status, impact, components, \
                         started_at, monitoring_at, resolved_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $8, $8)",
                    )
                    .bind(id)
                    .bind(page.id)
                    .bind(source.id)
                    .bind(spec.name.as_deref().unwrap_or(source.title))
                    .bind(spec.status.as_str())
                    .bind(impact.as_str())
                    .bind(Json(stored(&components)))
                    .bind(now_ms)
                    .bind((spec.status == IncidentStatus::Monitoring).then_some(now_ms))
                    .bind(resolved_at)
                    .execute(&mut *tx)
                    .await?;
                    id
                }
            };
            let update_id = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO status_incident_updates (id, status_incident_id, status, body, affected, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(update_id)
            .bind(id)
            .bind(spec.status.as_str())
            .bind(&spec.body)
            .bind(Json(&affected))
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            if spec.notify {
                let named: Vec<Uuid> = components.iter().map(|c| c.0).collect();
                queue_update_deliveries!(tx, backend, "update", page.id, update_id, &named, now_ms);
            }
            let note = format!("On status page {} ({}): {}", page.title, spec.status.as_str(), spec.body);
            insert_timeline!(
                tx,
                backend,
                vec![TimelineEntry::new(source.id, now_ms, kind::STATUS_UPDATE, &actor.label, note)]
            );
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "status_page.incident_update",
                    "status_page",
                    Some(page.id),
                    format!("Posted {} on {} about {}", spec.status.as_str(), page.slug, source.title)
                )
                .after(spec)
            );
            bump!(tx, STATUS_PAGES);
            id
        });
        Ok(id)
    }

    /// A page's public incidents, newest first: the unresolved ones, or the latest `limit` of all.
    pub async fn public_incidents(
        &self,
        page_id: Uuid,
        unresolved: bool,
        limit: i64,
    ) -> StoreResult<Vec<PublicIncident>> {
        let limit = limit.clamp(1, RECENT_MAX);
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM status_incidents WHERE page_id = $1 AND ($2 = FALSE OR resolved_at IS NULL) \
                 ORDER BY created_at DESC LIMIT $3"
            )))
            .bind(page_id)
            .bind(unresolved)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        self.with_updates(rows).await
    }

    /// Unresolved public incidents on every page, newest first: (page slug, page title,
    /// incident id, name, status).
    pub async fn unresolved_public_incidents(
        &self,
        limit: i64,
    ) -> StoreResult<Vec<(String, String, Uuid, String, String)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT p.slug, p.title, i.id, i.name, i.status FROM status_incidents i JOIN status_pages p \
                 ON p.id = i.page_id WHERE i.resolved_at IS NULL ORDER BY i.created_at DESC LIMIT $1",
            )
            .bind(limit.clamp(1, RECENT_MAX))
            .fetch_all(pool)
            .await?
        }))
    }

    /// What an internal incident has posted, one public incident per status page.
    pub async fn public_incidents_of(&self, incident_id: Uuid) -> StoreResult<Vec<PublicIncident>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM status_incidents WHERE incident_id = $1 ORDER BY created_at DESC LIMIT $2"
            )))
            .bind(incident_id)
            .bind(crate::status_page::MAX_PAGES)
            .fetch_all(pool)
            .await?
        });
        self.with_updates(rows).await
    }

    async fn with_updates(&self, rows: Vec<Row>) -> StoreResult<Vec<PublicIncident>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, status_incident_id, status, body, affected, created_at FROM status_incident_updates \
             WHERE status_incident_id IN ({}) ORDER BY created_at DESC, id DESC",
            crate::dialect::placeholders(self.backend(), rows.len(), 1)
        );
        let updates: Vec<UpdateRow> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for r in &rows {
                q = q.bind(r.id);
            }
            q.fetch_all(pool).await?
        });
        let mut by_incident: HashMap<Uuid, Vec<PublicUpdate>> = HashMap::new();
        for u in updates {
            let Some(status) = IncidentStatus::parse(&u.status) else { continue };
            by_incident.entry(u.status_incident_id).or_default().push(PublicUpdate {
                id: u.id,
                status,
                body: u.body,
                affected: u.affected.0,
                created_at: from_millis(u.created_at),
            });
        }
        Ok(rows
            .into_iter()
            .map(|r| PublicIncident {
                updates: by_incident.remove(&r.id).unwrap_or_default(),
                id: r.id,
                page_id: r.page_id,
                incident_id: r.incident_id,
                name: r.name,
                status: IncidentStatus::parse(&r.status).unwrap_or(IncidentStatus::Investigating),
                impact: Impact::parse(&r.impact).unwrap_or(Impact::None),
                components: r
                    .components
                    .0
                    .iter()
                    .filter_map(|(id, s)| Some((*id, ComponentStatus::parse(s)?)))
                    .collect(),
                started_at: from_millis(r.started_at),
                monitoring_at: r.monitoring_at.map(from_millis),
                resolved_at: r.resolved_at.map(from_millis),
                created_at: from_millis(r.created_at),
                updated_at: from_millis(r.updated_at),
            })
            .collect())
    }
}
