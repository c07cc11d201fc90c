//! Gatus's YAML configuration: its endpoints (URL scheme, interval, conditions, alert
//! thresholds) mapped into monitors. Gatus has no ids; an endpoint's source id is its key,
//! `group/name`, as Gatus itself keys it.
//!
//! Conditions Opsdeck expresses: `[STATUS]` equal to a code, `any(…)` of codes or below/above a
//! bound; `[RESPONSE_TIME] < N` (degraded beyond it, where Gatus says down); `[BODY] ==
//! pat(*text*)`; `[BODY].a.b == value`; `[CERTIFICATE_EXPIRATION] > 48h` on `tls://`; and the
//! conditions each check type holds anyway (`[CONNECTED] == true`, `[DNS_RCODE] == NOERROR`).
//! Any other condition is reported and left out.

use super::{Bundle, MonitorItem, OBJECTS_MAX, Unmapped};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
struct Config {
    #[serde(default)]
    endpoints: Vec<Endpoint>,
    #[serde(default, rename = "external-endpoints")]
    external: Vec<External>,
}

#[derive(Debug, Deserialize)]
struct Endpoint {
    name: String,
    #[serde(default)]
    group: Option<String>,
    url: String,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    conditions: Vec<String>,
    #[serde(default)]
    alerts: Vec<Alert>,
    #[serde(default)]
    dns: Option<Dns>,
    #[serde(default)]
    client: Option<Client>,
}

#[derive(Debug, Deserialize)]
struct Dns {
    #[serde(rename = "query-name")]
    query_name: String,
    #[serde(rename = "query-type", default)]
    query_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Client {
    #[serde(default)]
    insecure: Option<bool>,
    #[serde(default)]
    timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Alert {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, rename = "failure-threshold")]
    failure_threshold: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct External {
    name: String,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    heartbeat: Option<Heartbeat>,
}

#[derive(Debug, Deserialize)]
struct Heartbeat {
    #[serde(default)]
    interval: Option<String>,
}

/// Go's duration syntax (`30s`, `5m`, `1h30m`) in whole seconds.
pub fn go_duration(s: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut num = String::new();
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            rest = &rest[1..];
            continue;
        }
        let (unit, len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else {
            (
                match c {
                    'h' => 3600.0,
                    'm' => 60.0,
                    's' => 1.0,
                    _ => return None,
                },
                1,
            )
        };
        let n: f64 = num.parse().ok()?;
        num.clear();
        rest = &rest[len..];
        total = total.checked_add((n * unit).round() as i64)?;
    }
    if !num.is_empty() {
        return None;
    }
    Some(total)
}

/// A condition's value as JSON: a number or boolean when it reads as one.
fn value(v: &str) -> Value {
    let v = v.trim();
    v.parse::<i64>()
        .map(Value::from)
        .or_else(|_| v.parse::<bool>().map(Value::from))
        .unwrap_or_else(|_| Value::from(v.trim_matches('"')))
}

/// Applies one condition to HTTP settings; `false` when it cannot be expressed.
fn http_condition(c: &str, s: &mut Map<String, Value>) -> bool {
    let Some((lhs, op, rhs)) =
        ["==", "<", ">"].iter().find_map(|op| c.split_once(op).map(|(l, r)| (l.trim(), *op, r.trim())))
    else {
        return false;
    };
    match (lhs, op) {
        ("[STATUS]", "==") if rhs.starts_with("any(") => {
            let codes: Vec<String> =
                rhs.trim_start_matches("any(").trim_end_matches(')').split(',').map(|x| x.trim().to_owned()).collect();
            if codes.iter().any(|x| x.parse::<u16>().is_err()) {
                return false;
            }
            s.insert("expected_status".into(), json!(codes));
        }
        ("[STATUS]", "==") => {
            if rhs.parse::<u16>().is_err() {
                return false;
            }
            s.insert("expected_status".into(), json!([rhs]));
        }
        ("[STATUS]", "<") => match rhs.parse::<u16>() {
            Ok(n) if n > 100 => {
                s.insert("expected_status".into(), json!([format!("100-{}", n - 1)]));
            }
            _ => return false,
        },
        ("[STATUS]", ">") => match rhs.parse::<u16>() {
            Ok(n) if n < 599 => {
                s.insert("expected_status".into(), json!([format!("{}-599", n + 1)]));
            }
            _ => return false,
        },
        ("[RESPONSE_TIME]", "<") => match rhs.parse::<u32>() {
            Ok(ms) => {
                s.insert("max_response_ms".into(), json!(ms));
            }
            Err(_) => return false,
        },
        ("[BODY]", "==") if rhs.starts_with("pat(") => {
            let Some(text) = rhs.strip_prefix("pat(*").and_then(|r| r.strip_suffix("*)")) else { return false };
            if text.is_empty() || text.contains('*') {
                return false;
            }
            s.insert("body_contains".into(), json!(text));
        }
        (l, "==") if l.starts_with("[BODY].") && !rhs.contains('(') => {
            let path = &l["[BODY].".len()..];
            let Some(ptr) = super::kuma::pointer(path) else { return false };
            s.insert("json_assert".into(), json!({"pointer": ptr, "equals": value(rhs)}));
        }
        ("[CONNECTED]", "==") if rhs == "true" => {}
        _ => return false,
    }
    true
}

fn endpoint(e: &Endpoint) -> Result<(&'static str, Value, Vec<String>), String> {
    let mut dropped = Vec::new();
    let (scheme, rest) = e.url.split_once("://").unwrap_or(("", e.url.as_str()));
    let kind_settings = match scheme {
        "http" | "https" => {
            let mut s = Map::new();
            s.insert("url".into(), json!(e.url));
            s.insert("method".into(), json!(e.method.clone().unwrap_or_else(|| "GET".into()).to_uppercase()));
            if !e.headers.is_empty() {
                s.insert("headers".into(), json!(e.headers));
            }
            if let Some(b) = &e.body {
                s.insert("body".into(), json!(b));
            }
            if e.client.as_ref().and_then(|c| c.insecure) == Some(true) {
                s.insert("verify_tls".into(), json!(false));
            }
            for c in &e.conditions {
                if !http_condition(c, &mut s) {
                    dropped.push(c.clone());
                }
            }
            ("http", Value::Object(s))
        }
        "tcp" | "tls" => {
            let (host, port) = rest.rsplit_once(':').ok_or("needs host:port")?;
            let port: u16 = port.trim_end_matches('/').parse().map_err(|_| "has no valid port".to_owned())?;
            let mut warn_days = None;
            for c in &e.conditions {
                let t = c.replace(' ', "");
                if t == "[CONNECTED]==true" {
                    continue;
                }
                match t.strip_prefix("[CERTIFICATE_EXPIRATION]>").and_then(go_duration) {
                    Some(secs) if scheme == "tls" => warn_days = Some((secs / 86_400).max(1)),
                    _ => dropped.push(c.clone()),
                }
            }
            if scheme == "tls" {
                let mut s = json!({"host": host, "port": port});
                if let Some(d) = warn_days {
                    s["warn_days"] = json!(d);
                    s["critical_days"] = json!(d);
                }
                ("tls", s)
            } else {
                ("tcp", json!({"host": host, "port": port}))
            }
        }
        "icmp" => {
            dropped.extend(e.conditions.iter().filter(|c| c.replace(' ', "") != "[CONNECTED]==true").cloned());
            ("icmp", json!({"host": rest.trim_end_matches('/')}))
        }
        "" => {
            let dns = e.dns.as_ref().ok_or("has no URL scheme and no dns block")?;
            let kind = dns.query_type.clone().unwrap_or_else(|| "A".into()).to_uppercase();
            if !["A", "AAAA", "CNAME", "MX", "TXT", "NS"].contains(&kind.as_str()) {
                return Err(format!("DNS query type {kind} is not checked by Opsdeck"));
            }
            let name = dns.query_name.trim_end_matches('.');
            let mut expected = Vec::new();
            for c in &e.conditions {
                let t = c.replace(' ', "");
                if t == "[DNS_RCODE]==NOERROR" {
                    continue;
                }
                match t.strip_prefix("[BODY]==") {
                    Some(v) if !v.contains('(') => expected.push(v.to_owned()),
                    _ => dropped.push(c.clone()),
                }
            }
            ("dns", json!({"name": name, "record_type": kind, "resolver": rest, "expected": expected}))
        }
        other => return Err(format!("{other}:// endpoints are not checked by Opsdeck")),
    };
    Ok((kind_settings.0, kind_settings.1, dropped))
}

/// Maps a Gatus configuration file; a file that is not Gatus YAML is one error, not a bundle.
pub fn map(yaml: &str) -> Result<Bundle, String> {
    let cfg: Config = serde_yaml_ng::from_str(yaml).map_err(|e| format!("not a Gatus configuration: {e}"))?;
    if cfg.endpoints.len() + cfg.external.len() > OBJECTS_MAX {
        return Err(format!("more than {OBJECTS_MAX} endpoints"));
    }
    let mut b = Bundle::default();
    let key = |group: &Option<String>, name: &str| match group.as_deref().filter(|g| !g.is_empty()) {
        Some(g) => format!("{g}/{name}"),
        None => name.to_owned(),
    };
    let tags = |group: &Option<String>| -> Vec<String> {
        group.iter().filter(|g| !g.is_empty()).map(|g| super::kuma::tag("group", Some(g))).collect()
    };
    for e in &cfg.endpoints {
        let id = key(&e.group, &e.name);
        let (kind, settings, dropped) = match endpoint(e) {
            Ok(x) => x,
            Err(why) => {
                b.unmapped.push(Unmapped::new("endpoint", &id, &e.name, why));
                continue;
            }
        };
        for c in dropped {
            b.unmapped.push(Unmapped::new("condition", &id, &e.name, format!("{c:?} is not expressed; left out")));
        }
        for a in &e.alerts {
            b.unmapped.push(Unmapped::new(
                "alert",
                &id,
                &e.name,
                format!("{} alerts: Opsdeck pages through the service's escalation policy and channels", a.kind),
            ));
        }
        let interval = match e.interval.as_deref().map_or(Some(60), go_duration) {
            Some(i) => i.clamp(1, 7 * 24 * 3600),
            None => {
                let why =
                    format!("interval {:?} is not a Go duration; 60s is used", e.interval.as_deref().unwrap_or(""));
                b.unmapped.push(Unmapped::new("interval", &id, &e.name, why));
                60
            }
        };
        let timeout = e.client.as_ref().and_then(|c| c.timeout.as_deref()).and_then(go_duration);
        let down_after = e.alerts.iter().filter_map(|a| a.failure_threshold).min().unwrap_or(1).clamp(1, 20);
        b.monitors.push(MonitorItem {
            source_id: id,
            name: e.name.chars().take(100).collect(),
            kind: kind.into(),
            interval_seconds: interval,
            timeout_seconds: timeout.map(|t| t.clamp(1, 120)),
            down_after,
            tags: tags(&e.group),
            settings,
            paused: e.enabled == Some(false),
        });
    }
    for x in &cfg.external {
        let id = key(&x.group, &x.name);
        let period = x.heartbeat.as_ref().and_then(|h| h.interval.as_deref()).and_then(go_duration);
        let Some(period) = period.filter(|p| *p > 0) else {
            b.unmapped.push(Unmapped::new(
                "external endpoint",
                &id,
                &x.name,
                "has no heartbeat interval to expect pushes by",
            ));
            continue;
        };
        b.monitors.push(MonitorItem {
            source_id: id,
            name: x.name.chars().take(100).collect(),
            kind: "heartbeat".into(),
            interval_seconds: period.clamp(1, 7 * 24 * 3600),
            timeout_seconds: None,
            down_after: 1,
            tags: tags(&x.group),
            settings: json!({"schedule": {"period_seconds": period}}),
            paused: false,
        });
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_writes_them() {
        assert_eq!(go_duration("30s"), Some(30));
        assert_eq!(go_duration("1h30m"), Some(5400));
        assert_eq!(go_duration("5"), None);
        assert_eq!(go_duration("x"), None);
    }

    #[test]
    fn endpoints_become_monitors_and_what_cannot_be_said_is_reported() {
        let yaml = r#"
endpoints:
  - name: front
    group: core
    url: https://example.org/health
    interval: 30s
    conditions:
      - "[STATUS] == 200"
      - "[BODY].status == UP"
      - "[RESPONSE_TIME] < 300"
      - "len([BODY].items) > 2"
    alerts:
      - type: slack
        failure-threshold: 3
  - name: db
    url: tcp://db.internal:5432
    conditions: ["[CONNECTED] == true"]
  - name: ssh
    url: ssh://box:22
"#;
        let b = map(yaml).unwrap();
        assert_eq!(b.monitors.len(), 2);
        let front = &b.monitors[0];
        assert_eq!(front.source_id, "core/front");
        assert_eq!((front.interval_seconds, front.down_after), (30, 3));
        assert_eq!(front.settings["expected_status"], json!(["200"]));
        assert_eq!(front.settings["json_assert"], json!({"pointer": "/status", "equals": "UP"}));
        assert_eq!(front.settings["max_response_ms"], 300);
        assert_eq!(front.tags, ["group:core"]);
        let what: Vec<&str> = b.unmapped.iter().map(|u| u.what.as_str()).collect();
        assert_eq!(what, ["condition", "alert", "endpoint"]);
        assert!(map("endpoints: 7").is_err());
        let odd = map("endpoints:\n  - {name: x, url: 'https://x', conditions: ['[BODY] == pat(*)']}\n").unwrap();
        assert_eq!(odd.unmapped[0].what, "condition");
    }
}
