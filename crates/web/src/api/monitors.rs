//! Monitors: CRUD, pause/resume, check now, history, uptime (bulk actions: `monitor_batch`).

use super::{List, cursor, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, double_option, parse_id};
use crate::operations::monitors::{self as op, Uptime};
use crate::operations::settings::base_url;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use opsdeck_core::Entity;
use opsdeck_core::monitor::{MonitorInput, MonitorState, MonitorType};
use opsdeck_core::role::Permission;
use opsdeck_store::monitor::{MonitorFilter, MonitorView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_monitors, create_monitor))
        .routes(routes!(get_monitor, update_monitor, delete_monitor))
        .routes(routes!(pause_monitor))
        .routes(routes!(resume_monitor))
        .routes(routes!(check_now))
        .routes(routes!(rotate_ping_url))
        .routes(routes!(monitor_results))
        .routes(routes!(monitor_events))
        .routes(routes!(monitor_uptime))
}

#[derive(Serialize, ToSchema)]
pub struct LastResultDto {
    pub at: String,
    /// True when the check passed (up or degraded).
    pub ok: bool,
    /// up, degraded, down or unknown.
    pub status: String,
    pub latency_ms: Option<f64>,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct MonitorDto {
    pub id: Uuid,
    pub name: String,
    pub service_id: Option<Uuid>,
    pub service_name: Option<String>,
    /// http, tcp, dns, icmp, tls, heartbeat or command.
    #[serde(rename = "type")]
    pub kind: String,
    pub interval_seconds: i32,
    pub timeout_seconds: i32,
    pub down_after: i32,
    pub up_after: i32,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// up, degraded, down, paused, maintenance or pending.
    pub state: String,
    pub state_since: String,
    pub paused: bool,
    /// For heartbeat monitors: the URL jobs call (also `/start` and `/fail`).
    pub ping_url: Option<String>,
    pub last_result: Option<LastResultDto>,
    /// How many of its locations must fail for it to go down.
    pub quorum: i32,
    /// Each location it runs from (`server`: the nodes) with its state and newest result.
    pub locations: Vec<super::monitor_locations::LocationDto>,
    pub next_run_at: String,
    pub created_at: String,
    pub updated_at: String,
}

impl MonitorDto {
    /// The monitor as `auth` may see it: secrets in the settings masked (write-only), the ping
    /// URL (a credential to report a job's success) only for those who configure monitors.
    pub fn new(v: MonitorView, base_url: &str, auth: &Auth) -> Self {
        let m = v.monitor;
        let ping_url =
            m.ping_token.filter(|_| auth.allows(Permission::Configure)).map(|t| format!("{base_url}/ping/{t}"));
        MonitorDto {
            id: m.id,
            name: m.spec.name,
            service_id: m.spec.service_id,
            service_name: v.service_name,
            kind: m.spec.kind.to_string(),
            interval_seconds: m.spec.interval_seconds,
            timeout_seconds: m.spec.timeout_seconds,
            down_after: m.spec.down_after,
            up_after: m.spec.up_after,
            tags: m.spec.tags,
            settings: m.spec.settings.redacted().to_json(),
            state: m.health.state.to_string(),
            state_since: ts(v.state_since),
            paused: m.paused,
            ping_url,
            last_result: v.last_result.map(|r| LastResultDto {
                at: ts(r.at),
                ok: r.status.is_ok(),
                status: r.status.as_str().into(),
                latency_ms: r.latency_ms,
                reason: r.reason,
            }),
            quorum: m.spec.quorum,
            locations: Vec::new(),
            next_run_at: ts(m.next_run_at),
            created_at: ts(m.created_at),
            updated_at: ts(m.updated_at),
        }
    }
}

/// The address people reach this server at: the configured public URL, else the request's Host.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMonitor {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    pub service_id: Option<Uuid>,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::api::schema::monitor_type)]
    pub kind: String,
    #[schema(minimum = 1, maximum = 604800)]
    pub interval_seconds: Option<i64>,
    #[schema(minimum = 1, maximum = 120)]
    pub timeout_seconds: Option<i64>,
    #[schema(minimum = 1, maximum = 20)]
    pub down_after: Option<i64>,
    #[schema(minimum = 1, maximum = 20)]
    pub up_after: Option<i64>,
    #[schema(schema_with = crate::api::schema::tags_opt)]
    pub tags: Option<Vec<String>>,
    /// Type-specific settings, e.g. `{"url": "https://…"}` for http.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Create it paused.
    pub paused: Option<bool>,
    /// Where it runs from: agents' locations, and `server` for the Opsdeck nodes (the
    /// default). Not for heartbeat monitors.
    #[schema(schema_with = crate::api::schema::locations_opt)]
    pub locations: Option<Vec<String>>,
    /// How many locations must fail for it to go down (default 1).
    #[schema(minimum = 1, maximum = 16)]
    pub quorum: Option<i64>,
}

impl CreateMonitor {
    /// The fields to validate, and whether to create it paused.
    pub fn into_input(self) -> (MonitorInput, bool) {
        let input = MonitorInput {
            name: Some(self.name),
            service_id: Some(self.service_id),
            kind: Some(self.kind),
            interval_seconds: self.interval_seconds,
            timeout_seconds: self.timeout_seconds,
            down_after: self.down_after,
            up_after: self.up_after,
            tags: self.tags,
            settings: Some(self.settings),
            locations: self.locations,
            quorum: self.quorum,
        };
        (input, self.paused.unwrap_or(false))
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMonitor {
    #[schema(schema_with = crate::api::schema::name_opt)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub service_id: Option<Option<Uuid>>,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::api::schema::monitor_type_opt)]
    pub kind: Option<String>,
    #[schema(minimum = 1, maximum = 604800)]
    pub interval_seconds: Option<i64>,
    #[schema(minimum = 1, maximum = 120)]
    pub timeout_seconds: Option<i64>,
    #[schema(minimum = 1, maximum = 20)]
    pub down_after: Option<i64>,
    #[schema(minimum = 1, maximum = 20)]
    pub up_after: Option<i64>,
    #[schema(schema_with = crate::api::schema::tags_opt)]
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    #[schema(schema_with = crate::api::schema::locations_opt)]
    pub locations: Option<Vec<String>>,
    #[schema(minimum = 1, maximum = 16)]
    pub quorum: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MonitorQuery {
    /// Search in names.
    pub q: Option<String>,
    #[param(schema_with = crate::api::schema::monitor_state_opt)]
    pub state: Option<String>,
    pub service_id: Option<Uuid>,
    #[serde(rename = "type")]
    #[param(schema_with = crate::api::schema::monitor_type_opt)]
    pub kind: Option<String>,
    pub tag: Option<String>,
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
    /// Admins only (403 otherwise): the settings with their secrets in clear, for a full
    /// `opsdeck export --with-secrets`. Everyone else gets secrets masked as `(set)`.
    pub include_secrets: Option<bool>,
}

impl MonitorQuery {
    pub fn filter(self) -> Result<MonitorFilter, ApiError> {
        let blank = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
        Ok(MonitorFilter {
            state: blank(self.state)
                .map(|s| {
                    MonitorState::parse(&s).ok_or_else(|| ApiError::bad_request(format!("state: unknown state {s:?}")))
                })
                .transpose()?,
            kind: blank(self.kind).map(|k| k.parse::<MonitorType>()).transpose()?,
            q: blank(self.q),
            service_id: self.service_id,
            tag: blank(self.tag),
            cursor: cursor(self.cursor.as_deref())?,
            limit: super::limit(self.limit)?,
        })
    }
}

/// Lists monitors by name.
#[utoipa::path(
    get,
    path = "/api/v1/monitors",
    tag = "monitors",
    params(MonitorQuery),
    responses((status = 200, body = List<MonitorDto>))
)]
async fn list_monitors(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<MonitorQuery>,
) -> Result<Json<List<MonitorDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let with_secrets = q.include_secrets == Some(true);
    if with_secrets {
        auth.require(Permission::Administer)?;
    }
    let page = state.db.list_monitors(&q.filter()?).await?;
    let base = base_url(&state, &headers).await;
    let mut located = crate::operations::monitor_locations::of_monitors(&state, &page.items).await?;
    Ok(Json(List::from_page(page, |v| {
        let clear = with_secrets.then(|| v.monitor.spec.settings.to_json());
        let locations = located.remove(&v.monitor.id).unwrap_or_default();
        let mut dto = MonitorDto::new(v, &base, &auth);
        dto.locations = locations.into_iter().map(Into::into).collect();
        if let Some(settings) = clear {
            dto.settings = settings;
        }
        dto
    })))
}

/// Creates a monitor; it is checked within one interval (spread to avoid bursts).
#[utoipa::path(
    post,
    path = "/api/v1/monitors",
    tag = "monitors",
    request_body = CreateMonitor,
    responses((status = 201, body = MonitorDto))
)]
async fn create_monitor(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CreateMonitor>,
) -> Result<(StatusCode, Json<MonitorDto>), ApiError> {
    auth.require(Permission::Configure)?;
    let (input, paused) = req.into_input();
    let v = op::create_monitor(&state, &auth, input, paused).await?;
    let base = base_url(&state, &headers).await;
    let dto = super::monitor_locations::one(&state, v, |v| MonitorDto::new(v, &base, &auth)).await?;
    Ok((StatusCode::CREATED, Json(dto)))
}

/// One monitor with its state and last result.
#[utoipa::path(
    get,
    path = "/api/v1/monitors/{id}",
    tag = "monitors",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MonitorDto))
)]
async fn get_monitor(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<MonitorDto>, ApiError> {
    auth.require(Permission::Read)?;
    let v = state.db.get_monitor(parse_id(Entity::Monitor, &id)?).await?;
    let base = base_url(&state, &headers).await;
    Ok(Json(super::monitor_locations::one(&state, v, |v| MonitorDto::new(v, &base, &auth)).await?))
}

/// Changes some fields of a monitor.
#[utoipa::path(
    patch,
    path = "/api/v1/monitors/{id}",
    tag = "monitors",
    params(("id" = Uuid, Path)),
    request_body = UpdateMonitor,
    responses((status = 200, body = MonitorDto))
)]
async fn update_monitor(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateMonitor>,
) -> Result<Json<MonitorDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let input = MonitorInput {
        name: req.name,
        service_id: req.service_id,
        kind: req.kind,
        interval_seconds: req.interval_seconds,
        timeout_seconds: req.timeout_seconds,
        down_after: req.down_after,
        up_after: req.up_after,
        tags: req.tags,
        settings: req.settings,
        locations: req.locations,
        quorum: req.quorum,
    };
    let v = op::update_monitor(&state, &auth, parse_id(Entity::Monitor, &id)?, input).await?;
    let base = base_url(&state, &headers).await;
    Ok(Json(super::monitor_locations::one(&state, v, |v| MonitorDto::new(v, &base, &auth)).await?))
}

/// Deletes a monitor and its history.
#[utoipa::path(
    delete,
    path = "/api/v1/monitors/{id}",
    tag = "monitors",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_monitor(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    op::delete_monitor(&state, &auth, parse_id(Entity::Monitor, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_paused(
    state: &AppState,
    auth: &Auth,
    headers: &HeaderMap,
    id: &str,
    paused: bool,
) -> Result<Json<MonitorDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let v = op::set_paused(state, auth, parse_id(Entity::Monitor, id)?, paused).await?;
    let base = base_url(state, headers).await;
    Ok(Json(super::monitor_locations::one(state, v, |v| MonitorDto::new(v, &base, auth)).await?))
}

/// Gives a heartbeat monitor a new ping URL; the old one stops working at once.
#[utoipa::path(
    post,
    path = "/api/v1/monitors/{id}/ping-url/rotate",
    tag = "monitors",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MonitorDto))
)]
async fn rotate_ping_url(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<MonitorDto>, ApiError> {
    let v = op::rotate_ping_url(&state, &auth, parse_id(Entity::Monitor, &id)?).await?;
    let base = base_url(&state, &headers).await;
    Ok(Json(super::monitor_locations::one(&state, v, |v| MonitorDto::new(v, &base, &auth)).await?))
}

/// Pauses a monitor: no checks, no alerts, time excluded from nothing (it is simply not watched).
#[utoipa::path(
    post,
    path = "/api/v1/monitors/{id}/pause",
    tag = "monitors",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MonitorDto))
)]
async fn pause_monitor(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<MonitorDto>, ApiError> {
    set_paused(&state, &auth, &headers, &id, true).await
}

/// Resumes a paused monitor; it is checked at once.
#[utoipa::path(
    post,
    path = "/api/v1/monitors/{id}/resume",
    tag = "monitors",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MonitorDto))
)]
async fn resume_monitor(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<MonitorDto>, ApiError> {
    set_paused(&state, &auth, &headers, &id, false).await
}

/// Runs the monitor's check as soon as possible (responders and up).
#[utoipa::path(
    post,
    path = "/api/v1/monitors/{id}/check",
    tag = "monitors",
    params(("id" = Uuid, Path)),
    responses((status = 202))
)]
async fn check_now(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Respond)?;
    op::check_now(&state, &auth, parse_id(Entity::Monitor, &id)?).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Serialize, ToSchema)]
pub struct ResultDto {
    pub at: String,
    pub ok: bool,
    pub status: String,
    pub latency_ms: Option<f64>,
    pub reason: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    /// At most this many, newest first (1–500, default 50).
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
}

/// Recent raw results, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/monitors/{id}/results",
    tag = "monitors",
    params(("id" = Uuid, Path), LimitQuery),
    responses((status = 200, body = List<ResultDto>))
)]
async fn monitor_results(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Json<List<ResultDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let id = parse_id(Entity::Monitor, &id)?;
    state.db.get_monitor(id).await?;
    let mut map = state.db.recent_results(&[id], super::limit(q.limit)?.unwrap_or(50)).await?;
    let items = map
        .remove(&id)
        .unwrap_or_default()
        .into_iter()
        .map(|r| ResultDto {
            at: ts(r.at),
            ok: r.status.is_ok(),
            status: r.status.as_str().into(),
            latency_ms: r.latency_ms,
            reason: r.reason,
        })
        .collect();
    Ok(Json(List { items, next_cursor: None }))
}

#[derive(Serialize, ToSchema)]
pub struct EventDto {
    pub at: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// State changes, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/monitors/{id}/events",
    tag = "monitors",
    params(("id" = Uuid, Path), LimitQuery),
    responses((status = 200, body = List<EventDto>))
)]
async fn monitor_events(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Json<List<EventDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let id = parse_id(Entity::Monitor, &id)?;
    state.db.get_monitor(id).await?;
    let items = state
        .db
        .monitor_events(Some(id), super::limit(q.limit)?.unwrap_or(50))
        .await?
        .into_iter()
        .map(|e| EventDto { at: ts(e.at), from: e.from.to_string(), to: e.to.to_string(), reason: e.reason })
        .collect();
    Ok(Json(List { items, next_cursor: None }))
}

#[derive(Serialize, ToSchema)]
pub struct UptimeDto {
    /// 24h, 7d, 30d, 90d or 365d.
    pub window: String,
    pub checks: i64,
    pub failures: i64,
    /// Share of checks that passed, excluding maintenance; null without checks.
    pub uptime_pct: Option<f64>,
    /// The same, counting maintenance time.
    pub uptime_raw_pct: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
}

impl From<Uptime> for UptimeDto {
    fn from(u: Uptime) -> Self {
        UptimeDto {
            window: u.window.into(),
            checks: u.checks,
            failures: u.failures,
            uptime_pct: u.uptime_pct,
            uptime_raw_pct: u.uptime_raw_pct,
            latency_p50_ms: u.latency_p50_ms,
            latency_p95_ms: u.latency_p95_ms,
            latency_p99_ms: u.latency_p99_ms,
        }
    }
}

/// Uptime and latency percentiles over 24 h, 7, 30, 90 and 365 days, from rollups.
#[utoipa::path(
    get,
    path = "/api/v1/monitors/{id}/uptime",
    tag = "monitors",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = List<UptimeDto>))
)]
async fn monitor_uptime(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<UptimeDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let id = parse_id(Entity::Monitor, &id)?;
    state.db.get_monitor(id).await?;
    let items = op::uptime_table(&state, id).await?.into_iter().map(UptimeDto::from).collect();
    Ok(Json(List { items, next_cursor: None }))
}
