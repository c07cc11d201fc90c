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

pub mod oncall;
pub mod settings;

use crate::AppState;
use crate::error::ApiError;
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
