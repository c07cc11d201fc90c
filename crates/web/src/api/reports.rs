//! The MTTx report: detection, acknowledgement and recovery times with every variant named,
//! incident counts by service, severity and week, and the noisiest alert sources; as JSON and
//! CSV.

use super::incidents::service_ref;
use super::ts;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use opsdeck_core::clock::from_millis;
use opsdeck_core::incident::{self, Mttx, Sev, Times};
use opsdeck_core::role::Permission;
use opsdeck_store::incident::{NoisySource, ReportRow};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(mttx)).routes(routes!(mttx_csv))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// RFC 3339 or YYYY-MM-DD; default 30 days ago.
    pub from: Option<String>,
    /// RFC 3339 or YYYY-MM-DD (exclusive); default now.
    pub to: Option<String>,
    /// A service id or slug.
    pub service_id: Option<String>,
    /// Only these severities, comma-separated (e.g. `SEV1,SEV2`).
    pub severity: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Count {
    pub key: String,
    pub label: String,
    pub count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct MttxReport {
    pub from: String,
    pub to: String,
    pub incidents: usize,
    /// Seconds: mean, median and p90 of each variant, with how many incidents had both times.
    #[schema(value_type = Object)]
    pub mttx: serde_json::Value,
    pub by_service: Vec<Count>,
    pub by_severity: Vec<Count>,
    /// Weeks start on Monday (UTC).
    pub by_week: Vec<Count>,
    #[schema(value_type = Vec<Object>)]
    pub noisiest_sources: Vec<serde_json::Value>,
}

/// The report's inputs and results, shared by the API, the CSV export and the page.
pub struct Report {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub rows: Vec<ReportRow>,
    pub mttx: Mttx,
    pub by_service: Vec<Count>,
    pub by_severity: Vec<Count>,
    pub by_week: Vec<Count>,
    pub noisy: Vec<NoisySource>,
}

fn parse_bound(field: &str, s: &str) -> Result<DateTime<Utc>, ApiError> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| ApiError::bad_request(format!("{field}: use a date (2026-11-01) or an RFC 3339 time")))
}

fn times(r: &ReportRow) -> Times {
    Times {
        impact_start: from_millis(r.impact_start_at),
        detected: from_millis(r.detected_at),
        acknowledged: r.acknowledged_at.map(from_millis),
        mitigated: r.mitigated_at.map(from_millis),
        resolved: r.resolved_at.map(from_millis),
    }
}

pub async fn build(state: &AppState, q: &ReportQuery) -> Result<Report, ApiError> {
    let now = state.now();
    let to = q.to.as_deref().filter(|s| !s.is_empty()).map(|s| parse_bound("to", s)).transpose()?.unwrap_or(now);
    let from = q
        .from
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_bound("from", s))
        .transpose()?
        .unwrap_or(to - Duration::days(30));
    if from >= to {
        return Err(ApiError::bad_request("from: must be before to"));
    }
    let sevs: Vec<Sev> = match q.severity.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(list) => list
            .split(',')
            .map(|s| Sev::parse(s).ok_or_else(|| ApiError::bad_request(format!("severity: {s:?} is not SEV1..SEV4"))))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let service_id = service_ref(state, q.service_id.as_deref(), "service_id").await?;
    let mut rows = state.db.report_incidents(from, to, service_id).await?;
    if !sevs.is_empty() {
        rows.retain(|r| Sev::parse(&r.severity).is_some_and(|s| sevs.contains(&s)));
    }
    let mttx = incident::mttx(&rows.iter().map(times).collect::<Vec<_>>());

    let mut services: BTreeMap<(String, Option<Uuid>), i64> = BTreeMap::new();
    let mut sev: BTreeMap<String, i64> = Sev::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    let mut weeks: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    // Every week of the period appears, even with no incidents, so the chart has no gaps.
    let mut w = week_start(from.date_naive());
    while w < to.date_naive() {
        weeks.insert(w, 0);
        w += Duration::days(7);
    }
    for r in &rows {
        *services
            .entry((r.service_name.clone().unwrap_or_else(|| "(deleted service)".into()), r.service_id))
            .or_default() += 1;
        *sev.entry(r.severity.clone()).or_default() += 1;
        *weeks.entry(week_start(from_millis(r.detected_at).date_naive())).or_default() += 1;
    }
    let mut by_service: Vec<Count> = services
        .into_iter()
        .map(|((name, id), count)| Count { key: id.map(|i| i.to_string()).unwrap_or_default(), label: name, count })
        .collect();
    by_service.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
    let noisy = state.db.noisiest_sources(from, to, 10).await?;
    Ok(Report {
        from,
        to,
        rows,
        mttx,
        by_service,
        by_severity: sev.into_iter().map(|(k, count)| Count { label: k.clone(), key: k, count }).collect(),
        by_week: weeks
            .into_iter()
            .map(|(d, count)| Count { key: d.to_string(), label: d.format("%d %b").to_string(), count })
            .collect(),
        noisy,
    })
}

fn week_start(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// MTTD, MTTA and the MTTR variants over a period, with incident counts and noisy sources.
#[utoipa::path(get, path = "/api/v1/reports/mttx", tag = "reports", params(ReportQuery), responses((status = 200, body = MttxReport)))]
async fn mttx(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Json<MttxReport>, ApiError> {
    auth.require(Permission::Read)?;
    let r = build(&state, &q).await?;
    Ok(Json(MttxReport {
        from: ts(r.from),
        to: ts(r.to),
        incidents: r.rows.len(),
        mttx: serde_json::to_value(&r.mttx).unwrap_or_default(),
        by_service: r.by_service,
        by_severity: r.by_severity,
        by_week: r.by_week,
        noisiest_sources: r.noisy.iter().map(|n| serde_json::to_value(n).unwrap_or_default()).collect(),
    }))
}

/// One row per incident with every timestamp and duration (seconds), for spreadsheets.
pub fn csv(r: &Report) -> Result<String, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| {
        tracing::error!(error = %e, "CSV export failed");
        ApiError::internal()
    };
    w.write_record([
        "number",
        "title",
        "service",
        "severity",
        "status",
        "source",
        "alerts",
        "impact_start",
        "detected",
        "acknowledged",
        "mitigated",
        "resolved",
        "time_to_detect_s",
        "time_to_acknowledge_s",
        "time_to_mitigate_from_detect_s",
        "time_to_resolve_from_detect_s",
        "time_to_resolve_from_start_s",
    ])
    .map_err(fail)?;
    let opt_ts = |v: Option<i64>| v.map(|m| ts(from_millis(m))).unwrap_or_default();
    let dur = |a: i64, b: Option<i64>| b.map(|b| ((b - a) / 1000).to_string()).unwrap_or_default();
    for row in &r.rows {
        w.write_record([
            incident::display_number(row.number),
            row.title.clone(),
            row.service_name.clone().unwrap_or_default(),
            row.severity.clone(),
            row.status.clone(),
            row.source.clone(),
            row.alert_count.to_string(),
            ts(from_millis(row.impact_start_at)),
            ts(from_millis(row.detected_at)),
            opt_ts(row.acknowledged_at),
            opt_ts(row.mitigated_at),
            opt_ts(row.resolved_at),
            dur(row.impact_start_at, Some(row.detected_at)),
            dur(row.detected_at, row.acknowledged_at),
            dur(row.detected_at, row.mitigated_at),
            dur(row.detected_at, row.resolved_at),
            dur(row.impact_start_at, row.resolved_at),
        ])
        .map_err(fail)?;
    }
    let bytes = w.into_inner().map_err(|e| fail(e.into_error().into()))?;
    String::from_utf8(bytes).map_err(|_| ApiError::internal())
}

/// The report's incidents as CSV.
#[utoipa::path(get, path = "/api/v1/reports/mttx.csv", tag = "reports", params(ReportQuery),
    responses((status = 200, content_type = "text/csv", body = String)))]
async fn mttx_csv(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    auth.require(Permission::Read)?;
    let r = build(&state, &q).await?;
    let name = format!("attachment; filename=\"incidents-{}-{}.csv\"", r.from.format("%Y%m%d"), r.to.format("%Y%m%d"));
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, name)], csv(&r)?)
        .into_response())
}
