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

/// Changes a vendor's address, name or timing; it is read again at once.
pub async fn update(state: &AppState, auth: &Auth, v: &Vendor, spec: VendorSpec) -> Result<Vendor, ApiError> {
    auth.require(Permission::Configure)?;
    let v = state.db.update_vendor(&auth.actor(), state.now(), v, &spec).await?;
    state.events.publish("vendor.changed", Some(v.id), format!("Vendor {} changed", v.name));
    Ok(v)
}

pub async fn delete(state: &AppState, auth: &Auth, v: &Vendor) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    state.db.delete_vendor(&auth.actor(), state.now(), v).await?;
    state.events.publish("vendor.changed", Some(v.id), format!("Vendor {} removed", v.name));
    Ok(())
}

/// What is wrong with naming `component` of `v` (empty: the whole vendor), if anything: a name
/// the vendor does not list once it has been read, or one too long. Dependencies and
/// third-party components of status pages both follow this rule.
pub fn component_problem(v: &Vendor, component: &str) -> Option<String> {
    if !v.components.is_empty() && !component.is_empty() && !v.components.iter().any(|c| c.name == component) {
        return Some(format!("{} lists no component named {component:?}", v.name));
    }
    (component.chars().count() > opsdeck_core::status_page::VENDOR_COMPONENT_MAX)
        .then(|| format!("must be at most {} characters", opsdeck_core::status_page::VENDOR_COMPONENT_MAX))
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
    if let Some(problem) = component_problem(v, component) {
        return Err(ApiError::invalid("component", problem));
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
