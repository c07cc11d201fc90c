//! Live updates: mutations publish small events that pages receive over Server-Sent Events.
//!
//! The channel is in-process; with several nodes each node streams the events of the writes it
//! handled (cross-node fan-out through the database arrives with the multi-node work).

use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Internal: a user's access changed (sign-out, revoked token, account change); live streams of
/// that user re-check theirs. Never sent to clients.
pub const ACCESS_CHANGED: &str = "access.changed";

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Dotted kind, e.g. `service.updated`.
    pub kind: String,
    pub id: Option<Uuid>,
    /// A line a person can read in a toast.
    pub message: String,
}

#[derive(Clone)]
pub struct Events(broadcast::Sender<Event>);

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    pub fn new() -> Self {
        Events(broadcast::channel(1024).0)
    }

    pub fn publish(&self, kind: &str, id: Option<Uuid>, message: impl Into<String>) {
        // No subscribers is normal; the event is simply not delivered.
        let _ = self.0.send(Event { kind: kind.to_owned(), id, message: message.into() });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}
