//! Per-type monitor settings and their rules.

use super::MonitorType;
use super::heartbeat::HeartbeatSchedule;
use crate::{Error, Problems, Result, validate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[allow(clippy::large_enum_variant, reason = "one per monitor, parsed once; boxing buys nothing")]
pub enum Settings {
    Http(HttpSettings),
    Tcp(TcpSettings),
    Dns(DnsSettings),
    Icmp(IcmpSettings),
    Tls(TlsSettings),
    Heartbeat(HeartbeatSettings),
    Command(CommandSettings),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Accepted status codes: single codes ("204") or ranges ("200-299").
    #[serde(default = "default_statuses")]
    pub expected_status: Vec<String>,
    /// The body must contain this text.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// The body must match this regular expression.
    #[serde(default)]
    pub body_regex: Option<String>,
    /// A JSON field that must have a value: `{"pointer": "/status", "equals": "ok"}`.
    #[serde(default)]
    pub json_assert: Option<JsonAssert>,
    /// Slower answers count as degraded.
    #[serde(default)]
    pub max_response_ms: Option<u32>,
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    #[serde(default = "yes")]
    pub verify_tls: bool,
    /// Open a new connection for every check, so its time includes DNS, connect and the TLS
    /// handshake (as Prometheus' blackbox exporter and most monitors measure). Off by default:
    /// checks reuse a kept-alive connection and time the request and answer only, at a
    /// fraction of the CPU.
    #[serde(default)]
    pub fresh_connection: bool,
    #[serde(default)]
    pub auth: Option<HttpAuth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonAssert {
    /// RFC 6901 JSON pointer, e.g. `/checks/db/status`.
    pub pointer: String,
    pub equals: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum HttpAuth {
    Basic { username: String, password: String },
    Bearer { token: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpSettings {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsRecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Ns,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSettings {
    /// The name to resolve.
    pub name: String,
    #[serde(default = "default_record")]
    pub record_type: DnsRecordType,
    /// Every one of these must be among the answers (e.g. an IP address); empty: any answer.
    #[serde(default)]
    pub expected: Vec<String>,
    /// A resolver as `IP` or `IP:PORT`; default: the system's resolvers.
    #[serde(default)]
    pub resolver: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcmpSettings {
    pub host: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub host: String,
    #[serde(default = "default_tls_port")]
    pub port: u16,
    /// The name to ask for (SNI) and to match; default: `host`.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Degraded when the certificate expires within this many days.
    #[serde(default = "default_warn_days")]
    pub warn_days: u32,
    /// Down when the certificate expires within this many days.
    #[serde(default = "default_critical_days")]
    pub critical_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatSettings {
    pub schedule: HeartbeatSchedule,
    /// Extra time allowed after a ping is due.
    #[serde(default = "default_grace")]
    pub grace_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSettings {
    /// Absolute path of a Nagios-compatible plugin, run without a shell.
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
}

fn default_method() -> String {
    "GET".into()
}
fn default_statuses() -> Vec<String> {
    vec!["200-299".into()]
}
fn yes() -> bool {
    true
}
fn default_record() -> DnsRecordType {
    DnsRecordType::A
}
fn default_tls_port() -> u16 {
    443
}
fn default_warn_days() -> u32 {
    21
}
fn default_critical_days() -> u32 {
    7
}
fn default_grace() -> u32 {
    60
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// A host name or IP address: no scheme, path, spaces or port.
fn host(field: &'static str, v: &str) -> Result<()> {
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']'))
        && !v.contains("://");
    if ok { Ok(()) } else { Err(Error::invalid(field, "must be a host name or IP address (no scheme or path)")) }
}

/// Parses "200", "200-299" into inclusive ranges.
pub fn status_ranges(specs: &[String]) -> Result<Vec<(u16, u16)>> {
    if specs.is_empty() {
        return Err(Error::invalid("settings.expected_status", "list at least one status code or range"));
    }
    specs
        .iter()
        .map(|s| {
            let bad = || {
                Error::invalid("settings.expected_status", format!("{s:?} is not a status code or range like 200-299"))
            };
            let (a, b) = match s.trim().split_once('-') {
                Some((a, b)) => {
                    (a.trim().parse::<u16>().map_err(|_| bad())?, b.trim().parse::<u16>().map_err(|_| bad())?)
                }
                None => {
                    let c = s.trim().parse::<u16>().map_err(|_| bad())?;
                    (c, c)
                }
            };
            if !(100..=599).contains(&a) || !(100..=599).contains(&b) || a > b {
                return Err(bad());
            }
            Ok((a, b))
        })
        .collect()
}

impl Settings {
    pub fn kind(&self) -> MonitorType {
        match self {
            Settings::Http(_) => MonitorType::Http,
            Settings::Tcp(_) => MonitorType::Tcp,
            Settings::Dns(_) => MonitorType::Dns,
            Settings::Icmp(_) => MonitorType::Icmp,
            Settings::Tls(_) => MonitorType::Tls,
            Settings::Heartbeat(_) => MonitorType::Heartbeat,
            Settings::Command(_) => MonitorType::Command,
        }
    }

    /// Reads and validates the settings object for `kind`.
    pub fn parse(kind: MonitorType, value: serde_json::Value) -> Result<Settings> {
        fn de<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T> {
            serde_json::from_value(v).map_err(|e| Error::invalid("settings", e.to_string()))
        }
        if !value.is_object() {
            return Err(Error::invalid("settings", "must be an object"));
        }
        let s = match kind {
            MonitorType::Http => Settings::Http(de(value)?),
            MonitorType::Tcp => Settings::Tcp(de(value)?),
            MonitorType::Dns => Settings::Dns(de(value)?),
            MonitorType::Icmp => Settings::Icmp(de(value)?),
            MonitorType::Tls => Settings::Tls(de(value)?),
            MonitorType::Heartbeat => Settings::Heartbeat(de(value)?),
            MonitorType::Command => Settings::Command(de(value)?),
        };
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<()> {
        match self {
            Settings::Http(h) => {
                let mut p = Problems::default();
                p.check(validate::url("settings.url", &h.url));
                if !METHODS.contains(&h.method.as_str()) {
                    p.push("settings.method", format!("use one of {}", METHODS.join(", ")));
                }
                p.check(status_ranges(&h.expected_status));
                if let Some(r) = &h.body_regex
                    && let Err(e) = regex::Regex::new(r)
                {
                    p.push("settings.body_regex", format!("does not compile: {e}"));
                }
                if let Some(j) = &h.json_assert
                    && !(j.pointer.is_empty() || j.pointer.starts_with('/'))
                {
                    p.push("settings.json_assert.pointer", "must be a JSON pointer such as /status");
                }
                for (k, v) in &h.headers {
                    let token = !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
                    if !token || v.chars().any(|c| c == '\r' || c == '\n') {
                        p.push("settings.headers", format!("header {k:?} is not a valid header"));
                    }
                }
                if h.max_response_ms == Some(0) {
                    p.push("settings.max_response_ms", "must be above 0");
                }
                p.finish()?;
            }
            Settings::Tcp(t) => {
                let mut p = Problems::default();
                p.check(host("settings.host", &t.host));
                if t.port == 0 {
                    p.push("settings.port", "must be 1 to 65535");
                }
                p.finish()?;
            }
            Settings::Dns(d) => {
                host("settings.name", d.name.trim_end_matches('.'))?;
                if let Some(r) = &d.resolver
                    && r.parse::<std::net::SocketAddr>().is_err()
                    && r.parse::<std::net::IpAddr>().is_err()
                {
                    return Err(Error::invalid("settings.resolver", "must be an IP address, optionally with :port"));
                }
            }
            Settings::Icmp(i) => host("settings.host", &i.host)?,
            Settings::Tls(t) => {
                let mut p = Problems::default();
                p.check(host("settings.host", &t.host));
                if t.port == 0 {
                    p.push("settings.port", "must be 1 to 65535");
                }
                if t.critical_days > t.warn_days {
                    p.push("settings.critical_days", "must not exceed warn_days");
                }
                p.finish()?;
            }
            Settings::Heartbeat(h) => h.schedule.validate()?,
            Settings::Command(c) => {
                if !c.command.starts_with('/') || c.command.contains("..") {
                    return Err(Error::invalid("settings.command", "must be an absolute path to an executable"));
                }
                if c.args.len() > 64 || c.args.iter().any(|a| a.len() > 1024 || a.contains('\0')) {
                    return Err(Error::invalid("settings.args", "at most 64 arguments of 1024 characters"));
                }
            }
        }
        Ok(())
    }

    /// The JSON object clients send and receive (without the internal type tag).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("type");
            // Unset optional fields read better absent than null.
            o.retain(|_, v| !v.is_null());
        }
        v
    }

    /// A short human description of the target, for lists (credentials in a URL hidden).
    pub fn target(&self) -> String {
        match self {
            Settings::Http(h) => format!("{} {}", h.method, crate::secret::redact_url_credentials(&h.url)),
            Settings::Tcp(t) => format!("{}:{}", t.host, t.port),
            Settings::Dns(d) => format!("{:?} {}", d.record_type, d.name),
            Settings::Icmp(i) => i.host.clone(),
            Settings::Tls(t) => format!("{}:{}", t.host, t.port),
            Settings::Heartbeat(h) => h.schedule.describe(),
            Settings::Command(c) => std::iter::once(c.command.as_str())
                .chain(c.args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(kind: MonitorType, v: serde_json::Value) -> &'static str {
        match Settings::parse(kind, v) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn http_rules() {
        let ok = Settings::parse(
            MonitorType::Http,
            json!({"url": "http://127.0.0.1:8080/health", "expected_status": ["200", "300-399"]}),
        );
        assert!(ok.is_ok(), "{ok:?}");
        assert_eq!(
            field_of(MonitorType::Http, json!({"url": "http://x.io", "body_regex": "("})),
            "settings.body_regex"
        );
        assert_eq!(
            field_of(MonitorType::Http, json!({"url": "http://x.io", "expected_status": ["2xx"]})),
            "settings.expected_status"
        );
        assert_eq!(field_of(MonitorType::Http, json!({"url": "http://x.io", "method": "FETCH"})), "settings.method");
        assert_eq!(field_of(MonitorType::Http, json!({"url": "http://x.io", "colour": 1})), "settings");
        assert_eq!(field_of(MonitorType::Http, json!({})), "settings");
        assert_eq!(status_ranges(&["200-299".into(), "304".into()]).unwrap(), vec![(200, 299), (304, 304)]);
    }

    #[test]
    fn other_rules() {
        assert_eq!(field_of(MonitorType::Tcp, json!({"host": "http://db", "port": 5432})), "settings.host");
        assert_eq!(field_of(MonitorType::Tcp, json!({"host": "db", "port": 0})), "settings.port");
        assert_eq!(
            field_of(MonitorType::Tls, json!({"host": "x.io", "warn_days": 3, "critical_days": 9})),
            "settings.critical_days"
        );
        assert_eq!(field_of(MonitorType::Dns, json!({"name": "x.io", "resolver": "dns.google"})), "settings.resolver");
        assert_eq!(field_of(MonitorType::Command, json!({"command": "check_http"})), "settings.command");
        assert_eq!(
            field_of(MonitorType::Heartbeat, json!({"schedule": {"cron": "0 0 30 2 *", "timezone": "UTC"}})),
            "settings.schedule.cron"
        );
        let s = Settings::parse(MonitorType::Tls, json!({"host": "example.com"})).unwrap();
        assert_eq!(s.to_json()["port"], 443);
        assert!(s.to_json().get("type").is_none());
    }
}
