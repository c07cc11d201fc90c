//! Status page subscribers: managers add them (e-mail ones still confirm by e-mail unless told
//! otherwise); admins list, export and remove them (the list holds people's addresses).

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::operations::status_subscribers as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdeck_core::Entity;
use opsdeck_core::status_subscriber::SubscriberSpec;
use opsdeck_store::status_subscriber::{Subscribed, Subscriber};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_subscribers, add_subscriber))
        .routes(routes!(remove_subscriber))
        .routes(routes!(export_subscribers))
}

#[derive(Serialize, ToSchema)]
pub struct SubscriberDto {
    pub id: Uuid,
    /// `email`, `webhook` or `slack`.
    pub kind: String,
    /// The e-mail address, or the URL's scheme and host only (the rest is the webhook's secret).
    pub address: String,
    /// Components followed; empty: the whole page.
    pub component_ids: Vec<Uuid>,
    /// Null until the address owner confirms (e-mail double opt-in).
    pub confirmed_at: Option<String>,
    pub created_at: String,
}

impl From<Subscriber> for SubscriberDto {
    fn from(s: Subscriber) -> Self {
        SubscriberDto {
            id: s.id,
            kind: s.kind.as_str().to_owned(),
            address: s.address,
            component_ids: s.component_ids,
            confirmed_at: s.confirmed_at.map(ts),
            created_at: ts(s.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriberBody {
    /// Exactly one of `email`, `webhook_url` and `slack_url`.
    #[schema(schema_with = crate::api::schema::email_opt)]
    pub email: Option<String>,
    /// Receives statuspage.io's webhook payload (JSON `meta`, `page`, `incident`).
    #[schema(schema_with = crate::api::schema::url_opt)]
    pub webhook_url: Option<String>,
    /// A Slack-compatible incoming webhook (`{"text": …}`).
    #[schema(schema_with = crate::api::schema::url_opt)]
    pub slack_url: Option<String>,
    /// Components to follow (of this page); left out or empty, the whole page.
    #[schema(max_items = 200)]
    pub component_ids: Option<Vec<Uuid>>,
    /// E-mail only: subscribe without the confirmation message (the address owner agreed
    /// elsewhere). Webhook and Slack subscribers never need confirming.
    pub skip_confirmation: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SubscriberQuery {
    /// Subscribers after this id (the previous page's `next_cursor`).
    pub cursor: Option<Uuid>,
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

async fn page_of(state: &AppState, id: &str) -> Result<opsdeck_store::status_page::StatusPage, ApiError> {
    Ok(state.db.get_status_page(parse_id(Entity::StatusPage, id)?).await?)
}

/// Subscribers of a page in the order they came (admins).
#[utoipa::path(
    get,
    path = "/api/v1/status-pages/{id}/subscribers",
    tag = "status pages",
    params(("id" = Uuid, Path), SubscriberQuery),
    responses((status = 200, body = List<SubscriberDto>))
)]
async fn list_subscribers(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SubscriberQuery>,
) -> Result<Json<List<SubscriberDto>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let page = page_of(&state, &id).await?;
    let items = op::list(&state, &auth, &page, q.cursor, limit).await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|s| s.id.to_string())).flatten();
    Ok(Json(List { items: items.into_iter().map(Into::into).collect(), next_cursor }))
}

/// Subscribes an address or a webhook to a page (managers). An e-mail subscriber gets a
/// confirmation message and hears nothing until it confirms; an address already subscribed is
/// answered 200 with its subscription (unconfirmed ones take the new components and are asked
/// again).
#[utoipa::path(
    post,
    path = "/api/v1/status-pages/{id}/subscribers",
    tag = "status pages",
    params(("id" = Uuid, Path)),
    request_body = SubscriberBody,
    responses((status = 201, body = SubscriberDto), (status = 200, body = SubscriberDto))
)]
async fn add_subscriber(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubscriberBody>,
) -> Result<(StatusCode, Json<SubscriberDto>), ApiError> {
    auth.require(opsdeck_core::role::Permission::Configure)?;
    let page = page_of(&state, &id).await?;
    let spec = SubscriberSpec::new(
        body.email.as_deref(),
        body.webhook_url.as_deref(),
        body.slack_url.as_deref(),
        body.component_ids.as_deref().unwrap_or_default(),
    )?;
    let (s, outcome) = op::add(&state, &auth, &page, spec, body.skip_confirmation.unwrap_or(false)).await?;
    let status = if outcome == Subscribed::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(s.into())))
}

/// Removes a subscriber (admins).
#[utoipa::path(
    delete,
    path = "/api/v1/status-pages/{id}/subscribers/{subscriber_id}",
    tag = "status pages",
    params(("id" = Uuid, Path), ("subscriber_id" = Uuid, Path)),
    responses((status = 204))
)]
async fn remove_subscriber(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, subscriber_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let page = page_of(&state, &id).await?;
    let sid = parse_id(Entity::StatusSubscriber, &subscriber_id)?;
    op::remove(&state, &auth, &page, sid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every subscriber of a page as CSV (admins): id, kind, address, components, confirmed_at,
/// created_at.
#[utoipa::path(
    get,
    path = "/api/v1/status-pages/{id}/subscribers/export",
    tag = "status pages",
    params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "text/csv", body = String))
)]
async fn export_subscribers(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let page = page_of(&state, &id).await?;
    let csv = op::export_csv(&state, &auth, &page).await?;
    let name = format!("attachment; filename=\"subscribers-{}.csv\"", page.slug);
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, name)], csv)
        .into_response())
}
