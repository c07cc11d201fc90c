//! The CMDB: configuration items, their relations, the monitors bound to them, impact walks
//! ([`impact`]) and imports ([`import`]).

pub mod attr_defs;
pub mod contracts;
pub mod impact;
pub mod import;
mod relations;
pub mod reminders;

use crate::audit::audit;
use crate::error::unique;
use crate::page::{self, Cursor, Page};
use crate::{Backend, Db, StoreError, StoreResult, with_db, write_tx};
use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::cmdb::inventory::InventoryCi;
use opsdeck_core::cmdb::{Attributes, CiClass, CiSpec, CiStatus, Lifecycle, RelationType, search_words};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// The source of CIs and relations made by hand.
pub const MANUAL: &str = "manual";
/// The words kept for search per CI, in characters.
const SEARCH_MAX: usize = 4000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ci {
    pub id: Uuid,
    pub name: String,
    pub class: CiClass,
    pub status: CiStatus,
    pub attributes: Attributes,
    pub owner_team_id: Option<Uuid>,
    pub owner_team_name: Option<String>,
    pub location: Option<String>,
    pub environment: Option<String>,
    pub tags: Vec<String>,
    pub identity: Option<String>,
    pub service_id: Option<Uuid>,
    pub service_name: Option<String>,
    pub min_up: Option<i32>,
    pub description: String,
    /// `manual`, or the import source that last wrote it.
    pub source: String,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Its import source no longer lists it.
    pub stale: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub lifecycle: Lifecycle,
}

#[derive(sqlx::FromRow)]
struct CiRow {
    id: Uuid,
    name: String,
    class: String,
    status: String,
    attributes: Json<Attributes>,
    owner_team_id: Option<Uuid>,
    owner_team_name: Option<String>,
    location: Option<String>,
    environment: Option<String>,
    tags: Json<Vec<String>>,
    identity: Option<String>,
    service_id: Option<Uuid>,
    service_name: Option<String>,
    min_up: Option<i32>,
    description: String,
    source: String,
    last_seen_at: Option<i64>,
    stale: bool,
    created_at: i64,
    updated_at: i64,
    purchase_date: Option<String>,
    cost_cents: Option<i64>,
    warranty_end: Option<String>,
    end_of_support: Option<String>,
    end_of_life: Option<String>,
}

/// A stored date; one that does not parse (written by hand into the database) reads as unset.
pub(crate) fn date(v: &Option<String>) -> Option<NaiveDate> {
    v.as_deref().and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

/// A date as stored.
pub(crate) fn date_text(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

impl From<CiRow> for Ci {
    fn from(r: CiRow) -> Self {
        Ci {
            id: r.id,
            name: r.name,
            class: CiClass::parse(&r.class).unwrap_or(CiClass::Other),
            status: CiStatus::parse(&r.status).unwrap_or(CiStatus::InUse),
            attributes: r.attributes.0,
            owner_team_id: r.owner_team_id,
            owner_team_name: r.owner_team_name,
            location: r.location,
            environment: r.environment,
            tags: r.tags.0,
            identity: r.identity,
            service_id: r.service_id,
            service_name: r.service_name,
            min_up: r.min_up,
            description: r.description,
            source: r.source,
            last_seen_at: r.last_seen_at.map(from_millis),
            stale: r.stale,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
            lifecycle: Lifecycle {
                purchase_date: date(&r.purchase_date),
                cost_cents: r.cost_cents,
                warranty_end: date(&r.warranty_end),
                end_of_support: date(&r.end_of_support),
                end_of_life: date(&r.end_of_life),
            },
        }
    }
}

pub(crate) const CI_SELECT: &str = "SELECT c.id, c.name, c.class, c.status, c.attributes, c.owner_team_id, \
     t.name AS owner_team_name, c.location, c.environment, c.tags, c.identity, c.service_id, \
     s.name AS service_name, c.min_up, c.description, c.source, c.last_seen_at, c.stale, c.created_at, \
     c.updated_at, c.purchase_date, c.cost_cents, c.warranty_end, c.end_of_support, c.end_of_life \
     FROM cis c LEFT JOIN teams t ON t.id = c.owner_team_id LEFT JOIN services s ON s.id = c.service_id";

/// A relation as one CI's page shows it: the other end and how it reads from this side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Relation {
    pub id: Uuid,
    pub source_id: Uuid,
    pub target_id: Uuid,
    pub kind: RelationType,
    /// `manual`, or the import source that discovered it.
    pub origin: String,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The other CI (the target when this CI is the source).
    pub other_id: Uuid,
    pub other_name: String,
    pub other_class: CiClass,
    /// True when this CI is the relation's source.
    pub outgoing: bool,
}

impl Relation {
    /// "Depends on" from the source's side, "Used by" from the target's.
    pub fn label(&self) -> &'static str {
        let (forward, back) = self.kind.labels();
        if self.outgoing { forward } else { back }
    }
}

/// Filters of the CI list; `q` is a full-text search (every word matches as a prefix).
#[derive(Debug, Clone, Default)]
pub struct CiFilter {
    pub q: Option<String>,
    pub class: Option<CiClass>,
    pub status: Option<CiStatus>,
    pub environment: Option<String>,
    pub cursor: Option<Cursor>,
    pub limit: Option<i64>,
}

/// A monitor bound to a CI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundMonitor {
    pub id: Uuid,
    pub name: String,
    pub state: String,
}

/// The words a CI is found by: name, identity, class, status, places, tags and text attributes.
pub(crate) fn search_text(spec: &CiSpec) -> String {
    let mut parts: Vec<&str> = vec![&spec.name, spec.class.as_str(), spec.status.as_str()];
    parts.extend(spec.identity.as_deref());
    parts.extend(spec.environment.as_deref());
    parts.extend(spec.location.as_deref());
    parts.extend(spec.tags.iter().map(String::as_str));
    parts.extend(spec.attributes.values().filter_map(Value::as_str));
    let mut out = String::new();
    for w in parts.iter().flat_map(|p| p.split(|c: char| !c.is_alphanumeric())).filter(|w| !w.is_empty()) {
        if out.len() + w.len() + 1 > SEARCH_MAX {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&w.to_lowercase());
    }
    out
}

/// The full-text condition on `c` for `q`, and its one argument; `None` when `q` has no words.
fn search_condition(backend: Backend, q: &str, param: usize) -> Option<(String, String)> {
    let words = search_words(q);
    if words.is_empty() {
        return None;
    }
    // Words hold letters and digits only, so neither query syntax can be injected.
    Some(match backend {
        Backend::Sqlite => (
            format!("c.rowid IN (SELECT rowid FROM cis_fts WHERE cis_fts MATCH ${param})"),
            words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" AND "),
        ),
        Backend::Postgres => (
            format!("c.search_vector @@ to_tsquery('simple', ${param})"),
            words.iter().map(|w| format!("{w}:*")).collect::<Vec<_>>().join(" & "),
        ),
    })
}

impl Db {
    pub async fn create_ci(&self, actor: &Actor, now: DateTime<Utc>, spec: &CiSpec) -> StoreResult<Ci> {
        let id = Uuid::now_v7();
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO cis (id, name, class, status, attributes, owner_team_id, location, environment, tags, \
                 identity, service_id, min_up, description, source, search, created_at, updated_at, purchase_date, \
                 cost_cents, warranty_end, end_of_support, end_of_life) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17, $18, $19, \
                 $20, $21)",
            )
            .bind(id)
            .bind(&spec.name)
            .bind(spec.class.as_str())
            .bind(spec.status.as_str())
            .bind(Json(&spec.attributes))
            .bind(spec.owner_team_id)
            .bind(&spec.location)
            .bind(&spec.environment)
            .bind(Json(&spec.tags))
            .bind(&spec.identity)
            .bind(spec.service_id)
            .bind(spec.min_up)
            .bind(&spec.description)
            .bind(MANUAL)
            .bind(search_text(spec))
            .bind(now.timestamp_millis())
            .bind(date_text(spec.lifecycle.purchase_date))
            .bind(spec.lifecycle.cost_cents)
            .bind(date_text(spec.lifecycle.warranty_end))
            .bind(date_text(spec.lifecycle.end_of_support))
            .bind(date_text(spec.lifecycle.end_of_life))
            .execute(&mut *tx)
            .await
            .map_err(unique("another CI has this identity, or stands for this service"))?;
            let summary = format!("Created CI {} ({})", spec.name, spec.class.as_str());
            audit!(tx, actor, now, AuditRecord::new("ci.create", "ci", Some(id), summary).after(spec));
        });
        self.get_ci(id).await
    }

    pub async fn get_ci(&self, id: Uuid) -> StoreResult<Ci> {
        let row: Option<CiRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{CI_SELECT} WHERE c.id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Ci::from).ok_or(StoreError::NotFound(Entity::Ci))
    }

    /// CIs by id, 256 a statement (see `import::STATEMENT_BYTES`); unknown ids are left out.
    pub async fn cis_by_id(&self, ids: &[Uuid]) -> StoreResult<Vec<Ci>> {
        let backend = self.backend();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(256) {
            let sql = format!("{CI_SELECT} WHERE c.id IN ({})", crate::dialect::placeholders(backend, chunk.len(), 1));
            let rows: Vec<CiRow> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows.into_iter().map(Ci::from));
        }
        Ok(out)
    }

    /// CIs by identity, 256 a statement; unknown identities are left out.
    pub async fn cis_by_identity(&self, identities: &[String]) -> StoreResult<Vec<Ci>> {
        let backend = self.backend();
        let mut out = Vec::new();
        for chunk in identities.chunks(256) {
            let sql =
                format!("{CI_SELECT} WHERE c.identity IN ({})", crate::dialect::placeholders(backend, chunk.len(), 1));
            let rows: Vec<CiRow> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for i in chunk {
                    q = q.bind(i);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows.into_iter().map(Ci::from));
        }
        Ok(out)
    }

    /// A page of CIs by name.
    pub async fn list_cis(&self, f: &CiFilter) -> StoreResult<Page<Ci>> {
        let limit = page::clamp_limit(f.limit);
        let search = f.q.as_deref().and_then(|q| search_condition(self.backend(), q, 6));
        let (cond, words) = match search {
            Some((c, w)) => (c, Some(w)),
            None => ("TRUE".to_owned(), None),
        };
        let (c_name, c_id) = (f.cursor.as_ref().map(|c| c.key.as_str()), f.cursor.as_ref().map(|c| c.id));
        let sql = format!(
            "{CI_SELECT} WHERE ($1 IS NULL OR c.class = $1) AND ($2 IS NULL OR c.status = $2) \
             AND ($3 IS NULL OR c.environment = $3) AND ($4 IS NULL OR c.name > $4 OR (c.name = $4 AND c.id > $5)) \
             AND ({cond}) ORDER BY c.name, c.id LIMIT {}",
            limit + 1
        );
        let rows: Vec<CiRow> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(f.class.map(CiClass::as_str))
                .bind(f.status.map(CiStatus::as_str))
                .bind(f.environment.as_deref())
                .bind(c_name)
                .bind(c_id);
            if let Some(w) = &words {
                q = q.bind(w.clone());
            }
            q.fetch_all(pool).await?
        });
        Ok(page::finish(rows, limit, |r| Cursor { key: r.name.clone(), id: r.id }).map(Ci::from))
    }

    /// Replaces a CI's fields (its source and last-seen time stay).
    pub async fn update_ci(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid, spec: &CiSpec) -> StoreResult<Ci> {
        let before = self.get_ci(id).await?;
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE cis SET name = $1, class = $2, status = $3, attributes = $4, owner_team_id = $5, \
                 location = $6, environment = $7, tags = $8, identity = $9, service_id = $10, min_up = $11, \
                 description = $12, search = $13, updated_at = $14, purchase_date = $16, cost_cents = $17, \
                 warranty_end = $18, end_of_support = $19, end_of_life = $20 WHERE id = $15",
            )
            .bind(&spec.name)
            .bind(spec.class.as_str())
            .bind(spec.status.as_str())
            .bind(Json(&spec.attributes))
            .bind(spec.owner_team_id)
            .bind(&spec.location)
            .bind(&spec.environment)
            .bind(Json(&spec.tags))
            .bind(&spec.identity)
            .bind(spec.service_id)
            .bind(spec.min_up)
            .bind(&spec.description)
            .bind(search_text(spec))
            .bind(now.timestamp_millis())
            .bind(id)
            .bind(date_text(spec.lifecycle.purchase_date))
            .bind(spec.lifecycle.cost_cents)
            .bind(date_text(spec.lifecycle.warranty_end))
            .bind(date_text(spec.lifecycle.end_of_support))
            .bind(date_text(spec.lifecycle.end_of_life))
            .execute(&mut *tx)
            .await
            .map_err(unique("another CI has this identity, or stands for this service"))?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::Ci));
            }
            let summary = format!("Updated CI {}", spec.name);
            audit!(tx, actor, now, AuditRecord::new("ci.update", "ci", Some(id), summary).before(&before).after(spec));
        });
        self.get_ci(id).await
    }

    /// Deletes a CI with its relations; monitors bound to it are unbound.
    pub async fn delete_ci(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<Ci> {
        let before = self.get_ci(id).await?;
        write_tx!(self, |tx| {
            let gone = sqlx::query("DELETE FROM cis WHERE id = $1").bind(id).execute(&mut *tx).await?;
            if gone.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::Ci));
            }
            let summary = format!("Deleted CI {}", before.name);
            audit!(tx, actor, now, AuditRecord::new("ci.delete", "ci", Some(id), summary).before(&before));
        });
        Ok(before)
    }

    /// The hosts an Ansible inventory lists: servers, VMs and network devices not retired, by
    /// host name (the identity, else the name). At most 250,000.
    pub async fn inventory_cis(&self) -> StoreResult<Vec<InventoryCi>> {
        type Row = (String, Option<String>, String, Option<String>, Json<Vec<String>>, Json<Attributes>);
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT name, identity, class, environment, tags, attributes FROM cis \
                 WHERE class IN ('server', 'vm', 'network_device') AND status <> 'retired' \
                 ORDER BY COALESCE(identity, name), id LIMIT 250000",
            )
            .fetch_all(pool)
            .await?
        });
        let mut seen = std::collections::HashSet::new();
        Ok(rows
            .into_iter()
            .filter_map(|(name, identity, class, environment, tags, attributes)| {
                let host = identity.unwrap_or(name);
                // Two CIs named alike without identities: the inventory lists the host once.
                seen.insert(host.clone()).then(|| InventoryCi {
                    host,
                    class: CiClass::parse(&class).unwrap_or(CiClass::Other),
                    environment,
                    tags: tags.0,
                    attributes: attributes.0,
                })
            })
            .collect())
    }
    /// The CI with this identity, else every CI with this name (at most 2, enough to tell one
    /// from several).
    pub async fn cis_named(&self, reference: &str) -> StoreResult<Vec<Ci>> {
        let rows: Vec<CiRow> = with_db!(self, |pool| {
            let by_identity: Vec<CiRow> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{CI_SELECT} WHERE c.identity = $1")))
                    .bind(reference)
                    .fetch_all(pool)
                    .await?;
            if by_identity.is_empty() {
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{CI_SELECT} WHERE c.name = $1 ORDER BY c.id LIMIT 2")))
                    .bind(reference)
                    .fetch_all(pool)
                    .await?
            } else {
                by_identity
            }
        });
        Ok(rows.into_iter().map(Ci::from).collect())
    }
    /// The lifecycle dates on or before `until` of CIs that are not retired (past ones too:
    /// they are overdue), earliest first; at most `limit` (≤ 1,000).
    pub async fn lifecycle_due(
        &self,
        until: NaiveDate,
        limit: i64,
    ) -> StoreResult<Vec<(Ci, opsdeck_core::cmdb::LifecycleEvent, NaiveDate)>> {
        use opsdeck_core::cmdb::LifecycleEvent as E;
        let limit = limit.clamp(1, 1000);
        let until = until.format("%Y-%m-%d").to_string();
        let mut out = Vec::new();
        for (event, column) in
            [(E::WarrantyEnd, "warranty_end"), (E::EndOfSupport, "end_of_support"), (E::EndOfLife, "end_of_life")]
        {
            let sql = format!(
                "{CI_SELECT} WHERE c.{column} IS NOT NULL AND c.{column} <= $1 AND c.status <> 'retired' \
                 ORDER BY c.{column}, c.id LIMIT {limit}"
            );
            let rows: Vec<CiRow> =
                with_db!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&until).fetch_all(pool).await?);
            for r in rows {
                let ci = Ci::from(r);
                let due = match event {
                    E::WarrantyEnd => ci.lifecycle.warranty_end,
                    E::EndOfSupport => ci.lifecycle.end_of_support,
                    E::EndOfLife => ci.lifecycle.end_of_life,
                };
                if let Some(d) = due {
                    out.push((ci, event, d));
                }
            }
        }
        out.sort_by(|a, b| (a.2, &a.0.name).cmp(&(b.2, &b.0.name)));
        out.truncate(limit as usize);
        Ok(out)
    }
}
