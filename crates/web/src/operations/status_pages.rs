//! Status page operations: create, change and delete pages (managers and admins), set a
//! component's status by hand, and compute what a page shows right now ([`live`]), which the
//! public page, its statuspage.io JSON and the editor's preview all render.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::incident::Sev;
use opsdeck_core::monitor::MonitorState;
use opsdeck_core::role::Permission;
use opsdeck_core::status_maintenance::MaintenanceStatus;
use opsdeck_core::status_page::{
    ComponentInput, ComponentStatus, Indicator, PageInput, PageSpec, Signals, UpdateSpec, VendorRef,
};
use opsdeck_core::vendor::VendorStatus;
use opsdeck_store::catalogue::{Ref, ServiceFilter};
use opsdeck_store::incident::Incident;
use opsdeck_store::status_incident::{Affected, PublicIncident, RECENT_MAX, Source};
use opsdeck_store::status_maintenance::PageMaintenance;
use opsdeck_store::status_page::{Component, StatusPage};
use opsdeck_store::vendor::Vendor;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Days of history the uptime bars show.
pub const UPTIME_DAYS: i64 = 90;

/// Checks that every service and monitor a component follows exists.
async fn check_refs(state: &AppState, spec: &PageSpec) -> Result<(), ApiError> {
    let services: Vec<Uuid> =
        spec.components.iter().filter_map(|c| c.service_id).collect::<HashSet<_>>().into_iter().collect();
    if let Some(missing) = state.db.unknown_services(&services).await?.first() {
        return Err(ApiError::invalid("components", format!("no service has id {missing}")));
    }
    let monitors: Vec<Uuid> = spec.components.iter().flat_map(|c| c.monitor_ids.iter().copied()).collect();
    let found: HashSet<Uuid> = state.db.page_monitors(&monitors, &[]).await?.into_iter().map(|m| m.0).collect();
    if let Some(missing) = monitors.iter().find(|id| !found.contains(id)) {
        return Err(ApiError::invalid("components", format!("no monitor has id {missing}")));
    }
    for (i, c) in spec.components.iter().enumerate() {
        let Some(r) = &c.vendor else { continue };
        let v = match state.db.get_vendor(r.vendor_id).await {
            Ok(v) => v,
            Err(opsdeck_store::StoreError::NotFound(_)) => {
                let m = format!("component {}: vendor_id: no vendor has id {}", i + 1, r.vendor_id);
                return Err(ApiError::invalid("components", m));
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(problem) = super::vendors::component_problem(&v, &r.component) {
            return Err(ApiError::invalid("components", format!("component {}: vendor_component: {problem}", i + 1)));
        }
    }
    Ok(())
}

/// What a third-party component's vendor says: its named component's status, or the whole
/// vendor's; `None` while the vendor is unknown or no longer lists that component.
fn vendor_status(r: &VendorRef, vendors: &HashMap<Uuid, Vendor>) -> Option<ComponentStatus> {
    let v = vendors.get(&r.vendor_id)?;
    let VendorStatus::Known(whole) = v.status else { return None };
    if r.component.is_empty() {
        return Some(whole);
    }
    v.components.iter().find(|c| c.name == r.component).map(|c| c.status)
}

/// Creates a page; with `from_team` and no components given, one component per service of that
/// team (the one-click page).
pub async fn create(
    state: &AppState,
    auth: &Auth,
    mut input: PageInput,
    from_team: Option<Uuid>,
) -> Result<StatusPage, ApiError> {
    auth.require(Permission::Configure)?;
    if let Some(team) = from_team
        && input.components.is_none()
    {
        let team = state.db.get_team(Ref::Id(team)).await.map_err(|e| match e {
            opsdeck_store::StoreError::NotFound(_) => ApiError::invalid("team_id", format!("no team has id {team}")),
            e => e.into(),
        })?;
        let filter = ServiceFilter { team_id: Some(team.id), limit: Some(200), ..Default::default() };
        let services = state.db.list_services(&filter).await?.items;
        input.components = Some(
            services
                .into_iter()
                .map(|s| ComponentInput { name: s.service.name, service_id: Some(s.service.id), ..Default::default() })
                .collect(),
        );
    }
    let spec = PageSpec::create(input)?;
    check_refs(state, &spec).await?;
    let page = state.db.create_status_page(&auth.actor(), state.now(), spec).await?;
    sync_maintenance(state).await;
    state.status_pages.domains.forget();
    state.events.publish("status_page.changed", Some(page.id), format!("Status page {} created", page.slug));
    Ok(page)
}

/// Brings the pages' scheduled maintenance in line with the windows now, so a planned window
/// (or a changed page) is announced at once rather than at the notifier's next sync. The
/// change that called it is already committed: a failure here is logged and the notifier's
/// next sync catches up.
pub async fn sync_maintenance(state: &AppState) {
    if let Err(e) = state.db.sync_maintenance(state.now()).await {
        tracing::warn!(error = %e, "scheduled maintenance waits for the notifier's next sync");
    }
}

/// Changes the fields `input` names; components given replace the list (those with an `id`
/// keep their identity and manual status).
pub async fn update(
    state: &AppState,
    auth: &Auth,
    current: &StatusPage,
    input: PageInput,
) -> Result<StatusPage, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = current.spec().apply(input)?;
    check_refs(state, &spec).await?;
    let page = state.db.update_status_page(&auth.actor(), state.now(), current, spec).await?;
    sync_maintenance(state).await;
    state.status_pages.domains.forget();
    // The uptime history is kept a minute: a changed page must not wait for it.
    state.status_pages.forget(&current.slug);
    state.events.publish("status_page.changed", Some(page.id), format!("Status page {} changed", page.slug));
    Ok(page)
}

pub async fn delete(state: &AppState, auth: &Auth, current: &StatusPage) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    state.db.delete_status_page(&auth.actor(), state.now(), current).await?;
    state.status_pages.domains.forget();
    state.events.publish("status_page.changed", Some(current.id), format!("Status page {} deleted", current.slug));
    Ok(())
}

/// How long a manual status may be set for, at most.
pub const OVERRIDE_MAX_DAYS: i64 = 90;

/// Who may read a page (managers and up): `password` sets (`Some(Some)`) or removes
/// (`Some(None)`) its password; `team_ids` names the teams whose signed-in members may read it
/// (`Some(vec![])`: none). `None` leaves either as it is; a page with neither is public. Takes
/// effect at once: the page's cached rendering is dropped.
pub async fn set_access(
    state: &AppState,
    auth: &Auth,
    page: &StatusPage,
    password: Option<Option<&str>>,
    team_ids: Option<Vec<Uuid>>,
) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    if team_ids.as_ref().is_some_and(|t| t.len() > TEAMS_MAX) {
        return Err(ApiError::invalid("team_ids", format!("at most {TEAMS_MAX} teams")));
    }
    let hash = match password {
        None => None,
        Some(None) => Some(None),
        Some(Some(p)) => {
            let (min, max) = (crate::status::PASSWORD_MIN, crate::status::PASSWORD_MAX);
            if !(min..=max).contains(&p.chars().count()) {
                return Err(ApiError::invalid("password", format!("must be {min} to {max} characters")));
            }
            let p = p.to_owned();
            let hashed = tokio::task::spawn_blocking(move || opsdeck_core::secret::hash_password(&p))
                .await
                .map_err(|_| ApiError::internal())??;
            Some(Some(hashed))
        }
    };
    let hash_ref = hash.as_ref().map(|h| h.as_deref());
    state.db.set_status_page_access(&auth.actor(), state.now(), page, hash_ref, team_ids.as_deref()).await?;
    state.status_pages.forget(&page.slug);
    state.events.publish("status_page.changed", Some(page.id), format!("Status page {} access changed", page.slug));
    Ok(())
}

/// Teams a private page may admit, at most.
pub const TEAMS_MAX: usize = 100;

/// Sets a component's status by hand (responders and up: it is part of telling users what is
/// broken), for `minutes` if given; `None` clears it.
pub async fn set_override(
    state: &AppState,
    auth: &Auth,
    page: &StatusPage,
    component_id: Uuid,
    status: Option<ComponentStatus>,
    minutes: Option<i64>,
) -> Result<(), ApiError> {
    auth.require(Permission::Respond)?;
    let until = match minutes {
        None => None,
        Some(m) if (1..=OVERRIDE_MAX_DAYS * 24 * 60).contains(&m) => Some(
            state
                .now()
                .checked_add_signed(Duration::minutes(m))
                .ok_or_else(|| ApiError::invalid("minutes", "would end past the last date the server can hold"))?,
        ),
        Some(_) => {
            return Err(ApiError::invalid(
                "minutes",
                format!("must be 1 to {} (90 days)", OVERRIDE_MAX_DAYS * 24 * 60),
            ));
        }
    };
    state.db.set_component_override(&auth.actor(), state.now(), page, component_id, status, until).await?;
    state.events.publish("status_page.changed", Some(page.id), format!("Status page {} changed", page.slug));
    Ok(())
}

/// One day of a component's uptime bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Day {
    /// No check counted that day (no monitor, or not yet created): shown as such, not as up.
    NoData,
    Checked {
        checks: i64,
        failures: i64,
    },
}

impl Day {
    /// Per cent of counted checks that passed.
    pub fn uptime(self) -> Option<f64> {
        match self {
            Day::NoData => None,
            Day::Checked { checks, failures } => Some(100.0 * (checks - failures) as f64 / checks as f64),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LiveComponent {
    pub component: Component,
    pub status: ComponentStatus,
    /// Oldest first, [`UPTIME_DAYS`] long, today last (UTC days).
    pub days: Vec<Day>,
}

impl LiveComponent {
    /// Uptime (per cent) over the bar's days that have data.
    pub fn uptime(&self) -> Option<f64> {
        let (checks, failures) = self.days.iter().fold((0i64, 0i64), |(c, f), d| match d {
            Day::NoData => (c, f),
            Day::Checked { checks, failures } => (c.saturating_add(*checks), f.saturating_add(*failures)),
        });
        (checks > 0).then(|| 100.0 * (checks - failures) as f64 / checks as f64)
    }

    /// Whether a visitor sees it: "only show if degraded" components hide while operational.
    pub fn visible(&self) -> bool {
        !self.component.only_show_if_degraded || self.status != ComponentStatus::Operational
    }
}

/// A page as it stands at `at`: every component (groups take their worst member's status), its
/// public incidents and the maintenance that touches it.
#[derive(Debug, Clone)]
pub struct LivePage {
    pub page: StatusPage,
    pub at: DateTime<Utc>,
    pub components: Vec<LiveComponent>,
    pub indicator: Indicator,
    /// Unresolved public incidents, newest first.
    pub unresolved: Vec<PublicIncident>,
    /// The latest public incidents (resolved ones included), newest first.
    pub recent: Vec<PublicIncident>,
    /// Scheduled maintenance: in progress and upcoming by start, then the latest completed.
    pub maintenances: Vec<PageMaintenance>,
}

impl LivePage {
    /// Members of a group, in order.
    pub fn members(&self, group: Uuid) -> impl Iterator<Item = &LiveComponent> {
        self.components.iter().filter(move |c| c.component.group_id == Some(group))
    }

    /// Whether visitors see `c`: components hidden while operational ("only show if degraded")
    /// are left out, as are groups left without a visible member.
    pub fn shown(&self, c: &LiveComponent) -> bool {
        if c.component.is_group { self.members(c.component.id).any(LiveComponent::visible) } else { c.visible() }
    }
}

/// What `page` shows now: component statuses from monitors, open incidents and manual
/// overrides, the page indicator, and each component's daily uptime.
pub async fn live(state: &AppState, page: StatusPage) -> Result<LivePage, ApiError> {
    let now = state.now();
    let leaves: Vec<&Component> = page.components.iter().filter(|c| !c.is_group).collect();
    let services: Vec<Uuid> = leaves.iter().filter_map(|c| c.service_id).collect::<HashSet<_>>().into_iter().collect();
    let own: Vec<Uuid> =
        leaves.iter().flat_map(|c| c.monitor_ids.iter().copied()).collect::<HashSet<_>>().into_iter().collect();
    let monitors = state.db.page_monitors(&own, &services).await?;
    let incidents = state.db.open_incidents_by_service(&services).await?;
    // Third-party components read what the vendor poller stored (at most VENDORS_MAX vendors).
    let vendors: HashMap<Uuid, Vendor> = if leaves.iter().any(|c| c.vendor.is_some()) {
        state.db.list_vendors().await?.into_iter().map(|v| (v.id, v)).collect()
    } else {
        HashMap::new()
    };
    // Both lists: an old incident can still be open beyond the latest RECENT_MAX.
    let unresolved = state.db.public_incidents(page.id, true, RECENT_MAX).await?;
    let recent = state.db.public_incidents(page.id, false, RECENT_MAX).await?;
    let mut public: HashMap<Uuid, ComponentStatus> = HashMap::new();
    for (id, st) in unresolved.iter().flat_map(|i| i.components.iter()) {
        let worst = public.entry(*id).or_insert(*st);
        *worst = (*worst).max(*st);
    }
    let since = now.checked_sub_signed(Duration::days(UPTIME_DAYS - 1)).unwrap_or(now);
    let ids: Vec<Uuid> = monitors.iter().map(|m| m.0).collect();
    let uptime = state.db.daily_uptime(&ids, since).await?;
    let first_day = since.date_naive();

    let state_of: HashMap<Uuid, _> = monitors.iter().map(|m| (m.0, m.2)).collect();
    let mut statuses: HashMap<Uuid, ComponentStatus> = HashMap::new();
    let mut days_of: HashMap<Uuid, Vec<Day>> = HashMap::new();
    for c in &leaves {
        let followed = followed(c, &monitors);
        let signals = Signals {
            monitors: followed.iter().filter_map(|id| state_of.get(id).copied()).collect(),
            incident: c.service_id.and_then(|s| incidents.get(&s)).and_then(|(_, sev)| Sev::parse(sev)),
            manual: c.manual(now),
            public: public.get(&c.id).copied(),
            vendor: c.vendor.as_ref().and_then(|r| vendor_status(r, &vendors)),
        };
        statuses.insert(c.id, signals.status());
        days_of.insert(c.id, days(&followed, &uptime, first_day, UPTIME_DAYS as usize));
    }
    // Maintenance in progress puts its components under maintenance (an outage still shows).
    let mut maintenances = state.db.page_maintenances(page.id).await?;
    maintenances.sort_by_key(|m| (m.status != MaintenanceStatus::InProgress, m.status == MaintenanceStatus::Completed));
    for m in maintenances.iter().filter(|m| m.status == MaintenanceStatus::InProgress) {
        for c in &m.components {
            if let Some(s) = statuses.get_mut(c) {
                *s = (*s).max(ComponentStatus::UnderMaintenance);
            }
        }
    }
    let from_incidents = unresolved.iter().map(|i| Indicator::from_impact(i.impact)).max();
    let indicator =
        Indicator::from_components(statuses.values().copied()).max(from_incidents.unwrap_or(Indicator::None));
    let components = page
        .components
        .iter()
        .map(|c| {
            let (status, days) = if c.is_group {
                let members = page.components.iter().filter(|m| m.group_id == Some(c.id));
                let status = members.filter_map(|m| statuses.get(&m.id)).max().copied();
                (status.unwrap_or(ComponentStatus::Operational), Vec::new())
            } else {
                (
                    statuses.get(&c.id).copied().unwrap_or(ComponentStatus::Operational),
                    days_of.remove(&c.id).unwrap_or_default(),
                )
            };
            LiveComponent { component: c.clone(), status, days }
        })
        .collect();
    Ok(LivePage { page, at: now, components, indicator, unresolved, recent, maintenances })
}

/// The monitors a component follows: its own and its service's.
fn followed(c: &Component, monitors: &[(Uuid, Option<Uuid>, MonitorState)]) -> Vec<Uuid> {
    c.monitor_ids
        .iter()
        .copied()
        .chain(monitors.iter().filter(|m| c.service_id.is_some() && m.1 == c.service_id).map(|m| m.0))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect()
}

/// `n` days from `first_day` of the summed daily uptime of `monitors`.
fn days(
    monitors: &[Uuid],
    uptime: &HashMap<Uuid, Vec<opsdeck_store::status_page::DayUptime>>,
    first_day: chrono::NaiveDate,
    n: usize,
) -> Vec<Day> {
    let mut days = vec![Day::NoData; n];
    for d in monitors.iter().filter_map(|id| uptime.get(id)).flatten() {
        let Ok(i) = usize::try_from((d.day.date_naive() - first_day).num_days()) else { continue };
        if let Some(slot) = days.get_mut(i).filter(|_| d.checks > 0) {
            *slot = match *slot {
                Day::NoData => Day::Checked { checks: d.checks, failures: d.failures },
                Day::Checked { checks, failures } => Day::Checked {
                    checks: checks.saturating_add(d.checks),
                    failures: failures.saturating_add(d.failures),
                },
            };
        }
    }
    days
}

/// Each component's daily uptime from `first` to `last` (UTC days, both included; at most
/// [`HISTORY_DAYS_MAX`]), for the uptime history page. Groups have none.
pub async fn uptime_history(
    state: &AppState,
    page: &StatusPage,
    first: chrono::NaiveDate,
    last: chrono::NaiveDate,
) -> Result<HashMap<Uuid, Vec<Day>>, ApiError> {
    let n = usize::try_from((last - first).num_days().saturating_add(1)).unwrap_or(0).min(HISTORY_DAYS_MAX);
    let leaves: Vec<&Component> = page.components.iter().filter(|c| !c.is_group).collect();
    let services: Vec<Uuid> = leaves.iter().filter_map(|c| c.service_id).collect::<HashSet<_>>().into_iter().collect();
    let own: Vec<Uuid> =
        leaves.iter().flat_map(|c| c.monitor_ids.iter().copied()).collect::<HashSet<_>>().into_iter().collect();
    let monitors = state.db.page_monitors(&own, &services).await?;
    let ids: Vec<Uuid> = monitors.iter().map(|m| m.0).collect();
    let uptime = state.db.daily_uptime(&ids, first.and_time(chrono::NaiveTime::MIN).and_utc()).await?;
    Ok(leaves.iter().map(|c| (c.id, days(&followed(c, &monitors), &uptime, first, n))).collect())
}

/// The longest span [`uptime_history`] reads (three months and a little).
pub const HISTORY_DAYS_MAX: usize = 93;

/// Posts an update about `incident` on the status page `spec` names (responders and up): the
/// first one opens the page's public incident; components it names take the given status
/// until the public incident is resolved.
pub async fn post_update(state: &AppState, auth: &Auth, incident: &Incident, spec: UpdateSpec) -> Result<(), ApiError> {
    auth.require(Permission::Respond)?;
    let page = match state.db.get_status_page(spec.page_id).await {
        Ok(p) => p,
        Err(opsdeck_store::StoreError::NotFound(_)) => {
            return Err(ApiError::invalid("status_page_id", format!("no status page has id {}", spec.page_id)));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(missing) =
        spec.components.iter().flatten().find(|(id, _)| !page.components.iter().any(|c| c.id == *id && !c.is_group))
    {
        return Err(ApiError::invalid("components", format!("page {} has no component {}", page.slug, missing.0)));
    }
    let live = live(state, page.clone()).await?;
    let affected = spec
        .components
        .iter()
        .flatten()
        .filter_map(|(id, new)| {
            let c = live.components.iter().find(|c| c.component.id == *id)?;
            Some(Affected {
                code: *id,
                name: c.component.name.clone(),
                old_status: c.status.as_str().to_owned(),
                new_status: new.as_str().to_owned(),
            })
        })
        .collect();
    let source = Source { id: incident.id, title: &incident.title, severity: incident.severity };
    state.db.post_public_update(&auth.actor(), state.now(), &page, source, &spec, affected).await?;
    state.events.publish("status_page.changed", Some(page.id), format!("Status page {} updated", page.slug));
    state.events.publish("incident.updated", Some(incident.id), "Status page updated");
    Ok(())
}
