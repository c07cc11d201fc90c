//! Imports from other tools (admins): PagerDuty through its API, an Uptime Kuma database file,
//! a Gatus configuration file. Each answers the run: its plan (`dry_run`) or what it did.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ApiJson, ApiQuery};
use crate::operations::imports::{self as op, ImportCounts, ImportReport, Origin, read};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use opsdeck_core::import::SourceKind;
use opsdeck_core::role::Permission;
use opsdeck_store::import::ImportRun;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pagerduty))
        .routes(routes!(opsgenie))
        .routes(routes!(grafana_oncall))
        .routes(routes!(list))
        .routes(routes!(get))
        .routes(routes!(apply))
}

/// The file imports, with their own body limits.
pub fn file_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(uptime_kuma))
        .layer(DefaultBodyLimit::max(read::KUMA_FILE_MAX))
        .merge(
            OpenApiRouter::new().routes(routes!(pagerduty_export)).layer(DefaultBodyLimit::max(read::EXPORT_FILE_MAX)),
        )
        .merge(OpenApiRouter::new().routes(routes!(gatus)).layer(DefaultBodyLimit::max(read::GATUS_FILE_MAX)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VendorImportBody {
    /// The vendor's API address, e.g. `https://api.pagerduty.com`.
    #[schema(min_length = 1, max_length = 2000)]
    pub api_url: String,
    /// An API token of the account (read-only is enough); used for this request, never kept.
    #[schema(min_length = 1, max_length = 500, write_only)]
    pub token: String,
    /// Tells two accounts of one vendor apart (source ids are kept per instance). Default empty.
    #[schema(max_length = 100)]
    pub instance: Option<String>,
    /// Only plan: nothing is written; the run can be applied later. Default false.
    pub dry_run: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FileImportQuery {
    /// Only plan: nothing is written; the run can be applied later. Default false.
    pub dry_run: Option<bool>,
    /// Tells two sources of one kind apart. Default empty.
    #[param(max_length = 100)]
    pub instance: Option<String>,
}

/// An import run: a plan (`planned`), or what was done (`applied`), or why it failed.
#[derive(Serialize, ToSchema)]
pub struct ImportRunDto {
    pub id: Uuid,
    /// `pagerduty`, `opsgenie`, `grafana-oncall`, `uptime-kuma` or `gatus`.
    pub source: String,
    pub instance: String,
    /// `planned`, `applying`, `applied` or `failed`.
    pub status: String,
    pub actor: String,
    pub created_at: String,
    pub updated_at: String,
    pub counts: Option<ImportCounts>,
    /// The plan or report (left out of lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ImportReport>,
    /// Why a failed run failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn dto(r: ImportRun, full: bool) -> ImportRunDto {
    let report: Option<ImportReport> = serde_json::from_value(r.report.clone()).ok();
    let error = r.report.get("error").and_then(|e| e.as_str()).map(str::to_owned);
    ImportRunDto {
        id: r.id,
        source: r.source,
        instance: r.instance,
        status: r.status,
        actor: r.actor,
        created_at: ts(r.created_at),
        updated_at: ts(r.updated_at),
        counts: report.as_ref().map(|x| x.counts),
        report: report.filter(|_| full),
        error,
    }
}

/// The run as stored, with this answer's report (which alone carries new keys' URLs).
async fn answer(state: &AppState, auth: &Auth, id: Uuid, report: ImportReport) -> Result<Json<ImportRunDto>, ApiError> {
    let mut d = dto(op::get(state, auth, id).await?, false);
    d.counts = Some(report.counts);
    d.report = Some(report);
    Ok(Json(d))
}

/// Imports a PagerDuty account through its REST API v2: users and e-mail contact methods,
/// teams, schedules (layers, restrictions, overrides) checked against PagerDuty's own rendering
/// for eight weeks, escalation policies, services with new integration keys, open maintenance
/// windows (admins).
#[utoipa::path(post, path = "/api/v1/imports/pagerduty", tag = "imports", request_body = VendorImportBody,
    responses((status = 200, body = ImportRunDto)))]
async fn pagerduty(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<VendorImportBody>,
) -> Result<Json<ImportRunDto>, ApiError> {
    vendor(&state, &auth, SourceKind::Pagerduty, body).await
}

/// Imports an Opsgenie account through its REST API v2 (`api_url` e.g.
/// `https://api.opsgenie.com`, `token` an API key): users, teams, schedules (rotations,
/// restrictions, overrides) checked against Opsgenie's own timeline for eight weeks,
/// escalations, integrations as services with new keys (admins).
#[utoipa::path(post, path = "/api/v1/imports/opsgenie", tag = "imports", request_body = VendorImportBody,
    responses((status = 200, body = ImportRunDto)))]
async fn opsgenie(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<VendorImportBody>,
) -> Result<Json<ImportRunDto>, ApiError> {
    vendor(&state, &auth, SourceKind::Opsgenie, body).await
}

/// Imports a Grafana OnCall instance through its public API v1 (`api_url` its `…/api/v1`
/// root): users, teams, web schedules (rolling-users shifts as layers, overrides) checked
/// against OnCall's final shifts for eight weeks, escalation chains, integrations as services
/// with new keys (admins).
#[utoipa::path(post, path = "/api/v1/imports/grafana-oncall", tag = "imports", request_body = VendorImportBody,
    responses((status = 200, body = ImportRunDto)))]
async fn grafana_oncall(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<VendorImportBody>,
) -> Result<Json<ImportRunDto>, ApiError> {
    vendor(&state, &auth, SourceKind::GrafanaOncall, body).await
}

/// Reads an on-call tool's API and plans (or applies) what it holds.
async fn vendor(
    state: &AppState,
    auth: &Auth,
    source: SourceKind,
    body: VendorImportBody,
) -> Result<Json<ImportRunDto>, ApiError> {
    let origin = Origin::new(source, body.instance.as_deref())?;
    let bundle = read::vendor(state, auth, source, &body.api_url, &body.token).await?;
    let (id, report, _) = op::import(state, auth, &origin, bundle, body.dry_run.unwrap_or(false)).await?;
    answer(state, auth, id, report).await
}

fn run_id(raw: &str) -> Result<Uuid, ApiError> {
    crate::extract::parse_id(opsdeck_core::Entity::Import, raw)
}

/// The body, read only once the caller may import (admins), up to `max` bytes.
async fn file(auth: &Auth, body: Body, max: usize) -> Result<Bytes, ApiError> {
    auth.require(Permission::Administer)?;
    axum::body::to_bytes(body, max)
        .await
        .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge, format!("the file is larger than {} MiB", max >> 20)))
}

/// Imports an Uptime Kuma database: send its `data/kuma.db` (stopped, or a copy) as the body,
/// up to 256 MiB. Monitors (HTTP, keyword, JSON query, port, ping, DNS, push) with their tags
/// and groups, and one-off maintenance (admins).
#[utoipa::path(post, path = "/api/v1/imports/uptime-kuma", tag = "imports", params(FileImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = ImportRunDto)))]
async fn uptime_kuma(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<FileImportQuery>,
    body: Body,
) -> Result<Json<ImportRunDto>, ApiError> {
    let origin = Origin::new(SourceKind::UptimeKuma, q.instance.as_deref())?;
    let body = file(&auth, body, read::KUMA_FILE_MAX).await?;
    let bundle = read::uptime_kuma(&state, &auth, &body).await?;
    let (id, report, _) = op::import(&state, &auth, &origin, bundle, q.dry_run.unwrap_or(false)).await?;
    answer(&state, &auth, id, report).await
}

/// Imports a PagerDuty account from its saved JSON responses (up to 64 MiB): an object with
/// `users`, `teams`, `schedules` (as `GET /schedules/{id}` returns each, with `final_schedule`
/// for the on-call check), `overrides` (by schedule id), `escalation_policies`, `services` and
/// `maintenance_windows`, each optional (admins).
#[utoipa::path(post, path = "/api/v1/imports/pagerduty-export", tag = "imports", params(FileImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = ImportRunDto)))]
async fn pagerduty_export(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<FileImportQuery>,
    body: Body,
) -> Result<Json<ImportRunDto>, ApiError> {
    let origin = Origin::new(SourceKind::Pagerduty, q.instance.as_deref())?;
    let body = file(&auth, body, read::EXPORT_FILE_MAX).await?;
    let bundle = read::pagerduty_export(&state, &auth, &body)?;
    let (id, report, _) = op::import(&state, &auth, &origin, bundle, q.dry_run.unwrap_or(false)).await?;
    answer(&state, &auth, id, report).await
}

/// Imports a Gatus configuration file (YAML, up to 4 MiB): endpoints become monitors, with
/// the conditions Opsdeck can express (admins).
#[utoipa::path(post, path = "/api/v1/imports/gatus", tag = "imports", params(FileImportQuery),
    request_body(content = String, content_type = "application/octet-stream"),
    responses((status = 200, body = ImportRunDto)))]
async fn gatus(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<FileImportQuery>,
    body: Body,
) -> Result<Json<ImportRunDto>, ApiError> {
    let origin = Origin::new(SourceKind::Gatus, q.instance.as_deref())?;
    let body = file(&auth, body, read::GATUS_FILE_MAX).await?;
    let bundle = read::gatus(&auth, &body)?;
    let (id, report, _) = op::import(&state, &auth, &origin, bundle, q.dry_run.unwrap_or(false)).await?;
    answer(&state, &auth, id, report).await
}

/// The newest 50 runs (admins).
#[utoipa::path(get, path = "/api/v1/imports", tag = "imports", responses((status = 200, body = List<ImportRunDto>)))]
async fn list(State(state): State<AppState>, auth: Auth) -> Result<Json<List<ImportRunDto>>, ApiError> {
    let items = op::list(&state, &auth).await?.into_iter().map(|r| dto(r, false)).collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// One run with its plan or report (admins).
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports",
    params(("id" = Uuid, Path, description = "The run's id")),
    responses((status = 200, body = ImportRunDto)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<ImportRunDto>, ApiError> {
    Ok(Json(dto(op::get(&state, &auth, run_id(&id)?).await?, true)))
}

/// Applies a planned run (once; 409 after), planned again against what exists now (admins).
#[utoipa::path(post, path = "/api/v1/imports/{id}/apply", tag = "imports",
    params(("id" = Uuid, Path, description = "The run's id")),
    responses((status = 200, body = ImportRunDto)))]
async fn apply(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<ImportRunDto>, ApiError> {
    let id = run_id(&id)?;
    let report = op::apply(&state, &auth, id).await?;
    answer(&state, &auth, id, report).await
}
