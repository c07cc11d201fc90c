//! SQLite's synchronous writer: one connection on a thread of its own that runs a whole write
//! transaction per hand-off.
//!
//! Through sqlx every statement is a round trip to sqlx's connection thread and back, two
//! thread switches per statement; an ingest batch has about ten statements, and the switches
//! were half of the CPU of single-alert ingest (docs/performance.md). Here a batch costs one
//! round trip, and the statements run back to back on a connection that keeps its prepared
//! statements and page cache. Writers that are not hot stay on sqlx; [`crate::SqliteDb::gate`]
//! keeps the two from ever waiting on SQLite's busy handler.

use crate::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The thread's state: the connection, opened on first use (and again after a failed open).
struct Slot {
    path: PathBuf,
    conn: Option<Connection>,
}

type Job = Box<dyn FnOnce(&mut Slot) + Send>;

#[derive(Debug)]
pub struct SyncWriter {
    jobs: mpsc::Sender<Job>,
}

/// Opens the writer connection with the settings `connect.rs` gives sqlx's connections (WAL and
/// the journal are the file's own and already set).
fn open(path: &PathBuf) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16000; \
         PRAGMA temp_store = memory;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl SyncWriter {
    /// Starts the thread for the database file at `path`; the connection opens on first use.
    pub(crate) fn start(path: PathBuf) -> StoreResult<SyncWriter> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("opsdeck-sqlite-writer".into())
            .spawn(move || {
                let mut slot = Slot { path, conn: None };
                // Ends when every sender is gone (the database was dropped).
                while let Ok(job) = rx.recv() {
                    job(&mut slot);
                }
            })
            .map_err(|e| StoreError::Config(format!("cannot start the SQLite writer thread: {e}")))?;
        Ok(SyncWriter { jobs: tx })
    }

    /// Runs `f` on the writer connection and returns what it returns. A panic in `f` is caught
    /// (its open transaction rolls back as it unwinds) and answered as an error.
    pub(crate) async fn run<R, F>(&self, f: F) -> StoreResult<R>
    where
        F: FnOnce(&mut Connection) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |slot: &mut Slot| {
            let out = match slot.conn.as_mut() {
                Some(conn) => Ok(conn),
                None => open(&slot.path).map(|c| slot.conn.insert(c)).map_err(StoreError::from),
            }
            .and_then(|conn| {
                catch_unwind(AssertUnwindSafe(|| f(conn)))
                    .unwrap_or_else(|_| Err(StoreError::Config("the SQLite writer panicked".into())))
            });
            let _ = reply.send(out);
        });
        let gone = || StoreError::Config("the SQLite writer thread has stopped".into());
        self.jobs.send(job).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Closes the connection (the thread stays, and would open it again if asked).
    pub(crate) async fn close(&self) {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |slot: &mut Slot| {
            slot.conn = None;
            let _ = reply.send(());
        });
        if self.jobs.send(job).is_ok() {
            let _ = answer.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stmt::{Stmt, SyncTx, WriteTx, run_ready};

    fn writer() -> (tempfile::TempDir, SyncWriter) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).expect("create");
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .expect("schema");
        drop(conn);
        let w = SyncWriter::start(path).expect("start");
        (dir, w)
    }

    fn count(conn: &mut Connection) -> StoreResult<i64> {
        Ok(conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)
    }

    #[tokio::test]
    async fn numbered_parameters_pick_their_argument_and_a_failed_write_leaves_nothing() {
        let (_dir, w) = writer();
        let (a, b): (i64, i64) = w
            .run(|conn| {
                let mut tx = SyncTx::begin(conn)?;
                let row: Vec<(String, uuid::Uuid)> =
                    run_ready(tx.fetch(Stmt::new("SELECT $2, $1").bind(uuid::Uuid::nil()).bind("second")))?;
                assert_eq!(row, vec![("second".to_string(), uuid::Uuid::nil())]);
                let a = run_ready(tx.execute(Stmt::new("INSERT INTO t (id, v) VALUES (?2, ?1)").bind("x").bind(7)))?;
                tx.commit()?;
                let mut tx = SyncTx::begin(conn)?;
                let b = run_ready(tx.execute(Stmt::new("INSERT INTO t (id, v) VALUES ($1, 'y')").bind(8)))?;
                // A later statement fails: dropping the transaction rolls the insert back.
                let bad = run_ready(tx.execute(Stmt::new("INSERT INTO t (id, v) VALUES ($1, $2)").bind(7)));
                assert!(bad.is_err(), "a missing argument is an error");
                drop(tx);
                Ok((a as i64, b as i64))
            })
            .await
            .expect("run");
        assert_eq!((a, b), (1, 1));
        assert_eq!(w.run(count).await.expect("count"), 1, "only the committed row stays");
    }

    #[tokio::test]
    async fn a_panicking_write_is_an_error_rolled_back_and_the_writer_goes_on() {
        let (_dir, w) = writer();
        let out: StoreResult<()> = w
            .run(|conn| {
                let mut tx = SyncTx::begin(conn)?;
                run_ready(tx.execute(Stmt::new("INSERT INTO t (id, v) VALUES (1, 'x')")))?;
                #[allow(clippy::panic)]
                {
                    panic!("a bug in the middle of a batch")
                }
            })
            .await;
        assert!(matches!(out, Err(StoreError::Config(ref m)) if m.contains("panicked")), "{out:?}");
        assert_eq!(w.run(count).await.expect("count"), 0);
        w.close().await;
        assert_eq!(w.run(count).await.expect("reopened after close"), 0);
    }
}
