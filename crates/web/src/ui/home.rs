//! The overview, the NOC screen: open incidents by severity, monitors that are not up, who is on
//! call now and next, maintenance under way or coming; then the catalogue and recent changes.
//! `?kiosk=1` shows it for a wall: no navigation, large type, refreshed live and every minute.

use super::{Chrome, PageAuth, abs, ago, error_page};
use crate::AppState;
use crate::api::incidents::IncidentDto;
use crate::operations::oncall;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::incident::Status;
use opsdeck_core::monitor::MonitorState;
use opsdeck_core::role::Permission;
use opsdeck_core::status_page::ComponentStatus;
use opsdeck_store::audit::AuditFilter;
use opsdeck_store::catalogue::ServiceFilter;
use opsdeck_store::incident::IncidentFilter;
use opsdeck_store::monitor::MonitorFilter;
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

/// Rows per section; the section links to the full list beyond.
const SHOWN: usize = 15;

pub struct Activity {
    pub actor: String,
    pub summary: String,
    pub ago: String,
    pub at: String,
}

pub struct OpenIncident {
    pub i: IncidentDto,
    pub age: String,
    pub at: String,
    /// The assignee's display name.
    pub owner: Option<String>,
}

pub struct Broken {
    pub id: Uuid,
    pub name: String,
    pub state: &'static str,
    pub service: Option<String>,
    pub since: String,
    pub since_at: String,
    pub reason: String,
}

/// One schedule's person on call now and who takes over next.
pub struct Shift {
    pub schedule_id: Uuid,
    pub schedule: String,
    pub now: Option<String>,
    pub until: Option<String>,
    pub next: Option<String>,
    pub next_at: Option<String>,
}

pub struct Upcoming {
    pub name: String,
    pub when: String,
    pub active: bool,
}

/// A vendor in trouble, or a public incident, as the overview lists it.
pub struct Outside {
    pub href: String,
    pub name: String,
    /// The state's CSS class and words.
    pub class: &'static str,
    pub label: String,
    pub detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "overview/home.html")]
pub struct HomePage {
    /// Vendors not operational (unknown included).
    vendors: Vec<Outside>,
    /// Unresolved public incidents on the status pages.
    public: Vec<Outside>,
    chrome: Chrome,
    kiosk: bool,
    can_respond: bool,
    incidents: Vec<OpenIncident>,
    incidents_more: i64,
    triggered: i64,
    acknowledged: i64,
    broken: Vec<Broken>,
    down: i64,
    degraded: i64,
    monitors: i64,
    shifts: Vec<Shift>,
    maintenance: Vec<Upcoming>,
    services: i64,
    teams: usize,
    unowned: i64,
    activity: Vec<Activity>,
    /// The signed-in person is on call now or within a day and has no way to be reached.
    unreachable_on_call: bool,
}

#[derive(Deserialize, Default)]
pub struct HomeQuery {
    notice: Option<String>,
    kiosk: Option<String>,
}

pub async fn page(State(state): State<AppState>, page: PageAuth, Query(q): Query<HomeQuery>) -> Response {
    let chrome = match page.chrome(&state, "home", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let kiosk = matches!(q.kiosk.as_deref(), Some("1" | "true" | "yes"));
    match build(&state, &page, chrome, kiosk).await {
        Ok(p) => p.into_response(),
        Err(e) => error_page(&e),
    }
}

/// Display names of everyone, for showing people as people read them.
pub(super) async fn display_names(state: &AppState) -> Result<HashMap<Uuid, String>, crate::ApiError> {
    Ok(state.db.list_users(None, None, Some(500)).await?.items.into_iter().map(|u| (u.id, u.shown_name())).collect())
}

async fn build(state: &AppState, page: &PageAuth, chrome: Chrome, kiosk: bool) -> Result<HomePage, crate::ApiError> {
    let now = state.now();
    let people = display_names(state).await?;

    // Open incidents, worst first, then oldest first.
    let counts = state.db.incident_counts(None).await?;
    let triggered = counts.get(&Status::Triggered).copied().unwrap_or(0);
    let acknowledged = counts.get(&Status::Acknowledged).copied().unwrap_or(0);
    let open = state.db.list_incidents(&IncidentFilter { open: true, limit: Some(200), ..Default::default() }).await?;
    let mut open = open.items;
    open.sort_by_key(|i| (i.severity, i.status != Status::Triggered, i.detected_at));
    let incidents_more = (triggered + acknowledged - SHOWN as i64).max(0);
    let incidents = open
        .into_iter()
        .take(SHOWN)
        .map(|i| OpenIncident {
            age: ago(i.detected_at, now),
            at: abs(i.detected_at),
            owner: i.assignee_id.and_then(|id| people.get(&id).cloned()),
            i: IncidentDto::from(i),
        })
        .collect();

    // Monitors that are down, then degraded.
    let states = state.db.monitor_state_counts(None).await?;
    let down = states.get(&MonitorState::Down).copied().unwrap_or(0);
    let degraded = states.get(&MonitorState::Degraded).copied().unwrap_or(0);
    let monitors = states.values().sum();
    let mut broken = Vec::new();
    for st in [MonitorState::Down, MonitorState::Degraded] {
        let list = state
            .db
            .list_monitors(&MonitorFilter { state: Some(st), limit: Some(SHOWN as i64), ..Default::default() })
            .await?;
        broken.extend(list.items.into_iter().map(|m| Broken {
            id: m.monitor.id,
            state: st.as_str(),
            service: m.service_name,
            since: ago(m.state_since, now),
            since_at: abs(m.state_since),
            reason: m.last_result.map(|r| r.reason).unwrap_or_default(),
            name: m.monitor.spec.name,
        }));
    }
    broken.truncate(SHOWN);

    // On call now and next, per schedule.
    let shifts = on_call_shifts(state, now, &people).await?;
    let me = page.0.user.id;
    // The schedule walk only for someone with no contact method (one cheap query first).
    let unreachable_on_call = page.0.allows(Permission::Respond)
        && state.db.contact_methods(me).await?.is_empty()
        && shifts_include(state, now, me).await?;

    // Maintenance under way or starting within a week.
    let week = now.checked_add_signed(Duration::days(7)).unwrap_or(now);
    let mut maintenance: Vec<(DateTime<Utc>, Upcoming)> = state
        .db
        .list_windows()
        .await?
        .into_iter()
        .filter_map(|w| {
            let (s, e) = w.spec.next(now)?;
            (s <= week).then(|| {
                let active = s <= now;
                let when = if active {
                    format!("now, until {}", e.format("%a %H:%M UTC"))
                } else {
                    format!("{} – {}", s.format("%a %d %b %H:%M"), e.format("%H:%M UTC"))
                };
                (s, Upcoming { name: w.spec.name, when, active })
            })
        })
        .collect();
    maintenance.sort_by_key(|(s, _)| *s);

    let services = state.db.count_services().await?;
    let teams = state.db.list_teams(None, None, Some(500)).await?.items.len();
    let all = state.db.list_services(&ServiceFilter { limit: Some(500), ..Default::default() }).await?;
    let unowned = all.items.iter().filter(|s| s.service.team_id.is_none()).count() as i64;
    let activity = if page.0.allows(Permission::Administer) && !kiosk {
        state
            .db
            .list_audit(&AuditFilter { limit: Some(8), ..Default::default() })
            .await?
            .items
            .into_iter()
            .map(|e| Activity { actor: e.actor, summary: e.summary, ago: ago(e.at, now), at: abs(e.at) })
            .collect()
    } else {
        Vec::new()
    };
    let vendors = state
        .db
        .list_vendors()
        .await?
        .into_iter()
        .filter(|v| v.status != opsdeck_core::vendor::VendorStatus::Known(ComponentStatus::Operational))
        .take(SHOWN)
        .map(|v| {
            let (class, label) = match v.status {
                opsdeck_core::vendor::VendorStatus::Known(s) => (s.as_str(), s.label().to_owned()),
                opsdeck_core::vendor::VendorStatus::Unknown => ("unknown", "Unknown".to_owned()),
            };
            let troubled: Vec<&str> = v
                .components
                .iter()
                .filter(|c| opsdeck_core::vendor::alerting(c.status))
                .map(|c| c.name.as_str())
                .take(3)
                .collect();
            let detail = match (&v.reason, troubled.is_empty()) {
                (Some(r), _) => r.clone(),
                (None, false) => troubled.join(", "),
                (None, true) => v.description.clone(),
            };
            Outside { href: format!("/vendors/{}", v.id), name: v.name, class, label, detail }
        })
        .collect();
    let public = state
        .db
        .unresolved_public_incidents(SHOWN as i64)
        .await?
        .into_iter()
        .map(|(slug, title, id, name, status)| Outside {
            href: format!("/status/{slug}#incident-{id}"),
            name,
            class: "degraded_performance",
            label: opsdeck_core::status_page::IncidentStatus::parse(&status)
                .map_or(status.clone(), |s| s.label().to_owned()),
            detail: format!("on {title}"),
        })
        .collect();
    Ok(HomePage {
        vendors,
        public,
        chrome,
        kiosk,
        can_respond: page.0.allows(Permission::Respond) && !kiosk,
        incidents,
        incidents_more,
        triggered,
        acknowledged,
        broken,
        down,
        degraded,
        monitors,
        shifts,
        maintenance: maintenance.into_iter().map(|(_, u)| u).take(SHOWN).collect(),
        services,
        teams,
        unowned,
        activity,
        unreachable_on_call,
    })
}

/// Each schedule's current person (with when the shift ends) and the next different person.
async fn on_call_shifts(
    state: &AppState,
    now: DateTime<Utc>,
    people: &HashMap<Uuid, String>,
) -> Result<Vec<Shift>, crate::ApiError> {
    let horizon = now.checked_add_signed(Duration::days(14)).unwrap_or(now);
    let mut out = Vec::new();
    for s in state.db.list_schedules().await?.into_iter().take(SHOWN) {
        let tl = oncall::shifts(state, &s, now, horizon).await?;
        let name = |u: Option<Uuid>| u.and_then(|u| people.get(&u).cloned());
        let current = tl.iter().find(|t| t.start <= now && now < t.end);
        let now_user = current.and_then(|t| t.user_id);
        let next = tl.iter().find(|t| t.start > now && t.user_id.is_some() && t.user_id != now_user);
        out.push(Shift {
            schedule_id: s.id,
            schedule: s.spec.name.clone(),
            now: name(now_user),
            until: current.filter(|t| t.user_id.is_some()).map(|t| t.end.format("%a %d %b %H:%M UTC").to_string()),
            next: next.and_then(|t| name(t.user_id)),
            next_at: next.map(|t| t.start.format("%a %d %b %H:%M UTC").to_string()),
        });
    }
    Ok(out)
}

/// Whether `user` is on call in any schedule now or within the next day.
pub(super) async fn shifts_include(state: &AppState, now: DateTime<Utc>, user: Uuid) -> Result<bool, crate::ApiError> {
    let day = now.checked_add_signed(Duration::days(1)).unwrap_or(now);
    for s in state.db.list_schedules().await? {
        if oncall::shifts(state, &s, now, day).await?.iter().any(|t| t.user_id == Some(user)) {
            return Ok(true);
        }
    }
    Ok(false)
}
