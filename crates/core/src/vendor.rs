//! Third-party vendors whose status pages Opsdeck reads: what a vendor is (a status page base
//! URL, or a feed), and the parsers that turn what the vendor serves (statuspage.io's
//! `summary.json`, or an RSS/Atom feed) into components and incidents. Parsers take bytes
//! already bounded by the poller and never panic on what a vendor sends.

use crate::status_page::ComponentStatus;
use crate::{Error, Problems, Result, validate};
use serde::{Deserialize, Serialize};

/// The largest answer a vendor may send (larger is refused unread).
pub const BODY_MAX: usize = 5 * 1024 * 1024;
/// Components and incidents kept per vendor, at most.
pub const COMPONENTS_MAX: usize = 500;
pub const INCIDENTS_MAX: usize = 50;
/// Vendors per instance, at most.
pub const VENDORS_MAX: i64 = 500;
pub const INTERVAL_MIN: u32 = 30;
pub const INTERVAL_MAX: u32 = 86_400;
pub const INTERVAL_DEFAULT: u32 = 300;
pub const TIMEOUT_MIN: u32 = 1;
pub const TIMEOUT_MAX: u32 = 60;
pub const TIMEOUT_DEFAULT: u32 = 10;

/// How a vendor publishes its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedKind {
    /// statuspage.io's public API v2 (`…/api/v2/summary.json`).
    Statuspage,
    /// An RSS or Atom feed of incidents.
    Feed,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Statuspage => "statuspage",
            FeedKind::Feed => "feed",
        }
    }

    pub fn parse(s: &str) -> Option<FeedKind> {
        [FeedKind::Statuspage, FeedKind::Feed].into_iter().find(|k| k.as_str() == s)
    }
}

/// A validated vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VendorSpec {
    pub name: String,
    /// What was given: a status page's base URL, its `summary.json`, or a feed.
    pub url: String,
    pub kind: FeedKind,
    pub interval_seconds: u32,
    pub timeout_seconds: u32,
}

impl VendorSpec {
    pub fn new(name: &str, url: &str, interval: Option<i64>, timeout: Option<i64>) -> Result<VendorSpec> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", name));
        let url = p.check(validate::url("url", url));
        let bounded = |field: &'static str, v: Option<i64>, min: u32, max: u32, default: u32, p: &mut Problems| match v
        {
            None => default,
            Some(v) => match u32::try_from(v).ok().filter(|v| (min..=max).contains(v)) {
                Some(v) => v,
                None => {
                    p.push(field, format!("must be between {min} and {max} seconds"));
                    default
                }
            },
        };
        let interval_seconds =
            bounded("interval_seconds", interval, INTERVAL_MIN, INTERVAL_MAX, INTERVAL_DEFAULT, &mut p);
        let timeout_seconds = bounded("timeout_seconds", timeout, TIMEOUT_MIN, TIMEOUT_MAX, TIMEOUT_DEFAULT, &mut p);
        p.finish()?;
        let (Some(name), Some(url)) = (name, url) else {
            return Err(Error::invalid("url", "must be an absolute URL"));
        };
        let path = url.split(['?', '#']).next().unwrap_or("").to_ascii_lowercase();
        let kind = if [".rss", ".atom", ".xml", "/feed", "/rss", "/atom"].iter().any(|e| path.ends_with(e)) {
            FeedKind::Feed
        } else {
            FeedKind::Statuspage
        };
        Ok(VendorSpec { name, url, kind, interval_seconds, timeout_seconds })
    }

    /// The address polled: a feed as given; for statuspage.io, `summary.json` under the page.
    pub fn poll_url(&self) -> String {
        match self.kind {
            FeedKind::Feed => self.url.clone(),
            FeedKind::Statuspage => {
                let base = self.url.split(['?', '#']).next().unwrap_or(&self.url).trim_end_matches('/');
                if base.ends_with(".json") {
                    base.to_owned()
                } else if base.ends_with("/api/v2") {
                    format!("{base}/summary.json")
                } else {
                    format!("{base}/api/v2/summary.json")
                }
            }
        }
    }
}

/// A vendor's overall status: a component status, or unknown (unreachable, or an answer that
/// cannot be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VendorStatus {
    Known(ComponentStatus),
    Unknown,
}

impl VendorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VendorStatus::Known(s) => s.as_str(),
            VendorStatus::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> VendorStatus {
        ComponentStatus::parse(s).map_or(VendorStatus::Unknown, VendorStatus::Known)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorComponent {
    /// The vendor's own id (statuspage.io), or the name.
    pub id: String,
    pub name: String,
    pub status: ComponentStatus,
    /// The group it belongs to, by name.
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorIncident {
    pub id: String,
    pub name: String,
    /// statuspage.io's incident status (`investigating`, …), or `reported` for a feed entry.
    pub status: String,
    /// `none`, `minor`, `major`, `critical` (statuspage.io), `unknown` for a feed entry.
    pub impact: String,
    pub url: Option<String>,
    pub updated_at: Option<String>,
}

/// What one successful poll read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VendorReading {
    pub status: ComponentStatus,
    /// The vendor's own words for it (statuspage.io's status description).
    pub description: String,
    pub components: Vec<VendorComponent>,
    pub incidents: Vec<VendorIncident>,
}

/// Whether a status pages the services that depend on it: degraded and worse do; operational
/// and maintenance (announced by the vendor) do not.
pub fn alerting(s: ComponentStatus) -> bool {
    matches!(s, ComponentStatus::DegradedPerformance | ComponentStatus::PartialOutage | ComponentStatus::MajorOutage)
}

/// What a dependency's change from `before` to `after` does to its alert: `Some(Some(s))`
/// triggers (or re-triggers at a new status) at `s`, `Some(None)` resolves, `None` leaves it.
/// A status that is gone (a component the vendor no longer lists) counts as operational.
pub fn dependency_change(
    before: Option<ComponentStatus>,
    after: Option<ComponentStatus>,
) -> Option<Option<ComponentStatus>> {
    let bad = |s: Option<ComponentStatus>| s.filter(|s| alerting(*s));
    match (bad(before), bad(after)) {
        (None, None) => None,
        (_, Some(a)) if bad(before) != Some(a) => Some(Some(a)),
        (_, Some(_)) => None,
        (Some(_), None) => Some(None),
    }
}

/// An alert's severity for a vendor status.
pub fn alert_severity(s: ComponentStatus) -> crate::alert::Severity {
    match s {
        ComponentStatus::MajorOutage => crate::alert::Severity::Critical,
        ComponentStatus::PartialOutage => crate::alert::Severity::Error,
        _ => crate::alert::Severity::Warning,
    }
}

/// Limits an error text from a vendor (it ends up on pages and in alerts).
fn short(s: impl std::fmt::Display) -> String {
    let s = s.to_string();
    if s.chars().count() > 200 { format!("{}…", s.chars().take(200).collect::<String>()) } else { s }
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

mod sp {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Summary {
        pub status: Status,
        #[serde(default)]
        pub components: Vec<Component>,
        #[serde(default)]
        pub incidents: Vec<Incident>,
    }

    #[derive(Deserialize)]
    pub struct Status {
        pub indicator: String,
        #[serde(default)]
        pub description: String,
    }

    #[derive(Deserialize)]
    pub struct Component {
        pub id: String,
        pub name: String,
        pub status: String,
        #[serde(default)]
        pub group: bool,
        pub group_id: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Incident {
        pub id: String,
        pub name: String,
        pub status: String,
        #[serde(default)]
        pub impact: String,
        pub shortlink: Option<String>,
        pub updated_at: Option<String>,
    }
}

/// Reads statuspage.io's `summary.json`. A component status outside statuspage.io's words
/// counts as degraded (the vendor says something is not right).
pub fn parse_summary(body: &[u8]) -> std::result::Result<VendorReading, String> {
    let s: sp::Summary =
        serde_json::from_slice(body).map_err(|e| short(format_args!("not statuspage.io's summary.json: {e}")))?;
    let groups: std::collections::HashMap<&str, &str> =
        s.components.iter().filter(|c| c.group).map(|c| (c.id.as_str(), c.name.as_str())).collect();
    let components: Vec<VendorComponent> = s
        .components
        .iter()
        .filter(|c| !c.group)
        .take(COMPONENTS_MAX)
        .map(|c| VendorComponent {
            id: clip(&c.id, 64),
            name: clip(&c.name, 255),
            status: ComponentStatus::parse(&c.status).unwrap_or(ComponentStatus::DegradedPerformance),
            group: c.group_id.as_deref().and_then(|g| groups.get(g)).map(|g| clip(g, 255)),
        })
        .collect();
    let from_indicator = match s.status.indicator.as_str() {
        "none" => ComponentStatus::Operational,
        "maintenance" => ComponentStatus::UnderMaintenance,
        "minor" => ComponentStatus::DegradedPerformance,
        "major" => ComponentStatus::PartialOutage,
        "critical" => ComponentStatus::MajorOutage,
        other => return Err(short(format_args!("unknown status indicator {other:?}"))),
    };
    let worst = components.iter().map(|c| c.status).max().unwrap_or(ComponentStatus::Operational);
    let incidents = s
        .incidents
        .iter()
        .take(INCIDENTS_MAX)
        .map(|i| VendorIncident {
            id: clip(&i.id, 64),
            name: clip(&i.name, 255),
            status: clip(&i.status, 32),
            impact: clip(if i.impact.is_empty() { "none" } else { &i.impact }, 32),
            url: i.shortlink.as_deref().map(|u| clip(u, 2048)),
            updated_at: i.updated_at.as_deref().map(|u| clip(u, 40)),
        })
        .collect();
    Ok(VendorReading {
        status: from_indicator.max(worst),
        description: clip(&s.status.description, 255),
        components,
        incidents,
    })
}

/// Reads an RSS or Atom incident feed: its entries are the incidents; the vendor counts as
/// degraded while the newest entry is less than a day old and does not say it is resolved.
pub fn parse_feed(body: &[u8], now: chrono::DateTime<chrono::Utc>) -> std::result::Result<VendorReading, String> {
    let feed = feed_rs::parser::parse(body).map_err(|e| short(format_args!("not an RSS or Atom feed: {e}")))?;
    let mut incidents: Vec<(Option<chrono::DateTime<chrono::Utc>>, VendorIncident)> = feed
        .entries
        .iter()
        .take(INCIDENTS_MAX)
        .map(|e| {
            let at = e.updated.or(e.published);
            let text = format!(
                "{} {}",
                e.title.as_ref().map(|t| t.content.as_str()).unwrap_or(""),
                e.summary.as_ref().map(|t| t.content.as_str()).unwrap_or("")
            )
            .to_lowercase();
            let resolved = ["resolved", "completed", "fixed"].iter().any(|w| text.contains(w));
            let incident = VendorIncident {
                id: clip(&e.id, 64),
                name: clip(e.title.as_ref().map_or("(untitled)", |t| t.content.as_str()), 255),
                status: if resolved { "resolved".into() } else { "reported".into() },
                impact: "unknown".into(),
                url: e.links.first().map(|l| clip(&l.href, 2048)),
                updated_at: at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            };
            (at, incident)
        })
        .collect();
    incidents.sort_by_key(|i| std::cmp::Reverse(i.0));
    let open = incidents.first().is_some_and(|(at, i)| {
        i.status != "resolved" && at.is_some_and(|t| now.signed_duration_since(t) < chrono::Duration::days(1))
    });
    Ok(VendorReading {
        status: if open { ComponentStatus::DegradedPerformance } else { ComponentStatus::Operational },
        description: if open { "An incident was reported in the last day".into() } else { String::new() },
        components: Vec::new(),
        incidents: incidents.into_iter().map(|(_, i)| i).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_document() {
        let v = |u: &str| VendorSpec::new("x", u, None, None).unwrap();
        assert_eq!(v("https://www.githubstatus.com").poll_url(), "https://www.githubstatus.com/api/v2/summary.json");
        assert_eq!(v("https://s.example.com/api/v2/").poll_url(), "https://s.example.com/api/v2/summary.json");
        assert_eq!(
            v("https://s.example.com/api/v2/summary.json").poll_url(),
            "https://s.example.com/api/v2/summary.json"
        );
        assert_eq!(v("https://s.example.com/history.rss").kind, FeedKind::Feed);
        assert!(VendorSpec::new("x", "https://a.example", Some(5), None).is_err());
        assert!(VendorSpec::new("x", "https://a.example", None, Some(i64::MAX)).is_err());
        assert!(VendorSpec::new("", "nope", None, None).is_err());
    }

    #[test]
    fn summaries_are_read_and_checked() {
        let body = br#"{"page":{"id":"p"},"status":{"indicator":"minor","description":"Minor Service Outage"},
            "components":[{"id":"g","name":"APIs","status":"operational","group":true},
                          {"id":"a","name":"Git","status":"partial_outage","group":false,"group_id":"g"},
                          {"id":"b","name":"Pages","status":"weird"}],
            "incidents":[{"id":"i","name":"Git slow","status":"investigating","impact":"minor"}]}"#;
        let r = parse_summary(body).unwrap();
        assert_eq!(r.status, ComponentStatus::PartialOutage, "the worst component wins over the indicator");
        assert_eq!(r.components.len(), 2);
        assert_eq!(r.components[0].group.as_deref(), Some("APIs"));
        assert_eq!(r.components[1].status, ComponentStatus::DegradedPerformance);
        assert_eq!(r.incidents[0].name, "Git slow");
        for bad in [&b"{\"status\": {\"indicator\": 3}}"[..], b"{\"stat", b"[]", b"", b"<html>"] {
            assert!(parse_summary(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(parse_summary(br#"{"status":{"indicator":"purple"}}"#).unwrap_err().contains("purple"));
    }

    #[test]
    fn dependencies_trigger_on_trouble_and_resolve_on_recovery() {
        use ComponentStatus::*;
        assert_eq!(dependency_change(Some(Operational), Some(PartialOutage)), Some(Some(PartialOutage)));
        assert_eq!(dependency_change(None, Some(MajorOutage)), Some(Some(MajorOutage)));
        assert_eq!(dependency_change(Some(PartialOutage), Some(MajorOutage)), Some(Some(MajorOutage)));
        assert_eq!(dependency_change(Some(PartialOutage), Some(PartialOutage)), None);
        assert_eq!(dependency_change(Some(PartialOutage), Some(Operational)), Some(None));
        assert_eq!(dependency_change(Some(PartialOutage), None), Some(None), "a component that is gone");
        assert_eq!(dependency_change(Some(Operational), Some(UnderMaintenance)), None);
    }

    #[test]
    fn feeds_are_read() {
        let now = chrono::Utc::now();
        let fresh = (now - chrono::Duration::hours(1)).to_rfc3339();
        let old = (now - chrono::Duration::days(3)).to_rfc3339();
        let atom = format!(
            r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><id>x</id><title>S</title>
            <updated>{fresh}</updated>
            <entry><id>1</id><title>Login errors</title><updated>{fresh}</updated><link href="https://s/1"/></entry>
            <entry><id>2</id><title>DNS - Resolved</title><updated>{old}</updated></entry></feed>"#
        );
        let r = parse_feed(atom.as_bytes(), now).unwrap();
        assert_eq!(r.status, ComponentStatus::DegradedPerformance);
        assert_eq!((r.incidents[0].name.as_str(), r.incidents[1].status.as_str()), ("Login errors", "resolved"));
        assert!(parse_feed(b"<rss><channel><title>", now).is_err());
    }
}
