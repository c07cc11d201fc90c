//! Messages between the nodes sharing one PostgreSQL database (`LISTEN`/`NOTIFY`): what one
//! node publishes reaches the live-update streams of every other node within milliseconds,
//! without a table to write or to poll. On SQLite there is one node and nothing to send.

use crate::{Db, StoreResult};

/// The channel every node listens on.
const CHANNEL: &str = "opsdeck_events";

/// The largest payload PostgreSQL takes in one notification is 8,000 bytes; senders keep theirs
/// under this.
pub const PAYLOAD_MAX: usize = 7_900;

/// A node's subscription to the other nodes' messages.
pub struct PeerListener(sqlx::postgres::PgListener);

impl PeerListener {
    /// The next message; `Ok(None)` when the connection was lost and is being made again
    /// (messages sent meanwhile were missed).
    pub async fn recv(&mut self) -> StoreResult<Option<String>> {
        Ok(self.0.try_recv().await?.map(|n| n.payload().to_owned()))
    }
}

impl Db {
    /// Sends `payload` (at most [`PAYLOAD_MAX`] bytes) to every node listening, this one
    /// included; delivered when the sending transaction commits (here: at once).
    pub async fn notify_peers(&self, payload: &str) -> StoreResult<()> {
        if let Db::Postgres(pool) = self {
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(pool).await?;
        }
        Ok(())
    }

    /// Subscribes to the other nodes' messages; `None` on SQLite, where this node is the only one.
    pub async fn listen_peers(&self) -> StoreResult<Option<PeerListener>> {
        match self {
            Db::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(CHANNEL).await?;
                Ok(Some(PeerListener(listener)))
            }
            Db::Sqlite(_) => Ok(None),
        }
    }
}
