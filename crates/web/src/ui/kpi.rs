//! The operations KPI dashboard (`/reports`) and the printable report (the same body, styles
//! inline, as `GET /api/v1/reports/kpi.html` and the scheduled e-mails send it).

use super::incidents::services;
use super::{Chrome, PageAuth, charts, error_page};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::kpi::{self, Kpi, KpiRange};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Utc};
use opsdeck_core::desk::kpi::DeskKpis;
use opsdeck_core::incident::Stat;
use opsdeck_core::kpi::change;
use opsdeck_store::catalogue::ServiceView;
use opsdeck_store::incident::NoisySource;
use serde::Deserialize;

/// A headline figure with the previous period's and the change.
pub struct Tile {
    pub label: &'static str,
    pub formula: &'static str,
    pub value: String,
    pub previous: String,
    pub delta: String,
    /// `good`, `bad` or empty, for the change's colour.
    pub tone: &'static str,
}

pub struct ServiceLine {
    pub name: String,
    pub href: Option<String>,
    pub adjusted: String,
    pub raw: String,
    pub previous: String,
    pub delta: String,
    pub tone: &'static str,
    pub checks: u64,
}

pub struct SloLine {
    pub name: String,
    pub href: String,
    pub target: String,
    pub sli: String,
    /// `slo-ok`, `slo-bad` or empty (no data).
    pub tone: &'static str,
    pub verdict: &'static str,
}

/// What both the dashboard and the printable report show.
pub struct KpiView {
    pub label: String,
    pub previous_label: String,
    pub incidents: usize,
    pub tiles: Vec<Tile>,
    pub services: Vec<ServiceLine>,
    pub slos: Vec<SloLine>,
    pub week_chart: String,
    pub severity_chart: String,
    pub service_chart: String,
    pub noisy: Vec<NoisySource>,
    /// Changes closed in the period by type and by risk (empty: none closed).
    pub changes: Vec<(&'static str, String)>,
}

fn pct(v: Option<f64>) -> String {
    match v {
        Some(v) => {
            let s = format!("{:.3}", v * 100.0);
            format!("{}\u{a0}%", s.trim_end_matches('0').trim_end_matches('.'))
        }
        None => "no data".into(),
    }
}

fn dur(v: Option<f64>) -> String {
    v.map(|s| super::human_duration(s.round() as i64)).unwrap_or_else(|| "—".into())
}

/// The tone of a change where `higher_is_better` says which way is good.
fn tone(d: f64, higher_is_better: bool) -> &'static str {
    if d.abs() < 1e-9 {
        ""
    } else if (d > 0.0) == higher_is_better {
        "good"
    } else {
        "bad"
    }
}

/// Availability changes in percentage points (a relative change of 99.9 % is unreadable).
fn points(now: Option<f64>, before: Option<f64>) -> (String, &'static str) {
    match (now, before) {
        (Some(n), Some(b)) => {
            let d = (n - b) * 100.0;
            (format!("{d:+.3}\u{a0}pp"), tone(d, true))
        }
        _ => (String::new(), ""),
    }
}

/// Times and counts change relatively; lower is better for all of them.
fn relative(now: Option<f64>, before: Option<f64>) -> (String, &'static str) {
    match change(now, before) {
        Some(c) => (format!("{:+.0}\u{a0}%", c * 100.0), tone(c, false)),
        None => (String::new(), ""),
    }
}

fn time_tile(label: &'static str, formula: &'static str, now: &Stat, before: &Stat) -> Tile {
    let (delta, tone) = relative(now.mean_seconds, before.mean_seconds);
    Tile { label, formula, value: dur(now.mean_seconds), previous: dur(before.mean_seconds), delta, tone }
}

fn change_lines(c: &opsdeck_core::change::kpi::ChangeKpis) -> Vec<(&'static str, String)> {
    if c.closed == 0 {
        return Vec::new();
    }
    let join = |v: Vec<String>| v.join(" · ");
    vec![
        ("Closed", format!("{} ({} succeeded, {} failed)", c.closed, c.succeeded, c.failed)),
        ("By type", join(c.by_type.iter().map(|(t, n)| format!("{} {n}", t.as_str())).collect())),
        ("By risk", join(c.by_risk.iter().map(|(r, n)| format!("{} {n}", r.as_str())).collect())),
    ]
}

/// A share of changes, in points against the period before; `higher_is_better` sets the tone.
fn change_tile(
    label: &'static str,
    formula: &'static str,
    now: Option<f64>,
    before: Option<f64>,
    higher_is_better: bool,
) -> Tile {
    let (delta, tone) = match (now, before) {
        (Some(n), Some(b)) => {
            let d = (n - b) * 100.0;
            (format!("{d:+.0}\u{a0}pp"), tone(d, higher_is_better))
        }
        _ => (String::new(), ""),
    };
    let shown = |v: Option<f64>| v.map_or_else(|| "no changes".to_owned(), |v| format!("{:.0}\u{a0}%", v * 100.0));
    Tile { label, formula, value: shown(now), previous: shown(before), delta, tone }
}

/// A share of tickets in points against the period before; `higher_is_better` sets the tone.
fn desk_share(label: &'static str, formula: &'static str, now: Option<f64>, before: Option<f64>, higher: bool) -> Tile {
    let mut t = change_tile(label, formula, now, before, higher);
    let shown = |v: Option<f64>| v.map_or_else(|| "no tickets".to_owned(), |v| format!("{:.0}\u{a0}%", v * 100.0));
    (t.value, t.previous) = (shown(now), shown(before));
    t
}

/// The desk's tiles, when the report covers the whole desk.
fn desk_tiles(now: Option<&DeskKpis>, before: Option<&DeskKpis>) -> Vec<Tile> {
    let Some(n) = now else { return Vec::new() };
    let b = before.cloned().unwrap_or_default();
    let minutes = |m: Option<f64>| dur(m.map(|m| m * 60.0));
    let (delta, tone) = relative(n.mean_resolution_minutes, b.mean_resolution_minutes);
    vec![
        desk_share(
            "SLA compliance",
            "resolved within both SLA targets / resolved",
            n.sla_compliance,
            b.sla_compliance,
            true,
        ),
        Tile {
            label: "First response",
            formula: "raised → first public reply, business time, mean",
            value: minutes(n.mean_first_response_minutes),
            previous: minutes(b.mean_first_response_minutes),
            delta: String::new(),
            tone: "",
        },
        Tile {
            label: "Resolution time",
            formula: "raised → resolved, business time without pauses, mean",
            value: minutes(n.mean_resolution_minutes),
            previous: minutes(b.mean_resolution_minutes),
            delta,
            tone,
        },
        desk_share("Reopen rate", "reopened at least once / resolved", n.reopen_rate, b.reopen_rate, false),
        desk_share(
            "Self-service deflection",
            "articles that answered the question / (those + tickets raised)",
            n.deflection_rate,
            b.deflection_rate,
            true,
        ),
        Tile {
            label: "Satisfaction",
            formula: "requesters' ratings given, mean of 1–5",
            value: n
                .mean_satisfaction
                .map_or_else(|| "no ratings".to_owned(), |m| format!("{m:.1} of 5 ({})", n.ratings)),
            previous: b.mean_satisfaction.map_or_else(|| "no ratings".to_owned(), |m| format!("{m:.1} of 5")),
            delta: String::new(),
            tone: "",
        },
        Tile {
            label: "Tickets",
            formula: "raised · resolved · open now",
            value: format!(
                "{} · {} · {}",
                n.raised,
                n.resolved,
                n.backlog.map_or_else(|| "—".to_owned(), |x| x.to_string())
            ),
            previous: format!("{} · {}", b.raised, b.resolved),
            delta: String::new(),
            tone: "",
        },
    ]
}

fn availability_tile(label: &'static str, formula: &'static str, now: Option<f64>, before: Option<f64>) -> Tile {
    let (delta, tone) = points(now, before);
    Tile { label, formula, value: pct(now), previous: pct(before), delta, tone }
}

fn previous_label(k: &Kpi) -> String {
    let p = &k.period;
    let month = p.previous_from.day() == 1 && p.label.len() == 7;
    if month {
        p.previous_from.format("%Y-%m").to_string()
    } else {
        let last = p.previous_to - chrono::Duration::seconds(1);
        format!("{} – {}", p.previous_from.format("%Y-%m-%d"), last.format("%Y-%m-%d"))
    }
}

pub fn view(k: &Kpi) -> KpiView {
    let (c, p) = (&k.current, &k.previous);
    let (incidents_delta, incidents_tone) = relative(Some(c.incidents as f64), Some(p.incidents as f64));
    let tiles = vec![
        availability_tile(
            "Availability (SLA)",
            "planned maintenance excluded",
            c.availability.adjusted,
            p.availability.adjusted,
        ),
        availability_tile(
            "Availability (as users saw it)",
            "maintenance counted as down",
            c.availability.raw,
            p.availability.raw,
        ),
        Tile {
            label: "Incidents",
            formula: "detected in the period",
            value: c.incidents.to_string(),
            previous: p.incidents.to_string(),
            delta: incidents_delta,
            tone: incidents_tone,
        },
        time_tile("MTTD", "detected − impact start", &c.mttx.mttd, &p.mttx.mttd),
        time_tile("MTTA", "acknowledged − detected", &c.mttx.mtta, &p.mttx.mtta),
        time_tile("MTTR", "mitigated − impact start (time to restore)", &c.mttx.mttr_recover, &p.mttx.mttr_recover),
        change_tile(
            "Change success rate",
            "closed successful / closed",
            c.changes.success_rate,
            p.changes.success_rate,
            true,
        ),
        change_tile(
            "Change failure rate",
            "unsuccessful, backed out or caused an incident / closed",
            c.changes.failure_rate,
            p.changes.failure_rate,
            false,
        ),
        change_tile(
            "Emergency changes",
            "emergency / closed",
            c.changes.emergency_share,
            p.changes.emergency_share,
            false,
        ),
        Tile {
            label: "Change lead time",
            formula: "raised → work done, mean",
            value: dur(c.changes.mean_lead_hours.map(|h| h * 3600.0)),
            previous: dur(p.changes.mean_lead_hours.map(|h| h * 3600.0)),
            delta: String::new(),
            tone: "",
        },
    ];
    let mut tiles = tiles;
    tiles.extend(desk_tiles(c.desk.as_ref(), p.desk.as_ref()));
    let services = k
        .services
        .iter()
        .map(|s| {
            let (delta, tone) = points(s.availability.adjusted, s.previous.adjusted);
            ServiceLine {
                name: s.name.clone(),
                href: s.service_id.map(|_| format!("/services/{}", s.slug)),
                adjusted: pct(s.availability.adjusted),
                raw: pct(s.availability.raw),
                previous: pct(s.previous.adjusted),
                delta,
                tone,
                checks: s.checks,
            }
        })
        .collect();
    let slos = k
        .slos
        .iter()
        .map(|s| {
            let (tone, verdict) = match s.met() {
                Some(true) => ("slo-ok", "met"),
                Some(false) => ("slo-bad", "missed"),
                None => ("", "no data"),
            };
            SloLine {
                name: s.name.clone(),
                href: format!("/slos/{}", s.slo_id),
                target: pct(Some(s.target)),
                sli: pct(s.sli),
                tone,
                verdict,
            }
        })
        .collect();
    let pairs =
        |c: &[crate::operations::reports::Count]| c.iter().map(|c| (c.label.clone(), c.count)).collect::<Vec<_>>();
    KpiView {
        label: k.period.label.clone(),
        previous_label: previous_label(k),
        incidents: c.incidents,
        tiles,
        services,
        slos,
        week_chart: charts::column_chart(&pairs(&k.by_week), "incidents per week"),
        severity_chart: charts::hbar_chart(&pairs(&c.by_severity)),
        service_chart: charts::hbar_chart(&pairs(&k.by_service[..k.by_service.len().min(10)])),
        noisy: k.noisy.clone(),
        changes: change_lines(&c.changes),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/kpi.html")]
pub struct KpiPage {
    chrome: Chrome,
    v: KpiView,
    /// `YYYY-MM` chosen, or empty for the last 30 days.
    period_f: String,
    months: Vec<(String, String)>,
    service_f: String,
    services: Vec<ServiceView>,
    query: String,
    schedules: Vec<opsdeck_store::report_schedule::ReportSchedule>,
}

#[derive(Deserialize, Default)]
pub struct KpiForm {
    /// A confirmation after a redirect (the schedules panel's actions).
    notice: Option<String>,
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    service: Option<String>,
}

/// The twelve months before now's, newest first, as `(2026-10, October 2026)`.
fn recent_months(now: DateTime<Utc>) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(13);
    let (mut y, mut m) = (now.year(), now.month());
    for _ in 0..13 {
        if let Some(d) = chrono::NaiveDate::from_ymd_opt(y, m, 1) {
            out.push((d.format("%Y-%m").to_string(), d.format("%B %Y").to_string()));
        }
        (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    }
    out
}

pub async fn dashboard(State(state): State<AppState>, page: PageAuth, Query(q): Query<KpiForm>) -> Response {
    let chrome = chrome!(page, state, "reports", q.notice.clone());
    let blank = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
    let range =
        KpiRange { period: blank(&q.period), from: blank(&q.from), to: blank(&q.to), service_id: blank(&q.service) };
    let k = try_page!(kpi::build(&state, &range).await);
    let services = match services(&state).await {
        Ok(s) => s,
        Err(e) => return e,
    };
    // Managers only: schedules name people's addresses.
    let schedules = if chrome.can_configure { try_page!(state.db.list_report_schedules().await) } else { Vec::new() };
    let mut params = vec![];
    for (name, v) in
        [("period", &range.period), ("from", &range.from), ("to", &range.to), ("service_id", &range.service_id)]
    {
        if let Some(v) = v {
            params.push((name, v.clone()));
        }
    }
    KpiPage {
        chrome,
        v: view(&k),
        period_f: range.period.clone().unwrap_or_default(),
        months: recent_months(state.now()),
        service_f: q.service.unwrap_or_default(),
        services,
        query: serde_urlencoded::to_string(params).unwrap_or_default(),
        schedules,
    }
    .into_response()
}

#[derive(Template)]
#[template(path = "reports/kpi_print.html")]
pub struct KpiPrint {
    v: KpiView,
    css: &'static str,
    instance_name: String,
    generated: String,
    public_url: String,
}

/// The report as one self-contained HTML document.
pub async fn printable(state: &AppState, k: &Kpi) -> Result<String, ApiError> {
    let settings = crate::operations::settings::load(state).await?;
    KpiPrint {
        v: view(k),
        css: include_str!("../../assets/app.css"),
        instance_name: settings.instance_name,
        generated: state.now().format("%Y-%m-%d %H:%M UTC").to_string(),
        public_url: settings.public_url.unwrap_or_default(),
    }
    .render()
    .map_err(|e| {
        tracing::error!(error = %e, "report rendering failed");
        ApiError::internal()
    })
}
