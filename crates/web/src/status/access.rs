//! Private status pages: a page with a password answers visitors only with its access cookie,
//! which the password form sets; a page that names teams also answers their signed-in members
//! (and admins). The cookie's value is an HMAC of the page and its password hash, so it needs
//! no storage and a new password locks out every earlier visitor.

use super::Snapshot;
use crate::AppState;
use crate::auth::client_ip;
use crate::error::{ApiError, ErrorCode};
use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use opsdeck_core::role::Permission;
use opsdeck_core::secret;
use opsdeck_store::status_page::StatusPage;
use std::net::SocketAddr;
use uuid::Uuid;

/// The access cookie's name; its path is the page's, so pages do not share it.
const COOKIE: &str = "opsdeck_status_access";
/// Shortest password a private page takes.
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;

/// Who may read a page: holders of its access cookie (a password page), and the signed-in
/// members of its teams (and admins). Neither: the page is public.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The access cookie's value (set on a page with a password).
    pub tag: Option<String>,
    pub teams: Vec<Uuid>,
}

impl Access {
    pub fn is_private(&self) -> bool {
        self.tag.is_some() || !self.teams.is_empty()
    }
}

/// The access cookie's value for `page` (`None` for a page without a password).
pub async fn access_tag(state: &AppState, page: &StatusPage) -> Result<Option<String>, ApiError> {
    match &page.password_hash {
        None => Ok(None),
        Some(hash) => {
            let key = state.db.signing_key().await?;
            Ok(Some(secret::tag(&key, &[b"status-access", page.id.as_bytes(), hash.as_bytes()])))
        }
    }
}

pub async fn access_of(state: &AppState, page: &StatusPage) -> Result<Access, ApiError> {
    Ok(Access { tag: access_tag(state, page).await?, teams: page.viewer_team_ids.clone() })
}

/// Whether the request may read a page with `access`: a public page, the right access cookie,
/// or a signed-in admin or member of one of its teams (session or API token). Public pages
/// answer without touching the database.
pub async fn granted(state: &AppState, headers: &HeaderMap, access: &Access) -> bool {
    if !access.is_private() {
        return true;
    }
    let cookie_ok = access.tag.as_deref().is_some_and(|tag| {
        axum_extra::extract::cookie::CookieJar::from_headers(headers)
            .get(COOKIE)
            .is_some_and(|c| secret::tags_match(c.value(), tag))
    });
    if cookie_ok {
        return true;
    }
    if access.teams.is_empty() {
        return false;
    }
    let Ok(Some(auth)) = crate::auth::authenticate(state, headers).await else { return false };
    if auth.allows(Permission::Administer) {
        return true;
    }
    state.db.user_teams(auth.user.id).await.is_ok_and(|mine| mine.iter().any(|t| access.teams.contains(t)))
}

#[derive(Template)]
#[template(path = "status/locked.html")]
struct Locked<'a> {
    title: &'a str,
    slug: &'a str,
    error: Option<&'a str>,
    /// The page takes a password.
    password: bool,
    /// Members of its teams may sign in instead.
    members: bool,
}

fn locked_page(title: &str, slug: &str, error: Option<&str>, password: bool, members: bool) -> Response {
    match (Locked { title, slug, error, password, members }).render() {
        Ok(html) => {
            let mut res = (StatusCode::UNAUTHORIZED, Html(html)).into_response();
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(_) => ApiError::internal().into_response(),
    }
}

/// The answer to a visitor without access: the password form (or the sign-in link) for a page,
/// 401 otherwise.
pub fn refused(snap: &Snapshot, html: bool) -> Response {
    let (password, members) = (snap.access.tag.is_some(), !snap.access.teams.is_empty());
    if html {
        locked_page(&snap.title, &snap.slug, None, password, members)
    } else {
        let how = match (password, members) {
            (true, true) => {
                "enter its password on the page first (the access cookie), or sign in as a member of its teams"
            }
            (true, false) => "enter its password on the page first (the access cookie)",
            _ => "sign in as a member of its teams (a session or an API token)",
        };
        ApiError::new(ErrorCode::Unauthenticated, format!("this status page is private: {how}")).into_response()
    }
}

#[derive(serde::Deserialize)]
pub struct UnlockForm {
    #[serde(default)]
    password: String,
}

/// The password form's target: sets the access cookie and returns to the page. Attempts count
/// against the sign-in throttle (each costs an argon2 hash).
pub async fn unlock(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<UnlockForm>,
) -> Response {
    let page = match state.db.get_status_page_by_slug(&slug).await {
        Ok(p) => p,
        Err(e) => return crate::ui::error_page(&e.into()),
    };
    let Some(hash) = page.password_hash.clone() else {
        return Redirect::to(&format!("/status/{slug}")).into_response();
    };
    let ip = client_ip(&state, addr.ip(), &headers);
    if let Err(e) = state.login_limiter.check(Some(ip), &format!("status-page:{}", page.id)) {
        return locked_page(&page.title, &page.slug, Some(&e.message), true, !page.viewer_team_ids.is_empty());
    }
    let ok = {
        let Ok(_slot) = state.login_limiter.hashing.acquire().await else {
            return ApiError::internal().into_response();
        };
        let password = f.password.chars().take(PASSWORD_MAX + 1).collect::<String>();
        tokio::task::spawn_blocking(move || secret::verify_password(&password, &hash)).await.unwrap_or(false)
    };
    if !ok {
        let members = !page.viewer_team_ids.is_empty();
        return locked_page(&page.title, &page.slug, Some("That is not the password."), true, members);
    }
    let tag = match access_tag(&state, &page).await {
        Ok(Some(t)) => t,
        Ok(None) | Err(_) => return ApiError::internal().into_response(),
    };
    let cookie = Cookie::build((COOKIE, tag))
        .path(format!("/status/{}", page.slug))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .build();
    let mut res = Redirect::to(&format!("/status/{}", page.slug)).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}
