//! Service level objectives: managers define them on a service's monitors; anyone signed in
//! reads their SLI, error budget and burn rates, computed from the checks when asked.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::role::Permission;
use opsdeck_core::slo::SloSpec;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::slo::Slo;
use opsdeck_store::slo_alert::Evaluation;

/// What `slo` says now (the same evaluation the notifier alerts on).
pub async fn evaluate(state: &AppState, slo: &Slo) -> Result<Evaluation, ApiError> {
    Ok(state.db.evaluate_slo(slo, state.now()).await?)
}

/// Defines an SLO (managers and up): its service and monitors must exist.
pub async fn create(state: &AppState, auth: &Auth, spec: SloSpec) -> Result<Slo, ApiError> {
    auth.require(Permission::Configure)?;
    check_refs(state, &spec).await?;
    Ok(state.db.create_slo(&auth.actor(), state.now(), &spec).await?)
}

/// Replaces an SLO's definition (managers and up), with the same checks as [`create`].
pub async fn update(state: &AppState, auth: &Auth, before: &Slo, spec: SloSpec) -> Result<Slo, ApiError> {
    auth.require(Permission::Configure)?;
    check_refs(state, &spec).await?;
    Ok(state.db.update_slo(&auth.actor(), state.now(), before, &spec).await?)
}

async fn check_refs(state: &AppState, spec: &SloSpec) -> Result<(), ApiError> {
    match state.db.get_service(Ref::Id(spec.service_id)).await {
        Err(opsdeck_store::StoreError::NotFound(_)) => {
            return Err(ApiError::invalid("service_id", format!("no service has id {}", spec.service_id)));
        }
        other => drop(other?),
    }
    let found = state.db.page_monitors(&spec.monitor_ids, &[]).await?;
    if let Some(missing) = spec.monitor_ids.iter().find(|id| !found.iter().any(|m| m.0 == **id)) {
        return Err(ApiError::invalid("sli", format!("no monitor has id {missing}")));
    }
    Ok(())
}

pub async fn delete(state: &AppState, auth: &Auth, slo: &Slo) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    Ok(state.db.delete_slo(&auth.actor(), state.now(), slo).await?)
}
