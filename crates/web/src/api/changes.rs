//! Change requests: raise, edit, move, approve, accept conflicts, mark as an incident's cause.

use super::incidents::OptionalJson;
use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::operations::changes::{self as op, ActInput, ChangeView};
use crate::operations::cursor;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_core::change::risk::Risk;
use opsdeck_core::change::spec::ChangeInput;
use opsdeck_core::change::{Action, ChangeState, ChangeType};
use opsdeck_store::change::{Change, ChangeFilter};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_changes, create_change))
        .routes(routes!(preview_change))
        .routes(routes!(approval_inbox))
        .routes(routes!(get_change, update_change))
        .routes(routes!(act_on_change))
        .routes(routes!(accept_conflict))
        .routes(routes!(mark_cause))
        .routes(routes!(incident_changes))
}

#[derive(Serialize, ToSchema)]
pub struct RiskDto {
    /// low, moderate or high.
    pub level: String,
    pub score: u32,
    /// Each line that added points: "+30 touches 1 tier-1 service(s)".
    pub reasons: Vec<String>,
}

impl From<&Risk> for RiskDto {
    fn from(r: &Risk) -> Self {
        RiskDto { level: r.level.as_str().into(), score: r.score, reasons: r.reasons.clone() }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConflictDto {
    /// Names the conflict for `POST /api/v1/changes/{id}/conflicts`.
    pub key: String,
    /// same_ci, related_ci, outside_maintenance, inside_freeze, implementer_busy or
    /// implementer_off_shift.
    pub kind: String,
    pub message: String,
    /// The other change, for collisions.
    pub change_id: Option<Uuid>,
    /// A freeze is not overridden: only an emergency change passes it.
    pub overridable: bool,
    /// Why it was accepted, when it was.
    pub accepted_reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DecisionDto {
    pub user_id: Uuid,
    pub user: String,
    /// approved or rejected.
    pub decision: String,
    pub comment: String,
    /// The revision of the change it was given on; only the current one counts.
    pub revision: i64,
    pub decided_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct RefDto {
    pub id: Uuid,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct ChangeDto {
    pub id: Uuid,
    /// CHG-12.
    pub number: String,
    pub title: String,
    /// standard, normal or emergency.
    #[serde(rename = "type")]
    pub kind: String,
    /// new, assess, authorize, scheduled, implement, review, closed or canceled.
    pub state: String,
    pub description: String,
    pub planned_start: Option<String>,
    pub planned_end: Option<String>,
    pub actual_start: Option<String>,
    pub actual_end: Option<String>,
    pub implementation_plan: String,
    pub test_plan: String,
    pub backout_plan: String,
    pub outage_expected: bool,
    pub assignee_id: Option<Uuid>,
    pub assignee: Option<String>,
    pub implementer_id: Option<Uuid>,
    pub implementer: Option<String>,
    /// The risk questionnaire's answers: question key → option key.
    pub answers: BTreeMap<String, String>,
    pub risk: RiskDto,
    /// successful, successful_with_issues, unsuccessful or backed_out, once closed.
    pub close_code: Option<String>,
    pub close_notes: String,
    pub caused_incident_id: Option<Uuid>,
    /// The maintenance window silencing the monitors of its CIs while it is scheduled.
    pub maintenance_window_id: Option<Uuid>,
    /// manual, deploy or pagerduty.
    pub source: String,
    /// The standard change template it was raised from, and its name.
    pub template_id: Option<Uuid>,
    pub template: Option<String>,
    /// Edits that needed new approvals bump it; approvals count for the current one only.
    pub revision: i64,
    /// Send it back with an edit or a move: one made on an older version is refused (409).
    pub version: i64,
    pub ci_count: i64,
    /// Details (on a single change only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cis: Option<Vec<RefDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<RefDto>>,
    /// Conflicts of its planned window (the first 200), live: other changes move.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<Vec<ConflictDto>>,
    /// Collisions with other changes in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collisions_total: Option<usize>,
    /// What approvals its rules still want, in words (null: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvals_missing: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvals: Option<Vec<DecisionDto>>,
    /// Why it is on hold: the reason of the change lockdown in force (null: it is not held).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_hold: Option<Option<String>>,
    pub created_at: String,
    pub updated_at: String,
}

pub(crate) fn dto(c: Change) -> ChangeDto {
    ChangeDto {
        id: c.id,
        number: c.key(),
        title: c.title,
        kind: c.kind.as_str().into(),
        state: c.state.as_str().into(),
        description: c.description,
        planned_start: c.planned_start.map(ts),
        planned_end: c.planned_end.map(ts),
        actual_start: c.actual_start.map(ts),
        actual_end: c.actual_end.map(ts),
        implementation_plan: c.implementation_plan,
        test_plan: c.test_plan,
        backout_plan: c.backout_plan,
        outage_expected: c.outage_expected,
        assignee_id: c.assignee_id,
        assignee: c.assignee,
        implementer_id: c.implementer_id,
        implementer: c.implementer,
        answers: c.answers,
        risk: RiskDto::from(&c.risk),
        close_code: c.close_code.map(|x| x.as_str().into()),
        close_notes: c.close_notes,
        caused_incident_id: c.caused_incident_id,
        maintenance_window_id: c.maintenance_window_id,
        source: c.source,
        template_id: c.template_id,
        template: c.template,
        revision: c.revision,
        version: c.version,
        ci_count: c.ci_count,
        cis: None,
        services: None,
        conflicts: None,
        collisions_total: None,
        approvals_missing: None,
        approvals: None,
        on_hold: None,
        created_at: ts(c.created_at),
        updated_at: ts(c.updated_at),
    }
}

pub(crate) fn conflict_dto(c: &op::ConflictView) -> ConflictDto {
    use opsdeck_core::change::conflict::Conflict as C;
    let (kind, change_id) = match &c.conflict {
        C::SameCi { change_id, .. } => ("same_ci", Some(*change_id)),
        C::RelatedCi { change_id, .. } => ("related_ci", Some(*change_id)),
        C::OutsideMaintenance { .. } => ("outside_maintenance", None),
        C::InsideFreeze { .. } => ("inside_freeze", None),
        C::ImplementerBusy { change_id, .. } => ("implementer_busy", Some(*change_id)),
        C::ImplementerOffShift { .. } => ("implementer_off_shift", None),
    };
    ConflictDto {
        key: c.key.clone(),
        kind: kind.into(),
        message: c.text.clone(),
        change_id,
        overridable: c.overridable,
        accepted_reason: c.accepted.as_ref().map(|a| a.reason.clone()),
    }
}

pub(crate) fn detail(v: ChangeView) -> ChangeDto {
    let mut d = dto(v.change);
    d.cis = Some(v.cis.into_iter().map(|(id, name)| RefDto { id, name }).collect());
    d.services = Some(v.services.into_iter().map(|(id, name, _)| RefDto { id, name }).collect());
    d.conflicts = Some(v.conflicts.iter().map(conflict_dto).collect());
    d.collisions_total = Some(v.collisions_total);
    d.approvals_missing = Some(v.approvals_missing);
    d.on_hold = Some(v.on_hold);
    d.approvals = Some(
        v.decisions
            .into_iter()
            .map(|x| DecisionDto {
                user_id: x.user_id,
                user: x.user,
                decision: x.decision,
                comment: x.comment,
                revision: x.revision,
                decided_at: ts(x.decided_at),
            })
            .collect(),
    );
    d
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub title: String,
    /// standard (pre-approved), normal (default) or emergency.
    #[serde(rename = "type")]
    #[schema(schema_with = crate::api::change_schema::change_type_opt)]
    pub kind: Option<String>,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    /// The CIs it changes (at most 1,000).
    #[schema(max_items = 1000)]
    pub ci_ids: Option<Vec<Uuid>>,
    /// The services it affects; when none are given, those its CIs impact are filled in.
    #[schema(max_items = 100)]
    pub service_ids: Option<Vec<Uuid>>,
    /// When work starts (RFC 3339, not in the past); give it with planned_end.
    #[schema(schema_with = crate::api::schema::date_time_opt)]
    pub planned_start: Option<String>,
    /// When work ends: after planned_start, at most 31 days later.
    #[schema(schema_with = crate::api::schema::date_time_opt)]
    pub planned_end: Option<String>,
    #[schema(schema_with = crate::api::change_schema::plan_opt)]
    pub implementation_plan: Option<String>,
    #[schema(schema_with = crate::api::change_schema::plan_opt)]
    pub test_plan: Option<String>,
    #[schema(schema_with = crate::api::change_schema::plan_opt)]
    pub backout_plan: Option<String>,
    pub outage_expected: Option<bool>,
    pub assignee_id: Option<Uuid>,
    pub implementer_id: Option<Uuid>,
    /// The risk questionnaire's answers: question key → option key
    /// (`GET /api/v1/change-questionnaire`).
    pub answers: Option<BTreeMap<String, String>>,
    /// The standard change template it is raised from (`GET /api/v1/change-templates`):
    /// required for a standard change; fills in the plans, CIs, planned end and answers left out.
    pub template_id: Option<Uuid>,
    /// On an edit: the version you loaded; an edit of an older one is refused (409).
    pub version: Option<i64>,
}

impl ChangeBody {
    fn input(self) -> Result<(ChangeInput, Option<i64>), ApiError> {
        let time =
            |field: &'static str, v: Option<String>| v.map(|s| crate::operations::parse_time(field, &s)).transpose();
        let input = ChangeInput {
            title: self.title,
            kind: self.kind,
            description: self.description,
            ci_ids: self.ci_ids.unwrap_or_default(),
            service_ids: self.service_ids.unwrap_or_default(),
            planned_start: time("planned_start", self.planned_start)?,
            planned_end: time("planned_end", self.planned_end)?,
            implementation_plan: self.implementation_plan,
            test_plan: self.test_plan,
            backout_plan: self.backout_plan,
            outage_expected: self.outage_expected.unwrap_or(false),
            assignee_id: self.assignee_id,
            implementer_id: self.implementer_id,
            answers: self.answers.unwrap_or_default(),
            template_id: self.template_id,
        };
        Ok((input, self.version))
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangeQuery {
    /// Only changes in these states, comma-separated (e.g. `authorize,scheduled`).
    pub state: Option<String>,
    /// Only this type.
    #[serde(rename = "type")]
    #[param(schema_with = crate::api::change_schema::change_type_opt)]
    pub kind: Option<String>,
    /// Only changes to this CI.
    pub ci_id: Option<Uuid>,
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
}

/// Parses a comma-separated list of states.
pub(crate) fn states(raw: Option<&str>) -> Result<Vec<ChangeState>, ApiError> {
    raw.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            ChangeState::parse(s)
                .ok_or_else(|| ApiError::invalid("state", format!("must be {}", ChangeState::choices())))
        })
        .collect()
}

/// Lists change requests, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/changes",
    tag = "changes",
    params(ChangeQuery),
    responses((status = 200, body = List<ChangeDto>))
)]
async fn list_changes(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ChangeQuery>,
) -> Result<Json<List<ChangeDto>>, ApiError> {
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => Some(
            ChangeType::parse(k)
                .ok_or_else(|| ApiError::invalid("type", format!("must be {}", ChangeType::choices())))?,
        ),
    };
    let filter = ChangeFilter {
        states: states(q.state.as_deref())?,
        kind,
        ci_id: q.ci_id,
        cursor: cursor(q.cursor.as_deref())?,
        limit: super::limit(q.limit)?,
    };
    let page = op::list(&state, &auth, &filter).await?;
    Ok(Json(List::from_page(page, dto)))
}

/// Raises a change request (responders and up). The answer carries its risk, explained, and
/// the conflicts of its planned window.
#[utoipa::path(
    post,
    path = "/api/v1/changes",
    tag = "changes",
    request_body = ChangeBody,
    responses((status = 201, body = ChangeDto))
)]
async fn create_change(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<(StatusCode, Json<ChangeDto>), ApiError> {
    let (input, _) = body.input()?;
    let c = op::create(&state, &auth, &input).await?;
    Ok((StatusCode::CREATED, Json(detail(op::view(&state, &auth, c.id).await?))))
}

#[derive(Serialize, ToSchema)]
pub struct ChangePreviewDto {
    pub risk: RiskDto,
    /// The services it would affect (those named, or those its CIs impact).
    pub service_ids: Vec<Uuid>,
    pub conflicts: Vec<ConflictDto>,
}

/// The risk and conflicts a change would have, without saving it (the form's live feedback).
#[utoipa::path(
    post,
    path = "/api/v1/changes/preview",
    tag = "changes",
    request_body = ChangeBody,
    responses((status = 200, body = ChangePreviewDto))
)]
async fn preview_change(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<Json<ChangePreviewDto>, ApiError> {
    let (input, _) = body.input()?;
    let (spec, risk, conflicts) = op::preview(&state, &auth, &input, None).await?;
    Ok(Json(ChangePreviewDto {
        risk: RiskDto::from(&risk),
        service_ids: spec.service_ids,
        conflicts: conflicts.iter().map(conflict_dto).collect(),
    }))
}

/// The changes waiting for the caller's approval: the CAB agenda of one approver.
#[utoipa::path(
    get,
    path = "/api/v1/changes/approvals",
    tag = "changes",
    responses((status = 200, body = List<ChangeDto>))
)]
async fn approval_inbox(State(state): State<AppState>, auth: Auth) -> Result<Json<List<ChangeDto>>, ApiError> {
    let items = op::inbox(&state, &auth).await?;
    Ok(Json(List { items: items.into_iter().map(detail).collect(), next_cursor: None }))
}

/// A change with its CIs, services, live conflicts and approvals; `id` may be `CHG-12`.
#[utoipa::path(
    get,
    path = "/api/v1/changes/{id}",
    tag = "changes",
    params(("id" = String, Path, description = "The change's id or number (CHG-12)")),
    responses((status = 200, body = ChangeDto))
)]
async fn get_change(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<ChangeDto>, ApiError> {
    let c = op::find(&state, &auth, &id).await?;
    Ok(Json(detail(op::view(&state, &auth, c.id).await?)))
}

/// Edits a change before work starts (responders and up). An edit of its type, CIs, services,
/// window, implementer or answers withdraws the approvals given: an authorising or scheduled
/// change goes back to authorize.
#[utoipa::path(
    put,
    path = "/api/v1/changes/{id}",
    tag = "changes",
    params(("id" = String, Path, description = "The change's id or number (CHG-12)")),
    request_body = ChangeBody,
    responses((status = 200, body = ChangeDto))
)]
async fn update_change(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<Json<ChangeDto>, ApiError> {
    let c = op::find(&state, &auth, &id).await?;
    let (input, version) = body.input()?;
    op::update(&state, &auth, c.id, &input, version).await?;
    Ok(Json(detail(op::view(&state, &auth, c.id).await?)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ActBody {
    /// For close: successful, successful_with_issues, unsuccessful or backed_out.
    #[schema(schema_with = crate::api::change_schema::close_code_opt)]
    pub close_code: Option<String>,
    /// A comment (required to reject) or the close notes.
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub comment: Option<String>,
    /// The version you loaded; a move on an older one is refused (409).
    pub version: Option<i64>,
}

/// Moves a change: submit, approve, reject, schedule, implement, review, close or cancel.
/// Approve and reject are for approvers of a rule covering it (403 for anyone else); every
/// other move is a responder's. A move the rules forbid answers 409 naming what is missing.
#[utoipa::path(
    post,
    path = "/api/v1/changes/{id}/{action}",
    tag = "changes",
    params(
        ("id" = String, Path, description = "The change's id or number (CHG-12)"),
        ("action" = String, Path, description = "submit, approve, reject, schedule, implement, review, close or cancel",
            pattern = "^(submit|approve|reject|schedule|implement|review|close|cancel)$"),
    ),
    request_body(content = Option<ActBody>, description = "optional"),
    responses((status = 200, body = ChangeDto))
)]
async fn act_on_change(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, action)): Path<(String, String)>,
    OptionalJson(b): OptionalJson<ActBody>,
) -> Result<Json<ChangeDto>, ApiError> {
    let action =
        Action::parse(&action).ok_or_else(|| ApiError::invalid("action", format!("must be {}", Action::choices())))?;
    let c = op::find(&state, &auth, &id).await?;
    let input = ActInput { close_code: b.close_code, notes: b.comment, version: b.version };
    op::act(&state, &auth, c.id, action, &input).await?;
    Ok(Json(detail(op::view(&state, &auth, c.id).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    /// The conflict's key, from the change's `conflicts`.
    #[schema(min_length = 1, max_length = 200)]
    pub key: String,
    /// Why it is acceptable.
    #[schema(schema_with = crate::api::change_schema::reason)]
    pub reason: String,
}

/// Accepts a conflict with a reason, so it no longer blocks scheduling (responders and up). A
/// freeze is not accepted: only an emergency change passes one (409).
#[utoipa::path(
    post,
    path = "/api/v1/changes/{id}/conflicts",
    tag = "changes",
    params(("id" = String, Path, description = "The change's id or number (CHG-12)")),
    request_body = AcceptBody,
    responses((status = 200, body = ChangeDto))
)]
async fn accept_conflict(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AcceptBody>,
) -> Result<Json<ChangeDto>, ApiError> {
    let c = op::find(&state, &auth, &id).await?;
    op::accept_conflict(&state, &auth, c.id, b.key.trim(), &b.reason).await?;
    Ok(Json(detail(op::view(&state, &auth, c.id).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CauseBody {
    pub incident_id: Uuid,
}

/// Marks a change as the cause of an incident (responders and up): a closed change then counts
/// as unsuccessful; an open one may only close as unsuccessful or backed out.
#[utoipa::path(
    post,
    path = "/api/v1/changes/{id}/cause",
    tag = "changes",
    params(("id" = String, Path, description = "The change's id or number (CHG-12)")),
    request_body = CauseBody,
    responses((status = 200, body = ChangeDto))
)]
async fn mark_cause(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CauseBody>,
) -> Result<Json<ChangeDto>, ApiError> {
    let c = op::find(&state, &auth, &id).await?;
    op::mark_cause(&state, &auth, c.id, b.incident_id).await?;
    Ok(Json(detail(op::view(&state, &auth, c.id).await?)))
}

/// Changes on an incident's CIs and services in the 24 hours before it started.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/changes",
    tag = "changes",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = List<ChangeDto>))
)]
async fn incident_changes(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<ChangeDto>>, ApiError> {
    let id = parse_id(Entity::Incident, &id)?;
    let items = crate::operations::change_calendar::before_incident(&state, &auth, id).await?;
    Ok(Json(List { items: items.into_iter().map(dto).collect(), next_cursor: None }))
}
