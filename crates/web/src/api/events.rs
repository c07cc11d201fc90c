//! The live-update stream that pages subscribe to.

use crate::AppState;
use crate::auth::Auth;
use crate::events::ACCESS_CHANGED;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// Server-Sent Events: one `change` event per mutation (`{"kind", "id", "message"}`). The stream
/// ends when the server shuts down or the caller's access ends (signed out, session or token
/// revoked, account disabled).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    responses((status = 200, content_type = "text/event-stream"))
)]
async fn stream(State(state): State<AppState>, auth: Auth) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let ended = Box::pin(access_ends(state.clone(), auth));
    let events = BroadcastStream::new(state.events.subscribe()).filter_map(|e| {
        // A lagging client skips what it missed; the next event tells the page to refresh.
        let e = e.ok().filter(|e| e.kind != ACCESS_CHANGED)?;
        SseEvent::default().event("change").json_data(&e).ok().map(Ok)
    });
    Sse::new(futures_util::StreamExt::take_until(events, ended)).keep_alive(KeepAlive::default())
}

/// How often an open stream checks that its caller may still read, besides when told to.
const RECHECK: Duration = Duration::from_secs(30);

/// Resolves when the server is shutting down or `auth` no longer holds.
async fn access_ends(state: AppState, auth: Auth) {
    let mut closing = state.closing.subscribe();
    let mut changes = state.events.subscribe();
    let mut tick = tokio::time::interval(RECHECK);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = closing.wait_for(|c| *c) => return,
            _ = tick.tick() => {}
            e = changes.recv() => match e {
                Ok(e) if e.kind == ACCESS_CHANGED && e.id == Some(auth.user.id) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
                Ok(_) => continue,
            },
        }
        if !auth.still_valid(&state).await {
            return;
        }
    }
}
