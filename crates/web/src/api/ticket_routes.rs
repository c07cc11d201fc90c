//! Ticket routing rules (`/api/v1/ticket-routes`): which team a new ticket goes to, and how one
//! of its agents is chosen.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::operations::routing as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::desk::routing::{RouteInput, RouteSpec};
use opsdeck_store::desk::routing::Route;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_routes, create_route)).routes(routes!(get_route, put_route, delete_route))
}

#[derive(Serialize, ToSchema)]
pub struct RouteDto {
    pub id: Uuid,
    pub name: String,
    /// Rules are tried lowest first; the first that takes a ticket routes it.
    pub position: i32,
    /// Conditions (null or empty: not checked). Every one given must hold.
    pub ticket_type: Option<String>,
    pub category: Option<String>,
    pub service_id: Option<Uuid>,
    /// An address, or `@domain` for anyone there.
    pub requester: Option<String>,
    /// Any of these words in the title or description (whole words, any case).
    pub keywords: Vec<String>,
    /// The team the ticket goes to.
    pub team_id: Uuid,
    /// none, round_robin or least_loaded (fewest open tickets) among the team's active agents.
    pub assign: String,
    pub enabled: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn dto(r: Route) -> RouteDto {
    let s = r.spec;
    RouteDto {
        id: r.id,
        name: s.name,
        position: s.position,
        ticket_type: s.ticket_type.map(|t| t.as_str().to_owned()),
        category: s.category,
        service_id: s.service_id,
        requester: s.requester,
        keywords: s.keywords,
        team_id: s.team_id,
        assign: s.assign.as_str().to_owned(),
        enabled: s.enabled,
        version: r.version,
        created_at: ts(r.created_at),
        updated_at: ts(r.updated_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    /// 0 to 10000; default 100.
    #[schema(minimum = 0, maximum = 10000)]
    pub position: Option<i64>,
    #[schema(schema_with = crate::api::ticket_schema::ticket_type_opt)]
    pub ticket_type: Option<String>,
    /// Matched without regard to case.
    #[schema(schema_with = crate::api::schema::name_or_blank_opt)]
    pub category: Option<String>,
    pub service_id: Option<Uuid>,
    #[schema(schema_with = crate::api::ticket_schema::route_requester_opt)]
    pub requester: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::api::ticket_schema::route_keywords)]
    pub keywords: Vec<String>,
    pub team_id: Uuid,
    /// none (default), round_robin or least_loaded.
    #[schema(schema_with = crate::api::ticket_schema::route_assign_opt)]
    pub assign: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// On an edit, the version you loaded (409 when it changed since).
    pub version: Option<i64>,
}

fn route_id(raw: &str) -> Result<Uuid, ApiError> {
    crate::extract::parse_id(opsdeck_core::Entity::TicketRoute, raw)
}

fn spec(b: RouteBody) -> Result<(RouteSpec, Option<i64>), ApiError> {
    let spec = RouteSpec::new(&RouteInput {
        name: b.name,
        position: b.position,
        ticket_type: b.ticket_type,
        category: b.category,
        service_id: b.service_id,
        requester: b.requester,
        keywords: b.keywords,
        team_id: Some(b.team_id),
        assign: b.assign,
        enabled: b.enabled,
    })?;
    Ok((spec, b.version))
}

/// The routing rules in the order they are tried (agents: responders and up).
#[utoipa::path(get, path = "/api/v1/ticket-routes", tag = "tickets",
    responses((status = 200, body = List<RouteDto>)))]
async fn list_routes(State(state): State<AppState>, auth: Auth) -> Result<Json<List<RouteDto>>, ApiError> {
    let items = op::list(&state, &auth).await?.into_iter().map(dto).collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Adds a routing rule (managers and up). 422 names every wrong field; an unknown team or
/// service is a 422 too.
#[utoipa::path(post, path = "/api/v1/ticket-routes", tag = "tickets", request_body = RouteBody,
    responses((status = 201, body = RouteDto)))]
async fn create_route(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<RouteBody>,
) -> Result<(StatusCode, Json<RouteDto>), ApiError> {
    let (spec, _) = spec(b)?;
    Ok((StatusCode::CREATED, Json(dto(op::create(&state, &auth, &spec).await?))))
}

#[utoipa::path(get, path = "/api/v1/ticket-routes/{id}", tag = "tickets",
    params(("id" = Uuid, Path)), responses((status = 200, body = RouteDto)))]
async fn get_route(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<RouteDto>, ApiError> {
    Ok(Json(dto(op::get(&state, &auth, route_id(&id)?).await?)))
}

/// Replaces a routing rule (managers and up).
#[utoipa::path(put, path = "/api/v1/ticket-routes/{id}", tag = "tickets",
    params(("id" = Uuid, Path)), request_body = RouteBody, responses((status = 200, body = RouteDto)))]
async fn put_route(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RouteBody>,
) -> Result<Json<RouteDto>, ApiError> {
    let (spec, version) = spec(b)?;
    Ok(Json(dto(op::update(&state, &auth, route_id(&id)?, &spec, version).await?)))
}

/// Deletes a routing rule (managers and up); tickets it routed keep their team.
#[utoipa::path(delete, path = "/api/v1/ticket-routes/{id}", tag = "tickets",
    params(("id" = Uuid, Path)), responses((status = 204)))]
async fn delete_route(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete(&state, &auth, route_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
