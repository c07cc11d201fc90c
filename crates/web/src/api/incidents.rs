//! Incidents, their timeline and actions (postmortems are in `postmortems`, alerts in
//! `alerts`).

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, double_option};
use crate::operations::incidents::{
    self as op, IncidentEditInput, IncidentFilterInput, find_incident, incident_filter, parse_sev, parse_time,
};
use crate::operations::service_ref;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::incident::{self, Move, Sev, Status};
use opsdeck_core::role::Permission;
use opsdeck_store::incident::{Declare, Incident, TimelineItem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents, declare_incident))
        .routes(routes!(incident_counts))
        .routes(routes!(get_incident, edit_incident))
        .routes(routes!(acknowledge))
        .routes(routes!(resolve))
        .routes(routes!(reopen))
        .routes(routes!(escalate))
        .routes(routes!(snooze))
        .routes(routes!(merge))
        .routes(routes!(add_note))
        .routes(routes!(add_responder))
        .routes(routes!(timeline))
}

#[derive(Serialize, ToSchema)]
pub struct IncidentDto {
    pub id: Uuid,
    /// The human reference, e.g. `INC-42`.
    pub number: String,
    /// The number alone (42).
    pub seq: i64,
    pub title: String,
    pub description: String,
    /// triggered, acknowledged or resolved.
    pub status: String,
    /// SEV1 (worst) to SEV4.
    pub severity: String,
    pub service_id: Option<Uuid>,
    pub service_name: Option<String>,
    pub service_ids: Vec<Uuid>,
    /// alert, monitor or manual.
    pub source: String,
    pub assignee_id: Option<Uuid>,
    pub assignee: Option<String>,
    pub commander_id: Option<Uuid>,
    pub commander: Option<String>,
    pub alert_count: i64,
    pub open_alerts: i64,
    pub impact_start_at: String,
    pub detected_at: String,
    pub acknowledged_at: Option<String>,
    pub mitigated_at: Option<String>,
    pub resolved_at: Option<String>,
    pub snoozed_until: Option<String>,
    pub merged_into: Option<Uuid>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Incident> for IncidentDto {
    fn from(i: Incident) -> Self {
        IncidentDto {
            id: i.id,
            number: incident::display_number(i.number),
            seq: i.number,
            title: i.title,
            description: i.description,
            status: i.status.as_str().into(),
            severity: i.severity.as_str().into(),
            service_id: i.service_id,
            service_name: i.service_name,
            service_ids: i.service_ids,
            source: i.source,
            assignee_id: i.assignee_id,
            assignee: i.assignee,
            commander_id: i.commander_id,
            commander: i.commander,
            alert_count: i.alert_count,
            open_alerts: i.open_alerts,
            impact_start_at: ts(i.impact_start_at),
            detected_at: ts(i.detected_at),
            acknowledged_at: i.acknowledged_at.map(ts),
            mitigated_at: i.mitigated_at.map(ts),
            resolved_at: i.resolved_at.map(ts),
            snoozed_until: i.snoozed_until.map(ts),
            merged_into: i.merged_into,
            created_at: ts(i.created_at),
            updated_at: ts(i.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TimelineDto {
    pub id: Uuid,
    pub at: String,
    /// created, alerts_joined, alert_resolved, status, note, status_update, severity,
    /// assigned, merged, snoozed, escalated, change, edited.
    pub kind: String,
    pub actor: String,
    pub body: String,
}

impl From<TimelineItem> for TimelineDto {
    fn from(t: TimelineItem) -> Self {
        TimelineDto { id: t.id, at: ts(t.at), kind: t.kind, actor: t.actor, body: t.body }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// triggered, acknowledged or resolved.
    #[param(schema_with = crate::api::schema::incident_status_opt)]
    pub status: Option<String>,
    /// Only triggered and acknowledged.
    pub open: Option<bool>,
    /// A service id or slug.
    pub service_id: Option<String>,
    /// SEV1..SEV4.
    #[param(schema_with = crate::api::schema::severity_opt)]
    pub severity: Option<String>,
    /// Text in the title, or an incident number.
    pub q: Option<String>,
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
}

impl IncidentQuery {
    fn filter_input(&self) -> IncidentFilterInput {
        IncidentFilterInput {
            status: self.status.clone(),
            open: self.open,
            severity: self.severity.clone(),
            q: self.q.clone(),
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
}

/// Incidents, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    tag = "incidents",
    params(IncidentQuery),
    responses((status = 200, body = List<IncidentDto>))
)]
async fn list_incidents(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> Result<Json<List<IncidentDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let service_id = service_ref(&state, q.service_id.as_deref(), "service_id").await?;
    let page = state.db.list_incidents(&incident_filter(&q.filter_input(), service_id)?).await?;
    Ok(Json(List::from_page(page, IncidentDto::from)))
}

#[derive(Serialize, ToSchema)]
pub struct CountsDto {
    pub triggered: i64,
    pub acknowledged: i64,
    pub resolved: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountsQuery {
    pub service_id: Option<String>,
}

/// Incidents per status.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/counts",
    tag = "incidents",
    params(CountsQuery),
    responses((status = 200, body = CountsDto))
)]
async fn incident_counts(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<CountsQuery>,
) -> Result<Json<CountsDto>, ApiError> {
    auth.require(Permission::Read)?;
    let service_id = service_ref(&state, q.service_id.as_deref(), "service_id").await?;
    let c = state.db.incident_counts(service_id).await?;
    let get = |s| c.get(&s).copied().unwrap_or(0);
    Ok(Json(CountsDto {
        triggered: get(Status::Triggered),
        acknowledged: get(Status::Acknowledged),
        resolved: get(Status::Resolved),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareBody {
    #[schema(schema_with = crate::api::schema::title)]
    pub title: String,
    /// A service id or slug.
    #[schema(min_length = 1, max_length = 120)]
    pub service_id: String,
    /// SEV1..SEV4 (default SEV3).
    #[schema(schema_with = crate::api::schema::severity_opt)]
    pub severity: Option<String>,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    /// RFC 3339; defaults to now.
    #[schema(schema_with = crate::api::schema::date_time_opt)]
    pub impact_start_at: Option<String>,
}

/// Declares an incident by hand (responder or higher).
#[utoipa::path(
    post,
    path = "/api/v1/incidents",
    tag = "incidents",
    request_body = DeclareBody,
    responses((status = 201, body = IncidentDto))
)]
async fn declare_incident(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<DeclareBody>,
) -> Result<(StatusCode, Json<IncidentDto>), ApiError> {
    auth.require(Permission::Respond)?;
    let title = incident::title(&b.title)?;
    let service_id = service_ref(&state, Some(&b.service_id), "service_id")
        .await?
        .ok_or_else(|| ApiError::invalid("service_id", "name the affected service"))?;
    let severity = b.severity.as_deref().map(parse_sev).transpose()?.unwrap_or(Sev::Sev3);
    let description = opsdeck_core::validate::description("description", b.description.as_deref().unwrap_or(""))?;
    let impact_start_at = b.impact_start_at.as_deref().map(|s| parse_time("impact_start_at", s)).transpose()?;
    let inc = op::declare_incident(
        &state,
        &auth,
        Declare { title, description, service_id, severity, impact_start_at, from_ticket: None },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(inc.into())))
}

/// One incident, by id or reference (`INC-42`).
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    tag = "incidents",
    params(("id" = String, Path)),
    responses((status = 200, body = IncidentDto))
)]
async fn get_incident(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<IncidentDto>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(find_incident(&state, &id).await?.into()))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    #[schema(schema_with = crate::api::schema::title_opt)]
    pub title: Option<String>,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    #[schema(schema_with = crate::api::schema::severity_opt)]
    pub severity: Option<String>,
    #[schema(schema_with = crate::api::schema::date_time_opt)]
    pub impact_start_at: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = crate::api::schema::date_time_opt)]
    pub mitigated_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub commander_id: Option<Option<Uuid>>,
}

impl From<EditBody> for IncidentEditInput {
    fn from(b: EditBody) -> Self {
        IncidentEditInput {
            title: b.title,
            description: b.description,
            severity: b.severity,
            impact_start_at: b.impact_start_at,
            mitigated_at: b.mitigated_at,
            assignee_id: b.assignee_id,
            commander_id: b.commander_id,
        }
    }
}

/// Changes title, description, severity, impact start, mitigation time, assignee or
/// commander (responder or higher).
#[utoipa::path(
    patch,
    path = "/api/v1/incidents/{id}",
    tag = "incidents",
    params(("id" = String, Path)),
    request_body = EditBody,
    responses((status = 200, body = IncidentDto))
)]
async fn edit_incident(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<EditBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    auth.require(Permission::Respond)?;
    let inc = find_incident(&state, &id).await?;
    let edit = IncidentEditInput::from(b).into_edit()?;
    Ok(Json(op::edit_incident(&state, &auth, &inc, edit).await?.into()))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// Optional note for the timeline.
    #[schema(schema_with = crate::api::schema::note_opt)]
    pub note: Option<String>,
}

/// An optional JSON body: an empty body or `null` counts as `{}`.
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Default> axum::extract::FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::new(crate::error::ErrorCode::PayloadTooLarge, "the request body is too large"))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        Ok(OptionalJson(crate::extract::json_object(&bytes, true)?.unwrap_or_default()))
    }
}

async fn move_to(state: &AppState, auth: &Auth, id: &str, m: Move, note: Option<&str>) -> Result<Incident, ApiError> {
    auth.require(Permission::Respond)?;
    let inc = find_incident(state, id).await?;
    op::move_incident(state, auth, &inc, m, note).await
}

/// Acknowledges an incident and its alerts.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/acknowledge",
    tag = "incidents",
    params(("id" = String, Path)),
    request_body(content = Option<MoveBody>, description = "optional"),
    responses((status = 200, body = IncidentDto))
)]
async fn acknowledge(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<MoveBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    Ok(Json(move_to(&state, &auth, &id, Move::Acknowledge, b.note.as_deref()).await?.into()))
}

/// Resolves an incident and its alerts.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/resolve",
    tag = "incidents",
    params(("id" = String, Path)),
    request_body(content = Option<MoveBody>, description = "optional"),
    responses((status = 200, body = IncidentDto))
)]
async fn resolve(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<MoveBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    Ok(Json(move_to(&state, &auth, &id, Move::Resolve, b.note.as_deref()).await?.into()))
}

/// Reopens a resolved incident.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/reopen",
    tag = "incidents",
    params(("id" = String, Path)),
    request_body(content = Option<MoveBody>, description = "optional"),
    responses((status = 200, body = IncidentDto))
)]
async fn reopen(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<MoveBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    Ok(Json(move_to(&state, &auth, &id, Move::Reopen, b.note.as_deref()).await?.into()))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EscalateBody {
    #[schema(schema_with = crate::api::schema::note_opt)]
    pub reason: Option<String>,
}

/// Escalates: back to triggered so the next responders are paged.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/escalate",
    tag = "incidents",
    params(("id" = String, Path)),
    request_body(content = Option<EscalateBody>, description = "optional"),
    responses((status = 200, body = IncidentDto))
)]
async fn escalate(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<EscalateBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    auth.require(Permission::Respond)?;
    let inc = find_incident(&state, &id).await?;
    Ok(Json(op::escalate_incident(&state, &auth, &inc, b.reason.as_deref()).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeBody {
    /// 1 to 10080 (a week).
    #[schema(minimum = 1, maximum = 10080)]
    pub minutes: i64,
}

/// Snoozes: acknowledged until the time is up, then triggered again.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/snooze",
    tag = "incidents",
    params(("id" = String, Path)),
    request_body = SnoozeBody,
    responses((status = 200, body = IncidentDto))
)]
async fn snooze(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SnoozeBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    auth.require(Permission::Respond)?;
    op::snooze_for(b.minutes)?;
    let inc = find_incident(&state, &id).await?;
    Ok(Json(op::snooze_incident(&state, &auth, &inc, b.minutes).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The incident to merge into this one (id or `INC-…`).
    pub source_id: String,
}

/// Merges another incident into this one.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/merge",
    tag = "incidents",
    params(("id" = String, Path)),
    request_body = MergeBody,
    responses((status = 200, body = IncidentDto))
)]
async fn merge(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MergeBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    auth.require(Permission::Respond)?;
    let target = find_incident(&state, &id).await?;
    let source = find_incident(&state, &b.source_id)
        .await
        .map_err(|_| ApiError::invalid("source_id", format!("no incident {:?}", b.source_id)))?;
    Ok(Json(op::merge_incidents(&state, &auth, &target, &source).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    #[schema(schema_with = crate::api::schema::note)]
    pub body: String,
    /// `note` (internal, default) or `status_update` (for stakeholders).
    #[schema(schema_with = crate::api::schema::note_kind_opt)]
    pub kind: Option<String>,
}

/// Adds a note or a status update to the timeline.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/notes",
    tag = "incidents",
    params(("id" = String, Path)),
    request_body = NoteBody,
    responses((status = 201, body = TimelineDto))
)]
async fn add_note(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NoteBody>,
) -> Result<(StatusCode, Json<TimelineDto>), ApiError> {
    auth.require(Permission::Respond)?;
    let status_update = match b.kind.as_deref() {
        None | Some("note") => false,
        Some("status_update") => true,
        Some(_) => return Err(ApiError::invalid("kind", "must be note or status_update")),
    };
    let body = incident::note(&b.body)?;
    let inc = find_incident(&state, &id).await?;
    let t = op::add_note(&state, &auth, &inc, status_update, &body).await?;
    Ok((StatusCode::CREATED, Json(t.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponderBody {
    pub user_id: Uuid,
}

/// Adds a responder.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/responders",
    tag = "incidents",
    params(("id" = String, Path)),
    request_body = ResponderBody,
    responses((status = 204))
)]
async fn add_responder(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ResponderBody>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Respond)?;
    let inc = find_incident(&state, &id).await?;
    op::add_responder(&state, &auth, &inc, b.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything that happened, oldest first, with changes on the affected services.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/timeline",
    tag = "incidents",
    params(("id" = String, Path)),
    responses((status = 200, body = List<TimelineDto>))
)]
async fn timeline(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<TimelineDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let inc = find_incident(&state, &id).await?;
    let items = state.db.incident_timeline(&inc, state.now()).await?;
    Ok(Json(List { items: items.into_iter().map(TimelineDto::from).collect(), next_cursor: None }))
}
