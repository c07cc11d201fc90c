//! CMDB imports (a file as the body, up to 64 MiB) and the Ansible inventory.

use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ErrorCode};
use crate::extract::ApiQuery;
use crate::operations::cmdb as op;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use opsdeck_core::cmdb::import::{FILE_MAX, Format, MissingPolicy};
use opsdeck_store::cmdb::import::{ImportOptions, ImportReport};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(inventory))
}

/// The import endpoint, with its own body limit (files up to 64 MiB).
pub fn import_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_cis)).layer(DefaultBodyLimit::max(FILE_MAX))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// terraform (`terraform show -json` or a version 4 state), ansible (`ansible-inventory
    /// --list`), csv or json.
    #[param(pattern = "^(terraform|ansible|csv|json)$")]
    pub format: String,
    /// Do everything and roll back: the answer is exactly what the import would do.
    pub dry_run: Option<bool>,
    /// CIs an earlier import of this source made that the file no longer lists: ignore
    /// (default), stale (marked stale) or retire.
    #[param(pattern = "^(ignore|stale|retire)$")]
    pub missing: Option<String>,
    /// The provenance stamp (default: the format), e.g. `terraform:prod`.
    #[param(pattern = "^[a-z0-9:._-]{1,64}$")]
    pub source: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportChangeDto {
    pub identity: String,
    /// create, update, stale or retire.
    pub action: String,
    /// For an update: the fields that change.
    pub fields: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportReportDto {
    pub source: String,
    pub dry_run: bool,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// CIs of this source the file no longer lists.
    pub missing: usize,
    /// Of those, how many the policy marked stale or retired now.
    pub missing_changed: usize,
    pub relations_created: usize,
    pub relations_kept: usize,
    /// Relations this source discovered before and no longer lists, removed (kept with `ignore`).
    pub relations_removed: usize,
    /// The first 200 changes.
    pub changes: Vec<ImportChangeDto>,
}

impl From<ImportReport> for ImportReportDto {
    fn from(r: ImportReport) -> Self {
        ImportReportDto {
            source: r.source,
            dry_run: r.dry_run,
            created: r.created,
            updated: r.updated,
            unchanged: r.unchanged,
            missing: r.missing,
            missing_changed: r.missing_changed,
            relations_created: r.relations_created,
            relations_kept: r.relations_kept,
            relations_removed: r.relations_removed,
            changes: r
                .changes
                .into_iter()
                .map(|c| ImportChangeDto {
                    identity: c.identity,
                    action: c.action.into(),
                    fields: c.fields.into_iter().map(str::to_owned).collect(),
                })
                .collect(),
        }
    }
}

/// Imports CIs and relations from a file sent as the body (up to 64 MiB): upsert by identity,
/// references resolved by identity, all or nothing. A bad row is 422 with every row's error in
/// `details.rows` (`{row, identity, message}`, the first 100) and nothing written.
#[utoipa::path(
    post,
    path = "/api/v1/cmdb/import",
    tag = "cmdb",
    params(ImportQuery),
    request_body(content = String, content_type = "application/octet-stream"),
    responses((status = 200, body = ImportReportDto))
)]
async fn import_cis(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ImportReportDto>, ApiError> {
    let format =
        Format::parse(&q.format).ok_or_else(|| ApiError::bad_request("format: use terraform, ansible, csv or json"))?;
    let missing = match q.missing.as_deref() {
        None => MissingPolicy::Ignore,
        Some(m) => {
            MissingPolicy::parse(m).ok_or_else(|| ApiError::bad_request("missing: use ignore, stale or retire"))?
        }
    };
    let source = op::source("source", q.source.as_deref().unwrap_or(format.as_str()))?;
    let body = body.map_err(|_| {
        ApiError::new(ErrorCode::PayloadTooLarge, format!("the file is larger than {} MiB", FILE_MAX / 1024 / 1024))
    })?;
    let opts = ImportOptions { source, missing, dry_run: q.dry_run.unwrap_or(false) };
    Ok(Json(op::import(&state, &auth, format, &body, opts).await?.into()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InventoryQuery {
    /// One host's variables (`--host NAME`) instead of the whole inventory.
    pub host: Option<String>,
}

/// An Ansible inventory document: the `--list` JSON (groups and `_meta.hostvars`), or one
/// host's variables. Its keys are group and variable names, so it has no fixed shape.
#[derive(Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct InventoryDoc(serde_json::Value);

/// The CMDB as an Ansible dynamic inventory (`--list` JSON: groups from `group:` tags, classes
/// and environments, `_meta.hostvars` from attributes), or one host's variables with `host`.
#[utoipa::path(
    get,
    path = "/api/v1/cmdb/inventory",
    tag = "cmdb",
    params(InventoryQuery),
    responses((status = 200, body = InventoryDoc))
)]
async fn inventory(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<InventoryQuery>,
) -> Result<Json<InventoryDoc>, ApiError> {
    match q.host {
        None => Ok(Json(InventoryDoc(op::inventory_list(&state, &auth).await?))),
        Some(host) => {
            let cis = op::inventory(&state, &auth).await?;
            // An unknown host has no variables, as Ansible expects from `--host`.
            let vars = cis
                .iter()
                .find(|c| c.host == host)
                .map(opsdeck_core::cmdb::inventory::host)
                .unwrap_or_else(|| serde_json::json!({}));
            Ok(Json(InventoryDoc(vars)))
        }
    }
}
