//! Imports: the links from a source's objects to the ones they became, the runs with their
//! plans and reports, and reading an Uptime Kuma database file.

use crate::audit::audit;
use crate::error::unique;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::import::kuma::{KumaDump, KumaMaintenance, KumaMonitor, KumaPage, KumaTag};
use opsdeck_core::import::{Bundle, OBJECTS_MAX};
use sqlx::types::Json;
use uuid::Uuid;

/// The Opsdeck object one source object became.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ImportLink {
    pub kind: String,
    pub source_id: String,
    pub object_id: Uuid,
    pub digest: String,
}

/// One import run.
#[derive(Debug, Clone)]
pub struct ImportRun {
    pub id: Uuid,
    pub source: String,
    pub instance: String,
    /// `planned`, `applied` or `failed`.
    pub status: String,
    pub report: serde_json::Value,
    pub actor: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: Uuid,
    source: String,
    instance: String,
    status: String,
    report: Json<serde_json::Value>,
    actor: String,
    created_at: i64,
    updated_at: i64,
}

impl From<RunRow> for ImportRun {
    fn from(r: RunRow) -> Self {
        ImportRun {
            id: r.id,
            source: r.source,
            instance: r.instance,
            status: r.status,
            report: r.report.0,
            actor: r.actor,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

/// What an import plan matches its items against: the objects that exist now, by id and by
/// the natural key an item may be adopted by (a user's e-mail, a team's or service's slug, a
/// monitor's name).
#[derive(Debug, Default)]
pub struct Existing {
    pub users_by_email: std::collections::HashMap<String, Uuid>,
    pub usernames: std::collections::HashSet<String>,
    pub teams_by_slug: std::collections::HashMap<String, Uuid>,
    pub services_by_slug: std::collections::HashMap<String, Uuid>,
    /// A monitor's id and type by its name (the first by id where names repeat).
    pub monitors_by_name: std::collections::HashMap<String, (Uuid, String)>,
    pub pages_by_slug: std::collections::HashMap<String, Uuid>,
    /// Every id of every kind an import writes.
    pub ids: std::collections::HashSet<Uuid>,
}

/// A plan not applied within this long expires: what it read (which may hold monitors'
/// passwords) is dropped.
pub const PLAN_TTL_MS: i64 = 7 * 86_400_000;
/// A run still applying after this long was cut off (a crash, a lost request) and is failed, so
/// its source can be imported again.
pub const APPLYING_STALE_MS: i64 = 2 * 3_600_000;

/// JSON without NUL characters, which PostgreSQL's JSONB refuses (a source may hold them).
fn without_nul<T: serde::Serialize>(v: &T) -> serde_json::Value {
    fn clean(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if s.contains('\0') => s.retain(|c| c != '\0'),
            serde_json::Value::Array(a) => a.iter_mut().for_each(clean),
            serde_json::Value::Object(o) => o.values_mut().for_each(clean),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
    clean(&mut v);
    v
}

/// Runs listed at most.
pub const RUNS_LISTED: i64 = 50;

impl Db {
    /// Every link of one source instance (bounded: a source has at most `OBJECTS_MAX` per kind).
    pub async fn import_links(&self, source: &str, instance: &str) -> StoreResult<Vec<ImportLink>> {
        let limit = (OBJECTS_MAX * 8) as i64;
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT kind, source_id, object_id, digest FROM import_links \
                 WHERE source = $1 AND instance = $2 LIMIT $3",
            )
            .bind(source)
            .bind(instance)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The objects an import may link to or adopt (one query per table; a table larger than an
    /// import reads is read up to that size, the newest rows last).
    pub async fn import_existing(&self) -> StoreResult<Existing> {
        let cap = (OBJECTS_MAX * 5) as i64;
        let mut e = Existing::default();
        let users: Vec<(Uuid, String, Option<String>)> = with_db!(self, |pool| {
            sqlx::query_as("SELECT id, username, email FROM users LIMIT $1").bind(cap).fetch_all(pool).await?
        });
        for (id, username, email) in users {
            e.ids.insert(id);
            e.usernames.insert(username);
            if let Some(m) = email {
                e.users_by_email.insert(m.to_lowercase(), id);
            }
        }
        for (table, map) in [
            ("teams", &mut e.teams_by_slug),
            ("services", &mut e.services_by_slug),
            ("status_pages", &mut e.pages_by_slug),
        ] {
            let rows: Vec<(Uuid, String)> = with_db!(self, |pool| {
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT id, slug FROM {table} LIMIT $1")))
                    .bind(cap)
                    .fetch_all(pool)
                    .await?
            });
            for (id, slug) in rows {
                e.ids.insert(id);
                map.insert(slug, id);
            }
        }
        let monitors: Vec<(Uuid, String, String)> = with_db!(self, |pool| {
            sqlx::query_as("SELECT id, name, kind FROM monitors ORDER BY id LIMIT $1").bind(cap).fetch_all(pool).await?
        });
        for (id, name, kind) in monitors {
            e.ids.insert(id);
            e.monitors_by_name.entry(name).or_insert((id, kind));
        }
        for table in ["schedules", "escalation_policies", "maintenance_windows", "integrations"] {
            let ids: Vec<Uuid> = with_db!(self, |pool| {
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT id FROM {table} LIMIT $1")))
                    .bind(cap)
                    .fetch_all(pool)
                    .await?
            });
            e.ids.extend(ids);
        }
        Ok(e)
    }

    /// Records (or moves) the link of one source object after it was written.
    pub async fn record_import_link(
        &self,
        now: DateTime<Utc>,
        source: &str,
        instance: &str,
        link: &ImportLink,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO import_links (source, instance, kind, source_id, object_id, digest, imported_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (source, instance, kind, source_id) \
                 DO UPDATE SET object_id = excluded.object_id, digest = excluded.digest, \
                 imported_at = excluded.imported_at",
            )
            .bind(source)
            .bind(instance)
            .bind(&link.kind)
            .bind(&link.source_id)
            .bind(link.object_id)
            .bind(&link.digest)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Keeps a planned run with what was read, so it can be applied later.
    pub async fn create_import(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        source: &str,
        instance: &str,
        bundle: &Bundle,
        report: &serde_json::Value,
    ) -> StoreResult<Uuid> {
        let id = Uuid::now_v7();
        let ms = now.timestamp_millis();
        let (bundle, report) = (without_nul(bundle), without_nul(report));
        write_tx!(self, |tx| {
            // Old plans expire and runs cut off while applying fail, before this one is kept.
            sqlx::query(
                "UPDATE imports SET status = 'expired', bundle = '{}', updated_at = $1 \
                 WHERE status = 'planned' AND created_at < $2",
            )
            .bind(ms)
            .bind(ms - PLAN_TTL_MS)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE imports SET status = 'failed', bundle = '{}', updated_at = $1 \
                 WHERE status = 'applying' AND updated_at < $2",
            )
            .bind(ms)
            .bind(ms - APPLYING_STALE_MS)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO imports (id, source, instance, status, bundle, report, actor, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'planned', $4, $5, $6, $7, $7)",
            )
            .bind(id)
            .bind(source)
            .bind(instance)
            .bind(Json(&bundle))
            .bind(Json(&report))
            .bind(&actor.label)
            .bind(ms)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("import.plan", "import", Some(id), format!("Planned an import from {source}"))
            );
        });
        Ok(id)
    }

    /// Marks a run applied (or failed) with its report; refused unless it is still planned, so
    /// a plan is applied once.
    pub async fn finish_import(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        status: &str,
        report: &serde_json::Value,
        summary: &str,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE imports SET status = $2, report = $3, updated_at = $4, bundle = '{}' WHERE id = $1")
                .bind(id)
                .bind(status)
                .bind(Json(without_nul(report)))
                .bind(now.timestamp_millis())
                .execute(&mut *tx)
                .await?;
            audit!(tx, actor, now, AuditRecord::new("import.apply", "import", Some(id), summary.to_owned()));
        });
        Ok(())
    }

    /// Claims a planned run for applying: true for the one caller that moved it to `applying`;
    /// a conflict while another run of the same source instance applies (a unique index).
    pub async fn claim_import(&self, now: DateTime<Utc>, id: Uuid) -> StoreResult<bool> {
        let n = write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE imports SET status = 'applying', updated_at = $2 \
                 WHERE id = $1 AND status = 'planned' AND created_at >= $3",
            )
            .bind(id)
            .bind(now.timestamp_millis())
            .bind(now.timestamp_millis() - PLAN_TTL_MS)
            .execute(&mut *tx)
            .await
            .map_err(unique("another import of this source is being applied; wait for it to finish"))?
            .rows_affected()
        });
        Ok(n == 1)
    }

    pub async fn get_import(&self, id: Uuid) -> StoreResult<ImportRun> {
        let row: Option<RunRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, source, instance, status, report, actor, created_at, updated_at FROM imports WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(ImportRun::from).ok_or(StoreError::NotFound(Entity::Import))
    }

    /// What a planned run read.
    pub async fn import_bundle(&self, id: Uuid) -> StoreResult<Bundle> {
        let row: Option<Json<Bundle>> = with_db!(self, |pool| {
            sqlx::query_scalar("SELECT bundle FROM imports WHERE id = $1").bind(id).fetch_optional(pool).await?
        });
        row.map(|b| b.0).ok_or(StoreError::NotFound(Entity::Import))
    }

    /// The newest runs first.
    pub async fn list_imports(&self) -> StoreResult<Vec<ImportRun>> {
        let rows: Vec<RunRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, source, instance, status, report, actor, created_at, updated_at FROM imports \
                 ORDER BY created_at DESC, id DESC LIMIT $1",
            )
            .bind(RUNS_LISTED)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(ImportRun::from).collect())
    }
}

/// Reads an Uptime Kuma database file (1.23 or 2.x), read-only, at most `OBJECTS_MAX` rows a table.
pub async fn read_kuma(path: std::path::PathBuf) -> StoreResult<KumaDump> {
    tokio::task::spawn_blocking(move || kuma::read(&path))
        .await
        .map_err(|_| StoreError::Config("reading the Uptime Kuma database stopped".into()))?
}

mod kuma {
    use super::*;
    use rusqlite::types::ValueRef;
    use rusqlite::{Connection, OpenFlags};

    fn invalid(what: impl std::fmt::Display) -> StoreError {
        StoreError::Invalid(opsdeck_core::Error::invalid("db", format!("not a readable Uptime Kuma database: {what}")))
    }

    type Row = std::collections::HashMap<String, ValueOwned>;

    #[derive(Clone)]
    enum ValueOwned {
        Null,
        Int(i64),
        Real(f64),
        Text(String),
    }

    fn rows(c: &Connection, sql: &str) -> StoreResult<Vec<Row>> {
        let mut stmt = c.prepare(sql).map_err(invalid)?;
        let names: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
        let mut out = Vec::new();
        let mut q = stmt.query([]).map_err(invalid)?;
        while let Some(r) = q.next().map_err(invalid)? {
            if out.len() >= OBJECTS_MAX {
                return Err(invalid(format!("more than {OBJECTS_MAX} rows in a table")));
            }
            let mut row = Row::new();
            for (i, n) in names.iter().enumerate() {
                let v = match r.get_ref(i).map_err(invalid)? {
                    ValueRef::Null | ValueRef::Blob(_) => ValueOwned::Null,
                    ValueRef::Integer(n) => ValueOwned::Int(n),
                    ValueRef::Real(f) => ValueOwned::Real(f),
                    ValueRef::Text(t) => ValueOwned::Text(String::from_utf8_lossy(t).into_owned()),
                };
                row.insert(n.clone(), v);
            }
            out.push(row);
        }
        Ok(out)
    }

    fn text(r: &Row, k: &str) -> Option<String> {
        match r.get(k)? {
            ValueOwned::Text(t) => Some(t.clone()),
            ValueOwned::Int(n) => Some(n.to_string()),
            ValueOwned::Real(f) => Some(f.to_string()),
            ValueOwned::Null => None,
        }
    }

    fn int(r: &Row, k: &str) -> Option<i64> {
        match r.get(k)? {
            ValueOwned::Int(n) => Some(*n),
            ValueOwned::Real(f) => Some(*f as i64),
            ValueOwned::Text(t) => t.trim().parse().ok(),
            ValueOwned::Null => None,
        }
    }

    fn real(r: &Row, k: &str) -> Option<f64> {
        match r.get(k)? {
            ValueOwned::Int(n) => Some(*n as f64),
            ValueOwned::Real(f) => Some(*f),
            ValueOwned::Text(t) => t.trim().parse().ok(),
            ValueOwned::Null => None,
        }
    }

    fn flag(r: &Row, k: &str) -> bool {
        int(r, k).is_some_and(|n| n != 0)
    }

    fn has_table(c: &Connection, name: &str) -> StoreResult<bool> {
        c.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n > 0)
        .map_err(invalid)
    }

    pub fn read(path: &std::path::Path) -> StoreResult<KumaDump> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let c = Connection::open_with_flags(path, flags).map_err(invalid)?;
        if !has_table(&c, "monitor")? {
            return Err(invalid("it has no monitor table"));
        }
        let limit = OBJECTS_MAX + 1;
        let monitors = rows(&c, &format!("SELECT * FROM monitor ORDER BY id LIMIT {limit}"))?
            .iter()
            .map(|r| KumaMonitor {
                id: int(r, "id").unwrap_or_default(),
                name: text(r, "name").unwrap_or_default(),
                active: flag(r, "active"),
                kind: text(r, "type").unwrap_or_default(),
                interval: int(r, "interval").unwrap_or(60),
                url: text(r, "url"),
                hostname: text(r, "hostname"),
                port: int(r, "port"),
                keyword: text(r, "keyword"),
                invert_keyword: flag(r, "invert_keyword"),
                maxretries: int(r, "maxretries").unwrap_or(0),
                ignore_tls: flag(r, "ignore_tls"),
                upside_down: flag(r, "upside_down"),
                maxredirects: int(r, "maxredirects").unwrap_or(10),
                accepted_statuscodes_json: text(r, "accepted_statuscodes_json"),
                dns_resolve_type: text(r, "dns_resolve_type"),
                dns_resolve_server: text(r, "dns_resolve_server"),
                method: text(r, "method"),
                body: text(r, "body"),
                headers: text(r, "headers"),
                basic_auth_user: text(r, "basic_auth_user"),
                basic_auth_pass: text(r, "basic_auth_pass"),
                auth_method: text(r, "auth_method"),
                parent: int(r, "parent"),
                timeout: real(r, "timeout"),
                json_path: text(r, "json_path"),
                expected_value: text(r, "expected_value"),
            })
            .collect();
        let tags = if has_table(&c, "tag")? && has_table(&c, "monitor_tag")? {
            rows(
                &c,
                &format!(
                    "SELECT mt.monitor_id, t.name, mt.value FROM monitor_tag mt JOIN tag t ON t.id = mt.tag_id \
                     ORDER BY mt.id LIMIT {limit}"
                ),
            )?
            .iter()
            .map(|r| KumaTag {
                monitor_id: int(r, "monitor_id").unwrap_or_default(),
                name: text(r, "name").unwrap_or_default(),
                value: text(r, "value"),
            })
            .collect()
        } else {
            vec![]
        };
        let mut maintenance: Vec<KumaMaintenance> = Vec::new();
        if has_table(&c, "maintenance")? {
            let mut links: std::collections::HashMap<i64, Vec<i64>> = std::collections::HashMap::new();
            if has_table(&c, "monitor_maintenance")? {
                let sql = format!("SELECT monitor_id, maintenance_id FROM monitor_maintenance LIMIT {limit}");
                for l in rows(&c, &sql)? {
                    if let (Some(w), Some(m)) = (int(&l, "maintenance_id"), int(&l, "monitor_id")) {
                        links.entry(w).or_default().push(m);
                    }
                }
            }
            for r in rows(&c, &format!("SELECT * FROM maintenance ORDER BY id LIMIT {limit}"))? {
                let id = int(&r, "id").unwrap_or_default();
                maintenance.push(KumaMaintenance {
                    id,
                    title: text(&r, "title").unwrap_or_default(),
                    description: text(&r, "description").unwrap_or_default(),
                    active: flag(&r, "active"),
                    strategy: text(&r, "strategy").unwrap_or_else(|| "single".into()),
                    start_date: text(&r, "start_date"),
                    end_date: text(&r, "end_date"),
                    monitors: links.remove(&id).unwrap_or_default(),
                });
            }
        }
        let mut status_pages = Vec::new();
        if has_table(&c, "status_page")? {
            // Groups (Kuma's table is named "group") and their monitors, in Kuma's order.
            let mut groups: std::collections::HashMap<i64, Vec<(i64, String)>> = std::collections::HashMap::new();
            let mut members: std::collections::HashMap<i64, Vec<i64>> = std::collections::HashMap::new();
            if has_table(&c, "group")? && has_table(&c, "monitor_group")? {
                let sql = format!("SELECT id, status_page_id, name FROM \"group\" ORDER BY weight, id LIMIT {limit}");
                for r in rows(&c, &sql)? {
                    let page = int(&r, "status_page_id").unwrap_or_default();
                    let group = (int(&r, "id").unwrap_or_default(), text(&r, "name").unwrap_or_default());
                    groups.entry(page).or_default().push(group);
                }
                let sql = format!("SELECT monitor_id, group_id FROM monitor_group ORDER BY weight, id LIMIT {limit}");
                for r in rows(&c, &sql)? {
                    if let (Some(g), Some(m)) = (int(&r, "group_id"), int(&r, "monitor_id")) {
                        members.entry(g).or_default().push(m);
                    }
                }
            }
            let sql = format!("SELECT id, slug, title, description FROM status_page ORDER BY id LIMIT {limit}");
            for r in rows(&c, &sql)? {
                let id = int(&r, "id").unwrap_or_default();
                status_pages.push(KumaPage {
                    id,
                    slug: text(&r, "slug").unwrap_or_default(),
                    title: text(&r, "title").unwrap_or_default(),
                    description: text(&r, "description").unwrap_or_default(),
                    groups: groups
                        .remove(&id)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(g, name)| (name, members.remove(&g).unwrap_or_default()))
                        .collect(),
                });
            }
        }
        Ok(KumaDump { monitors, tags, maintenance, status_pages })
    }
}
