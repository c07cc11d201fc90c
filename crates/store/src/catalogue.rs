//! Teams, services and service dependencies.

use crate::audit::{audit, bump};
use crate::error::unique;
use crate::page::{self, Cursor, Page};
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::catalogue::{self, Link, Service, ServiceSpec, Team, TeamSpec};
use opsdeck_core::clock::from_millis;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct TeamRow {
    id: Uuid,
    name: String,
    slug: String,
    description: String,
    created_at: i64,
    updated_at: i64,
}

impl From<TeamRow> for Team {
    fn from(r: TeamRow) -> Self {
        Team {
            id: r.id,
            name: r.name,
            slug: r.slug,
            description: r.description,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

/// A service with the name of its owning team, as lists show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServiceView {
    #[serde(flatten)]
    pub service: Service,
    pub team_name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ServiceRow {
    id: Uuid,
    name: String,
    slug: String,
    description: String,
    team_id: Option<Uuid>,
    tier: i16,
    tags: Json<Vec<String>>,
    runbook_url: Option<String>,
    links: Json<Vec<Link>>,
    created_at: i64,
    updated_at: i64,
    team_name: Option<String>,
}

impl From<ServiceRow> for ServiceView {
    fn from(r: ServiceRow) -> Self {
        ServiceView {
            service: Service {
                id: r.id,
                name: r.name,
                slug: r.slug,
                description: r.description,
                team_id: r.team_id,
                tier: r.tier,
                tags: r.tags.0,
                runbook_url: r.runbook_url,
                links: r.links.0,
                created_at: from_millis(r.created_at),
                updated_at: from_millis(r.updated_at),
            },
            team_name: r.team_name,
        }
    }
}

/// The revision counter that every catalogue write bumps.
pub const CATALOGUE: &str = "catalogue";

const SERVICE_SELECT: &str = "SELECT s.id, s.name, s.slug, s.description, s.team_id, s.tier, s.tags, \
    s.runbook_url, s.links, s.created_at, s.updated_at, t.name AS team_name \
    FROM services s LEFT JOIN teams t ON t.id = s.team_id";

#[derive(Debug, Clone, Default)]
pub struct ServiceFilter {
    pub q: Option<String>,
    pub team_id: Option<Uuid>,
    pub tier: Option<i16>,
    pub cursor: Option<Cursor>,
    pub limit: Option<i64>,
}

/// Either a UUID or a slug, as URLs accept both.
pub enum Ref<'a> {
    Id(Uuid),
    Slug(&'a str),
}

impl<'a> Ref<'a> {
    pub fn parse(s: &'a str) -> Self {
        s.parse().map(Ref::Id).unwrap_or(Ref::Slug(s))
    }
}

impl Db {
    /// The catalogue's revision: it changes whenever a team, service or dependency changes.
    pub async fn catalogue_revision(&self) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM revisions WHERE name = $1").bind(CATALOGUE).fetch_one(pool).await?
        }))
    }

    // ---- teams ----------------------------------------------------------------------------

    pub async fn create_team(&self, actor: &Actor, now: DateTime<Utc>, spec: TeamSpec) -> StoreResult<Team> {
        let team = Team {
            id: Uuid::now_v7(),
            name: spec.name,
            slug: spec.slug,
            description: spec.description,
            created_at: now,
            updated_at: now,
        };
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO teams (id, name, slug, description, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(team.id)
            .bind(&team.name)
            .bind(&team.slug)
            .bind(&team.description)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(unique("a team with this slug already exists; choose another name or slug"))?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("team.create", "team", Some(team.id), format!("Created team {}", team.name))
                    .after(&team)
            );
            bump!(tx, CATALOGUE);
        });
        Ok(team)
    }

    pub async fn get_team(&self, r: Ref<'_>) -> StoreResult<Team> {
        let (id, slug) = match r {
            Ref::Id(id) => (Some(id), None),
            Ref::Slug(s) => (None, Some(s)),
        };
        let row: Option<TeamRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, slug, description, created_at, updated_at FROM teams \
                 WHERE id = $1 OR slug = $2",
            )
            .bind(id)
            .bind(slug)
            .fetch_optional(pool)
            .await?
        });
        row.map(Team::from).ok_or(StoreError::NotFound(Entity::Team))
    }

    pub async fn list_teams(
        &self,
        q: Option<&str>,
        cursor: Option<&Cursor>,
        limit: Option<i64>,
    ) -> StoreResult<Page<Team>> {
        let limit = page::clamp_limit(limit);
        let pattern = q.filter(|q| !q.trim().is_empty()).map(page::like_pattern);
        let (c_name, c_id) = (cursor.map(|c| c.key.as_str()), cursor.map(|c| c.id));
        let rows: Vec<TeamRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, slug, description, created_at, updated_at FROM teams \
                 WHERE ($1 IS NULL OR LOWER(name) LIKE $1 ESCAPE '\\' OR slug LIKE $1 ESCAPE '\\') \
                   AND ($2 IS NULL OR name > $2 OR (name = $2 AND id > $3)) \
                 ORDER BY name, id LIMIT $4",
            )
            .bind(pattern.as_deref())
            .bind(c_name)
            .bind(c_id)
            .bind(limit + 1)
            .fetch_all(pool)
            .await?
        });
        Ok(page::finish(rows, limit, |r| Cursor { key: r.name.clone(), id: r.id }).map(Team::from))
    }

    pub async fn update_team(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid, spec: TeamSpec) -> StoreResult<Team> {
        let before = self.get_team(Ref::Id(id)).await?;
        let after =
            Team { name: spec.name, slug: spec.slug, description: spec.description, updated_at: now, ..before.clone() };
        if after.name == before.name && after.slug == before.slug && after.description == before.description {
            return Ok(before);
        }
        write_tx!(self, |tx| {
            sqlx::query("UPDATE teams SET name = $1, slug = $2, description = $3, updated_at = $4 WHERE id = $5")
                .bind(&after.name)
                .bind(&after.slug)
                .bind(&after.description)
                .bind(now.timestamp_millis())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(unique("a team with this slug already exists"))?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("team.update", "team", Some(id), format!("Updated team {}", after.name))
                    .before(&before)
                    .after(&after)
            );
            bump!(tx, CATALOGUE);
        });
        Ok(after)
    }

    /// Deletes a team; its services stay and lose their owner.
    pub async fn delete_team(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_team(Ref::Id(id)).await?;
        write_tx!(self, |tx| {
            sqlx::query("UPDATE services SET team_id = NULL WHERE team_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM teams WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("team.delete", "team", Some(id), format!("Deleted team {}", before.name))
                    .before(&before)
            );
            bump!(tx, CATALOGUE);
        });
        Ok(())
    }

    /// Number of services each team owns.
    pub async fn service_counts_by_team(&self) -> StoreResult<std::collections::HashMap<Uuid, i64>> {
        let rows: Vec<(Uuid, i64)> = with_db!(self, |pool| {
            sqlx::query_as("SELECT team_id, COUNT(*) FROM services WHERE team_id IS NOT NULL GROUP BY team_id")
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
    }

    // ---- services -------------------------------------------------------------------------

    async fn ensure_team(&self, team_id: Option<Uuid>) -> StoreResult<()> {
        match team_id {
            Some(id) => match self.get_team(Ref::Id(id)).await {
                Err(StoreError::NotFound(_)) => {
                    Err(opsdeck_core::Error::invalid("team_id", "no team has this id").into())
                }
                other => other.map(|_| ()),
            },
            None => Ok(()),
        }
    }

    pub async fn create_service(&self, actor: &Actor, now: DateTime<Utc>, spec: ServiceSpec) -> StoreResult<Service> {
        self.ensure_team(spec.team_id).await?;
        let s = Service {
            id: Uuid::now_v7(),
            name: spec.name,
            slug: spec.slug,
            description: spec.description,
            team_id: spec.team_id,
            tier: spec.tier,
            tags: spec.tags,
            runbook_url: spec.runbook_url,
            links: spec.links,
            created_at: now,
            updated_at: now,
        };
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO services (id, name, slug, description, team_id, tier, tags, \
                 runbook_url, links, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
            )
            .bind(s.id)
            .bind(&s.name)
            .bind(&s.slug)
            .bind(&s.description)
            .bind(s.team_id)
            .bind(s.tier)
            .bind(Json(&s.tags))
            .bind(&s.runbook_url)
            .bind(Json(&s.links))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(unique("a service with this slug already exists; choose another slug"))?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("service.create", "service", Some(s.id), format!("Created service {}", s.name))
                    .after(&s)
            );
            bump!(tx, CATALOGUE);
        });
        Ok(s)
    }

    pub async fn get_service(&self, r: Ref<'_>) -> StoreResult<ServiceView> {
        let (id, slug) = match r {
            Ref::Id(id) => (Some(id), None),
            Ref::Slug(s) => (None, Some(s)),
        };
        let row: Option<ServiceRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SERVICE_SELECT} WHERE s.id = $1 OR s.slug = $2")))
                .bind(id)
                .bind(slug)
                .fetch_optional(pool)
                .await?
        });
        row.map(ServiceView::from).ok_or(StoreError::NotFound(Entity::Service))
    }

    pub async fn count_teams(&self) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM teams").fetch_one(pool).await?))
    }

    pub async fn count_services(&self) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM services").fetch_one(pool).await?))
    }

    /// Services ordered by name, filtered by search text, team and tier.
    pub async fn list_services(&self, f: &ServiceFilter) -> StoreResult<Page<ServiceView>> {
        let limit = page::clamp_limit(f.limit);
        let pattern = f.q.as_deref().filter(|q| !q.trim().is_empty()).map(page::like_pattern);
        let (c_name, c_id) = (f.cursor.as_ref().map(|c| c.key.as_str()), f.cursor.as_ref().map(|c| c.id));
        let rows: Vec<ServiceRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SERVICE_SELECT} \
                 WHERE ($1 IS NULL OR LOWER(s.name) LIKE $1 ESCAPE '\\' OR s.slug LIKE $1 ESCAPE '\\' \
                        OR LOWER(s.description) LIKE $1 ESCAPE '\\') \
                   AND ($2 IS NULL OR s.team_id = $2) AND ($3 IS NULL OR s.tier = $3) \
                   AND ($4 IS NULL OR s.name > $4 OR (s.name = $4 AND s.id > $5)) \
                 ORDER BY s.name, s.id LIMIT $6"
            )))
            .bind(pattern.as_deref())
            .bind(f.team_id)
            .bind(f.tier)
            .bind(c_name)
            .bind(c_id)
            .bind(limit + 1)
            .fetch_all(pool)
            .await?
        });
        Ok(page::finish(rows, limit, |r| Cursor { key: r.name.clone(), id: r.id }).map(ServiceView::from))
    }

    pub async fn update_service(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        spec: ServiceSpec,
    ) -> StoreResult<Service> {
        let before = self.get_service(Ref::Id(id)).await?.service;
        if ServiceSpec::from(&before) == spec {
            return Ok(before);
        }
        self.ensure_team(spec.team_id).await?;
        let after = Service {
            name: spec.name,
            slug: spec.slug,
            description: spec.description,
            team_id: spec.team_id,
            tier: spec.tier,
            tags: spec.tags,
            runbook_url: spec.runbook_url,
            links: spec.links,
            updated_at: now,
            ..before.clone()
        };
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE services SET name = $1, slug = $2, description = $3, team_id = $4, tier = $5, tags = $6, \
                 runbook_url = $7, links = $8, updated_at = $9 WHERE id = $10",
            )
            .bind(&after.name)
            .bind(&after.slug)
            .bind(&after.description)
            .bind(after.team_id)
            .bind(after.tier)
            .bind(Json(&after.tags))
            .bind(&after.runbook_url)
            .bind(Json(&after.links))
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unique("a service with this slug already exists; choose another slug"))?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("service.update", "service", Some(id), format!("Updated service {}", after.name))
                    .before(&before)
                    .after(&after)
            );
            bump!(tx, CATALOGUE);
        });
        Ok(after)
    }

    pub async fn delete_service(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_service(Ref::Id(id)).await?.service;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM service_dependencies WHERE service_id = $1 OR depends_on_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM services WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("service.delete", "service", Some(id), format!("Deleted service {}", before.name))
                    .before(&before)
            );
            bump!(tx, CATALOGUE);
            // Its integrations went with it (cascade): every node's key cache must forget them.
            bump!(tx, crate::integration::INTEGRATIONS);
            // Its monitors' past checks now count for no service.
            bump!(tx, crate::kpi::KPI_DAYS);
        });
        Ok(())
    }

    // ---- dependencies ---------------------------------------------------------------------

    /// Records that `service_id` depends on `depends_on_id`, refusing self-loops and cycles.
    pub async fn add_dependency(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        service_id: Uuid,
        depends_on_id: Uuid,
    ) -> StoreResult<()> {
        let from = self.get_service(Ref::Id(service_id)).await?.service;
        let to = match self.get_service(Ref::Id(depends_on_id)).await {
            Err(StoreError::NotFound(_)) => {
                return Err(opsdeck_core::Error::invalid("depends_on_id", "no service has this id").into());
            }
            other => other?.service,
        };
        write_tx!(self, |tx| {
            let edges: Vec<(Uuid, Uuid)> = sqlx::query_as("SELECT service_id, depends_on_id FROM service_dependencies")
                .fetch_all(&mut *tx)
                .await?;
            catalogue::check_new_dependency(&edges, service_id, depends_on_id)
                .map_err(|e| StoreError::Conflict(e.to_string()))?;
            sqlx::query("INSERT INTO service_dependencies (service_id, depends_on_id, created_at) VALUES ($1, $2, $3)")
                .bind(service_id)
                .bind(depends_on_id)
                .bind(now.timestamp_millis())
                .execute(&mut *tx)
                .await
                .map_err(unique("this dependency already exists"))?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "service.dependency_add",
                    "service",
                    Some(service_id),
                    format!("{} now depends on {}", from.name, to.name)
                )
                .after(serde_json::json!({"depends_on_id": depends_on_id}))
            );
            bump!(tx, CATALOGUE);
        });
        Ok(())
    }

    pub async fn remove_dependency(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        service_id: Uuid,
        depends_on_id: Uuid,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            let n = sqlx::query("DELETE FROM service_dependencies WHERE service_id = $1 AND depends_on_id = $2")
                .bind(service_id)
                .bind(depends_on_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(Entity::Dependency));
            }
            audit!(tx, actor, now, {
                let (a, b) = (
                    crate::audit::name_of!(tx, "services", service_id),
                    crate::audit::name_of!(tx, "services", depends_on_id),
                );
                AuditRecord::new(
                    "service.dependency_remove",
                    "service",
                    Some(service_id),
                    format!("Removed the dependency of {a} on {b}"),
                )
                .before(serde_json::json!({"depends_on_id": depends_on_id}))
            });
            bump!(tx, CATALOGUE);
        });
        Ok(())
    }

    /// (services this one depends on, services that depend on this one), each ordered by name.
    pub async fn service_dependencies(&self, id: Uuid) -> StoreResult<(Vec<ServiceView>, Vec<ServiceView>)> {
        let (up, down): (Vec<ServiceRow>, Vec<ServiceRow>) = with_db!(self, |pool| {
            let up = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SERVICE_SELECT} JOIN service_dependencies d ON d.depends_on_id = s.id \
                 WHERE d.service_id = $1 ORDER BY s.name LIMIT 500"
            )))
            .bind(id)
            .fetch_all(pool)
            .await?;
            let down = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SERVICE_SELECT} JOIN service_dependencies d ON d.service_id = s.id \
                 WHERE d.depends_on_id = $1 ORDER BY s.name LIMIT 500"
            )))
            .bind(id)
            .fetch_all(pool)
            .await?;
            (up, down)
        });
        Ok((up.into_iter().map(Into::into).collect(), down.into_iter().map(Into::into).collect()))
    }
}
