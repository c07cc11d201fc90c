//! Opening the database named by a URL, with each backend tuned for Opsdeck's workload.

use crate::{StoreError, StoreResult, with_db};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

/// A SQLite database: readers, and the one connection every write shares.
#[derive(Clone, Debug)]
pub struct SqliteDb {
    /// Reads.
    pub pool: SqlitePool,
    /// The connection every write runs on (`write_tx!`, `with_writer!`). SQLite writes one
    /// transaction at a time anyway; waiting here is a fair queue instead of a busy-timeout
    /// poll, and a connection that alone writes keeps its page cache between transactions
    /// (a commit by another connection empties it, so every page is read again).
    pub writer: SqlitePool,
    /// Taken by every write: sqlx's writer connection and the synchronous writer ([`sync`])
    /// write one at a time, without ever waiting on SQLite's busy handler (which sleeps).
    ///
    /// [`sync`]: SqliteDb::sync
    pub(crate) gate: Arc<tokio::sync::Mutex<()>>,
    /// The hot write paths (an ingest batch) as one hand-off to a connection of its own thread.
    pub(crate) sync: Arc<crate::sync_writer::SyncWriter>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub url: String,
    pub max_connections: u32,
}

impl ConnectOptions {
    pub fn new(url: impl Into<String>) -> Self {
        ConnectOptions { url: url.into(), max_connections: 8 }
    }
}

impl Db {
    /// Opens (and for SQLite creates) the database. Errors say what to fix in one line.
    pub async fn connect(opts: &ConnectOptions) -> StoreResult<Db> {
        let url = opts.url.trim();
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => Self::connect_sqlite(url, opts.max_connections).await,
            "postgres" | "postgresql" => Self::connect_postgres(url, opts.max_connections).await,
            // The URL is not echoed: it may hold a password.
            _ => Err(StoreError::Config(format!(
                "unsupported database URL scheme {:?}: use sqlite://PATH (e.g. sqlite://./opsdeck-data/opsdeck.db) \
                 or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
                scheme.chars().take(20).collect::<String>()
            ))),
        }
    }

    async fn connect_sqlite(url: &str, max: u32) -> StoreResult<Db> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            // WAL lets readers run beside the single writer. FULL syncs the WAL at every
            // commit, so what was answered (an event's 202, a saved form) survives power loss and
            // an OS crash too, not only a process crash; docs/performance.md has its cost.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Incremental auto-vacuum lets maintenance reclaim space without an inline VACUUM.
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            // Keep the WAL bounded after checkpoints.
            .pragma("journal_size_limit", "67108864")
            .pragma("cache_size", "-16000")
            .pragma("temp_store", "memory");
        let open = |max: u32, opts: SqliteConnectOptions| async move {
            SqlitePoolOptions::new()
                .max_connections(max)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .map_err(|e| StoreError::Config(format!("cannot open SQLite database {url:?}: {e}")))
        };
        let writer = open(1, opts.clone()).await?;
        let sync = Arc::new(crate::sync_writer::SyncWriter::start(opts.get_filename().to_path_buf())?);
        let pool = open(max.max(2), opts).await?;
        Ok(Db::Sqlite(SqliteDb { pool, writer, gate: Arc::default(), sync }))
    }

    async fn connect_postgres(url: &str, max: u32) -> StoreResult<Db> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?
            .application_name("opsdeck");
        let where_ = format!("{}:{}/{}", opts.get_host(), opts.get_port(), opts.get_database().unwrap_or(""));
        let unreachable = |e: sqlx::Error| {
            StoreError::Config(format!(
                "cannot connect to PostgreSQL at {where_}: {e} (is the server running, and are the \
                 user, password and database in the URL right?)"
            ))
        };
        // One direct attempt first: the pool would retry a refused connection until its
        // acquire timeout, and a mistyped URL should fail at once.
        let probe = <sqlx::PgConnection as sqlx::Connection>::connect_with(&opts).await.map_err(&unreachable)?;
        let _ = sqlx::Connection::close(probe).await;
        let pool = PgPoolOptions::new()
            // One more than asked: the live-update listener holds one for as long as it runs.
            .max_connections(max.max(2) + 1)
            // While PostgreSQL is away the pool retries connecting until this timeout, and a
            // request may wait on it twice (its caller's token, then its write): short enough
            // that it gets its 503 within seconds, long enough for a busy pool's queue.
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(opts)
            .await
            .map_err(unreachable)?;
        Ok(Db::Postgres(pool))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations for this backend.
    pub async fn migrate(&self) -> StoreResult<()> {
        let migrator = crate::dialect::migrator(self.backend());
        with_db!(self, |pool| migrator.run(pool).await?);
        Ok(())
    }

    /// True when the database answers a trivial query (readiness).
    pub async fn ping(&self) -> bool {
        with_db!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }

    /// Pool gauges for /metrics: (open connections, idle connections).
    pub fn pool_stats(&self) -> (u32, usize) {
        with_db!(self, |pool| (pool.size(), pool.num_idle()))
    }

    /// Bytes SQLite holds on the heap in this process (page caches, prepared statements), for
    /// /metrics; `None` on PostgreSQL.
    pub fn sqlite_memory_used(&self) -> Option<i64> {
        match self {
            // SAFETY: sqlite3_memory_used takes no argument and reads a counter under SQLite's
            // own mutex; it is safe to call from any thread at any time.
            Db::Sqlite(_) => Some(unsafe { rusqlite::ffi::sqlite3_memory_used() }),
            Db::Postgres(_) => None,
        }
    }

    pub async fn close(&self) {
        with_db!(self, |pool| pool.close().await);
        if let Db::Sqlite(sqlite) = self {
            sqlite.writer.close().await;
            sqlite.sync.close().await;
        }
    }
}
