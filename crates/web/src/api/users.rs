//! Users (administered by admins) and API tokens (each user's own; admins see all).

use super::{List, cursor, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, double_option, parse_id};
use crate::operations::users::{self as op, find_user};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_core::role::{Permission, Role};
use opsdeck_core::user::{self, ApiToken, User};
use opsdeck_store::user::UserPatch;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(set_password))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

#[derive(Serialize, ToSchema)]
pub struct UserDto {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    /// viewer, responder, manager or admin.
    pub role: String,
    pub disabled: bool,
    pub created_at: String,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        UserDto {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            email: u.email,
            role: u.role.to_string(),
            disabled: u.disabled,
            created_at: ts(u.created_at),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    pub q: Option<String>,
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
}

/// Lists accounts by username (any signed-in user may read the directory).
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    params(UserQuery),
    responses((status = 200, body = List<UserDto>))
)]
async fn list_users(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> Result<Json<List<UserDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let page =
        state.db.list_users(q.q.as_deref(), cursor(q.cursor.as_deref())?.as_ref(), super::limit(q.limit)?).await?;
    Ok(Json(List::from_page(page, UserDto::from)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(schema_with = crate::api::schema::username)]
    pub username: String,
    #[schema(schema_with = crate::api::schema::password)]
    pub password: String,
    #[schema(schema_with = crate::api::schema::role)]
    pub role: Role,
    #[schema(schema_with = crate::api::schema::name_opt)]
    pub display_name: Option<String>,
    #[schema(schema_with = crate::api::schema::email_opt)]
    pub email: Option<String>,
}

/// Creates an account (admin).
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    request_body = CreateUser,
    responses((status = 201, body = UserDto))
)]
async fn create_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserDto>), ApiError> {
    auth.require(Permission::Administer)?;
    let new = op::validate_new_user(
        &req.username,
        &req.password,
        req.display_name.as_deref(),
        req.email.as_deref(),
        req.role,
    )
    .await?;
    let user = op::create_user(&state, &auth, new).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// One account by id or username.
#[utoipa::path(
    get,
    path = "/api/v1/users/{user}",
    tag = "users",
    params(("user" = String, Path, description = "id or username")),
    responses((status = 200, body = UserDto))
)]
async fn get_user(State(state): State<AppState>, auth: Auth, Path(u): Path<String>) -> Result<Json<UserDto>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(find_user(&state, &u).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[schema(schema_with = crate::api::schema::role_opt)]
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// Changes an account (admin). The last enabled admin cannot be demoted or disabled.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{user}",
    tag = "users",
    params(("user" = String, Path, description = "id or username")),
    request_body = UpdateUser,
    responses((status = 200, body = UserDto))
)]
async fn update_user(
    State(state): State<AppState>,
    auth: Auth,
    Path(u): Path<String>,
    ApiJson(req): ApiJson<UpdateUser>,
) -> Result<Json<UserDto>, ApiError> {
    auth.require(Permission::Administer)?;
    let target = find_user(&state, &u).await?;
    let patch = UserPatch {
        display_name: req.display_name.map(|d| opsdeck_core::validate::name("display_name", &d)).transpose()?,
        email: req.email.map(|e| user::email(e.as_deref())).transpose()?,
        role: req.role,
        disabled: req.disabled,
    };
    Ok(Json(op::update_user(&state, &auth, &target, patch).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// Required when changing one's own password.
    pub current_password: Option<String>,
    pub new_password: String,
}

/// Sets a password: one's own (with the current password) or anyone's (admin). Ends other sessions.
#[utoipa::path(
    post,
    path = "/api/v1/users/{user}/password",
    tag = "users",
    params(("user" = String, Path, description = "id or username")),
    request_body = SetPassword,
    responses((status = 204))
)]
async fn set_password(
    State(state): State<AppState>,
    auth: Auth,
    Path(u): Path<String>,
    ApiJson(req): ApiJson<SetPassword>,
) -> Result<StatusCode, ApiError> {
    let target = find_user(&state, &u).await?;
    op::change_password(&state, &auth, &target, req.current_password.as_deref(), &req.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- tokens -----------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct TokenDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub name: String,
    /// The first characters of the token.
    pub hint: String,
    /// Role cap; absent means the owner's role.
    pub role: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<ApiToken> for TokenDto {
    fn from(t: ApiToken) -> Self {
        TokenDto {
            id: t.id,
            user_id: t.user_id,
            username: t.username,
            name: t.name,
            hint: t.hint,
            role: t.role.map(|r| r.to_string()),
            created_at: ts(t.created_at),
            last_used_at: t.last_used_at.map(ts),
            revoked_at: t.revoked_at.map(ts),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: TokenDto,
    /// The secret. It is shown this once and cannot be read again.
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    #[schema(schema_with = crate::api::schema::token_name)]
    pub name: String,
    /// Narrow the token to this role (never above the owner's).
    #[schema(schema_with = crate::api::schema::role_opt)]
    pub role: Option<Role>,
    /// Admins may create tokens for another user (id or username).
    pub user: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    /// Admins: list every user's tokens.
    pub all: Option<bool>,
}

/// The caller's API tokens (admins: `?all=true` for everyone's).
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "tokens",
    params(TokenQuery),
    responses((status = 200, body = List<TokenDto>))
)]
async fn list_tokens(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<TokenQuery>,
) -> Result<Json<List<TokenDto>>, ApiError> {
    let all = q.all.unwrap_or(false);
    if all {
        auth.require(Permission::Administer)?;
    }
    let tokens = state.db.list_tokens((!all).then_some(auth.user.id)).await?;
    Ok(Json(List { items: tokens.into_iter().map(Into::into).collect(), next_cursor: None }))
}

/// Creates a token and returns its secret once.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "tokens",
    request_body = CreateToken,
    responses((status = 201, body = CreatedToken))
)]
async fn create_token(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let owner = match req.user.as_deref() {
        Some(u) => {
            let owner = find_user(&state, u).await?;
            if owner.id != auth.user.id {
                auth.require(Permission::Administer)?;
            }
            owner
        }
        None => auth.user.clone(),
    };
    let (token, secret) = op::issue_token(&state, &auth, &owner, &req.name, req.role).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { info: token.into(), token: secret })))
}

/// Revokes a token at once (own tokens; admins: any).
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "tokens",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TokenDto))
)]
async fn revoke_token(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<TokenDto>, ApiError> {
    let id = parse_id(Entity::ApiToken, &id)?;
    Ok(Json(op::revoke_token(&state, &auth, id).await?.into()))
}
