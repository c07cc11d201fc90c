//! Uptime Kuma's database (`kuma.db`): its monitors, tags, groups and one-off maintenance, read
//! by the store into these rows and mapped here into a [`Bundle`].
//!
//! Kuma's groups are monitors of type `group`; Opsdeck has no group monitor, so a group becomes a
//! tag (`group:<name>`) on its members. Push monitors become heartbeat monitors with a new ping
//! URL. Types Opsdeck does not check (databases, Docker, MQTT, game servers, …) and inverted
//! ("upside down") monitors are reported, not guessed.

use super::{Bundle, MonitorItem, PageComponentItem, PageItem, Unmapped, WindowItem};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// One row of Kuma's `monitor` table (columns of both 1.23 and 2.x; absent ones are `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KumaMonitor {
    pub id: i64,
    pub name: String,
    pub active: bool,
    pub kind: String,
    pub interval: i64,
    pub url: Option<String>,
    pub hostname: Option<String>,
    pub port: Option<i64>,
    pub keyword: Option<String>,
    pub invert_keyword: bool,
    pub maxretries: i64,
    pub ignore_tls: bool,
    pub upside_down: bool,
    pub maxredirects: i64,
    pub accepted_statuscodes_json: Option<String>,
    pub dns_resolve_type: Option<String>,
    pub dns_resolve_server: Option<String>,
    pub method: Option<String>,
    pub body: Option<String>,
    pub headers: Option<String>,
    pub basic_auth_user: Option<String>,
    pub basic_auth_pass: Option<String>,
    pub auth_method: Option<String>,
    pub parent: Option<i64>,
    pub timeout: Option<f64>,
    pub json_path: Option<String>,
    pub expected_value: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KumaTag {
    pub monitor_id: i64,
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KumaMaintenance {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub active: bool,
    pub strategy: String,
    /// Kuma's `YYYY-MM-DD HH:MM:SS`, in the server's zone (taken as UTC).
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub monitors: Vec<i64>,
}

/// A status page with its groups of monitors, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KumaPage {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub description: String,
    /// (group name, monitor ids).
    pub groups: Vec<(String, Vec<i64>)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct KumaDump {
    pub monitors: Vec<KumaMonitor>,
    pub tags: Vec<KumaTag>,
    pub maintenance: Vec<KumaMaintenance>,
    pub status_pages: Vec<KumaPage>,
}

/// A tag as Opsdeck spells it: lowercase letters, digits and `-_.:/`, at most 40 characters.
pub(crate) fn tag(name: &str, value: Option<&str>) -> String {
    let raw = match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => format!("{name}:{v}"),
        None => name.to_owned(),
    };
    raw.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_ascii_alphanumeric() || "-_.:/".contains(c) { c } else { '-' })
        .take(crate::validate::TAG_MAX)
        .collect()
}

fn http_settings(m: &KumaMonitor) -> Result<Map<String, Value>, String> {
    let url = m.url.clone().filter(|u| !u.trim().is_empty()).ok_or("has no URL")?;
    let mut s = Map::new();
    s.insert("url".into(), json!(url));
    s.insert("method".into(), json!(m.method.clone().unwrap_or_else(|| "GET".into()).to_uppercase()));
    if let Some(h) = m.headers.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
        let headers: BTreeMap<String, Value> =
            serde_json::from_str(h).map_err(|_| "its headers are not a JSON object".to_owned())?;
        let headers: BTreeMap<String, String> = headers
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
            .collect();
        s.insert("headers".into(), json!(headers));
    }
    if let Some(b) = m.body.as_deref().filter(|b| !b.trim().is_empty()) {
        s.insert("body".into(), json!(b));
    }
    let codes: Vec<String> = match m.accepted_statuscodes_json.as_deref() {
        Some(j) => serde_json::from_str(j).map_err(|_| "accepted_statuscodes_json is not a JSON list".to_owned())?,
        None => vec!["200-299".into()],
    };
    s.insert("expected_status".into(), json!(codes));
    s.insert("follow_redirects".into(), json!(m.maxredirects > 0));
    s.insert("verify_tls".into(), json!(!m.ignore_tls));
    if let Some(user) = m.basic_auth_user.as_deref().filter(|u| !u.is_empty()) {
        if m.auth_method.as_deref().is_some_and(|a| !a.is_empty() && a != "basic") {
            return Err(format!("{} authentication is not supported", m.auth_method.as_deref().unwrap_or("")));
        }
        let password = m.basic_auth_pass.clone().unwrap_or_default();
        s.insert("auth".into(), json!({"type": "basic", "username": user, "password": password}));
    }
    Ok(s)
}

/// A simple JSON path (`$.a.b`, `a.b[0]`) as a JSON pointer; Kuma's JSONata beyond that is not
/// translated.
pub(crate) fn pointer(path: &str) -> Option<String> {
    let p = path.trim().trim_start_matches('$').trim_start_matches('.');
    let mut out = String::new();
    for part in p.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, Some(rest.strip_suffix(']')?)),
            None => (part, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            return None;
        }
        out.push('/');
        out.push_str(name);
        if let Some(i) = index {
            i.parse::<u32>().ok()?;
            out.push('/');
            out.push_str(i);
        }
    }
    Some(out)
}

fn settings(m: &KumaMonitor) -> Result<(&'static str, Value), String> {
    let host = || m.hostname.clone().filter(|h| !h.trim().is_empty()).ok_or_else(|| "has no hostname".to_owned());
    Ok(match m.kind.as_str() {
        "http" => ("http", Value::Object(http_settings(m)?)),
        "keyword" => {
            if m.invert_keyword {
                return Err("inverted keyword checks (\"must not contain\") are not supported".into());
            }
            let mut s = http_settings(m)?;
            s.insert("body_contains".into(), json!(m.keyword.clone().unwrap_or_default()));
            ("http", Value::Object(s))
        }
        "json-query" => {
            let path = m.json_path.as_deref().unwrap_or("");
            let ptr = pointer(path).ok_or_else(|| format!("JSON query {path:?} is more than a simple path"))?;
            let mut s = http_settings(m)?;
            s.insert(
                "json_assert".into(),
                json!({"pointer": ptr, "equals": m.expected_value.clone().unwrap_or_default()}),
            );
            ("http", Value::Object(s))
        }
        "port" => {
            let port = m.port.filter(|p| (1..=65535).contains(p)).ok_or("has no port 1-65535")?;
            ("tcp", json!({"host": host()?, "port": port}))
        }
        "ping" => ("icmp", json!({"host": host()?})),
        "dns" => {
            let kind = m.dns_resolve_type.clone().unwrap_or_else(|| "A".into()).to_uppercase();
            if !["A", "AAAA", "CNAME", "MX", "TXT", "NS"].contains(&kind.as_str()) {
                return Err(format!("DNS record type {kind} is not checked by Opsdeck"));
            }
            let mut s = json!({"name": host()?, "record_type": kind});
            if let Some(r) = m.dns_resolve_server.as_deref().filter(|r| !r.trim().is_empty()) {
                s["resolver"] = json!(r.trim());
            }
            ("dns", s)
        }
        "push" => ("heartbeat", json!({"schedule": {"period_seconds": m.interval.max(1)}})),
        other => return Err(format!("monitors of type {other:?} are not checked by Opsdeck")),
    })
}

fn kuma_time(s: &str) -> Option<DateTime<Utc>> {
    let t = NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M"))
        .ok()?;
    crate::time::check_utc("start_date", t.and_utc()).ok()
}

/// Maps a Kuma database; `now` drops maintenance that has ended.
pub fn map(dump: &KumaDump, now: DateTime<Utc>) -> Bundle {
    let mut b = Bundle::default();
    let groups: BTreeMap<i64, &str> =
        dump.monitors.iter().filter(|m| m.kind == "group").map(|m| (m.id, m.name.as_str())).collect();
    for m in &dump.monitors {
        if m.kind == "group" {
            continue;
        }
        let id = m.id.to_string();
        if m.upside_down {
            b.unmapped.push(Unmapped::new(
                "monitor",
                &id,
                &m.name,
                "upside-down mode (up when it fails) is not supported",
            ));
            continue;
        }
        let (kind, settings) = match settings(m) {
            Ok(s) => s,
            Err(why) => {
                b.unmapped.push(Unmapped::new("monitor", &id, &m.name, why));
                continue;
            }
        };
        let mut tags: Vec<String> =
            dump.tags.iter().filter(|t| t.monitor_id == m.id).map(|t| tag(&t.name, t.value.as_deref())).collect();
        // Nested groups: every ancestor becomes a tag (bounded: a cycle stops at the depth).
        let mut parent = m.parent;
        for _ in 0..8 {
            let Some(g) = parent.and_then(|p| groups.get(&p)) else { break };
            tags.push(tag("group", Some(g)));
            parent = dump.monitors.iter().find(|x| Some(x.id) == parent).and_then(|x| x.parent);
        }
        tags.sort();
        tags.dedup();
        tags.truncate(crate::validate::TAGS_MAX);
        let timeout = m.timeout.filter(|t| *t >= 1.0).map(|t| (t.round() as i64).min(120));
        b.monitors.push(MonitorItem {
            source_id: id,
            name: m.name.chars().take(100).collect(),
            kind: kind.into(),
            interval_seconds: m.interval.clamp(1, 7 * 24 * 3600),
            timeout_seconds: if kind == "heartbeat" { None } else { timeout },
            down_after: (m.maxretries + 1).clamp(1, 20),
            tags,
            settings,
            paused: !m.active,
        });
    }
    for w in &dump.maintenance {
        let id = w.id.to_string();
        if w.strategy != "single" {
            let why = format!(
                "{} maintenance (recurring or manual) is not carried over; recreate it with an RRULE",
                w.strategy
            );
            b.unmapped.push(Unmapped::new("maintenance", &id, &w.title, why));
            continue;
        }
        let (Some(start), Some(end)) =
            (w.start_date.as_deref().and_then(kuma_time), w.end_date.as_deref().and_then(kuma_time))
        else {
            b.unmapped.push(Unmapped::new("maintenance", &id, &w.title, "has no readable start and end date"));
            continue;
        };
        if end <= now || !w.active || end <= start {
            continue;
        }
        b.windows.push(WindowItem {
            source_id: id,
            name: w.title.chars().take(100).collect(),
            description: w.description.clone(),
            start,
            duration_minutes: (end - start).num_minutes().max(1),
            rrule: None,
            timezone: "UTC".into(),
            services: vec![],
            monitors: w.monitors.iter().map(i64::to_string).collect(),
        });
    }
    let mapped: std::collections::HashSet<&str> = b.monitors.iter().map(|m| m.source_id.as_str()).collect();
    let by_id: BTreeMap<i64, &KumaMonitor> = dump.monitors.iter().map(|m| (m.id, m)).collect();
    for p in &dump.status_pages {
        let mut components = Vec::new();
        for (group, ids) in &p.groups {
            for id in ids {
                let Some(m) = by_id.get(id) else { continue };
                if !mapped.contains(id.to_string().as_str()) {
                    let why = format!("its monitor {:?} was not imported", m.name);
                    b.unmapped.push(Unmapped::new("status page component", p.id.to_string(), &p.slug, why));
                    continue;
                }
                let group = Some(group.clone()).filter(|g| !g.trim().is_empty());
                components.push(PageComponentItem { name: m.name.clone(), group, monitors: vec![id.to_string()] });
            }
        }
        b.pages.push(PageItem {
            source_id: p.id.to_string(),
            slug: p.slug.clone(),
            title: p.title.clone(),
            description: p.description.clone(),
            components,
        });
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(id: i64, name: &str) -> KumaMonitor {
        KumaMonitor {
            id,
            name: name.into(),
            active: true,
            kind: "http".into(),
            interval: 60,
            url: Some("https://example.com/health".into()),
            maxretries: 2,
            maxredirects: 10,
            accepted_statuscodes_json: Some(r#"["200-299","301"]"#.into()),
            method: Some("get".into()),
            ..KumaMonitor::default()
        }
    }

    #[test]
    fn groups_become_tags_and_unsupported_types_are_reported() {
        let dump = KumaDump {
            monitors: vec![
                KumaMonitor { id: 1, name: "Prod".into(), kind: "group".into(), ..KumaMonitor::default() },
                KumaMonitor { parent: Some(1), ..http(2, "Web") },
                KumaMonitor { kind: "docker".into(), ..http(3, "Container") },
                KumaMonitor { kind: "keyword".into(), keyword: Some("OK".into()), ..http(4, "Keyword") },
            ],
            tags: vec![KumaTag { monitor_id: 2, name: "Team A".into(), value: Some("web".into()) }],
            ..KumaDump::default()
        };
        let b = map(&dump, Utc::now());
        assert_eq!(b.monitors.len(), 2);
        let web = &b.monitors[0];
        assert_eq!(web.tags, ["group:prod", "team-a:web"]);
        assert_eq!(web.down_after, 3);
        assert_eq!(web.settings["method"], "GET");
        assert_eq!(web.settings["expected_status"], json!(["200-299", "301"]));
        assert_eq!(b.monitors[1].settings["body_contains"], "OK");
        assert_eq!(b.unmapped.len(), 1);
        assert_eq!(b.unmapped[0].source_id, "3");
    }

    #[test]
    fn simple_json_paths_become_pointers() {
        assert_eq!(pointer("$.status.db").as_deref(), Some("/status/db"));
        assert_eq!(pointer("items[2].ok").as_deref(), Some("/items/2/ok"));
        assert_eq!(pointer("$count($.x)"), None);
    }
}
