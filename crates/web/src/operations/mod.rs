//! The operation layer: every write, and every read that the API and the pages share, is one
//! function here. It takes the caller and validated domain input (core's `…Spec::new` /
//! `validate`), checks the caller's permission, checks what needs the database (that a
//! referenced user, team or schedule exists), calls the store, and performs the side effects
//! (live-update events, cache invalidation). API handlers (`api/*`), page handlers (`ui/*`),
//! `opsdeck apply` (through the API) and the demo seed call only this layer, so a rule is
//! written once.
//!
//! Architecture invariant: `ui/*` never imports from `api/*` and `api/*` never from `ui/*`;
//! what both need lives here (checked by `tests/it/architecture.rs` in the testkit crate).

pub mod agents;
pub mod anomalies;
pub mod audit;
pub mod catalogue;
pub mod change_approval_mail;
pub mod change_calendar;
pub mod change_lockdown;
pub mod change_records;
pub mod change_templates;
pub mod changes;
pub mod cmdb;
pub mod cmdb_attributes;
pub mod contracts;
pub mod desk_settings;
pub mod imports;
pub mod incidents;
pub mod integrations;
pub mod kb;
pub mod kpi;
pub mod mail_in;
pub mod maintenance;
pub mod monitor_locations;
pub mod monitors;
pub mod oncall;
pub mod problems;
pub mod report_schedules;
pub mod reports;
pub mod requests;
pub mod routing;
pub mod series;
pub mod series_alerts;
pub mod settings;
pub mod sla_agreements;
pub mod slos;
pub mod status_pages;
pub mod status_subscribers;
pub mod status_templates;
pub mod ticket_files;
pub mod ticket_links;
pub mod ticket_sla;
pub mod tickets;
pub mod users;
pub mod vendors;

use crate::AppState;
use crate::error::ApiError;
use opsdeck_store::catalogue::Ref;
use uuid::Uuid;

/// Every id names an active (not disabled) user; `field` is named in the error otherwise.
pub async fn check_users(
    state: &AppState,
    field: &'static str,
    ids: impl Iterator<Item = Uuid>,
) -> Result<(), ApiError> {
    let ids: Vec<Uuid> = ids.collect();
    let found = state.db.user_names(&ids).await?;
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|f| f.0 == **id)) {
        return Err(ApiError::invalid(field, format!("no active user has id {missing}")));
    }
    Ok(())
}

/// A service named by id or slug, `None` when `raw` is absent or blank; `field` is named in the
/// error when no such service exists.
pub async fn service_ref(state: &AppState, raw: Option<&str>, field: &str) -> Result<Option<Uuid>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(r) => match state.db.get_service(Ref::parse(r)).await {
            Ok(s) => Ok(Some(s.service.id)),
            Err(opsdeck_store::StoreError::NotFound(_)) => Err(ApiError::invalid(field, format!("no service {r:?}"))),
            Err(e) => Err(e.into()),
        },
    }
}

/// Parses an opaque `?cursor=` value.
/// Refuses a write on a record someone changed since the caller loaded it (`loaded` is the
/// version they saw; `None` skips the check).
pub fn check_version(key: &str, current: i64, loaded: Option<i64>) -> Result<(), ApiError> {
    match loaded {
        Some(v) if v != current => Err(ApiError::conflict(format!(
            "{key} was changed by someone else since you loaded it (you had version {v}, it is at {current}); \
             reload it"
        ))),
        _ => Ok(()),
    }
}

pub fn cursor(raw: Option<&str>) -> Result<Option<opsdeck_store::Cursor>, ApiError> {
    raw.filter(|s| !s.is_empty())
        .map(|s| {
            opsdeck_store::Cursor::decode(s).ok_or_else(|| {
                ApiError::bad_request("cursor: not a cursor from this API; pass next_cursor back unchanged")
            })
        })
        .transpose()
}

/// The largest page a list returns.
pub const LIMIT_MAX: i64 = 500;

/// A list's `?limit=`: 1 to [`LIMIT_MAX`]; out of range is refused (422), not clamped.
pub fn page_limit(raw: Option<i64>) -> Result<Option<i64>, ApiError> {
    match raw {
        Some(n) if !(1..=LIMIT_MAX).contains(&n) => {
            Err(ApiError::invalid("limit", format!("must be 1 to {LIMIT_MAX}")))
        }
        other => Ok(other),
    }
}

/// An RFC 3339 time within `core::time`'s years; `field` is named in the error.
pub fn parse_time(field: &'static str, s: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    Ok(opsdeck_core::time::parse_rfc3339(field, s)?)
}
