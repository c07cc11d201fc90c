//! Monitors: CRUD, pause/resume, check now, history, uptime; bulk actions.

use super::{List, cursor, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, double_option, parse_id};
use crate::operations::settings::base_url;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Duration;
use opsdeck_core::Entity;
use opsdeck_core::monitor::{MonitorInput, MonitorSpec, MonitorState, MonitorType};
use opsdeck_core::role::Permission;
use opsdeck_store::monitor::{MonitorFilter, MonitorView, StateChange};
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
        .routes(routes!(monitor_results))
        .routes(routes!(monitor_events))
        .routes(routes!(monitor_uptime))
        .routes(routes!(bulk))
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
    pub next_run_at: String,
    pub created_at: String,
    pub updated_at: String,
}

impl MonitorDto {
    pub fn new(v: MonitorView, base_url: &str) -> Self {
        let m = v.monitor;
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
            settings: m.spec.settings.to_json(),
            state: m.health.state.to_string(),
            state_since: ts(v.state_since),
            paused: m.paused,
            ping_url: m.ping_token.map(|t| format!("{base_url}/ping/{t}")),
            last_result: v.last_result.map(|r| LastResultDto {
                at: ts(r.at),
                ok: r.status.is_ok(),
                status: r.status.as_str().into(),
                latency_ms: r.latency_ms,
                reason: r.reason,
            }),
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
    pub name: String,
    pub service_id: Option<Uuid>,
    #[serde(rename = "type")]
    pub kind: String,
    pub interval_seconds: Option<i64>,
    pub timeout_seconds: Option<i64>,
    pub down_after: Option<i64>,
    pub up_after: Option<i64>,
    pub tags: Option<Vec<String>>,
    /// Type-specific settings, e.g. `{"url": "https://…"}` for http.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Create it paused.
    pub paused: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMonitor {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub service_id: Option<Option<Uuid>>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub interval_seconds: Option<i64>,
    pub timeout_seconds: Option<i64>,
    pub down_after: Option<i64>,
    pub up_after: Option<i64>,
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
}

/// Nagios-plugin monitors run programs on the server: only admins may define them.
pub fn require_for_kind(auth: &Auth, kind: MonitorType) -> Result<(), ApiError> {
    auth.require(if kind == MonitorType::Command { Permission::Administer } else { Permission::Configure })
}

pub async fn publish_changes(state: &AppState, changes: &[StateChange]) {
    crate::on_monitor_changes(state, changes).await;
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MonitorQuery {
    /// Search in names.
    pub q: Option<String>,
    pub state: Option<String>,
    pub service_id: Option<Uuid>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub tag: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
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
            limit: self.limit,
        })
    }
}

/// Lists monitors by name.
#[utoipa::path(get, path = "/api/v1/monitors", tag = "monitors", params(MonitorQuery), responses((status = 200, body = List<MonitorDto>)))]
async fn list_monitors(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<MonitorQuery>,
) -> Result<Json<List<MonitorDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let page = state.db.list_monitors(&q.filter()?).await?;
    let base = base_url(&state, &headers).await;
    Ok(Json(List::from_page(page, |v| MonitorDto::new(v, &base))))
}

/// Creates a monitor; it is checked within one interval (spread to avoid bursts).
#[utoipa::path(post, path = "/api/v1/monitors", tag = "monitors", request_body = CreateMonitor,
    responses((status = 201, body = MonitorDto), (status = 422, body = super::ErrorBody)))]
async fn create_monitor(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CreateMonitor>,
) -> Result<(StatusCode, Json<MonitorDto>), ApiError> {
    auth.require(Permission::Configure)?;
    let spec = MonitorSpec::create(MonitorInput {
        name: Some(req.name),
        service_id: Some(req.service_id),
        kind: Some(req.kind),
        interval_seconds: req.interval_seconds,
        timeout_seconds: req.timeout_seconds,
        down_after: req.down_after,
        up_after: req.up_after,
        tags: req.tags,
        settings: Some(req.settings),
    })?;
    require_for_kind(&auth, spec.kind)?;
    state.db.check_monitor_refs(&spec).await?;
    let v = state.db.create_monitor(&auth.actor(), state.now(), spec, req.paused.unwrap_or(false)).await?;
    state.events.publish("monitor.created", Some(v.monitor.id), format!("Monitor {} created", v.monitor.spec.name));
    Ok((StatusCode::CREATED, Json(MonitorDto::new(v, &base_url(&state, &headers).await))))
}

/// One monitor with its state and last result.
#[utoipa::path(get, path = "/api/v1/monitors/{id}", tag = "monitors", params(("id" = Uuid, Path)),
    responses((status = 200, body = MonitorDto), (status = 404, body = super::ErrorBody)))]
async fn get_monitor(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<MonitorDto>, ApiError> {
    auth.require(Permission::Read)?;
    let v = state.db.get_monitor(parse_id(Entity::Monitor, &id)?).await?;
    Ok(Json(MonitorDto::new(v, &base_url(&state, &headers).await)))
}

/// Changes some fields of a monitor.
#[utoipa::path(patch, path = "/api/v1/monitors/{id}", tag = "monitors", params(("id" = Uuid, Path)), request_body = UpdateMonitor,
    responses((status = 200, body = MonitorDto), (status = 422, body = super::ErrorBody)))]
async fn update_monitor(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateMonitor>,
) -> Result<Json<MonitorDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let current = state.db.get_monitor(parse_id(Entity::Monitor, &id)?).await?.monitor;
    require_for_kind(&auth, current.spec.kind)?;
    let spec = current.spec.clone().apply(MonitorInput {
        name: req.name,
        service_id: req.service_id,
        kind: req.kind,
        interval_seconds: req.interval_seconds,
        timeout_seconds: req.timeout_seconds,
        down_after: req.down_after,
        up_after: req.up_after,
        tags: req.tags,
        settings: req.settings,
    })?;
    require_for_kind(&auth, spec.kind)?;
    state.db.check_monitor_refs(&spec).await?;
    let v = state.db.update_monitor(&auth.actor(), state.now(), current.id, spec).await?;
    state.events.publish("monitor.updated", Some(v.monitor.id), format!("Monitor {} updated", v.monitor.spec.name));
    Ok(Json(MonitorDto::new(v, &base_url(&state, &headers).await)))
}

/// Deletes a monitor and its history.
#[utoipa::path(delete, path = "/api/v1/monitors/{id}", tag = "monitors", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = super::ErrorBody)))]
async fn delete_monitor(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    let m = state.db.get_monitor(parse_id(Entity::Monitor, &id)?).await?.monitor;
    require_for_kind(&auth, m.spec.kind)?;
    state.db.delete_monitor(&auth.actor(), state.now(), m.id).await?;
    state.events.publish("monitor.deleted", Some(m.id), format!("Monitor {} deleted", m.spec.name));
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
    let id = parse_id(Entity::Monitor, id)?;
    if let Some(change) = state.db.set_monitor_paused(&auth.actor(), state.now(), id, paused).await? {
        publish_changes(state, &[change]).await;
    }
    Ok(Json(MonitorDto::new(state.db.get_monitor(id).await?, &base_url(state, headers).await)))
}

/// Pauses a monitor: no checks, no alerts, time excluded from nothing (it is simply not watched).
#[utoipa::path(post, path = "/api/v1/monitors/{id}/pause", tag = "monitors", params(("id" = Uuid, Path)), responses((status = 200, body = MonitorDto)))]
async fn pause_monitor(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<MonitorDto>, ApiError> {
    set_paused(&state, &auth, &headers, &id, true).await
}

/// Resumes a paused monitor; it is checked at once.
#[utoipa::path(post, path = "/api/v1/monitors/{id}/resume", tag = "monitors", params(("id" = Uuid, Path)), responses((status = 200, body = MonitorDto)))]
async fn resume_monitor(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<MonitorDto>, ApiError> {
    set_paused(&state, &auth, &headers, &id, false).await
}

/// Runs the monitor's check as soon as possible (responders and up).
#[utoipa::path(post, path = "/api/v1/monitors/{id}/check", tag = "monitors", params(("id" = Uuid, Path)),
    responses((status = 202), (status = 409, body = super::ErrorBody)))]
async fn check_now(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Respond)?;
    state.db.check_monitor_now(parse_id(Entity::Monitor, &id)?, state.now()).await?;
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
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    /// At most this many, newest first (1–500, default 50).
    pub limit: Option<i64>,
}

/// Recent raw results, newest first.
#[utoipa::path(get, path = "/api/v1/monitors/{id}/results", tag = "monitors", params(("id" = Uuid, Path), LimitQuery),
    responses((status = 200, body = List<ResultDto>)))]
async fn monitor_results(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Json<List<ResultDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let id = parse_id(Entity::Monitor, &id)?;
    state.db.get_monitor(id).await?;
    let mut map = state.db.recent_results(&[id], q.limit.unwrap_or(50).clamp(1, 500)).await?;
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
#[utoipa::path(get, path = "/api/v1/monitors/{id}/events", tag = "monitors", params(("id" = Uuid, Path), LimitQuery),
    responses((status = 200, body = List<EventDto>)))]
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
        .monitor_events(Some(id), q.limit.unwrap_or(50).clamp(1, 500))
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

pub const WINDOWS: [(&str, i64); 5] = [("24h", 1), ("7d", 7), ("30d", 30), ("90d", 90), ("365d", 365)];

pub async fn uptime_table(state: &AppState, id: Uuid) -> Result<Vec<UptimeDto>, ApiError> {
    let now = state.now();
    let mut out = Vec::new();
    for (label, days) in WINDOWS {
        let r = state.db.rollup_window(id, now, Duration::days(days)).await?;
        out.push(UptimeDto {
            window: label.into(),
            checks: r.total,
            failures: r.failures,
            uptime_pct: r.uptime(),
            uptime_raw_pct: r.uptime_raw(),
            latency_p50_ms: r.histogram.quantile(0.5),
            latency_p95_ms: r.histogram.quantile(0.95),
            latency_p99_ms: r.histogram.quantile(0.99),
        });
    }
    Ok(out)
}

/// Uptime and latency percentiles over 24 h, 7, 30, 90 and 365 days, from rollups.
#[utoipa::path(get, path = "/api/v1/monitors/{id}/uptime", tag = "monitors", params(("id" = Uuid, Path)),
    responses((status = 200, body = List<UptimeDto>)))]
async fn monitor_uptime(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<UptimeDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let id = parse_id(Entity::Monitor, &id)?;
    state.db.get_monitor(id).await?;
    Ok(Json(List { items: uptime_table(&state, id).await?, next_cursor: None }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub ids: Vec<Uuid>,
    /// pause, resume or delete.
    pub action: String,
}

#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    pub done: usize,
}

/// Pauses, resumes or deletes several monitors at once.
#[utoipa::path(post, path = "/api/v1/monitors/bulk", tag = "monitors", request_body = BulkRequest, responses((status = 200, body = BulkResult)))]
async fn bulk(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<BulkRequest>,
) -> Result<Json<BulkResult>, ApiError> {
    Ok(Json(BulkResult { done: bulk_action(&state, &auth, &req.ids, &req.action).await? }))
}

/// Shared by the API and the monitors page.
pub async fn bulk_action(state: &AppState, auth: &Auth, ids: &[Uuid], action: &str) -> Result<usize, ApiError> {
    auth.require(Permission::Configure)?;
    if ids.len() > 1000 {
        return Err(ApiError::invalid("ids", "at most 1000 monitors at once"));
    }
    if !matches!(action, "pause" | "resume" | "delete") {
        return Err(ApiError::invalid("action", "use pause, resume or delete"));
    }
    let mut done = 0;
    for id in ids {
        let m = match state.db.get_monitor(*id).await {
            Ok(m) => m.monitor,
            Err(opsdeck_store::StoreError::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        require_for_kind(auth, m.spec.kind)?;
        match action {
            "delete" => state.db.delete_monitor(&auth.actor(), state.now(), m.id).await?,
            a => {
                if let Some(c) = state.db.set_monitor_paused(&auth.actor(), state.now(), m.id, a == "pause").await? {
                    publish_changes(state, &[c]).await;
                }
            }
        }
        done += 1;
    }
    state.events.publish("monitor.updated", None, format!("{done} monitors: {action}"));
    Ok(done)
}
