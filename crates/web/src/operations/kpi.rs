//! The operations KPI report: availability per service (maintenance excluded and as users saw
//! it), MTTD, MTTA and the MTTR variants, incidents by severity and service, the noisiest alert
//! sources, SLO compliance and the change KPIs (success and failure rates, emergency share, lead
//! time), each for a period and the period before it. The API (JSON, CSV),
//! the dashboard, the printable report and the CLI all show what [`build`] returns.

use super::reports::{self, Count, Report, parse_bound};
use super::service_ref;
use crate::AppState;
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use opsdeck_core::change::kpi::{ChangeKpis, summarize};
use opsdeck_core::desk::kpi::DeskKpis;
use opsdeck_core::incident::{Mttx, Sev};
use opsdeck_core::kpi::{Availability, CheckTotals, ReportPeriod};
use opsdeck_core::slo::{Counts, Sli};
use opsdeck_store::incident::NoisySource;
use std::collections::HashMap;
use uuid::Uuid;

/// What the report covers, as given: a month, or a span (default the last 30 days).
#[derive(Debug, Clone, Default)]
pub struct KpiRange {
    /// `YYYY-MM` (UTC); wins over `from`/`to`.
    pub period: Option<String>,
    pub from: Option<String>,
    /// Exclusive.
    pub to: Option<String>,
    /// A service id or slug.
    pub service_id: Option<String>,
}

/// The headline figures of one period.
#[derive(Debug, Clone)]
pub struct Figures {
    pub availability: Availability,
    pub checks: u64,
    pub incidents: usize,
    pub mttx: Mttx,
    pub by_severity: Vec<Count>,
    /// Changes closed in the period: success and failure rates, emergency share, lead time.
    pub changes: ChangeKpis,
    /// The service desk's figures; `None` in a report about one service (tickets name none).
    pub desk: Option<DeskKpis>,
}

/// A service's availability in the period and the one before.
#[derive(Debug, Clone)]
pub struct ServiceRow {
    pub service_id: Option<Uuid>,
    pub name: String,
    pub slug: String,
    pub checks: u64,
    pub availability: Availability,
    pub previous: Availability,
}

/// An SLO's SLI over the report's period against its target.
#[derive(Debug, Clone)]
pub struct SloRow {
    pub slo_id: Uuid,
    pub name: String,
    pub service_id: Uuid,
    pub target: f64,
    /// `None` without data in the period (no checks, no counts, or Prometheus did not answer).
    pub sli: Option<f64>,
}

impl SloRow {
    pub fn met(&self) -> Option<bool> {
        self.sli.map(|s| s >= self.target)
    }
}

pub struct Kpi {
    pub period: ReportPeriod,
    pub current: Figures,
    pub previous: Figures,
    pub services: Vec<ServiceRow>,
    pub by_service: Vec<Count>,
    pub by_week: Vec<Count>,
    pub noisy: Vec<NoisySource>,
    pub slos: Vec<SloRow>,
}

/// The period `q` names.
pub fn period(state: &AppState, q: &KpiRange) -> Result<ReportPeriod, ApiError> {
    if let Some(p) = q.period.as_deref().filter(|s| !s.trim().is_empty()) {
        return Ok(ReportPeriod::month("period", p)?);
    }
    let blank = |s: &Option<String>| s.as_deref().filter(|s| !s.trim().is_empty()).map(str::to_owned);
    let to = blank(&q.to).map(|s| parse_bound("to", &s)).transpose()?.unwrap_or_else(|| state.now());
    let from = match blank(&q.from) {
        Some(s) => parse_bound("from", &s)?,
        None => opsdeck_core::time::sub(to, chrono::Duration::days(30))
            .ok_or_else(|| ApiError::invalid("to", "is too early"))?,
    };
    Ok(ReportPeriod::span("to", from, to)?)
}

fn figures(r: &Report, totals: CheckTotals, changes: ChangeKpis, desk: Option<DeskKpis>) -> Figures {
    Figures {
        changes,
        desk,
        availability: totals.availability(),
        checks: totals.total,
        incidents: r.rows.len(),
        mttx: r.mttx.clone(),
        by_severity: r.by_severity.clone(),
    }
}

/// Check totals per service (`None`: monitors of no service), of one service or all.
async fn per_service(
    state: &AppState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    only: Option<Uuid>,
) -> Result<HashMap<Option<Uuid>, CheckTotals>, ApiError> {
    let mut by = state.db.service_check_totals(from, to, state.now()).await?;
    if only.is_some() {
        by.retain(|k, _| *k == only);
    }
    Ok(by)
}

/// The KPI report over `q` (anyone who may read).
pub async fn build(state: &AppState, q: &KpiRange) -> Result<Kpi, ApiError> {
    let period = period(state, q)?;
    let service_id = service_ref(state, q.service_id.as_deref(), "service_id").await?;
    build_for(state, period, service_id).await
}

/// The KPI report of a period already checked, for one service or all.
pub async fn build_for(state: &AppState, period: ReportPeriod, service_id: Option<Uuid>) -> Result<Kpi, ApiError> {
    // Four independent reads, run side by side (SQLite's readers and PostgreSQL's pool serve
    // them on separate connections).
    let (now_r, before_r, now_s, before_s) = tokio::join!(
        reports::between(state, period.from, period.to, service_id, &[]),
        reports::between(state, period.previous_from, period.previous_to, service_id, &[]),
        per_service(state, period.from, period.to, service_id),
        per_service(state, period.previous_from, period.previous_to, service_id),
    );
    let (now_r, before_r, now_s, before_s) = (now_r?, before_r?, now_s?, before_s?);
    let ms = |t: DateTime<Utc>| t.timestamp_millis();
    let now_c = summarize(&state.db.closed_changes(ms(period.from), ms(period.to), service_id).await?);
    let before_c =
        summarize(&state.db.closed_changes(ms(period.previous_from), ms(period.previous_to), service_id).await?);
    let sum = |m: &HashMap<Option<Uuid>, CheckTotals>| m.values().copied().sum::<CheckTotals>();
    // The backlog is "open now": shown for a period that ends now (or in the future).
    let current = state.now() - period.to < chrono::Duration::minutes(1);
    let (now_d, before_d) = if service_id.is_none() {
        (
            Some(super::tickets::desk_kpis(state, period.from, period.to, current).await?),
            Some(super::tickets::desk_kpis(state, period.previous_from, period.previous_to, false).await?),
        )
    } else {
        (None, None)
    };

    let labels = state.db.service_labels().await?;
    let mut services: Vec<ServiceRow> = labels
        .into_iter()
        .filter(|(id, ..)| service_id.is_none_or(|s| s == *id))
        .filter_map(|(id, name, slug)| {
            let (now, before) = (now_s.get(&Some(id)).copied(), before_s.get(&Some(id)).copied());
            // A service with no monitors checked in either period has nothing to show.
            (now.is_some() || before.is_some()).then(|| ServiceRow {
                service_id: Some(id),
                name,
                slug,
                checks: now.map_or(0, |t| t.total),
                availability: now.unwrap_or_default().availability(),
                previous: before.unwrap_or_default().availability(),
            })
        })
        .collect();
    if service_id.is_none() && (now_s.contains_key(&None) || before_s.contains_key(&None)) {
        let (now, before) =
            (now_s.get(&None).copied().unwrap_or_default(), before_s.get(&None).copied().unwrap_or_default());
        services.push(ServiceRow {
            service_id: None,
            name: "(monitors without a service)".into(),
            slug: String::new(),
            checks: now.total,
            availability: now.availability(),
            previous: before.availability(),
        });
    }
    // Worst first: the services a manager asks about.
    services.sort_by(|a, b| {
        let key = |r: &ServiceRow| r.availability.adjusted.unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
    });

    let slo_list = state.db.list_slos(service_id, opsdeck_store::slo::SLOS_MAX).await?;
    let mut watched: Vec<Uuid> = slo_list
        .iter()
        .filter_map(|s| match &s.spec.sli {
            Sli::Availability { monitor_ids } => Some(monitor_ids.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect();
    watched.sort_unstable();
    watched.dedup();
    let by_monitor = state.db.check_totals_of(&watched, period.from, period.to).await?;
    // Side by side, a few at a time: SLOs on a Prometheus server wait for its answers.
    use futures_util::{StreamExt, TryStreamExt};
    let slos: Vec<SloRow> = futures_util::stream::iter(slo_list)
        .map(|s| {
            let by_monitor = &by_monitor;
            async move {
                let counts = match &s.spec.sli {
                    Sli::Availability { monitor_ids } => {
                        let t: CheckTotals = monitor_ids.iter().filter_map(|m| by_monitor.get(m)).copied().sum();
                        Some(t.slo_counts(s.spec.exclude_maintenance))
                    }
                    // Latency over the period: daily rollups for its whole days, as availability.
                    Sli::Latency { monitor_ids, .. } => {
                        let last = (period.to - chrono::Duration::milliseconds(1)).min(state.now());
                        match opsdeck_store::slo::CheckMeasure::of(&s.spec).filter(|_| last > period.from) {
                            Some(m) => {
                                let c = state.db.check_counts_spans(monitor_ids, &[period.from], last, m).await?;
                                c.first().copied()
                            }
                            None => None,
                        }
                    }
                    // Pushed counts and Prometheus over the period (up to now, for the current
                    // one); the end is exclusive, the counts' last instant is not.
                    _ => {
                        let last = (period.to - chrono::Duration::milliseconds(1)).min(state.now());
                        if last > period.from {
                            super::slos::counts_between(state, &s, period.from, last).await?
                        } else {
                            None
                        }
                    }
                };
                Ok::<_, ApiError>(SloRow {
                    slo_id: s.id,
                    name: s.spec.name,
                    service_id: s.spec.service_id,
                    target: s.spec.target,
                    sli: counts.and_then(Counts::ratio),
                })
            }
        })
        .buffered(8)
        .try_collect()
        .await?;

    Ok(Kpi {
        current: figures(&now_r, sum(&now_s), now_c, now_d),
        previous: figures(&before_r, sum(&before_s), before_c, before_d),
        period,
        services,
        by_service: now_r.by_service,
        by_week: now_r.by_week,
        noisy: now_r.noisy,
        slos,
    })
}

/// `incidents_by_severity` as a map, every severity present.
pub fn severity_map(c: &[Count]) -> std::collections::BTreeMap<String, i64> {
    let mut m: std::collections::BTreeMap<String, i64> = Sev::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    for x in c {
        m.insert(x.key.clone(), x.count);
    }
    m
}
