//! Status page subscribers: added by managers (API, editor) or signed up by visitors on the
//! public page (e-mail only, double opt-in, rate-limited per client and per address); confirmed
//! and removed through the signed links of their messages; listed and exported by admins.

use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ErrorCode};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use opsdeck_core::audit::Actor;
use opsdeck_core::role::Permission;
use opsdeck_core::status_subscriber::{SubscriberKind, SubscriberSpec, verify_subscriber_token};
use opsdeck_store::rate_budget::Budget;
use opsdeck_store::status_page::StatusPage;
use opsdeck_store::status_subscriber::{Subscribed, Subscriber};
use std::net::IpAddr;
use std::num::NonZeroU32;
use uuid::Uuid;

/// Sign-ups a client address may make per hour (across pages and addresses).
const SIGNUPS_PER_CLIENT_HOUR: u32 = 10;
/// Confirmation requests one e-mail address may be sent per hour.
const SIGNUPS_PER_ADDRESS_HOUR: u32 = 3;
const HOUR_MS: i64 = 3_600_000;
/// Keys are pruned of idle entries every so many checks, so the maps stay bounded.
const PRUNE_EVERY: u64 = 1024;

/// Throttles public sign-ups on this node, so the page cannot be used to flood an inbox or the
/// outbox; the same limits also hold across nodes through the database (`Db::take_budgets`).
pub struct SignupLimiter {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    per_address: DefaultKeyedRateLimiter<String>,
    checks: std::sync::atomic::AtomicU64,
}

impl Default for SignupLimiter {
    fn default() -> Self {
        let quota = |n: u32| Quota::per_hour(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        SignupLimiter {
            per_client: RateLimiter::keyed(quota(SIGNUPS_PER_CLIENT_HOUR)),
            per_address: RateLimiter::keyed(quota(SIGNUPS_PER_ADDRESS_HOUR)),
            checks: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl SignupLimiter {
    fn check(&self, ip: IpAddr, address: &str) -> Result<(), ApiError> {
        let n = self.checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.per_client.retain_recent();
            self.per_address.retain_recent();
        }
        let refused = || ApiError::new(ErrorCode::RateLimited, "too many sign-ups; try again in an hour");
        self.per_client.check_key(&ip).map_err(|_| refused())?;
        self.per_address.check_key(&address.to_owned()).map_err(|_| refused())
    }
}

/// Refuses components that are not (non-group) components of `page`.
fn check_components(page: &StatusPage, ids: &[Uuid]) -> Result<(), ApiError> {
    match ids.iter().find(|id| !page.components.iter().any(|c| c.id == **id && !c.is_group)) {
        Some(missing) => {
            Err(ApiError::invalid("component_ids", format!("page {} has no component {missing}", page.slug)))
        }
        None => Ok(()),
    }
}

/// Adds a subscriber (managers and up). E-mail subscribers are asked to confirm unless
/// `skip_confirmation`; webhook and Slack subscribers are confirmed at once (a manager chose
/// the URL, and the egress policy applies to every send).
pub async fn add(
    state: &AppState,
    auth: &Auth,
    page: &StatusPage,
    spec: SubscriberSpec,
    skip_confirmation: bool,
) -> Result<(Subscriber, Subscribed), ApiError> {
    auth.require(Permission::Configure)?;
    check_components(page, &spec.component_ids)?;
    let confirmed = skip_confirmation || spec.kind != SubscriberKind::Email;
    let out = state.db.subscribe(&auth.actor(), state.now(), page.id, &spec, confirmed).await?;
    Ok(out)
}

/// A visitor's sign-up from the public page: e-mail only, always double opt-in. The answer
/// does not tell whether the address was subscribed already.
pub async fn sign_up(
    state: &AppState,
    page: &StatusPage,
    ip: IpAddr,
    email: &str,
    component_ids: &[Uuid],
) -> Result<(), ApiError> {
    let spec = SubscriberSpec::new(Some(email), None, None, component_ids)?;
    check_components(page, &spec.component_ids)?;
    // The node's own limiter turns floods away without the database; the shared budget holds
    // across nodes.
    state.signup_limiter.check(ip, &spec.address)?;
    let client = format!("signup-client:{ip}");
    let address = format!("signup-address:{}", opsdeck_core::secret::digest(&spec.address));
    let budgets = [
        Budget { key: &client, limit: SIGNUPS_PER_CLIENT_HOUR as i32, window_ms: HOUR_MS },
        Budget { key: &address, limit: SIGNUPS_PER_ADDRESS_HOUR as i32, window_ms: HOUR_MS },
    ];
    if !state.db.take_budgets(state.now(), &budgets).await? {
        return Err(ApiError::new(ErrorCode::RateLimited, "too many sign-ups; try again in an hour"));
    }
    state.db.subscribe(&Actor::system("status page visitor"), state.now(), page.id, &spec, false).await?;
    Ok(())
}

/// The subscriber a link's token names, if it belongs to `page`.
async fn by_token(state: &AppState, page: &StatusPage, token: &str) -> Result<Option<Subscriber>, ApiError> {
    let key = state.db.signing_key().await?;
    let id = verify_subscriber_token(&key, token)?;
    match state.db.get_subscriber(id).await {
        Ok(s) if s.page_id == page.id => Ok(Some(s)),
        Ok(_) | Err(opsdeck_store::StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Confirms the subscription a link names; `None`: it no longer exists (unsubscribed since).
pub async fn confirm(state: &AppState, page: &StatusPage, token: &str) -> Result<Option<Subscriber>, ApiError> {
    match by_token(state, page, token).await? {
        Some(s) => Ok(state.db.confirm_subscriber(state.now(), s.id).await?),
        None => Ok(None),
    }
}

/// Ends the subscription a link names; true if there was one (a second click is fine).
pub async fn unsubscribe(state: &AppState, page: &StatusPage, token: &str) -> Result<bool, ApiError> {
    match by_token(state, page, token).await? {
        Some(s) => Ok(state.db.unsubscribe(&Actor::system("unsubscribe link"), state.now(), s.id).await?),
        None => Ok(false),
    }
}

/// Removes a subscriber (admins).
pub async fn remove(state: &AppState, auth: &Auth, page: &StatusPage, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Administer)?;
    match state.db.get_subscriber(id).await {
        Ok(s) if s.page_id == page.id => {
            state.db.unsubscribe(&auth.actor(), state.now(), id).await?;
            Ok(())
        }
        Ok(_) | Err(opsdeck_store::StoreError::NotFound(_)) => {
            Err(ApiError::not_found(opsdeck_core::Entity::StatusSubscriber))
        }
        Err(e) => Err(e.into()),
    }
}

/// A page of subscribers (admins: the list holds people's addresses).
pub async fn list(
    state: &AppState,
    auth: &Auth,
    page: &StatusPage,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Subscriber>, ApiError> {
    auth.require(Permission::Administer)?;
    Ok(state.db.subscribers(page.id, after, limit).await?)
}

/// Every subscriber as CSV (admins), read in pages so memory stays bounded per page read.
pub async fn export_csv(state: &AppState, auth: &Auth, page: &StatusPage) -> Result<Vec<u8>, ApiError> {
    auth.require(Permission::Administer)?;
    let names: std::collections::HashMap<Uuid, &str> =
        page.components.iter().map(|c| (c.id, c.name.as_str())).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = ["id", "kind", "address", "components", "confirmed_at", "created_at"];
    w.write_record(header).map_err(|_| ApiError::internal())?;
    let mut after = None;
    loop {
        let batch = state.db.subscribers(page.id, after, 5_000).await?;
        let Some(last) = batch.last() else { break };
        after = Some(last.id);
        for s in &batch {
            let comps: Vec<&str> = s.component_ids.iter().filter_map(|c| names.get(c).copied()).collect();
            let record = [
                s.id.to_string(),
                s.kind.as_str().to_owned(),
                s.address.clone(),
                if comps.is_empty() { "(whole page)".to_owned() } else { comps.join("; ") },
                s.confirmed_at.map(crate::api::ts).unwrap_or_default(),
                crate::api::ts(s.created_at),
            ];
            w.write_record(&record).map_err(|_| ApiError::internal())?;
        }
        if batch.len() < 5_000 {
            break;
        }
    }
    w.into_inner().map_err(|_| ApiError::internal())
}
