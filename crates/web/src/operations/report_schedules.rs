//! Scheduled reports: managers choose who gets the weekly or monthly KPI report; the report
//! mailer ([`crate::report_mailer`]) queues each period's e-mails once it has ended.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::report_schedule::ReportScheduleSpec;
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::report_schedule::ReportSchedule;

/// Schedules a report (managers and up). The period due now counts as sent: the first e-mail
/// goes out when the next period ends ("Send now" sends the last one at once).
pub async fn create(state: &AppState, auth: &Auth, spec: ReportScheduleSpec) -> Result<ReportSchedule, ApiError> {
    auth.require(Permission::Configure)?;
    if let Some(id) = spec.service_id {
        match state.db.get_service(Ref::Id(id)).await {
            Err(opsdeck_store::StoreError::NotFound(_)) => {
                return Err(ApiError::invalid("service_id", format!("no service has id {id}")));
            }
            other => drop(other?),
        }
    }
    let due = spec.cadence.due(state.now()).ok_or_else(ApiError::internal)?;
    Ok(state.db.create_report_schedule(&auth.actor(), state.now(), &spec, (&due.label, due.from)).await?)
}

pub async fn delete(state: &AppState, auth: &Auth, s: &ReportSchedule) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    Ok(state.db.delete_report_schedule(&auth.actor(), state.now(), s).await?)
}
