//! SLA agreements (managers keep them; agents read them): targets for the tickets of some
//! services or requesters, on their own calendar. One reading of the form for the API and the
//! page; saving one marks every open ticket for the SLA watcher.

use super::desk_settings::hours_from;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::desk::agreement::{AGREEMENTS_MAX, AgreementInput, AgreementSpec, TargetInput};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::desk::agreements::SlaAgreement;
use uuid::Uuid;

/// An agreement as written in a form or a body: the calendar as the desk's policies write it.
#[derive(Debug, Clone, Default)]
pub struct AgreementForm {
    pub name: String,
    pub position: Option<i64>,
    pub service_ids: Vec<Uuid>,
    pub requesters: Vec<String>,
    pub targets: Vec<TargetInput>,
    pub timezone: String,
    /// Seven days, Monday first, each a list of `HH:MM-HH:MM`.
    pub week: Vec<Vec<String>>,
    pub holidays: Vec<String>,
    /// An iCalendar file whose events' days join the holidays.
    pub ical: Option<String>,
    pub escalation_email: Option<String>,
    pub enabled: Option<bool>,
}

/// Checks a form: its calendar, then the agreement (422 naming the field).
pub fn spec_from(f: &AgreementForm) -> Result<AgreementSpec, ApiError> {
    let hours = hours_from(&f.timezone, &f.week, &f.holidays, f.ical.as_deref())?;
    Ok(AgreementSpec::new(&AgreementInput {
        name: f.name.clone(),
        position: f.position,
        service_ids: f.service_ids.clone(),
        requesters: f.requesters.clone(),
        targets: f.targets.clone(),
        hours,
        escalation_email: f.escalation_email.clone(),
        enabled: f.enabled,
    })?)
}

pub async fn list(state: &AppState, auth: &Auth) -> Result<Vec<SlaAgreement>, ApiError> {
    auth.require(Permission::Respond)?;
    Ok(state.db.sla_agreements().await?)
}

pub async fn get(state: &AppState, auth: &Auth, id: Uuid) -> Result<SlaAgreement, ApiError> {
    auth.require(Permission::Respond)?;
    Ok(state.db.sla_agreement(id).await?)
}

/// Every service an agreement newly names exists (one it named before may have been deleted
/// since: keeping it is harmless, it matches nothing).
async fn check_services(state: &AppState, spec: &AgreementSpec, before: &[Uuid]) -> Result<(), ApiError> {
    for id in spec.service_ids.iter().filter(|id| !before.contains(id)) {
        if state.db.get_service(Ref::Id(*id)).await.is_err() {
            return Err(ApiError::invalid("service_ids", format!("{id} names no service")));
        }
    }
    Ok(())
}

pub async fn create(state: &AppState, auth: &Auth, spec: &AgreementSpec) -> Result<SlaAgreement, ApiError> {
    auth.require(Permission::Configure)?;
    check_services(state, spec, &[]).await?;
    if state.db.count_sla_agreements().await? >= i64::try_from(AGREEMENTS_MAX).unwrap_or(i64::MAX) {
        return Err(ApiError::conflict(format!("at most {AGREEMENTS_MAX} SLA agreements; edit or delete one")));
    }
    Ok(state.db.create_sla_agreement(&auth.actor(), state.now(), spec).await?)
}

pub async fn update(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    spec: &AgreementSpec,
    version: Option<i64>,
) -> Result<SlaAgreement, ApiError> {
    auth.require(Permission::Configure)?;
    let before = state.db.sla_agreement(id).await?;
    super::check_version(&before.spec.name, before.version, version)?;
    check_services(state, spec, &before.spec.service_ids).await?;
    Ok(state.db.update_sla_agreement(&auth.actor(), state.now(), &before, spec).await?)
}

pub async fn delete(state: &AppState, auth: &Auth, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    let before = state.db.sla_agreement(id).await?;
    Ok(state.db.delete_sla_agreement(&auth.actor(), state.now(), &before).await?)
}
