//! Service level objectives: managers define them on a service's monitors; anyone signed in
//! reads their SLI, error budget and burn rates, computed from the checks when asked.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use opsdeck_core::role::Permission;
use opsdeck_core::slo::{self, BurnRule, Counts, SloSpec};
use opsdeck_store::catalogue::Ref;
use opsdeck_store::slo::Slo;

/// What an SLO says now.
pub struct Evaluation {
    pub window_start: DateTime<Utc>,
    /// Checks over the window.
    pub counts: Counts,
    /// Good share over the window; `None` without checks.
    pub sli: Option<f64>,
    pub budget_remaining: Option<f64>,
    /// Burn rate over each of [`slo::burn_windows`] (`None`: no checks in it).
    pub burn_rates: Vec<(&'static str, Option<f64>)>,
    /// The burn-rate rules that fire now.
    pub firing: Vec<BurnRule>,
}

pub async fn evaluate(state: &AppState, slo: &Slo) -> Result<Evaluation, ApiError> {
    let now = state.now();
    let spec = &slo.spec;
    let window_start = spec.window.start(now);
    let counts = state.db.check_counts(&spec.monitor_ids, window_start, now, spec.exclude_maintenance).await?;
    let mut spans = Vec::new();
    for (label, span) in slo::burn_windows() {
        let from = now.checked_sub_signed(span).unwrap_or(now);
        spans.push((label, span, state.db.check_counts(&spec.monitor_ids, from, now, spec.exclude_maintenance).await?));
    }
    let by_span = |d: chrono::Duration| spans.iter().find(|s| s.1 == d).map(|s| s.2).unwrap_or_default();
    Ok(Evaluation {
        window_start,
        counts,
        sli: counts.ratio(),
        budget_remaining: spec.budget_remaining(counts),
        burn_rates: spans.iter().map(|(l, _, c)| (*l, spec.burn_rate(*c))).collect(),
        firing: slo::firing(spec, &by_span),
    })
}

/// Defines an SLO (managers and up): its service and monitors must exist.
pub async fn create(state: &AppState, auth: &Auth, spec: SloSpec) -> Result<Slo, ApiError> {
    auth.require(Permission::Configure)?;
    if let Err(opsdeck_store::StoreError::NotFound(_)) = state.db.get_service(Ref::Id(spec.service_id)).await {
        return Err(ApiError::invalid("service_id", format!("no service has id {}", spec.service_id)));
    }
    let found = state.db.page_monitors(&spec.monitor_ids, &[]).await?;
    if let Some(missing) = spec.monitor_ids.iter().find(|id| !found.iter().any(|m| m.0 == **id)) {
        return Err(ApiError::invalid("sli", format!("no monitor has id {missing}")));
    }
    Ok(state.db.create_slo(&auth.actor(), state.now(), &spec).await?)
}

pub async fn delete(state: &AppState, auth: &Auth, slo: &Slo) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    Ok(state.db.delete_slo(&auth.actor(), state.now(), slo).await?)
}
