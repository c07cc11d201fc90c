//! Teams, services and service dependencies.

use super::{List, cursor, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, double_option, parse_id};
use crate::operations::catalogue as op;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use opsdeck_core::Entity;
use opsdeck_core::catalogue::{Link, ServiceInput, Team, TeamSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::{Ref, ServiceFilter, ServiceView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, update_team, delete_team))
        .routes(routes!(list_services, create_service))
        .routes(routes!(get_service, update_service, delete_service))
        .routes(routes!(list_dependencies, add_dependency))
        .routes(routes!(remove_dependency))
}

// ---- teams ------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct TeamDto {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Team> for TeamDto {
    fn from(t: Team) -> Self {
        TeamDto {
            id: t.id,
            name: t.name,
            slug: t.slug,
            description: t.description,
            created_at: ts(t.created_at),
            updated_at: ts(t.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    /// Derived from the name when absent.
    #[schema(schema_with = crate::api::schema::slug_opt)]
    pub slug: Option<String>,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeam {
    #[schema(schema_with = crate::api::schema::name_opt)]
    pub name: Option<String>,
    #[schema(schema_with = crate::api::schema::slug_opt)]
    pub slug: Option<String>,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Case-insensitive search in name and slug.
    pub q: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
}

/// Lists teams by name.
#[utoipa::path(
    get,
    path = "/api/v1/teams",
    tag = "catalogue",
    params(ListQuery),
    responses((status = 200, body = List<TeamDto>))
)]
async fn list_teams(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<List<TeamDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let page =
        state.db.list_teams(q.q.as_deref(), cursor(q.cursor.as_deref())?.as_ref(), super::limit(q.limit)?).await?;
    Ok(Json(List::from_page(page, TeamDto::from)))
}

/// Creates a team (manager or admin).
#[utoipa::path(
    post,
    path = "/api/v1/teams",
    tag = "catalogue",
    request_body = CreateTeam,
    responses((status = 201, body = TeamDto))
)]
async fn create_team(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<CreateTeam>,
) -> Result<(StatusCode, Json<TeamDto>), ApiError> {
    auth.require(Permission::Configure)?;
    let spec = TeamSpec::new(&req.name, req.slug.as_deref(), req.description.as_deref())?;
    let team = op::create_team(&state, &auth, spec).await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

/// One team, by id or slug.
#[utoipa::path(
    get,
    path = "/api/v1/teams/{team}",
    tag = "catalogue",
    params(("team" = String, Path, description = "id or slug")),
    responses((status = 200, body = TeamDto))
)]
async fn get_team(
    State(state): State<AppState>,
    auth: Auth,
    Path(team): Path<String>,
) -> Result<Json<TeamDto>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(state.db.get_team(Ref::parse(&team)).await?.into()))
}

/// Changes a team's name, slug or description.
#[utoipa::path(
    patch,
    path = "/api/v1/teams/{team}",
    tag = "catalogue",
    params(("team" = String, Path, description = "id or slug")),
    request_body = UpdateTeam,
    responses((status = 200, body = TeamDto))
)]
async fn update_team(
    State(state): State<AppState>,
    auth: Auth,
    Path(team): Path<String>,
    ApiJson(req): ApiJson<UpdateTeam>,
) -> Result<Json<TeamDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let current = state.db.get_team(Ref::parse(&team)).await?;
    let spec = TeamSpec::new(
        req.name.as_deref().unwrap_or(&current.name),
        Some(req.slug.as_deref().unwrap_or(&current.slug)),
        Some(req.description.as_deref().unwrap_or(&current.description)),
    )?;
    Ok(Json(op::update_team(&state, &auth, &current, spec).await?.into()))
}

/// Deletes a team; its services stay and lose their owner.
#[utoipa::path(
    delete,
    path = "/api/v1/teams/{team}",
    tag = "catalogue",
    params(("team" = String, Path, description = "id or slug")),
    responses((status = 204))
)]
async fn delete_team(
    State(state): State<AppState>,
    auth: Auth,
    Path(team): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete_team(&state, &auth, Ref::parse(&team)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- services ---------------------------------------------------------------------------

#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct LinkDto {
    #[schema(schema_with = crate::api::schema::name)]
    pub title: String,
    #[schema(schema_with = crate::api::schema::url)]
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceDto {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub team_id: Option<Uuid>,
    pub team_name: Option<String>,
    /// 1 (business-critical) to 4 (best effort).
    pub tier: i16,
    pub tags: Vec<String>,
    pub runbook_url: Option<String>,
    pub links: Vec<LinkDto>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ServiceView> for ServiceDto {
    fn from(v: ServiceView) -> Self {
        let s = v.service;
        ServiceDto {
            id: s.id,
            name: s.name,
            slug: s.slug,
            description: s.description,
            team_id: s.team_id,
            team_name: v.team_name,
            tier: s.tier,
            tags: s.tags,
            runbook_url: s.runbook_url,
            links: s.links.into_iter().map(|l| LinkDto { title: l.title, url: l.url }).collect(),
            created_at: ts(s.created_at),
            updated_at: ts(s.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateService {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    /// Derived from the name when absent.
    #[schema(schema_with = crate::api::schema::slug_opt)]
    pub slug: Option<String>,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    pub team_id: Option<Uuid>,
    /// 1–4, default 3.
    #[schema(minimum = 1, maximum = 4)]
    pub tier: Option<i16>,
    #[schema(schema_with = crate::api::schema::tags_opt)]
    pub tags: Option<Vec<String>>,
    #[schema(schema_with = crate::api::schema::url_opt)]
    pub runbook_url: Option<String>,
    #[schema(max_items = 20)]
    pub links: Option<Vec<LinkDto>>,
}

/// Absent fields stay as they are; `null` clears `team_id` and `runbook_url`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateService {
    #[schema(schema_with = crate::api::schema::name_opt)]
    pub name: Option<String>,
    #[schema(schema_with = crate::api::schema::slug_opt)]
    pub slug: Option<String>,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<Option<Uuid>>,
    #[schema(minimum = 1, maximum = 4)]
    pub tier: Option<i16>,
    #[schema(schema_with = crate::api::schema::tags_opt)]
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = crate::api::schema::url_opt)]
    pub runbook_url: Option<Option<String>>,
    #[schema(max_items = 20)]
    pub links: Option<Vec<LinkDto>>,
}

fn links(v: Option<Vec<LinkDto>>) -> Option<Vec<Link>> {
    v.map(|ls| ls.into_iter().map(|l| Link { title: l.title, url: l.url }).collect())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ServiceQuery {
    /// Case-insensitive search in name, slug and description.
    pub q: Option<String>,
    pub team_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 4)]
    pub tier: Option<i16>,
    /// Page size, 1–500 (default 50).
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
}

/// Lists services by name.
///
/// The hot read path: the rendered page is reused while the catalogue revision is unchanged.
#[utoipa::path(
    get,
    path = "/api/v1/services",
    tag = "catalogue",
    params(ServiceQuery),
    responses((status = 200, body = List<ServiceDto>))
)]
async fn list_services(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ServiceQuery>,
) -> Result<Response, ApiError> {
    auth.require(Permission::Read)?;
    let revision = state.db.catalogue_revision().await?;
    if q.tier.is_some_and(|t| !(1..=4).contains(&t)) {
        return Err(ApiError::invalid("tier", "must be 1 to 4"));
    }
    let key = format!("{:?}|{:?}|{:?}|{:?}|{:?}", q.q, q.team_id, q.tier, q.limit, q.cursor);
    let body = match state.service_lists.get(&key, revision) {
        Some(body) => body,
        None => {
            let filter = ServiceFilter {
                q: q.q,
                team_id: q.team_id,
                tier: q.tier,
                cursor: cursor(q.cursor.as_deref())?,
                limit: super::limit(q.limit)?,
            };
            let page = state.db.list_services(&filter).await?;
            let body = Bytes::from(
                serde_json::to_vec(&List::from_page(page, ServiceDto::from)).map_err(|_| ApiError::internal())?,
            );
            state.service_lists.put(key, revision, body.clone());
            body
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Creates a service (manager or admin).
#[utoipa::path(
    post,
    path = "/api/v1/services",
    tag = "catalogue",
    request_body = CreateService,
    responses((status = 201, body = ServiceDto))
)]
async fn create_service(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<CreateService>,
) -> Result<(StatusCode, Json<ServiceDto>), ApiError> {
    let input = ServiceInput {
        name: Some(req.name),
        slug: req.slug,
        description: req.description,
        team_id: Some(req.team_id),
        tier: req.tier,
        tags: req.tags,
        runbook_url: Some(req.runbook_url),
        links: links(req.links),
    };
    let s = op::create_service(&state, &auth, input).await?;
    Ok((StatusCode::CREATED, Json(state.db.get_service(Ref::Id(s.id)).await?.into())))
}

/// One service, by id or slug.
#[utoipa::path(
    get,
    path = "/api/v1/services/{service}",
    tag = "catalogue",
    params(("service" = String, Path, description = "id or slug")),
    responses((status = 200, body = ServiceDto))
)]
async fn get_service(
    State(state): State<AppState>,
    auth: Auth,
    Path(service): Path<String>,
) -> Result<Json<ServiceDto>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(state.db.get_service(Ref::parse(&service)).await?.into()))
}

/// Changes some fields of a service.
#[utoipa::path(
    patch,
    path = "/api/v1/services/{service}",
    tag = "catalogue",
    params(("service" = String, Path, description = "id or slug")),
    request_body = UpdateService,
    responses((status = 200, body = ServiceDto))
)]
async fn update_service(
    State(state): State<AppState>,
    auth: Auth,
    Path(service): Path<String>,
    ApiJson(req): ApiJson<UpdateService>,
) -> Result<Json<ServiceDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let current = state.db.get_service(Ref::parse(&service)).await?.service;
    let input = ServiceInput {
        name: req.name,
        slug: req.slug,
        description: req.description,
        team_id: req.team_id,
        tier: req.tier,
        tags: req.tags,
        runbook_url: req.runbook_url,
        links: links(req.links),
    };
    let s = op::update_service(&state, &auth, &current, input).await?;
    Ok(Json(state.db.get_service(Ref::Id(s.id)).await?.into()))
}

/// Deletes a service and its dependency links.
#[utoipa::path(
    delete,
    path = "/api/v1/services/{service}",
    tag = "catalogue",
    params(("service" = String, Path, description = "id or slug")),
    responses((status = 204))
)]
async fn delete_service(
    State(state): State<AppState>,
    auth: Auth,
    Path(service): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete_service(&state, &auth, Ref::parse(&service)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- dependencies -----------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct Dependencies {
    /// Services this service needs.
    pub depends_on: Vec<ServiceDto>,
    /// Services that need this service (its blast radius).
    pub dependents: Vec<ServiceDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDependency {
    pub depends_on_id: Uuid,
}

/// What the service depends on, and what depends on it.
#[utoipa::path(
    get,
    path = "/api/v1/services/{service}/dependencies",
    tag = "catalogue",
    params(("service" = String, Path, description = "id or slug")),
    responses((status = 200, body = Dependencies))
)]
async fn list_dependencies(
    State(state): State<AppState>,
    auth: Auth,
    Path(service): Path<String>,
) -> Result<Json<Dependencies>, ApiError> {
    auth.require(Permission::Read)?;
    let s = state.db.get_service(Ref::parse(&service)).await?.service;
    let (up, down) = state.db.service_dependencies(s.id).await?;
    Ok(Json(Dependencies {
        depends_on: up.into_iter().map(Into::into).collect(),
        dependents: down.into_iter().map(Into::into).collect(),
    }))
}

/// Records that the service depends on another; cycles are refused with 409.
#[utoipa::path(
    post,
    path = "/api/v1/services/{service}/dependencies",
    tag = "catalogue",
    params(("service" = String, Path, description = "id or slug")),
    request_body = AddDependency,
    responses((status = 201, body = Dependencies))
)]
async fn add_dependency(
    State(state): State<AppState>,
    auth: Auth,
    Path(service): Path<String>,
    ApiJson(req): ApiJson<AddDependency>,
) -> Result<(StatusCode, Json<Dependencies>), ApiError> {
    auth.require(Permission::Configure)?;
    let s = state.db.get_service(Ref::parse(&service)).await?.service;
    op::add_dependency(&state, &auth, &s, req.depends_on_id).await?;
    let Json(deps) = list_dependencies(State(state), auth, Path(s.id.to_string())).await?;
    Ok((StatusCode::CREATED, Json(deps)))
}

/// Removes a dependency.
#[utoipa::path(
    delete,
    path = "/api/v1/services/{service}/dependencies/{depends_on}",
    tag = "catalogue",
    params(("service" = String, Path, description = "id or slug"), ("depends_on" = Uuid, Path)),
    responses((status = 204))
)]
async fn remove_dependency(
    State(state): State<AppState>,
    auth: Auth,
    Path((service, dep)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    let s = state.db.get_service(Ref::parse(&service)).await?.service;
    let dep = parse_id(Entity::Dependency, &dep)?;
    op::remove_dependency(&state, &auth, &s, dep).await?;
    Ok(StatusCode::NO_CONTENT)
}
