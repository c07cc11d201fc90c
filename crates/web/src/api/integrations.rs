//! Integrations (inbound alert sources of a service) and per-service alert settings.

use super::ts;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, parse_id};
use crate::operations::integrations::{self as op, Preview, SettingsInput, ingest_url};
use crate::operations::service_ref;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use opsdeck_core::Entity;
use opsdeck_core::alert::IntegrationType;
use opsdeck_core::alert::rules::{AlertSettings, Rule};
use opsdeck_core::alert::webhook::Mapping;
use opsdeck_core::role::Permission;
use opsdeck_store::integration::Integration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_integrations, create_integration))
        .routes(routes!(get_integration, update_integration, delete_integration))
        .routes(routes!(rotate_key))
        .routes(routes!(preview))
        .routes(routes!(get_alert_settings, put_alert_settings))
}

#[derive(Serialize, ToSchema)]
pub struct IntegrationDto {
    pub id: Uuid,
    pub service_id: Uuid,
    /// pagerduty, alertmanager, grafana or webhook.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// The first characters of the key.
    pub key_hint: String,
    /// Where senders post (for PagerDuty, the key goes in the body as `routing_key`).
    pub url: String,
    #[schema(value_type = Object)]
    pub mapping: serde_json::Value,
    /// When an event last arrived, to the minute (a busy integration's row is updated at most
    /// once a minute).
    pub last_event_at: Option<String>,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct IntegrationWithKey {
    #[serde(flatten)]
    pub integration: IntegrationDto,
    /// The secret key: shown this once, store it now.
    pub key: String,
}

fn dto(i: Integration, base: &str, key: Option<&str>) -> IntegrationDto {
    let shown = key.map(str::to_owned).unwrap_or_else(|| format!("{}…", i.key_hint));
    IntegrationDto {
        url: ingest_url(base, i.kind, &shown),
        id: i.id,
        service_id: i.service_id,
        kind: i.kind.as_str().into(),
        name: i.name,
        key_hint: i.key_hint,
        mapping: serde_json::to_value(&i.mapping).unwrap_or_default(),
        last_event_at: i.last_event_at.map(ts),
        created_at: ts(i.created_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// pagerduty, alertmanager, grafana or webhook.
    #[serde(rename = "type")]
    #[schema(schema_with = crate::api::schema::integration_type)]
    pub kind: String,
    #[schema(schema_with = crate::api::schema::name_or_blank_opt)]
    pub name: Option<String>,
    /// For `webhook`: JSON pointers for summary, severity, dedup_key, status and source.
    #[schema(value_type = Option<crate::api::schema::MappingSchema>)]
    pub mapping: Option<Mapping>,
}

async fn service_id(state: &AppState, raw: &str) -> Result<Uuid, ApiError> {
    match service_ref(state, Some(raw), "service_id").await {
        Ok(Some(id)) => Ok(id),
        _ => Err(ApiError::not_found(Entity::Service)),
    }
}

/// A service's integrations.
#[utoipa::path(
    get,
    path = "/api/v1/services/{id}/integrations",
    tag = "integrations",
    params(("id" = String, Path)),
    responses((status = 200, body = super::List<IntegrationDto>))
)]
async fn list_integrations(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<super::List<IntegrationDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let sid = service_id(&state, &id).await?;
    let base = crate::operations::settings::base_url(&state, &headers).await;
    let items = state.db.list_integrations(sid).await?.into_iter().map(|i| dto(i, &base, None)).collect();
    Ok(Json(super::List { items, next_cursor: None }))
}

/// Adds an integration; the answer carries its key, shown this once (manager or admin).
#[utoipa::path(
    post,
    path = "/api/v1/services/{id}/integrations",
    tag = "integrations",
    params(("id" = String, Path)),
    request_body = CreateBody,
    responses((status = 201, body = IntegrationWithKey))
)]
async fn create_integration(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<IntegrationWithKey>), ApiError> {
    auth.require(Permission::Configure)?;
    let sid = service_id(&state, &id).await?;
    let kind = IntegrationType::parse(b.kind.trim())
        .ok_or_else(|| ApiError::invalid("type", "must be pagerduty, alertmanager, grafana or webhook"))?;
    let (it, key) = op::create_integration(&state, &auth, sid, kind, b.name.as_deref(), b.mapping).await?;
    let base = crate::operations::settings::base_url(&state, &headers).await;
    Ok((StatusCode::CREATED, Json(IntegrationWithKey { integration: dto(it, &base, Some(&key)), key })))
}

/// One integration.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/{id}",
    tag = "integrations",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = IntegrationDto))
)]
async fn get_integration(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<IntegrationDto>, ApiError> {
    auth.require(Permission::Read)?;
    let it = state.db.get_integration(parse_id(Entity::Integration, &id)?).await?;
    let base = crate::operations::settings::base_url(&state, &headers).await;
    Ok(Json(dto(it, &base, None)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    #[schema(schema_with = crate::api::schema::name_or_blank_opt)]
    pub name: Option<String>,
    #[schema(value_type = Option<crate::api::schema::MappingSchema>)]
    pub mapping: Option<Mapping>,
}

/// Renames an integration or changes its webhook mapping.
#[utoipa::path(
    patch,
    path = "/api/v1/integrations/{id}",
    tag = "integrations",
    params(("id" = Uuid, Path)),
    request_body = UpdateBody,
    responses((status = 200, body = IntegrationDto))
)]
async fn update_integration(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<UpdateBody>,
) -> Result<Json<IntegrationDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let it = op::update_integration(&state, &auth, parse_id(Entity::Integration, &id)?, b.name.as_deref(), b.mapping)
        .await?;
    let base = crate::operations::settings::base_url(&state, &headers).await;
    Ok(Json(dto(it, &base, None)))
}

/// Deletes an integration; its key stops working at once.
#[utoipa::path(
    delete,
    path = "/api/v1/integrations/{id}",
    tag = "integrations",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_integration(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    op::delete_integration(&state, &auth, parse_id(Entity::Integration, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the key: the old one stops working at once, the new one is shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/{id}/rotate",
    tag = "integrations",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = IntegrationWithKey))
)]
async fn rotate_key(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<IntegrationWithKey>, ApiError> {
    auth.require(Permission::Configure)?;
    let (it, key) = op::rotate_key(&state, &auth, parse_id(Entity::Integration, &id)?).await?;
    let base = crate::operations::settings::base_url(&state, &headers).await;
    Ok(Json(IntegrationWithKey { integration: dto(it, &base, Some(&key)), key }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// A sample payload as the sender would post it.
    #[schema(value_type = Value)]
    pub payload: serde_json::Value,
    /// A mapping to try instead of the saved one.
    #[schema(value_type = Option<crate::api::schema::MappingSchema>)]
    pub mapping: Option<Mapping>,
}

#[derive(Serialize, ToSchema)]
pub struct PreviewDto {
    pub ok: bool,
    /// Why the payload would be refused.
    pub error: Option<String>,
    /// The alert it would make: action, dedup_key, summary, severity, source.
    #[schema(value_type = Option<Object>)]
    pub alert: Option<serde_json::Value>,
}

/// Shows what a webhook payload would become, without storing anything.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/{id}/preview",
    tag = "integrations",
    params(("id" = Uuid, Path)),
    request_body = PreviewBody,
    responses((status = 200, body = PreviewDto))
)]
async fn preview(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PreviewBody>,
) -> Result<Json<PreviewDto>, ApiError> {
    auth.require(Permission::Read)?;
    let it = state.db.get_integration(parse_id(Entity::Integration, &id)?).await?;
    Ok(Json(op::preview_payload(&it, b.mapping, &b.payload)?.into()))
}

impl From<Preview> for PreviewDto {
    fn from(p: Preview) -> Self {
        PreviewDto { ok: p.ok, error: p.error, alert: p.alert }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsDto {
    /// time (join the open incident while alerts keep coming within the window), key (join the
    /// open incident with the same group key) or none (one incident per alert).
    #[schema(schema_with = crate::api::schema::grouping)]
    pub grouping: String,
    #[schema(minimum = 0, maximum = 604800)]
    pub group_window_seconds: i32,
    /// Resolve the incident when all its alerts have resolved.
    pub auto_resolve: bool,
    /// An alert firing again within this many seconds of its incident resolving reopens that
    /// incident instead of opening a new one; an incident that resolves again this soon after
    /// being reopened is flapping and stays open until no alert has fired for this long.
    /// 0 turns both off. Default 600.
    #[serde(default = "reopen_window_default")]
    #[schema(minimum = 0, maximum = 604800, default = 600)]
    pub reopen_window_seconds: i32,
    /// Ordered routing rules: `{"match": {"labels": {...}, "severity": [...], "summary_contains": "..."},
    /// "action": "drop" | "set_severity" | "route", "severity"?, "service_id"?}`. A route names
    /// another existing service; a drop rule needs at least one condition.
    #[schema(value_type = Vec<crate::api::schema::RuleSchema>, max_items = 50)]
    pub rules: Vec<Rule>,
}

fn reopen_window_default() -> i32 {
    opsdeck_core::alert::rules::REOPEN_WINDOW_DEFAULT_SECS
}

impl From<SettingsDto> for SettingsInput {
    fn from(b: SettingsDto) -> Self {
        SettingsInput {
            grouping: b.grouping,
            group_window_seconds: b.group_window_seconds,
            auto_resolve: b.auto_resolve,
            reopen_window_seconds: b.reopen_window_seconds,
            rules: b.rules,
        }
    }
}

impl From<AlertSettings> for SettingsDto {
    fn from(s: AlertSettings) -> Self {
        SettingsDto {
            grouping: s.grouping.as_str().into(),
            group_window_seconds: s.group_window_seconds,
            auto_resolve: s.auto_resolve,
            reopen_window_seconds: s.reopen_window_seconds,
            rules: s.rules,
        }
    }
}

/// A service's alert settings: grouping, auto-resolve and routing rules.
#[utoipa::path(
    get,
    path = "/api/v1/services/{id}/alert-settings",
    tag = "integrations",
    params(("id" = String, Path)),
    responses((status = 200, body = SettingsDto))
)]
async fn get_alert_settings(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<SettingsDto>, ApiError> {
    auth.require(Permission::Read)?;
    let sid = service_id(&state, &id).await?;
    Ok(Json(state.db.alert_settings(sid).await?.into()))
}

/// Replaces a service's alert settings (manager or admin).
#[utoipa::path(
    put,
    path = "/api/v1/services/{id}/alert-settings",
    tag = "integrations",
    params(("id" = String, Path)),
    request_body = SettingsDto,
    responses((status = 200, body = SettingsDto))
)]
async fn put_alert_settings(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SettingsDto>,
) -> Result<Json<SettingsDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let sid = service_id(&state, &id).await?;
    Ok(Json(op::set_alert_settings(&state, &auth, sid, b.into()).await?.into()))
}
