//! Live updates across nodes: every event a node publishes goes to the others through
//! PostgreSQL `NOTIFY`, batched into few notifications, and each node hands what the others
//! sent to its own streams. Chosen over polling a table: a change reaches the other nodes'
//! browsers within milliseconds, and there is nothing to write, index or prune.
//!
//! What is missed while a node's listening connection is being made again (the database
//! restarted) is not replayed; pages refresh their live region whenever their stream reconnects,
//! and the render caches are checked against the database's revisions on every request, so
//! nothing stays stale.

use crate::AppState;
use crate::events::Event;
use opsdeck_store::peers::PAYLOAD_MAX;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, watch};
use uuid::Uuid;

/// Events taken from the queue per round of notifications.
const BATCH: usize = 256;

/// How long the listener waits before connecting again after losing the database.
const RETRY: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Serialize, Deserialize)]
struct Message {
    /// The node that published the events.
    from: Uuid,
    events: Vec<Event>,
}

/// Starts the two supervised workers that send this node's events to the others and deliver
/// theirs here; nothing on SQLite (one node).
pub fn start(state: &AppState, stop: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    if !matches!(state.db, opsdeck_store::Db::Postgres(_)) {
        return Vec::new();
    }
    let Some(outgoing) = state.events.connect_peers() else { return Vec::new() };
    let outgoing = Arc::new(Mutex::new(outgoing));
    let send = {
        let (st, stop) = (state.clone(), stop.clone());
        state.workers.spawn("peer_events_out", move || send_loop(st.clone(), outgoing.clone(), stop.clone()))
    };
    let receive = {
        let st = state.clone();
        state.workers.spawn("peer_events_in", move || receive_loop(st.clone(), stop.clone()))
    };
    vec![send, receive]
}

/// Sends queued events in notifications of at most [`PAYLOAD_MAX`] bytes until told to stop.
/// A notification that cannot be sent (the database is away) is dropped: the events are live
/// hints, and what they describe is in the database.
async fn send_loop(
    state: AppState,
    outgoing: Arc<Mutex<mpsc::Receiver<Event>>>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut rx = outgoing.lock().await;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => if n == 0 { return Ok(()) },
            _ = stop.changed() => return Ok(()),
        }
        for payload in payloads(state.events.node(), std::mem::take(&mut batch)) {
            if let Err(e) = state.db.notify_peers(&payload).await {
                metrics::counter!("opsdeck_peer_events_dropped_total").increment(1);
                tracing::debug!(error = %e, "live updates could not be sent to the other nodes");
            }
        }
    }
}

/// Delivers the other nodes' events to this node's streams until told to stop. While the
/// database is away the listener tries again every second: an outage is not this worker's
/// failure, and it listens again as soon as the database is back.
async fn receive_loop(state: AppState, mut stop: watch::Receiver<bool>) -> Result<(), String> {
    let me = state.events.node();
    // The listener runs on its own task: a receive cut short by the stop signal could leave its
    // connection mid-message.
    let (tx, mut rx) = mpsc::channel::<Option<String>>(64);
    let db = state.db.clone();
    let reader = tokio::spawn(async move {
        let mut listener = None;
        loop {
            let l = match &mut listener {
                Some(l) => l,
                None => match db.listen_peers().await {
                    Ok(Some(l)) => listener.insert(l),
                    Ok(None) => return,
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot listen for the other nodes' live updates yet");
                        tokio::time::sleep(RETRY).await;
                        continue;
                    }
                },
            };
            match l.recv().await {
                Ok(got) => {
                    if tx.send(got).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lost the live-update connection to the database; retrying");
                    listener = None;
                    if tx.send(None).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    });
    let outcome = loop {
        let got = tokio::select! {
            got = rx.recv() => got,
            _ = stop.changed() => break Ok(()),
        };
        match got {
            Some(Some(payload)) => match serde_json::from_str::<Message>(&payload) {
                Ok(m) if m.from == me => {}
                Ok(m) => m.events.into_iter().for_each(|e| state.events.deliver_from_peer(e)),
                Err(e) => tracing::warn!(error = %e, "a live-update message from another node could not be read"),
            },
            // Messages sent meanwhile were missed; pages catch up when their streams reconnect.
            Some(None) => tracing::debug!("the live-update connection to the database is being made again"),
            None => break Ok(()),
        }
    };
    reader.abort();
    outcome
}

/// The messages that carry `events`, each under [`PAYLOAD_MAX`] bytes; an event too large to
/// go alone (a message line is short, so never in practice) is left out.
fn payloads(from: Uuid, events: Vec<Event>) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<Event> = Vec::new();
    // The envelope and each event's separator, generously.
    let overhead = 64;
    let mut size = overhead;
    for e in events {
        let len = serde_json::to_string(&e).map_or(usize::MAX, |s| s.len() + 1);
        if len.saturating_add(overhead) > PAYLOAD_MAX {
            continue;
        }
        if size + len > PAYLOAD_MAX && !current.is_empty() {
            out.extend(serde_json::to_string(&Message { from, events: std::mem::take(&mut current) }));
            size = overhead;
        }
        size += len;
        current.push(e);
    }
    if !current.is_empty() {
        out.extend(serde_json::to_string(&Message { from, events: current }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize, message_len: usize) -> Event {
        Event { kind: format!("incident.updated.{n}"), id: Some(Uuid::now_v7()), message: "é".repeat(message_len) }
    }

    #[test]
    fn batches_fit_a_notification_and_keep_every_event_in_order() {
        let from = Uuid::now_v7();
        let events: Vec<Event> = (0..500).map(|n| event(n, 40)).collect();
        let out = payloads(from, events.clone());
        assert!(out.len() > 1, "500 events need several notifications");
        let mut back = Vec::new();
        for p in &out {
            assert!(p.len() <= PAYLOAD_MAX, "{} bytes", p.len());
            let m: Message = serde_json::from_str(p).unwrap();
            assert_eq!(m.from, from);
            back.extend(m.events);
        }
        assert_eq!(
            back.iter().map(|e| &e.kind).collect::<Vec<_>>(),
            events.iter().map(|e| &e.kind).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_event_too_large_for_any_notification_is_left_out() {
        let out = payloads(Uuid::now_v7(), vec![event(1, 10), event(2, 5_000), event(3, 10)]);
        let m: Message = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(m.events.len(), 2);
        assert!(payloads(Uuid::now_v7(), Vec::new()).is_empty());
    }
}
