//! PagerDuty Events API v2 (`/v2/enqueue` and `/v2/change/enqueue`), validated the way
//! PagerDuty validates it, so existing senders (Alertmanager's `pagerduty_configs`, agents,
//! scripts) work unchanged and get the same 400 bodies.

use super::{AlertLink, ChangeSignal, DEDUP_KEY_MAX, SUMMARY_MAX, Severity, Signal, clip, parse_time};
use crate::alert::Action;
use serde_json::{Map, Value};

/// The length PagerDuty requires of a routing key.
pub const ROUTING_KEY_LEN: usize = 32;

/// A valid event: its routing key and what it asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub routing_key: String,
    pub signal: Signal,
    /// True when the sender gave no dedup key and one was generated.
    pub generated_key: bool,
}

/// Why an event is invalid: PagerDuty's `errors[]`.
pub type Errors = Vec<String>;

fn object(body: &[u8]) -> Result<Map<String, Value>, Errors> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(vec!["Event must be a JSON object".into()]),
        Err(e) => Err(vec![format!("Invalid JSON: {e}")]),
    }
}

fn string_field<'a>(m: &'a Map<String, Value>, name: &str, errors: &mut Errors) -> Option<&'a str> {
    match m.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            errors.push(format!("'{name}' must be a string"));
            None
        }
    }
}

fn routing_key(m: &Map<String, Value>, errors: &mut Errors) -> String {
    match string_field(m, "routing_key", errors) {
        None => {
            errors.push("'routing_key' is missing or blank".into());
            String::new()
        }
        Some(k) if k.chars().count() != ROUTING_KEY_LEN => {
            errors.push(format!("Length of 'routing_key' is incorrect (should be {ROUTING_KEY_LEN} characters)"));
            String::new()
        }
        Some(k) => k.to_owned(),
    }
}

fn links(m: &Map<String, Value>, errors: &mut Errors) -> Vec<AlertLink> {
    let mut out = Vec::new();
    match m.get("links") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items.iter().take(20) {
                match item.get("href").and_then(Value::as_str) {
                    Some(href) => out.push(AlertLink {
                        href: clip(href, 2048),
                        text: item.get("text").and_then(Value::as_str).map(|t| clip(t, 200)).unwrap_or_default(),
                    }),
                    None => errors.push("each of 'links' needs an 'href' string".into()),
                }
            }
        }
        Some(_) => errors.push("'links' must be an array".into()),
    }
    out
}

/// Parses and validates one `/v2/enqueue` body. `new_key` supplies a dedup key when the
/// sender gave none (PagerDuty generates one and returns it).
pub fn parse_event(body: &[u8], new_key: impl FnOnce() -> String) -> Result<Event, Errors> {
    let m = object(body)?;
    let mut errors = Errors::new();
    let routing_key = routing_key(&m, &mut errors);
    let action = match string_field(&m, "event_action", &mut errors) {
        Some("trigger") => Some(Action::Trigger),
        Some("acknowledge") => Some(Action::Acknowledge),
        Some("resolve") => Some(Action::Resolve),
        Some(other) => {
            errors.push(format!("'event_action' is invalid ({other:?}); use trigger, acknowledge or resolve"));
            None
        }
        None => {
            errors.push("'event_action' is missing or blank".into());
            None
        }
    };
    let dedup = string_field(&m, "dedup_key", &mut errors).filter(|k| !k.is_empty()).map(str::to_owned);
    if let Some(k) = &dedup
        && k.chars().count() > DEDUP_KEY_MAX
    {
        errors.push(format!("'dedup_key' must be at most {DEDUP_KEY_MAX} characters"));
    }
    if matches!(action, Some(Action::Acknowledge | Action::Resolve)) && dedup.is_none() {
        errors.push("'dedup_key' is required for acknowledge and resolve events".into());
    }
    let links = links(&m, &mut errors);
    let mut signal = None;
    if let Some(action) = action {
        if action == Action::Trigger {
            signal = trigger_payload(&m, &mut errors);
        } else {
            signal = Some(Signal::follow_up(action, String::new()));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let Some(mut signal) = signal else { return Err(vec!["Event object is invalid".into()]) };
    let generated_key = dedup.is_none();
    signal.dedup_key = dedup.unwrap_or_else(new_key);
    signal.links = links;
    if let Some(url) = m.get("client_url").and_then(Value::as_str)
        && !url.is_empty()
    {
        let text = m.get("client").and_then(Value::as_str).unwrap_or("Sender").to_owned();
        signal.links.push(AlertLink { href: clip(url, 2048), text: clip(&text, 200) });
    }
    if let Some(images) = m.get("images").filter(|v| v.is_array())
        && let Value::Object(d) = &mut signal.details
    {
        d.insert("images".into(), images.clone());
    }
    Ok(Event { routing_key, signal, generated_key })
}

fn trigger_payload(m: &Map<String, Value>, errors: &mut Errors) -> Option<Signal> {
    let Some(Value::Object(p)) = m.get("payload") else {
        errors.push("'payload' is missing or is not an object; trigger events need one".into());
        return None;
    };
    let summary = string_field(p, "summary", errors).map(str::trim).filter(|s| !s.is_empty());
    if summary.is_none() {
        errors.push("'payload.summary' is missing or blank".into());
    }
    let source = string_field(p, "source", errors).map(str::trim).filter(|s| !s.is_empty());
    if source.is_none() {
        errors.push("'payload.source' is missing or blank".into());
    }
    let severity = match string_field(p, "severity", errors) {
        Some(s) => Severity::parse(s).or_else(|| {
            errors.push(format!("'payload.severity' is invalid ({s:?}); use critical, error, warning or info"));
            None
        }),
        None => {
            errors.push("'payload.severity' is missing or blank".into());
            None
        }
    };
    let started_at = match string_field(p, "timestamp", errors) {
        Some(t) => match parse_pd_time(t) {
            Some(t) => Some(t),
            None => {
                errors.push(format!("'payload.timestamp' is not an ISO 8601 time ({t:?})"));
                None
            }
        },
        None => None,
    };
    let (summary, source, severity) = (summary?, source?, severity?);
    let mut sig = Signal::trigger(String::new(), clip(summary, SUMMARY_MAX), severity);
    sig.source = clip(source, 255);
    sig.started_at = started_at;
    let mut details = Map::new();
    for field in ["component", "group", "class"] {
        if let Some(v) = p.get(field).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            sig.labels.insert(field.to_owned(), clip(v, 255));
        }
    }
    if let Some(cd) = p.get("custom_details").filter(|v| !v.is_null()) {
        details.insert("custom_details".into(), cd.clone());
    }
    if let Some(client) = m.get("client").and_then(Value::as_str) {
        details.insert("client".into(), Value::String(clip(client, 255)));
    }
    sig.group_key = sig.labels.get("group").cloned();
    sig.details = Value::Object(details);
    Some(sig)
}

/// PagerDuty accepts ISO 8601 with or without a colon in the offset
/// (`2015-07-17T08:42:58.315+0000`).
fn parse_pd_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    parse_time(s).or_else(|| {
        chrono::DateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f%z")
            .ok()
            .and_then(|t| super::usable(t.with_timezone(&chrono::Utc)))
    })
}

/// Parses a `/v2/change/enqueue` body: `{routing_key, payload: {summary, source?, timestamp?,
/// custom_details?}, links?}`.
pub fn parse_change(body: &[u8]) -> Result<(String, ChangeSignal), Errors> {
    let m = object(body)?;
    let mut errors = Errors::new();
    let routing_key = routing_key(&m, &mut errors);
    let links = links(&m, &mut errors);
    let Some(Value::Object(p)) = m.get("payload") else {
        errors.push("'payload' is missing or is not an object".into());
        return Err(errors);
    };
    let summary = string_field(p, "summary", &mut errors).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    if summary.is_none() {
        errors.push("'payload.summary' is missing or blank".into());
    }
    let at = match string_field(p, "timestamp", &mut errors) {
        Some(t) => {
            let parsed = parse_pd_time(t);
            if parsed.is_none() {
                errors.push(format!("'payload.timestamp' is not an ISO 8601 time ({t:?})"));
            }
            parsed
        }
        None => None,
    };
    let source = string_field(p, "source", &mut errors).unwrap_or("").to_owned();
    if !errors.is_empty() {
        return Err(errors);
    }
    let details = p.get("custom_details").cloned().unwrap_or(Value::Null);
    let summary = clip(&summary.unwrap_or_default(), SUMMARY_MAX);
    Ok((routing_key, ChangeSignal { summary, source: clip(&source, 255), at, details, links }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn parse(v: serde_json::Value) -> Result<Event, Errors> {
        parse_event(v.to_string().as_bytes(), || "generated".into())
    }

    #[test]
    fn full_trigger() {
        let e = parse(serde_json::json!({
            "routing_key": KEY, "event_action": "trigger", "dedup_key": "srv01/mysql",
            "payload": {"summary": "DISK at 99%", "source": "db1", "severity": "critical",
                        "timestamp": "2015-07-17T08:42:58.315+0000", "component": "mysql", "group": "prod",
                        "custom_details": {"free": "1%"}},
            "client": "Mon", "client_url": "https://mon.example.com",
            "links": [{"href": "https://x.example.com", "text": "x"}], "images": [{"src": "https://i"}],
            "unknown_field": 1
        }))
        .unwrap();
        assert_eq!(e.routing_key, KEY);
        assert!(!e.generated_key);
        let s = e.signal;
        assert_eq!((s.action, s.dedup_key.as_str(), s.severity), (Action::Trigger, "srv01/mysql", Severity::Critical));
        assert_eq!(s.group_key.as_deref(), Some("prod"));
        assert_eq!(s.labels["component"], "mysql");
        assert_eq!(s.links.len(), 2);
        assert_eq!(s.details["custom_details"]["free"], "1%");
        assert!(s.details["images"].is_array());
        assert_eq!(s.started_at.unwrap().timestamp(), 1_437_122_578);
    }

    #[test]
    fn generated_key_when_absent() {
        let e = parse(serde_json::json!({"routing_key": KEY, "event_action": "trigger",
            "payload": {"summary": "s", "source": "h", "severity": "info"}}))
        .unwrap();
        assert!(e.generated_key);
        assert_eq!(e.signal.dedup_key, "generated");
    }

    #[test]
    fn errors_are_listed() {
        let errs = parse(
            serde_json::json!({"routing_key": "short", "event_action": "trigger", "payload": {"severity": "bad"}}),
        )
        .unwrap_err();
        assert!(errs.iter().any(|e| e.contains("Length of 'routing_key' is incorrect")), "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("payload.summary")));
        assert!(errs.iter().any(|e| e.contains("payload.source")));
        assert!(errs.iter().any(|e| e.contains("payload.severity")));
        let errs = parse(serde_json::json!({"routing_key": KEY, "event_action": "resolve"})).unwrap_err();
        assert_eq!(errs, vec!["'dedup_key' is required for acknowledge and resolve events".to_string()]);
        let errs = parse(serde_json::json!({"routing_key": KEY, "event_action": "explode"})).unwrap_err();
        assert!(errs[0].contains("event_action"));
        assert!(parse_event(b"[1]", String::new).is_err());
        assert!(parse_event(b"{not json", String::new).is_err());
    }

    #[test]
    fn resolve_without_payload() {
        let e = parse(serde_json::json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "k"})).unwrap();
        assert_eq!((e.signal.action, e.signal.dedup_key.as_str()), (Action::Resolve, "k"));
    }

    #[test]
    fn change_events() {
        let (k, c) = parse_change(
            serde_json::json!({"routing_key": KEY, "payload": {"summary": "Deployed v2",
                "timestamp": "2026-01-01T00:00:00Z"}})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!((k.as_str(), c.summary.as_str()), (KEY, "Deployed v2"));
        assert!(parse_change(br#"{"routing_key": "x"}"#).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = parse_event(&body, String::new);
            let _ = parse_change(&body);
        }

        #[test]
        fn never_panics_on_json_shapes(summary in ".{0,40}", sev in ".{0,10}", key in ".{0,40}",
            action in "(trigger|resolve|acknowledge|x)") {
            let v = serde_json::json!({"routing_key": key, "event_action": action, "dedup_key": key,
                "payload": {"summary": summary, "source": summary, "severity": sev, "timestamp": summary}});
            let _ = parse(v);
        }
    }
}
