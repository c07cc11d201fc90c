//! statuspage.io's public API v2 shapes, field for field, so existing consumers (exporters,
//! dashboards, client libraries) read Opsdeck's pages unchanged. Times are ISO 8601 with
//! milliseconds in the page's time zone, as statuspage.io serves them.

use crate::operations::status_pages::LivePage;
use chrono::{DateTime, SecondsFormat, Utc};
use opsdeck_store::status_incident::PublicIncident;
use opsdeck_store::status_maintenance::PageMaintenance;
use serde::Serialize;

#[derive(Serialize, Clone)]
pub struct Page {
    pub id: String,
    pub name: String,
    pub url: String,
    pub time_zone: String,
    pub updated_at: String,
}

#[derive(Serialize, Clone, Copy)]
pub struct Status {
    pub indicator: &'static str,
    pub description: &'static str,
}

#[derive(Serialize, Clone)]
pub struct Component {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub created_at: String,
    pub updated_at: String,
    pub position: i32,
    pub description: Option<String>,
    pub showcase: bool,
    pub start_date: Option<String>,
    pub group_id: Option<String>,
    pub page_id: String,
    pub group: bool,
    pub only_show_if_degraded: bool,
    /// Only on groups: their members' ids (leaf components have no such key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
}

#[derive(Serialize)]
pub struct StatusDoc<'a> {
    pub page: &'a Page,
    pub status: Status,
}

#[derive(Serialize)]
pub struct ComponentsDoc<'a> {
    pub page: &'a Page,
    pub components: &'a [Component],
}

/// `t` in the page's zone (UTC if the stored zone no longer parses).
pub fn time(t: DateTime<Utc>, zone: &str) -> String {
    match zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => t.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Millis, true),
        Err(_) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
    }
}

pub fn page(live: &LivePage, url: &str) -> Page {
    let p = &live.page;
    Page {
        id: p.id.to_string(),
        name: p.title.clone(),
        url: url.to_owned(),
        time_zone: p.time_zone.clone(),
        updated_at: time(p.updated_at, &p.time_zone),
    }
}

pub fn status(live: &LivePage) -> Status {
    Status { indicator: live.indicator.as_str(), description: live.indicator.description() }
}

/// What visitors see ([`LivePage::shown`]).
pub fn components(live: &LivePage) -> Vec<Component> {
    let zone = &live.page.time_zone;
    live.components
        .iter()
        .filter(|c| live.shown(c))
        .map(|c| {
            let comp = &c.component;
            Component {
                id: comp.id.to_string(),
                name: comp.name.clone(),
                status: c.status.as_str(),
                created_at: time(comp.created_at, zone),
                updated_at: time(comp.updated_at.max(live.page.updated_at), zone),
                position: comp.position,
                description: Some(comp.description.clone()).filter(|d| !d.is_empty()),
                showcase: !comp.is_group,
                start_date: None,
                group_id: comp.group_id.map(|g| g.to_string()),
                page_id: live.page.id.to_string(),
                group: comp.is_group,
                only_show_if_degraded: comp.only_show_if_degraded,
                components: comp.is_group.then(|| {
                    live.members(comp.id).filter(|m| m.visible()).map(|m| m.component.id.to_string()).collect()
                }),
            }
        })
        .collect()
}

#[derive(Serialize)]
pub struct AffectedComponent {
    pub code: String,
    pub name: String,
    pub old_status: String,
    pub new_status: String,
}

#[derive(Serialize)]
pub struct IncidentUpdate {
    pub id: String,
    pub status: &'static str,
    pub body: String,
    pub incident_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub display_at: String,
    /// `null` when the update names no component, as statuspage.io serves it.
    pub affected_components: Option<Vec<AffectedComponent>>,
    pub deliver_notifications: bool,
    pub custom_tweet: Option<String>,
    pub tweet_id: Option<String>,
}

#[derive(Serialize)]
pub struct Incident {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub created_at: String,
    pub updated_at: String,
    pub monitoring_at: Option<String>,
    pub resolved_at: Option<String>,
    pub impact: &'static str,
    pub shortlink: String,
    pub started_at: String,
    pub page_id: String,
    pub incident_updates: Vec<IncidentUpdate>,
    pub components: Vec<Component>,
    pub reminder_intervals: Option<String>,
    /// Only on scheduled maintenances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_for: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_until: Option<String>,
}

#[derive(Serialize)]
pub struct IncidentsDoc<'a> {
    pub page: &'a Page,
    pub incidents: &'a [Incident],
}

#[derive(Serialize)]
pub struct MaintenancesDoc<'a> {
    pub page: &'a Page,
    pub scheduled_maintenances: Vec<&'a Incident>,
}

#[derive(Serialize)]
pub struct SummaryDoc<'a> {
    pub page: &'a Page,
    pub components: &'a [Component],
    pub incidents: &'a [Incident],
    pub scheduled_maintenances: Vec<&'a Incident>,
    pub status: Status,
}

/// The component objects of `ids` among `all` (the page's, in its order).
fn components_of(all: &[Component], ids: &[uuid::Uuid]) -> Vec<Component> {
    all.iter().filter(|c| ids.iter().any(|id| id.to_string() == c.id)).cloned().collect()
}

pub fn incident(live: &LivePage, all: &[Component], url: &str, i: &PublicIncident) -> Incident {
    let zone = &live.page.time_zone;
    let ids: Vec<uuid::Uuid> = i.components.iter().map(|c| c.0).collect();
    Incident {
        id: i.id.to_string(),
        name: i.name.clone(),
        status: i.status.as_str(),
        created_at: time(i.created_at, zone),
        updated_at: time(i.updated_at, zone),
        monitoring_at: i.monitoring_at.map(|t| time(t, zone)),
        resolved_at: i.resolved_at.map(|t| time(t, zone)),
        impact: i.impact.as_str(),
        shortlink: format!("{url}#incident-{}", i.id),
        started_at: time(i.started_at, zone),
        page_id: live.page.id.to_string(),
        incident_updates: i
            .updates
            .iter()
            .map(|u| IncidentUpdate {
                id: u.id.to_string(),
                status: u.status.as_str(),
                body: u.body.clone(),
                incident_id: i.id.to_string(),
                created_at: time(u.created_at, zone),
                updated_at: time(u.created_at, zone),
                display_at: time(u.created_at, zone),
                affected_components: (!u.affected.is_empty()).then(|| {
                    u.affected
                        .iter()
                        .map(|a| AffectedComponent {
                            code: a.code.to_string(),
                            name: a.name.clone(),
                            old_status: a.old_status.clone(),
                            new_status: a.new_status.clone(),
                        })
                        .collect()
                }),
                deliver_notifications: true,
                custom_tweet: None,
                tweet_id: None,
            })
            .collect(),
        components: components_of(all, &ids),
        reminder_intervals: None,
        scheduled_for: None,
        scheduled_until: None,
    }
}

/// A page's scheduled maintenance as statuspage.io serves it: its updates (announcement,
/// start, end) newest first.
pub fn maintenance(live: &LivePage, all: &[Component], url: &str, m: &PageMaintenance) -> Incident {
    let zone = &live.page.time_zone;
    let id = m.id.to_string();
    Incident {
        id: id.clone(),
        name: m.name.clone(),
        status: m.status.as_str(),
        created_at: time(m.created_at, zone),
        updated_at: time(m.updated_at, zone),
        monitoring_at: None,
        resolved_at: m.completed_at.map(|t| time(t, zone)),
        impact: "maintenance",
        shortlink: format!("{url}#maintenance-{id}"),
        started_at: time(m.started_at.unwrap_or(m.scheduled_for), zone),
        page_id: live.page.id.to_string(),
        incident_updates: m
            .updates
            .iter()
            .map(|u| IncidentUpdate {
                id: u.id.to_string(),
                status: u.status.as_str(),
                body: u.body.clone(),
                incident_id: id.clone(),
                created_at: time(u.created_at, zone),
                updated_at: time(u.created_at, zone),
                display_at: time(u.created_at, zone),
                affected_components: None,
                deliver_notifications: true,
                custom_tweet: None,
                tweet_id: None,
            })
            .collect(),
        components: components_of(all, &m.components),
        reminder_intervals: None,
        scheduled_for: Some(time(m.scheduled_for, zone)),
        scheduled_until: Some(time(m.scheduled_until, zone)),
    }
}
