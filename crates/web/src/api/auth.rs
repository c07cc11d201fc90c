//! Sign-in, sign-out, first-run setup and "who am I".

use super::users::UserDto;
use crate::AppState;
use crate::auth::{self, Auth};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::operations::users::create_first_admin;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use std::net::SocketAddr;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login)).routes(routes!(logout)).routes(routes!(me)).routes(routes!(setup))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Signs in and sets the session cookie.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    security(()),
    request_body = LoginRequest,
    responses((status = 200, body = UserDto))
)]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    jar: CookieJar,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let ip = auth::client_ip(&state, addr.ip(), &headers);
    let user = auth::verify_login(&state, Some(ip), &req.username, &req.password).await?;
    let cookie = auth::start_session(&state, &user).await?;
    Ok((jar.add(cookie), Json(UserDto::from(user))))
}

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
async fn logout(
    State(state): State<AppState>,
    auth: Option<Auth>,
    jar: CookieJar,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(a) = &auth {
        crate::operations::users::end_session(&state, a).await?;
    }
    Ok((jar.add(auth::clear_session_cookie()), StatusCode::NO_CONTENT))
}

/// The caller's account and the role in force for this request.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, body = UserDto)))]
async fn me(auth: Auth) -> Json<UserDto> {
    let mut dto = UserDto::from(auth.user);
    dto.role = auth.role.to_string();
    Json(dto)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    #[schema(schema_with = crate::api::schema::username)]
    pub username: String,
    #[schema(schema_with = crate::api::schema::password)]
    pub password: String,
    #[schema(schema_with = crate::api::schema::name_opt)]
    pub display_name: Option<String>,
    #[schema(schema_with = crate::api::schema::email_opt)]
    pub email: Option<String>,
}

/// Creates the first admin account. Works only while no account exists.
#[utoipa::path(
    post,
    path = "/api/v1/setup",
    tag = "auth",
    security(()),
    request_body = SetupRequest,
    responses((status = 201, body = UserDto))
)]
async fn setup(
    State(state): State<AppState>,
    jar: CookieJar,
    ApiJson(req): ApiJson<SetupRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let user =
        create_first_admin(&state, &req.username, &req.password, req.display_name.as_deref(), req.email.as_deref())
            .await?;
    let cookie = auth::start_session(&state, &user).await?;
    Ok((StatusCode::CREATED, jar.add(cookie), Json(UserDto::from(user))))
}
