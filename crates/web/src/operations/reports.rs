//! The MTTx report: detection, acknowledgement and recovery times with every variant named,
//! incident counts by service, severity and week, and the noisiest alert sources. The API (JSON
//! and CSV) and the reports page show the same numbers.

use super::service_ref;
use crate::AppState;
use crate::error::ApiError;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use opsdeck_core::clock::from_millis;
use opsdeck_core::incident::{self, Mttx, Sev, Times};
use opsdeck_core::time;
use opsdeck_store::incident::{NoisySource, ReportRow};
use std::collections::BTreeMap;
use uuid::Uuid;

/// What the report covers, as given.
#[derive(Debug, Clone, Default)]
pub struct ReportRange {
    /// RFC 3339 or YYYY-MM-DD; default 30 days before `to`.
    pub from: Option<String>,
    /// RFC 3339 or YYYY-MM-DD (exclusive); default now.
    pub to: Option<String>,
    /// A service id or slug.
    pub service_id: Option<String>,
    /// Only these severities, comma-separated (e.g. `SEV1,SEV2`).
    pub severity: Option<String>,
}

/// One bar of a breakdown: a service, a severity or a week.
#[derive(Debug, Clone)]
pub struct Count {
    pub key: String,
    pub label: String,
    pub count: i64,
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

/// The longest report: two years of weekly buckets (and one chart) per request.
pub const SPAN_MAX_DAYS: i64 = 731;

pub fn parse_bound(field: &'static str, s: &str) -> Result<DateTime<Utc>, ApiError> {
    time::parse_rfc3339(field, s)
        .or_else(|_| time::parse_date(field, s).map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc()))
        .map_err(|_| {
            ApiError::invalid(
                field,
                format!(
                    "use a date (2026-11-01) or an RFC 3339 time, in the years {} to {}",
                    time::YEAR_MIN,
                    time::YEAR_MAX
                ),
            )
        })
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

/// The report over `q` (anyone who may read).
pub async fn build(state: &AppState, q: &ReportRange) -> Result<Report, ApiError> {
    let now = state.now();
    let to = q.to.as_deref().filter(|s| !s.is_empty()).map(|s| parse_bound("to", s)).transpose()?.unwrap_or(now);
    let from = q
        .from
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_bound("from", s))
        .transpose()?
        .unwrap_or(to - Duration::days(30));
    time::check_span("to", from, to, Duration::days(SPAN_MAX_DAYS))?;
    let sevs: Vec<Sev> = match q.severity.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(list) => list
            .split(',')
            .map(|s| Sev::parse(s).ok_or_else(|| ApiError::bad_request(format!("severity: {s:?} is not SEV1..SEV4"))))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let service_id = service_ref(state, q.service_id.as_deref(), "service_id").await?;
    between(state, from, to, service_id, &sevs).await
}

/// The report over `[from, to)`, already checked, for one service or all and for some
/// severities or all (empty).
pub async fn between(
    state: &AppState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    service_id: Option<Uuid>,
    sevs: &[Sev],
) -> Result<Report, ApiError> {
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
        let Some(next) = w.checked_add_days(chrono::Days::new(7)) else { break };
        w = next;
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
    d.checked_sub_days(chrono::Days::new(u64::from(d.weekday().num_days_from_monday()))).unwrap_or(d)
}
