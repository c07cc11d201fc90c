//! Alerts: the normalised signal every ingest format is parsed into, and the rules that route
//! and group signals into incidents.
//!
//! Parsers are pure functions from request bytes to [`Signal`]s, so they can be fuzzed and
//! tested without a server; the store applies signals in batches.

pub mod alertmanager;
pub mod pagerduty;
pub mod rules;
pub mod webhook;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// The largest request body any ingest endpoint accepts (PagerDuty's limit).
pub const MAX_PAYLOAD_BYTES: usize = 512_000;
/// Summaries are cut to this many characters (PagerDuty's limit).
pub const SUMMARY_MAX: usize = 1024;
/// Dedup keys longer than this are refused (PagerDuty's limit).
pub const DEDUP_KEY_MAX: usize = 255;
/// Labels an alert may carry; more is a sender bug.
pub const LABELS_MAX: usize = 64;
/// How long an Alertmanager-API alert without `endsAt` stays firing without a refresh
/// (Alertmanager's default `resolve_timeout`).
pub const RESOLVE_TIMEOUT_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Error,
    Warning,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Critical, Severity::Error, Severity::Warning, Severity::Info];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// Exactly one of PagerDuty's four values.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The loose spellings other tools use (`labels.severity` in Prometheus rules, webhook
    /// payloads): `page`/`high`/`warn`/`low`/… Unknown words give `None`.
    pub fn parse_loose(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" | "crit" | "page" | "fatal" | "emergency" | "p1" | "sev1" | "disaster" => {
                Some(Severity::Critical)
            }
            "error" | "err" | "high" | "major" | "p2" | "sev2" => Some(Severity::Error),
            "warning" | "warn" | "medium" | "minor" | "average" | "p3" | "sev3" => Some(Severity::Warning),
            "info" | "information" | "informational" | "low" | "none" | "ok" | "p4" | "p5" | "sev4" => {
                Some(Severity::Info)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Trigger,
    Acknowledge,
    Resolve,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Trigger => "trigger",
            Action::Acknowledge => "acknowledge",
            Action::Resolve => "resolve",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<AlertStatus> {
        [AlertStatus::Firing, AlertStatus::Acknowledged, AlertStatus::Resolved].into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertLink {
    pub href: String,
    #[serde(default)]
    pub text: String,
}

/// One normalised event from any source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    pub action: Action,
    /// Identity of the alert within its integration (case-sensitive).
    pub dedup_key: String,
    /// Alerts with one group key join one incident when the service groups by key.
    pub group_key: Option<String>,
    pub summary: String,
    pub severity: Severity,
    /// Where the problem is (host, component), as the sender named it.
    pub source: String,
    pub details: serde_json::Value,
    pub links: Vec<AlertLink>,
    pub labels: BTreeMap<String, String>,
    /// When the sender says the problem began.
    pub started_at: Option<DateTime<Utc>>,
    /// When the alert resolves by itself unless refreshed (Alertmanager API semantics).
    pub expires_at: Option<DateTime<Utc>>,
}

impl Signal {
    /// A trigger with defaults for every optional field.
    pub fn trigger(dedup_key: impl Into<String>, summary: impl Into<String>, severity: Severity) -> Signal {
        Signal {
            action: Action::Trigger,
            dedup_key: dedup_key.into(),
            group_key: None,
            summary: clip(&summary.into(), SUMMARY_MAX),
            severity,
            source: String::new(),
            details: serde_json::Value::Null,
            links: Vec::new(),
            labels: BTreeMap::new(),
            started_at: None,
            expires_at: None,
        }
    }

    /// A resolve or acknowledge of `dedup_key`; the other fields are unused.
    pub fn follow_up(action: Action, dedup_key: impl Into<String>) -> Signal {
        Signal { action, ..Signal::trigger(dedup_key, "", Severity::Info) }
    }
}

/// A change (deploy, config change) reported to a service's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeSignal {
    pub summary: String,
    pub source: String,
    pub at: Option<DateTime<Utc>>,
    pub details: serde_json::Value,
    pub links: Vec<AlertLink>,
}

/// Integration types: each has its own endpoint and payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationType {
    Pagerduty,
    Alertmanager,
    Grafana,
    Webhook,
}

impl IntegrationType {
    pub const ALL: [IntegrationType; 4] =
        [IntegrationType::Pagerduty, IntegrationType::Alertmanager, IntegrationType::Grafana, IntegrationType::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationType::Pagerduty => "pagerduty",
            IntegrationType::Alertmanager => "alertmanager",
            IntegrationType::Grafana => "grafana",
            IntegrationType::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<IntegrationType> {
        IntegrationType::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            IntegrationType::Pagerduty => "PagerDuty Events API v2",
            IntegrationType::Alertmanager => "Prometheus Alertmanager",
            IntegrationType::Grafana => "Grafana alerting",
            IntegrationType::Webhook => "Generic JSON webhook",
        }
    }
}

/// A fresh integration key: 32 lowercase hex characters, the length PagerDuty senders expect.
pub fn generate_key() -> String {
    let full = crate::secret::generate("");
    full[..32].to_owned()
}

/// Cuts `s` to at most `max` characters, on a character boundary.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

/// A stable identity for a label set (sorted by name): the first 16 hex digits of its SHA-256.
pub fn label_fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update([0xff]);
        h.update(v.as_bytes());
        h.update([0xfe]);
    }
    hex::encode(&h.finalize()[..8])
}

/// Parses an RFC 3339 time; Go's zero time (`0001-01-01T00:00:00Z`) means "not set".
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    usable(DateTime::parse_from_rfc3339(s.trim()).ok()?.with_timezone(&Utc))
}

/// A sender's time counts only after 1970 and within `time`'s range; else it means "not set".
pub(crate) fn usable(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (t.timestamp() > 0).then(|| crate::time::check_utc("timestamp", t).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_32_hex() {
        let k = generate_key();
        assert_eq!(k.len(), 32);
        assert!(k.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(k, generate_key());
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("héllo", 2), "hé");
        assert_eq!(clip("ab", 5), "ab");
    }

    #[test]
    fn fingerprint_depends_on_names_and_values() {
        let a: BTreeMap<_, _> = [("a".to_string(), "bc".to_string())].into();
        let b: BTreeMap<_, _> = [("ab".to_string(), "c".to_string())].into();
        assert_ne!(label_fingerprint(&a), label_fingerprint(&b));
        assert_eq!(label_fingerprint(&a).len(), 16);
    }

    #[test]
    fn loose_severities() {
        assert_eq!(Severity::parse_loose("Warn"), Some(Severity::Warning));
        assert_eq!(Severity::parse_loose("page"), Some(Severity::Critical));
        assert_eq!(Severity::parse_loose("banana"), None);
        assert_eq!(Severity::parse("Critical"), None);
    }

    #[test]
    fn go_zero_time_is_unset() {
        assert_eq!(parse_time("0001-01-01T00:00:00Z"), None);
        assert!(parse_time("2026-08-20T10:00:00Z").is_some());
    }
}
