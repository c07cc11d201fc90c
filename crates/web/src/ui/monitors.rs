//! Monitor pages: the list (fast at tens of thousands of monitors), detail, actions and bulk
//! actions (the create and edit form is in `monitor_form`).

use super::charts;
use super::{Chrome, PageAuth, abs, ago, done, error_page};
use crate::AppState;
use crate::api::monitors::UptimeDto;
use crate::error::ApiError;
use crate::operations::monitors as op;
use crate::operations::settings::base_url;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use chrono::Duration;
use opsdeck_core::Entity;
use opsdeck_core::monitor::{MonitorState, MonitorType};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::ServiceFilter;
use opsdeck_store::monitor::{DAY, MonitorEvent, MonitorFilter, MonitorView, RawResult};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

/// How many recent checks the list's uptime bar shows.
const BAR_SLOTS: usize = 30;

pub struct Row {
    v: MonitorView,
    bar: String,
    spark: String,
    checked: String,
    checked_at: String,
    /// The last check's latency, readable (`0.4 ms`, `38 ms`, `1.2 s`).
    latency: Option<String>,
    /// Uptime over the last 24 hours, e.g. `99.93 %`.
    uptime: Option<String>,
    /// What the last result means for the state: (CSS class, text), e.g. a failed check of a
    /// monitor that is still up because it waits for more failures in a row.
    note: Option<(&'static str, String)>,
}

/// The line under a monitor's name about its last result, consistent with its state: a failure
/// of a monitor that is still up is a retry, not an outage.
pub(super) fn result_note(v: &MonitorView) -> Option<(&'static str, String)> {
    let l = v.last_result.as_ref()?;
    if l.status.is_ok() {
        return None;
    }
    match v.monitor.health.state {
        MonitorState::Up => Some((
            "warntext",
            format!(
                "last check failed ({}); down after {} failure{} in a row",
                l.reason,
                v.monitor.spec.down_after,
                if v.monitor.spec.down_after == 1 { "" } else { "s" }
            ),
        )),
        MonitorState::Paused | MonitorState::Maintenance => None,
        _ => Some(("why", l.reason.clone())),
    }
}

pub struct StateCount {
    state: &'static str,
    count: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "monitors/monitors.html")]
pub struct MonitorsPage {
    chrome: Chrome,
    rows: Vec<Row>,
    counts: Vec<StateCount>,
    total: i64,
    services: Vec<opsdeck_store::catalogue::ServiceView>,
    types: [MonitorType; 7],
    q: String,
    state_f: String,
    kind_f: String,
    service_f: String,
    tag_f: String,
    next: Option<String>,
    filtered: bool,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    state: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    service: Option<String>,
    tag: Option<String>,
    cursor: Option<String>,
    notice: Option<String>,
}

pub async fn list(State(state): State<AppState>, page: PageAuth, Query(q): Query<ListQuery>) -> Response {
    let chrome = chrome!(page, state, "monitors", q.notice.clone());
    let blank = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
    let filter = MonitorFilter {
        q: blank(&q.q),
        state: blank(&q.state).and_then(|s| MonitorState::parse(&s)),
        kind: blank(&q.kind).and_then(|k| k.parse().ok()),
        service_id: blank(&q.service).and_then(|s| s.parse().ok()),
        tag: blank(&q.tag),
        cursor: q.cursor.as_deref().and_then(opsdeck_store::Cursor::decode),
        limit: Some(50),
    };
    let list = try_page!(state.db.list_monitors(&filter).await);
    let ids: Vec<Uuid> = list.items.iter().map(|v| v.monitor.id).collect();
    let mut recent = try_page!(state.db.recent_results(&ids, BAR_SLOTS as i64).await);
    let uptimes = try_page!(state.db.uptime_last_day(&ids, state.now()).await);
    let counts_map = try_page!(state.db.monitor_state_counts(None).await);
    let services =
        try_page!(state.db.list_services(&ServiceFilter { limit: Some(500), ..Default::default() }).await).items;
    let now = state.now();
    let rows = list
        .items
        .into_iter()
        .map(|v| {
            let results = recent.remove(&v.monitor.id).unwrap_or_default();
            Row {
                latency: v.last_result.as_ref().and_then(|l| l.latency_ms).map(|ms| charts::fmt_latency(ms, 0.0)),
                uptime: uptimes.get(&v.monitor.id).map(|u| format!("{u:.2} %")),
                note: result_note(&v),
                bar: charts::uptime_bar(&results, BAR_SLOTS),
                spark: charts::sparkline(&results, 80.0, 18.0),
                checked: v.monitor.last_check_at.map(|t| ago(t, now)).unwrap_or_else(|| "not yet".into()),
                checked_at: v.monitor.last_check_at.map(abs).unwrap_or_default(),
                v,
            }
        })
        .collect();
    let counts = MonitorState::ALL
        .iter()
        .map(|s| StateCount { state: s.as_str(), count: counts_map.get(s).copied().unwrap_or(0) })
        .collect();
    let total = counts_map.values().sum();
    let enc = super::urlencode;
    let (qs, st, kd, sv, tg) = (
        q.q.unwrap_or_default(),
        q.state.unwrap_or_default(),
        q.kind.unwrap_or_default(),
        q.service.unwrap_or_default(),
        q.tag.unwrap_or_default(),
    );
    let next = list.next_cursor.map(|c| {
        format!(
            "/monitors?q={}&state={}&type={}&service={}&tag={}&cursor={c}",
            enc(&qs),
            enc(&st),
            enc(&kd),
            enc(&sv),
            enc(&tg)
        )
    });
    let filtered = !(qs.is_empty() && st.is_empty() && kd.is_empty() && sv.is_empty() && tg.is_empty());
    MonitorsPage {
        chrome,
        rows,
        counts,
        total,
        services,
        types: MonitorType::ALL,
        q: qs,
        state_f: st,
        kind_f: kd,
        service_f: sv,
        tag_f: tg,
        next,
        filtered,
    }
    .into_response()
}

#[derive(Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    ids: Vec<Uuid>,
    action: String,
}

pub async fn bulk(State(state): State<AppState>, page: PageAuth, Form(f): Form<BulkForm>) -> Response {
    if f.ids.is_empty() {
        return done("/monitors", "Select monitors first");
    }
    match op::bulk_action(&state, &page.0, &f.ids, &f.action).await {
        Ok(n) => done("/monitors", &format!("{n} monitors: {}", f.action)),
        Err(e) => error_page(&e),
    }
}

// ---- detail -----------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "monitors/monitor.html")]
pub struct MonitorPage {
    chrome: Chrome,
    v: MonitorView,
    target: String,
    settings_json: String,
    ping_url: Option<String>,
    since: String,
    since_at: String,
    checked: String,
    /// Uptime windows with their p50, p95 and p99 latencies readable.
    uptime: Vec<(UptimeDto, [String; 3])>,
    chart: String,
    days: String,
    events: Vec<(MonitorEvent, String)>,
    /// Recent results with when, and the latency readable.
    results: Vec<(RawResult, String, Option<String>)>,
    can_respond: bool,
    /// Each location of a monitor that runs from several: name, state, when, latency, uptime
    /// over 24 h, checks over 24 h, the newest result's reason (readable).
    locations: Vec<[String; 7]>,
    /// The last result's latency, readable.
    latency: Option<String>,
    /// The last result in the light of the state (see [`result_note`]).
    note: Option<(&'static str, String)>,
    /// Checks counted in the stored history (for the "not checked yet" line).
    history_checks: i64,
    /// Hours of unusual latency (newest first) with their expected range, readable.
    anomalies: Vec<(String, String, String)>,
    /// Its latency anomalies alert on its service; one fires now.
    anomaly_alert: bool,
    anomaly_firing: bool,
}

pub async fn detail(
    State(state): State<AppState>,
    page: PageAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<super::account::NoticeQuery>,
) -> Response {
    let chrome = chrome!(page, state, "monitors", q.notice);
    let id = match crate::extract::parse_id(Entity::Monitor, &id) {
        Ok(id) => id,
        Err(e) => return error_page(&e),
    };
    let v = try_page!(state.db.get_monitor(id).await);
    let now = state.now();
    let locations = match v.monitor.spec.locations.is_empty() {
        true => Vec::new(),
        false => try_page!(crate::operations::monitor_locations::of_monitor(&state, &v).await)
            .into_iter()
            .map(|l| {
                let uptime = l.uptime_percent().map(|p| format!("{p:.2} %")).unwrap_or_else(|| "—".into());
                let checks = l.day.as_ref().map(|d| d.checks.to_string()).unwrap_or_default();
                let (when, latency, reason) = match &l.last {
                    Some(r) => (
                        ago(r.at, now),
                        r.latency_ms.map(|ms| charts::fmt_latency(ms, 0.0)).unwrap_or_else(|| "—".into()),
                        r.reason.clone(),
                    ),
                    None => ("no result yet".into(), "—".into(), String::new()),
                };
                [l.location, l.state.into(), when, latency, uptime, checks, reason]
            })
            .collect(),
    };
    let mut recent = try_page!(state.db.recent_results(&[id], 100).await);
    let results = recent.remove(&id).unwrap_or_default();
    let uptime: Vec<UptimeDto> = match op::uptime_table(&state, id).await {
        Ok(u) => u.into_iter().map(UptimeDto::from).collect(),
        Err(e) => return error_page(&e),
    };
    let daily = try_page!(state.db.rollups(id, DAY, now - Duration::days(90)).await);
    let events = try_page!(state.db.monitor_events(Some(id), 20).await)
        .into_iter()
        .map(|e| {
            let a = ago(e.at, now);
            (e, a)
        })
        .collect();
    let anomalies = try_page!(crate::operations::anomalies::monitor_latency(&state, id).await)
        .into_iter()
        .rev()
        .take(10)
        .map(|a| {
            let ms = |v: f64| charts::fmt_latency(v, 0.0);
            (
                a.at.format("%Y-%m-%d %H:00 UTC").to_string(),
                ms(a.value),
                format!("{} to {}", ms(a.expected_low.max(0.0)), ms(a.expected_high)),
            )
        })
        .collect();
    let watch = try_page!(state.db.anomaly_watches(Some(id)).await).into_iter().next();
    let base = base_url(&state, &headers).await;
    let history_checks = uptime.iter().map(|u| u.checks).max().unwrap_or(0);
    let lat = |v: Option<f64>| v.map(|ms| charts::fmt_latency(ms, 0.0)).unwrap_or_else(|| "—".into());
    let uptime = uptime
        .into_iter()
        .map(|u| {
            let l = [lat(u.latency_p50_ms), lat(u.latency_p95_ms), lat(u.latency_p99_ms)];
            (u, l)
        })
        .collect();
    MonitorPage {
        anomalies,
        anomaly_alert: watch.is_some(),
        anomaly_firing: watch.is_some_and(|w| w.alerting_service_id.is_some()),
        chrome,
        latency: v.last_result.as_ref().and_then(|l| l.latency_ms).map(|ms| charts::fmt_latency(ms, 0.0)),
        note: result_note(&v),
        history_checks,
        target: v.monitor.spec.settings.target(),
        settings_json: serde_json::to_string_pretty(&v.monitor.spec.settings.redacted().to_json()).unwrap_or_default(),
        ping_url: v
            .monitor
            .ping_token
            .as_ref()
            .filter(|_| page.0.allows(Permission::Configure))
            .map(|t| format!("{base}/ping/{t}")),
        since: ago(v.state_since, now),
        since_at: abs(v.state_since),
        checked: v.monitor.last_check_at.map(|t| ago(t, now)).unwrap_or_else(|| "not yet".into()),
        uptime,
        chart: charts::latency_chart(&results),
        days: charts::daily_bars(&daily, now, 90),
        events,
        results: results
            .into_iter()
            .take(20)
            .map(|r| {
                let a = ago(r.at, now);
                let l = r.latency_ms.map(|ms| charts::fmt_latency(ms, 0.0));
                (r, a, l)
            })
            .collect(),
        can_respond: page.0.allows(Permission::Respond),
        locations,
        v,
    }
    .into_response()
}

/// Runs a check at once (`POST /monitors/{id}/check`).
pub async fn check(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let result = async {
        let id = crate::extract::parse_id(Entity::Monitor, &id)?;
        op::check_now(&state, &page.0, id).await?;
        Ok(id)
    }
    .await;
    outcome_at(result, "Check queued; the result appears in a moment")
}

pub async fn pause(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    set_paused(&state, &page, &id, true).await
}

pub async fn resume(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    set_paused(&state, &page, &id, false).await
}

/// Latency anomalies alert on the monitor's service (`POST /monitors/{id}/anomaly-alert`), or no
/// longer (`…/anomaly-alert/delete`); managers.
pub async fn anomaly_alert_on(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    set_anomaly_alert(&state, &page, &id, true).await
}

pub async fn anomaly_alert_off(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    set_anomaly_alert(&state, &page, &id, false).await
}

async fn set_anomaly_alert(state: &AppState, page: &PageAuth, id: &str, on: bool) -> Response {
    let result = async {
        let id = crate::extract::parse_id(Entity::Monitor, id)?;
        crate::operations::anomalies::set_watch(state, &page.0, id, on).await?;
        Ok(id)
    }
    .await;
    outcome_at(result, if on { "Latency anomalies now alert" } else { "Latency anomalies no longer alert" })
}

async fn set_paused(state: &AppState, page: &PageAuth, id: &str, paused: bool) -> Response {
    let result = async {
        let id = crate::extract::parse_id(Entity::Monitor, id)?;
        op::set_paused(state, &page.0, id, paused).await?;
        Ok(id)
    }
    .await;
    outcome_at(result, if paused { "Monitor paused" } else { "Monitor resumed" })
}

/// A new ping URL (`POST /monitors/{id}/ping-url/rotate`).
pub async fn rotate_ping_url(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let result = async {
        let id = crate::extract::parse_id(Entity::Monitor, &id)?;
        op::rotate_ping_url(&state, &page.0, id).await?;
        Ok(id)
    }
    .await;
    outcome_at(result, "New ping URL: the old one no longer works")
}

pub async fn delete(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let result = async {
        let id = crate::extract::parse_id(Entity::Monitor, &id)?;
        op::delete_monitor(&state, &page.0, id).await
    }
    .await;
    match result {
        Ok(m) => done("/monitors", &format!("Monitor {} deleted", m.spec.name)),
        Err(e) => error_page(&e),
    }
}

/// Back to the monitor's page with `note`, or the error page.
fn outcome_at(result: Result<Uuid, ApiError>, note: &str) -> Response {
    match result {
        Ok(id) => done(&format!("/monitors/{id}"), note),
        Err(e) => error_page(&e),
    }
}

/// Monitors of one service with their states, for the service page.
pub async fn for_service(
    state: &AppState,
    service_id: Uuid,
) -> Result<(Vec<MonitorView>, HashMap<MonitorState, i64>), ApiError> {
    let list = state
        .db
        .list_monitors(&MonitorFilter { service_id: Some(service_id), limit: Some(100), ..Default::default() })
        .await?;
    let counts = state.db.monitor_state_counts(Some(service_id)).await?;
    Ok((list.items, counts))
}
