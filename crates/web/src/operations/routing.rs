//! Routing rules (managers keep them; agents read them) and where a new ticket goes: the team
//! named on it, else the first rule that takes it. One function for every way a ticket is
//! raised (API, page, portal request, e-mail).

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::desk::routing::{self, Facts, RULES_MAX, RouteSpec};
use opsdeck_core::desk::ticket::TicketSpec;
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::desk::routing::{Route, Routed};
use uuid::Uuid;

pub async fn list(state: &AppState, auth: &Auth) -> Result<Vec<Route>, ApiError> {
    auth.require(Permission::Respond)?;
    Ok(state.db.ticket_routes().await?)
}

pub async fn get(state: &AppState, auth: &Auth, id: Uuid) -> Result<Route, ApiError> {
    auth.require(Permission::Respond)?;
    Ok(state.db.ticket_route(id).await?)
}

/// The team and service a rule or ticket names exist.
async fn check_refs(state: &AppState, team_id: Option<Uuid>, service_id: Option<Uuid>) -> Result<(), ApiError> {
    if let Some(id) = team_id
        && state.db.get_team(Ref::Id(id)).await.is_err()
    {
        return Err(ApiError::invalid("team_id", "names no team"));
    }
    if let Some(id) = service_id
        && state.db.get_service(Ref::Id(id)).await.is_err()
    {
        return Err(ApiError::invalid("service_id", "names no service"));
    }
    Ok(())
}

pub async fn create(state: &AppState, auth: &Auth, spec: &RouteSpec) -> Result<Route, ApiError> {
    auth.require(Permission::Configure)?;
    check_refs(state, Some(spec.team_id), spec.service_id).await?;
    if state.db.count_ticket_routes().await? >= i64::try_from(RULES_MAX).unwrap_or(i64::MAX) {
        return Err(ApiError::conflict(format!("at most {RULES_MAX} routing rules; edit or delete one")));
    }
    Ok(state.db.create_ticket_route(&auth.actor(), state.now(), spec).await?)
}

pub async fn update(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    spec: &RouteSpec,
    version: Option<i64>,
) -> Result<Route, ApiError> {
    auth.require(Permission::Configure)?;
    let before = state.db.ticket_route(id).await?;
    super::check_version(&before.spec.name, before.version, version)?;
    check_refs(state, Some(spec.team_id), spec.service_id).await?;
    Ok(state.db.update_ticket_route(&auth.actor(), state.now(), &before, spec).await?)
}

pub async fn delete(state: &AppState, auth: &Auth, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    let before = state.db.ticket_route(id).await?;
    Ok(state.db.delete_ticket_route(&auth.actor(), state.now(), &before).await?)
}

/// Checks what a new ticket names (only agents choose its team) and gives where it goes: none
/// when it names its team (or no rule takes it).
pub async fn route_new(state: &AppState, auth: Option<&Auth>, spec: &TicketSpec) -> Result<Option<Routed>, ApiError> {
    if spec.team_id.is_some() && !auth.is_some_and(|a| a.allows(Permission::Respond)) {
        return Err(ApiError::invalid("team_id", "only agents choose the team; leave it out and routing picks one"));
    }
    check_refs(state, spec.team_id, spec.service_id).await?;
    if spec.team_id.is_some() {
        return Ok(None);
    }
    let rules = state.db.ticket_routes().await?;
    let text = format!("{}\n{}", spec.title, spec.description);
    let facts = Facts {
        ticket_type: spec.kind,
        category: spec.category.as_deref(),
        service_id: spec.service_id,
        requester: spec.requester_email.as_deref(),
        text: &text,
    };
    Ok(routing::first_match(&rules, &facts).map(|r| Routed {
        team_id: r.spec.team_id,
        assign: r.spec.assign,
        rule: r.spec.name.clone(),
    }))
}
