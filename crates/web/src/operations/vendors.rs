//! Vendors: third-party status pages Opsdeck polls (managers add and remove them; everyone
//! reads them).

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::role::Permission;
use opsdeck_core::vendor::VendorSpec;
use opsdeck_store::vendor::Vendor;

/// Adds a vendor; it is polled at once (within the poller's next pass).
pub async fn create(state: &AppState, auth: &Auth, spec: VendorSpec) -> Result<Vendor, ApiError> {
    auth.require(Permission::Configure)?;
    let v = state.db.create_vendor(&auth.actor(), state.now(), &spec).await?;
    state.events.publish("vendor.changed", Some(v.id), format!("Vendor {} added", v.name));
    Ok(v)
}

pub async fn delete(state: &AppState, auth: &Auth, v: &Vendor) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    state.db.delete_vendor(&auth.actor(), state.now(), v).await?;
    state.events.publish("vendor.changed", Some(v.id), format!("Vendor {} removed", v.name));
    Ok(())
}
