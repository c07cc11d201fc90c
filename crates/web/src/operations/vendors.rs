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

/// Records that a service depends on `v` (its `component`, by name, or the whole vendor when
/// empty): the service is alerted while that is degraded or worse, and the alert resolves when
/// it recovers.
pub async fn add_dependent(
    state: &AppState,
    auth: &Auth,
    v: &Vendor,
    service_id: uuid::Uuid,
    component: &str,
) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    let component = component.trim();
    if !v.components.is_empty() && !component.is_empty() && !v.components.iter().any(|c| c.name == component) {
        return Err(ApiError::invalid("component", format!("{} lists no component named {component:?}", v.name)));
    }
    if component.chars().count() > 255 {
        return Err(ApiError::invalid("component", "must be at most 255 characters"));
    }
    if !state.db.unknown_services(&[service_id]).await?.is_empty() {
        return Err(ApiError::invalid("service_id", format!("no service has id {service_id}")));
    }
    state.db.add_vendor_dependent(&auth.actor(), state.now(), v, service_id, component).await?;
    state.events.publish("vendor.changed", Some(v.id), format!("A service now depends on {}", v.name));
    Ok(())
}

pub async fn remove_dependent(
    state: &AppState,
    auth: &Auth,
    v: &Vendor,
    service_id: uuid::Uuid,
) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    state.db.remove_vendor_dependent(&auth.actor(), state.now(), v, service_id).await?;
    state.events.publish("vendor.changed", Some(v.id), format!("A service no longer depends on {}", v.name));
    Ok(())
}
