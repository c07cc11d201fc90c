//! Per-service alert settings: routing rules (drop, change severity, send to another service)
//! and how alerts group into incidents.

use super::{Severity, Signal};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// How a service's new alerts find an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Grouping {
    /// Join the service's open incident if an alert joined it within the window (a storm
    /// stays one incident for as long as it goes on).
    #[default]
    Time,
    /// Join the open incident with the same group key (Alertmanager's `groupKey`, PagerDuty's
    /// `payload.group`, or the label set), whenever it fires.
    Key,
    /// Every alert opens its own incident.
    None,
}

impl Grouping {
    pub fn as_str(self) -> &'static str {
        match self {
            Grouping::Time => "time",
            Grouping::Key => "key",
            Grouping::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Grouping> {
        [Grouping::Time, Grouping::Key, Grouping::None].into_iter().find(|g| g.as_str() == s)
    }
}

/// Which alerts a rule applies to; every given condition must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Label values that must be equal (`"*"` means the label is present).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The alert's severity is one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Severity>,
    /// The summary contains this text (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_contains: Option<String>,
}

impl Match {
    pub fn matches(&self, s: &Signal) -> bool {
        self.labels.iter().all(|(k, v)| s.labels.get(k).is_some_and(|have| v == "*" || have == v))
            && (self.severity.is_empty() || self.severity.contains(&s.severity))
            && self.summary_contains.as_deref().is_none_or(|t| s.summary.to_lowercase().contains(&t.to_lowercase()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RuleAction {
    /// Accept nothing: the alert is not stored.
    Drop,
    /// Change the severity and go on with the next rule.
    SetSeverity { severity: Severity },
    /// Hand the alert to another service (whose own rules are not applied).
    Route { service_id: Uuid },
}

// No `deny_unknown_fields` here: other fields are ignored, as they always were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RuleRepr")]
pub struct Rule {
    #[serde(default, rename = "match")]
    pub when: Match,
    #[serde(flatten)]
    pub then: RuleAction,
}

/// A rule as sent. Read by hand rather than through serde's internally tagged enum, which also
/// takes a variant's index (`"action": 0`) for its name.
#[derive(Deserialize)]
struct RuleRepr {
    #[serde(default, rename = "match")]
    when: Match,
    action: String,
    #[serde(default)]
    severity: Option<serde_json::Value>,
    #[serde(default)]
    service_id: Option<serde_json::Value>,
}

impl TryFrom<RuleRepr> for Rule {
    type Error = String;

    fn try_from(r: RuleRepr) -> std::result::Result<Self, String> {
        let then = match r.action.as_str() {
            "drop" => RuleAction::Drop,
            "set_severity" => {
                let v = r.severity.ok_or("a set_severity rule needs `severity`")?;
                let severity = serde_json::from_value(v).map_err(|e| format!("severity: {e}"))?;
                RuleAction::SetSeverity { severity }
            }
            "route" => {
                let v = r.service_id.ok_or("a route rule needs `service_id`")?;
                let service_id = serde_json::from_value(v).map_err(|e| format!("service_id: {e}"))?;
                RuleAction::Route { service_id }
            }
            other => return Err(format!("unknown action {other:?}; use drop, set_severity or route")),
        };
        Ok(Rule { when: r.when, then })
    }
}

pub const RULES_MAX: usize = 50;
pub const WINDOW_MAX_SECS: i32 = 7 * 86_400;

/// A service's alert handling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSettings {
    pub grouping: Grouping,
    /// For [`Grouping::Time`]: how long after the last joined alert an incident still takes
    /// new ones.
    pub group_window_seconds: i32,
    /// Resolve the incident when all its alerts have resolved.
    pub auto_resolve: bool,
    /// An alert that fires again this soon after its incident resolved reopens that incident
    /// instead of opening a new one; an incident that resolves again this soon after such a
    /// reopening is flapping and stays open until it has been quiet this long. 0 turns both off.
    #[serde(default = "default_reopen_window")]
    pub reopen_window_seconds: i32,
    pub rules: Vec<Rule>,
}

pub const REOPEN_WINDOW_DEFAULT_SECS: i32 = 600;

fn default_reopen_window() -> i32 {
    REOPEN_WINDOW_DEFAULT_SECS
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            grouping: Grouping::Time,
            group_window_seconds: 300,
            auto_resolve: true,
            reopen_window_seconds: REOPEN_WINDOW_DEFAULT_SECS,
            rules: Vec::new(),
        }
    }
}

impl AlertSettings {
    pub fn validate(self, own_service: Uuid) -> Result<AlertSettings> {
        if !(0..=WINDOW_MAX_SECS).contains(&self.group_window_seconds) {
            return Err(Error::invalid("group_window_seconds", format!("must be 0 to {WINDOW_MAX_SECS} (7 days)")));
        }
        if !(0..=WINDOW_MAX_SECS).contains(&self.reopen_window_seconds) {
            return Err(Error::invalid("reopen_window_seconds", format!("must be 0 to {WINDOW_MAX_SECS} (7 days)")));
        }
        if self.rules.len() > RULES_MAX {
            return Err(Error::invalid("rules", format!("at most {RULES_MAX} rules")));
        }
        for (n, r) in self.rules.iter().enumerate() {
            let n = n + 1;
            if let RuleAction::Route { service_id } = r.then
                && service_id == own_service
            {
                return Err(Error::invalid("rules", format!("rule {n}: a route rule must name another service")));
            }
            // Silencing a whole service is what maintenance windows are for; a condition-less
            // drop is almost always a half-finished rule.
            if r.then == RuleAction::Drop && r.when == Match::default() {
                return Err(Error::invalid(
                    "rules",
                    format!("rule {n} would drop every alert: give it a label, severity or summary condition"),
                ));
            }
        }
        Ok(self)
    }
}

/// What the rules decided for one signal.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Keep(Signal),
    Route(Uuid, Signal),
    Drop,
}

/// Applies `rules` in order: `set_severity` changes and goes on, `drop` and `route` stop.
/// Only triggers are subject to rules; acknowledgements and resolves always pass.
pub fn apply(rules: &[Rule], mut s: Signal) -> Decision {
    if s.action != super::Action::Trigger {
        return Decision::Keep(s);
    }
    for r in rules {
        if !r.when.matches(&s) {
            continue;
        }
        match &r.then {
            RuleAction::Drop => return Decision::Drop,
            RuleAction::SetSeverity { severity } => s.severity = *severity,
            RuleAction::Route { service_id } => return Decision::Route(*service_id, s),
        }
    }
    Decision::Keep(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(sev: Severity, labels: &[(&str, &str)]) -> Signal {
        let mut s = Signal::trigger("k", "Disk full on db1", sev);
        s.labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        s
    }

    #[test]
    fn a_drop_rule_needs_a_condition() {
        let me = Uuid::now_v7();
        let with = |rules: serde_json::Value| AlertSettings {
            rules: serde_json::from_value(rules).unwrap(),
            ..AlertSettings::default()
        };
        let e = with(serde_json::json!([{"action": "drop"}])).validate(me).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rules: rule 1 would drop every alert: give it a label, severity or summary condition"
        );
        let ok = with(serde_json::json!([{"match": {"summary_contains": "test"}, "action": "drop"}]));
        assert!(ok.validate(me).is_ok());
        let own = with(serde_json::json!([{"match": {}, "action": "route", "service_id": me}]));
        assert!(own.validate(me).unwrap_err().to_string().contains("rule 1: a route rule must name another service"));
    }

    #[test]
    fn rules_in_order() {
        let other = Uuid::now_v7();
        let rules: Vec<Rule> = serde_json::from_value(serde_json::json!([
            {"match": {"severity": ["info"]}, "action": "drop"},
            {"match": {"labels": {"env": "staging"}}, "action": "set_severity", "severity": "warning"},
            {"match": {"labels": {"team": "*"}}, "action": "route", "service_id": other}
        ]))
        .unwrap();
        assert_eq!(apply(&rules, sig(Severity::Info, &[])), Decision::Drop);
        match apply(&rules, sig(Severity::Critical, &[("env", "staging")])) {
            Decision::Keep(s) => assert_eq!(s.severity, Severity::Warning),
            d => panic!("{d:?}"),
        }
        assert!(
            matches!(apply(&rules, sig(Severity::Critical, &[("team", "db")])), Decision::Route(id, _) if id == other)
        );
        let resolve = Signal::follow_up(super::super::Action::Resolve, "k");
        assert!(matches!(apply(&rules, resolve), Decision::Keep(_)));
    }

    #[test]
    fn summary_match_is_case_insensitive() {
        let m = Match { summary_contains: Some("DISK".into()), ..Match::default() };
        assert!(m.matches(&sig(Severity::Error, &[])));
    }

    #[test]
    fn settings_validation() {
        let me = Uuid::now_v7();
        let bad = AlertSettings { group_window_seconds: -1, ..AlertSettings::default() };
        assert!(bad.validate(me).is_err());
        let loop_ = AlertSettings {
            rules: vec![Rule { when: Match::default(), then: RuleAction::Route { service_id: me } }],
            ..AlertSettings::default()
        };
        assert!(loop_.validate(me).is_err());
        assert!(serde_json::from_value::<Rule>(serde_json::json!({"action": "explode"})).is_err());
    }
}
