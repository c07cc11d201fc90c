//! The audit log. Mutations write their entry inside their own transaction via [`audit!`].

use crate::page::{self, Cursor, Page};
use crate::{Db, StoreResult, with_db};
use opsdeck_core::audit::AuditEntry;
use opsdeck_core::clock::from_millis;
use sqlx::types::Json;
use uuid::Uuid;

/// The audit insert up to its values, shared by `audit!` and `audit_many!`.
macro_rules! audit_head {
    () => {
        "INSERT INTO audit_log (id, at, actor_id, actor, action, entity_type, entity_id, summary, \
         before_json, after_json) VALUES "
    };
}
pub(crate) const INSERT_AUDIT: &str = concat!(audit_head!(), "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
pub(crate) const AUDIT_HEAD: &str = audit_head!();

/// Appends an audit entry on the open transaction `$tx`: `audit!(tx, actor, now, record)`.
macro_rules! audit {
    ($tx:expr, $actor:expr, $now:expr, $rec:expr) => {{
        let rec: opsdeck_core::audit::AuditRecord = $rec;
        let actor: &opsdeck_core::audit::Actor = $actor;
        sqlx::query($crate::audit::INSERT_AUDIT)
            .bind(uuid::Uuid::now_v7())
            .bind($now.timestamp_millis())
            .bind(actor.user_id)
            .bind(&actor.label)
            .bind(rec.action)
            .bind(rec.entity_type)
            .bind(rec.entity_id)
            .bind(&rec.summary)
            .bind(rec.before.map(sqlx::types::Json))
            .bind(rec.after.map(sqlx::types::Json))
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use audit;

/// Appends many audit entries with multi-row statements on the open transaction `$tx`:
/// `audit_many!(tx, backend, actor, now, records)`, one entry per changed row, as `audit!` would
/// write them one by one.
macro_rules! audit_many {
    ($tx:expr, $backend:expr, $actor:expr, $now:expr, $entries:expr) => {{
        let entries: Vec<opsdeck_core::audit::AuditRecord> = $entries;
        let actor: &opsdeck_core::audit::Actor = $actor;
        let at: i64 = $now.timestamp_millis();
        for chunk in $crate::dialect::fixed_chunks(&entries) {
            let sql = $crate::dialect::multi_row($backend, $crate::audit::AUDIT_HEAD, 10, chunk.len(), "");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for rec in chunk {
                q = q
                    .bind(uuid::Uuid::now_v7())
                    .bind(at)
                    .bind(actor.user_id)
                    .bind(&actor.label)
                    .bind(rec.action)
                    .bind(rec.entity_type)
                    .bind(rec.entity_id)
                    .bind(&rec.summary)
                    .bind(rec.before.as_ref().map(sqlx::types::Json))
                    .bind(rec.after.as_ref().map(sqlx::types::Json));
            }
            q.execute(&mut *$tx).await?;
        }
    }};
}
pub(crate) use audit_many;

/// A row's human name by id on the open transaction `$tx`, for audit summaries that name what
/// they changed: `name_of!(tx, "services", id)` (`name` column) or
/// `name_of!(tx, "users", "username", id)`. Empty when the row is gone.
macro_rules! name_of {
    ($tx:expr, $table:literal, $id:expr) => {
        $crate::audit::name_of!($tx, $table, "name", $id)
    };
    ($tx:expr, $table:literal, $column:literal, $id:expr) => {
        sqlx::query_scalar::<_, String>(concat!("SELECT ", $column, " FROM ", $table, " WHERE id = $1"))
            .bind($id)
            .fetch_optional(&mut *$tx)
            .await?
            .unwrap_or_default()
    };
}
pub(crate) use name_of;

/// Bumps a revision counter on the open transaction `$tx`: `bump!(tx, "catalogue")`.
macro_rules! bump {
    ($tx:expr, $name:expr) => {{
        sqlx::query("UPDATE revisions SET value = value + 1 WHERE name = $1").bind($name).execute(&mut *$tx).await?;
    }};
}
pub(crate) use bump;

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Matches actions that start with this text (`service.` for every service change).
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub actor: Option<String>,
    pub cursor: Option<Cursor>,
    pub limit: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    at: i64,
    actor_id: Option<Uuid>,
    actor: String,
    action: String,
    entity_type: String,
    entity_id: Option<Uuid>,
    summary: String,
    before_json: Option<Json<serde_json::Value>>,
    after_json: Option<Json<serde_json::Value>>,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            at: from_millis(r.at),
            actor_id: r.actor_id,
            actor: r.actor,
            action: r.action,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            summary: r.summary,
            before: r.before_json.map(|j| j.0),
            after: r.after_json.map(|j| j.0),
        }
    }
}

impl Db {
    /// Newest first.
    /// Entries in the audit log, for the page's total.
    pub async fn count_audit(&self) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(pool).await?))
    }

    pub async fn list_audit(&self, f: &AuditFilter) -> StoreResult<Page<AuditEntry>> {
        let limit = page::clamp_limit(f.limit);
        // A prefix: LIKE's wildcards in it match themselves (`status_page.` has an underscore).
        let action = f
            .action
            .as_deref()
            .map(|a| format!("{}%", a.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        let (c_at, c_id) = match &f.cursor {
            Some(c) => (c.key.parse::<i64>().ok(), Some(c.id)),
            None => (None, None),
        };
        let rows: Vec<AuditRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, at, actor_id, actor, action, entity_type, entity_id, summary, before_json, after_json \
                 FROM audit_log \
                 WHERE ($1 IS NULL OR action LIKE $1 ESCAPE '\\') AND ($2 IS NULL OR entity_type = $2) \
                   AND ($3 IS NULL OR entity_id = $3) AND ($4 IS NULL OR actor = $4) \
                   AND ($5 IS NULL OR at < $5 OR (at = $5 AND id < $6)) \
                 ORDER BY at DESC, id DESC LIMIT $7",
            )
            .bind(action.as_deref())
            .bind(f.entity_type.as_deref())
            .bind(f.entity_id)
            .bind(f.actor.as_deref())
            .bind(c_at)
            .bind(c_id)
            .bind(limit + 1)
            .fetch_all(pool)
            .await?
        });
        let page = page::finish(rows, limit, |r| Cursor { key: r.at.to_string(), id: r.id });
        Ok(page.map(AuditEntry::from))
    }
}
