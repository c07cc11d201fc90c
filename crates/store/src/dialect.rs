//! Everything that differs between SQLite and PostgreSQL.

use crate::{Backend, Db, StoreError, StoreResult};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Database, Pool, Postgres, Sqlite, Transaction};
use std::future::Future;

/// Migrations per backend, same versions and names; embedded so the binary carries its schema.
const SQLITE: &[(i64, &str, &str)] = &[
    (1, "foundation", include_str!("../migrations/sqlite/0001_foundation.sql")),
    (2, "revisions", include_str!("../migrations/sqlite/0002_revisions.sql")),
    (3, "monitors", include_str!("../migrations/sqlite/0003_monitors.sql")),
    (4, "maintenance", include_str!("../migrations/sqlite/0004_maintenance.sql")),
    (5, "incidents", include_str!("../migrations/sqlite/0005_incidents.sql")),
    (6, "oncall", include_str!("../migrations/sqlite/0006_oncall.sql")),
    (7, "trust", include_str!("../migrations/sqlite/0007_trust.sql")),
    (8, "noise", include_str!("../migrations/sqlite/0008_noise.sql")),
    (9, "status_pages", include_str!("../migrations/sqlite/0009_status_pages.sql")),
    (10, "public_incidents", include_str!("../migrations/sqlite/0010_public_incidents.sql")),
    (11, "status_subscribers", include_str!("../migrations/sqlite/0011_status_subscribers.sql")),
    (12, "private_pages", include_str!("../migrations/sqlite/0012_private_pages.sql")),
    (13, "vendors", include_str!("../migrations/sqlite/0013_vendors.sql")),
    (14, "vendor_dependencies", include_str!("../migrations/sqlite/0014_vendor_dependencies.sql")),
    (15, "third_party_components", include_str!("../migrations/sqlite/0015_third_party_components.sql")),
    (16, "custom_domains", include_str!("../migrations/sqlite/0016_custom_domains.sql")),
    (17, "status_maintenances", include_str!("../migrations/sqlite/0017_status_maintenances.sql")),
    (18, "status_templates", include_str!("../migrations/sqlite/0018_status_templates.sql")),
    (19, "team_members", include_str!("../migrations/sqlite/0019_team_members.sql")),
    (20, "rate_budgets", include_str!("../migrations/sqlite/0020_rate_budgets.sql")),
    (21, "page_branding", include_str!("../migrations/sqlite/0021_page_branding.sql")),
    (22, "slos", include_str!("../migrations/sqlite/0022_slos.sql")),
    (23, "slo_alerts", include_str!("../migrations/sqlite/0023_slo_alerts.sql")),
    (24, "series", include_str!("../migrations/sqlite/0024_series.sql")),
    (25, "report_schedules", include_str!("../migrations/sqlite/0025_report_schedules.sql")),
    (26, "slo_sources", include_str!("../migrations/sqlite/0026_slo_sources.sql")),
    (27, "kpi_days", include_str!("../migrations/sqlite/0027_kpi_days.sql")),
    (28, "series_alerts", include_str!("../migrations/sqlite/0028_series_alerts.sql")),
    (29, "incidents_detected", include_str!("../migrations/sqlite/0029_incidents_detected.sql")),
    (30, "slo_alerts_outlive", include_str!("../migrations/sqlite/0030_slo_alerts_outlive.sql")),
    (31, "anomaly_watches", include_str!("../migrations/sqlite/0031_anomaly_watches.sql")),
    (32, "agents", include_str!("../migrations/sqlite/0032_agents.sql")),
    (33, "cmdb", include_str!("../migrations/sqlite/0033_cmdb.sql")),
    (34, "asset_lifecycle", include_str!("../migrations/sqlite/0034_asset_lifecycle.sql")),
    (35, "contracts", include_str!("../migrations/sqlite/0035_contracts.sql")),
    (36, "ci_attribute_defs", include_str!("../migrations/sqlite/0036_ci_attribute_defs.sql")),
    (37, "changes", include_str!("../migrations/sqlite/0037_changes.sql")),
    (38, "change_lockdown_and_mail", include_str!("../migrations/sqlite/0038_change_lockdown_and_mail.sql")),
    (
        39,
        "change_templates_and_recurring_windows",
        include_str!("../migrations/sqlite/0039_change_templates_and_recurring_windows.sql"),
    ),
    (40, "tickets", include_str!("../migrations/sqlite/0040_tickets.sql")),
    (41, "ticket_queue_index", include_str!("../migrations/sqlite/0041_ticket_queue_index.sql")),
    (42, "kb_and_problems", include_str!("../migrations/sqlite/0042_kb_and_problems.sql")),
    (43, "ticket_sla_events_and_mail", include_str!("../migrations/sqlite/0043_ticket_sla_events_and_mail.sql")),
    (44, "request_items", include_str!("../migrations/sqlite/0044_request_items.sql")),
    (45, "ticket_mail_in", include_str!("../migrations/sqlite/0045_ticket_mail_in.sql")),
    (46, "ticket_routing", include_str!("../migrations/sqlite/0046_ticket_routing.sql")),
    (47, "ticket_links", include_str!("../migrations/sqlite/0047_ticket_links.sql")),
    (48, "ticket_sla_check_order", include_str!("../migrations/sqlite/0048_ticket_sla_check_order.sql")),
    (49, "ticket_priority_override", include_str!("../migrations/sqlite/0049_ticket_priority_override.sql")),
    (50, "kb_answers", include_str!("../migrations/sqlite/0050_kb_answers.sql")),
    (51, "sla_agreements", include_str!("../migrations/sqlite/0051_sla_agreements.sql")),
    (52, "ticket_attachment_author", include_str!("../migrations/sqlite/0052_ticket_attachment_author.sql")),
    (53, "imports", include_str!("../migrations/sqlite/0053_imports.sql")),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "foundation", include_str!("../migrations/postgres/0001_foundation.sql")),
    (2, "revisions", include_str!("../migrations/postgres/0002_revisions.sql")),
    (3, "monitors", include_str!("../migrations/postgres/0003_monitors.sql")),
    (4, "maintenance", include_str!("../migrations/postgres/0004_maintenance.sql")),
    (5, "incidents", include_str!("../migrations/postgres/0005_incidents.sql")),
    (6, "oncall", include_str!("../migrations/postgres/0006_oncall.sql")),
    (7, "trust", include_str!("../migrations/postgres/0007_trust.sql")),
    (8, "noise", include_str!("../migrations/postgres/0008_noise.sql")),
    (9, "status_pages", include_str!("../migrations/postgres/0009_status_pages.sql")),
    (10, "public_incidents", include_str!("../migrations/postgres/0010_public_incidents.sql")),
    (11, "status_subscribers", include_str!("../migrations/postgres/0011_status_subscribers.sql")),
    (12, "private_pages", include_str!("../migrations/postgres/0012_private_pages.sql")),
    (13, "vendors", include_str!("../migrations/postgres/0013_vendors.sql")),
    (14, "vendor_dependencies", include_str!("../migrations/postgres/0014_vendor_dependencies.sql")),
    (15, "third_party_components", include_str!("../migrations/postgres/0015_third_party_components.sql")),
    (16, "custom_domains", include_str!("../migrations/postgres/0016_custom_domains.sql")),
    (17, "status_maintenances", include_str!("../migrations/postgres/0017_status_maintenances.sql")),
    (18, "status_templates", include_str!("../migrations/postgres/0018_status_templates.sql")),
    (19, "team_members", include_str!("../migrations/postgres/0019_team_members.sql")),
    (20, "rate_budgets", include_str!("../migrations/postgres/0020_rate_budgets.sql")),
    (21, "page_branding", include_str!("../migrations/postgres/0021_page_branding.sql")),
    (22, "slos", include_str!("../migrations/postgres/0022_slos.sql")),
    (23, "slo_alerts", include_str!("../migrations/postgres/0023_slo_alerts.sql")),
    (24, "series", include_str!("../migrations/postgres/0024_series.sql")),
    (25, "report_schedules", include_str!("../migrations/postgres/0025_report_schedules.sql")),
    (26, "slo_sources", include_str!("../migrations/postgres/0026_slo_sources.sql")),
    (27, "kpi_days", include_str!("../migrations/postgres/0027_kpi_days.sql")),
    (28, "series_alerts", include_str!("../migrations/postgres/0028_series_alerts.sql")),
    (29, "incidents_detected", include_str!("../migrations/postgres/0029_incidents_detected.sql")),
    (30, "slo_alerts_outlive", include_str!("../migrations/postgres/0030_slo_alerts_outlive.sql")),
    (31, "anomaly_watches", include_str!("../migrations/postgres/0031_anomaly_watches.sql")),
    (32, "agents", include_str!("../migrations/postgres/0032_agents.sql")),
    (33, "cmdb", include_str!("../migrations/postgres/0033_cmdb.sql")),
    (34, "asset_lifecycle", include_str!("../migrations/postgres/0034_asset_lifecycle.sql")),
    (35, "contracts", include_str!("../migrations/postgres/0035_contracts.sql")),
    (36, "ci_attribute_defs", include_str!("../migrations/postgres/0036_ci_attribute_defs.sql")),
    (37, "changes", include_str!("../migrations/postgres/0037_changes.sql")),
    (38, "change_lockdown_and_mail", include_str!("../migrations/postgres/0038_change_lockdown_and_mail.sql")),
    (
        39,
        "change_templates_and_recurring_windows",
        include_str!("../migrations/postgres/0039_change_templates_and_recurring_windows.sql"),
    ),
    (40, "tickets", include_str!("../migrations/postgres/0040_tickets.sql")),
    (41, "ticket_queue_index", include_str!("../migrations/postgres/0041_ticket_queue_index.sql")),
    (42, "kb_and_problems", include_str!("../migrations/postgres/0042_kb_and_problems.sql")),
    (43, "ticket_sla_events_and_mail", include_str!("../migrations/postgres/0043_ticket_sla_events_and_mail.sql")),
    (44, "request_items", include_str!("../migrations/postgres/0044_request_items.sql")),
    (45, "ticket_mail_in", include_str!("../migrations/postgres/0045_ticket_mail_in.sql")),
    (46, "ticket_routing", include_str!("../migrations/postgres/0046_ticket_routing.sql")),
    (47, "ticket_links", include_str!("../migrations/postgres/0047_ticket_links.sql")),
    (48, "ticket_sla_check_order", include_str!("../migrations/postgres/0048_ticket_sla_check_order.sql")),
    (49, "ticket_priority_override", include_str!("../migrations/postgres/0049_ticket_priority_override.sql")),
    (50, "kb_answers", include_str!("../migrations/postgres/0050_kb_answers.sql")),
    (51, "sla_agreements", include_str!("../migrations/postgres/0051_sla_agreements.sql")),
    (52, "ticket_attachment_author", include_str!("../migrations/postgres/0052_ticket_attachment_author.sql")),
    (53, "imports", include_str!("../migrations/postgres/0053_imports.sql")),
];

pub fn migrator(backend: Backend) -> Migrator {
    let set = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    Migrator::with_migrations(
        set.iter()
            .map(|(v, name, sql)| {
                Migration::new(*v, (*name).into(), MigrationType::Simple, sqlx::SqlSafeStr::into_sql_str(*sql), false)
            })
            .collect(),
    )
}

/// How a SQLite write transaction starts (here and on the synchronous writer).
pub(crate) const SQLITE_BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// Opens a write transaction. SQLite takes the write lock up front (`BEGIN IMMEDIATE`) so a
/// transaction that reads before writing cannot fail half-way with SQLITE_BUSY.
pub(crate) trait BeginWrite {
    type Db: Database;
    fn begin_write(&self) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for Pool<Sqlite> {
    type Db = Sqlite;
    fn begin_write(&self) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send {
        self.begin_with(SQLITE_BEGIN_WRITE)
    }
}

impl BeginWrite for Pool<Postgres> {
    type Db = Postgres;
    fn begin_write(&self) -> impl Future<Output = Result<Transaction<'static, Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
}

/// Column names and nullability of every application table, for the schema-drift test.
pub async fn introspect_columns(db: &Db) -> StoreResult<Vec<(String, String, bool)>> {
    let rows: Vec<(String, String, bool)> = match db {
        Db::Sqlite(sqlite) => {
            sqlx::query_as(
                "SELECT m.name, p.name, p.\"notnull\" = 0 FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' \
                 AND m.name NOT LIKE '%_fts%' \
                 ORDER BY m.name, p.name",
            )
            .fetch_all(&sqlite.pool)
            .await?
        }
        Db::Postgres(pool) => {
            sqlx::query_as(
                "SELECT table_name::text, column_name::text, is_nullable = 'YES' FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%' AND is_generated = 'NEVER' \
                 ORDER BY table_name, column_name",
            )
            .fetch_all(pool)
            .await?
        }
    };
    Ok(rows)
}

/// A consistent online copy of the database into `path` (SQLite only).
pub async fn backup_to(db: &Db, path: &str) -> StoreResult<()> {
    match db {
        Db::Sqlite(sqlite) => {
            // VACUUM INTO reads one snapshot while writers go on, and writes a compact file.
            sqlx::query("VACUUM INTO $1").bind(path).execute(&sqlite.pool).await?;
            Ok(())
        }
        Db::Postgres(_) => Err(StoreError::Config(
            "backup of a PostgreSQL database is done with PostgreSQL's own tools: \
             pg_dump --format=custom --file=opsdeck.dump \"$DATABASE_URL\""
                .into(),
        )),
    }
}

/// Serialises first-run setup: PostgreSQL locks the users table for the transaction; SQLite's
/// `BEGIN IMMEDIATE` already holds the single write lock.
pub(crate) trait LockUsers {
    fn lock_users(&mut self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

impl LockUsers for Transaction<'_, Sqlite> {
    async fn lock_users(&mut self) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

impl LockUsers for Transaction<'_, Postgres> {
    async fn lock_users(&mut self) -> Result<(), sqlx::Error> {
        sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE").execute(&mut **self).await?;
        Ok(())
    }
}

pub(crate) async fn lock_users_table<T: LockUsers>(tx: &mut T) -> Result<(), sqlx::Error> {
    tx.lock_users().await
}

/// What a lease claim selects: rows of `table` (primary key `key`) that are `due` (a condition
/// that may use `$3`, the current time, and `$4`, `due_by` when given) and not leased by a live
/// lease, oldest `order` first.
pub(crate) struct Claim<'a> {
    pub table: &'a str,
    pub key: &'a str,
    pub due: &'a str,
    pub order: &'a str,
    pub returning: &'a str,
    /// A time after `$3` up to which rows are claimed ahead (bound as `$4`).
    pub due_by: Option<i64>,
}

/// Leases up to `limit` due rows to `node` until `lease_until` and returns them. PostgreSQL
/// skips rows another node is claiming right now (`FOR UPDATE SKIP LOCKED`); SQLite has one
/// writer, which `BEGIN IMMEDIATE` serialises. Monitors, escalations and the notification
/// outbox are all claimed this way.
pub(crate) async fn claim_leased<T>(
    db: &Db,
    c: &Claim<'_>,
    node: &str,
    now_ms: i64,
    lease_until_ms: i64,
    limit: i64,
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    // The limit is written into the statement: SQLite plans a bound LIMIT by its value, so it
    // prepares such a statement again at every execution (about 4 % of a checking process).
    let inner = format!(
        "SELECT {key} FROM {table} WHERE {due} AND (lease_until IS NULL OR lease_until < $3) ORDER BY {order} \
         LIMIT {limit}",
        limit = limit.clamp(1, 100_000),
        key = c.key,
        table = c.table,
        due = c.due,
        order = c.order
    );
    let update = |lock: &str| {
        format!(
            "UPDATE {table} SET lease_owner = $1, lease_until = $2 WHERE {key} IN ({inner}{lock}) RETURNING {ret}",
            table = c.table,
            key = c.key,
            ret = c.returning
        )
    };
    match db {
        Db::Sqlite(sqlite) => {
            let _gate = sqlite.gate.lock().await;
            let mut tx = sqlite.writer.begin_write().await?;
            let q = sqlx::query_as(sqlx::AssertSqlSafe(update(""))).bind(node).bind(lease_until_ms).bind(now_ms);
            let rows = match c.due_by {
                Some(by) => q.bind(by).fetch_all(&mut *tx).await?,
                None => q.fetch_all(&mut *tx).await?,
            };
            tx.commit().await?;
            Ok(rows)
        }
        Db::Postgres(pool) => {
            let q = sqlx::query_as(sqlx::AssertSqlSafe(update(" FOR UPDATE SKIP LOCKED")))
                .bind(node)
                .bind(lease_until_ms)
                .bind(now_ms);
            match c.due_by {
                Some(by) => q.bind(by).fetch_all(pool).await,
                None => q.fetch_all(pool).await,
            }
        }
    }
}

/// Leases due monitors to one node (see [`claim_leased`]).
pub(crate) async fn claim_due_monitors(
    db: &Db,
    node: &str,
    now_ms: i64,
    due_by_ms: i64,
    lease_until_ms: i64,
    limit: i64,
) -> Result<Vec<crate::monitor::DueRowPub>, sqlx::Error> {
    let claim = Claim {
        table: "monitors",
        key: "id",
        due: "next_run_at <= $4 AND NOT paused",
        due_by: Some(due_by_ms.max(now_ms)),
        order: "next_run_at",
        returning: "id, name, service_id, settings, timeout_seconds, interval_seconds, down_after, \
            up_after, state, fail_streak, ok_streak, next_run_at, created_at, last_ping_at, locations, quorum, \
            updated_at",
    };
    claim_leased(db, &claim, node, now_ms, lease_until_ms, limit).await
}

/// `head (…), (…), … tail` for `rows` rows of `cols` parameters. PostgreSQL numbers them
/// (`$1, $2, …`). SQLite gets anonymous `?` when `head` and `tail` hold no parameter of their
/// own: a binder (sqlx, or the synchronous writer) asks SQLite for each parameter's name, a
/// linear search through the statement's named parameters, so numbered ones made a 1,664-
/// parameter upsert quadratic (a fifth of the CPU of checks; docs/performance.md). With other
/// parameters around they stay numbered (`?1, ?2, …`), since sqlx counts bare ones apart; a
/// caller that fills a marker in later must make it one of those (`$NODE` in `oncall/queue.rs`).
pub(crate) fn multi_row(backend: Backend, head: &str, cols: usize, rows: usize, tail: &str) -> String {
    let has_params = |s: &str| s.contains(['?', '$']);
    let anonymous = backend == Backend::Sqlite && !has_params(head) && !has_params(tail);
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * cols * 6);
    sql.push_str(head);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push(match backend {
                Backend::Sqlite => '?',
                Backend::Postgres => '$',
            });
            if !anonymous {
                sql.push_str(&(r * cols + c + 1).to_string());
            }
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

/// Rows per multi-row statement: a few fixed sizes, so each connection prepares (and caches)
/// at most four statement shapes per table, and 100 rows take 4 statements (64 + 16 + 16 + 4),
/// not 9 as with sizes 64, 8 and 1: every statement is a round trip to sqlx's SQLite thread.
/// Not larger: with 256-row statements the results of 250,000 monitors at 60 s fell behind
/// (docs/performance.md). 64 rows × 26 columns stays far below SQLite's 32,766 parameters.
const CHUNK_SIZES: [usize; 4] = [64, 16, 4, 1];

/// Splits `items` into chunks of the fixed sizes, largest first.
pub(crate) fn fixed_chunks<T>(mut items: &[T]) -> Vec<&[T]> {
    debug_assert!(CHUNK_SIZES.windows(2).all(|w| w[0] > w[1]) && CHUNK_SIZES.last() == Some(&1));
    let mut out = Vec::new();
    for size in CHUNK_SIZES {
        while items.len() >= size {
            let (head, rest) = items.split_at(size);
            out.push(head);
            items = rest;
        }
    }
    out
}

/// `n` parameter placeholders separated by commas, numbered from `first` (`$4, $5` on
/// PostgreSQL, `?4, ?5` on SQLite). Numbered on SQLite too: sqlx binds a bare `?` that follows
/// a `$n` by counting bare ones only, so `… = $1 AND id IN (?)` bound the id to argument 1
/// (the 90-day uptime bars read nothing on SQLite until this was found).
pub(crate) fn placeholders(backend: Backend, n: usize, first: usize) -> String {
    let sigil = match backend {
        Backend::Sqlite => '?',
        Backend::Postgres => '$',
    };
    let mut s = String::with_capacity(n * 5);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push(sigil);
        s.push_str(&(first + i).to_string());
    }
    s
}

/// A condition: the JSON array of text in `column` holds the parameter numbered `param`.
pub(crate) fn lists_location(backend: Backend, column: &str, param: usize) -> String {
    match backend {
        Backend::Sqlite => format!("EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = ?{param})"),
        Backend::Postgres => format!("{column} ? ${param}"),
    }
}

/// Serialises alert and incident writes across nodes: the ingest batch reads open alerts and
/// incidents before it writes them. SQLite's `BEGIN IMMEDIATE` already holds the only write
/// lock; PostgreSQL takes a transaction-scoped advisory lock.
pub(crate) trait LockAlerts {
    fn lock_alerts(&mut self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

impl LockAlerts for Transaction<'_, Sqlite> {
    async fn lock_alerts(&mut self) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

impl LockAlerts for Transaction<'_, Postgres> {
    async fn lock_alerts(&mut self) -> Result<(), sqlx::Error> {
        // The constant is Opsdeck's lock number for the alert pipeline ("ALRT").
        sqlx::query("SELECT pg_advisory_xact_lock(1095521876)").execute(&mut **self).await?;
        Ok(())
    }
}

/// A new UUID in SQL, for rows created by `INSERT … SELECT` (status page deliveries).
pub(crate) fn new_id(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "randomblob(16)",
        Backend::Postgres => "gen_random_uuid()",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_placeholders() {
        assert_eq!(multi_row(Backend::Postgres, "V ", 2, 2, " T"), "V ($1, $2), ($3, $4) T");
        assert_eq!(multi_row(Backend::Sqlite, "V ", 2, 2, ""), "V (?, ?), (?, ?)");
        // Parameters of its own in the tail: every one numbered, so none is counted apart.
        assert_eq!(multi_row(Backend::Sqlite, "V ", 2, 1, " WHERE x = ?3"), "V (?1, ?2) WHERE x = ?3");
        assert_eq!(multi_row(Backend::Sqlite, "V ", 1, 1, " WHERE x = $NODE"), "V (?1) WHERE x = $NODE");
    }

    #[test]
    fn chunks_cover_every_item_in_order_with_few_statements() {
        let sizes = |n: usize| fixed_chunks(&vec![0u8; n]).iter().map(|c| c.len()).collect::<Vec<_>>();
        assert!(sizes(0).is_empty());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(100), [64, 16, 16, 4]);
        assert_eq!(sizes(500), [64, 64, 64, 64, 64, 64, 64, 16, 16, 16, 4]);
        let items: Vec<usize> = (0..1000).collect();
        let flat: Vec<usize> = fixed_chunks(&items).concat();
        assert_eq!(flat, items, "every item once, in order");
    }
}
