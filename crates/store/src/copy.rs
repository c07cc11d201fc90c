//! Moving a SQLite database to PostgreSQL (`opsdeck migrate-db`): every table, every row, in
//! one PostgreSQL transaction, so the target has all of it or nothing.
//!
//! The two migration sets describe the same tables and columns (a store test checks it), so
//! the copy is driven by the target's catalogue: its column types say how each SQLite value
//! (integer, real, text or blob) becomes a PostgreSQL one, and its foreign keys give the order
//! of the tables. A nullable reference to a table copied later (or to the same table) is written
//! empty first and filled in once every row is there. This module reads one backend and writes
//! the other; it is the one place outside `dialect.rs` whose SQL is backend-specific.

use crate::{Db, StoreError, StoreResult};
use futures_util::TryStreamExt;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Postgres, Row, TypeInfo, ValueRef};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// Parameters per INSERT at most (PostgreSQL takes 65,535).
const PARAMS_MAX: usize = 30_000;

/// How many rows each table received.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

/// What PostgreSQL expects in a column.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Uuid,
    Bool,
    Int8,
    Int4,
    Int2,
    Float,
    Text,
    Json,
    Bytes,
}

impl Kind {
    fn of(data_type: &str) -> Option<Kind> {
        Some(match data_type {
            "uuid" => Kind::Uuid,
            "boolean" => Kind::Bool,
            "bigint" => Kind::Int8,
            "integer" => Kind::Int4,
            "smallint" => Kind::Int2,
            "double precision" | "real" | "numeric" => Kind::Float,
            "text" | "character varying" => Kind::Text,
            "jsonb" | "json" => Kind::Json,
            "bytea" => Kind::Bytes,
            _ => return None,
        })
    }
}

/// A value on its way, typed for PostgreSQL.
enum Val {
    Null(Kind),
    Uuid(Uuid),
    Bool(bool),
    Int8(i64),
    Int4(i32),
    Int2(i16),
    Float(f64),
    Text(String),
    Json(serde_json::Value),
    Bytes(Vec<u8>),
}

fn bind(q: Query<'_, Postgres, PgArguments>, v: Val) -> Query<'_, Postgres, PgArguments> {
    match v {
        Val::Null(Kind::Uuid) => q.bind(None::<Uuid>),
        Val::Null(Kind::Bool) => q.bind(None::<bool>),
        Val::Null(Kind::Int8) => q.bind(None::<i64>),
        Val::Null(Kind::Int4) => q.bind(None::<i32>),
        Val::Null(Kind::Int2) => q.bind(None::<i16>),
        Val::Null(Kind::Float) => q.bind(None::<f64>),
        Val::Null(Kind::Text) => q.bind(None::<String>),
        Val::Null(Kind::Json) => q.bind(None::<sqlx::types::Json<serde_json::Value>>),
        Val::Null(Kind::Bytes) => q.bind(None::<Vec<u8>>),
        Val::Uuid(u) => q.bind(u),
        Val::Bool(b) => q.bind(b),
        Val::Int8(i) => q.bind(i),
        Val::Int4(i) => q.bind(i),
        Val::Int2(i) => q.bind(i),
        Val::Float(f) => q.bind(f),
        Val::Text(s) => q.bind(s),
        Val::Json(j) => q.bind(sqlx::types::Json(j)),
        Val::Bytes(b) => q.bind(b),
    }
}

/// A SQLite value as stored (its storage class), before it is typed for PostgreSQL.
enum Raw {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

fn read_raw(row: &sqlx::sqlite::SqliteRow, i: usize) -> Result<Raw, sqlx::Error> {
    let value = row.try_get_raw(i)?;
    if value.is_null() {
        return Ok(Raw::Null);
    }
    let class = value.type_info().name().to_owned();
    Ok(match class.as_str() {
        "INTEGER" | "BOOLEAN" | "INT8" => Raw::Int(row.try_get_unchecked(i)?),
        "REAL" => Raw::Real(row.try_get_unchecked(i)?),
        "BLOB" => Raw::Blob(row.try_get_unchecked(i)?),
        _ => Raw::Text(row.try_get_unchecked(i)?),
    })
}

fn convert(raw: Raw, kind: Kind, at: &dyn Fn() -> String) -> StoreResult<Val> {
    let bad = |what: &str| StoreError::Config(format!("{}: cannot copy {what} into a {kind:?} column", at()));
    Ok(match (raw, kind) {
        (Raw::Null, k) => Val::Null(k),
        (Raw::Blob(b), Kind::Uuid) => Val::Uuid(Uuid::from_slice(&b).map_err(|_| bad("a blob that is not a UUID"))?),
        (Raw::Text(t), Kind::Uuid) => Val::Uuid(Uuid::parse_str(&t).map_err(|_| bad("text that is not a UUID"))?),
        (Raw::Int(i), Kind::Bool) => Val::Bool(i != 0),
        (Raw::Int(i), Kind::Int8) => Val::Int8(i),
        (Raw::Int(i), Kind::Int4) => Val::Int4(i32::try_from(i).map_err(|_| bad("a number out of range"))?),
        (Raw::Int(i), Kind::Int2) => Val::Int2(i16::try_from(i).map_err(|_| bad("a number out of range"))?),
        (Raw::Int(i), Kind::Float) => Val::Float(i as f64),
        (Raw::Real(f), Kind::Float) => Val::Float(f),
        (Raw::Text(t), Kind::Text) => Val::Text(t),
        (Raw::Text(t), Kind::Json) => Val::Json(serde_json::from_str(&t).map_err(|_| bad("text that is not JSON"))?),
        (Raw::Blob(b), Kind::Json) => {
            Val::Json(serde_json::from_slice(&b).map_err(|_| bad("a blob that is not JSON"))?)
        }
        (Raw::Blob(b), Kind::Text) => Val::Text(String::from_utf8(b).map_err(|_| bad("a blob that is not UTF-8"))?),
        (Raw::Blob(b), Kind::Bytes) => Val::Bytes(b),
        (Raw::Int(_), _) => return Err(bad("an integer")),
        (Raw::Real(_), _) => return Err(bad("a real number")),
        (Raw::Text(_), _) => return Err(bad("text")),
        (Raw::Blob(_), _) => return Err(bad("a blob")),
    })
}

/// A table of the target: its columns in order, its primary key, and the nullable references
/// that are written after every table is copied.
struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
    key: Vec<String>,
    later: BTreeSet<String>,
}

/// The target's tables in an order that satisfies its required references. Generated columns
/// (the CMDB's search vector) are PostgreSQL's to compute, not copied.
async fn plan(pool: &sqlx::PgPool) -> StoreResult<Vec<Table>> {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%' \
         AND is_generated = 'NEVER' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pool)
    .await?;
    // (table, referenced table, column, column nullable) for each column of each foreign key.
    let refs: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, a.attname::text, NOT a.attnotnull \
         FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
         WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace",
    )
    .fetch_all(pool)
    .await?;
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, a.attname::text FROM pg_constraint c JOIN pg_attribute a \
         ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
         WHERE c.contype = 'p' AND c.connamespace = current_schema()::regnamespace",
    )
    .fetch_all(pool)
    .await?;
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for (table, column, data_type) in columns {
        let kind = Kind::of(&data_type).ok_or_else(|| {
            StoreError::Config(format!("{table}.{column}: the copy does not know PostgreSQL type {data_type}"))
        })?;
        let t = tables.entry(table.clone()).or_insert_with(|| Table {
            name: table,
            columns: Vec::new(),
            key: Vec::new(),
            later: BTreeSet::new(),
        });
        t.columns.push((column, kind));
    }
    for (table, column) in keys {
        if let Some(t) = tables.get_mut(&table) {
            t.key.push(column);
        }
    }
    // Kahn's order over the references that must hold when a row is written; when only
    // nullable ones are left between the remaining tables, they are deferred.
    let mut order = Vec::new();
    let mut left: BTreeSet<String> = tables.keys().cloned().collect();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|t| {
                // Ready when everything it must reference is copied (a reference to itself
                // counts as not copied, until it is deferred).
                refs.iter().all(|(from, to, col, _)| from != *t || !left.contains(to) || tables[*t].later.contains(col))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            // Defer every nullable reference from a remaining table to a remaining table.
            let mut deferred = false;
            for (from, to, col, nullable) in &refs {
                if *nullable && left.contains(from) && left.contains(to) {
                    deferred |= tables.get_mut(from).is_some_and(|t| t.later.insert(col.clone()));
                }
            }
            if !deferred {
                return Err(StoreError::Config(format!(
                    "the tables {left:?} reference each other through required columns; they cannot be copied"
                )));
            }
            continue;
        }
        for t in ready {
            left.remove(&t);
            order.push(t);
        }
    }
    Ok(order.into_iter().filter_map(|t| tables.remove(&t)).collect())
}

/// Copies every row of `from` (SQLite, at this version's schema) into `to` (PostgreSQL, migrated
/// here; it must hold no accounts yet). `progress` hears each table as it is done.
pub async fn copy_sqlite_to_postgres(
    from: &Db,
    to: &Db,
    mut progress: impl FnMut(&str, u64),
) -> StoreResult<CopyReport> {
    let (Db::Sqlite(src), Db::Postgres(dst)) = (from, to) else {
        return Err(StoreError::Config("migrate-db copies a SQLite database (--from) into PostgreSQL (--to)".into()));
    };
    from.migrate().await?;
    to.migrate().await?;
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(dst).await?;
    if users > 0 {
        return Err(StoreError::Config(
            "the PostgreSQL database already has accounts: migrate-db copies into a new, empty database".into(),
        ));
    }
    let tables = plan(dst).await?;
    let mut tx = dst.begin().await?;
    // What the migrations wrote (counters, defaults) is replaced by the source's rows.
    let all: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    sqlx::query(sqlx::AssertSqlSafe(format!("TRUNCATE {}", all.join(", ")))).execute(&mut *tx).await?;
    let mut report = CopyReport::default();
    // (table, key values, column, value) of the deferred references.
    let mut deferred: Vec<(usize, Vec<Val>, String, Val)> = Vec::new();
    for (ti, t) in tables.iter().enumerate() {
        let names: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
        let select = format!("SELECT {} FROM {}", names.join(", "), t.name);
        let per_insert = (PARAMS_MAX / names.len().max(1)).max(1);
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch(&src.pool);
        let mut batch: Vec<Vec<Val>> = Vec::with_capacity(per_insert);
        let mut copied = 0u64;
        while let Some(row) = rows.try_next().await? {
            let mut vals = Vec::with_capacity(names.len());
            let mut keys = Vec::new();
            let mut later = Vec::new();
            for (i, (col, kind)) in t.columns.iter().enumerate() {
                let at = || format!("{}.{col} (row {})", t.name, copied + 1);
                let v = convert(read_raw(&row, i)?, *kind, &at)?;
                if t.key.contains(col) {
                    keys.push(copy_val(&v));
                }
                if t.later.contains(col) && !matches!(v, Val::Null(_)) {
                    later.push((col.clone(), v));
                    vals.push(Val::Null(*kind));
                } else {
                    vals.push(v);
                }
            }
            for (col, v) in later {
                let key = keys.iter().map(copy_val).collect();
                deferred.push((ti, key, col, v));
            }
            batch.push(vals);
            copied += 1;
            if batch.len() == per_insert {
                insert(&mut tx, t, std::mem::take(&mut batch)).await?;
            }
        }
        if !batch.is_empty() {
            insert(&mut tx, t, batch).await?;
        }
        progress(&t.name, copied);
        report.tables.push((t.name.clone(), copied));
    }
    for (ti, key, col, v) in deferred {
        let t = &tables[ti];
        // The key's values were taken in column order; the condition names them the same way.
        let key_cols = t.columns.iter().map(|(c, _)| c).filter(|c| t.key.contains(c));
        let cond: Vec<String> = key_cols.enumerate().map(|(i, k)| format!("{k} = ${}", i + 2)).collect();
        let sql = format!("UPDATE {} SET {col} = $1 WHERE {}", t.name, cond.join(" AND "));
        let mut q = bind(sqlx::query(sqlx::AssertSqlSafe(sql)), v);
        for k in key {
            q = bind(q, k);
        }
        if q.execute(&mut *tx).await?.rows_affected() != 1 {
            return Err(StoreError::Config(format!(
                "{}.{col}: a reference could not be restored; nothing was kept",
                t.name
            )));
        }
    }
    // Every table holds as many rows as its source (counted again there) before anything is
    // committed.
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for (name, n) in &report.tables {
        counts.insert(name, *n);
        let count = format!("SELECT COUNT(*) FROM {name}");
        let there: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count.clone())).fetch_one(&mut *tx).await?;
        let source: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count)).fetch_one(&src.pool).await?;
        if there != source || u64::try_from(there).ok() != Some(*n) {
            return Err(StoreError::Config(format!(
                "{name}: the source has {source} rows but {there} arrived; nothing was kept"
            )));
        }
    }
    tx.commit().await?;
    Ok(report)
}

fn copy_val(v: &Val) -> Val {
    match v {
        Val::Null(k) => Val::Null(*k),
        Val::Uuid(u) => Val::Uuid(*u),
        Val::Bool(b) => Val::Bool(*b),
        Val::Int8(i) => Val::Int8(*i),
        Val::Int4(i) => Val::Int4(*i),
        Val::Int2(i) => Val::Int2(*i),
        Val::Float(f) => Val::Float(*f),
        Val::Text(s) => Val::Text(s.clone()),
        Val::Json(j) => Val::Json(j.clone()),
        Val::Bytes(b) => Val::Bytes(b.clone()),
    }
}

async fn insert(tx: &mut sqlx::Transaction<'_, Postgres>, t: &Table, rows: Vec<Vec<Val>>) -> StoreResult<()> {
    let names: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
    let sql = crate::dialect::multi_row(
        crate::Backend::Postgres,
        &format!("INSERT INTO {} ({}) VALUES ", t.name, names.join(", ")),
        names.len(),
        rows.len(),
        "",
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for row in rows {
        for v in row {
            q = bind(q, v);
        }
    }
    q.execute(&mut **tx).await?;
    Ok(())
}
