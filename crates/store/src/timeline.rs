//! Incident timeline rows: the one multi-row insert every writer of the timeline uses.

use uuid::Uuid;

/// A timeline row to insert.
pub(crate) struct TimelineEntry {
    pub incident_id: Uuid,
    pub at: i64,
    pub kind: &'static str,
    pub actor: String,
    pub body: String,
}

impl TimelineEntry {
    pub(crate) fn new(
        incident_id: Uuid,
        at: i64,
        kind: &'static str,
        actor: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        TimelineEntry { incident_id, at, kind, actor: actor.into(), body: body.into() }
    }
}

pub(crate) const TIMELINE_HEAD: &str = "INSERT INTO incident_timeline (id, incident_id, at, kind, actor, body) VALUES ";

/// Inserts `$entries` (a `Vec<TimelineEntry>`) on the open transaction `$tx`, 64 rows per
/// statement: `insert_timeline!(tx, backend, entries)`.
macro_rules! insert_timeline {
    ($tx:expr, $backend:expr, $entries:expr) => {{
        let entries: Vec<$crate::timeline::TimelineEntry> = $entries;
        for chunk in $crate::dialect::fixed_chunks(&entries) {
            let sql = $crate::dialect::multi_row($backend, $crate::timeline::TIMELINE_HEAD, 6, chunk.len(), "");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(uuid::Uuid::now_v7())
                    .bind(e.incident_id)
                    .bind(e.at)
                    .bind(e.kind)
                    .bind(&e.actor)
                    .bind(&e.body);
            }
            q.execute(&mut *$tx).await?;
        }
    }};
}
pub(crate) use insert_timeline;

/// As [`insert_timeline!`], on a [`crate::stmt::WriteTx`] (the ingest batch).
pub(crate) async fn write_timeline<T: crate::stmt::WriteTx>(
    tx: &mut T,
    backend: crate::Backend,
    entries: &[TimelineEntry],
) -> crate::StoreResult<()> {
    for chunk in crate::dialect::fixed_chunks(entries) {
        let sql = crate::dialect::multi_row(backend, TIMELINE_HEAD, 6, chunk.len(), "");
        let q = chunk.iter().fold(crate::stmt::Stmt::new(sql), |q, e| {
            q.bind(Uuid::now_v7()).bind(e.incident_id).bind(e.at).bind(e.kind).bind(&e.actor).bind(&e.body)
        });
        tx.execute(q).await?;
    }
    Ok(())
}
