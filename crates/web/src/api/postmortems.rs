//! Postmortems of incidents, with their action items; as JSON and as Markdown.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, double_option};
use crate::operations::incidents::{self as op, ActionItemPatch, Postmortem, find_incident};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsdeck_core::Entity;
use opsdeck_core::incident::{self, ActionItemSpec, PostmortemSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::incident::{ActionItem, Incident};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_postmortem, save_postmortem))
        .routes(routes!(postmortem_markdown))
        .routes(routes!(list_incident_actions, create_action_item))
        .routes(routes!(list_action_items))
        .routes(routes!(update_action_item, delete_action_item))
}

#[derive(Serialize, ToSchema)]
pub struct ActionItemDto {
    pub id: Uuid,
    pub incident_id: Uuid,
    pub incident_number: String,
    pub title: String,
    pub owner_id: Option<Uuid>,
    pub owner: Option<String>,
    /// YYYY-MM-DD.
    pub due_date: Option<String>,
    /// open, in_progress or done.
    pub status: String,
    pub overdue: bool,
}

impl ActionItemDto {
    pub fn new(a: ActionItem, today: chrono::NaiveDate) -> Self {
        ActionItemDto {
            overdue: a.status != incident::ActionStatus::Done && a.due_date.is_some_and(|d| d < today),
            id: a.id,
            incident_id: a.incident_id,
            incident_number: incident::display_number(a.incident_number),
            title: a.title,
            owner_id: a.owner_id,
            owner: a.owner,
            due_date: a.due_date.map(|d| d.to_string()),
            status: a.status.as_str().into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PostmortemDto {
    pub incident_id: Uuid,
    /// False while it is only the pre-filled template.
    pub saved: bool,
    pub summary: String,
    pub impact: String,
    pub root_cause: String,
    pub contributing_factors: String,
    /// Pre-filled from the incident's timeline.
    pub timeline: String,
    pub lessons: String,
    pub author: Option<String>,
    pub updated_at: Option<String>,
    pub action_items: Vec<ActionItemDto>,
}

impl PostmortemDto {
    pub fn new(incident_id: Uuid, p: Postmortem, today: chrono::NaiveDate) -> Self {
        PostmortemDto {
            incident_id,
            saved: p.saved,
            summary: p.spec.summary,
            impact: p.spec.impact,
            root_cause: p.spec.root_cause,
            contributing_factors: p.spec.contributing_factors,
            timeline: p.spec.timeline,
            lessons: p.spec.lessons,
            author: p.author,
            updated_at: p.updated_at.map(ts),
            action_items: p.action_items.into_iter().map(|a| ActionItemDto::new(a, today)).collect(),
        }
    }
}

/// The postmortem (or its template) of `inc`, as the API shows it.
async fn postmortem_dto(state: &AppState, inc: &Incident) -> Result<PostmortemDto, ApiError> {
    let today = state.now().date_naive();
    Ok(PostmortemDto::new(inc.id, op::postmortem_of(state, inc).await?, today))
}

/// The postmortem (or its pre-filled template).
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/postmortem",
    tag = "postmortems",
    params(("id" = String, Path)),
    responses((status = 200, body = PostmortemDto))
)]
async fn get_postmortem(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<PostmortemDto>, ApiError> {
    auth.require(Permission::Read)?;
    let inc = find_incident(&state, &id).await?;
    Ok(Json(postmortem_dto(&state, &inc).await?))
}

/// Saves the postmortem of a resolved incident (responder or higher).
#[utoipa::path(
    put,
    path = "/api/v1/incidents/{id}/postmortem",
    tag = "postmortems",
    params(("id" = String, Path)),
    request_body = crate::api::schema::PostmortemSchema,
    responses((status = 200, body = PostmortemDto))
)]
async fn save_postmortem(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<PostmortemSpec>,
) -> Result<Json<PostmortemDto>, ApiError> {
    auth.require(Permission::Respond)?;
    let inc = find_incident(&state, &id).await?;
    op::save_postmortem(&state, &auth, &inc, spec).await?;
    Ok(Json(postmortem_dto(&state, &inc).await?))
}

/// The postmortem as a Markdown document.
pub fn markdown(inc: &Incident, p: &PostmortemDto) -> String {
    let mut md = format!("# Postmortem: {} — {}\n\n", incident::display_number(inc.number), inc.title);
    md.push_str(&format!(
        "- Severity: {}\n- Service: {}\n- Impact start: {}\n- Detected: {}\n",
        inc.severity,
        inc.service_name.as_deref().unwrap_or("—"),
        ts(inc.impact_start_at),
        ts(inc.detected_at)
    ));
    if let Some(a) = inc.acknowledged_at {
        md.push_str(&format!("- Acknowledged: {}\n", ts(a)));
    }
    if let Some(m) = inc.mitigated_at {
        md.push_str(&format!("- Mitigated: {}\n", ts(m)));
    }
    if let Some(r) = inc.resolved_at {
        md.push_str(&format!("- Resolved: {}\n", ts(r)));
    }
    for (title, body) in [
        ("Summary", &p.summary),
        ("Impact", &p.impact),
        ("Root cause", &p.root_cause),
        ("Contributing factors", &p.contributing_factors),
        ("Timeline", &p.timeline),
        ("Lessons learned", &p.lessons),
    ] {
        md.push_str(&format!(
            "\n## {title}\n\n{}\n",
            if body.trim().is_empty() { "_Not written yet._" } else { body.trim() }
        ));
    }
    md.push_str("\n## Action items\n\n");
    if p.action_items.is_empty() {
        md.push_str("_None._\n");
    }
    for a in &p.action_items {
        md.push_str(&format!(
            "- [{}] {} — owner: {}, due: {}, status: {}\n",
            if a.status == "done" { "x" } else { " " },
            a.title,
            a.owner.as_deref().unwrap_or("unassigned"),
            a.due_date.as_deref().unwrap_or("none"),
            a.status
        ));
    }
    md
}

/// The postmortem as Markdown (`text/markdown`).
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/postmortem.md",
    tag = "postmortems",
    params(("id" = String, Path)),
    responses((status = 200, content_type = "text/markdown", body = String))
)]
async fn postmortem_markdown(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth.require(Permission::Read)?;
    let inc = find_incident(&state, &id).await?;
    let p = postmortem_dto(&state, &inc).await?;
    let name = format!("attachment; filename=\"postmortem-{}.md\"", incident::display_number(inc.number));
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, name)],
        markdown(&inc, &p),
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionItemBody {
    #[schema(schema_with = crate::api::schema::title_opt)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
    /// YYYY-MM-DD.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = crate::api::schema::date_opt)]
    pub due_date: Option<Option<String>>,
    /// open, in_progress or done.
    #[schema(schema_with = crate::api::schema::action_status_opt)]
    pub status: Option<String>,
}

/// An incident's action items.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/action-items",
    tag = "postmortems",
    params(("id" = String, Path)),
    responses((status = 200, body = List<ActionItemDto>))
)]
async fn list_incident_actions(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<ActionItemDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let inc = find_incident(&state, &id).await?;
    let today = state.now().date_naive();
    let items = state.db.list_action_items(Some(inc.id), false, 1000).await?;
    Ok(Json(List { items: items.into_iter().map(|a| ActionItemDto::new(a, today)).collect(), next_cursor: None }))
}

/// Adds an action item (responder or higher).
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/action-items",
    tag = "postmortems",
    params(("id" = String, Path)),
    request_body = ActionItemBody,
    responses((status = 201, body = ActionItemDto))
)]
async fn create_action_item(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ActionItemBody>,
) -> Result<(StatusCode, Json<ActionItemDto>), ApiError> {
    auth.require(Permission::Respond)?;
    let inc = find_incident(&state, &id).await?;
    let spec = ActionItemSpec::new(
        b.title.as_deref().unwrap_or(""),
        b.owner_id.flatten(),
        b.due_date.flatten().as_deref(),
        b.status.as_deref(),
    )?;
    let a = op::create_action_item(&state, &auth, &inc, spec).await?;
    Ok((StatusCode::CREATED, Json(ActionItemDto::new(a, state.now().date_naive()))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActionQuery {
    /// Only items not done (default true).
    pub open: Option<bool>,
}

/// Action items across incidents; open ones until they are done.
#[utoipa::path(
    get,
    path = "/api/v1/action-items",
    tag = "postmortems",
    params(ActionQuery),
    responses((status = 200, body = List<ActionItemDto>))
)]
async fn list_action_items(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ActionQuery>,
) -> Result<Json<List<ActionItemDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let today = state.now().date_naive();
    let items = state.db.list_action_items(None, q.open.unwrap_or(true), 500).await?;
    Ok(Json(List { items: items.into_iter().map(|a| ActionItemDto::new(a, today)).collect(), next_cursor: None }))
}

/// Changes an action item.
#[utoipa::path(
    patch,
    path = "/api/v1/action-items/{id}",
    tag = "postmortems",
    params(("id" = Uuid, Path)),
    request_body = ActionItemBody,
    responses((status = 200, body = ActionItemDto))
)]
async fn update_action_item(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ActionItemBody>,
) -> Result<Json<ActionItemDto>, ApiError> {
    auth.require(Permission::Respond)?;
    let id = crate::extract::parse_id(Entity::ActionItem, &id)?;
    let patch = ActionItemPatch { title: b.title, owner_id: b.owner_id, due_date: b.due_date, status: b.status };
    let a = op::update_action_item(&state, &auth, id, patch).await?;
    Ok(Json(ActionItemDto::new(a, state.now().date_naive())))
}

/// Deletes an action item.
#[utoipa::path(
    delete,
    path = "/api/v1/action-items/{id}",
    tag = "postmortems",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_action_item(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Respond)?;
    let id = crate::extract::parse_id(Entity::ActionItem, &id)?;
    op::delete_action_item(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
