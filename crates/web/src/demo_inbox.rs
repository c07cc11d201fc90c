//! The demo inbox (`serve --demo` only): every demo user's contact method is a webhook to
//! `/demo/inbox/{username}`, so a newcomer sees a page arrive at `/demo/inbox` without setting up
//! e-mail or chat. Messages live in memory, newest first, at most [`KEEP`].

use crate::AppState;
use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::Mutex;

/// Messages kept; older ones drop off.
pub const KEEP: usize = 100;
/// The largest webhook body accepted.
const BODY_MAX: usize = 64 * 1024;
/// Longest text kept per field.
const TEXT_MAX: usize = 2_000;

/// One received notification.
#[derive(Debug, Clone)]
pub struct InboxMessage {
    pub at: DateTime<Utc>,
    pub to: String,
    pub subject: String,
    pub text: String,
    /// The incident page link the notification carried, when it is one of ours (a path).
    pub view: Option<String>,
}

#[derive(Debug, Default)]
pub struct DemoInbox(Mutex<VecDeque<InboxMessage>>);

impl DemoInbox {
    pub fn push(&self, m: InboxMessage) {
        if let Ok(mut q) = self.0.lock() {
            q.push_front(m);
            q.truncate(KEEP);
        }
    }

    /// Newest first.
    pub fn messages(&self) -> Vec<InboxMessage> {
        self.0.lock().map(|q| q.iter().cloned().collect()).unwrap_or_default()
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/demo/inbox/{user}", post(receive)).layer(DefaultBodyLimit::max(BODY_MAX))
}

fn clip(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().chars().take(TEXT_MAX).collect()
}

/// Takes an Opsdeck webhook notification (`subject`, `text`, `links.view`) for a demo user.
async fn receive(
    State(state): State<AppState>,
    Path(user): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> StatusCode {
    // Only the path of the link is kept: the demo page links within this server.
    let view = body["links"]["view"]
        .as_str()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.path().to_owned())
        .filter(|p| p.starts_with("/incidents/"));
    state.demo_inbox.push(InboxMessage {
        at: state.now(),
        to: user.chars().take(64).collect(),
        subject: clip(&body["subject"]),
        text: clip(&body["text"]),
        view,
    });
    state.events.publish("demo.inbox", None, "A notification arrived in the demo inbox");
    StatusCode::NO_CONTENT
}
