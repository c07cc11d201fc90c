//! Who is calling: session cookies for people in browsers, bearer tokens for scripts and the CLI.

use crate::AppState;
use crate::error::{ApiError, ErrorCode};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use opsdeck_core::audit::Actor;
use opsdeck_core::role::{Permission, Role};
use opsdeck_core::secret;
use opsdeck_core::user::{ApiToken, User};
use opsdeck_store::rate_budget::Budget;
use std::net::IpAddr;
use std::num::NonZeroU32;

pub const SESSION_COOKIE: &str = "opsdeck_session";

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// The digest of the session id (what the sessions table stores).
    Session(String),
    Token(Box<ApiToken>),
    /// A signed link in an e-mail sent to this person (it does one thing, such as approving
    /// one revision of one change).
    Link,
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
            Via::Link => format!("{} (link in an e-mail)", self.user.username),
        };
        Actor { user_id: Some(self.user.id), label }
    }

    /// Whether this caller may still act: the session still exists (not signed out or expired),
    /// the token is not revoked, and the user is enabled. A database error counts as "no".
    pub async fn still_valid(&self, state: &AppState) -> bool {
        let now = state.now();
        match &self.via {
            Via::Session(hash) => matches!(state.db.session_user(hash, now).await, Ok(Some(u)) if u.id == self.user.id),
            Via::Token(t) => {
                let token = state.db.get_token(t.id).await;
                let user = state.db.get_user(self.user.id).await;
                matches!((token, user), (Ok(t), Ok(u)) if t.revoked_at.is_none() && !u.disabled)
            }
            Via::Link => matches!(state.db.get_user(self.user.id).await, Ok(u) if !u.disabled),
        }
    }

    pub fn session_hash(&self) -> Option<&str> {
        match &self.via {
            Via::Session(h) => Some(h),
            Via::Token(_) | Via::Link => None,
        }
    }

    /// The person a verified signed link was sent to, with their role as it is now.
    pub fn link(user: User) -> Auth {
        Auth { role: user.role, user, via: Via::Link }
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
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
    let Some((user, idle_until)) = state.db.session_user_idle(&hash, now).await? else { return Ok(None) };
    // Use keeps a session alive for `session_idle` more; written at most once a minute.
    let idle = state.config.session_idle;
    let left = idle_until.saturating_sub(now.timestamp_millis());
    // Also when the deadline lies beyond a whole idle period (sessions from before the timeout).
    if left < idle.num_milliseconds() - 60_000 || left > idle.num_milliseconds() {
        state.db.touch_session(&hash, now + idle).await?;
    }
    Ok(Some(Auth { role: user.role, user, via: Via::Session(hash) }))
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
    let hash = secret::digest(&id);
    state.db.create_session(&hash, user, now, now + state.config.session_ttl).await?;
    state.db.touch_session(&hash, now + state.config.session_idle).await?;
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

/// Throttles sign-in attempts, each a deliberately expensive password hash: per client address
/// and account, per account from anywhere (a distributed guess), and for the whole node (the CPU
/// and memory argon2 takes); and runs at most a few hashes at once.
pub struct LoginLimiter {
    per_ip: DefaultKeyedRateLimiter<String>,
    per_client: DefaultKeyedRateLimiter<String>,
    per_account: DefaultKeyedRateLimiter<String>,
    global: DefaultDirectRateLimiter,
    /// Concurrent password hashes (about 19 MiB each).
    pub(crate) hashing: tokio::sync::Semaphore,
    checks: std::sync::atomic::AtomicU64,
}

/// Concurrent password verifications on one node.
const HASHING_MAX: usize = 4;
/// Keys are pruned of idle entries every so many checks, so the maps stay bounded.
const PRUNE_EVERY: u64 = 1024;

impl LoginLimiter {
    pub fn new(per_minute: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        LoginLimiter {
            per_ip: RateLimiter::keyed(quota(per_minute.saturating_mul(3))),
            per_client: RateLimiter::keyed(quota(per_minute)),
            per_account: RateLimiter::keyed(quota(per_minute.saturating_mul(3))),
            global: RateLimiter::direct(quota(per_minute.saturating_mul(30))),
            hashing: tokio::sync::Semaphore::new(HASHING_MAX),
            checks: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Counts an attempt for `username` (as normalised by [`login_name`]) from `ip`.
    pub fn check(&self, ip: Option<IpAddr>, username: &str) -> Result<(), ApiError> {
        let n = self.checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.per_ip.retain_recent();
            self.per_client.retain_recent();
            self.per_account.retain_recent();
        }
        let ip = ip.map(|i| i.to_string()).unwrap_or_default();
        // One address trying many names is held back on its own, before it can spend the
        // node's budget that everyone shares.
        self.per_ip.check_key(&ip).map_err(|_| refused())?;
        self.per_client.check_key(&format!("{ip}|{username}")).map_err(|_| refused())?;
        self.per_account.check_key(&username.to_owned()).map_err(|_| refused())
    }

    /// Counts a password hash against the node's budget (only attempts that would hash).
    pub fn check_node(&self) -> Result<(), ApiError> {
        self.global.check().map_err(|_| refused())
    }
}

fn refused() -> ApiError {
    ApiError::new(ErrorCode::RateLimited, "too many sign-in attempts; wait a minute and try again")
}

/// A sign-in name as accounts store it (trimmed, lowercase, bounded), so `" admin"` and
/// `"ADMIN"` count against the same budget as `"admin"`.
pub fn login_name(typed: &str) -> String {
    typed.trim().chars().take(opsdeck_core::user::USERNAME_MAX + 1).collect::<String>().to_lowercase()
}

/// The address of the client: the peer, or, when the peer is a trusted reverse proxy, the
/// nearest address in `X-Forwarded-For` that is not one of the trusted proxies.
pub fn client_ip(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let trusted = &state.config.trusted_proxies;
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    forwarded
        .iter()
        .flat_map(|v| v.split(','))
        .rev()
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
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
    let username = login_name(username);
    state.login_limiter.check(ip, &username)?;
    // A name no account can have needs no lookup, no budget and no hash.
    if opsdeck_core::user::username(&username).is_err() {
        return Err(bad_credentials());
    }
    state.login_limiter.check_node()?;
    // The same budgets per client and per account, counted in the database: every node shares
    // them, so N nodes behind a balancer give a guesser no more attempts than one.
    let per_minute = i32::try_from(state.config.login_attempts_per_minute).unwrap_or(i32::MAX).max(1);
    let client = format!("login-client:{}|{username}", ip.map(|i| i.to_string()).unwrap_or_default());
    let account = format!("login-account:{username}");
    let budgets = [
        Budget { key: &client, limit: per_minute, window_ms: 60_000 },
        Budget { key: &account, limit: per_minute.saturating_mul(3), window_ms: 60_000 },
    ];
    if !state.db.take_budgets(state.now(), &budgets).await? {
        return Err(refused());
    }
    let found = state.db.find_login(&username).await?;
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), h),
        None => (None, DUMMY_HASH.to_owned()),
    };
    let password = password.to_owned();
    let ok = {
        let _slot = state.login_limiter.hashing.acquire().await.map_err(|_| ApiError::internal())?;
        tokio::task::spawn_blocking(move || secret::verify_password(&password, &hash)).await.unwrap_or(false)
    };
    match user {
        Some(u) if ok && !u.disabled => Ok(u),
        other => {
            state.db.record_failed_login(&username, other.map(|u| u.id), state.now()).await?;
            Err(bad_credentials())
        }
    }
}

/// argon2id hash of a random string, used to spend equal time on unknown usernames.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0ZH1Rxmdu6mU0sdbLQcZHrwP3uE4uhJ1XWVwtdD2pY4";
