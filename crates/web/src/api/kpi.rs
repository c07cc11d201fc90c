//! The operations KPI report as JSON, CSV and a printable HTML page: `/api/v1/reports/kpi…`.

use super::ts;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::operations::kpi::{self, Figures, Kpi, KpiRange, severity_map};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use opsdeck_core::kpi::Availability;
use opsdeck_core::role::Permission;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(kpi_json)).routes(routes!(kpi_csv)).routes(routes!(kpi_html))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// A calendar month in UTC (`2026-10`), compared with the month before; wins over `from`/`to`.
    #[param(schema_with = crate::api::schema::month_opt)]
    pub period: Option<String>,
    /// RFC 3339 or YYYY-MM-DD; default 30 days before `to`.
    #[param(schema_with = crate::api::schema::date_or_time_opt)]
    pub from: Option<String>,
    /// RFC 3339 or YYYY-MM-DD (exclusive); default now.
    #[param(schema_with = crate::api::schema::date_or_time_opt)]
    pub to: Option<String>,
    /// A service id or slug: only its incidents, availability and SLOs.
    pub service_id: Option<String>,
}

impl From<KpiQuery> for KpiRange {
    fn from(q: KpiQuery) -> Self {
        KpiRange { period: q.period, from: q.from, to: q.to, service_id: q.service_id }
    }
}

/// Availability as a fraction in [0, 1]; `null` where nothing was checked.
#[derive(Serialize, ToSchema)]
pub struct AvailabilityDto {
    /// Planned maintenance excluded: (checks − maintenance − failures outside it) / (checks − maintenance).
    pub adjusted: Option<f64>,
    /// As users saw it, maintenance counted as down: (checks − maintenance − failures outside it) / checks.
    pub raw: Option<f64>,
}

impl From<Availability> for AvailabilityDto {
    fn from(a: Availability) -> Self {
        AvailabilityDto { adjusted: a.adjusted, raw: a.raw }
    }
}

/// The MTTR variants' means, in seconds, each named for what it measures.
#[derive(Serialize, ToSchema)]
pub struct MttrVariants {
    /// mitigated − detected (Atlassian "respond").
    pub respond: Option<f64>,
    /// mitigated − impact start (DORA "time to restore"; `mttr_seconds`).
    pub recover: Option<f64>,
    /// resolved − detected.
    pub resolve_from_detect: Option<f64>,
    /// resolved − impact start.
    pub resolve_from_start: Option<f64>,
}

/// One period's headline figures.
#[derive(Serialize, ToSchema)]
pub struct KpiFigures {
    pub availability: AvailabilityDto,
    /// Checks the availability is computed from.
    pub checks: u64,
    /// Incidents detected in the period (merged ones count in their target).
    pub incidents: usize,
    /// Mean detected − impact start, seconds.
    pub mttd_seconds: Option<f64>,
    /// Mean acknowledged − detected, seconds.
    pub mtta_seconds: Option<f64>,
    /// Mean mitigated − impact start (time to restore), seconds.
    pub mttr_seconds: Option<f64>,
    pub mttr_variants_seconds: MttrVariants,
    /// Every severity, with zero where none.
    pub incidents_by_severity: BTreeMap<String, i64>,
    /// Mean, median, p90 and count of every variant.
    #[schema(value_type = Object)]
    pub mttx: serde_json::Value,
    pub changes: ChangeKpiDto,
    /// The service desk's figures; null in a report about one service.
    pub service_desk: Option<DeskKpiDto>,
}

/// Tickets in the period: times in business minutes, as the SLA clocks count them.
#[derive(Serialize, ToSchema)]
pub struct DeskKpiDto {
    /// Tickets raised in the period.
    pub raised: u64,
    /// Tickets resolved in the period (still resolved or closed).
    pub resolved: u64,
    /// Tickets open now (the current period only).
    pub backlog: Option<u64>,
    pub mean_first_response_minutes: Option<f64>,
    pub mean_resolution_minutes: Option<f64>,
    /// Resolved with neither clock breached / resolved; null without resolved tickets.
    pub sla_compliance: Option<f64>,
    pub first_response_compliance: Option<f64>,
    pub resolution_compliance: Option<f64>,
    /// Resolved tickets reopened at least once / resolved.
    pub reopen_rate: Option<f64>,
    /// Requesters' satisfaction ratings given in the period, and their mean (1 to 5; null
    /// without ratings).
    pub ratings: u64,
    pub mean_satisfaction: Option<f64>,
    /// Readers who said a knowledge-base article answered their question, in the period.
    pub self_service_answers: u64,
    /// Those answers / (those answers + tickets raised); null when both are zero.
    pub deflection_rate: Option<f64>,
}

/// One desk figure as a CSV cell.
type DeskCell = fn(&DeskKpiDto) -> String;

fn desk_dto(d: &opsdeck_core::desk::kpi::DeskKpis) -> DeskKpiDto {
    DeskKpiDto {
        raised: d.raised,
        resolved: d.resolved,
        backlog: d.backlog,
        mean_first_response_minutes: d.mean_first_response_minutes,
        mean_resolution_minutes: d.mean_resolution_minutes,
        sla_compliance: d.sla_compliance,
        first_response_compliance: d.first_response_compliance,
        resolution_compliance: d.resolution_compliance,
        reopen_rate: d.reopen_rate,
        ratings: d.ratings,
        mean_satisfaction: d.mean_satisfaction,
        self_service_answers: d.self_service_answers,
        deflection_rate: d.deflection_rate,
    }
}

/// Changes closed in the period.
#[derive(Serialize, ToSchema)]
pub struct ChangeKpiDto {
    pub closed: u64,
    /// Closed successful or successful with issues, and not marked as an incident's cause.
    pub succeeded: u64,
    pub failed: u64,
    /// succeeded / closed; null without closed changes.
    pub success_rate: Option<f64>,
    /// failed / closed (DORA's change failure rate).
    pub failure_rate: Option<f64>,
    pub emergency_share: Option<f64>,
    /// Mean hours from raised to work done.
    pub mean_lead_hours: Option<f64>,
    /// Closed changes by type: standard, normal, emergency.
    pub by_type: BTreeMap<String, u64>,
    /// Closed changes by risk level: low, moderate, high.
    pub by_risk: BTreeMap<String, u64>,
}

fn figures(f: &Figures) -> KpiFigures {
    let m = &f.mttx;
    KpiFigures {
        availability: f.availability.into(),
        checks: f.checks,
        incidents: f.incidents,
        mttd_seconds: m.mttd.mean_seconds,
        mtta_seconds: m.mtta.mean_seconds,
        mttr_seconds: m.mttr_recover.mean_seconds,
        mttr_variants_seconds: MttrVariants {
            respond: m.mttr_respond.mean_seconds,
            recover: m.mttr_recover.mean_seconds,
            resolve_from_detect: m.mttr_resolve_from_detect.mean_seconds,
            resolve_from_start: m.mttr_resolve_from_start.mean_seconds,
        },
        incidents_by_severity: severity_map(&f.by_severity),
        mttx: serde_json::to_value(m).unwrap_or_default(),
        changes: ChangeKpiDto {
            closed: f.changes.closed,
            succeeded: f.changes.succeeded,
            failed: f.changes.failed,
            success_rate: f.changes.success_rate,
            failure_rate: f.changes.failure_rate,
            emergency_share: f.changes.emergency_share,
            mean_lead_hours: f.changes.mean_lead_hours,
            by_type: f.changes.by_type.iter().map(|(t, n)| (t.as_str().to_owned(), *n)).collect(),
            by_risk: f.changes.by_risk.iter().map(|(r, n)| (r.as_str().to_owned(), *n)).collect(),
        },
        service_desk: f.desk.as_ref().map(desk_dto),
    }
}

#[derive(Serialize, ToSchema)]
pub struct KpiPeriod {
    /// `2026-10`, or `2026-10-01 – 2026-10-14`.
    pub label: String,
    pub from: String,
    /// Exclusive.
    pub to: String,
    pub previous_from: String,
    pub previous_to: String,
}

#[derive(Serialize, ToSchema)]
pub struct KpiService {
    /// `null` for monitors that belong to no service.
    pub service_id: Option<String>,
    pub name: String,
    pub checks: u64,
    pub availability: AvailabilityDto,
    pub previous_availability: AvailabilityDto,
}

#[derive(Serialize, ToSchema)]
pub struct KpiSlo {
    pub slo_id: String,
    pub name: String,
    pub service_id: String,
    pub target: f64,
    /// The SLI over the report's period; `null` when its monitors were not checked.
    pub sli: Option<f64>,
    pub met: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct KpiServiceCount {
    pub service_id: Option<String>,
    pub name: String,
    pub incidents: i64,
}

#[derive(Serialize, ToSchema)]
pub struct KpiReport {
    pub period: KpiPeriod,
    #[serde(flatten)]
    pub current: KpiFigures,
    /// The same figures for the period before (the month before, or as long a span before).
    pub previous: KpiFigures,
    /// Worst adjusted availability first.
    pub services: Vec<KpiService>,
    pub incidents_by_service: Vec<KpiServiceCount>,
    #[schema(value_type = Vec<Object>)]
    pub noisiest_sources: Vec<serde_json::Value>,
    pub slo_compliance: Vec<KpiSlo>,
    /// Arrives with change management; `null` until changes are recorded.
    pub change_success_rate: Option<f64>,
    /// Arrives with licence management; `null` until then.
    pub licence_utilisation: Option<f64>,
}

pub fn report(k: &Kpi) -> KpiReport {
    let p = &k.period;
    KpiReport {
        period: KpiPeriod {
            label: p.label.clone(),
            from: ts(p.from),
            to: ts(p.to),
            previous_from: ts(p.previous_from),
            previous_to: ts(p.previous_to),
        },
        current: figures(&k.current),
        previous: figures(&k.previous),
        services: k
            .services
            .iter()
            .map(|s| KpiService {
                service_id: s.service_id.map(|i| i.to_string()),
                name: s.name.clone(),
                checks: s.checks,
                availability: s.availability.into(),
                previous_availability: s.previous.into(),
            })
            .collect(),
        incidents_by_service: k
            .by_service
            .iter()
            .map(|c| KpiServiceCount {
                service_id: (!c.key.is_empty()).then(|| c.key.clone()),
                name: c.label.clone(),
                incidents: c.count,
            })
            .collect(),
        noisiest_sources: k.noisy.iter().map(|n| serde_json::to_value(n).unwrap_or_default()).collect(),
        slo_compliance: k
            .slos
            .iter()
            .map(|s| KpiSlo {
                slo_id: s.slo_id.to_string(),
                name: s.name.clone(),
                service_id: s.service_id.to_string(),
                target: s.target,
                sli: s.sli,
                met: s.met(),
            })
            .collect(),
        change_success_rate: None,
        licence_utilisation: None,
    }
}

/// Availability per service, MTTD, MTTA, MTTR, incidents by severity and service, noisy sources
/// and SLO compliance over a period, with the period before for comparison.
#[utoipa::path(
    get,
    path = "/api/v1/reports/kpi",
    tag = "reports",
    params(KpiQuery),
    responses((status = 200, body = KpiReport))
)]
async fn kpi_json(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<KpiQuery>,
) -> Result<Json<KpiReport>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(report(&kpi::build(&state, &q.into()).await?)))
}

/// A spreadsheet cell that will not run as a formula (service and SLO names are user text).
use super::reports::cell;

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.6}").trim_end_matches('0').trim_end_matches('.').to_owned()).unwrap_or_default()
}

/// The report as rows of `metric, scope, current, previous`.
pub fn csv(k: &Kpi) -> Result<String, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| {
        tracing::error!(error = %e, "CSV export failed");
        ApiError::internal()
    };
    let (c, p) = (figures(&k.current), figures(&k.previous));
    let mut rows: Vec<[String; 4]> = vec![
        ["availability_adjusted".into(), "all".into(), num(c.availability.adjusted), num(p.availability.adjusted)],
        ["availability_raw".into(), "all".into(), num(c.availability.raw), num(p.availability.raw)],
        ["checks".into(), "all".into(), c.checks.to_string(), p.checks.to_string()],
        ["incidents".into(), "all".into(), c.incidents.to_string(), p.incidents.to_string()],
        ["mttd_seconds".into(), "all".into(), num(c.mttd_seconds), num(p.mttd_seconds)],
        ["mtta_seconds".into(), "all".into(), num(c.mtta_seconds), num(p.mtta_seconds)],
        ["mttr_seconds".into(), "all".into(), num(c.mttr_seconds), num(p.mttr_seconds)],
    ];
    for (sev, n) in &c.incidents_by_severity {
        let before = p.incidents_by_severity.get(sev).copied().unwrap_or(0);
        rows.push(["incidents".into(), format!("severity:{sev}"), n.to_string(), before.to_string()]);
    }
    for s in &k.services {
        let scope = cell(&format!("service:{}", s.name));
        rows.push([
            "availability_adjusted".into(),
            scope.clone(),
            num(s.availability.adjusted),
            num(s.previous.adjusted),
        ]);
        rows.push(["availability_raw".into(), scope, num(s.availability.raw), num(s.previous.raw)]);
    }
    for s in &k.slos {
        rows.push(["slo_sli".into(), cell(&format!("slo:{}", s.name)), num(s.sli), String::new()]);
    }
    let (cc, pc) = (&k.current.changes, &k.previous.changes);
    rows.extend([
        ["changes_closed".into(), "all".into(), cc.closed.to_string(), pc.closed.to_string()],
        ["change_success_rate".into(), "all".into(), num(cc.success_rate), num(pc.success_rate)],
        ["change_failure_rate".into(), "all".into(), num(cc.failure_rate), num(pc.failure_rate)],
        ["change_emergency_share".into(), "all".into(), num(cc.emergency_share), num(pc.emergency_share)],
        ["change_mean_lead_hours".into(), "all".into(), num(cc.mean_lead_hours), num(pc.mean_lead_hours)],
    ]);
    if let (Some(cd), pd) = (&c.service_desk, &p.service_desk) {
        let before = |f: DeskCell| pd.as_ref().map(f).unwrap_or_default();
        let lines: [(&str, DeskCell); 13] = [
            ("tickets_raised", |d| d.raised.to_string()),
            ("tickets_resolved", |d| d.resolved.to_string()),
            ("ticket_backlog", |d| d.backlog.map(|b| b.to_string()).unwrap_or_default()),
            ("ticket_mean_first_response_minutes", |d| num(d.mean_first_response_minutes)),
            ("ticket_mean_resolution_minutes", |d| num(d.mean_resolution_minutes)),
            ("ticket_sla_compliance", |d| num(d.sla_compliance)),
            ("ticket_first_response_compliance", |d| num(d.first_response_compliance)),
            ("ticket_resolution_compliance", |d| num(d.resolution_compliance)),
            ("ticket_reopen_rate", |d| num(d.reopen_rate)),
            ("ticket_ratings", |d| d.ratings.to_string()),
            ("ticket_mean_satisfaction", |d| num(d.mean_satisfaction)),
            ("self_service_answers", |d| d.self_service_answers.to_string()),
            ("self_service_deflection_rate", |d| num(d.deflection_rate)),
        ];
        for (metric, f) in lines {
            rows.push([metric.into(), "all".into(), f(cd), before(f)]);
        }
    }
    for ((kind, n), (_, before)) in cc.by_type.iter().zip(&pc.by_type) {
        rows.push(["changes_closed".into(), format!("type:{}", kind.as_str()), n.to_string(), before.to_string()]);
    }
    for ((risk, n), (_, before)) in cc.by_risk.iter().zip(&pc.by_risk) {
        rows.push(["changes_closed".into(), format!("risk:{}", risk.as_str()), n.to_string(), before.to_string()]);
    }
    w.write_record(["metric", "scope", "current", "previous"]).map_err(fail)?;
    for r in rows {
        w.write_record(r).map_err(fail)?;
    }
    let bytes = w.into_inner().map_err(|e| fail(e.into_error().into()))?;
    String::from_utf8(bytes).map_err(|_| ApiError::internal())
}

fn file_name(k: &Kpi, ext: &str) -> String {
    let label = k.period.label.replace(' ', "").replace('–', "_");
    format!("attachment; filename=\"opsdeck-kpi-{label}.{ext}\"")
}

/// The report as CSV: one row per metric and scope, with the current and previous period.
#[utoipa::path(
    get,
    path = "/api/v1/reports/kpi.csv",
    tag = "reports",
    params(KpiQuery),
    responses((status = 200, content_type = "text/csv", body = String))
)]
async fn kpi_csv(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<KpiQuery>,
) -> Result<Response, ApiError> {
    auth.require(Permission::Read)?;
    let k = kpi::build(&state, &q.into()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, file_name(&k, "csv")),
        ],
        csv(&k)?,
    )
        .into_response())
}

/// The report as one printable HTML page (styles and charts inline), as it is e-mailed.
#[utoipa::path(
    get,
    path = "/api/v1/reports/kpi.html",
    tag = "reports",
    params(KpiQuery),
    responses((status = 200, content_type = "text/html", body = String))
)]
async fn kpi_html(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<KpiQuery>,
) -> Result<Response, ApiError> {
    auth.require(Permission::Read)?;
    let k = kpi::build(&state, &q.into()).await?;
    let html = crate::ui::kpi::printable(&state, &k).await?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_are_short_and_cells_safe() {
        assert_eq!(super::num(Some(0.999)), "0.999");
        assert_eq!(super::num(Some(1.0)), "1");
        assert_eq!(super::num(None), "");
        assert_eq!(super::cell("=cmd"), "'=cmd");
    }
}
