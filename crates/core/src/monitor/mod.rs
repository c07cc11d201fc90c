//! Monitors: what to check, how often, and how results become states.

mod health;
mod heartbeat;
mod histogram;
mod perfdata;
mod secrets;
mod settings;

pub use health::{CheckStatus, Health, MonitorState, Transition};
pub use heartbeat::{HeartbeatSchedule, heartbeat_deadline};
pub use histogram::{BUCKET_BOUNDS_MS, LatencyHistogram};
pub use perfdata::{PerfDatum, parse_perfdata};
pub use settings::*;

use crate::{Error, Problems, Result, validate};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorType {
    Http,
    Tcp,
    Dns,
    Icmp,
    Tls,
    Heartbeat,
    Command,
}

impl MonitorType {
    /// Whether its checks measure a latency (a heartbeat only notes that a ping came).
    pub fn records_latency(self) -> bool {
        !matches!(self, MonitorType::Heartbeat)
    }

    pub const ALL: [MonitorType; 7] = [
        MonitorType::Http,
        MonitorType::Tcp,
        MonitorType::Dns,
        MonitorType::Icmp,
        MonitorType::Tls,
        MonitorType::Heartbeat,
        MonitorType::Command,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MonitorType::Http => "http",
            MonitorType::Tcp => "tcp",
            MonitorType::Dns => "dns",
            MonitorType::Icmp => "icmp",
            MonitorType::Tls => "tls",
            MonitorType::Heartbeat => "heartbeat",
            MonitorType::Command => "command",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MonitorType::Http => "HTTP(S)",
            MonitorType::Tcp => "TCP port",
            MonitorType::Dns => "DNS",
            MonitorType::Icmp => "Ping (ICMP)",
            MonitorType::Tls => "TLS certificate",
            MonitorType::Heartbeat => "Heartbeat (push)",
            MonitorType::Command => "Nagios plugin",
        }
    }
}

impl fmt::Display for MonitorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MonitorType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        MonitorType::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| {
            Error::invalid(
                "type",
                format!("unknown monitor type {s:?}; use http, tcp, dns, icmp, tls, heartbeat or command"),
            )
        })
    }
}

pub const INTERVAL_MIN_SECONDS: i32 = 1;
pub const INTERVAL_MAX_SECONDS: i32 = 7 * 24 * 3600;
pub const TIMEOUT_MAX_SECONDS: i32 = 120;
pub const STREAK_MAX: i32 = 20;

/// Everything that defines a monitor, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorSpec {
    pub name: String,
    pub service_id: Option<Uuid>,
    pub kind: MonitorType,
    pub interval_seconds: i32,
    pub timeout_seconds: i32,
    /// Consecutive failures before the monitor is down.
    pub down_after: i32,
    /// Consecutive successes before a down monitor is up again.
    pub up_after: i32,
    pub tags: Vec<String>,
    pub settings: Settings,
    /// Where it runs from (`agent::SERVER` for the nodes); empty means the nodes only.
    pub locations: Vec<String>,
    /// How many locations must fail for the monitor to fail.
    pub quorum: i32,
}

/// Unvalidated monitor fields as a client sends them.
#[derive(Debug, Clone, Default)]
pub struct MonitorInput {
    pub name: Option<String>,
    pub service_id: Option<Option<Uuid>>,
    pub kind: Option<String>,
    pub interval_seconds: Option<i64>,
    pub timeout_seconds: Option<i64>,
    pub down_after: Option<i64>,
    pub up_after: Option<i64>,
    pub tags: Option<Vec<String>>,
    pub settings: Option<serde_json::Value>,
    pub locations: Option<Vec<String>>,
    pub quorum: Option<i64>,
}

fn ranged(field: &'static str, v: i64, min: i64, max: i64, what: &str) -> Result<i32> {
    if v < min || v > max {
        return Err(Error::invalid(field, format!("must be {min} to {max} {what}")));
    }
    Ok(v as i32)
}

impl MonitorSpec {
    pub fn create(input: MonitorInput) -> Result<Self> {
        let mut target = Problems::default();
        let kind = match input.kind.as_deref() {
            Some(k) => target.check(k.parse::<MonitorType>()),
            None => {
                target.push("type", "is required");
                None
            }
        };
        let settings = match (kind, input.settings.clone()) {
            (Some(kind), Some(v)) => target.check(Settings::parse(kind, v)),
            (_, None) => {
                target.push("settings", "is required");
                None
            }
            (None, Some(_)) => None,
        };
        let timeout_given = input.timeout_seconds.is_some();
        let common = MonitorInput { settings: None, kind: None, ..input };
        let (Some(kind), Some(settings)) = (kind, settings) else {
            // The type or its settings are wrong: still check the other fields against a
            // stand-in target, so every problem is reported at once (name first, as in the
            // form). The stand-in never escapes: `target` holds at least one problem.
            let mut p = Problems::default();
            let stand_in = Self::with(MonitorType::Icmp, Settings::Icmp(IcmpSettings { host: "localhost".into() }));
            p.check(stand_in.apply(common));
            p.check(target.finish());
            p.finish()?;
            return Err(Error::invalid("settings", "is required"));
        };
        let mut spec = Self::with(kind, settings).apply(common)?;
        if !timeout_given {
            spec.timeout_seconds = spec.timeout_seconds.min(spec.interval_seconds.max(1));
        }
        Ok(spec)
    }

    /// A new monitor's defaults around its target.
    fn with(kind: MonitorType, settings: Settings) -> Self {
        MonitorSpec {
            name: String::new(),
            service_id: None,
            kind,
            interval_seconds: 60,
            timeout_seconds: 10,
            down_after: 1,
            up_after: 1,
            tags: Vec::new(),
            settings,
            locations: Vec::new(),
            quorum: 1,
        }
    }

    /// The spec with its secrets masked, for readers and the audit log.
    pub fn redacted(&self) -> MonitorSpec {
        MonitorSpec { settings: self.settings.redacted(), ..self.clone() }
    }

    /// Applies a partial update; changing the type requires new settings. Every wrong field is
    /// reported at once.
    pub fn apply(mut self, input: MonitorInput) -> Result<Self> {
        let mut p = Problems::default();
        if let Some(name) = input.name {
            p.set(&mut self.name, validate::name("name", &name));
        }
        if let Some(s) = input.service_id {
            self.service_id = s;
        }
        let mut kind_ok = true;
        if let Some(kind) = input.kind {
            match kind.parse::<MonitorType>() {
                Ok(kind) if kind != self.kind && input.settings.is_none() => {
                    p.push("settings", "changing the type needs the new type's settings");
                    kind_ok = false;
                }
                Ok(kind) => self.kind = kind,
                Err(e) => {
                    p.check::<()>(Err(e));
                    kind_ok = false;
                }
            }
        }
        if let Some(settings) = input.settings.filter(|_| kind_ok)
            && let Some(mut settings) = p.check(Settings::parse(self.kind, settings))
            && p.check(settings.keep_secrets(&self.settings)).is_some()
        {
            self.settings = settings;
        }
        let (min, max) = (INTERVAL_MIN_SECONDS.into(), INTERVAL_MAX_SECONDS.into());
        if let Some(v) = input.interval_seconds {
            p.set(&mut self.interval_seconds, ranged("interval_seconds", v, min, max, "seconds"));
        }
        if let Some(v) = input.timeout_seconds {
            p.set(&mut self.timeout_seconds, ranged("timeout_seconds", v, 1, TIMEOUT_MAX_SECONDS.into(), "seconds"));
        }
        if let Some(v) = input.down_after {
            p.set(&mut self.down_after, ranged("down_after", v, 1, STREAK_MAX.into(), "consecutive failures"));
        }
        if let Some(v) = input.up_after {
            p.set(&mut self.up_after, ranged("up_after", v, 1, STREAK_MAX.into(), "consecutive successes"));
        }
        if let Some(tags) = input.tags {
            p.set(&mut self.tags, validate::tags("tags", &tags));
        }
        if let Some(l) = input.locations {
            p.set(&mut self.locations, crate::agent::locations("locations", &l));
        }
        if let Some(q) = input.quorum {
            p.set(&mut self.quorum, crate::agent::quorum("quorum", q, &self.locations));
        } else {
            // Fewer locations than the quorum: the quorum follows (all must agree).
            self.quorum = self.quorum.clamp(1, crate::agent::effective(&self.locations).len() as i32);
        }
        if self.kind == MonitorType::Heartbeat && !self.locations.is_empty() {
            p.push("locations", "a heartbeat monitor is judged from pings on the server; it has no locations");
        }
        if self.name.is_empty() {
            p.push("name", "is required");
        }
        p.finish()?;
        Ok(self)
    }
}

/// A monitor as stored, with its live health.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Monitor {
    pub id: Uuid,
    #[serde(flatten)]
    pub spec: MonitorSpec,
    pub paused: bool,
    pub health: Health,
    /// Secret for heartbeat monitors' ping URL.
    pub ping_token: Option<String>,
    pub next_run_at: DateTime<Utc>,
    pub last_check_at: Option<DateTime<Utc>>,
    pub last_ping_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One check's outcome, as a probe reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckOutcome {
    pub status: CheckStatus,
    /// Time to the answer, when there was one.
    pub latency_ms: Option<f64>,
    /// Why the check passed or failed, in words (e.g. "HTTP 503, expected 200-299").
    pub reason: String,
    /// Probe-specific facts: status code, certificate expiry, performance data…
    pub details: serde_json::Value,
}

impl CheckOutcome {
    pub fn up(latency_ms: f64, reason: impl Into<String>) -> Self {
        CheckOutcome {
            status: CheckStatus::Up,
            latency_ms: Some(latency_ms),
            reason: reason.into(),
            details: serde_json::Value::Null,
        }
    }

    pub fn down(latency_ms: Option<f64>, reason: impl Into<String>) -> Self {
        CheckOutcome { status: CheckStatus::Down, latency_ms, reason: reason.into(), details: serde_json::Value::Null }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// First run of a new monitor: spread over one interval by the id, so that many monitors
/// created (or restarted) together do not all run in the same second.
pub fn first_run(id: Uuid, now: DateTime<Utc>, interval_seconds: i32) -> DateTime<Utc> {
    let spread_ms = i64::from(interval_seconds.max(1)) * 1000;
    let h = id.as_u128();
    let offset = ((h ^ (h >> 64)) as u64 % spread_ms as u64) as i64;
    now + Duration::milliseconds(offset.min(spread_ms - 1))
}

/// The next run after a check that was due at `due`: keeps the cadence (no drift from check
/// duration) and skips missed slots after downtime instead of running them all at once.
pub fn next_run(due: DateTime<Utc>, now: DateTime<Utc>, interval_seconds: i32) -> DateTime<Utc> {
    let step = Duration::seconds(i64::from(interval_seconds.max(1)));
    let mut next = due + step;
    if next <= now {
        // i64 milliseconds, checked: a monitor due long ago (a restored backup) must not wrap.
        let step_ms = step.num_milliseconds();
        let behind = (now - next).num_milliseconds() / step_ms + 1;
        next = behind
            .checked_mul(step_ms)
            .and_then(Duration::try_milliseconds)
            .and_then(|d| next.checked_add_signed(d))
            .unwrap_or(now + step);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(kind: &str, settings: serde_json::Value) -> MonitorInput {
        MonitorInput { name: Some("m".into()), kind: Some(kind.into()), settings: Some(settings), ..Default::default() }
    }

    #[test]
    fn creates_with_defaults_and_rejects_bad_fields() {
        let m = MonitorSpec::create(input("http", json!({"url": "https://example.com/health"}))).unwrap();
        assert_eq!(m.interval_seconds, 60);
        assert_eq!(m.timeout_seconds, 10);
        let short = MonitorSpec::create(MonitorInput {
            interval_seconds: Some(5),
            ..input("tcp", json!({"host": "db", "port": 5432}))
        })
        .unwrap();
        assert_eq!(short.timeout_seconds, 5, "timeout defaults to at most the interval");
        let e = MonitorSpec::create(input("smtp", json!({}))).unwrap_err();
        assert!(matches!(e, Error::Invalid { field: "type", .. }));
        let e = MonitorSpec::create(MonitorInput {
            interval_seconds: Some(0),
            ..input("http", json!({"url": "https://x.io"}))
        })
        .unwrap_err();
        assert!(matches!(e, Error::Invalid { field: "interval_seconds", .. }));
        let e = MonitorSpec::create(input("http", json!({"url": "not a url"}))).unwrap_err();
        assert!(matches!(e, Error::Invalid { field: "settings.url", .. }), "{e}");
    }

    #[test]
    fn scheduling_keeps_cadence_and_skips_missed_slots() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(next_run(t, t + Duration::seconds(2), 30), t + Duration::seconds(30));
        // Down for 95 s: the next run is the next slot in the future, not a burst of catch-ups.
        assert_eq!(next_run(t, t + Duration::seconds(95), 30), t + Duration::seconds(120));
        let id = Uuid::now_v7();
        let f = first_run(id, t, 30);
        assert!(f >= t && f < t + Duration::seconds(30));
    }
}
