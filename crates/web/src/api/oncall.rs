//! On-call: schedules with layers and overrides, who is on call, escalation policies, people's
//! contact methods and notification rules, broadcast channels, and each incident's delivery log.

use super::{List, ts};
use crate::AppState;
use crate::api::incidents::{find_incident, service_ref};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::operations::oncall::{self as op, names, via};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::Entity;
use opsdeck_core::escalation::{ChannelConfig, ChannelSpec, ContactSpec, Level, PolicySpec, RuleSpec};
use opsdeck_core::oncall::{self, Layer, OverrideSpec, ScheduleSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::oncall::{Policy, Schedule};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(get_schedule, put_schedule, delete_schedule))
        .routes(routes!(schedule_timeline))
        .routes(routes!(add_override))
        .routes(routes!(delete_override))
        .routes(routes!(oncall_now))
        .routes(routes!(list_policies, create_policy))
        .routes(routes!(get_policy, put_policy, delete_policy))
        .routes(routes!(set_service_policy))
        .routes(routes!(list_contacts, add_contact))
        .routes(routes!(delete_contact))
        .routes(routes!(list_rules, add_rule))
        .routes(routes!(delete_rule))
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(delete_channel))
        .routes(routes!(test_channel))
        .routes(routes!(incident_notifications))
}

fn parse_time(field: &str, s: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::invalid(field, "must be an RFC 3339 time such as 2026-11-22T09:00:00Z"))
}

// ---- schedules ------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    pub team_id: Option<Uuid>,
    /// Lowest first. Each: `{"name", "users": [ids], "start": "2026-11-23T09:00:00" (local),
    /// "length": {"unit": "days" | "weeks" | "hours", "count": 1}, "restrictions":
    /// [{"days": ["Mon"], "start": "09:00:00", "end": "17:00:00"}]}`.
    #[schema(value_type = Vec<Object>)]
    pub layers: Vec<Layer>,
}

#[derive(Serialize, ToSchema)]
pub struct ScheduleDto {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub timezone: String,
    pub team_id: Option<Uuid>,
    #[schema(value_type = Vec<Object>)]
    pub layers: Vec<Layer>,
    /// The iCalendar feed of the final schedule (keep it secret: anyone with it can read it).
    pub calendar_url: String,
    /// Who is on call right now.
    pub on_call_now: Option<OnCallDto>,
}

#[derive(Serialize, ToSchema, Clone)]
pub struct OnCallDto {
    pub user_id: Uuid,
    pub username: String,
    /// 1-based escalation level (for service on-call).
    pub level: i32,
    pub schedule_id: Option<Uuid>,
    /// `layer N`, `override`, or `direct` for a user target.
    pub via: String,
}

impl From<op::OnCall> for OnCallDto {
    fn from(o: op::OnCall) -> Self {
        OnCallDto { user_id: o.user_id, username: o.username, level: o.level, schedule_id: o.schedule_id, via: o.via }
    }
}

async fn schedule_dto(state: &AppState, s: Schedule, base: &str) -> Result<ScheduleDto, ApiError> {
    let now = state.now();
    let overrides = state.db.overrides(s.id, now - Duration::days(1), now + Duration::days(1)).await?;
    let who = oncall::on_call(&s.spec, &overrides, now);
    let on_call_now = match who {
        Some((u, src)) => {
            let n = names(state, &[u]).await?;
            Some(OnCallDto {
                user_id: u,
                username: n.get(&u).cloned().unwrap_or_default(),
                level: 1,
                schedule_id: Some(s.id),
                via: via(&s.spec, src),
            })
        }
        None => None,
    };
    Ok(ScheduleDto {
        calendar_url: format!("{base}/schedules/{}/calendar.ics?token={}", s.id, s.feed_token),
        id: s.id,
        name: s.spec.name,
        description: s.spec.description,
        timezone: s.spec.timezone,
        team_id: s.spec.team_id,
        layers: s.spec.layers,
        on_call_now,
    })
}

fn schedule_spec(b: ScheduleBody) -> ScheduleSpec {
    ScheduleSpec {
        name: b.name,
        description: b.description,
        timezone: b.timezone,
        team_id: b.team_id,
        layers: b.layers,
    }
}

/// Every schedule.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "oncall", responses((status = 200, body = List<ScheduleDto>)))]
async fn list_schedules(
    State(state): State<AppState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
) -> Result<Json<List<ScheduleDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let base = crate::operations::settings::base_url(&state, &headers).await;
    let mut items = Vec::new();
    for s in state.db.list_schedules().await? {
        items.push(schedule_dto(&state, s, &base).await?);
    }
    Ok(Json(List { items, next_cursor: None }))
}

/// Creates a schedule (manager or admin).
#[utoipa::path(post, path = "/api/v1/schedules", tag = "oncall", request_body = ScheduleBody,
    responses((status = 201, body = ScheduleDto), (status = 422, body = super::ErrorBody)))]
async fn create_schedule(
    State(state): State<AppState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    ApiJson(b): ApiJson<ScheduleBody>,
) -> Result<(StatusCode, Json<ScheduleDto>), ApiError> {
    let s = op::create_schedule(&state, &auth, schedule_spec(b)).await?;
    let base = crate::operations::settings::base_url(&state, &headers).await;
    Ok((StatusCode::CREATED, Json(schedule_dto(&state, s, &base).await?)))
}

#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "oncall", params(("id" = Uuid, Path)),
    responses((status = 200, body = ScheduleDto), (status = 404, body = super::ErrorBody)))]
async fn get_schedule(
    State(state): State<AppState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ScheduleDto>, ApiError> {
    auth.require(Permission::Read)?;
    let s = state.db.get_schedule(parse_id(Entity::Schedule, &id)?).await?;
    let base = crate::operations::settings::base_url(&state, &headers).await;
    Ok(Json(schedule_dto(&state, s, &base).await?))
}

/// Replaces a schedule's name, zone, team and layers.
#[utoipa::path(put, path = "/api/v1/schedules/{id}", tag = "oncall", params(("id" = Uuid, Path)), request_body = ScheduleBody,
    responses((status = 200, body = ScheduleDto), (status = 422, body = super::ErrorBody)))]
async fn put_schedule(
    State(state): State<AppState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ScheduleBody>,
) -> Result<Json<ScheduleDto>, ApiError> {
    let s = op::update_schedule(&state, &auth, parse_id(Entity::Schedule, &id)?, schedule_spec(b)).await?;
    let base = crate::operations::settings::base_url(&state, &headers).await;
    Ok(Json(schedule_dto(&state, s, &base).await?))
}

#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "oncall", params(("id" = Uuid, Path)), responses((status = 204)))]
async fn delete_schedule(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete_schedule(&state, &auth, parse_id(Entity::Schedule, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// RFC 3339; default now.
    pub from: Option<String>,
    /// RFC 3339; default two weeks after `from` (at most 120 days).
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ShiftDto {
    pub start: String,
    pub end: String,
    /// Null for a gap in coverage.
    pub user_id: Option<Uuid>,
    pub username: Option<String>,
    /// `layer NAME`, `override` or `gap`.
    pub via: String,
    pub gap: bool,
}

/// The final timeline: who is on call when, gaps included.
async fn shifts(
    state: &AppState,
    s: &Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ShiftDto>, ApiError> {
    Ok(op::shifts(state, s, from, to)
        .await?
        .into_iter()
        .map(|t| ShiftDto {
            start: ts(t.start),
            end: ts(t.end),
            gap: t.user_id.is_none(),
            user_id: t.user_id,
            username: t.username,
            via: t.via,
        })
        .collect())
}

pub fn range(state: &AppState, q: &RangeQuery) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let from = q.from.as_deref().map(|s| parse_time("from", s)).transpose()?.unwrap_or_else(|| state.now());
    let to = q.to.as_deref().map(|s| parse_time("to", s)).transpose()?.unwrap_or(from + Duration::days(14));
    if to <= from {
        return Err(ApiError::bad_request("to: must be after from"));
    }
    if to - from > Duration::days(oncall::SPAN_MAX_DAYS) {
        return Err(ApiError::bad_request(format!("to: at most {} days after from", oncall::SPAN_MAX_DAYS)));
    }
    Ok((from, to))
}

#[utoipa::path(get, path = "/api/v1/schedules/{id}/timeline", tag = "oncall", params(("id" = Uuid, Path), RangeQuery),
    responses((status = 200, body = List<ShiftDto>)))]
async fn schedule_timeline(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<List<ShiftDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let s = state.db.get_schedule(parse_id(Entity::Schedule, &id)?).await?;
    let (from, to) = range(&state, &q)?;
    Ok(Json(List { items: shifts(&state, &s, from, to).await?, next_cursor: None }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    pub user_id: Uuid,
    pub start: String,
    pub end: String,
}

#[derive(Serialize, ToSchema)]
pub struct OverrideDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub start: String,
    pub end: String,
}

/// Someone covers a range (responder or higher).
#[utoipa::path(post, path = "/api/v1/schedules/{id}/overrides", tag = "oncall", params(("id" = Uuid, Path)), request_body = OverrideBody,
    responses((status = 201, body = OverrideDto), (status = 422, body = super::ErrorBody)))]
async fn add_override(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<OverrideBody>,
) -> Result<(StatusCode, Json<OverrideDto>), ApiError> {
    let sid = parse_id(Entity::Schedule, &id)?;
    let spec = OverrideSpec::new(b.user_id, parse_time("start", &b.start)?, parse_time("end", &b.end)?)?;
    let o = op::add_override(&state, &auth, sid, spec).await?;
    Ok((StatusCode::CREATED, Json(OverrideDto { id: o.id, user_id: o.user_id, start: ts(o.start), end: ts(o.end) })))
}

#[utoipa::path(delete, path = "/api/v1/schedules/{id}/overrides/{override_id}", tag = "oncall",
    params(("id" = Uuid, Path), ("override_id" = Uuid, Path)), responses((status = 204)))]
async fn delete_override(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, oid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    op::delete_override(&state, &auth, parse_id(Entity::Schedule, &id)?, parse_id(Entity::Override, &oid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnCallQuery {
    /// A service id or slug: everyone its escalation policy reaches, by level.
    pub service_id: Option<String>,
    pub schedule_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    /// RFC 3339; default now.
    pub at: Option<String>,
}

/// Who is on call now, or at `at`: for a service (per escalation level), a schedule or a team.
async fn who_is_on_call(state: &AppState, q: &OnCallQuery) -> Result<Vec<OnCallDto>, ApiError> {
    let at = q.at.as_deref().map(|s| parse_time("at", s)).transpose()?.unwrap_or_else(|| state.now());
    let scope = if let Some(raw) = q.service_id.as_deref() {
        let sid = service_ref(state, Some(raw), "service_id")
            .await?
            .ok_or_else(|| ApiError::invalid("service_id", "name a service"))?;
        op::Scope::Service(sid)
    } else {
        match (q.schedule_id, q.team_id) {
            (Some(s), _) => op::Scope::Schedule(s),
            (None, Some(t)) => op::Scope::Team(t),
            (None, None) => op::Scope::All,
        }
    };
    Ok(op::who_is_on_call(state, scope, at).await?.into_iter().map(OnCallDto::from).collect())
}

#[utoipa::path(get, path = "/api/v1/oncall", tag = "oncall", params(OnCallQuery), responses((status = 200, body = List<OnCallDto>)))]
async fn oncall_now(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<OnCallQuery>,
) -> Result<Json<List<OnCallDto>>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(List { items: who_is_on_call(&state, &q).await?, next_cursor: None }))
}

// ---- escalation policies --------------------------------------------------------------------

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// How many times the policy runs through its levels (1 = once).
    #[serde(default = "one")]
    pub loops: u32,
    /// `[{"delay_minutes": 15, "targets": [{"type": "schedule" | "user" | "team", "id": "…"}]}]`.
    #[schema(value_type = Vec<Object>)]
    pub levels: Vec<Level>,
}

fn one() -> u32 {
    1
}

#[derive(Serialize, ToSchema)]
pub struct PolicyDto {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub loops: u32,
    #[schema(value_type = Vec<Object>)]
    pub levels: Vec<Level>,
}

impl From<Policy> for PolicyDto {
    fn from(p: Policy) -> Self {
        PolicyDto {
            id: p.id,
            name: p.spec.name,
            description: p.spec.description,
            loops: p.spec.loops,
            levels: p.spec.levels,
        }
    }
}

fn policy_spec(b: PolicyBody) -> PolicySpec {
    PolicySpec { name: b.name, description: b.description, loops: b.loops, levels: b.levels }
}

#[utoipa::path(get, path = "/api/v1/escalation-policies", tag = "oncall", responses((status = 200, body = List<PolicyDto>)))]
async fn list_policies(State(state): State<AppState>, auth: Auth) -> Result<Json<List<PolicyDto>>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(List {
        items: state.db.list_policies().await?.into_iter().map(PolicyDto::from).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(post, path = "/api/v1/escalation-policies", tag = "oncall", request_body = PolicyBody,
    responses((status = 201, body = PolicyDto), (status = 422, body = super::ErrorBody)))]
async fn create_policy(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<PolicyBody>,
) -> Result<(StatusCode, Json<PolicyDto>), ApiError> {
    Ok((StatusCode::CREATED, Json(op::create_policy(&state, &auth, policy_spec(b)).await?.into())))
}

#[utoipa::path(get, path = "/api/v1/escalation-policies/{id}", tag = "oncall", params(("id" = Uuid, Path)), responses((status = 200, body = PolicyDto)))]
async fn get_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<PolicyDto>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(state.db.get_policy(parse_id(Entity::EscalationPolicy, &id)?).await?.into()))
}

#[utoipa::path(put, path = "/api/v1/escalation-policies/{id}", tag = "oncall", params(("id" = Uuid, Path)), request_body = PolicyBody,
    responses((status = 200, body = PolicyDto)))]
async fn put_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PolicyBody>,
) -> Result<Json<PolicyDto>, ApiError> {
    let id = parse_id(Entity::EscalationPolicy, &id)?;
    Ok(Json(op::update_policy(&state, &auth, id, policy_spec(b)).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/escalation-policies/{id}", tag = "oncall", params(("id" = Uuid, Path)), responses((status = 204)))]
async fn delete_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete_policy(&state, &auth, parse_id(Entity::EscalationPolicy, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePolicyBody {
    /// Null clears it.
    pub policy_id: Option<Uuid>,
}

/// Sets the escalation policy of a service.
#[utoipa::path(put, path = "/api/v1/services/{id}/escalation-policy", tag = "oncall", params(("id" = String, Path)),
    request_body = ServicePolicyBody, responses((status = 204), (status = 422, body = super::ErrorBody)))]
async fn set_service_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ServicePolicyBody>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    let sid =
        service_ref(&state, Some(&id), "service_id").await?.ok_or_else(|| ApiError::not_found(Entity::Service))?;
    op::set_service_policy(&state, &auth, sid, b.policy_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- contact methods and rules ---------------------------------------------------------------

/// `me` or a user id; people manage their own, admins anyone's.
fn user_scope(auth: &Auth, raw: &str) -> Result<Uuid, ApiError> {
    let id = if raw == "me" { auth.user.id } else { parse_id(Entity::User, raw)? };
    if id != auth.user.id {
        auth.require(Permission::Administer)?;
    }
    Ok(id)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    /// email, slack, teams, discord or webhook.
    pub kind: String,
    /// An e-mail address or a webhook URL.
    pub address: String,
    #[serde(default)]
    pub label: String,
}

#[utoipa::path(get, path = "/api/v1/users/{id}/contact-methods", tag = "oncall", params(("id" = String, Path)),
    responses((status = 200, body = List<Object>)))]
async fn list_contacts(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<serde_json::Value>>, ApiError> {
    auth.require(Permission::Read)?;
    let uid = user_scope(&auth, &id)?;
    let items =
        state.db.contact_methods(uid).await?.into_iter().map(|c| serde_json::to_value(c).unwrap_or_default()).collect();
    Ok(Json(List { items, next_cursor: None }))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/contact-methods", tag = "oncall", params(("id" = String, Path)), request_body = ContactBody,
    responses((status = 201, body = Object), (status = 422, body = super::ErrorBody)))]
async fn add_contact(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ContactBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    auth.require(Permission::Read)?;
    let uid = user_scope(&auth, &id)?;
    let c = op::add_contact_method(&state, &auth, uid, ContactSpec::new(&b.kind, &b.address, &b.label)?).await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(c).unwrap_or_default())))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}/contact-methods/{contact_id}", tag = "oncall",
    params(("id" = String, Path), ("contact_id" = Uuid, Path)), responses((status = 204)))]
async fn delete_contact(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, cid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Read)?;
    let uid = user_scope(&auth, &id)?;
    op::delete_contact_method(&state, &auth, uid, parse_id(Entity::ContactMethod, &cid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    pub contact_method_id: Uuid,
    /// Minutes after the escalation reaches this person (0 = at once).
    pub delay_minutes: i32,
}

#[utoipa::path(get, path = "/api/v1/users/{id}/notification-rules", tag = "oncall", params(("id" = String, Path)),
    responses((status = 200, body = List<Object>)))]
async fn list_rules(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<serde_json::Value>>, ApiError> {
    auth.require(Permission::Read)?;
    let uid = user_scope(&auth, &id)?;
    let items = state
        .db
        .notification_rules(uid)
        .await?
        .into_iter()
        .map(|c| serde_json::to_value(c).unwrap_or_default())
        .collect();
    Ok(Json(List { items, next_cursor: None }))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/notification-rules", tag = "oncall", params(("id" = String, Path)), request_body = RuleBody,
    responses((status = 201, body = Object), (status = 422, body = super::ErrorBody)))]
async fn add_rule(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RuleBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    auth.require(Permission::Read)?;
    let uid = user_scope(&auth, &id)?;
    let r =
        op::add_notification_rule(&state, &auth, uid, RuleSpec::new(b.contact_method_id, i64::from(b.delay_minutes))?)
            .await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(r).unwrap_or_default())))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}/notification-rules/{rule_id}", tag = "oncall",
    params(("id" = String, Path), ("rule_id" = Uuid, Path)), responses((status = 204)))]
async fn delete_rule(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, rid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Read)?;
    let uid = user_scope(&auth, &id)?;
    op::delete_notification_rule(&state, &auth, uid, parse_id(Entity::NotificationRule, &rid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- channels -------------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelBody {
    pub name: String,
    /// email, slack, teams, discord, webhook or pagerduty.
    pub kind: String,
    /// `to` (email), `url`, `secret` and `headers` (webhook), `routing_key` (pagerduty),
    /// `subject_template` / `body_template`.
    #[schema(value_type = Object)]
    pub config: ChannelConfig,
    /// The service whose incidents it announces.
    pub service_id: Option<String>,
    pub team_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct ChannelDto {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub service_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    /// The config without its secret.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

fn channel_dto(c: opsdeck_store::oncall::Channel) -> ChannelDto {
    let mut config = serde_json::to_value(&c.config).unwrap_or_default();
    if let Some(o) = config.as_object_mut()
        && o.contains_key("secret")
    {
        o.insert("secret".into(), serde_json::Value::String("(set)".into()));
    }
    ChannelDto {
        id: c.id,
        name: c.name,
        kind: c.kind.as_str().into(),
        service_id: c.service_id,
        team_id: c.team_id,
        config,
    }
}

#[utoipa::path(get, path = "/api/v1/channels", tag = "oncall", responses((status = 200, body = List<ChannelDto>)))]
async fn list_channels(State(state): State<AppState>, auth: Auth) -> Result<Json<List<ChannelDto>>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(List {
        items: state.db.list_channels(None).await?.into_iter().map(channel_dto).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(post, path = "/api/v1/channels", tag = "oncall", request_body = ChannelBody,
    responses((status = 201, body = ChannelDto), (status = 422, body = super::ErrorBody)))]
async fn create_channel(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<ChannelBody>,
) -> Result<(StatusCode, Json<ChannelDto>), ApiError> {
    auth.require(Permission::Configure)?;
    let service_id = service_ref(&state, b.service_id.as_deref(), "service_id").await?;
    let spec = ChannelSpec::new(&b.name, &b.kind, b.config, service_id, b.team_id)?;
    let c = op::create_channel(&state, &auth, spec).await?;
    Ok((StatusCode::CREATED, Json(channel_dto(c))))
}

#[utoipa::path(delete, path = "/api/v1/channels/{id}", tag = "oncall", params(("id" = Uuid, Path)), responses((status = 204)))]
async fn delete_channel(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete_channel(&state, &auth, parse_id(Entity::Channel, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct TestResult {
    pub ok: bool,
    pub error: Option<String>,
}

/// Sends a test notification through a channel now.
#[utoipa::path(post, path = "/api/v1/channels/{id}/test", tag = "oncall", params(("id" = Uuid, Path)), responses((status = 200, body = TestResult)))]
async fn test_channel(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    Ok(Json(match op::test_channel(&state, &auth, parse_id(Entity::Channel, &id)?).await? {
        Ok(_) => TestResult { ok: true, error: None },
        Err(e) => TestResult { ok: false, error: Some(e) },
    }))
}

// ---- delivery log ---------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct DeliveryDto {
    pub id: Uuid,
    /// 1-based escalation level.
    pub level: i32,
    /// email, slack, teams, discord, webhook or pagerduty.
    pub channel: String,
    pub target: String,
    /// pending, sent, failed or cancelled.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<String>,
    pub sent_at: Option<String>,
    pub created_at: String,
}

pub async fn deliveries(state: &AppState, incident_id: Uuid) -> Result<Vec<DeliveryDto>, ApiError> {
    Ok(state
        .db
        .deliveries(incident_id)
        .await?
        .into_iter()
        .map(|d| DeliveryDto {
            id: d.id,
            level: d.level + 1,
            channel: d.channel,
            target: d.target,
            next_attempt_at: (d.status == "pending").then(|| ts(opsdeck_core::clock::from_millis(d.next_attempt_at))),
            status: d.status,
            attempts: d.attempts,
            last_error: d.last_error,
            sent_at: d.sent_at.map(|t| ts(opsdeck_core::clock::from_millis(t))),
            created_at: ts(opsdeck_core::clock::from_millis(d.created_at)),
        })
        .collect())
}

/// The incident's delivery log: every notification with its status and attempts.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/notifications", tag = "oncall", params(("id" = String, Path)),
    responses((status = 200, body = List<DeliveryDto>)))]
async fn incident_notifications(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<DeliveryDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let inc = find_incident(&state, &id).await?;
    Ok(Json(List { items: deliveries(&state, inc.id).await?, next_cursor: None }))
}
