//! The live-update stream that pages subscribe to.

use crate::AppState;
use crate::auth::Auth;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// Server-Sent Events: one `change` event per mutation (`{"kind", "id", "message"}`).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    responses((status = 200, content_type = "text/event-stream"))
)]
async fn stream(State(state): State<AppState>, _auth: Auth) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let events = BroadcastStream::new(state.events.subscribe()).filter_map(|e| {
        // A lagging client skips what it missed; the next event tells the page to refresh.
        let e = e.ok()?;
        SseEvent::default().event("change").json_data(&e).ok().map(Ok)
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
