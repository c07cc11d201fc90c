//! statuspage.io's public API v2 shapes, field for field, so existing consumers (exporters,
//! dashboards, client libraries) read Opsdeck's pages unchanged. Times are ISO 8601 with
//! milliseconds in the page's time zone, as statuspage.io serves them.

use crate::operations::status_pages::{LiveComponent, LivePage};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

#[derive(Serialize)]
pub struct Page {
    pub id: String,
    pub name: String,
    pub url: String,
    pub time_zone: String,
    pub updated_at: String,
}

#[derive(Serialize)]
pub struct Status {
    pub indicator: &'static str,
    pub description: &'static str,
}

#[derive(Serialize)]
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
pub struct StatusDoc {
    pub page: Page,
    pub status: Status,
}

#[derive(Serialize)]
pub struct ComponentsDoc {
    pub page: Page,
    pub components: Vec<Component>,
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

/// What visitors see: components hidden while operational ("only show if degraded") are left
/// out, as are groups left without a visible member.
pub fn components(live: &LivePage) -> Vec<Component> {
    let zone = &live.page.time_zone;
    let shown = |c: &LiveComponent| {
        if c.component.is_group { live.members(c.component.id).any(LiveComponent::visible) } else { c.visible() }
    };
    live.components
        .iter()
        .filter(|c| shown(c))
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
