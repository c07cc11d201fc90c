//! Who is calling: session cookies for people in browsers, bearer tokens for scripts and the CLI.

use crate::AppState;
use crate::error::{ApiError, ErrorCode};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use opsdeck_core::audit::Actor;
use opsdeck_core::role::{Permission, Role};
use opsdeck_core::secret;
use opsdeck_core::user::{ApiToken, User};
use std::net::IpAddr;
use std::num::NonZeroU32;

pub const SESSION_COOKIE: &str = "opsdeck_session";

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// The digest of the session id (what the sessions table stores).
    Session(String),
    Token(Box<ApiToken>),
}

/// An authenticated caller and the role in force for this request.
#[derive(Debug, Clone)]
pub struct Auth {
    pub user: User,
    /// The user's role, narrowed by the token's cap when called with a token.
    pub role: Role,
    pub via: Via,
}

impl Auth {
    pub fn allows(&self, p: Permission) -> bool {
        self.role.allows(p)
    }

    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.allows(p) { Ok(()) } else { Err(ApiError::forbidden(p.least_role())) }
    }

    pub fn actor(&self) -> Actor {
        let label = match &self.via {
            Via::Session(_) => self.user.username.clone(),
            Via::Token(t) => format!("{} (token {})", self.user.username, t.name),
        };
        Actor { user_id: Some(self.user.id), label }
    }

    pub fn session_hash(&self) -> Option<&str> {
        match &self.via {
            Via::Session(h) => Some(h),
            Via::Token(_) => None,
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Resolves the caller from a bearer token or the session cookie; `Ok(None)` when neither is sent.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<Auth>, ApiError> {
    let now = state.now();
    if let Some(token) = bearer(headers) {
        let found = state.db.token_user(&secret::digest(token), now).await?;
        let (user, token) = found.ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidToken, "this API token is unknown, revoked, or its user is disabled")
        })?;
        let role = user.role.capped_by(token.role);
        return Ok(Some(Auth { user, role, via: Via::Token(Box::new(token)) }));
    }
    let jar = CookieJar::from_headers(headers);
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = secret::digest(cookie.value());
    Ok(state.db.session_user(&hash, now).await?.map(|user| Auth { role: user.role, user, via: Via::Session(hash) }))
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(state, &parts.headers).await?.ok_or_else(ApiError::unauthenticated)
    }
}

impl OptionalFromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        authenticate(state, &parts.headers).await
    }
}

/// Starts a session for `user` and returns the cookie to set.
pub async fn start_session(state: &AppState, user: &User) -> Result<Cookie<'static>, ApiError> {
    let id = secret::generate("");
    let now = state.now();
    state.db.create_session(&secret::digest(&id), user, now, now + state.config.session_ttl).await?;
    Ok(Cookie::build((SESSION_COOKIE, id))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .max_age(time_duration(state.config.session_ttl))
        .build())
}

fn time_duration(d: chrono::Duration) -> time::Duration {
    time::Duration::seconds(d.num_seconds())
}

pub fn clear_session_cookie() -> Cookie<'static> {
    let mut c = Cookie::build((SESSION_COOKIE, "")).path("/").http_only(true).same_site(SameSite::Lax).build();
    c.make_removal();
    c
}

/// Throttles sign-in attempts per client address and username.
pub struct LoginLimiter(DefaultKeyedRateLimiter<String>);

impl LoginLimiter {
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        LoginLimiter(RateLimiter::keyed(Quota::per_minute(n)))
    }

    pub fn check(&self, ip: Option<IpAddr>, username: &str) -> Result<(), ApiError> {
        let key = format!("{}|{}", ip.map(|i| i.to_string()).unwrap_or_default(), username);
        self.0.check_key(&key).map_err(|_| {
            ApiError::new(ErrorCode::RateLimited, "too many sign-in attempts; wait a minute and try again")
        })
    }
}

/// Why a sign-in failed, without telling which of username or password was wrong.
pub fn bad_credentials() -> ApiError {
    ApiError::new(ErrorCode::InvalidCredentials, "wrong username or password")
}

/// Checks a username and password; runs argon2 off the async threads. Unknown users cost the
/// same time as known ones so the response time does not reveal which usernames exist.
pub async fn verify_login(
    state: &AppState,
    ip: Option<IpAddr>,
    username: &str,
    password: &str,
) -> Result<User, ApiError> {
    state.login_limiter.check(ip, username)?;
    let found = state.db.find_login(username.trim()).await?;
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), h),
        None => (None, DUMMY_HASH.to_owned()),
    };
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || secret::verify_password(&password, &hash)).await.unwrap_or(false);
    match user {
        Some(u) if ok && !u.disabled => Ok(u),
        other => {
            state.db.record_failed_login(username.trim(), other.map(|u| u.id), state.now()).await?;
            Err(bad_credentials())
        }
    }
}

/// argon2id hash of a random string, used to spend equal time on unknown usernames.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0ZH1Rxmdu6mU0sdbLQcZHrwP3uE4uhJ1XWVwtdD2pY4";
