//! Incidents, their timeline and actions, alerts, postmortems with action items, and the MTTx
//! report.

use super::{List, cursor, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, double_option};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::Entity;
use opsdeck_core::alert::AlertStatus;
use opsdeck_core::incident::{self, ActionItemSpec, Move, PostmortemSpec, Sev, Status};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::incident::{
    ActionItem, Alert, AlertFilter, Declare, Incident, IncidentEdit, IncidentFilter, TimelineItem,
};
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
        .routes(routes!(get_postmortem, save_postmortem))
        .routes(routes!(postmortem_markdown))
        .routes(routes!(list_incident_actions, create_action_item))
        .routes(routes!(list_action_items))
        .routes(routes!(update_action_item, delete_action_item))
        .routes(routes!(list_alerts))
        .routes(routes!(get_alert))
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
pub struct AlertDto {
    pub id: Uuid,
    pub dedup_key: String,
    /// firing, acknowledged or resolved.
    pub status: String,
    pub count: i64,
    pub incident_id: Option<Uuid>,
    pub service_id: Option<Uuid>,
    pub integration_id: Option<Uuid>,
    /// pagerduty, alertmanager, prometheus, grafana, webhook or monitor.
    pub source_type: String,
    pub source: String,
    /// critical, error, warning or info.
    pub severity: String,
    pub summary: String,
    pub group_key: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub links: serde_json::Value,
    #[schema(value_type = Object)]
    pub labels: serde_json::Value,
    pub first_seen: String,
    pub last_seen: String,
    pub started_at: Option<String>,
    pub acknowledged_at: Option<String>,
    pub resolved_at: Option<String>,
    pub expires_at: Option<String>,
}

impl From<Alert> for AlertDto {
    fn from(a: Alert) -> Self {
        AlertDto {
            id: a.id,
            dedup_key: a.dedup_key,
            status: a.status.as_str().into(),
            count: a.count,
            incident_id: a.incident_id,
            service_id: a.service_id,
            integration_id: a.integration_id,
            source_type: a.source_type,
            source: a.source,
            severity: a.severity.as_str().into(),
            summary: a.summary,
            group_key: a.group_key,
            details: a.details,
            links: serde_json::to_value(&a.links).unwrap_or_default(),
            labels: serde_json::to_value(&a.labels).unwrap_or_default(),
            first_seen: ts(a.first_seen),
            last_seen: ts(a.last_seen),
            started_at: a.started_at.map(ts),
            acknowledged_at: a.acknowledged_at.map(ts),
            resolved_at: a.resolved_at.map(ts),
            expires_at: a.expires_at.map(ts),
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

/// `{id}` in incident URLs: a UUID or a reference such as `INC-42`.
pub async fn find_incident(state: &AppState, raw: &str) -> Result<Incident, ApiError> {
    if let Ok(id) = raw.parse::<Uuid>() {
        return Ok(state.db.get_incident(id).await?);
    }
    match incident::parse_number(raw) {
        Some(n) => Ok(state.db.get_incident_by_number(n).await?),
        None => Err(ApiError::not_found(Entity::Incident)),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// triggered, acknowledged or resolved.
    pub status: Option<String>,
    /// Only triggered and acknowledged.
    pub open: Option<bool>,
    /// A service id or slug.
    pub service_id: Option<String>,
    /// SEV1..SEV4.
    pub severity: Option<String>,
    /// Text in the title, or an incident number.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn service_ref(state: &AppState, raw: Option<&str>, field: &str) -> Result<Option<Uuid>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(r) => match state.db.get_service(Ref::parse(r)).await {
            Ok(s) => Ok(Some(s.service.id)),
            Err(opsdeck_store::StoreError::NotFound(_)) => Err(ApiError::invalid(field, format!("no service {r:?}"))),
            Err(e) => Err(e.into()),
        },
    }
}

pub fn incident_filter(q: &IncidentQuery, service_id: Option<Uuid>) -> Result<IncidentFilter, ApiError> {
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            Status::parse(s).ok_or_else(|| ApiError::bad_request("status: use triggered, acknowledged or resolved"))
        })
        .transpose()?;
    let severity = q
        .severity
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| Sev::parse(s).ok_or_else(|| ApiError::bad_request("severity: use SEV1, SEV2, SEV3 or SEV4")))
        .transpose()?;
    Ok(IncidentFilter {
        status,
        open: q.open.unwrap_or(false),
        service_id,
        severity,
        q: q.q.clone(),
        cursor: cursor(q.cursor.as_deref())?,
        limit: q.limit,
    })
}

/// Incidents, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentQuery),
    responses((status = 200, body = List<IncidentDto>)))]
async fn list_incidents(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> Result<Json<List<IncidentDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let service_id = service_ref(&state, q.service_id.as_deref(), "service_id").await?;
    let page = state.db.list_incidents(&incident_filter(&q, service_id)?).await?;
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
#[utoipa::path(get, path = "/api/v1/incidents/counts", tag = "incidents", params(CountsQuery),
    responses((status = 200, body = CountsDto)))]
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
    pub title: String,
    /// A service id or slug.
    pub service_id: String,
    /// SEV1..SEV4 (default SEV3).
    pub severity: Option<String>,
    pub description: Option<String>,
    /// RFC 3339; defaults to now.
    pub impact_start_at: Option<String>,
}

fn parse_time(field: &str, s: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::invalid(field, "must be an RFC 3339 time such as 2026-11-22T14:05:00Z"))
}

fn parse_sev(s: &str) -> Result<Sev, ApiError> {
    Sev::parse(s).ok_or_else(|| ApiError::invalid("severity", "must be SEV1, SEV2, SEV3 or SEV4"))
}

/// Declares an incident by hand (responder or higher).
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = DeclareBody,
    responses((status = 201, body = IncidentDto), (status = 422, body = super::ErrorBody)))]
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
    let inc = state
        .db
        .declare_incident(
            &auth.actor(),
            state.now(),
            Declare { title, description, service_id, severity, impact_start_at },
        )
        .await?;
    state.events.publish(
        "incident.opened",
        Some(inc.id),
        format!("{} declared: {}", incident::display_number(inc.number), inc.title),
    );
    Ok((StatusCode::CREATED, Json(inc.into())))
}

/// One incident, by id or reference (`INC-42`).
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = String, Path)),
    responses((status = 200, body = IncidentDto), (status = 404, body = super::ErrorBody)))]
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
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<String>,
    pub impact_start_at: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub mitigated_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub commander_id: Option<Option<Uuid>>,
}

impl EditBody {
    pub fn into_edit(self) -> Result<IncidentEdit, ApiError> {
        Ok(IncidentEdit {
            title: self.title.as_deref().map(incident::title).transpose()?,
            description: self
                .description
                .as_deref()
                .map(|d| opsdeck_core::validate::description("description", d))
                .transpose()?,
            severity: self.severity.as_deref().map(parse_sev).transpose()?,
            impact_start_at: self.impact_start_at.as_deref().map(|s| parse_time("impact_start_at", s)).transpose()?,
            mitigated_at: self
                .mitigated_at
                .map(|m| m.as_deref().map(|s| parse_time("mitigated_at", s)).transpose())
                .transpose()?,
            assignee_id: self.assignee_id,
            commander_id: self.commander_id,
        })
    }
}

/// Changes title, description, severity, impact start, mitigation time, assignee or
/// commander (responder or higher).
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = String, Path)), request_body = EditBody,
    responses((status = 200, body = IncidentDto), (status = 422, body = super::ErrorBody)))]
async fn edit_incident(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<EditBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    auth.require(Permission::Respond)?;
    let inc = find_incident(&state, &id).await?;
    let edit = b.into_edit()?;
    let out = state.db.edit_incident(&auth.actor(), state.now(), inc.id, edit).await?;
    state.events.publish("incident.updated", Some(out.id), format!("{} updated", incident::display_number(out.number)));
    Ok(Json(out.into()))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// Optional note for the timeline.
    pub note: Option<String>,
}

/// An optional JSON body: an empty body counts as `{}`.
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
        serde_json::from_slice(&bytes)
            .map(OptionalJson)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }
}

pub async fn do_move(
    state: &AppState,
    auth: &Auth,
    id: &str,
    m: Move,
    note: Option<&str>,
) -> Result<Incident, ApiError> {
    auth.require(Permission::Respond)?;
    let inc = find_incident(state, id).await?;
    let out = state.db.move_incident(&auth.actor(), state.now(), inc.id, m, note).await?;
    state.events.publish(
        "incident.updated",
        Some(out.id),
        format!("{} {} by {}", incident::display_number(out.number), out.status, auth.user.username),
    );
    Ok(out)
}

/// Acknowledges an incident and its alerts.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/acknowledge", tag = "incidents", params(("id" = String, Path)),
    request_body(content = MoveBody, description = "optional"), responses((status = 200, body = IncidentDto), (status = 409, body = super::ErrorBody)))]
async fn acknowledge(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<MoveBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    Ok(Json(do_move(&state, &auth, &id, Move::Acknowledge, b.note.as_deref()).await?.into()))
}

/// Resolves an incident and its alerts.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/resolve", tag = "incidents", params(("id" = String, Path)),
    request_body(content = MoveBody, description = "optional"), responses((status = 200, body = IncidentDto), (status = 409, body = super::ErrorBody)))]
async fn resolve(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<MoveBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    Ok(Json(do_move(&state, &auth, &id, Move::Resolve, b.note.as_deref()).await?.into()))
}

/// Reopens a resolved incident.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/reopen", tag = "incidents", params(("id" = String, Path)),
    request_body(content = MoveBody, description = "optional"), responses((status = 200, body = IncidentDto), (status = 409, body = super::ErrorBody)))]
async fn reopen(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<MoveBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    Ok(Json(do_move(&state, &auth, &id, Move::Reopen, b.note.as_deref()).await?.into()))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EscalateBody {
    pub reason: Option<String>,
}

/// Escalates: back to triggered so the next responders are paged.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/escalate", tag = "incidents", params(("id" = String, Path)),
    request_body(content = EscalateBody, description = "optional"), responses((status = 200, body = IncidentDto)))]
async fn escalate(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<EscalateBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    auth.require(Permission::Respond)?;
    let inc = find_incident(&state, &id).await?;
    let out = state.db.escalate_incident(&auth.actor(), state.now(), inc.id, b.reason.as_deref()).await?;
    state.events.publish(
        "incident.updated",
        Some(out.id),
        format!("{} escalated", incident::display_number(out.number)),
    );
    Ok(Json(out.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeBody {
    /// 1 to 10080 (a week).
    pub minutes: i64,
}

/// Snoozes: acknowledged until the time is up, then triggered again.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/snooze", tag = "incidents", params(("id" = String, Path)), request_body = SnoozeBody,
    responses((status = 200, body = IncidentDto), (status = 422, body = super::ErrorBody)))]
async fn snooze(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SnoozeBody>,
) -> Result<Json<IncidentDto>, ApiError> {
    auth.require(Permission::Respond)?;
    if !(1..=10_080).contains(&b.minutes) {
        return Err(ApiError::invalid("minutes", "must be 1 to 10080 (a week)"));
    }
    let inc = find_incident(&state, &id).await?;
    let until = state.now() + Duration::minutes(b.minutes);
    let out = state.db.snooze_incident(&auth.actor(), state.now(), inc.id, until).await?;
    Ok(Json(out.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The incident to merge into this one (id or `INC-…`).
    pub source_id: String,
}

/// Merges another incident into this one.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/merge", tag = "incidents", params(("id" = String, Path)), request_body = MergeBody,
    responses((status = 200, body = IncidentDto), (status = 409, body = super::ErrorBody)))]
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
    let out = state.db.merge_incidents(&auth.actor(), state.now(), target.id, source.id).await?;
    state.events.publish(
        "incident.updated",
        Some(out.id),
        format!("{} merged", incident::display_number(source.number)),
    );
    Ok(Json(out.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    pub body: String,
    /// `note` (internal, default) or `status_update` (for stakeholders).
    pub kind: Option<String>,
}

/// Adds a note or a status update to the timeline.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notes", tag = "incidents", params(("id" = String, Path)), request_body = NoteBody,
    responses((status = 201, body = TimelineDto), (status = 422, body = super::ErrorBody)))]
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
    let t = state.db.add_incident_note(&auth.actor(), state.now(), inc.id, status_update, &body).await?;
    state.events.publish("incident.updated", Some(inc.id), format!("Note on {}", incident::display_number(inc.number)));
    Ok((StatusCode::CREATED, Json(t.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponderBody {
    pub user_id: Uuid,
}

/// Adds a responder.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/responders", tag = "incidents", params(("id" = String, Path)), request_body = ResponderBody,
    responses((status = 204), (status = 422, body = super::ErrorBody)))]
async fn add_responder(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ResponderBody>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Respond)?;
    let inc = find_incident(&state, &id).await?;
    state.db.add_responder(&auth.actor(), state.now(), inc.id, b.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything that happened, oldest first, with changes on the affected services.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/timeline", tag = "incidents", params(("id" = String, Path)),
    responses((status = 200, body = List<TimelineDto>)))]
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

// ---- postmortems --------------------------------------------------------------------------

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

/// The postmortem, or a template pre-filled from the incident when none is saved yet.
pub async fn postmortem_of(state: &AppState, inc: &Incident) -> Result<PostmortemDto, ApiError> {
    let today = state.now().date_naive();
    let actions = state.db.list_action_items(Some(inc.id), false, 200).await?;
    let action_items = actions.into_iter().map(|a| ActionItemDto::new(a, today)).collect();
    Ok(match state.db.get_postmortem(inc.id).await? {
        Some(p) => PostmortemDto {
            incident_id: inc.id,
            saved: true,
            summary: p.spec.summary,
            impact: p.spec.impact,
            root_cause: p.spec.root_cause,
            contributing_factors: p.spec.contributing_factors,
            timeline: p.spec.timeline,
            lessons: p.spec.lessons,
            author: Some(p.author),
            updated_at: Some(ts(p.updated_at)),
            action_items,
        },
        None => {
            let tl = state.db.incident_timeline(inc, state.now()).await?;
            PostmortemDto {
                incident_id: inc.id,
                saved: false,
                summary: String::new(),
                impact: impact_template(inc),
                root_cause: String::new(),
                contributing_factors: String::new(),
                timeline: tl
                    .iter()
                    .map(|t| format!("- {} — {} ({})", t.at.format("%Y-%m-%d %H:%M:%S UTC"), t.body, t.actor))
                    .collect::<Vec<_>>()
                    .join("\n"),
                lessons: String::new(),
                author: None,
                updated_at: None,
                action_items,
            }
        }
    })
}

fn impact_template(inc: &Incident) -> String {
    let dur = |a: DateTime<Utc>, b: Option<DateTime<Utc>>| {
        b.map(|b| crate::ui::human_duration((b - a).num_seconds())).unwrap_or_else(|| "—".into())
    };
    format!(
        "{} on {}: impact began {}, detected after {}, resolved after {} from impact start.",
        inc.severity,
        inc.service_name.as_deref().unwrap_or("an unknown service"),
        inc.impact_start_at.format("%Y-%m-%d %H:%M UTC"),
        dur(inc.impact_start_at, Some(inc.detected_at)),
        dur(inc.impact_start_at, inc.resolved_at),
    )
}

/// The postmortem (or its pre-filled template).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/postmortem", tag = "postmortems", params(("id" = String, Path)),
    responses((status = 200, body = PostmortemDto)))]
async fn get_postmortem(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<PostmortemDto>, ApiError> {
    auth.require(Permission::Read)?;
    let inc = find_incident(&state, &id).await?;
    Ok(Json(postmortem_of(&state, &inc).await?))
}

/// Saves the postmortem of a resolved incident (responder or higher).
#[utoipa::path(put, path = "/api/v1/incidents/{id}/postmortem", tag = "postmortems", params(("id" = String, Path)),
    request_body(content = Object, description = "summary, impact, root_cause, contributing_factors, timeline, lessons (Markdown)"),
    responses((status = 200, body = PostmortemDto), (status = 409, body = super::ErrorBody)))]
async fn save_postmortem(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<PostmortemSpec>,
) -> Result<Json<PostmortemDto>, ApiError> {
    auth.require(Permission::Respond)?;
    let inc = find_incident(&state, &id).await?;
    state.db.save_postmortem(&auth.actor(), state.now(), inc.id, spec.validate()?).await?;
    Ok(Json(postmortem_of(&state, &inc).await?))
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
#[utoipa::path(get, path = "/api/v1/incidents/{id}/postmortem.md", tag = "postmortems", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/markdown", body = String)))]
async fn postmortem_markdown(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth.require(Permission::Read)?;
    let inc = find_incident(&state, &id).await?;
    let p = postmortem_of(&state, &inc).await?;
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
    pub title: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
    /// YYYY-MM-DD.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub due_date: Option<Option<String>>,
    /// open, in_progress or done.
    pub status: Option<String>,
}

/// An incident's action items.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/action-items", tag = "postmortems", params(("id" = String, Path)),
    responses((status = 200, body = List<ActionItemDto>)))]
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
#[utoipa::path(post, path = "/api/v1/incidents/{id}/action-items", tag = "postmortems", params(("id" = String, Path)),
    request_body = ActionItemBody, responses((status = 201, body = ActionItemDto), (status = 422, body = super::ErrorBody)))]
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
    let a = state.db.create_action_item(&auth.actor(), state.now(), inc.id, spec).await?;
    Ok((StatusCode::CREATED, Json(ActionItemDto::new(a, state.now().date_naive()))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActionQuery {
    /// Only items not done (default true).
    pub open: Option<bool>,
}

/// Action items across incidents; open ones until they are done.
#[utoipa::path(get, path = "/api/v1/action-items", tag = "postmortems", params(ActionQuery),
    responses((status = 200, body = List<ActionItemDto>)))]
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
#[utoipa::path(patch, path = "/api/v1/action-items/{id}", tag = "postmortems", params(("id" = Uuid, Path)),
    request_body = ActionItemBody, responses((status = 200, body = ActionItemDto), (status = 422, body = super::ErrorBody)))]
async fn update_action_item(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ActionItemBody>,
) -> Result<Json<ActionItemDto>, ApiError> {
    auth.require(Permission::Respond)?;
    let id = crate::extract::parse_id(Entity::ActionItem, &id)?;
    let cur = state.db.get_action_item(id).await?;
    let due = match b.due_date {
        Some(d) => d,
        None => cur.due_date.map(|d| d.to_string()),
    };
    let spec = ActionItemSpec::new(
        b.title.as_deref().unwrap_or(&cur.title),
        b.owner_id.unwrap_or(cur.owner_id),
        due.as_deref(),
        Some(b.status.as_deref().unwrap_or(cur.status.as_str())),
    )?;
    let a = state.db.update_action_item(&auth.actor(), state.now(), id, spec).await?;
    Ok(Json(ActionItemDto::new(a, state.now().date_naive())))
}

/// Deletes an action item.
#[utoipa::path(delete, path = "/api/v1/action-items/{id}", tag = "postmortems", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
async fn delete_action_item(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Respond)?;
    let id = crate::extract::parse_id(Entity::ActionItem, &id)?;
    state.db.delete_action_item(&auth.actor(), state.now(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- alerts -------------------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    pub incident_id: Option<String>,
    pub service_id: Option<String>,
    /// firing, acknowledged or resolved.
    pub status: Option<String>,
    /// Text in the summary, or an exact dedup key.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn alert_filter(state: &AppState, q: &AlertQuery) -> Result<AlertFilter, ApiError> {
    let incident_id = match q.incident_id.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => Some(find_incident(state, raw).await?.id),
        None => None,
    };
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            AlertStatus::parse(s).ok_or_else(|| ApiError::bad_request("status: use firing, acknowledged or resolved"))
        })
        .transpose()?;
    Ok(AlertFilter {
        incident_id,
        service_id: service_ref(state, q.service_id.as_deref(), "service_id").await?,
        status,
        q: q.q.clone(),
        cursor: cursor(q.cursor.as_deref())?,
        limit: q.limit,
    })
}

/// Alerts, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertQuery), responses((status = 200, body = List<AlertDto>)))]
async fn list_alerts(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Json<List<AlertDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let page = state.db.list_alerts(&alert_filter(&state, &q).await?).await?;
    Ok(Json(List::from_page(page, AlertDto::from)))
}

/// One alert.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", params(("id" = Uuid, Path)),
    responses((status = 200, body = AlertDto), (status = 404, body = super::ErrorBody)))]
async fn get_alert(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<AlertDto>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(state.db.get_alert(crate::extract::parse_id(Entity::Alert, &id)?).await?.into()))
}
