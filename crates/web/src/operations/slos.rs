//! Service level objectives: managers define them on a service; anyone signed in reads their
//! SLI, error budget and burn rates, computed when asked from the monitors' checks, the pushed
//! counts, or the SLO's Prometheus server. Responders push good/total counts.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::role::Permission;
use opsdeck_core::slo::{self, Counts, PrometheusRatio, Sli, SloSpec};
use opsdeck_store::catalogue::Ref;
use opsdeck_store::slo::{CheckMeasure, Slo};
use opsdeck_store::slo_alert::Evaluation;

/// What `slo` says now (the same evaluation its burn-rate alerts follow). A Prometheus server
/// that fails gives an evaluation that knows nothing and says why.
pub async fn evaluate(state: &AppState, slo: &Slo) -> Result<Evaluation, ApiError> {
    let now = state.now();
    let window_start = slo.spec.window.start(now);
    let mut spans = vec![("window", now - window_start)];
    spans.extend(slo::burn_windows());
    let counts = match &slo.spec.sli {
        Sli::Prometheus(p) => match prometheus_counts(state, p, now, &spans).await {
            Ok(c) => c,
            Err(why) => return Ok(Evaluation::unavailable(window_start, why)),
        },
        // Every span in a few queries (this runs for every SLO every minute).
        Sli::Availability { monitor_ids } | Sli::Latency { monitor_ids, .. } => {
            let froms: Vec<_> = spans.iter().map(|(_, d)| now.checked_sub_signed(*d).unwrap_or(now)).collect();
            match CheckMeasure::of(&slo.spec) {
                Some(m) => state.db.check_counts_spans(monitor_ids, &froms, now, m).await?,
                None => vec![Counts::default(); froms.len()],
            }
        }
        Sli::Events => {
            let mut out = Vec::with_capacity(spans.len());
            for (_, span) in &spans {
                let from = now.checked_sub_signed(*span).unwrap_or(now);
                out.push(state.db.slo_counts(slo, from, now).await?.unwrap_or_default());
            }
            out
        }
    };
    // The first span is the window; the others are the burn-rate spans.
    let window = counts.first().copied().unwrap_or_default();
    let by_span: Vec<(&'static str, Duration, Counts)> =
        slo::burn_windows().iter().zip(counts.get(1..).unwrap_or(&[])).map(|((l, d), c)| (*l, *d, *c)).collect();
    Ok(Evaluation::new(&slo.spec, window_start, window, &by_span))
}

/// The SLO's counts from `from` to `to` (the burn-down chart); `None` when its Prometheus
/// server fails.
pub async fn counts_between(
    state: &AppState,
    slo: &Slo,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<Counts>, ApiError> {
    match &slo.spec.sli {
        Sli::Prometheus(p) => Ok(prometheus_counts(state, p, to, &[("span", to - from)]).await.ok().map(|c| c[0])),
        _ => Ok(state.db.slo_counts(slo, from, to).await?),
    }
}

/// Both queries of `p` for each span ending at `at`, side by side.
async fn prometheus_counts(
    state: &AppState,
    p: &PrometheusRatio,
    at: DateTime<Utc>,
    spans: &[(&'static str, Duration)],
) -> Result<Vec<Counts>, String> {
    let client = state.prometheus.as_ref().ok_or("no HTTP client for Prometheus")?;
    let reads = spans.iter().map(|(_, span)| async move {
        let (first, total) = p.queries(*span);
        let (first, total) = tokio::join!(client.query(&p.url, &first, at), client.query(&p.url, &total, at));
        let (first, total) = (first.map_err(|e| e.to_string())?, total.map_err(|e| e.to_string())?);
        Ok::<_, String>(p.counts(first, total).unwrap_or_default())
    });
    futures_util::future::try_join_all(reads).await
}

/// Adds good/total counts pushed for an SLO whose SLI is `events` (responders and up).
pub async fn push_events(
    state: &AppState,
    auth: &Auth,
    slo: &Slo,
    entries: &[(DateTime<Utc>, u64, u64)],
) -> Result<usize, ApiError> {
    auth.require(Permission::Respond)?;
    if !matches!(slo.spec.sli, Sli::Events) {
        return Err(ApiError::invalid(
            "sli",
            format!("this SLO's SLI is {}; only an SLO with an events SLI takes pushed counts", slo.spec.sli.kind()),
        ));
    }
    let now = state.now();
    let minutes = slo::minute_counts(entries, now)?;
    state.db.push_slo_events(slo.id, now, &minutes).await?;
    Ok(entries.len())
}

/// Defines an SLO (managers and up): its service and monitors must exist.
pub async fn create(state: &AppState, auth: &Auth, spec: SloSpec) -> Result<Slo, ApiError> {
    auth.require(Permission::Configure)?;
    check_refs(state, &spec).await?;
    Ok(state.db.create_slo(&auth.actor(), state.now(), &spec).await?)
}

/// Replaces an SLO's definition (managers and up), with the same checks as [`create`].
pub async fn update(state: &AppState, auth: &Auth, before: &Slo, spec: SloSpec) -> Result<Slo, ApiError> {
    auth.require(Permission::Configure)?;
    check_refs(state, &spec).await?;
    Ok(state.db.update_slo(&auth.actor(), state.now(), before, &spec).await?)
}

async fn check_refs(state: &AppState, spec: &SloSpec) -> Result<(), ApiError> {
    match state.db.get_service(Ref::Id(spec.service_id)).await {
        Err(opsdeck_store::StoreError::NotFound(_)) => {
            return Err(ApiError::invalid("service_id", format!("no service has id {}", spec.service_id)));
        }
        other => drop(other?),
    }
    let ids = spec.sli.monitor_ids();
    let found = state.db.page_monitors(ids, &[]).await?;
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|m| m.0 == **id)) {
        return Err(ApiError::invalid("sli", format!("no monitor has id {missing}")));
    }
    // Heartbeat and push monitors record no latency: a latency SLI on them would never have data.
    if let Sli::Latency { monitor_ids, .. } = &spec.sli {
        for id in monitor_ids {
            let m = state.db.get_monitor(*id).await?;
            if !m.monitor.spec.kind.records_latency() {
                return Err(ApiError::invalid(
                    "sli.monitor_ids",
                    format!(
                        "{} is a {} monitor, which records no latency",
                        m.monitor.spec.name,
                        m.monitor.spec.kind.as_str()
                    ),
                ));
            }
        }
    }
    Ok(())
}

pub async fn delete(state: &AppState, auth: &Auth, slo: &Slo) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    Ok(state.db.delete_slo(&auth.actor(), state.now(), slo).await?)
}
