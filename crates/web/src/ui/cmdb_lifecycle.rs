//! The lifecycle report (CIs' warranties, vendor support and lives, and contracts' notice
//! deadlines, ends and renewals) and the reminder settings beside it.

use super::{Chrome, PageAuth, error_page, outcome};
use crate::AppState;
use crate::operations::{cmdb as op, contracts};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use chrono::NaiveDate;
use opsdeck_core::role::Permission;
use opsdeck_store::cmdb::Ci;
use opsdeck_store::cmdb::contracts::Contract;
use opsdeck_store::cmdb::reminders::ReminderDelivery;
use serde::Deserialize;

/// "in 12 days", "today", "3 days ago".
pub(crate) fn when(date: NaiveDate, today: NaiveDate) -> String {
    match (date - today).num_days() {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        n if n > 1 => format!("in {n} days"),
        -1 => "yesterday".to_owned(),
        n => format!("{} days ago", n.unsigned_abs()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LifecycleQuery {
    days: Option<i64>,
    notice: Option<String>,
}

pub struct DueRow {
    ci: Ci,
    label: &'static str,
    date: String,
    when: String,
    overdue: bool,
}

pub struct ContractRow {
    c: Contract,
    label: &'static str,
    date: String,
    when: String,
    overdue: bool,
}

/// The reminder settings as the page shows them (managers and up).
pub struct Reminders {
    recipients: String,
    lead_days: String,
    deliveries: Vec<(String, ReminderDelivery)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "cmdb/lifecycle.html")]
pub struct LifecyclePage {
    chrome: Chrome,
    rows: Vec<DueRow>,
    contracts: Vec<ContractRow>,
    reminders: Option<Reminders>,
    days: i64,
}

/// The lifecycle report: what ends soon (or has ended), and who is reminded.
pub async fn lifecycle(State(state): State<AppState>, auth: PageAuth, Query(q): Query<LifecycleQuery>) -> Response {
    let chrome = match auth.chrome(&state, "cmdb", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let days = op::within_days("days", q.days).unwrap_or(90);
    let loaded = async {
        let due = op::lifecycle(&state, &auth.0, days).await?;
        let contracts = contracts::due(&state, &auth.0, days).await?;
        let reminders = if auth.0.allows(Permission::Configure) {
            Some(contracts::reminder_settings(&state, &auth.0).await?)
        } else {
            None
        };
        Ok::<_, crate::error::ApiError>((due, contracts, reminders))
    }
    .await;
    let (due, due_contracts, reminders) = match loaded {
        Ok(v) => v,
        Err(e) => return error_page(&e),
    };
    let now = state.now();
    let today = now.date_naive();
    let rows = due
        .into_iter()
        .map(|(ci, event, date)| DueRow {
            ci,
            label: event.label(),
            date: date.to_string(),
            when: when(date, today),
            overdue: date < today,
        })
        .collect();
    let contracts = due_contracts
        .into_iter()
        .map(|(c, event, date)| ContractRow {
            c,
            label: event.label(),
            date: date.to_string(),
            when: when(date, today),
            overdue: date < today,
        })
        .collect();
    let reminders = reminders.map(|(s, deliveries)| Reminders {
        recipients: s.recipients.join("\n"),
        lead_days: s.lead_days.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
        deliveries: deliveries
            .into_iter()
            .map(|d| (super::ago(opsdeck_core::clock::from_millis(d.created_at), now), d))
            .collect(),
    });
    LifecyclePage { chrome, rows, contracts, reminders, days }.into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RemindersForm {
    /// An e-mail address per line (or separated by commas).
    recipients: String,
    /// Days, separated by commas or spaces.
    lead_days: String,
}

pub async fn save_reminders(State(state): State<AppState>, auth: PageAuth, Form(f): Form<RemindersForm>) -> Response {
    let result = async {
        let recipients: Vec<String> = f.recipients.split(['\n', ',', ';']).map(str::to_owned).collect();
        let mut leads = Vec::new();
        for part in f.lead_days.split([',', ' ', ';']).filter(|p| !p.trim().is_empty()) {
            leads.push(part.trim().parse::<i64>().map_err(|_| {
                crate::error::ApiError::invalid("lead_days", format!("{part:?} is not a whole number of days"))
            })?);
        }
        let s = contracts::save_reminder_settings(&state, &auth.0, &recipients, &leads).await?;
        Ok(if s.recipients.is_empty() {
            "Reminders are off: nobody is reminded".to_owned()
        } else {
            format!("Reminders go to {} recipient(s)", s.recipients.len())
        })
    }
    .await;
    outcome("/cmdb/lifecycle#reminders", result)
}
