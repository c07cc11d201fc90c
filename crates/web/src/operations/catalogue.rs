//! Catalogue operations: teams, services and service dependencies (managers and admins).

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::catalogue::{Service, ServiceInput, ServiceSpec, Team, TeamSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::Ref;
use uuid::Uuid;

// ---- teams --------------------------------------------------------------------------------------

pub async fn create_team(state: &AppState, auth: &Auth, spec: TeamSpec) -> Result<Team, ApiError> {
    auth.require(Permission::Configure)?;
    let team = state.db.create_team(&auth.actor(), state.now(), spec).await?;
    state.events.publish("team.created", Some(team.id), format!("Team {} created", team.name));
    Ok(team)
}

/// Replaces the name, slug and description of `current`.
pub async fn update_team(state: &AppState, auth: &Auth, current: &Team, spec: TeamSpec) -> Result<Team, ApiError> {
    auth.require(Permission::Configure)?;
    let team = state.db.update_team(&auth.actor(), state.now(), current.id, spec).await?;
    state.events.publish("team.updated", Some(team.id), format!("Team {} updated", team.name));
    Ok(team)
}

/// Deletes a team (by id or slug); its services stay and lose their owner. Returns what was
/// deleted.
pub async fn delete_team(state: &AppState, auth: &Auth, team: Ref<'_>) -> Result<Team, ApiError> {
    auth.require(Permission::Configure)?;
    let current = state.db.get_team(team).await?;
    state.db.delete_team(&auth.actor(), state.now(), current.id).await?;
    state.events.publish("team.deleted", Some(current.id), format!("Team {} deleted", current.name));
    Ok(current)
}

/// Adds `user_id` to `team` (managers and up); a member already stays one. Whether it was added.
pub async fn add_member(state: &AppState, auth: &Auth, team: &Team, user_id: Uuid) -> Result<bool, ApiError> {
    auth.require(Permission::Configure)?;
    if state.db.get_user(user_id).await?.disabled {
        return Err(ApiError::invalid("user_id", "this account is disabled"));
    }
    let added = state.db.add_team_member(&auth.actor(), state.now(), team, user_id).await?;
    // Private status pages of the team admit its members: their renderings do not depend on it.
    state.events.publish("team.updated", Some(team.id), format!("Team {} members changed", team.name));
    Ok(added)
}

/// Removes `user_id` from `team` (managers and up). Whether it was a member.
pub async fn remove_member(state: &AppState, auth: &Auth, team: &Team, user_id: Uuid) -> Result<bool, ApiError> {
    auth.require(Permission::Configure)?;
    let removed = state.db.remove_team_member(&auth.actor(), state.now(), team, user_id).await?;
    state.events.publish("team.updated", Some(team.id), format!("Team {} members changed", team.name));
    Ok(removed)
}

// ---- services -----------------------------------------------------------------------------------

pub async fn create_service(state: &AppState, auth: &Auth, input: ServiceInput) -> Result<Service, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = ServiceSpec::create(input)?;
    let s = state.db.create_service(&auth.actor(), state.now(), spec).await?;
    state.events.publish("service.created", Some(s.id), format!("Service {} created", s.name));
    Ok(s)
}

/// Changes the fields `input` names of `current`.
pub async fn update_service(
    state: &AppState,
    auth: &Auth,
    current: &Service,
    input: ServiceInput,
) -> Result<Service, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = ServiceSpec::from(current).apply(input)?;
    let s = state.db.update_service(&auth.actor(), state.now(), current.id, spec).await?;
    state.events.publish("service.updated", Some(s.id), format!("Service {} updated", s.name));
    Ok(s)
}

/// Deletes a service (by id or slug) and its dependency links; returns what was deleted.
pub async fn delete_service(state: &AppState, auth: &Auth, service: Ref<'_>) -> Result<Service, ApiError> {
    auth.require(Permission::Configure)?;
    let current = state.db.get_service(service).await?.service;
    state.db.delete_service(&auth.actor(), state.now(), current.id).await?;
    // Its integration keys stop working at once on this node (other nodes within a second).
    state.routes.clear();
    state.events.publish("service.deleted", Some(current.id), format!("Service {} deleted", current.name));
    Ok(current)
}

// ---- dependencies -------------------------------------------------------------------------------

/// Records that `service` depends on `depends_on`; cycles are refused.
pub async fn add_dependency(
    state: &AppState,
    auth: &Auth,
    service: &Service,
    depends_on: Uuid,
) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    state.db.add_dependency(&auth.actor(), state.now(), service.id, depends_on).await?;
    state.events.publish("service.updated", Some(service.id), format!("Service {} dependencies changed", service.name));
    Ok(())
}

pub async fn remove_dependency(
    state: &AppState,
    auth: &Auth,
    service: &Service,
    depends_on: Uuid,
) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    state.db.remove_dependency(&auth.actor(), state.now(), service.id, depends_on).await?;
    state.events.publish("service.updated", Some(service.id), format!("Service {} dependencies changed", service.name));
    Ok(())
}
