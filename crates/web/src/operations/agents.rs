//! Probe agents: admins register them (a token shown once) and revoke them; an agent, with
//! its own token, fetches the monitors of its location and uploads their results.

use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ErrorCode};
use axum::http::HeaderMap;
use opsdeck_core::agent::{AgentSpec, TOKEN_PREFIX};
use opsdeck_core::role::Permission;
use opsdeck_core::secret;
use opsdeck_store::agent::{Agent, Assignment, LocationResult, Recorded};
use uuid::Uuid;

/// The live-update event of agent changes (registered, revoked, reported).
pub const AGENT_CHANGED: &str = "agent.changed";

/// Every agent (no secrets: tokens are stored as digests).
pub async fn list(state: &AppState, auth: &Auth) -> Result<Vec<Agent>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.list_agents().await?)
}

/// online (seen within a minute), offline or never_seen, as the API and the page show it.
pub fn status(a: &Agent, now: chrono::DateTime<chrono::Utc>) -> &'static str {
    match a.last_seen_at {
        None => "never_seen",
        Some(t) if (now - t).num_seconds() <= opsdeck_core::agent::ONLINE_WITHIN_SECONDS => "online",
        Some(_) => "offline",
    }
}

/// Registers an agent; returns it with its token, which is shown this once. Admins only: an
/// agent receives the settings of its location's monitors in clear.
pub async fn register(state: &AppState, auth: &Auth, spec: AgentSpec) -> Result<(Agent, String), ApiError> {
    auth.require(Permission::Administer)?;
    let token = secret::generate(TOKEN_PREFIX);
    let agent = state
        .db
        .create_agent(&auth.actor(), state.now(), &spec, &secret::digest(&token), &secret::token_hint(&token))
        .await?;
    state.events.publish(AGENT_CHANGED, Some(agent.id), format!("Agent {} registered", agent.name));
    Ok((agent, token))
}

/// Revokes an agent at once: its next request is refused.
pub async fn revoke(state: &AppState, auth: &Auth, id: Uuid) -> Result<Agent, ApiError> {
    auth.require(Permission::Administer)?;
    let agent = state.db.get_agent(id).await?;
    state.db.delete_agent(&auth.actor(), state.now(), id).await?;
    state.events.publish(AGENT_CHANGED, Some(id), format!("Agent {} revoked", agent.name));
    Ok(agent)
}

/// The agent calling with `Authorization: Bearer opsa_…`, which must also name its location
/// in `X-Opsdeck-Location` when it sends one (a copied token fails loudly, not silently).
pub async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Agent, ApiError> {
    let token = crate::auth::bearer(headers).ok_or_else(|| {
        ApiError::new(ErrorCode::Unauthenticated, "send the agent's token as \"Authorization: Bearer opsa_…\"")
    })?;
    let agent = match token.starts_with(TOKEN_PREFIX) {
        true => state.db.agent_by_token(&secret::digest(token)).await?,
        false => None,
    };
    let agent = agent.ok_or_else(|| {
        ApiError::new(ErrorCode::InvalidToken, "this agent token is unknown or was revoked; register the agent again")
    })?;
    if let Some(named) = headers.get("x-opsdeck-location").and_then(|v| v.to_str().ok())
        && named != agent.location
    {
        return Err(ApiError::conflict(format!(
            "this agent is registered for location {:?}, not {named:?}; start it with --location {}",
            agent.location, agent.location
        )));
    }
    Ok(agent)
}

/// The monitors the agent's location runs, with their settings in clear; notes the agent as
/// seen.
pub async fn assignments(state: &AppState, agent: &Agent, version: Option<&str>) -> Result<Vec<Assignment>, ApiError> {
    let monitors = state.db.location_assignments(&agent.location).await?;
    state.db.agent_seen(agent.id, state.now(), version).await?;
    Ok(monitors)
}

/// Stores an upload of results; `dropped` counts results the agent had to drop since its last
/// upload (its buffer was full).
pub async fn upload(
    state: &AppState,
    agent: &Agent,
    version: Option<&str>,
    dropped: i64,
    results: &[LocationResult],
) -> Result<Recorded, ApiError> {
    let now = state.now();
    // No live-update event: uploads come every second; the verdicts they feed publish theirs.
    Ok(state.db.record_location_results(Some(agent.id), &agent.location, results, now, version, dropped).await?)
}
