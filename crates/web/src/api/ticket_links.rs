//! A ticket's links (agents): its parent and children, the incident it is promoted to or
//! attached to, and the configuration items it concerns.

use super::List;
use super::incidents::IncidentDto;
use super::tickets::{TicketDto, dto};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::operations::ticket_links as op;
use crate::operations::tickets::find;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_parent))
        .routes(routes!(list_children))
        .routes(routes!(put_incident))
        .routes(routes!(promote))
        .routes(routes!(get_cis, put_cis))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParentBody {
    /// The parent ticket (`TKT-3`, a number or an id); null or blank: on its own. A parent is no
    /// one's child, and a ticket with children is no one's child (422).
    #[schema(max_length = 80)]
    pub parent: Option<String>,
    /// The version you loaded (409 when it changed since).
    pub version: Option<i64>,
}

/// Puts a ticket under a parent, or on its own (responders and up). A parent resolved resolves
/// its open children with it.
#[utoipa::path(put, path = "/api/v1/tickets/{id}/parent", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")), request_body = ParentBody,
    responses((status = 200, body = TicketDto)))]
async fn put_parent(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ParentBody>,
) -> Result<Json<TicketDto>, ApiError> {
    Ok(Json(dto(op::set_parent(&state, &auth, &id, b.parent.as_deref(), b.version).await?)))
}

/// A parent's children, oldest first (responders and up; empty for others).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/children", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses((status = 200, body = List<TicketDto>)))]
async fn list_children(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<TicketDto>>, ApiError> {
    let t = find(&state, &auth, &id).await?;
    let children = op::children(&state, &auth, &t).await?;
    let items = crate::operations::tickets::views(&state, &auth, children).await?.into_iter().map(dto).collect();
    Ok(Json(List { items, next_cursor: None }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentLinkBody {
    /// The incident (`INC-4`, a number or an id); null or blank detaches the ticket.
    #[schema(max_length = 80)]
    pub incident: Option<String>,
    pub version: Option<i64>,
}

/// Attaches a ticket to an incident, or detaches it (responders and up): requesters' reports of
/// one outage are kept together with it.
#[utoipa::path(put, path = "/api/v1/tickets/{id}/incident", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")), request_body = IncidentLinkBody,
    responses((status = 200, body = TicketDto)))]
async fn put_incident(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<IncidentLinkBody>,
) -> Result<Json<TicketDto>, ApiError> {
    Ok(Json(dto(op::set_incident(&state, &auth, &id, b.incident.as_deref(), b.version).await?)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PromoteBody {
    /// SEV1 to SEV4; default SEV3.
    #[schema(schema_with = crate::api::schema::severity_opt)]
    pub severity: Option<String>,
    /// The service the incident is about (id or slug); default the ticket's service (422 when
    /// neither names one).
    #[schema(max_length = 80)]
    pub service_id: Option<String>,
    /// The version you loaded (409 when it changed since).
    pub version: Option<i64>,
}

/// Promotes a ticket to a new incident (responders and up), linked in the same transaction; the
/// incident takes the ticket's title (not its description, which is the requester's) and its
/// impact starts when the ticket was raised. 409 when it is already linked to one, or closed.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/promote", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")),
    request_body(content = Option<PromoteBody>, description = "optional"),
    responses((status = 201, body = IncidentDto)))]
async fn promote(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    super::incidents::OptionalJson(b): super::incidents::OptionalJson<PromoteBody>,
) -> Result<(StatusCode, Json<IncidentDto>), ApiError> {
    let inc = op::promote(&state, &auth, &id, (b.severity.as_deref(), b.service_id.as_deref()), b.version).await?;
    Ok((StatusCode::CREATED, Json(inc.into())))
}

#[derive(Serialize, ToSchema)]
pub struct CiRefDto {
    pub id: Uuid,
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CisBody {
    /// The configuration items it concerns (at most 50); replaces the list.
    #[schema(max_items = 50)]
    pub ci_ids: Vec<Uuid>,
    pub version: Option<i64>,
}

/// The configuration items a ticket concerns (responders and up).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/cis", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses((status = 200, body = List<CiRefDto>)))]
async fn get_cis(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<CiRefDto>>, ApiError> {
    auth.require(opsdeck_core::role::Permission::Respond)?;
    let t = find(&state, &auth, &id).await?;
    let items = op::cis(&state, &t).await?.into_iter().map(|(id, name)| CiRefDto { id, name }).collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Sets the configuration items a ticket concerns (responders and up); each must exist (422).
#[utoipa::path(put, path = "/api/v1/tickets/{id}/cis", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")), request_body = CisBody,
    responses((status = 200, body = List<CiRefDto>)))]
async fn put_cis(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CisBody>,
) -> Result<Json<List<CiRefDto>>, ApiError> {
    let v = op::set_cis(&state, &auth, &id, &b.ci_ids, b.version).await?;
    let items = op::cis(&state, &v.ticket).await?.into_iter().map(|(id, name)| CiRefDto { id, name }).collect();
    Ok(Json(List { items, next_cursor: None }))
}
