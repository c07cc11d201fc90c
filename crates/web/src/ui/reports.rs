//! The MTTx report page: the numbers of `/api/v1/reports/mttx` with charts and a CSV link.

use super::incidents::services;
use super::{Chrome, PageAuth, charts, error_page};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::reports::{self, ReportRange};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use opsdeck_store::catalogue::ServiceView;
use serde::Deserialize;

pub struct StatRow {
    name: &'static str,
    formula: &'static str,
    count: usize,
    mean: String,
    median: String,
    p90: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "incidents/reports.html")]
pub struct ReportsPage {
    chrome: Chrome,
    stats: Vec<StatRow>,
    incidents: usize,
    week_chart: String,
    service_chart: String,
    severity_chart: String,
    noisy: Vec<opsdeck_store::incident::NoisySource>,
    from: String,
    to: String,
    service_f: String,
    services: Vec<ServiceView>,
    csv_href: String,
}

#[derive(Deserialize, Default)]
pub struct ReportForm {
    from: Option<String>,
    to: Option<String>,
    service: Option<String>,
}

pub async fn report(State(state): State<AppState>, page: PageAuth, Query(q): Query<ReportForm>) -> Response {
    let chrome = chrome!(page, state, "reports", None);
    let blank = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
    // The form's "to" is a day shown inclusively; the report's bound is exclusive.
    let to = blank(&q.to).map(|t| match opsdeck_core::time::parse_date("to", &t).map(|d| d.succ_opt()) {
        Ok(Some(d)) => d.to_string(),
        _ => t,
    });
    let rq = ReportRange { from: blank(&q.from), to, service_id: blank(&q.service), severity: None };
    let r = try_page!(reports::build(&state, &rq).await);
    let fmt = |v: Option<f64>| v.map(|s| super::human_duration(s.round() as i64)).unwrap_or_else(|| "—".into());
    let m = &r.mttx;
    let stats = [
        ("MTTD", "detected − impact start", &m.mttd),
        ("MTTA", "acknowledged − detected", &m.mtta),
        ("MTTR (respond)", "mitigated − detected", &m.mttr_respond),
        ("MTTR (recover)", "mitigated − impact start", &m.mttr_recover),
        ("MTTR (resolve, from detection)", "resolved − detected", &m.mttr_resolve_from_detect),
        ("MTTR (resolve, from impact)", "resolved − impact start", &m.mttr_resolve_from_start),
    ]
    .into_iter()
    .map(|(name, formula, s)| StatRow {
        name,
        formula,
        count: s.count,
        mean: fmt(s.mean_seconds),
        median: fmt(s.median_seconds),
        p90: fmt(s.p90_seconds),
    })
    .collect();
    let pairs = |c: &[reports::Count]| c.iter().map(|c| (c.label.clone(), c.count)).collect::<Vec<_>>();
    let services = match services(&state).await {
        Ok(s) => s,
        Err(e) => return e,
    };
    let mut params = vec![("from", r.from.format("%Y-%m-%d").to_string()), ("to", r.to.to_rfc3339())];
    if let Some(s) = blank(&q.service) {
        params.push(("service_id", s));
    }
    ReportsPage {
        chrome,
        incidents: r.rows.len(),
        stats,
        week_chart: charts::column_chart(&pairs(&r.by_week), "incidents per week"),
        service_chart: charts::hbar_chart(&pairs(&r.by_service[..r.by_service.len().min(10)])),
        severity_chart: charts::hbar_chart(&pairs(&r.by_severity)),
        noisy: r.noisy,
        from: r.from.format("%Y-%m-%d").to_string(),
        to: (r.to - Duration::seconds(1)).format("%Y-%m-%d").to_string(),
        service_f: q.service.unwrap_or_default(),
        services,
        csv_href: format!("/api/v1/reports/mttx.csv?{}", serde_urlencoded::to_string(params).unwrap_or_default()),
    }
    .into_response()
}
