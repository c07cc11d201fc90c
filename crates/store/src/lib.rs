//! Opsdeck's persistence: one [`Db`] over a typed SQLite or PostgreSQL pool.
//!
//! Every query is written once with `$n` placeholders and run on either backend through
//! [`with_db!`], which monomorphises the body for each pool type. Statements that differ
//! between backends live in [`dialect`] and nowhere else.

pub mod agent;
pub mod anomaly_watch;
pub mod audit;
pub mod catalogue;
pub mod change;
pub mod cmdb;
mod connect;
pub mod copy;
pub mod desk;
pub mod dialect;
mod error;
pub mod events;
pub mod import;
pub mod incident;
pub mod ingest;
pub mod integration;
pub mod kpi;
pub mod maintenance;
pub mod monitor;
pub mod oncall;
pub mod page;
pub mod peers;
pub mod pipeline;
pub mod rate_budget;
pub mod report_schedule;
pub mod series;
pub mod series_alert;
pub mod settings;
pub mod slo;
pub mod slo_alert;
mod slo_counts;
pub mod status_access;
pub mod status_incident;
pub mod status_maintenance;
pub mod status_page;
pub mod status_subscriber;
pub mod status_template;
mod status_uptime;
mod stmt;
mod sync_writer;
pub mod team_member;
mod timeline;
pub mod user;
pub mod vendor;
pub mod worker;

pub use connect::{Backend, ConnectOptions, Db, SqliteDb};
pub use error::{StoreError, StoreResult};
pub use page::{Cursor, Page};

/// Runs `$body` with `$pool` bound to the backend's typed pool: `with_db!(db, |pool| { … })`.
///
/// Shaped like a closure so rustfmt formats the body; it is expanded inline, so `?` and
/// `return` act on the enclosing function.
#[macro_export]
macro_rules! with_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::Db::Sqlite(sqlite) => {
                let $pool = &sqlite.pool;
                $body
            }
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// As [`with_db!`], with `$pool` bound to the pool write transactions use: on SQLite the one
/// writer connection ([`SqliteDb::writer`], after taking [`SqliteDb::gate`]), on PostgreSQL the
/// pool.
#[macro_export]
macro_rules! with_writer {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::Db::Sqlite(sqlite) => {
                let _gate = sqlite.gate.lock().await;
                let $pool = &sqlite.writer;
                $body
            }
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` in a write transaction bound to `$tx` and commits it:
/// `write_tx!(db, |tx| { … })`. On SQLite the transaction starts with `BEGIN IMMEDIATE`
/// ([`dialect::BeginWrite`]); an early `?` drops it, which rolls it back.
macro_rules! write_tx {
    ($db:expr, |$tx:ident| $body:expr) => {
        $crate::with_writer!($db, |pool| {
            let mut $tx = $crate::dialect::BeginWrite::begin_write(pool).await?;
            let out = $body;
            $tx.commit().await?;
            out
        })
    };
}
pub(crate) use write_tx;
