//! SLOs as a service's page shows them: the SLI over the window, the error budget left and the
//! burn-rate rule that fires, as the API reports them.

use super::{Chrome, PageAuth, charts, error_page};
use crate::AppState;
use crate::error::ApiError;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use opsdeck_core::Entity;
use opsdeck_core::role::Permission;
use opsdeck_core::slo::{Sli, SloWindow, Urgency};
use opsdeck_store::slo::Slo;
use opsdeck_store::slo_alert::Evaluation;
use uuid::Uuid;

/// SLOs a service page lists, at most.
const SHOWN: i64 = 50;

/// One SLO row.
pub struct Row {
    pub id: Uuid,
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
    format!("{s}\u{a0}%")
}

fn objective(s: &Slo) -> String {
    match &s.spec.window {
        SloWindow::Rolling { days } => format!("{} over {days} days", pct(s.spec.target)),
        SloWindow::CalendarMonth { time_zone } => format!("{} per calendar month ({time_zone})", pct(s.spec.target)),
    }
}

fn label(d: chrono::Duration) -> &'static str {
    opsdeck_core::slo::burn_windows().iter().find(|w| w.1 == d).map_or("?", |w| w.0)
}

fn row(s: &Slo, e: &Evaluation) -> Row {
    let urgency = e.urgency();
    Row {
        id: s.id,
        name: s.spec.name.clone(),
        objective: objective(s),
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
    }
}

pub async fn for_service(state: &AppState, service_id: Uuid) -> Result<Vec<Row>, ApiError> {
    use futures_util::{StreamExt, TryStreamExt};
    let slos = state.db.list_slos(Some(service_id), SHOWN).await?;
    // A few side by side: SLOs on a Prometheus server wait for its answers.
    futures_util::stream::iter(slos)
        .map(|s| async move { crate::operations::slos::evaluate(state, &s).await.map(|e| row(&s, &e)) })
        .buffered(8)
        .try_collect()
        .await
}

/// Days a burn-down covers, at most (a calendar month, or a rolling window up to 90 days).
const BURN_DOWN_DAYS: i64 = 93;

#[derive(Template, WebTemplate)]
#[template(path = "catalogue/slo.html")]
pub struct SloPage {
    chrome: Chrome,
    row: Row,
    service: (String, String),
    monitors: Vec<(Uuid, String)>,
    /// For a Prometheus SLI: its server, and its queries as (what, PromQL).
    prometheus: Option<(String, Vec<(&'static str, String)>)>,
    /// What the counts over the window were ("9 of 10 checks passed").
    counted: String,
    /// `availability`, `events` or `prometheus`.
    kind: &'static str,
    source_error: Option<String>,
    description: String,
    window_start: String,
    burn_rates: Vec<(&'static str, String)>,
    firing: Vec<String>,
    chart: String,
}

/// One SLO: what it says now, its burn rates, and its budget day by day since the window began.
pub async fn page(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<super::account::NoticeQuery>,
) -> Response {
    let chrome = match auth.chrome(&state, "services", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let s = state.db.get_slo(crate::extract::parse_id(Entity::Slo, &id)?).await?;
        let now = state.now();
        let e = crate::operations::slos::evaluate(&state, &s).await?;
        let service = state.db.get_service(opsdeck_store::catalogue::Ref::Id(s.spec.service_id)).await?;
        let names = state.db.page_monitors(s.spec.sli.monitor_ids(), &[]).await?;
        let mut monitors = Vec::new();
        for m in &names {
            if let Ok(found) = state.db.get_monitor(m.0).await {
                monitors.push((m.0, found.monitor.spec.name));
            }
        }
        // A Prometheus server that did not answer now is not asked a hundred times more.
        let days =
            if e.source_error.is_some() { -1 } else { (now - e.window_start).num_days().clamp(0, BURN_DOWN_DAYS) };
        let ends: Vec<_> = (0..=days)
            .map(|d| e.window_start.checked_add_signed(chrono::Duration::days(d + 1)).map_or(now, |t| t.min(now)))
            .collect();
        use futures_util::{StreamExt, TryStreamExt};
        let points: Vec<(String, Option<f64>)> = futures_util::stream::iter(ends)
            .map(|end| {
                let (state, s, start) = (&state, &s, e.window_start);
                async move {
                    let c = crate::operations::slos::counts_between(state, s, start, end).await?;
                    Ok::<_, ApiError>((end.format("%m-%d").to_string(), c.and_then(|c| s.spec.budget_remaining(c))))
                }
            })
            .buffered(8)
            .try_collect()
            .await?;
        let (good, total) = (e.counts.good, e.counts.total);
        let counted = match (&s.spec.sli, &e.source_error) {
            (_, Some(_)) => "Nothing is known while the SLI cannot be read".to_owned(),
            (Sli::Availability { .. }, None) => format!("{good} of {total} checks passed"),
            (Sli::Latency { threshold_ms, .. }, None) => {
                format!("{good} of {total} checks were answered within {threshold_ms} ms")
            }
            (Sli::Events, None) => format!("{good} of {total} pushed events were good"),
            (Sli::Prometheus(_), None) => format!("The queries gave {good:.4} good of {total:.4}"),
        };
        let prometheus = match &s.spec.sli {
            Sli::Prometheus(p) => {
                let mut q = Vec::new();
                if let Some(g) = &p.good_query {
                    q.push(("Good", g.clone()));
                }
                if let Some(b) = &p.bad_query {
                    q.push(("Bad", b.clone()));
                }
                q.push(("Total", p.total_query.clone()));
                Some((p.url.clone(), q))
            }
            _ => None,
        };
        let total_days = usize::try_from(s.spec.window.length(now).num_days()).unwrap_or(30);
        Ok::<_, ApiError>(SloPage {
            row: row(&s, &e),
            service: (service.service.slug.clone(), service.service.name.clone()),
            monitors,
            description: s.spec.description.clone(),
            window_start: super::abs(e.window_start),
            counted,
            kind: s.spec.sli.kind(),
            prometheus,
            source_error: e.source_error.clone(),
            burn_rates: e
                .burn_rates
                .iter()
                .map(|(l, r)| (*l, r.map_or_else(|| "no data".to_owned(), |r| format!("{r:.2}×"))))
                .collect(),
            firing: e
                .firing
                .iter()
                .map(|r| {
                    let u = if r.urgency == Urgency::Page { "Page" } else { "Ticket" };
                    format!("{u}: burning {}× or faster over {} and over {}", r.factor, label(r.long), label(r.short))
                })
                .collect(),
            chart: charts::burn_down(&points, total_days),
            chrome,
        })
    }
    .await;
    match result {
        Ok(p) => p.into_response(),
        Err(e) => error_page(&e),
    }
}

/// Deletes an SLO from its page (managers), back to its service.
pub async fn delete(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let result = async {
        auth.0.require(Permission::Configure)?;
        let s = state.db.get_slo(crate::extract::parse_id(Entity::Slo, &id)?).await?;
        let service = state.db.get_service(opsdeck_store::catalogue::Ref::Id(s.spec.service_id)).await?;
        crate::operations::slos::delete(&state, &auth.0, &s).await?;
        Ok::<_, ApiError>((service.service.slug, s.spec.name))
    }
    .await;
    match result {
        Ok((slug, name)) => super::done(&format!("/services/{slug}"), &format!("SLO {name} deleted")),
        Err(e) => error_page(&e),
    }
}
