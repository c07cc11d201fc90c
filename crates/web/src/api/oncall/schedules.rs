//! Schedules.

use super::*;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = crate::api::schema::description)]
    pub description: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[schema(schema_with = crate::api::schema::timezone)]
    pub timezone: String,
    pub team_id: Option<Uuid>,
    /// Lowest first. Each: `{"name", "users": [ids], "start": "2026-11-23T09:00:00" (local),
    /// "length": {"unit": "days" | "weeks" | "hours", "count": 1}, "restrictions":
    /// [{"days": ["Mon"], "start": "09:00:00", "end": "17:00:00"}]}`.
    #[schema(value_type = Vec<crate::api::schema::LayerSchema>, max_items = 10)]
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

pub(super) async fn schedule_dto(state: &AppState, s: Schedule, base: &str) -> Result<ScheduleDto, ApiError> {
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

pub(super) fn schedule_spec(b: ScheduleBody) -> ScheduleSpec {
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
pub(super) async fn list_schedules(
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
#[utoipa::path(
    post,
    path = "/api/v1/schedules",
    tag = "oncall",
    request_body = ScheduleBody,
    responses((status = 201, body = ScheduleDto))
)]
pub(super) async fn create_schedule(
    State(state): State<AppState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    ApiJson(b): ApiJson<ScheduleBody>,
) -> Result<(StatusCode, Json<ScheduleDto>), ApiError> {
    let s = op::create_schedule(&state, &auth, schedule_spec(b)).await?;
    let base = crate::operations::settings::base_url(&state, &headers).await;
    Ok((StatusCode::CREATED, Json(schedule_dto(&state, s, &base).await?)))
}

#[utoipa::path(
    get,
    path = "/api/v1/schedules/{id}",
    tag = "oncall",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ScheduleDto))
)]
pub(super) async fn get_schedule(
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
#[utoipa::path(
    put,
    path = "/api/v1/schedules/{id}",
    tag = "oncall",
    params(("id" = Uuid, Path)),
    request_body = ScheduleBody,
    responses((status = 200, body = ScheduleDto))
)]
pub(super) async fn put_schedule(
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

#[utoipa::path(
    delete,
    path = "/api/v1/schedules/{id}",
    tag = "oncall",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
pub(super) async fn delete_schedule(
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
    #[param(schema_with = crate::api::schema::date_time_opt)]
    pub from: Option<String>,
    /// RFC 3339; default two weeks after `from` (at most 120 days).
    #[param(schema_with = crate::api::schema::date_time_opt)]
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
pub(super) async fn shifts(
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
    let to = match q.to.as_deref() {
        Some(s) => parse_time("to", s)?,
        None => from
            .checked_add_signed(Duration::days(14))
            .ok_or_else(|| ApiError::invalid("from", "is too far in the future"))?,
    };
    if to <= from {
        return Err(ApiError::bad_request("to: must be after from"));
    }
    if to - from > Duration::days(oncall::SPAN_MAX_DAYS) {
        return Err(ApiError::bad_request(format!("to: at most {} days after from", oncall::SPAN_MAX_DAYS)));
    }
    Ok((from, to))
}

#[utoipa::path(
    get,
    path = "/api/v1/schedules/{id}/timeline",
    tag = "oncall",
    params(("id" = Uuid, Path), RangeQuery),
    responses((status = 200, body = List<ShiftDto>))
)]
pub(super) async fn schedule_timeline(
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
    #[schema(schema_with = crate::api::schema::date_time)]
    pub start: String,
    #[schema(schema_with = crate::api::schema::date_time)]
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
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/overrides",
    tag = "oncall",
    params(("id" = Uuid, Path)),
    request_body = OverrideBody,
    responses((status = 201, body = OverrideDto))
)]
pub(super) async fn add_override(
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

#[utoipa::path(
    delete,
    path = "/api/v1/schedules/{id}/overrides/{override_id}",
    tag = "oncall",
    params(("id" = Uuid, Path), ("override_id" = Uuid, Path)),
    responses((status = 204))
)]
pub(super) async fn delete_override(
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
    #[param(schema_with = crate::api::schema::date_time_opt)]
    pub at: Option<String>,
}

/// Who is on call now, or at `at`: for a service (per escalation level), a schedule or a team.
pub(super) async fn who_is_on_call(state: &AppState, q: &OnCallQuery) -> Result<Vec<OnCallDto>, ApiError> {
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

#[utoipa::path(
    get,
    path = "/api/v1/oncall",
    tag = "oncall",
    params(OnCallQuery),
    responses((status = 200, body = List<OnCallDto>))
)]
pub(super) async fn oncall_now(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<OnCallQuery>,
) -> Result<Json<List<OnCallDto>>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(List { items: who_is_on_call(&state, &q).await?, next_cursor: None }))
}
