//! The "Scheduled e-mails" panel of the KPI dashboard: managers schedule the weekly or monthly
//! report for chosen people, send the last one at once, or stop it.

use super::{PageAuth, error_page};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::parse_id;
use crate::operations::report_schedules as op;
use axum::extract::{Path, State};
use axum::response::Response;
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::report_schedule::ReportScheduleSpec;
use opsdeck_store::report_schedule::ReportSchedule;
use serde::Deserialize;
use uuid::Uuid;

const BACK: &str = "/reports#schedules";

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ScheduleForm {
    name: String,
    cadence: String,
    /// One address per line (or separated by commas).
    recipients: String,
    service_id: String,
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<ScheduleForm>) -> Response {
    let result = async {
        let service_id = match f.service_id.trim() {
            "" => None,
            s => Some(Uuid::parse_str(s).map_err(|_| ApiError::invalid("service_id", "choose a service"))?),
        };
        let recipients: Vec<String> = f.recipients.split([',', '\n', ';']).map(str::to_owned).collect();
        let spec = ReportScheduleSpec::new(&f.name, &f.cadence, &recipients, service_id)?;
        let s = op::create(&state, &auth.0, spec).await?;
        Ok(format!("Scheduled {}: the first e-mail goes out when the next {} ends", s.spec.name, period_word(&s)))
    }
    .await;
    super::outcome(BACK, result)
}

fn period_word(s: &ReportSchedule) -> &'static str {
    match s.spec.cadence {
        opsdeck_core::report_schedule::Cadence::Weekly => "week",
        opsdeck_core::report_schedule::Cadence::Monthly => "month",
    }
}

async fn schedule(state: &AppState, id: &str) -> Result<ReportSchedule, ApiError> {
    Ok(state.db.get_report_schedule(parse_id(Entity::ReportSchedule, id)?).await?)
}

pub async fn send(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let s = match schedule(&state, &id).await {
        Ok(s) => s,
        Err(e) => return error_page(&e),
    };
    let result = crate::report_mailer::send_now(&state, &auth.0, &s)
        .await
        .map(|n| format!("Sending {} to {n} recipient{}", s.spec.name, if n == 1 { "" } else { "s" }));
    super::outcome(BACK, result)
}

pub async fn delete(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let s = match schedule(&state, &id).await {
        Ok(s) => s,
        Err(e) => return error_page(&e),
    };
    let result = op::delete(&state, &auth.0, &s).await.map(|()| format!("Stopped {}", s.spec.name));
    super::outcome(BACK, result)
}
