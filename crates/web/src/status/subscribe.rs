//! The public side of subscriptions: the sign-up form's target, and the confirm and
//! unsubscribe links of the messages (RFC 8058: a POST to the unsubscribe link, as mail
//! clients send for `List-Unsubscribe-Post`, unsubscribes at once; a GET asks first, since
//! link scanners follow GETs).

use crate::AppState;
use crate::auth::client_ip;
use crate::error::ApiError;
use crate::operations::status_subscribers as op;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use opsdeck_core::Entity;
use opsdeck_store::status_page::StatusPage;
use std::net::SocketAddr;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/status/{slug}/subscribe", post(sign_up))
        .route("/status/{slug}/subscriptions/{token}/confirm", get(confirm))
        .route("/status/{slug}/unsubscribe/{token}", get(ask_unsubscribe).post(unsubscribe))
}

/// A one-message page in the status page's style.
#[derive(Template)]
#[template(path = "status/notice.html")]
struct Notice<'a> {
    title: &'a str,
    slug: &'a str,
    heading: &'a str,
    message: String,
    /// A button that POSTs to this path.
    action: Option<(String, &'a str)>,
}

fn notice(
    status: StatusCode,
    page: &StatusPage,
    heading: &str,
    message: String,
    action: Option<(String, &str)>,
) -> Response {
    let n = Notice { title: &page.title, slug: &page.slug, heading, message, action };
    match n.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => ApiError::internal().into_response(),
    }
}

async fn page(state: &AppState, slug: &str) -> Result<StatusPage, Response> {
    match state.db.get_status_page_by_slug(slug).await {
        Ok(p) => Ok(p),
        Err(opsdeck_store::StoreError::NotFound(_)) => {
            Err(crate::ui::error_page(&ApiError::not_found(Entity::StatusPage)))
        }
        Err(e) => Err(crate::ui::error_page(&e.into())),
    }
}

async fn sign_up(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let page = match page(&state, &slug).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match super::access::access_of(&state, &page).await {
        Ok(a) if super::access::granted(&state, &headers, &a).await => {}
        Ok(_) => {
            let msg = "This status page is private: open it with its password (or sign in) first.".to_owned();
            return notice(StatusCode::UNAUTHORIZED, &page, "Not subscribed", msg, None);
        }
        Err(e) => return crate::ui::error_page(&e),
    }
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let email = fields.iter().find(|(k, _)| k == "email").map(|(_, v)| v.as_str()).unwrap_or("");
    let mut components = Vec::new();
    for (_, v) in fields.iter().filter(|(k, _)| k == "component") {
        match Uuid::parse_str(v) {
            Ok(id) => components.push(id),
            Err(_) => {
                let e = ApiError::invalid("component", "choose components from the list");
                return notice(e.status(), &page, "Not subscribed", e.message.clone(), None);
            }
        }
    }
    let ip = client_ip(&state, addr.ip(), &headers);
    match op::sign_up(&state, &page, ip, email, &components).await {
        Ok(()) => notice(
            StatusCode::OK,
            &page,
            "Check your inbox",
            format!(
                "If {email} is not subscribed yet, a message is on its way with a link to confirm. Nothing is \
                 sent until you confirm."
            ),
            None,
        ),
        Err(e) => notice(e.status(), &page, "Not subscribed", e.message.clone(), None),
    }
}

async fn confirm(State(state): State<AppState>, Path((slug, token)): Path<(String, String)>) -> Response {
    let page = match page(&state, &slug).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match op::confirm(&state, &page, &token).await {
        Ok(Some(s)) => notice(
            StatusCode::OK,
            &page,
            "Subscribed",
            format!("{} will hear of {}'s incidents and maintenance.", s.address, page.title),
            None,
        ),
        Ok(None) => notice(
            StatusCode::NOT_FOUND,
            &page,
            "No such subscription",
            "It was removed; subscribe again from the status page.".into(),
            None,
        ),
        Err(e) => notice(e.status(), &page, "Link not valid", e.message.clone(), None),
    }
}

async fn ask_unsubscribe(State(state): State<AppState>, Path((slug, token)): Path<(String, String)>) -> Response {
    let page = match page(&state, &slug).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let action = format!("/status/{}/unsubscribe/{token}", page.slug);
    notice(
        StatusCode::OK,
        &page,
        "Unsubscribe",
        format!("Stop receiving {} status updates?", page.title),
        Some((action, "Unsubscribe")),
    )
}

async fn unsubscribe(State(state): State<AppState>, Path((slug, token)): Path<(String, String)>) -> Response {
    let page = match page(&state, &slug).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match op::unsubscribe(&state, &page, &token).await {
        Ok(_) => notice(
            StatusCode::OK,
            &page,
            "Unsubscribed",
            format!("You will not receive {} status updates any more.", page.title),
            None,
        ),
        Err(e) => notice(e.status(), &page, "Link not valid", e.message.clone(), None),
    }
}
