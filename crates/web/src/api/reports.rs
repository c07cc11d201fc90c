//! The MTTx report: detection, acknowledgement and recovery times with every variant named,
//! incident counts by service, severity and week, and the noisiest alert sources; as JSON and
//! CSV.

use super::ts;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::operations::reports::{Count, Report, ReportRange, build};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use opsdeck_core::clock::from_millis;
use opsdeck_core::incident;
use opsdeck_core::role::Permission;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(mttx)).routes(routes!(mttx_csv))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// RFC 3339 or YYYY-MM-DD; default 30 days ago.
    #[param(schema_with = crate::api::schema::date_or_time_opt)]
    pub from: Option<String>,
    /// RFC 3339 or YYYY-MM-DD (exclusive); default now.
    #[param(schema_with = crate::api::schema::date_or_time_opt)]
    pub to: Option<String>,
    /// A service id or slug.
    pub service_id: Option<String>,
    /// Only these severities, comma-separated (e.g. `SEV1,SEV2`).
    #[param(schema_with = crate::api::schema::severity_list_opt)]
    pub severity: Option<String>,
}

impl From<ReportQuery> for ReportRange {
    fn from(q: ReportQuery) -> Self {
        ReportRange { from: q.from, to: q.to, service_id: q.service_id, severity: q.severity }
    }
}

// Named `Count` in the OpenAPI document, as it always was.
#[derive(Serialize, ToSchema)]
#[schema(as = Count)]
pub struct CountDto {
    pub key: String,
    pub label: String,
    pub count: i64,
}

impl From<Count> for CountDto {
    fn from(c: Count) -> Self {
        CountDto { key: c.key, label: c.label, count: c.count }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MttxReport {
    pub from: String,
    pub to: String,
    pub incidents: usize,
    /// Seconds: mean, median and p90 of each variant, with how many incidents had both times.
    #[schema(value_type = Object)]
    pub mttx: serde_json::Value,
    pub by_service: Vec<CountDto>,
    pub by_severity: Vec<CountDto>,
    /// Weeks start on Monday (UTC).
    pub by_week: Vec<CountDto>,
    #[schema(value_type = Vec<Object>)]
    pub noisiest_sources: Vec<serde_json::Value>,
}

/// MTTD, MTTA and the MTTR variants over a period, with incident counts and noisy sources.
#[utoipa::path(
    get,
    path = "/api/v1/reports/mttx",
    tag = "reports",
    params(ReportQuery),
    responses((status = 200, body = MttxReport))
)]
async fn mttx(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Json<MttxReport>, ApiError> {
    auth.require(Permission::Read)?;
    let r = build(&state, &q.into()).await?;
    let dtos = |c: Vec<Count>| c.into_iter().map(CountDto::from).collect();
    Ok(Json(MttxReport {
        from: ts(r.from),
        to: ts(r.to),
        incidents: r.rows.len(),
        mttx: serde_json::to_value(&r.mttx).unwrap_or_default(),
        by_service: dtos(r.by_service),
        by_severity: dtos(r.by_severity),
        by_week: dtos(r.by_week),
        noisiest_sources: r.noisy.iter().map(|n| serde_json::to_value(n).unwrap_or_default()).collect(),
    }))
}

/// A text cell that a spreadsheet will not run as a formula: titles and sources come from alert
/// senders, and `=HYPERLINK(…)` or `@SUM(…)` in a cell would execute when the file is opened.
pub(crate) fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() }
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
            cell(&row.title),
            cell(row.service_name.as_deref().unwrap_or_default()),
            row.severity.clone(),
            row.status.clone(),
            cell(&row.source),
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
#[utoipa::path(
    get,
    path = "/api/v1/reports/mttx.csv",
    tag = "reports",
    params(ReportQuery),
    responses((status = 200, content_type = "text/csv", body = String))
)]
async fn mttx_csv(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    auth.require(Permission::Read)?;
    let r = build(&state, &q.into()).await?;
    let name = format!("attachment; filename=\"incidents-{}-{}.csv\"", r.from.format("%Y%m%d"), r.to.format("%Y%m%d"));
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, name)], csv(&r)?)
        .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(super::cell("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(super::cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(super::cell("-1+2"), "'-1+2");
        assert_eq!(super::cell("Checkout down"), "Checkout down");
    }
}
