//! CMDB operations: CIs, relations, monitor bindings, impact walks, imports and the Ansible
//! inventory. The API, the pages and the CLI (through the API) all come here.

use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ErrorCode};
use opsdeck_core::cmdb::import::{self, Format, RowErrors};
use opsdeck_core::cmdb::inventory::{self, InventoryCi};
use opsdeck_core::cmdb::{CiInput, CiSpec, DEPTH_MAX, RelationSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::Page;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::cmdb::impact::{Direction, ImpactAnswer};
use opsdeck_store::cmdb::import::{ImportOptions, ImportReport};
use opsdeck_store::cmdb::{BoundMonitor, Ci, CiFilter, Relation};
use serde_json::json;
use uuid::Uuid;

/// The live-update event of CMDB changes.
pub const CMDB_CHANGED: &str = "cmdb.changed";

/// A CI with what its page shows beside it.
#[derive(Debug, Clone)]
pub struct CiDetail {
    pub ci: Ci,
    pub relations: Vec<Relation>,
    pub monitors: Vec<BoundMonitor>,
    /// The contracts covering it.
    pub contracts: Vec<opsdeck_store::cmdb::contracts::Contract>,
}

pub async fn list(state: &AppState, auth: &Auth, filter: &CiFilter) -> Result<Page<Ci>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.list_cis(filter).await?)
}

pub async fn get(state: &AppState, auth: &Auth, id: Uuid) -> Result<Ci, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.get_ci(id).await?)
}

pub async fn detail(state: &AppState, auth: &Auth, id: Uuid) -> Result<CiDetail, ApiError> {
    let ci = get(state, auth, id).await?;
    let relations = state.db.ci_relations(id).await?;
    let monitors = state.db.ci_monitors(id).await?;
    let filter =
        opsdeck_store::cmdb::contracts::ContractFilter { ci_id: Some(id), limit: Some(100), ..Default::default() };
    let contracts = state.db.list_contracts(&filter).await?.items;
    Ok(CiDetail { ci, relations, monitors, contracts })
}

/// The spec of `input` with its team and service checked to exist.
async fn spec(state: &AppState, input: &CiInput) -> Result<CiSpec, ApiError> {
    let mut spec = CiSpec::new(input)?;
    super::cmdb_attributes::conform(state, spec.class, &mut spec.attributes).await?;
    if let Some(team) = spec.owner_team_id {
        state.db.get_team(Ref::Id(team)).await.map_err(|_| ApiError::invalid("owner_team_id", "no such team"))?;
    }
    if let Some(service) = spec.service_id {
        state.db.get_service(Ref::Id(service)).await.map_err(|_| ApiError::invalid("service_id", "no such service"))?;
    }
    Ok(spec)
}

pub async fn create(state: &AppState, auth: &Auth, input: &CiInput) -> Result<Ci, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = spec(state, input).await?;
    let ci = state.db.create_ci(&auth.actor(), state.now(), &spec).await?;
    state.events.publish(CMDB_CHANGED, Some(ci.id), format!("CI {} created", ci.name));
    Ok(ci)
}

pub async fn update(state: &AppState, auth: &Auth, id: Uuid, input: &CiInput) -> Result<Ci, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = spec(state, input).await?;
    let ci = state.db.update_ci(&auth.actor(), state.now(), id, &spec).await?;
    state.events.publish(CMDB_CHANGED, Some(ci.id), format!("CI {} changed", ci.name));
    Ok(ci)
}

pub async fn delete(state: &AppState, auth: &Auth, id: Uuid) -> Result<Ci, ApiError> {
    auth.require(Permission::Configure)?;
    let ci = state.db.delete_ci(&auth.actor(), state.now(), id).await?;
    state.events.publish(CMDB_CHANGED, Some(id), format!("CI {} deleted", ci.name));
    Ok(ci)
}

pub async fn relate(state: &AppState, auth: &Auth, spec: RelationSpec) -> Result<Relation, ApiError> {
    auth.require(Permission::Configure)?;
    let r = state.db.create_relation(&auth.actor(), state.now(), &spec).await?;
    state.events.publish(CMDB_CHANGED, Some(spec.source_id), "CI relation added");
    Ok(r)
}

pub async fn unrelate(state: &AppState, auth: &Auth, id: Uuid) -> Result<Relation, ApiError> {
    auth.require(Permission::Configure)?;
    let r = state.db.delete_relation(&auth.actor(), state.now(), id).await?;
    state.events.publish(CMDB_CHANGED, Some(r.source_id), "CI relation removed");
    Ok(r)
}

/// Binds a monitor to a CI (`bind`; it moves from any other), or unbinds it from that CI (404
/// `monitor_not_found` when it is not bound there).
pub async fn bind_monitor(state: &AppState, auth: &Auth, ci: Uuid, monitor: Uuid, bind: bool) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    let ci = state.db.get_ci(ci).await?;
    state.db.bind_monitor(&auth.actor(), state.now(), monitor, &ci, bind).await?;
    state.events.publish(CMDB_CHANGED, Some(ci.id), if bind { "Monitor bound" } else { "Monitor unbound" });
    Ok(())
}

/// Checks a walk's depth: 1 to [`DEPTH_MAX`].
pub fn depth(field: &'static str, depth: Option<i64>) -> Result<u32, ApiError> {
    match depth {
        None => Ok(opsdeck_core::cmdb::DEPTH_DEFAULT),
        Some(d) if (1..=i64::from(DEPTH_MAX)).contains(&d) => Ok(d as u32),
        Some(_) => Err(ApiError::invalid(field, format!("must be 1 to {DEPTH_MAX}"))),
    }
}

/// What a failure of `ids` reaches, or what they rely on.
pub async fn walk(
    state: &AppState,
    auth: &Auth,
    ids: &[Uuid],
    depth: u32,
    direction: Direction,
) -> Result<ImpactAnswer, ApiError> {
    auth.require(Permission::Read)?;
    for id in ids {
        state.db.get_ci(*id).await?;
    }
    Ok(state.db.ci_walk(ids, depth, direction).await?)
}

/// A provenance stamp: `a-z 0-9 : . _ -`, 1 to 64 characters.
pub fn source(field: &'static str, value: &str) -> Result<String, ApiError> {
    let v = value;
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b':' | b'.' | b'_' | b'-'));
    if ok { Ok(v.to_owned()) } else { Err(ApiError::invalid(field, "must be 1 to 64 of a-z 0-9 : . _ -")) }
}

fn row_errors(e: &RowErrors) -> ApiError {
    let first: Vec<String> = e.errors.iter().take(3).map(|r| RowErrors::one(r.clone()).summary()).collect();
    let more = if e.total > 3 { format!(" (and {} more)", e.total - 3) } else { String::new() };
    ApiError {
        code: ErrorCode::ValidationFailed,
        message: format!("the file has {} error(s), nothing was imported: {}{more}", e.total, first.join("; ")),
        details: Some(json!({ "field": "file", "rows": e.errors, "total": e.total })),
    }
}

/// Imports a file: every row valid and every reference found, or nothing is written.
pub async fn import(
    state: &AppState,
    auth: &Auth,
    format: Format,
    bytes: &[u8],
    opts: ImportOptions,
) -> Result<ImportReport, ApiError> {
    auth.require(Permission::Configure)?;
    let mut set = import::parse(format, bytes).and_then(|s| s.validate()).map_err(|e| row_errors(&e))?;
    super::cmdb_attributes::conform_import(state, &mut set.items).await?.map_err(|e| row_errors(&e))?;
    let report = state.db.import_cis(&auth.actor(), state.now(), set, &opts).await?.map_err(|e| row_errors(&e))?;
    if !opts.dry_run {
        state.events.publish(CMDB_CHANGED, None, format!("Imported CIs from {}", opts.source));
    }
    Ok(report)
}

/// The Ansible inventory of every host-like CI that is not retired.
pub async fn inventory(state: &AppState, auth: &Auth) -> Result<Vec<InventoryCi>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.inventory_cis().await?)
}

/// The `--list` document of [`inventory`].
pub async fn inventory_list(state: &AppState, auth: &Auth) -> Result<serde_json::Value, ApiError> {
    Ok(inventory::list(&inventory(state, auth).await?))
}

/// A CI's own audit history, newest first (the CI page shows it to everyone who may read CIs).
pub async fn history(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
) -> Result<Vec<opsdeck_core::audit::AuditEntry>, ApiError> {
    auth.require(Permission::Read)?;
    let filter = opsdeck_store::audit::AuditFilter {
        entity_type: Some("ci".into()),
        entity_id: Some(id),
        limit: Some(50),
        ..Default::default()
    };
    Ok(state.db.list_audit(&filter).await?.items)
}

/// The CI a person names in a form: its id, its identity, or its name when only one CI has it.
pub async fn find(state: &AppState, auth: &Auth, field: &'static str, reference: &str) -> Result<Ci, ApiError> {
    auth.require(Permission::Read)?;
    let r = reference.trim();
    if r.is_empty() {
        return Err(ApiError::invalid(field, "name a CI (its name, identity or id)"));
    }
    if let Ok(id) = r.parse::<Uuid>() {
        return state.db.get_ci(id).await.map_err(|_| ApiError::invalid(field, "no CI has this id"));
    }
    match state.db.cis_named(r).await?.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ApiError::invalid(field, format!("no CI is named or identified {r:?}"))),
        _ => Err(ApiError::invalid(field, format!("several CIs are named {r:?}; give its identity or id"))),
    }
}

/// An incident's blast radius: the CIs its alerts are about and what their failure reaches
/// together (redundancy counts them together). `None` when no alert is tied to a CI.
pub async fn blast_radius(
    state: &AppState,
    auth: &Auth,
    incident_id: Uuid,
) -> Result<Option<(Vec<Ci>, ImpactAnswer)>, ApiError> {
    auth.require(Permission::Read)?;
    let ids = state.db.incident_cis(incident_id).await?;
    if ids.is_empty() {
        return Ok(None);
    }
    let failing = state.db.cis_by_id(&ids).await?;
    let impact = state.db.ci_walk(&ids, opsdeck_core::cmdb::DEPTH_DEFAULT, Direction::Impact).await?;
    Ok(Some((failing, impact)))
}

/// The lifecycle report's horizon: 0 to 3,650 days ahead (default 90).
pub fn within_days(field: &'static str, days: Option<i64>) -> Result<i64, ApiError> {
    match days {
        None => Ok(90),
        Some(d) if (0..=3650).contains(&d) => Ok(d),
        Some(_) => Err(ApiError::invalid(field, "must be 0 to 3650 days")),
    }
}

/// CIs whose warranty, vendor support or life ends within `days` (or has ended), earliest first.
pub async fn lifecycle(
    state: &AppState,
    auth: &Auth,
    days: i64,
) -> Result<Vec<(Ci, opsdeck_core::cmdb::LifecycleEvent, chrono::NaiveDate)>, ApiError> {
    auth.require(Permission::Read)?;
    // Checked: a horizon past the calendar's end means "everything".
    let until = state
        .now()
        .date_naive()
        .checked_add_days(chrono::Days::new(days.unsigned_abs()))
        .unwrap_or(chrono::NaiveDate::MAX);
    Ok(state.db.lifecycle_due(until, 1000).await?)
}
