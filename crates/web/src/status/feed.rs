//! A page's incidents and maintenance as RSS 2.0 and Atom 1.0 feeds, its status as SVG badges,
//! and the embeddable widget. All are rendered with the page's snapshot, so they cost what the
//! page costs: nothing per visitor.

use crate::error::ApiError;
use crate::operations::status_pages::LivePage;
use askama::Template;
use chrono::{DateTime, Utc};
use opsdeck_core::status_page::ComponentStatus;

/// One feed item: a public incident (its updates in the content) or a maintenance.
pub struct Entry {
    pub id: String,
    pub title: String,
    pub link: String,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// The item's text as HTML (escaped once more by the XML template).
    pub html: String,
}

impl Entry {
    pub fn rfc2822(t: &DateTime<Utc>) -> String {
        t.to_rfc2822()
    }

    pub fn rfc3339(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

/// Feed items of `live`, newest first: public incidents, then maintenance by start.
pub fn entries(live: &LivePage, url: &str) -> Vec<Entry> {
    let zone: chrono_tz::Tz = live.page.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let mut out: Vec<Entry> = live
        .recent
        .iter()
        .map(|i| {
            let mut html = String::new();
            for u in &i.updates {
                let when = u.created_at.with_timezone(&zone).format("%b %-d, %H:%M %Z");
                html.push_str(&format!(
                    "<p><small>{when}</small><br><strong>{}</strong> - {}</p>",
                    u.status.label(),
                    escape(&u.body)
                ));
            }
            Entry {
                id: format!("{url}#incident-{}", i.id),
                title: i.name.clone(),
                link: format!("{url}#incident-{}", i.id),
                published: i.created_at,
                updated: i.updated_at,
                html,
            }
        })
        .collect();
    for m in &live.maintenances {
        let window = format!(
            "{} – {}",
            m.scheduled_for.with_timezone(&zone).format("%b %-d, %H:%M %Z"),
            m.scheduled_until.with_timezone(&zone).format("%b %-d, %H:%M %Z")
        );
        let state = m.status.label();
        out.push(Entry {
            id: format!("{url}#maintenance-{}", m.id),
            title: format!("Maintenance: {}", m.name),
            link: format!("{url}#maintenance-{}", m.id),
            published: m.created_at,
            updated: m.updated_at,
            html: format!("<p><strong>{state}</strong> {window}</p><p>{}</p>", escape(&m.body)),
        });
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.updated));
    out
}

/// HTML text escaping for the content the feeds carry as HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[derive(Template)]
#[template(path = "status/feed.rss.xml")]
pub struct Rss<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub url: &'a str,
    pub built: String,
    pub entries: &'a [Entry],
}

#[derive(Template)]
#[template(path = "status/feed.atom.xml")]
pub struct Atom<'a> {
    pub title: &'a str,
    pub url: &'a str,
    pub updated: String,
    pub entries: &'a [Entry],
}

pub fn rss(live: &LivePage, url: &str, entries: &[Entry]) -> Result<String, ApiError> {
    Rss {
        title: &live.page.title,
        description: &live.page.description,
        url,
        built: Entry::rfc2822(&entries.first().map_or(live.at, |e| e.updated)),
        entries,
    }
    .render()
    .map(named_entities)
    .map_err(|_| ApiError::internal())
}

/// Askama escapes `&<>"'` as numeric references (`&#38;`), which some feed readers show
/// literally; named ones are read by all. Sound because every `&` in the output that comes from
/// text was escaped, so `&#38;` appears only as an escape, never as text.
fn named_entities(xml: String) -> String {
    xml.replace("&#38;", "&amp;")
        .replace("&#60;", "&lt;")
        .replace("&#62;", "&gt;")
        .replace("&#34;", "&quot;")
        .replace("&#39;", "&apos;")
}

pub fn atom(live: &LivePage, url: &str, entries: &[Entry]) -> Result<String, ApiError> {
    Atom {
        title: &live.page.title,
        url,
        updated: Entry::rfc3339(&entries.first().map_or(live.at, |e| e.updated)),
        entries,
    }
    .render()
    .map(named_entities)
    .map_err(|_| ApiError::internal())
}

/// A shields.io-style two-part badge.
#[derive(Template)]
#[template(path = "status/badge.svg")]
pub struct Badge<'a> {
    pub label: &'a str,
    pub message: &'a str,
    pub colour: &'static str,
    pub label_width: u32,
    pub message_width: u32,
}

impl Badge<'_> {
    pub fn width(&self) -> u32 {
        self.label_width.saturating_add(self.message_width)
    }
}

/// Width of `s` in the badge's 11 px sans-serif, with padding (an estimate: badges need not be
/// pixel-exact, only never clip).
fn text_width(s: &str) -> u32 {
    let chars = u32::try_from(s.chars().count()).unwrap_or(u32::MAX);
    chars.saturating_mul(7).saturating_add(12)
}

pub const GREEN: &str = "#2e7d32";
const YELLOW: &str = "#b26a00";
const RED: &str = "#c62828";
const BLUE: &str = "#1565c0";
const GREY: &str = "#616161";

pub fn status_colour(s: ComponentStatus) -> &'static str {
    match s {
        ComponentStatus::Operational => GREEN,
        ComponentStatus::DegradedPerformance => YELLOW,
        ComponentStatus::PartialOutage | ComponentStatus::MajorOutage => RED,
        ComponentStatus::UnderMaintenance => BLUE,
    }
}

pub fn indicator_colour(i: opsdeck_core::status_page::Indicator) -> &'static str {
    use opsdeck_core::status_page::Indicator;
    match i {
        Indicator::None => GREEN,
        Indicator::Minor => YELLOW,
        Indicator::Major | Indicator::Critical => RED,
        Indicator::Maintenance => BLUE,
    }
}

/// Colour of an uptime figure: green at 99.9 % and up, amber from 99 %, red below.
pub fn uptime_colour(u: Option<f64>) -> &'static str {
    match u {
        None => GREY,
        Some(u) if u >= 99.9 => GREEN,
        Some(u) if u >= 99.0 => YELLOW,
        Some(_) => RED,
    }
}

pub fn badge(label: &str, message: &str, colour: &'static str) -> Result<String, ApiError> {
    Badge { label, message, colour, label_width: text_width(label), message_width: text_width(message) }
        .render()
        .map_err(|_| ApiError::internal())
}
