//! Importing another tool's configuration: each source's shapes are read into one neutral
//! [`Bundle`] of Opsdeck-shaped items that still name each other by the source's ids; the
//! operation layer resolves those names, plans (create, update, unchanged, error) and writes.
//!
//! Everything here is pure: fetching (vendor APIs, a `kuma.db`) happens elsewhere and hands the
//! documents in. What a source has that Opsdeck cannot hold is listed in [`Bundle::unmapped`]
//! with the reason, never dropped silently.

pub mod equivalence;
pub mod gatus;
pub mod grafana_oncall;
pub mod kuma;
pub mod opsgenie;
pub mod pagerduty;
pub mod weekly;

use crate::alert::IntegrationType;
use crate::escalation::{ChannelKind, TargetKind};
use crate::oncall::{Length, Restriction};
use crate::role::Role;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The most objects of one kind an import reads (a source with more is refused, not truncated).
pub const OBJECTS_MAX: usize = 20_000;
/// How far ahead the on-call equivalence check compares.
pub const EQUIVALENCE_DAYS: i64 = 56;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Pagerduty,
    Opsgenie,
    GrafanaOncall,
    UptimeKuma,
    Gatus,
}

impl SourceKind {
    pub const ALL: [SourceKind; 5] = [
        SourceKind::Pagerduty,
        SourceKind::Opsgenie,
        SourceKind::GrafanaOncall,
        SourceKind::UptimeKuma,
        SourceKind::Gatus,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Pagerduty => "pagerduty",
            SourceKind::Opsgenie => "opsgenie",
            SourceKind::GrafanaOncall => "grafana-oncall",
            SourceKind::UptimeKuma => "uptime-kuma",
            SourceKind::Gatus => "gatus",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SourceKind::Pagerduty => "PagerDuty",
            SourceKind::Opsgenie => "Opsgenie",
            SourceKind::GrafanaOncall => "Grafana OnCall",
            SourceKind::UptimeKuma => "Uptime Kuma",
            SourceKind::Gatus => "Gatus",
        }
    }

    pub fn parse(s: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The kinds of object an import writes, in the order they are written (each may name the
/// ones before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    User,
    Team,
    Schedule,
    Policy,
    Service,
    Integration,
    Maintenance,
    Monitor,
    StatusPage,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::User => "user",
            ObjectKind::Team => "team",
            ObjectKind::Schedule => "schedule",
            ObjectKind::Policy => "policy",
            ObjectKind::Service => "service",
            ObjectKind::Integration => "integration",
            ObjectKind::Maintenance => "maintenance",
            ObjectKind::Monitor => "monitor",
            ObjectKind::StatusPage => "status_page",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserItem {
    pub source_id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub contacts: Vec<ContactItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactItem {
    pub kind: ChannelKind,
    pub address: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamItem {
    pub source_id: String,
    pub name: String,
    pub description: String,
    /// Source ids of users.
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerItem {
    pub name: String,
    /// Source ids of users, in rotation order.
    pub users: Vec<String>,
    /// The first handoff, in the schedule's zone.
    pub start: NaiveDateTime,
    pub length: Length,
    pub restrictions: Vec<Restriction>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideItem {
    /// Source id of the user covering.
    pub user: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleItem {
    pub source_id: String,
    pub name: String,
    pub description: String,
    pub timezone: String,
    pub team: Option<String>,
    /// Lowest first, as Opsdeck stacks them.
    pub layers: Vec<LayerItem>,
    /// Overrides that have not ended yet.
    pub overrides: Vec<OverrideItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetItem {
    pub kind: TargetKind,
    pub source_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelItem {
    pub delay_minutes: u32,
    pub targets: Vec<TargetItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyItem {
    pub source_id: String,
    pub name: String,
    pub description: String,
    pub loops: u32,
    pub levels: Vec<LevelItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationItem {
    pub source_id: String,
    pub name: String,
    pub kind: IntegrationType,
    /// The last characters of the key senders use today (shown beside the new one, so they
    /// can be switched; the key itself is not kept).
    pub old_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceItem {
    pub source_id: String,
    pub name: String,
    pub description: String,
    pub team: Option<String>,
    pub policy: Option<String>,
    pub integrations: Vec<IntegrationItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowItem {
    pub source_id: String,
    pub name: String,
    pub description: String,
    pub start: DateTime<Utc>,
    pub duration_minutes: i64,
    /// Set for a recurring window (an RRULE in `timezone`).
    pub rrule: Option<String>,
    pub timezone: String,
    /// Source ids of services.
    pub services: Vec<String>,
    /// Source ids of monitors.
    pub monitors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorItem {
    pub source_id: String,
    pub name: String,
    /// An Opsdeck monitor type (`http`, `tcp`, …).
    pub kind: String,
    pub interval_seconds: i64,
    pub timeout_seconds: Option<i64>,
    pub down_after: i64,
    pub tags: Vec<String>,
    pub settings: serde_json::Value,
    /// The source had it switched off: it is created paused.
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageComponentItem {
    pub name: String,
    pub group: Option<String>,
    /// Source ids of monitors.
    pub monitors: Vec<String>,
}

/// A public status page whose components follow imported monitors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageItem {
    pub source_id: String,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub components: Vec<PageComponentItem>,
}

/// Something the source has that could not be mapped, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmapped {
    /// What it is in the source's words (`contact method`, `monitor`, …).
    pub what: String,
    pub source_id: String,
    pub name: String,
    pub reason: String,
}

impl Unmapped {
    pub fn new(what: &str, source_id: impl Into<String>, name: impl Into<String>, reason: impl Into<String>) -> Self {
        Unmapped { what: what.into(), source_id: source_id.into(), name: name.into(), reason: reason.into() }
    }
}

/// One on-call entry as the source itself renders a schedule (its own "who is on call").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceShift {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Source id of the user; `None` for nobody.
    pub user: Option<String>,
}

/// What a source holds, in Opsdeck's shapes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bundle {
    pub users: Vec<UserItem>,
    pub teams: Vec<TeamItem>,
    pub schedules: Vec<ScheduleItem>,
    pub policies: Vec<PolicyItem>,
    pub services: Vec<ServiceItem>,
    pub windows: Vec<WindowItem>,
    pub monitors: Vec<MonitorItem>,
    pub pages: Vec<PageItem>,
    pub unmapped: Vec<Unmapped>,
    /// Per schedule source id, the source's own rendering of the next weeks (where its API has
    /// one), for the equivalence check.
    pub rendered: Vec<(String, Vec<SourceShift>)>,
}

/// A stable digest of an item as imported: a re-run whose item has the same digest is
/// unchanged, whatever was edited in Opsdeck since.
pub fn digest<T: Serialize>(item: &T) -> String {
    let bytes = serde_json::to_vec(item).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// A username from an e-mail address or a name: lowercase letters, digits, '.', '_' and '-'.
pub fn username_from(email: &str, name: &str) -> String {
    let local = email.split('@').next().filter(|l| !l.is_empty()).unwrap_or(name);
    let mut out: String = local
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .take(crate::user::USERNAME_MAX)
        .collect();
    if out.trim_matches('-').is_empty() {
        out = "imported".into();
    }
    out
}

/// Reads one object of a source document, or lists it as unreadable (by its `id` and `name`,
/// `summary` or `email`) so the rest still imports.
pub(crate) fn read<T: for<'de> Deserialize<'de>>(
    what: &str,
    v: &serde_json::Value,
    out: &mut Vec<Unmapped>,
) -> Option<T> {
    match T::deserialize(v) {
        Ok(t) => Some(t),
        Err(e) => {
            let text = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
            let id = text("id").unwrap_or("?");
            let name = text("name").or_else(|| text("summary")).or_else(|| text("username")).or_else(|| text("email"));
            out.push(Unmapped::new(what, id, name.unwrap_or(""), format!("cannot be read: {e}")));
            None
        }
    }
}

/// The last characters of a key, enough to tell it apart: the key itself is never kept.
pub(crate) fn key_hint(key: &str) -> String {
    let tail: Vec<char> = key.chars().rev().take(4).collect();
    format!("…{}", tail.into_iter().rev().collect::<String>())
}

/// Parses an RFC 3339 instant from a source document.
pub fn instant(field: &'static str, s: &str) -> Result<DateTime<Utc>, String> {
    let t = DateTime::parse_from_rfc3339(s).map_err(|_| format!("{field} {s:?} is not an RFC 3339 time"))?;
    let t = t.with_timezone(&Utc);
    crate::time::check_utc(field, t).map_err(|e| e.to_string())?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_come_from_the_mailbox_name() {
        assert_eq!(username_from("Jane.Doe+x@example.com", "Jane"), "jane.doe-x");
        assert_eq!(username_from("", "Ünïcode Name"), "-n-code-name");
        assert_eq!(username_from("@", "!!"), "imported");
    }

    #[test]
    fn digests_are_stable_and_differ_by_content() {
        let a = Unmapped::new("x", "1", "n", "r");
        assert_eq!(digest(&a), digest(&a.clone()));
        assert_ne!(digest(&a), digest(&Unmapped::new("x", "1", "n", "other")));
    }
}
