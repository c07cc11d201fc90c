//! Live updates: mutations publish small events that pages receive over Server-Sent Events.
//!
//! Events are broadcast in process; on PostgreSQL they also go to every other node
//! (`peer_events`), so a browser connected to any node sees every node's writes.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

/// Internal: a user's access changed (sign-out, revoked token, account change); live streams of
/// that user re-check theirs. Never sent to clients.
pub const ACCESS_CHANGED: &str = "access.changed";

/// Events waiting to go to the other nodes at most; more are dropped (and counted) rather than
/// held while the database is unreachable.
const PEER_QUEUE: usize = 4096;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// Dotted kind, e.g. `service.updated`.
    pub kind: String,
    pub id: Option<Uuid>,
    /// A line a person can read in a toast.
    pub message: String,
}

#[derive(Clone)]
pub struct Events {
    local: broadcast::Sender<Event>,
    /// Where events for the other nodes go, once `peer_events` runs.
    peers: Arc<OnceLock<mpsc::Sender<Event>>>,
    /// This process, in messages to the other nodes (its own come back and are skipped).
    node: Uuid,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    pub fn new() -> Self {
        Events { local: broadcast::channel(1024).0, peers: Arc::default(), node: Uuid::now_v7() }
    }

    pub fn publish(&self, kind: &str, id: Option<Uuid>, message: impl Into<String>) {
        let event = Event { kind: kind.to_owned(), id, message: message.into() };
        if let Some(peers) = self.peers.get()
            && peers.try_send(event.clone()).is_err()
        {
            metrics::counter!("opsdeck_peer_events_dropped_total").increment(1);
        }
        // No subscribers is normal; the event is simply not delivered.
        let _ = self.local.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.local.subscribe()
    }

    /// Starts sending published events to the other nodes; the receiver is what to send. Only
    /// the first call gets one.
    pub(crate) fn connect_peers(&self) -> Option<mpsc::Receiver<Event>> {
        let (tx, rx) = mpsc::channel(PEER_QUEUE);
        self.peers.set(tx).ok().map(|()| rx)
    }

    /// Hands an event another node published to this node's streams.
    pub(crate) fn deliver_from_peer(&self, event: Event) {
        let _ = self.local.send(event);
    }

    pub(crate) fn node(&self) -> Uuid {
        self.node
    }
}
