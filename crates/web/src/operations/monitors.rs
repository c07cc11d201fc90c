//! Monitor operations: create, change, delete, pause and resume, check now, bulk actions, and
//! the uptime table the API and the monitor page share.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use chrono::Duration;
use opsdeck_core::monitor::{Monitor, MonitorInput, MonitorSpec, MonitorType};
use opsdeck_core::role::Permission;
use opsdeck_store::monitor::{MonitorView, StateChange};
use uuid::Uuid;

/// Nagios-plugin monitors run programs on the server: only admins may define them.
pub fn require_for_kind(auth: &Auth, kind: MonitorType) -> Result<(), ApiError> {
    auth.require(if kind == MonitorType::Command { Permission::Administer } else { Permission::Configure })
}

/// Live-update events and alerts for monitor state changes.
pub async fn publish_changes(state: &AppState, changes: &[StateChange]) {
    crate::on_monitor_changes(state, changes).await;
}

/// Creates a monitor; it is checked within one interval (spread to avoid bursts).
pub async fn create_monitor(
    state: &AppState,
    auth: &Auth,
    input: MonitorInput,
    paused: bool,
) -> Result<MonitorView, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = MonitorSpec::create(input)?;
    require_for_kind(auth, spec.kind)?;
    state.db.check_monitor_refs(&spec).await?;
    let v = state.db.create_monitor(&auth.actor(), state.now(), spec, paused).await?;
    state.events.publish("monitor.created", Some(v.monitor.id), format!("Monitor {} created", v.monitor.spec.name));
    Ok(v)
}

/// Monitors per [`create_monitors`] call: a large `opsdeck apply` sends several batches.
pub const CREATE_BATCH_MAX: usize = 1000;

/// Creates up to [`CREATE_BATCH_MAX`] monitors in one transaction: every one is valid, or none is
/// created and the answer names each wrong field as `monitors[i].field` (the first 50).
pub async fn create_monitors(
    state: &AppState,
    auth: &Auth,
    inputs: Vec<(MonitorInput, bool)>,
) -> Result<Vec<Uuid>, ApiError> {
    auth.require(Permission::Configure)?;
    if inputs.is_empty() || inputs.len() > CREATE_BATCH_MAX {
        return Err(ApiError::invalid("monitors", format!("send 1 to {CREATE_BATCH_MAX} monitors per request")));
    }
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut specs = Vec::with_capacity(inputs.len());
    for (i, (input, paused)) in inputs.into_iter().enumerate() {
        match MonitorSpec::create(input) {
            Ok(spec) => {
                require_for_kind(auth, spec.kind)?;
                specs.push((spec, paused));
            }
            // Not about a field (none today): answered as is, for the whole batch.
            Err(e) if e.problems().is_empty() => return Err(e.into()),
            Err(e) => {
                problems.extend(e.problems().into_iter().map(|p| (format!("monitors[{i}].{}", p.field), p.message)));
            }
        }
    }
    if problems.is_empty() {
        let services: std::collections::BTreeSet<Uuid> = specs.iter().filter_map(|(s, _)| s.service_id).collect();
        let unknown = state.db.unknown_services(&services.into_iter().collect::<Vec<_>>()).await?;
        for (i, (spec, _)) in specs.iter().enumerate() {
            if spec.service_id.is_some_and(|id| unknown.contains(&id)) {
                problems.push((format!("monitors[{i}].service_id"), "no service has this id".into()));
            }
        }
    }
    if !problems.is_empty() {
        problems.truncate(50);
        return Err(ApiError::invalid_named(&problems));
    }
    let n = specs.len();
    let ids = state.db.create_monitors(&auth.actor(), state.now(), specs).await?;
    state.events.publish("monitor.created", None, format!("{n} monitors created"));
    Ok(ids)
}

/// Changes the fields `input` names; the monitor's type decides who may (see [`require_for_kind`]).
pub async fn update_monitor(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    input: MonitorInput,
) -> Result<MonitorView, ApiError> {
    auth.require(Permission::Configure)?;
    let current = state.db.get_monitor(id).await?.monitor;
    require_for_kind(auth, current.spec.kind)?;
    let spec = current.spec.clone().apply(input)?;
    require_for_kind(auth, spec.kind)?;
    state.db.check_monitor_refs(&spec).await?;
    let v = state.db.update_monitor(&auth.actor(), state.now(), current.id, spec).await?;
    state.events.publish("monitor.updated", Some(v.monitor.id), format!("Monitor {} updated", v.monitor.spec.name));
    Ok(v)
}

/// Deletes a monitor and its history; returns what was deleted.
pub async fn delete_monitor(state: &AppState, auth: &Auth, id: Uuid) -> Result<Monitor, ApiError> {
    auth.require(Permission::Configure)?;
    let m = state.db.get_monitor(id).await?.monitor;
    require_for_kind(auth, m.spec.kind)?;
    state.db.delete_monitor(&auth.actor(), state.now(), m.id).await?;
    state.events.publish("monitor.deleted", Some(m.id), format!("Monitor {} deleted", m.spec.name));
    Ok(m)
}

/// Pauses (no checks, no alerts) or resumes (checked at once) a monitor.
pub async fn set_paused(state: &AppState, auth: &Auth, id: Uuid, paused: bool) -> Result<MonitorView, ApiError> {
    auth.require(Permission::Configure)?;
    if let Some(change) = state.db.set_monitor_paused(&auth.actor(), state.now(), id, paused).await? {
        publish_changes(state, &[change]).await;
    }
    Ok(state.db.get_monitor(id).await?)
}

/// A new ping URL for a heartbeat monitor; the old one stops working.
pub async fn rotate_ping_url(state: &AppState, auth: &Auth, id: Uuid) -> Result<MonitorView, ApiError> {
    auth.require(Permission::Configure)?;
    Ok(state.db.rotate_ping_token(&auth.actor(), state.now(), id).await?)
}

/// Runs the monitor's check as soon as possible (responders and up).
pub async fn check_now(state: &AppState, auth: &Auth, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Respond)?;
    Ok(state.db.check_monitor_now(id, state.now()).await?)
}

/// Pauses, resumes or deletes several monitors at once; returns how many were found.
pub async fn bulk_action(state: &AppState, auth: &Auth, ids: &[Uuid], action: &str) -> Result<usize, ApiError> {
    auth.require(Permission::Configure)?;
    if ids.len() > 1000 {
        return Err(ApiError::invalid("ids", "at most 1000 monitors at once"));
    }
    if !matches!(action, "pause" | "resume" | "delete") {
        return Err(ApiError::invalid("action", "use pause, resume or delete"));
    }
    let mut done = 0;
    for id in ids {
        let m = match state.db.get_monitor(*id).await {
            Ok(m) => m.monitor,
            Err(opsdeck_store::StoreError::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        require_for_kind(auth, m.spec.kind)?;
        match action {
            "delete" => state.db.delete_monitor(&auth.actor(), state.now(), m.id).await?,
            a => {
                if let Some(c) = state.db.set_monitor_paused(&auth.actor(), state.now(), m.id, a == "pause").await? {
                    publish_changes(state, &[c]).await;
                }
            }
        }
        done += 1;
    }
    state.events.publish("monitor.updated", None, format!("{done} monitors: {action}"));
    Ok(done)
}

/// Uptime and latency over one window, from rollups.
#[derive(Debug, Clone)]
pub struct Uptime {
    /// 24h, 7d, 30d, 90d or 365d.
    pub window: &'static str,
    pub checks: i64,
    pub failures: i64,
    /// Share of checks that passed, excluding maintenance; `None` without checks.
    pub uptime_pct: Option<f64>,
    /// The same, counting maintenance time.
    pub uptime_raw_pct: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
}

/// The uptime windows: label and length in days.
pub const WINDOWS: [(&str, i64); 5] = [("24h", 1), ("7d", 7), ("30d", 30), ("90d", 90), ("365d", 365)];

/// Uptime over 24 h, 7, 30, 90 and 365 days.
pub async fn uptime_table(state: &AppState, id: Uuid) -> Result<Vec<Uptime>, ApiError> {
    let now = state.now();
    let mut out = Vec::new();
    for (window, days) in WINDOWS {
        let r = state.db.rollup_window(id, now, Duration::days(days)).await?;
        out.push(Uptime {
            window,
            checks: r.total,
            failures: r.failures,
            uptime_pct: r.uptime(),
            uptime_raw_pct: r.uptime_raw(),
            latency_p50_ms: r.histogram.quantile(0.5),
            latency_p95_ms: r.histogram.quantile(0.95),
            latency_p99_ms: r.histogram.quantile(0.99),
        });
    }
    Ok(out)
}
