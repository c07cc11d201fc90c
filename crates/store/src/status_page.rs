//! Status pages and their components; the reads a public page needs (monitor states, daily
//! uptime of the monitors behind each component).

use crate::audit::{audit, bump};
use crate::error::unique;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::status_page::{ComponentSpec, ComponentStatus, FooterLink, PageSpec, VendorRef};
use sqlx::types::Json;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

pub use crate::status_uptime::DayUptime;

/// Inserts or updates one planned component (its override and creation time stay).
macro_rules! upsert_component {
    ($tx:expr, $page:expr, $c:expr, $now:expr) => {{
        let c = $c;
        sqlx::query(
            "INSERT INTO status_page_components (id, page_id, position, name, description, is_group, group_id, \
             service_id, monitor_ids, only_show_if_degraded, vendor_id, vendor_component, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $12, $13, $11, $11) ON CONFLICT (id) DO UPDATE SET \
             position = excluded.position, name = excluded.name, description = excluded.description, \
             group_id = excluded.group_id, service_id = excluded.service_id, monitor_ids = excluded.monitor_ids, \
             only_show_if_degraded = excluded.only_show_if_degraded, vendor_id = excluded.vendor_id, \
             vendor_component = excluded.vendor_component, updated_at = excluded.updated_at",
        )
        .bind(c.id)
        .bind($page)
        .bind(c.position)
        .bind(c.name)
        .bind(c.description)
        .bind(c.is_group)
        .bind(c.group_id)
        .bind(c.service_id)
        .bind(Json(c.monitor_ids))
        .bind(c.only_show_if_degraded)
        .bind($now)
        .bind(c.vendor.map(|v| v.vendor_id))
        .bind(c.vendor.map(|v| v.component.as_str()))
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Revision counter of status pages (their configuration, not their live status).
pub const STATUS_PAGES: &str = "status_pages";
/// More pages than this is a configuration problem.
pub const MAX_PAGES: i64 = 100;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Component {
    pub id: Uuid,
    pub position: i32,
    pub name: String,
    pub description: String,
    pub is_group: bool,
    pub group_id: Option<Uuid>,
    pub service_id: Option<Uuid>,
    pub monitor_ids: Vec<Uuid>,
    pub only_show_if_degraded: bool,
    /// A third-party component: the vendor (and its component) it follows.
    pub vendor: Option<VendorRef>,
    /// A status set by hand, in force until `override_until` (or until cleared).
    pub override_status: Option<ComponentStatus>,
    pub override_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Component {
    /// The manual status when it is still in force at `now`.
    pub fn manual(&self, now: DateTime<Utc>) -> Option<ComponentStatus> {
        self.override_status.filter(|_| self.override_until.is_none_or(|u| u > now))
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatusPage {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub time_zone: String,
    pub accent_color: Option<String>,
    pub custom_domain: Option<String>,
    pub logo_url: Option<String>,
    pub footer_links: Vec<FooterLink>,
    /// Set on a private page: visitors need the password (argon2id hash; never shown).
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// Set on a private page: the signed-in members of these teams (and admins) may read it.
    pub viewer_team_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Groups and components in display order (a group's members follow it).
    pub components: Vec<Component>,
}

impl StatusPage {
    /// The page as its editor sees it: components (not groups) naming their group.
    pub fn spec(&self) -> PageSpec {
        let names: HashMap<Uuid, &str> =
            self.components.iter().filter(|c| c.is_group).map(|c| (c.id, c.name.as_str())).collect();
        PageSpec {
            slug: self.slug.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            time_zone: self.time_zone.clone(),
            accent_color: self.accent_color.clone(),
            custom_domain: self.custom_domain.clone(),
            logo_url: self.logo_url.clone(),
            footer_links: self.footer_links.clone(),
            components: self
                .components
                .iter()
                .filter(|c| !c.is_group)
                .map(|c| ComponentSpec {
                    id: Some(c.id),
                    name: c.name.clone(),
                    description: c.description.clone(),
                    group: c.group_id.and_then(|g| names.get(&g)).map(|g| (*g).to_owned()),
                    service_id: c.service_id,
                    monitor_ids: c.monitor_ids.clone(),
                    only_show_if_degraded: c.only_show_if_degraded,
                    vendor: c.vendor.clone(),
                })
                .collect(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct PageRow {
    id: Uuid,
    slug: String,
    title: String,
    description: String,
    time_zone: String,
    accent_color: Option<String>,
    custom_domain: Option<String>,
    password_hash: Option<String>,
    logo_url: Option<String>,
    footer_links: Option<Json<Vec<FooterLink>>>,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct ComponentRow {
    id: Uuid,
    page_id: Uuid,
    position: i32,
    name: String,
    description: String,
    is_group: bool,
    group_id: Option<Uuid>,
    service_id: Option<Uuid>,
    monitor_ids: Json<Vec<Uuid>>,
    only_show_if_degraded: bool,
    vendor_id: Option<Uuid>,
    vendor_component: Option<String>,
    override_status: Option<String>,
    override_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl From<ComponentRow> for Component {
    fn from(r: ComponentRow) -> Self {
        Component {
            id: r.id,
            position: r.position,
            name: r.name,
            description: r.description,
            is_group: r.is_group,
            group_id: r.group_id,
            service_id: r.service_id,
            monitor_ids: r.monitor_ids.0,
            only_show_if_degraded: r.only_show_if_degraded,
            vendor: r
                .vendor_id
                .map(|vendor_id| VendorRef { vendor_id, component: r.vendor_component.unwrap_or_default() }),
            override_status: r.override_status.as_deref().and_then(ComponentStatus::parse),
            override_until: r.override_until.map(from_millis),
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const PAGE_COLS: &str = "id, slug, title, description, time_zone, accent_color, custom_domain, password_hash, \
                         logo_url, footer_links, created_at, updated_at";
const COMPONENT_COLS: &str = "id, page_id, position, name, description, is_group, group_id, service_id, monitor_ids, \
                              only_show_if_degraded, vendor_id, vendor_component, override_status, override_until, \
                              created_at, updated_at";

/// A component row to write: its place, its group and what it follows.
struct Planned<'a> {
    id: Uuid,
    position: i32,
    name: &'a str,
    description: &'a str,
    is_group: bool,
    group_id: Option<Uuid>,
    service_id: Option<Uuid>,
    monitor_ids: &'a [Uuid],
    only_show_if_degraded: bool,
    vendor: Option<&'a VendorRef>,
}

/// Lays out `spec`'s components: each group where its first member appears, followed by its
/// members; existing ids are kept (groups by name), others are new.
fn plan<'a>(spec: &'a PageSpec, existing: &[Component]) -> StoreResult<Vec<Planned<'a>>> {
    let known: HashSet<Uuid> = existing.iter().filter(|c| !c.is_group).map(|c| c.id).collect();
    let group_ids: HashMap<&str, Uuid> =
        existing.iter().filter(|c| c.is_group).map(|c| (c.name.as_str(), c.id)).collect();
    let mut out: Vec<Planned<'a>> = Vec::new();
    let mut placed_groups: HashSet<&str> = HashSet::new();
    let mut position = 0i32;
    let mut next = || {
        position += 1;
        position
    };
    let leaf = |c: &'a ComponentSpec, id: Uuid, group_id: Option<Uuid>, position: i32| Planned {
        id,
        position,
        name: &c.name,
        description: &c.description,
        is_group: false,
        group_id,
        service_id: c.service_id,
        monitor_ids: &c.monitor_ids,
        only_show_if_degraded: c.only_show_if_degraded,
        vendor: c.vendor.as_ref(),
    };
    for (i, c) in spec.components.iter().enumerate() {
        let id = match c.id {
            Some(id) if known.contains(&id) => id,
            Some(id) => {
                return Err(StoreError::Invalid(opsdeck_core::Error::invalid(
                    "components",
                    format!("component {}: this page has no component with id {id}", i + 1),
                )));
            }
            None => Uuid::now_v7(),
        };
        match c.group.as_deref() {
            None => out.push(leaf(c, id, None, next())),
            Some(g) if placed_groups.insert(g) => {
                let gid = group_ids.get(g).copied().unwrap_or_else(Uuid::now_v7);
                out.push(Planned {
                    id: gid,
                    position: next(),
                    name: g,
                    description: "",
                    is_group: true,
                    group_id: None,
                    service_id: None,
                    monitor_ids: &[],
                    only_show_if_degraded: false,
                    vendor: None,
                });
                for m in spec.components.iter().filter(|m| m.group.as_deref() == Some(g)) {
                    let mid = if std::ptr::eq(m, c) {
                        id
                    } else {
                        m.id.filter(|x| known.contains(x)).unwrap_or_else(Uuid::now_v7)
                    };
                    out.push(leaf(m, mid, Some(gid), next()));
                }
            }
            Some(_) => {} // placed with its group
        }
    }
    Ok(out)
}

impl Db {
    pub async fn create_status_page(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        spec: PageSpec,
    ) -> StoreResult<StatusPage> {
        let id = Uuid::now_v7();
        let planned = plan(&spec, &[])?;
        let now_ms = now.timestamp_millis();
        write_tx!(self, |tx| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM status_pages").fetch_one(&mut *tx).await?;
            if n >= MAX_PAGES {
                return Err(StoreError::Conflict(format!("at most {MAX_PAGES} status pages; delete one first")));
            }
            sqlx::query(
                "INSERT INTO status_pages (id, slug, title, description, time_zone, accent_color, created_at, \
                 updated_at, custom_domain, logo_url, footer_links) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10)",
            )
            .bind(id)
            .bind(&spec.slug)
            .bind(&spec.title)
            .bind(&spec.description)
            .bind(&spec.time_zone)
            .bind(&spec.accent_color)
            .bind(now_ms)
            .bind(&spec.custom_domain)
            .bind(&spec.logo_url)
            .bind(Json(&spec.footer_links))
            .execute(&mut *tx)
            .await
            .map_err(unique("a status page with this slug or custom domain already exists; choose another"))?;
            for c in &planned {
                upsert_component!(tx, id, c, now_ms);
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "status_page.create",
                    "status_page",
                    Some(id),
                    format!("Created status page {}", spec.slug)
                )
                .after(&spec)
            );
            bump!(tx, STATUS_PAGES);
        });
        self.get_status_page(id).await
    }

    pub async fn update_status_page(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &StatusPage,
        spec: PageSpec,
    ) -> StoreResult<StatusPage> {
        let planned = plan(&spec, &before.components)?;
        let now_ms = now.timestamp_millis();
        let id = before.id;
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE status_pages SET slug = $1, title = $2, description = $3, time_zone = $4, accent_color = $5, \
                 updated_at = $6, custom_domain = $8, logo_url = $9, footer_links = $10 WHERE id = $7",
            )
            .bind(&spec.slug)
            .bind(&spec.title)
            .bind(&spec.description)
            .bind(&spec.time_zone)
            .bind(&spec.accent_color)
            .bind(now_ms)
            .bind(id)
            .bind(&spec.custom_domain)
            .bind(&spec.logo_url)
            .bind(Json(&spec.footer_links))
            .execute(&mut *tx)
            .await
            .map_err(unique("a status page with this slug or custom domain already exists; choose another"))?;
            // Groups first (members refer to them), then removals: a member moved out of a
            // removed group has its new group already, so the cascade takes only what went.
            for c in planned.iter().filter(|c| c.is_group).chain(planned.iter().filter(|c| !c.is_group)) {
                upsert_component!(tx, id, c, now_ms);
            }
            let keep: HashSet<Uuid> = planned.iter().map(|c| c.id).collect();
            for gone in before.components.iter().filter(|c| !keep.contains(&c.id)) {
                sqlx::query("DELETE FROM status_page_components WHERE id = $1").bind(gone.id).execute(&mut *tx).await?;
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "status_page.update",
                    "status_page",
                    Some(id),
                    format!("Changed status page {}", spec.slug)
                )
                .before(before.spec())
                .after(&spec)
            );
            bump!(tx, STATUS_PAGES);
        });
        self.get_status_page(id).await
    }

    pub async fn delete_status_page(&self, actor: &Actor, now: DateTime<Utc>, before: &StatusPage) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM status_pages WHERE id = $1").bind(before.id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "status_page.delete",
                    "status_page",
                    Some(before.id),
                    format!("Deleted status page {}", before.slug)
                )
                .before(before.spec())
            );
            bump!(tx, STATUS_PAGES);
        });
        Ok(())
    }

    /// Sets (or with `None` clears) the manual status of one component, until `until` if given.
    pub async fn set_component_override(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        page: &StatusPage,
        component_id: Uuid,
        status: Option<ComponentStatus>,
        until: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let c = page
            .components
            .iter()
            .find(|c| c.id == component_id && !c.is_group)
            .ok_or_else(|| opsdeck_core::Error::invalid("component_id", "this page has no such component"))?;
        let until = status.and(until);
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE status_page_components SET override_status = $1, override_until = $2, updated_at = $3 \
                 WHERE id = $4",
            )
            .bind(status.map(ComponentStatus::as_str))
            .bind(until.map(|u| u.timestamp_millis()))
            .bind(now.timestamp_millis())
            .bind(c.id)
            .execute(&mut *tx)
            .await?;
            let summary = match status {
                Some(s) => format!("Set {} on {} to {}", c.name, page.slug, s.as_str()),
                None => format!("Cleared the manual status of {} on {}", c.name, page.slug),
            };
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("status_page.override", "status_page", Some(page.id), summary)
                    .after(serde_json::json!({"component_id": c.id, "status": status, "until": until}))
            );
            bump!(tx, STATUS_PAGES);
        });
        Ok(())
    }

    pub async fn get_status_page(&self, id: Uuid) -> StoreResult<StatusPage> {
        let row: Option<PageRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {PAGE_COLS} FROM status_pages WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        let row = row.ok_or(StoreError::NotFound(Entity::StatusPage))?;
        Ok(self.with_components(vec![row]).await?.remove(0))
    }

    pub async fn get_status_page_by_slug(&self, slug: &str) -> StoreResult<StatusPage> {
        let row: Option<PageRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {PAGE_COLS} FROM status_pages WHERE slug = $1")))
                .bind(slug)
                .fetch_optional(pool)
                .await?
        });
        let row = row.ok_or(StoreError::NotFound(Entity::StatusPage))?;
        Ok(self.with_components(vec![row]).await?.remove(0))
    }

    /// Every page by slug (bounded by [`MAX_PAGES`]).
    pub async fn list_status_pages(&self) -> StoreResult<Vec<StatusPage>> {
        let rows: Vec<PageRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {PAGE_COLS} FROM status_pages ORDER BY slug LIMIT $1")))
                .bind(MAX_PAGES)
                .fetch_all(pool)
                .await?
        });
        self.with_components(rows).await
    }

    async fn with_components(&self, rows: Vec<PageRow>) -> StoreResult<Vec<StatusPage>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COMPONENT_COLS} FROM status_page_components WHERE page_id IN ({}) ORDER BY position",
            crate::dialect::placeholders(self.backend(), rows.len(), 1)
        );
        let comps: Vec<ComponentRow> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for r in &rows {
                q = q.bind(r.id);
            }
            q.fetch_all(pool).await?
        });
        let mut by_page: HashMap<Uuid, Vec<Component>> = HashMap::new();
        for c in comps {
            by_page.entry(c.page_id).or_default().push(c.into());
        }
        let sql = format!(
            "SELECT page_id, team_id FROM status_page_teams WHERE page_id IN ({})",
            crate::dialect::placeholders(self.backend(), rows.len(), 1)
        );
        let teams: Vec<(Uuid, Uuid)> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for r in &rows {
                q = q.bind(r.id);
            }
            q.fetch_all(pool).await?
        });
        let mut teams_of: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (page, team) in teams {
            teams_of.entry(page).or_default().push(team);
        }
        Ok(rows
            .into_iter()
            .map(|r| StatusPage {
                components: by_page.remove(&r.id).unwrap_or_default(),
                id: r.id,
                slug: r.slug,
                title: r.title,
                description: r.description,
                time_zone: r.time_zone,
                accent_color: r.accent_color,
                custom_domain: r.custom_domain,
                logo_url: r.logo_url,
                footer_links: r.footer_links.map(|j| j.0).unwrap_or_default(),
                password_hash: r.password_hash,
                viewer_team_ids: teams_of.remove(&r.id).unwrap_or_default(),
                created_at: from_millis(r.created_at),
                updated_at: from_millis(r.updated_at),
            })
            .collect())
    }

    /// Every page served at a custom domain: (domain, slug).
    pub async fn status_page_domains(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as("SELECT custom_domain, slug FROM status_pages WHERE custom_domain IS NOT NULL")
                .fetch_all(pool)
                .await?
        }))
    }

    /// The configuration revision of status pages, for cached renderings.
    pub async fn status_pages_revision(&self) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM revisions WHERE name = $1").bind(STATUS_PAGES).fetch_one(pool).await?
        }))
    }
}
