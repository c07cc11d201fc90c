//! Opsdeck's KPIs for Prometheus, so Grafana users can chart them: per-service availability over
//! the last 24 hours, open incidents by severity and each SLO's error budget left. `/metrics`
//! adds them only for a caller with an API token (a viewer's is enough: they name services and
//! SLOs), and computes them at most once a minute, whoever scrapes.

use crate::AppState;
use crate::error::ApiError;
use chrono::Duration;
use opsdeck_core::kpi::CheckTotals;
use std::collections::HashMap;
use std::fmt::Write;
use std::time::Instant;

/// How long one computation is served.
const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// The last computation and when it was made (one per server). An async lock held across the
/// computation: scrapes arriving while it runs wait for its result instead of repeating it.
pub type Cache = tokio::sync::Mutex<Option<(Instant, String)>>;

/// A label value in the text format: backslash, double quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The KPI series in Prometheus' text format.
pub async fn render(state: &AppState) -> Result<String, ApiError> {
    let mut guard = state.kpi_metrics.lock().await;
    if let Some((at, body)) = guard.as_ref()
        && at.elapsed() < FRESH_FOR
    {
        return Ok(body.clone());
    }
    let body = compute(state).await?;
    *guard = Some((Instant::now(), body.clone()));
    Ok(body)
}

async fn compute(state: &AppState) -> Result<String, ApiError> {
    let now = state.now();
    let mut out = String::new();
    let day_ago = opsdeck_core::time::sub(now, Duration::hours(24)).unwrap_or(now);
    let mut by_service: HashMap<uuid::Uuid, CheckTotals> = HashMap::new();
    for m in state.db.monitor_check_totals(day_ago, now).await? {
        if let Some(s) = m.service_id {
            let e = by_service.entry(s).or_default();
            *e = *e + m.totals;
        }
    }
    out.push_str(
        "# HELP opsdeck_service_availability Share of passed checks of the service's monitors over the last \
         24 hours (maintenance excluded for sla, counted as down for raw).\n\
         # TYPE opsdeck_service_availability gauge\n",
    );
    for (id, name, slug) in state.db.service_labels().await? {
        let a = by_service.get(&id).copied().unwrap_or_default().availability();
        for (kind, v) in [("sla", a.adjusted), ("raw", a.raw)] {
            if let Some(v) = v {
                let _ = writeln!(
                    out,
                    "opsdeck_service_availability{{service=\"{}\",name=\"{}\",kind=\"{kind}\"}} {v}",
                    label(&slug),
                    label(&name)
                );
            }
        }
    }
    out.push_str(
        "# HELP opsdeck_open_incidents Unresolved incidents by severity.\n# TYPE opsdeck_open_incidents gauge\n",
    );
    let open: HashMap<String, i64> = state.db.open_incidents_by_severity().await?.into_iter().collect();
    for sev in opsdeck_core::incident::Sev::ALL {
        let _ = writeln!(
            out,
            "opsdeck_open_incidents{{severity=\"{}\"}} {}",
            sev.as_str(),
            open.get(sev.as_str()).unwrap_or(&0)
        );
    }
    out.push_str(
        "# HELP opsdeck_slo_error_budget_remaining Share of the SLO's error budget left in its window \
         (1 untouched, 0 spent, below 0 overspent).\n# TYPE opsdeck_slo_error_budget_remaining gauge\n",
    );
    for s in state.db.list_slos(None, opsdeck_store::slo::SLOS_MAX).await? {
        let spec = &s.spec;
        // A Prometheus SLI's server holds these figures already; reading it here would make
        // every scrape wait on it.
        let Some(counts) = state.db.slo_counts(&s, spec.window.start(now), now).await? else { continue };
        if let Some(left) = spec.budget_remaining(counts) {
            let _ = writeln!(
                out,
                "opsdeck_slo_error_budget_remaining{{slo=\"{}\",slo_id=\"{}\"}} {left}",
                label(&spec.name),
                s.id
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_are_escaped() {
        assert_eq!(super::label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
