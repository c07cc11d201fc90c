//! The change calendar: changes and windows of a period, maintenance and freeze windows, the
//! approval rules and the risk questionnaire.

use super::changes::{ChangeDto, dto};
use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::operations::change_calendar as op;
use crate::operations::parse_time;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_core::change::ChangeType;
use opsdeck_core::change::approval::ApprovalRule;
use opsdeck_core::change::risk::RiskLevel;
use opsdeck_core::change::spec::{Question, Questionnaire, RiskOption, WindowSpec};
use opsdeck_store::change::approvals::StoredRule;
use opsdeck_store::change::calendar::CalendarWindow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(calendar))
        .routes(routes!(calendar_feed))
        .routes(routes!(list_windows, create_window))
        .routes(routes!(get_window, update_window, delete_window))
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(update_rule, delete_rule))
        .routes(routes!(get_questionnaire, put_questionnaire))
        .routes(routes!(get_lockdown, start_lockdown, lift_lockdown))
}

#[derive(Serialize, ToSchema)]
pub struct ChangeWindowDto {
    pub id: Uuid,
    pub name: String,
    /// maintenance (changes allowed; CIs with such windows change only inside one) or freeze
    /// (no change but an emergency one).
    pub kind: String,
    pub starts_at: String,
    pub ends_at: String,
    pub description: String,
    /// The CIs it applies to; empty: every CI.
    pub ci_ids: Vec<Uuid>,
    /// RRULE body (e.g. `FREQ=WEEKLY;BYDAY=SU`) it recurs by, in `timezone`, from its first
    /// occurrence (`starts_at` to `ends_at`); null: once. In the calendar, each occurrence is
    /// listed with its own times.
    pub rrule: Option<String>,
    pub timezone: String,
}

fn window_dto(w: CalendarWindow) -> ChangeWindowDto {
    ChangeWindowDto {
        id: w.id,
        name: w.name,
        kind: w.kind.as_str().into(),
        starts_at: ts(w.starts_at),
        ends_at: ts(w.ends_at),
        description: w.description,
        ci_ids: w.ci_ids,
        rrule: w.rrule,
        timezone: w.timezone,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeWindowBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    #[schema(schema_with = crate::api::change_schema::window_kind)]
    pub kind: String,
    #[schema(schema_with = crate::api::schema::date_time)]
    pub starts_at: String,
    /// After starts_at, at most 366 days later.
    #[schema(schema_with = crate::api::schema::date_time)]
    pub ends_at: String,
    /// The CIs it applies to (at most 1,000); none: every CI.
    #[schema(max_items = 1000)]
    pub ci_ids: Option<Vec<Uuid>>,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    /// Recur by this RRULE body (daily, weekly or monthly, at most once a day) from the first
    /// occurrence, which then lasts at most 7 days; null or absent: once.
    #[schema(schema_with = crate::api::schema::rrule_opt)]
    pub rrule: Option<String>,
    /// The zone the rule keeps its wall-clock times in; default UTC.
    #[schema(schema_with = crate::api::schema::timezone_opt)]
    pub timezone: Option<String>,
}

impl ChangeWindowBody {
    fn spec(self) -> Result<WindowSpec, ApiError> {
        let (s, e) = (parse_time("starts_at", &self.starts_at)?, parse_time("ends_at", &self.ends_at)?);
        let cis = self.ci_ids.unwrap_or_default();
        let w = WindowSpec::new(&self.name, &self.kind, s, e, &cis, self.description.as_deref().unwrap_or(""))?;
        Ok(w.repeating(self.rrule.as_deref(), self.timezone.as_deref().unwrap_or("UTC"))?)
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangePeriodQuery {
    /// Start of the period (RFC 3339); default now.
    #[param(schema_with = crate::api::schema::date_time_opt)]
    pub from: Option<String>,
    /// End of the period, after from and at most 400 days later; default 31 days after from.
    #[param(schema_with = crate::api::schema::date_time_opt)]
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChangeCalendarDto {
    pub from: String,
    pub to: String,
    /// Changes planned or carried out in the period (canceled ones left out), by start; at most
    /// 2,000.
    pub changes: Vec<ChangeDto>,
    /// True when more changes fall in the period than are listed: ask for a shorter one.
    pub truncated: bool,
    /// Each occurrence of each window in the period (a recurring window once per occurrence).
    pub windows: Vec<ChangeWindowDto>,
}

fn period(
    state: &AppState,
    q: &ChangePeriodQuery,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), ApiError> {
    let from = q.from.as_deref().map(|s| parse_time("from", s)).transpose()?.unwrap_or_else(|| state.now());
    let to = match q.to.as_deref() {
        Some(s) => parse_time("to", s)?,
        None => opsdeck_core::time::add(from, chrono::Duration::days(31)).unwrap_or(from),
    };
    Ok((from, to))
}

/// The change calendar of a period: changes and maintenance and freeze windows.
#[utoipa::path(
    get,
    path = "/api/v1/changes/calendar",
    tag = "changes",
    params(ChangePeriodQuery),
    responses((status = 200, body = ChangeCalendarDto))
)]
async fn calendar(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ChangePeriodQuery>,
) -> Result<Json<ChangeCalendarDto>, ApiError> {
    let (from, to) = period(&state, &q)?;
    let cal = op::calendar(&state, &auth, from, to).await?;
    Ok(Json(ChangeCalendarDto {
        from: ts(from),
        to: ts(to),
        changes: cal.changes.into_iter().map(dto).collect(),
        truncated: cal.truncated,
        windows: cal.windows.into_iter().map(window_dto).collect(),
    }))
}

/// Maintenance and freeze windows of a period (default: the next 31 days).
#[utoipa::path(
    get,
    path = "/api/v1/change-windows",
    tag = "changes",
    params(ChangePeriodQuery),
    responses((status = 200, body = List<ChangeWindowDto>))
)]
async fn list_windows(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ChangePeriodQuery>,
) -> Result<Json<List<ChangeWindowDto>>, ApiError> {
    let (from, to) = period(&state, &q)?;
    let cal = op::calendar(&state, &auth, from, to).await?;
    Ok(Json(List { items: cal.windows.into_iter().map(window_dto).collect(), next_cursor: None }))
}

/// Plans a maintenance window or a change freeze (managers and admins).
#[utoipa::path(
    post,
    path = "/api/v1/change-windows",
    tag = "changes",
    request_body = ChangeWindowBody,
    responses((status = 201, body = ChangeWindowDto))
)]
async fn create_window(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ChangeWindowBody>,
) -> Result<(StatusCode, Json<ChangeWindowDto>), ApiError> {
    let w = op::save_window(&state, &auth, None, &body.spec()?).await?;
    Ok((StatusCode::CREATED, Json(window_dto(w))))
}

#[utoipa::path(
    get,
    path = "/api/v1/change-windows/{id}",
    tag = "changes",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ChangeWindowDto))
)]
async fn get_window(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<ChangeWindowDto>, ApiError> {
    Ok(Json(window_dto(op::get_window(&state, &auth, parse_id(Entity::ChangeWindow, &id)?).await?)))
}

/// Replaces a window (managers and admins).
#[utoipa::path(
    put,
    path = "/api/v1/change-windows/{id}",
    tag = "changes",
    params(("id" = Uuid, Path)),
    request_body = ChangeWindowBody,
    responses((status = 200, body = ChangeWindowDto))
)]
async fn update_window(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChangeWindowBody>,
) -> Result<Json<ChangeWindowDto>, ApiError> {
    let id = parse_id(Entity::ChangeWindow, &id)?;
    Ok(Json(window_dto(op::save_window(&state, &auth, Some(id), &body.spec()?).await?)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/change-windows/{id}",
    tag = "changes",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_window(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete_window(&state, &auth, parse_id(Entity::ChangeWindow, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct ApprovalRuleDto {
    pub id: Uuid,
    pub name: String,
    /// normal and/or emergency; empty: both.
    pub types: Vec<String>,
    /// The rule covers changes of this risk and above; null: any risk.
    pub min_risk: Option<String>,
    /// The rule covers changes to these services; empty: any.
    pub service_ids: Vec<Uuid>,
    pub approvers: Vec<Uuid>,
    /// How many of the approvers must approve.
    pub required: u32,
    pub updated_at: String,
}

fn rule_dto(r: StoredRule) -> ApprovalRuleDto {
    ApprovalRuleDto {
        id: r.id,
        name: r.rule.name,
        types: r.rule.types.iter().map(|t| t.as_str().to_owned()).collect(),
        min_risk: r.rule.min_risk.map(|m| m.as_str().into()),
        service_ids: r.rule.service_ids,
        approvers: r.rule.approvers,
        required: r.rule.required,
        updated_at: ts(r.updated_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRuleBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    /// normal and/or emergency (standard changes are pre-approved); none: both.
    #[schema(max_items = 2)]
    pub types: Option<Vec<String>>,
    #[schema(schema_with = crate::api::change_schema::risk_level_opt)]
    pub min_risk: Option<String>,
    #[schema(max_items = 100)]
    pub service_ids: Option<Vec<Uuid>>,
    /// 1 to 50 active users.
    #[schema(min_items = 1, max_items = 50)]
    pub approvers: Vec<Uuid>,
    /// How many must approve: 1 to the number of approvers (default 1).
    #[schema(minimum = 1, maximum = 50)]
    pub required: Option<i64>,
}

impl ApprovalRuleBody {
    fn rule(self) -> Result<ApprovalRule, ApiError> {
        let mut types = Vec::new();
        for t in self.types.unwrap_or_default() {
            types.push(
                ChangeType::parse(&t)
                    .ok_or_else(|| ApiError::invalid("types", format!("each must be {}", ChangeType::choices())))?,
            );
        }
        let min_risk = match self.min_risk.as_deref() {
            None => None,
            Some(r) => Some(
                RiskLevel::parse(r)
                    .ok_or_else(|| ApiError::invalid("min_risk", format!("must be {}", RiskLevel::choices())))?,
            ),
        };
        let services = self.service_ids.unwrap_or_default();
        if services.len() > 100 {
            return Err(ApiError::invalid("service_ids", "name at most 100 services"));
        }
        Ok(ApprovalRule::new(&self.name, types, min_risk, services, self.approvers, self.required.unwrap_or(1))?)
    }
}

/// The approval rules: who must approve which changes.
#[utoipa::path(
    get,
    path = "/api/v1/change-rules",
    tag = "changes",
    responses((status = 200, body = List<ApprovalRuleDto>))
)]
async fn list_rules(State(state): State<AppState>, auth: Auth) -> Result<Json<List<ApprovalRuleDto>>, ApiError> {
    let rules = op::rules(&state, &auth).await?;
    Ok(Json(List { items: rules.into_iter().map(rule_dto).collect(), next_cursor: None }))
}

/// Adds an approval rule (managers and admins): e.g. high-risk changes need 2 of the 5 CAB
/// members; any change to the payments service needs its owner.
#[utoipa::path(
    post,
    path = "/api/v1/change-rules",
    tag = "changes",
    request_body = ApprovalRuleBody,
    responses((status = 201, body = ApprovalRuleDto))
)]
async fn create_rule(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ApprovalRuleBody>,
) -> Result<(StatusCode, Json<ApprovalRuleDto>), ApiError> {
    let r = op::save_rule(&state, &auth, None, &body.rule()?).await?;
    Ok((StatusCode::CREATED, Json(rule_dto(r))))
}

/// Replaces an approval rule (managers and admins); changes awaiting approval are judged by it
/// from now on.
#[utoipa::path(
    put,
    path = "/api/v1/change-rules/{id}",
    tag = "changes",
    params(("id" = Uuid, Path)),
    request_body = ApprovalRuleBody,
    responses((status = 200, body = ApprovalRuleDto))
)]
async fn update_rule(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ApprovalRuleBody>,
) -> Result<Json<ApprovalRuleDto>, ApiError> {
    let id = parse_id(Entity::ChangeRule, &id)?;
    Ok(Json(rule_dto(op::save_rule(&state, &auth, Some(id), &body.rule()?).await?)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/change-rules/{id}",
    tag = "changes",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_rule(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete_rule(&state, &auth, parse_id(Entity::ChangeRule, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskOptionDto {
    /// A slug.
    #[schema(schema_with = crate::api::schema::slug)]
    pub key: String,
    #[schema(schema_with = crate::api::schema::name)]
    pub label: String,
    #[schema(minimum = 0, maximum = 100)]
    pub points: u32,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskQuestionDto {
    /// A slug.
    #[schema(schema_with = crate::api::schema::slug)]
    pub key: String,
    #[schema(schema_with = crate::api::schema::name)]
    pub text: String,
    #[schema(min_items = 1, max_items = 8)]
    pub options: Vec<RiskOptionDto>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskQuestionnaireDto {
    /// At most 20 questions; each answer adds its option's points to a change's risk.
    #[schema(max_items = 20)]
    pub questions: Vec<RiskQuestionDto>,
}

fn questionnaire_dto(q: Questionnaire) -> RiskQuestionnaireDto {
    RiskQuestionnaireDto {
        questions: q
            .questions
            .into_iter()
            .map(|q| RiskQuestionDto {
                key: q.key,
                text: q.text,
                options: q
                    .options
                    .into_iter()
                    .map(|o| RiskOptionDto { key: o.key, label: o.label, points: o.points })
                    .collect(),
            })
            .collect(),
    }
}

/// The risk questionnaire a change's author answers.
#[utoipa::path(
    get,
    path = "/api/v1/change-questionnaire",
    tag = "changes",
    responses((status = 200, body = RiskQuestionnaireDto))
)]
async fn get_questionnaire(State(state): State<AppState>, auth: Auth) -> Result<Json<RiskQuestionnaireDto>, ApiError> {
    Ok(Json(questionnaire_dto(op::questionnaire(&state, &auth).await?)))
}

/// Replaces the risk questionnaire (managers and admins). Answers saved on changes keep their
/// points until the change is edited.
#[utoipa::path(
    put,
    path = "/api/v1/change-questionnaire",
    tag = "changes",
    request_body = RiskQuestionnaireDto,
    responses((status = 200, body = RiskQuestionnaireDto))
)]
async fn put_questionnaire(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<RiskQuestionnaireDto>,
) -> Result<Json<RiskQuestionnaireDto>, ApiError> {
    let questions = body
        .questions
        .into_iter()
        .map(|q| Question {
            key: q.key,
            text: q.text,
            options: q
                .options
                .into_iter()
                .map(|o| RiskOption { key: o.key, label: o.label, points: o.points })
                .collect(),
        })
        .collect();
    let q = Questionnaire::new(questions)?;
    op::save_questionnaire(&state, &auth, &q).await?;
    Ok(Json(questionnaire_dto(q)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangeFeedQuery {
    /// The personal feed token from the change calendar page (`feed_url`).
    #[param(min_length = 1, max_length = 200)]
    pub token: Option<String>,
}

/// The change calendar as an iCalendar (RFC 5545) feed for calendar apps: changes from 30 days
/// ago to 180 ahead, and maintenance windows and freezes. Opened by a personal token in the URL
/// instead of a sign-in (403 without a valid one); a new personal calendar link revokes it.
#[utoipa::path(
    get,
    path = "/api/v1/changes/calendar.ics",
    tag = "changes",
    params(ChangeFeedQuery),
    security(()),
    responses((status = 200, content_type = "text/calendar", body = String))
)]
async fn calendar_feed(State(state): State<AppState>, Query(q): Query<ChangeFeedQuery>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let token = q.token.unwrap_or_default();
    let (changes, windows) = match op::feed(&state, &token).await {
        Ok(Some(x)) => x,
        Ok(None) => {
            let msg = "this calendar link is not valid; copy it again from the change calendar page";
            return ApiError::new(crate::error::ErrorCode::Forbidden, msg).into_response();
        }
        Err(e) => return e.into_response(),
    };
    let now = state.now();
    let mut cal = crate::links::Ics::new("Opsdeck changes");
    for c in &changes {
        let start = c.actual_start.or(c.planned_start);
        let end = c.actual_end.or(c.planned_end).or(start);
        if let (Some(s), Some(e)) = (start, end) {
            let summary = format!("{} {} ({})", c.key(), c.title, c.state.as_str());
            cal.event(&format!("{}@opsdeck", c.id), s, e.max(s), &summary, now);
        }
    }
    for w in &windows {
        let what = if w.kind == opsdeck_core::change::conflict::WindowKind::Freeze {
            "Change freeze"
        } else {
            "Maintenance window"
        };
        // Each occurrence of a recurring window is an event of its own.
        let uid = match w.rrule {
            Some(_) => format!("{}-{}@opsdeck", w.id, w.starts_at.timestamp()),
            None => format!("{}@opsdeck", w.id),
        };
        cal.event(&uid, w.starts_at, w.ends_at, &format!("{what}: {}", w.name), now);
    }
    cal.finish()
}

#[derive(Serialize, ToSchema)]
pub struct ChangeLockdownDto {
    /// Whether a lockdown is in force: changes that are not emergencies are on hold.
    pub active: bool,
    pub reason: Option<String>,
    pub started_at: Option<String>,
    pub started_by: Option<String>,
}

fn lockdown_dto(l: Option<opsdeck_store::change::lockdown::Lockdown>) -> ChangeLockdownDto {
    match l {
        Some(l) => ChangeLockdownDto {
            active: true,
            reason: Some(l.reason),
            started_at: Some(ts(l.started_at)),
            started_by: Some(l.started_by),
        },
        None => ChangeLockdownDto { active: false, reason: None, started_at: None, started_by: None },
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockdownBody {
    /// Why changes stop ("major incident INC-12").
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}

/// The change lockdown in force, if any.
#[utoipa::path(get, path = "/api/v1/change-lockdown", tag = "changes",
    responses((status = 200, body = ChangeLockdownDto)))]
async fn get_lockdown(State(state): State<AppState>, auth: Auth) -> Result<Json<ChangeLockdownDto>, ApiError> {
    Ok(Json(lockdown_dto(crate::operations::change_lockdown::current(&state, &auth).await?)))
}

/// Starts a change lockdown (managers and up): until it is lifted, every change that is not an
/// emergency is on hold, neither scheduled nor started (409 naming the lockdown). Work under
/// way can still be reviewed, closed or backed out. 409 when one is already in force.
#[utoipa::path(put, path = "/api/v1/change-lockdown", tag = "changes", request_body = LockdownBody,
    responses((status = 200, body = ChangeLockdownDto)))]
async fn start_lockdown(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<LockdownBody>,
) -> Result<Json<ChangeLockdownDto>, ApiError> {
    let l = crate::operations::change_lockdown::start(&state, &auth, &body.reason).await?;
    Ok(Json(lockdown_dto(Some(l))))
}

/// Lifts the change lockdown (managers and up); 409 when none is in force.
#[utoipa::path(delete, path = "/api/v1/change-lockdown", tag = "changes",
    responses((status = 204)))]
async fn lift_lockdown(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, ApiError> {
    crate::operations::change_lockdown::lift(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}
