//! SLOs as a service's page shows them: the SLI over the window, the error budget left and the
//! burn-rate rule that fires, as the API reports them.

use crate::AppState;
use crate::error::ApiError;
use opsdeck_core::slo::{SloWindow, Urgency};
use uuid::Uuid;

/// SLOs a service page lists, at most.
const SHOWN: i64 = 50;

/// One SLO row.
pub struct Row {
    pub name: String,
    /// "99.9 % over 28 days", "99.9 % per calendar month".
    pub objective: String,
    /// "99.95 %", or "no data".
    pub sli: String,
    /// "63 % left", "overspent", or "no data".
    pub budget: String,
    /// `ok`, `warn` (a ticket) or `bad` (a page), for its colour.
    pub tone: &'static str,
    /// The firing rule, if any: "page: 14.4× over 1h and 5m".
    pub alert: Option<String>,
}

fn pct(v: f64) -> String {
    let s = format!("{:.3}", v * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} %")
}

pub async fn for_service(state: &AppState, service_id: Uuid) -> Result<Vec<Row>, ApiError> {
    let now = state.now();
    let mut rows = Vec::new();
    for s in state.db.list_slos(Some(service_id), SHOWN).await? {
        let e = state.db.evaluate_slo(&s, now).await?;
        let objective = match &s.spec.window {
            SloWindow::Rolling { days } => format!("{} over {days} days", pct(s.spec.target)),
            SloWindow::CalendarMonth { time_zone } => {
                format!("{} per calendar month ({time_zone})", pct(s.spec.target))
            }
        };
        let urgency = e.urgency();
        let label =
            |d: chrono::Duration| opsdeck_core::slo::burn_windows().iter().find(|w| w.1 == d).map_or("?", |w| w.0);
        rows.push(Row {
            name: s.spec.name.clone(),
            objective,
            sli: e.sli.map_or_else(|| "no data".to_owned(), pct),
            budget: match e.budget_remaining {
                None => "no data".to_owned(),
                Some(b) if b <= 0.0 => "overspent".to_owned(),
                Some(b) => format!("{:.0} % left", b * 100.0),
            },
            tone: match urgency {
                Some(Urgency::Page) => "bad",
                Some(Urgency::Ticket) => "warn",
                None => "ok",
            },
            alert: e.firing.iter().find(|r| Some(r.urgency) == urgency).map(|r| {
                let u = if r.urgency == Urgency::Page { "page" } else { "ticket" };
                format!("{u}: {}× over {} and {}", r.factor, label(r.long), label(r.short))
            }),
        });
    }
    Ok(rows)
}
