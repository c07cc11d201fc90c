//! Maintenance window operations: plan, change and delete windows (managers and admins).

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::operations::status_pages::sync_maintenance;
use opsdeck_core::maintenance::{WindowInput, WindowSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::maintenance::Window;
use uuid::Uuid;

/// Checks that every service and monitor in the scope exists.
pub async fn check_scope(state: &AppState, spec: &WindowSpec) -> Result<(), ApiError> {
    for id in &spec.service_ids {
        if let Err(opsdeck_store::StoreError::NotFound(_)) = state.db.get_service(Ref::Id(*id)).await {
            return Err(ApiError::invalid("service_ids", format!("no service has id {id}")));
        }
    }
    for id in &spec.monitor_ids {
        if let Err(opsdeck_store::StoreError::NotFound(_)) = state.db.get_monitor(*id).await {
            return Err(ApiError::invalid("monitor_ids", format!("no monitor has id {id}")));
        }
    }
    Ok(())
}

/// Plans a maintenance window.
pub async fn create_window(state: &AppState, auth: &Auth, input: WindowInput) -> Result<Window, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = WindowSpec::create(input)?;
    check_scope(state, &spec).await?;
    let w = state.db.create_window(&auth.actor(), state.now(), spec).await?;
    sync_maintenance(state).await;
    state.events.publish("monitor.maintenance", Some(w.id), format!("Maintenance {} planned", w.spec.name));
    Ok(w)
}

/// Changes the fields `input` names of the window `current`.
pub async fn update_window(
    state: &AppState,
    auth: &Auth,
    current: &Window,
    input: WindowInput,
) -> Result<Window, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = current.spec.clone().apply(input)?;
    check_scope(state, &spec).await?;
    let w = state.db.update_window(&auth.actor(), state.now(), current.id, spec).await?;
    sync_maintenance(state).await;
    Ok(w)
}

/// Deletes a window; returns what was deleted.
pub async fn delete_window(state: &AppState, auth: &Auth, id: Uuid) -> Result<Window, ApiError> {
    auth.require(Permission::Configure)?;
    let w = state.db.get_window(id).await?;
    state.db.delete_window(&auth.actor(), state.now(), id).await?;
    sync_maintenance(state).await;
    Ok(w)
}
