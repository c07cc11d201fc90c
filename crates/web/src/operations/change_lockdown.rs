//! The change lockdown: while one is in force (a major incident, a critical business period
//! called at short notice) every change that is not an emergency is on hold: none is scheduled
//! or started until it is lifted. Work already under way can still be reviewed or backed out.
//! A held change's maintenance window is ended too (its monitors page again: the work is not
//! happening), and opened again when the lockdown is lifted.

use super::changes::CHANGED;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::change::{ChangeState, ChangeType};
use opsdeck_core::role::Permission;
use opsdeck_store::change::lockdown::Lockdown;
use opsdeck_store::change::{Change, ChangeFilter};

/// Scheduled changes that are not emergencies, every page of them.
async fn held(state: &AppState) -> Result<Vec<Change>, ApiError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let filter =
            ChangeFilter { states: vec![ChangeState::Scheduled], cursor, limit: Some(200), ..Default::default() };
        let page = state.db.change_requests(&filter).await?;
        out.extend(page.items.into_iter().filter(|c| c.kind != ChangeType::Emergency));
        match page.next_cursor.as_deref().and_then(opsdeck_store::Cursor::decode) {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// A lockdown's reason, at most.
pub const REASON_MAX: usize = 500;

pub async fn current(state: &AppState, auth: &Auth) -> Result<Option<Lockdown>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.change_lockdown().await?)
}

/// The reason of the lockdown in force, for the state rules.
pub async fn reason(state: &AppState) -> Result<Option<String>, ApiError> {
    Ok(state.db.change_lockdown().await?.map(|l| l.reason))
}

/// Starts a lockdown (managers and up); a 409 when one is already in force.
pub async fn start(state: &AppState, auth: &Auth, reason: &str) -> Result<Lockdown, ApiError> {
    auth.require(Permission::Configure)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX {
        return Err(ApiError::invalid("reason", format!("say in 1 to {REASON_MAX} characters why changes stop")));
    }
    let l = state.db.start_change_lockdown(&auth.actor(), state.now(), reason).await?;
    for c in held(state).await? {
        if c.maintenance_window_id.is_some() {
            super::change_calendar::unsilence(state, auth, &c, ChangeState::Authorize).await?;
        }
    }
    state.events.publish(CHANGED, None, format!("Change lockdown: {reason}"));
    Ok(l)
}

/// Lifts the lockdown in force (managers and up); a 409 when there is none.
pub async fn lift(state: &AppState, auth: &Auth) -> Result<Lockdown, ApiError> {
    auth.require(Permission::Configure)?;
    let l = state.db.lift_change_lockdown(&auth.actor(), state.now()).await?;
    let now = state.now();
    for c in held(state).await? {
        if c.maintenance_window_id.is_none() && c.planned_end.is_some_and(|e| e > now) {
            let v = super::changes::view(state, auth, c.id).await?;
            super::change_calendar::silence(state, auth, &c, &v).await?;
        }
    }
    state.events.publish(CHANGED, None, "Change lockdown lifted".to_owned());
    Ok(l)
}
