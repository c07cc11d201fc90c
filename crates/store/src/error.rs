use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(opsdeck_core::Entity),
    /// A uniqueness rule or a rule of the domain refused the write; the message says which.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Invalid(#[from] opsdeck_core::Error),
    /// The database URL or settings cannot be used; the message says what to fix.
    #[error("{0}")]
    Config(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// An error of the SQLite writer connection ([`crate::sync_writer`]).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// The database could not be reached (as opposed to a bad query or bad data).
    pub fn is_unavailable(&self) -> bool {
        use rusqlite::ErrorCode::{CannotOpen, DatabaseBusy, DatabaseLocked};
        match self {
            StoreError::Db(e) => match e {
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => true,
                // PostgreSQL going away mid-session: connection exceptions (class 08), an
                // administrator's or a crash shutdown, a server still starting, too many clients.
                sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                    c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
                }),
                // The server closed the connection between messages.
                sqlx::Error::Protocol(m) => m.contains("closed") || m.contains("unexpected"),
                _ => false,
            },
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                matches!(f.code, CannotOpen | DatabaseBusy | DatabaseLocked)
            }
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Turns a unique-constraint violation into a [`StoreError::Conflict`] with `message`.
pub(crate) fn unique(message: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(message.to_owned()),
        _ => StoreError::Db(e),
    }
}
