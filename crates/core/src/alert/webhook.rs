//! The generic JSON webhook: each integration maps fields of the sender's payload to an alert
//! with JSON pointers (RFC 6901), so any tool that can POST JSON can raise alerts.

use super::{Action, DEDUP_KEY_MAX, SUMMARY_MAX, Severity, Signal, clip, label_fingerprint};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Where each alert field is found in the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Pointer to the summary text (required in the payload).
    #[serde(default = "default_summary")]
    pub summary: String,
    /// Pointer to a severity word (`critical`, `warning`, `high`, …); `error` when absent.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// Pointer to the dedup key; when absent, the summary identifies the alert.
    #[serde(default = "default_dedup")]
    pub dedup_key: String,
    /// Pointer to a status word: `resolved`/`ok`/`closed`/`recovered` resolve,
    /// `acknowledged`/`ack` acknowledge, anything else triggers.
    #[serde(default = "default_status")]
    pub status: String,
    /// Pointer to the source (host, component).
    #[serde(default = "default_source")]
    pub source: String,
}

fn default_summary() -> String {
    "/summary".into()
}
fn default_severity() -> String {
    "/severity".into()
}
fn default_dedup() -> String {
    "/dedup_key".into()
}
fn default_status() -> String {
    "/status".into()
}
fn default_source() -> String {
    "/source".into()
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping {
            summary: default_summary(),
            severity: default_severity(),
            dedup_key: default_dedup(),
            status: default_status(),
            source: default_source(),
        }
    }
}

impl Mapping {
    /// Every pointer must be empty (unused) or start with `/`.
    pub fn validate(self) -> Result<Mapping> {
        for (field, p) in [
            ("mapping.summary", &self.summary),
            ("mapping.severity", &self.severity),
            ("mapping.dedup_key", &self.dedup_key),
            ("mapping.status", &self.status),
            ("mapping.source", &self.source),
        ] {
            if !(p.is_empty() || p.starts_with('/')) || p.len() > 200 {
                return Err(Error::invalid(field, "must be a JSON pointer such as /alert/title (or empty)"));
            }
        }
        if self.summary.is_empty() {
            return Err(Error::invalid("mapping.summary", "is required: point it at the alert's title"));
        }
        Ok(self)
    }
}

fn text_at(v: &Value, pointer: &str) -> Option<String> {
    if pointer.is_empty() {
        return None;
    }
    match v.pointer(pointer)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Maps one payload to a signal. Errors say which pointer found nothing.
pub fn parse(body: &[u8], m: &Mapping) -> std::result::Result<Signal, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    if !v.is_object() {
        return Err("the body must be a JSON object".into());
    }
    let summary = text_at(&v, &m.summary)
        .ok_or_else(|| format!("no summary at {:?}; send it there or change the integration's mapping", m.summary))?;
    let status = text_at(&v, &m.status).map(|s| s.to_ascii_lowercase());
    let action = match status.as_deref() {
        Some("resolved" | "resolve" | "ok" | "closed" | "recovered" | "up") => Action::Resolve,
        Some("acknowledged" | "acknowledge" | "ack") => Action::Acknowledge,
        _ => Action::Trigger,
    };
    let dedup_key = match text_at(&v, &m.dedup_key) {
        Some(k) if k.chars().count() > DEDUP_KEY_MAX => {
            return Err(format!("the dedup key at {:?} is longer than {DEDUP_KEY_MAX} characters", m.dedup_key));
        }
        Some(k) => k,
        None => label_fingerprint(&BTreeMap::from([("summary".to_string(), summary.clone())])),
    };
    let severity = text_at(&v, &m.severity).and_then(|s| Severity::parse_loose(&s)).unwrap_or(Severity::Error);
    let mut sig = Signal::trigger(dedup_key, clip(&summary, SUMMARY_MAX), severity);
    sig.action = action;
    sig.source = text_at(&v, &m.source).map(|s| clip(&s, 255)).unwrap_or_default();
    sig.details = v;
    Ok(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_pointers() {
        let m = Mapping {
            summary: "/alert/title".into(),
            severity: "/alert/level".into(),
            dedup_key: "/alert/id".into(),
            status: "/state".into(),
            source: "/host".into(),
        }
        .validate()
        .unwrap();
        let s = parse(
            br#"{"alert": {"title": "Queue backed up", "level": "HIGH", "id": 42}, "state": "open", "host": "mq1"}"#,
            &m,
        )
        .unwrap();
        assert_eq!((s.summary.as_str(), s.severity, s.dedup_key.as_str()), ("Queue backed up", Severity::Error, "42"));
        assert_eq!((s.action, s.source.as_str()), (Action::Trigger, "mq1"));
        let r = parse(br#"{"alert": {"title": "Queue backed up", "id": 42}, "state": "RESOLVED"}"#, &m).unwrap();
        assert_eq!(r.action, Action::Resolve);
    }

    #[test]
    fn missing_summary_says_where() {
        let e = parse(br#"{"title": "x"}"#, &Mapping::default()).unwrap_err();
        assert!(e.contains("/summary"), "{e}");
        assert!(Mapping { summary: "title".into(), ..Mapping::default() }.validate().is_err());
    }

    #[test]
    fn key_defaults_to_summary() {
        let a = parse(br#"{"summary": "disk full"}"#, &Mapping::default()).unwrap();
        let b = parse(br#"{"summary": "disk full", "other": 1}"#, &Mapping::default()).unwrap();
        assert_eq!(a.dedup_key, b.dedup_key);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            p in "(/[a-z~0-9]{0,4}){0,3}") {
            let m = Mapping { summary: p.clone(), severity: p.clone(), dedup_key: p.clone(), status: p.clone(),
                source: p };
            let _ = parse(&body, &m);
        }
    }
}
