//! The request catalogue (`/api/v1/request-items`), raising a request from an item, and what
//! follows on the ticket: approval, fulfilment tasks and the requester's rating.

use super::List;
use super::incidents::OptionalJson;
use super::tickets::{TicketDto, dto};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::operations::requests as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::desk::request_item::{Field, FieldKind, ItemInput, ItemSpec};
use opsdeck_store::desk::requests::RequestItem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_items, create_item))
        .routes(routes!(get_item, put_item))
        .routes(routes!(raise_request))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(set_task))
        .routes(routes!(rate))
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct FieldDto {
    /// How answers name the field: a lowercase letter, then letters, digits and `_`; unique.
    #[schema(schema_with = crate::api::ticket_schema::field_key)]
    pub key: String,
    #[schema(schema_with = crate::api::ticket_schema::item_label)]
    pub label: String,
    /// text, textarea, number, select, checkbox, email or date.
    #[schema(schema_with = crate::api::ticket_schema::field_kind)]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    /// The choices of a select (1 to 50, each listed once); other kinds have none.
    #[serde(default)]
    #[schema(schema_with = crate::api::ticket_schema::field_options)]
    pub options: Vec<String>,
    #[serde(default)]
    #[schema(schema_with = crate::api::ticket_schema::field_help_opt)]
    pub help: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestItemDto {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub fields: Vec<FieldDto>,
    /// Who approves each request before work starts (any admin may too); null: no approval.
    pub approver_id: Option<Uuid>,
    /// The fulfilment tasks each request gets.
    pub tasks: Vec<String>,
    pub impact: u8,
    pub urgency: u8,
    /// Offered on the portal.
    pub active: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn field_dto(f: Field) -> FieldDto {
    FieldDto {
        key: f.key,
        label: f.label,
        kind: f.kind.as_str().into(),
        required: f.required,
        options: f.options,
        help: Some(f.help),
    }
}

fn item_dto(i: RequestItem) -> RequestItemDto {
    RequestItemDto {
        id: i.id,
        slug: i.slug,
        title: i.title,
        description: i.description,
        category: i.category,
        fields: i.fields.into_iter().map(field_dto).collect(),
        approver_id: i.approver_id,
        tasks: i.tasks,
        impact: i.impact,
        urgency: i.urgency,
        active: i.active,
        version: i.version,
        created_at: super::ts(i.created_at),
        updated_at: super::ts(i.updated_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestItemBody {
    /// Derived from the title when left out.
    #[schema(schema_with = crate::api::schema::slug_opt)]
    pub slug: Option<String>,
    #[schema(schema_with = crate::api::schema::name)]
    pub title: String,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    /// Groups items on the portal; default "General".
    #[schema(schema_with = crate::api::schema::name_or_blank_opt)]
    pub category: Option<String>,
    /// The form, in order (at most 30 fields).
    #[serde(default)]
    #[schema(max_items = 30)]
    pub fields: Vec<FieldDto>,
    /// An active user who approves each request; none: no approval.
    pub approver_id: Option<Uuid>,
    /// Fulfilment tasks each request gets (at most 20, each 1 to 200 characters).
    #[serde(default)]
    #[schema(schema_with = crate::api::ticket_schema::item_tasks)]
    pub tasks: Vec<String>,
    /// 1 to 4; default 3.
    #[schema(minimum = 1, maximum = 4)]
    pub impact: Option<i64>,
    /// 1 to 4; default 3.
    #[schema(minimum = 1, maximum = 4)]
    pub urgency: Option<i64>,
    /// Offered on the portal; default true.
    pub active: Option<bool>,
    /// For PUT: the version you loaded; an older one is refused (409).
    pub version: Option<i64>,
}

fn spec(b: &RequestItemBody) -> Result<ItemSpec, ApiError> {
    let mut fields = Vec::with_capacity(b.fields.len());
    for f in &b.fields {
        let kind = FieldKind::parse(&f.kind)
            .ok_or_else(|| ApiError::invalid("fields", format!("kind must be {}", FieldKind::choices())))?;
        fields.push(Field {
            key: f.key.clone(),
            label: f.label.clone(),
            kind,
            required: f.required,
            options: f.options.clone(),
            help: f.help.clone().unwrap_or_default(),
        });
    }
    Ok(ItemSpec::new(&ItemInput {
        slug: b.slug.clone(),
        title: b.title.clone(),
        description: b.description.clone(),
        category: b.category.clone(),
        fields,
        approver_id: b.approver_id,
        tasks: b.tasks.clone(),
        impact: b.impact,
        urgency: b.urgency,
        active: b.active,
    })?)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemQuery {
    /// Also the inactive items (managers).
    pub all: Option<bool>,
}

/// The items the portal offers, by category and title (anyone signed in).
#[utoipa::path(get, path = "/api/v1/request-items", tag = "tickets", params(ItemQuery),
    responses((status = 200, body = List<RequestItemDto>)))]
async fn list_items(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ItemQuery>,
) -> Result<Json<List<RequestItemDto>>, ApiError> {
    let items = op::items(&state, &auth, q.all.unwrap_or(false)).await?;
    Ok(Json(List { items: items.into_iter().map(item_dto).collect(), next_cursor: None }))
}

/// Adds a request item (managers and up). 409 when the slug is taken.
#[utoipa::path(post, path = "/api/v1/request-items", tag = "tickets", request_body = RequestItemBody,
    responses((status = 201, body = RequestItemDto)))]
async fn create_item(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<RequestItemBody>,
) -> Result<(StatusCode, Json<RequestItemDto>), ApiError> {
    let s = spec(&b)?;
    Ok((StatusCode::CREATED, Json(item_dto(op::create_item(&state, &auth, &s).await?))))
}

/// A request item by id or slug (an inactive one for managers only).
#[utoipa::path(get, path = "/api/v1/request-items/{id}", tag = "tickets",
    params(("id" = String, Path, description = "The item's id or slug")),
    responses((status = 200, body = RequestItemDto)))]
async fn get_item(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<RequestItemDto>, ApiError> {
    Ok(Json(item_dto(op::item(&state, &auth, &id).await?)))
}

/// Replaces a request item (managers and up). Requests already raised keep the form they were
/// answered on.
#[utoipa::path(put, path = "/api/v1/request-items/{id}", tag = "tickets",
    params(("id" = String, Path, description = "The item's id or slug")), request_body = RequestItemBody,
    responses((status = 200, body = RequestItemDto)))]
async fn put_item(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RequestItemBody>,
) -> Result<Json<RequestItemDto>, ApiError> {
    let s = spec(&b)?;
    Ok(Json(item_dto(op::update_item(&state, &auth, &id, &s, b.version).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaiseBody {
    /// Field key → answer (text, number or true/false), as the item's form asks.
    #[serde(default)]
    #[schema(schema_with = crate::api::ticket_schema::request_answers_opt)]
    pub answers: Option<BTreeMap<String, serde_json::Value>>,
    /// Raise it for someone else (their address); default: for yourself.
    #[schema(schema_with = crate::api::schema::email_opt)]
    pub requester_email: Option<String>,
}

/// Raises a request (REQ-n) from an item (anyone signed in). Every wrong answer is named in
/// `details.fields` (`answers.<key>`). An item with an approver leaves the request pending,
/// its resolution clock paused, until the approver decides.
#[utoipa::path(post, path = "/api/v1/request-items/{id}/requests", tag = "tickets",
    params(("id" = String, Path, description = "The item's id or slug")), request_body = RaiseBody,
    responses((status = 201, body = TicketDto)))]
async fn raise_request(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RaiseBody>,
) -> Result<(StatusCode, Json<TicketDto>), ApiError> {
    let answers = opsdeck_core::desk::request_item::texts(&b.answers.unwrap_or_default());
    let v = op::raise(&state, &auth, &id, &answers, b.requester_email).await?;
    Ok((StatusCode::CREATED, Json(dto(v))))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// Shown to the requester with the decision.
    #[schema(schema_with = crate::api::ticket_schema::comment_opt)]
    pub comment: Option<String>,
    pub version: Option<i64>,
}

/// Approves a request awaiting approval (its approver, or an admin): it goes back to New and its
/// resolution clock runs again. 409 when it is not awaiting approval.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/approve", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")),
    request_body(content = Option<ApproveBody>, description = "optional"),
    responses((status = 200, body = TicketDto)))]
async fn approve(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<ApproveBody>,
) -> Result<Json<TicketDto>, ApiError> {
    Ok(Json(dto(op::decide(&state, &auth, &id, true, b.comment.as_deref(), b.version).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Why: the requester reads it.
    #[schema(schema_with = crate::api::ticket_schema::comment)]
    pub comment: String,
    pub version: Option<i64>,
}

/// Rejects a request awaiting approval (its approver, or an admin): it is resolved with the
/// reason as a reply to the requester.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/reject", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")), request_body = RejectBody,
    responses((status = 200, body = TicketDto)))]
async fn reject(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RejectBody>,
) -> Result<Json<TicketDto>, ApiError> {
    Ok(Json(dto(op::decide(&state, &auth, &id, false, Some(&b.comment), b.version).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    pub done: bool,
    pub version: Option<i64>,
}

/// Ticks off (or reopens) a request's fulfilment task (agents). A request is resolved only once
/// every task is done.
#[utoipa::path(put, path = "/api/v1/tickets/{id}/tasks/{index}", tag = "tickets",
    params(
        ("id" = String, Path, description = "The ticket's id or number"),
        ("index" = String, Path, description = "The task's position, from 0", pattern = "^[0-9]{1,2}$"),
    ),
    request_body = TaskBody, responses((status = 200, body = TicketDto)))]
async fn set_task(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, index)): Path<(String, String)>,
    ApiJson(b): ApiJson<TaskBody>,
) -> Result<Json<TicketDto>, ApiError> {
    let index: usize = index.parse().map_err(|_| ApiError::invalid("index", "must be a task's position, from 0"))?;
    Ok(Json(dto(op::set_task(&state, &auth, &id, index, b.done, b.version).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingBody {
    /// 1 (poor) to 5 (excellent).
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    #[schema(schema_with = crate::api::ticket_schema::comment_opt)]
    pub comment: Option<String>,
}

/// The requester rates a resolved ticket (1–5, with an optional comment); rating again replaces
/// it. 409 for anyone but the requester, or before it is resolved.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/rating", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")), request_body = RatingBody,
    responses((status = 200, body = TicketDto)))]
async fn rate(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RatingBody>,
) -> Result<Json<TicketDto>, ApiError> {
    Ok(Json(dto(op::rate(&state, &auth, &id, b.rating, b.comment.as_deref()).await?)))
}
