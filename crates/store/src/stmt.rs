//! Statements written once for a write that runs through sqlx on PostgreSQL and on SQLite's
//! synchronous writer ([`crate::sync_writer`]): the SQL (with `$n`/`?n` placeholders from
//! [`crate::dialect`]), its arguments as [`Arg`]s, rows decoded by [`FetchRow`], and the
//! transaction as a [`WriteTx`]. The hot writes use it (the ingest batch); the rest of the store
//! uses sqlx on both backends directly.

use crate::{StoreError, StoreResult};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::types::Json;
use sqlx::{Arguments, Postgres};
use std::borrow::Cow;
use uuid::Uuid;

/// One argument of a statement; `None` binds NULL of the argument's type.
#[derive(Debug, Clone)]
pub(crate) enum Arg<'a> {
    Uuid(Option<Uuid>),
    Int(Option<i64>),
    Text(Option<&'a str>),
    /// Serialised JSON: a JSONB column on PostgreSQL, TEXT on SQLite.
    Json(String),
}

impl From<Uuid> for Arg<'_> {
    fn from(v: Uuid) -> Self {
        Arg::Uuid(Some(v))
    }
}
impl From<Option<Uuid>> for Arg<'_> {
    fn from(v: Option<Uuid>) -> Self {
        Arg::Uuid(v)
    }
}
impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref())
    }
}
impl<T: serde::Serialize> From<&Json<T>> for Arg<'_> {
    fn from(v: &Json<T>) -> Self {
        // The columns hold maps with string keys, lists and values: serialising cannot fail.
        Arg::Json(serde_json::to_string(&v.0).unwrap_or_else(|_| "null".into()))
    }
}

/// SQL and its arguments: `Stmt::new(sql).bind(a).bind(b)`.
#[derive(Debug)]
pub(crate) struct Stmt<'a> {
    sql: Cow<'a, str>,
    args: Vec<Arg<'a>>,
}

impl<'a> Stmt<'a> {
    pub(crate) fn new(sql: impl Into<Cow<'a, str>>) -> Self {
        Stmt { sql: sql.into(), args: Vec::new() }
    }

    pub(crate) fn bind(mut self, arg: impl Into<Arg<'a>>) -> Self {
        self.args.push(arg.into());
        self
    }
}

/// A row type both drivers decode: sqlx's `FromRow` for PostgreSQL, [`FetchRow::from_sync`] for
/// the SQLite writer (columns by position, in the order of the row's `SELECT`).
pub(crate) trait FetchRow: Sized + Send + Unpin + for<'r> sqlx::FromRow<'r, PgRow> {
    fn from_sync(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

impl FetchRow for (i64,) {
    fn from_sync(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?,))
    }
}

impl FetchRow for (String, Uuid) {
    fn from_sync(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?))
    }
}

/// Decodes a JSON text column for [`FetchRow::from_sync`].
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T> {
    let text: String = row.get(i)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

/// An open write transaction of either kind.
pub(crate) trait WriteTx: Send {
    /// Runs a statement; returns the rows it changed.
    fn execute(&mut self, s: Stmt<'_>) -> impl Future<Output = StoreResult<u64>> + Send;
    fn fetch<R: FetchRow>(&mut self, s: Stmt<'_>) -> impl Future<Output = StoreResult<Vec<R>>> + Send;
}

fn pg_args(args: Vec<Arg<'_>>) -> StoreResult<PgArguments> {
    let mut out = PgArguments::default();
    for arg in args {
        let added = match arg {
            Arg::Uuid(v) => out.add(v),
            Arg::Int(v) => out.add(v),
            Arg::Text(v) => out.add(v.map(str::to_owned)),
            Arg::Json(text) => {
                let raw: Box<serde_json::value::RawValue> =
                    serde_json::from_str(&text).map_err(|e| StoreError::Db(sqlx::Error::Encode(Box::new(e))))?;
                out.add(Json(raw))
            }
        };
        added.map_err(|e| StoreError::Db(sqlx::Error::Encode(e)))?;
    }
    Ok(out)
}

impl WriteTx for sqlx::Transaction<'_, Postgres> {
    async fn execute(&mut self, s: Stmt<'_>) -> StoreResult<u64> {
        let args = pg_args(s.args)?;
        let done = sqlx::query_with(sqlx::AssertSqlSafe(s.sql.into_owned()), args).execute(&mut **self).await?;
        Ok(done.rows_affected())
    }

    async fn fetch<R: FetchRow>(&mut self, s: Stmt<'_>) -> StoreResult<Vec<R>> {
        let args = pg_args(s.args)?;
        Ok(sqlx::query_as_with::<Postgres, R, _>(sqlx::AssertSqlSafe(s.sql.into_owned()), args)
            .fetch_all(&mut **self)
            .await?)
    }
}

/// A write transaction on the SQLite writer's connection, begun with `BEGIN IMMEDIATE`. Its
/// futures never wait: they finish on their first poll ([`run_ready`]).
pub(crate) struct SyncTx<'c> {
    conn: &'c mut rusqlite::Connection,
    open: bool,
}

impl<'c> SyncTx<'c> {
    pub(crate) fn begin(conn: &'c mut rusqlite::Connection) -> StoreResult<Self> {
        conn.execute_batch(crate::dialect::SQLITE_BEGIN_WRITE)?;
        Ok(SyncTx { conn, open: true })
    }

    pub(crate) fn commit(mut self) -> StoreResult<()> {
        self.open = false;
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    fn prepare(&self, s: &Stmt<'_>) -> StoreResult<rusqlite::CachedStatement<'_>> {
        let mut st = self.conn.prepare_cached(&s.sql)?;
        for i in 1..=st.parameter_count() {
            // `$n` and `?n` pick argument n, as sqlx binds them; a bare `?` takes its position.
            let n = st.parameter_name(i).and_then(|name| name.get(1..)).and_then(|d| d.parse().ok()).unwrap_or(i);
            let arg = n.checked_sub(1).and_then(|k| s.args.get(k)).ok_or_else(|| {
                StoreError::Config(format!("statement parameter {n} has no argument ({} given)", s.args.len()))
            })?;
            match arg {
                Arg::Uuid(v) => st.raw_bind_parameter(i, v)?,
                Arg::Int(v) => st.raw_bind_parameter(i, v)?,
                Arg::Text(v) => st.raw_bind_parameter(i, v)?,
                Arg::Json(text) => st.raw_bind_parameter(i, text)?,
            }
        }
        Ok(st)
    }
}

impl Drop for SyncTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Not committed (an error or a panic): nothing of it stays.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl WriteTx for SyncTx<'_> {
    async fn execute(&mut self, s: Stmt<'_>) -> StoreResult<u64> {
        let mut st = self.prepare(&s)?;
        Ok(st.raw_execute()? as u64)
    }

    async fn fetch<R: FetchRow>(&mut self, s: Stmt<'_>) -> StoreResult<Vec<R>> {
        let mut st = self.prepare(&s)?;
        let mut rows = st.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(R::from_sync(row)?);
        }
        Ok(out)
    }
}

/// Runs a future that never waits (one built on [`SyncTx`]) to its end on this thread.
pub(crate) fn run_ready<T>(fut: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => Err(StoreError::Config("a synchronous write waited on something".into())),
    }
}
