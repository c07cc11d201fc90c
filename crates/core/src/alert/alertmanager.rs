//! Alertmanager's webhook (version 4), Grafana's contact-point webhook (the same shape,
//! version 1, plus a few fields), and Alertmanager's own `POST /api/v2/alerts` API, which lets
//! Prometheus send to Opsdeck directly.

use super::{
    AlertLink, LABELS_MAX, RESOLVE_TIMEOUT_SECS, SUMMARY_MAX, Severity, Signal, clip, label_fingerprint, parse_time,
};
use crate::alert::Action;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Notification {
    #[serde(default)]
    version: Option<String>,
    #[serde(default, rename = "groupKey")]
    group_key: Option<String>,
    #[serde(default, rename = "externalURL")]
    external_url: Option<String>,
    #[serde(default)]
    title: Option<String>,
    alerts: Vec<WireAlert>,
}

#[derive(Deserialize)]
struct WireAlert {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default, rename = "startsAt")]
    starts_at: Option<String>,
    #[serde(default, rename = "endsAt")]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    // Grafana's extras.
    #[serde(default)]
    values: Option<Value>,
    #[serde(default, rename = "silenceURL")]
    silence_url: Option<String>,
    #[serde(default, rename = "dashboardURL")]
    dashboard_url: Option<String>,
    #[serde(default, rename = "panelURL")]
    panel_url: Option<String>,
    #[serde(default, rename = "imageURL")]
    image_url: Option<String>,
}

/// The severity a Prometheus rule put in `labels.severity`; `error` when absent or unknown
/// (PagerDuty's default).
fn severity(labels: &BTreeMap<String, String>) -> Severity {
    labels.get("severity").and_then(|s| Severity::parse_loose(s)).unwrap_or(Severity::Error)
}

fn summary(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    fallback: Option<&str>,
) -> String {
    let text = ["summary", "message", "description"]
        .iter()
        .find_map(|k| annotations.get(*k).filter(|v| !v.trim().is_empty()))
        .map(|s| s.trim().to_owned())
        .or_else(|| fallback.filter(|f| !f.trim().is_empty()).map(str::to_owned))
        .or_else(|| labels.get("alertname").cloned())
        .unwrap_or_else(|| "Alert".into());
    let text = match (labels.get("alertname"), labels.get("instance")) {
        (Some(name), Some(instance)) if !text.contains(instance.as_str()) && text != *name => {
            format!("{text} ({instance})")
        }
        _ => text,
    };
    clip(&text, SUMMARY_MAX)
}

fn link(href: &Option<String>, text: &str, out: &mut Vec<AlertLink>) {
    if let Some(h) = href.as_deref().filter(|h| h.starts_with("http://") || h.starts_with("https://")) {
        out.push(AlertLink { href: clip(h, 2048), text: text.to_owned() });
    }
}

fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), String> {
    if labels.len() > LABELS_MAX {
        return Err(format!("an alert has {} labels; at most {LABELS_MAX} are accepted", labels.len()));
    }
    Ok(())
}

fn to_signal(
    a: WireAlert,
    group_key: Option<&str>,
    fallback_summary: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Signal, String> {
    check_labels(&a.labels)?;
    let ends = a.ends_at.as_deref().and_then(parse_time);
    let resolved = a.status.as_deref() == Some("resolved") || ends.is_some_and(|e| e <= now);
    let dedup_key = a
        .fingerprint
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| clip(f, 255))
        .unwrap_or_else(|| label_fingerprint(&a.labels));
    if resolved {
        return Ok(Signal::follow_up(Action::Resolve, dedup_key));
    }
    let mut sig = Signal::trigger(dedup_key, summary(&a.labels, &a.annotations, fallback_summary), severity(&a.labels));
    sig.source = a.labels.get("instance").or_else(|| a.labels.get("job")).cloned().unwrap_or_default();
    sig.group_key = group_key.map(|g| clip(g, 1000));
    sig.started_at = a.starts_at.as_deref().and_then(parse_time);
    link(&a.generator_url, "Source", &mut sig.links);
    if let Some(rb) = a.annotations.get("runbook_url").cloned() {
        link(&Some(rb), "Runbook", &mut sig.links);
    }
    link(&a.dashboard_url, "Dashboard", &mut sig.links);
    link(&a.panel_url, "Panel", &mut sig.links);
    link(&a.silence_url, "Silence", &mut sig.links);
    link(&a.image_url, "Image", &mut sig.links);
    let mut details = serde_json::Map::new();
    if !a.annotations.is_empty() {
        details.insert("annotations".into(), serde_json::to_value(&a.annotations).unwrap_or(Value::Null));
    }
    if let Some(v) = a.values.filter(|v| !v.is_null()) {
        details.insert("values".into(), v);
    }
    sig.details = Value::Object(details);
    sig.labels = a.labels.into_iter().map(|(k, v)| (clip(&k, 255), clip(&v, 1000))).collect();
    Ok(sig)
}

/// Parses an Alertmanager (version 4) or Grafana (version 1) webhook notification into one
/// signal per alert: firing alerts trigger, resolved ones resolve.
pub fn parse_webhook(body: &[u8], now: DateTime<Utc>) -> Result<Vec<Signal>, String> {
    let n: Notification =
        serde_json::from_slice(body).map_err(|e| format!("not an Alertmanager/Grafana webhook notification: {e}"))?;
    if let Some(v) = n.version.as_deref()
        && !matches!(v, "4" | "1")
    {
        return Err(format!("unsupported webhook version {v:?}; Alertmanager sends \"4\" and Grafana \"1\""));
    }
    let fallback = n.title.as_deref();
    let _ = n.external_url;
    n.alerts.into_iter().map(|a| to_signal(a, n.group_key.as_deref(), fallback, now)).collect()
}

/// Parses `POST /api/v2/alerts`: an array of `{labels, annotations, startsAt, endsAt,
/// generatorURL}`. An alert whose `endsAt` has passed resolves; a firing alert expires at its
/// `endsAt`, or [`RESOLVE_TIMEOUT_SECS`] after now when it has none, unless sent again.
pub fn parse_api_alerts(body: &[u8], now: DateTime<Utc>) -> Result<Vec<Signal>, String> {
    let alerts: Vec<WireAlert> =
        serde_json::from_slice(body).map_err(|e| format!("expected a JSON array of alerts: {e}"))?;
    let mut out = Vec::with_capacity(alerts.len());
    for (i, mut a) in alerts.into_iter().enumerate() {
        if a.labels.is_empty() {
            return Err(format!("alert {i} has no labels; every alert needs at least one label"));
        }
        // The API has no fingerprints or groups: the label set is the identity.
        a.fingerprint = None;
        a.status = None;
        let ends = a.ends_at.as_deref().and_then(parse_time);
        let group = a.labels.get("alertname").map(|n| format!("alertname={n}"));
        let mut sig = to_signal(a, group.as_deref(), None, now)?;
        if sig.action == Action::Trigger {
            sig.expires_at = Some(ends.unwrap_or(now + Duration::seconds(RESOLVE_TIMEOUT_SECS)));
        }
        out.push(sig);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-08-20T10:05:00Z".parse().unwrap()
    }

    const AM: &str = r#"{
      "version": "4", "groupKey": "{}:{alertname=\"HighLatency\"}", "truncatedAlerts": 0, "status": "firing",
      "receiver": "ops", "groupLabels": {"alertname": "HighLatency"}, "commonLabels": {}, "commonAnnotations": {},
      "externalURL": "http://am:9093", "notification_reason": "first notification", "routeLabels": {"x": "y"},
      "alerts": [
        {"status": "firing", "labels": {"alertname": "HighLatency", "instance": "api-1", "severity": "critical"},
         "annotations": {"summary": "p99 above 2s", "runbook_url": "https://rb.example.com"},
         "startsAt": "2026-08-20T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "http://prometheus/graph", "fingerprint": "c6eadffa33fcdf37"},
        {"status": "resolved", "labels": {"alertname": "HighLatency", "instance": "api-2"},
         "annotations": {}, "startsAt": "2026-08-20T09:00:00Z", "endsAt": "2026-08-20T10:01:00Z",
         "fingerprint": "aaaaaaaaaaaaaaaa"}
      ]}"#;

    #[test]
    fn alertmanager_webhook() {
        let s = parse_webhook(AM.as_bytes(), now()).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].action, Action::Trigger);
        assert_eq!(s[0].dedup_key, "c6eadffa33fcdf37");
        assert_eq!(s[0].severity, Severity::Critical);
        assert_eq!(s[0].summary, "p99 above 2s (api-1)");
        assert_eq!(s[0].group_key.as_deref(), Some("{}:{alertname=\"HighLatency\"}"));
        assert_eq!(s[0].source, "api-1");
        assert_eq!(s[0].links.len(), 2);
        assert_eq!(s[1].action, Action::Resolve);
        assert_eq!(s[1].dedup_key, "aaaaaaaaaaaaaaaa");
    }

    #[test]
    fn grafana_webhook() {
        let body = r#"{"receiver": "x", "status": "firing", "orgId": 1, "version": "1", "title": "[FIRING:1] CPU",
          "state": "alerting", "message": "m", "groupKey": "g",
          "alerts": [{"status": "firing", "labels": {"alertname": "CPU"}, "annotations": {},
            "startsAt": "2026-08-20T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "values": {"A": 97.5},
            "fingerprint": "f1", "dashboardURL": "https://g/d", "silenceURL": "https://g/s"}]}"#;
        let s = parse_webhook(body.as_bytes(), now()).unwrap();
        assert_eq!(s[0].summary, "[FIRING:1] CPU");
        assert_eq!(s[0].severity, Severity::Error);
        assert_eq!(s[0].details["values"]["A"], 97.5);
        assert_eq!(s[0].links.len(), 2);
    }

    #[test]
    fn webhook_rejections_say_why() {
        assert!(parse_webhook(br#"{"version": "9", "alerts": []}"#, now()).unwrap_err().contains("version"));
        assert!(parse_webhook(br#"{"version": "4"}"#, now()).unwrap_err().contains("alerts"));
    }

    #[test]
    fn api_alerts_expire_and_resolve() {
        let body = r#"[
          {"labels": {"alertname": "Down", "job": "node"}, "annotations": {"summary": "node down"},
           "startsAt": "2026-08-20T10:00:00Z", "endsAt": "2026-08-20T10:09:00Z"},
          {"labels": {"alertname": "Down", "job": "db"}, "endsAt": "2026-08-20T10:04:00Z"},
          {"labels": {"alertname": "Other"}}
        ]"#;
        let s = parse_api_alerts(body.as_bytes(), now()).unwrap();
        assert_eq!(s[0].expires_at, Some("2026-08-20T10:09:00Z".parse().unwrap()));
        assert_eq!(s[0].group_key.as_deref(), Some("alertname=Down"));
        assert_eq!(s[1].action, Action::Resolve);
        assert_eq!(s[2].expires_at, Some(now() + Duration::seconds(300)));
        // The same label set is the same alert.
        let again = parse_api_alerts(body.as_bytes(), now()).unwrap();
        assert_eq!(s[0].dedup_key, again[0].dedup_key);
        assert_ne!(s[0].dedup_key, s[2].dedup_key);
        assert!(parse_api_alerts(br#"[{"labels": {}}]"#, now()).unwrap_err().contains("no labels"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = parse_webhook(&body, now());
            let _ = parse_api_alerts(&body, now());
        }

        #[test]
        fn never_panics_on_shapes(status in ".{0,10}", t in ".{0,30}", k in ".{0,20}", v in ".{0,20}") {
            let body = serde_json::json!({"version": "4", "groupKey": k, "alerts": [{"status": status,
                "labels": {k.clone(): v.clone()},
                "annotations": {"summary": v}, "startsAt": t, "endsAt": t, "fingerprint": k}]}).to_string();
            let _ = parse_webhook(body.as_bytes(), now());
            let body = serde_json::json!([{"labels": {k: v}, "endsAt": t}]).to_string();
            let _ = parse_api_alerts(body.as_bytes(), now());
        }
    }
}
