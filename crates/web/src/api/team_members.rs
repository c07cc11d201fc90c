//! Team members: anyone signed in reads them; managers add and remove them. Membership admits
//! people to the private status pages of their teams.

use super::List;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::parse_id;
use crate::operations::catalogue as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::Ref;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_members)).routes(routes!(add_member, remove_member))
}

#[derive(Serialize, ToSchema)]
pub struct MemberDto {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
}

/// A team's members by username (at most 1,000).
#[utoipa::path(
    get,
    path = "/api/v1/teams/{team}/members",
    tag = "catalogue",
    params(("team" = String, Path, description = "id or slug")),
    responses((status = 200, body = List<MemberDto>))
)]
async fn list_members(
    State(state): State<AppState>,
    auth: Auth,
    Path(team): Path<String>,
) -> Result<Json<List<MemberDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let team = state.db.get_team(Ref::parse(&team)).await?;
    let items = state
        .db
        .team_members(team.id)
        .await?
        .into_iter()
        .map(|m| MemberDto { user_id: m.user_id, username: m.username, display_name: m.display_name })
        .collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Adds a user to a team (managers): 201 when added, 200 when a member already.
#[utoipa::path(
    put,
    path = "/api/v1/teams/{team}/members/{user_id}",
    tag = "catalogue",
    params(("team" = String, Path, description = "id or slug"), ("user_id" = Uuid, Path)),
    responses((status = 201), (status = 200))
)]
async fn add_member(
    State(state): State<AppState>,
    auth: Auth,
    Path((team, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    let team = state.db.get_team(Ref::parse(&team)).await?;
    let user_id = parse_id(Entity::User, &user_id)?;
    let added = op::add_member(&state, &auth, &team, user_id).await?;
    Ok(if added { StatusCode::CREATED } else { StatusCode::OK })
}

/// Removes a user from a team (managers); 204 also when the user was not a member.
#[utoipa::path(
    delete,
    path = "/api/v1/teams/{team}/members/{user_id}",
    tag = "catalogue",
    params(("team" = String, Path, description = "id or slug"), ("user_id" = Uuid, Path)),
    responses((status = 204))
)]
async fn remove_member(
    State(state): State<AppState>,
    auth: Auth,
    Path((team, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    let team = state.db.get_team(Ref::parse(&team)).await?;
    op::remove_member(&state, &auth, &team, parse_id(Entity::User, &user_id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
