//! Incidents: status machine, severities, timeline entry kinds, postmortems and the MTTx
//! figures computed from incident timestamps.

use crate::alert::Severity;
use crate::{Error, Result, validate};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Triggered,
    Acknowledged,
    Resolved,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Triggered, Status::Acknowledged, Status::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Triggered => "triggered",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_open(self) -> bool {
        self != Status::Resolved
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A responder's request to move an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Acknowledge,
    Resolve,
    Reopen,
}

/// The status after `m`, or why it is not allowed.
pub fn transition(from: Status, m: Move) -> Result<Status> {
    match (from, m) {
        (Status::Triggered, Move::Acknowledge) => Ok(Status::Acknowledged),
        (Status::Acknowledged, Move::Acknowledge) => {
            Err(Error::Conflict("the incident is already acknowledged".into()))
        }
        (Status::Resolved, Move::Acknowledge) => {
            Err(Error::Conflict("the incident is resolved; reopen it first".into()))
        }
        (Status::Triggered | Status::Acknowledged, Move::Resolve) => Ok(Status::Resolved),
        (Status::Resolved, Move::Resolve) => Err(Error::Conflict("the incident is already resolved".into())),
        (Status::Resolved, Move::Reopen) => Ok(Status::Triggered),
        (_, Move::Reopen) => Err(Error::Conflict("only a resolved incident can be reopened".into())),
    }
}

/// SEV1 (worst) to SEV4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Sev {
    #[serde(rename = "SEV1")]
    Sev1,
    #[serde(rename = "SEV2")]
    Sev2,
    #[serde(rename = "SEV3")]
    Sev3,
    #[serde(rename = "SEV4")]
    Sev4,
}

impl Sev {
    pub const ALL: [Sev; 4] = [Sev::Sev1, Sev::Sev2, Sev::Sev3, Sev::Sev4];

    pub fn as_str(self) -> &'static str {
        match self {
            Sev::Sev1 => "SEV1",
            Sev::Sev2 => "SEV2",
            Sev::Sev3 => "SEV3",
            Sev::Sev4 => "SEV4",
        }
    }

    /// Accepts `SEV2`, `sev2` and `2`.
    pub fn parse(s: &str) -> Option<Sev> {
        let t = s.trim().to_ascii_uppercase();
        let t = t.strip_prefix("SEV").unwrap_or(&t);
        match t {
            "1" => Some(Sev::Sev1),
            "2" => Some(Sev::Sev2),
            "3" => Some(Sev::Sev3),
            "4" => Some(Sev::Sev4),
            _ => None,
        }
    }

    /// critical → SEV1, error → SEV2, warning → SEV3, info → SEV4.
    pub fn from_alert(s: Severity) -> Sev {
        match s {
            Severity::Critical => Sev::Sev1,
            Severity::Error => Sev::Sev2,
            Severity::Warning => Sev::Sev3,
            Severity::Info => Sev::Sev4,
        }
    }

    /// The severity an alert opens an incident at on a service of `tier`: a best-effort (tier 4)
    /// service never opens anything worse than SEV3, whatever the alert says; tiers 1–3 follow
    /// the alert (tier 3 is the default a new service gets).
    pub fn for_service(s: Severity, tier: i16) -> Sev {
        let sev = Sev::from_alert(s);
        if tier >= 4 { sev.max(Sev::Sev3) } else { sev }
    }
}

impl fmt::Display for Sev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kinds of timeline entries, in one ordered view per incident.
pub mod kind {
    pub const CREATED: &str = "created";
    pub const ALERTS_JOINED: &str = "alerts_joined";
    pub const ALERT_RESOLVED: &str = "alert_resolved";
    pub const STATUS: &str = "status";
    pub const NOTE: &str = "note";
    pub const STATUS_UPDATE: &str = "status_update";
    pub const SEVERITY: &str = "severity";
    pub const ASSIGNED: &str = "assigned";
    pub const MERGED: &str = "merged";
    pub const SNOOZED: &str = "snoozed";
    pub const ESCALATED: &str = "escalated";
    pub const CHANGE: &str = "change";
    pub const EDITED: &str = "edited";
}

pub const TITLE_MAX: usize = 255;
pub const NOTE_MAX: usize = 20_000;

pub fn title(v: &str) -> Result<String> {
    let t = v.trim();
    if t.is_empty() {
        return Err(Error::invalid("title", "must not be empty"));
    }
    if t.chars().count() > TITLE_MAX {
        return Err(Error::invalid("title", format!("must be at most {TITLE_MAX} characters")));
    }
    Ok(t.to_owned())
}

pub fn note(v: &str) -> Result<String> {
    let t = v.trim();
    if t.is_empty() {
        return Err(Error::invalid("body", "must not be empty"));
    }
    if t.chars().count() > NOTE_MAX {
        return Err(Error::invalid("body", format!("must be at most {NOTE_MAX} characters")));
    }
    Ok(t.to_owned())
}

/// A postmortem's text fields (Markdown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PostmortemSpec {
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub impact: String,
    #[serde(default)]
    pub root_cause: String,
    #[serde(default)]
    pub contributing_factors: String,
    #[serde(default)]
    pub timeline: String,
    #[serde(default)]
    pub lessons: String,
}

impl PostmortemSpec {
    pub fn validate(self) -> Result<Self> {
        for (field, v) in [
            ("summary", &self.summary),
            ("impact", &self.impact),
            ("root_cause", &self.root_cause),
            ("contributing_factors", &self.contributing_factors),
            ("timeline", &self.timeline),
            ("lessons", &self.lessons),
        ] {
            if v.chars().count() > NOTE_MAX {
                return Err(Error::invalid(field, format!("must be at most {NOTE_MAX} characters")));
            }
        }
        Ok(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Open,
    InProgress,
    Done,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Open => "open",
            ActionStatus::InProgress => "in_progress",
            ActionStatus::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<ActionStatus> {
        [ActionStatus::Open, ActionStatus::InProgress, ActionStatus::Done].into_iter().find(|v| v.as_str() == s)
    }
}

/// A validated action item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionItemSpec {
    pub title: String,
    pub owner_id: Option<uuid::Uuid>,
    pub due_date: Option<NaiveDate>,
    pub status: ActionStatus,
}

impl ActionItemSpec {
    pub fn new(title: &str, owner_id: Option<uuid::Uuid>, due: Option<&str>, status: Option<&str>) -> Result<Self> {
        let title = validate::name("title", title)?;
        let due_date = match due.map(str::trim).filter(|d| !d.is_empty()) {
            Some(d) => Some(crate::time::parse_date("due_date", d)?),
            None => None,
        };
        let status = match status {
            Some(s) => {
                ActionStatus::parse(s).ok_or_else(|| Error::invalid("status", "must be open, in_progress or done"))?
            }
            None => ActionStatus::Open,
        };
        Ok(ActionItemSpec { title, owner_id, due_date, status })
    }
}

/// The timestamps MTTx is computed from (§4.1 of the KPI reference).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Times {
    pub impact_start: DateTime<Utc>,
    pub detected: DateTime<Utc>,
    pub acknowledged: Option<DateTime<Utc>>,
    pub mitigated: Option<DateTime<Utc>>,
    pub resolved: Option<DateTime<Utc>>,
}

/// Mean, median and 90th percentile of a set of durations, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Stat {
    /// How many incidents had both timestamps.
    pub count: usize,
    pub mean_seconds: Option<f64>,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

impl Stat {
    pub fn of(mut secs: Vec<f64>) -> Stat {
        secs.retain(|s| s.is_finite() && *s >= 0.0);
        if secs.is_empty() {
            return Stat::default();
        }
        secs.sort_by(f64::total_cmp);
        let n = secs.len();
        let rank = |q: f64| secs[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        Stat {
            count: n,
            mean_seconds: Some(secs.iter().sum::<f64>() / n as f64),
            median_seconds: Some(if n % 2 == 1 { secs[n / 2] } else { (secs[n / 2 - 1] + secs[n / 2]) / 2.0 }),
            p90_seconds: Some(rank(0.9)),
        }
    }
}

/// Every MTTx variant, each named for what it measures.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Mttx {
    /// detected − impact start
    pub mttd: Stat,
    /// acknowledged − detected
    pub mtta: Stat,
    /// mitigated − detected (Atlassian "respond")
    pub mttr_respond: Stat,
    /// mitigated − impact start (DORA "time to restore")
    pub mttr_recover: Stat,
    /// resolved − detected
    pub mttr_resolve_from_detect: Stat,
    /// resolved − impact start
    pub mttr_resolve_from_start: Stat,
}

fn secs(a: DateTime<Utc>, b: Option<DateTime<Utc>>) -> Option<f64> {
    b.map(|b| (b - a).num_milliseconds() as f64 / 1000.0)
}

pub fn mttx(items: &[Times]) -> Mttx {
    let col = |f: &dyn Fn(&Times) -> Option<f64>| Stat::of(items.iter().filter_map(f).collect());
    Mttx {
        mttd: col(&|t| secs(t.impact_start, Some(t.detected))),
        mtta: col(&|t| secs(t.detected, t.acknowledged)),
        mttr_respond: col(&|t| secs(t.detected, t.mitigated)),
        mttr_recover: col(&|t| secs(t.impact_start, t.mitigated)),
        mttr_resolve_from_detect: col(&|t| secs(t.detected, t.resolved)),
        mttr_resolve_from_start: col(&|t| secs(t.impact_start, t.resolved)),
    }
}

/// `INC-1042`.
pub fn display_number(n: i64) -> String {
    format!("INC-{n}")
}

/// Accepts `INC-1042`, `inc-1042` and `1042`.
pub fn parse_number(s: &str) -> Option<i64> {
    let t = s.trim();
    let digits = t.strip_prefix("INC-").or_else(|| t.strip_prefix("inc-")).unwrap_or(t);
    digits.parse().ok().filter(|n| *n > 0)
}

/// A duration as people read it in reports and postmortems: `45 s`, `12 min`, `2 h 5 min`,
/// `3 d 4 h`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 if s % 3600 / 60 == 0 => format!("{} h", s / 3600),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn status_machine() {
        assert_eq!(transition(Status::Triggered, Move::Acknowledge).unwrap(), Status::Acknowledged);
        assert_eq!(transition(Status::Acknowledged, Move::Resolve).unwrap(), Status::Resolved);
        assert_eq!(transition(Status::Resolved, Move::Reopen).unwrap(), Status::Triggered);
        assert!(transition(Status::Resolved, Move::Acknowledge).is_err());
        assert!(transition(Status::Triggered, Move::Reopen).is_err());
        assert!(transition(Status::Resolved, Move::Resolve).is_err());
    }

    #[test]
    fn sev_parsing_and_mapping() {
        assert_eq!(Sev::parse("sev2"), Some(Sev::Sev2));
        assert_eq!(Sev::parse("3"), Some(Sev::Sev3));
        assert_eq!(Sev::parse("SEV5"), None);
        assert_eq!(Sev::from_alert(Severity::Critical), Sev::Sev1);
        assert_eq!(parse_number("INC-42"), Some(42));
        assert_eq!(parse_number("x"), None);
    }

    #[test]
    fn mttx_variants() {
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let a = Times {
            impact_start: t0,
            detected: t0 + Duration::seconds(60),
            acknowledged: Some(t0 + Duration::seconds(120)),
            mitigated: Some(t0 + Duration::seconds(600)),
            resolved: Some(t0 + Duration::seconds(900)),
        };
        let b = Times {
            impact_start: t0,
            detected: t0 + Duration::seconds(180),
            acknowledged: None,
            mitigated: None,
            resolved: Some(t0 + Duration::seconds(1800)),
        };
        let m = mttx(&[a, b]);
        assert_eq!(m.mttd.mean_seconds, Some(120.0));
        assert_eq!(m.mtta.count, 1);
        assert_eq!(m.mtta.mean_seconds, Some(60.0));
        assert_eq!(m.mttr_respond.mean_seconds, Some(540.0));
        assert_eq!(m.mttr_recover.mean_seconds, Some(600.0));
        assert_eq!(m.mttr_resolve_from_detect.mean_seconds, Some((840.0 + 1620.0) / 2.0));
        assert_eq!(m.mttr_resolve_from_start.median_seconds, Some(1350.0));
        assert_eq!(m.mttr_resolve_from_start.p90_seconds, Some(1800.0));
        assert_eq!(mttx(&[]).mttd, Stat::default());
    }

    #[test]
    fn action_items() {
        let a = ActionItemSpec::new("Add disk alert", None, Some("2026-12-31"), None).unwrap();
        assert_eq!(a.status, ActionStatus::Open);
        assert!(ActionItemSpec::new("x", None, Some("31/12/2026"), None).is_err());
        assert!(ActionItemSpec::new("x", None, None, Some("finished")).is_err());
    }
}
