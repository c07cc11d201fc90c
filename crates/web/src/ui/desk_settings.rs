//! The desk's settings page (agents read, managers edit): the priority matrix, auto-close, and
//! each priority's SLA policy with its business hours and holidays, and the SLA agreements
//! tried before them.

use super::ticket_routes::Names;
use super::{Chrome, PageAuth, error_page, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::desk_settings::{self as op, DeskSettings, PolicyInput};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::desk::ticket::PriorityMatrix;
use opsdeck_core::role::Permission;
use opsdeck_store::desk::SlaPolicy;
use opsdeck_store::desk::agreements::SlaAgreement;
use serde::Deserialize;

/// Impact and urgency as the new-ticket form words them.
pub const IMPACTS: [&str; 4] = ["Everyone", "A department or many users", "A few people", "Just me"];
pub const URGENCIES: [&str; 4] = ["Work has stopped", "Badly slowed", "Can wait a day", "Whenever possible"];
pub const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// A policy as its form shows it.
pub struct PolicyRow {
    pub p: SlaPolicy,
    /// Each day's hours, `09:00-17:00, 18:00-20:00` (empty: closed).
    pub days: Vec<String>,
    pub holidays: String,
    /// Open all day, every day.
    pub always: bool,
}

/// An SLA agreement as the settings page lists it.
pub struct AgreementRow {
    pub a: SlaAgreement,
    /// What it covers, in words: "Payroll, Mail · @example.com".
    pub covers: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "tickets/settings.html")]
pub struct SettingsPage {
    chrome: Chrome,
    s: DeskSettings,
    policies: Vec<PolicyRow>,
    agreements: Vec<AgreementRow>,
    manager: bool,
}

fn agreement_row(a: SlaAgreement, names: &Names) -> AgreementRow {
    let services: Vec<String> = a.spec.service_ids.iter().map(|id| names.service(id)).collect();
    let mut parts = Vec::new();
    if !services.is_empty() {
        parts.push(services.join(", "));
    }
    if !a.spec.requesters.is_empty() {
        parts.push(a.spec.requesters.join(", "));
    }
    let covers = if parts.is_empty() { "every ticket".to_owned() } else { parts.join(" · ") };
    AgreementRow { a, covers }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// Seven days' open hours as the forms write them (`09:00-12:00, 13:00-17:00`, Monday first),
/// as the calendar parser reads them: a list of intervals per day.
pub fn week_of(days: [&str; 7]) -> Vec<Vec<String>> {
    days.iter().map(|d| d.split(',').map(str::trim).filter(|i| !i.is_empty()).map(str::to_owned).collect()).collect()
}

/// A textarea's non-blank lines, trimmed (holidays, addresses).
pub fn lines_of(v: &str) -> Vec<String> {
    v.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// A duration in minutes as people read it: "15 min", "4 h", "1 d 2 h".
pub fn minutes(m: &u32) -> String {
    let m = *m;
    match (m / 1440, m % 1440 / 60, m % 60) {
        (0, 0, min) => format!("{min} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, min) => format!("{h} h {min} min"),
        (d, 0, 0) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

pub async fn page(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    let chrome = match auth.chrome(&state, "tickets", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let s = op::settings(&state, &auth.0).await?;
        let policies = crate::operations::tickets::policies(&state, &auth.0).await?;
        let agreements = crate::operations::sla_agreements::list(&state, &auth.0).await?;
        let names = Names::load(&state).await?;
        Ok::<_, ApiError>((s, policies, agreements.into_iter().map(|a| agreement_row(a, &names)).collect()))
    }
    .await;
    match result {
        Ok((s, policies, agreements)) => {
            let policies = policies
                .into_iter()
                .map(|p| {
                    let (week, holidays) = op::written(&p);
                    let days: Vec<String> = week.iter().map(|d| d.join(", ")).collect();
                    let always = days.iter().all(|d| d == "00:00-24:00");
                    PolicyRow { days, holidays: holidays.join("\n"), always, p }
                })
                .collect();
            SettingsPage { chrome, s, policies, agreements, manager: auth.0.allows(Permission::Configure) }
                .into_response()
        }
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SettingsForm {
    /// `m{impact}{urgency}`, e.g. `m13`.
    m11: String,
    m12: String,
    m13: String,
    m14: String,
    m21: String,
    m22: String,
    m23: String,
    m24: String,
    m31: String,
    m32: String,
    m33: String,
    m34: String,
    m41: String,
    m42: String,
    m43: String,
    m44: String,
    auto_close_days: String,
}

pub async fn save(State(state): State<AppState>, auth: PageAuth, Form(f): Form<SettingsForm>) -> Response {
    let result = async {
        let rows = [
            [&f.m11, &f.m12, &f.m13, &f.m14],
            [&f.m21, &f.m22, &f.m23, &f.m24],
            [&f.m31, &f.m32, &f.m33, &f.m34],
            [&f.m41, &f.m42, &f.m43, &f.m44],
        ];
        let mut cells = [[0u8; 4]; 4];
        for (cell, raw) in cells.iter_mut().flatten().zip(rows.iter().flatten()) {
            *cell =
                raw.trim().parse().map_err(|_| ApiError::invalid("priority_matrix", "choose P1 to P4 in each cell"))?;
        }
        let days = f
            .auto_close_days
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid("auto_close_days", "write a whole number of days, 0 for never"))?;
        op::save(&state, &auth.0, &DeskSettings { matrix: PriorityMatrix { cells }, auto_close_days: days }).await
    }
    .await;
    outcome("/tickets/settings", result.map(|_| "Desk settings saved".to_owned()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PolicyForm {
    first_response_minutes: String,
    resolution_minutes: String,
    timezone: String,
    mon: String,
    tue: String,
    wed: String,
    thu: String,
    fri: String,
    sat: String,
    sun: String,
    holidays: String,
    escalation_email: String,
    /// An iCalendar file's text whose events join the holidays.
    ical: String,
}

pub async fn save_policy(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(priority): Path<String>,
    Form(f): Form<PolicyForm>,
) -> Response {
    let result = async {
        let priority = match priority.parse::<u8>() {
            Ok(p @ 1..=4) => p,
            _ => return Err(ApiError::invalid("priority", "must be 1 to 4")),
        };
        let mins = |field: &'static str, v: &str| {
            v.trim().parse::<u32>().map_err(|_| ApiError::invalid(field, "write a whole number of minutes"))
        };
        let input = PolicyInput {
            priority,
            first_response_minutes: mins("first_response_minutes", &f.first_response_minutes)?,
            resolution_minutes: mins("resolution_minutes", &f.resolution_minutes)?,
            timezone: f.timezone.trim().to_owned(),
            week: week_of([&f.mon, &f.tue, &f.wed, &f.thu, &f.fri, &f.sat, &f.sun]),
            holidays: lines_of(&f.holidays),
            escalation_email: Some(f.escalation_email.clone()),
            ical: Some(f.ical.clone()),
        };
        op::save_policy_input(&state, &auth.0, &input).await
    }
    .await;
    outcome("/tickets/settings", result.map(|p| format!("P{} SLA policy saved", p.priority)))
}
