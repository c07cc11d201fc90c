//! Probe agents and check locations: where a monitor runs, and how the results of several
//! locations become one verdict ("down when K of N locations agree").

use crate::monitor::{CheckOutcome, CheckStatus};
use crate::{Error, Problems, Result, validate};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The location that names the Opsdeck nodes themselves.
pub const SERVER: &str = "server";
/// Locations one monitor may run from.
pub const LOCATIONS_MAX: usize = 16;
/// A location name's length limit.
pub const LOCATION_MAX: usize = 40;
/// Prefix of agent tokens (API tokens start with `opsd_`).
pub const TOKEN_PREFIX: &str = "opsa_";
/// Results one upload may carry.
pub const BATCH_MAX: usize = 5_000;
/// A result's reason is cut to this many characters.
pub const REASON_MAX: usize = 500;
/// How old a result may be and still be accepted (a buffer replayed after a long outage); older
/// ones are counted as dropped. Per-location results are kept as long.
pub const RESULT_MAX_AGE_HOURS: i64 = 24;
/// An agent is online when it reported within this long.
pub const ONLINE_WITHIN_SECONDS: i64 = 60;

/// A location name: lowercase letters, digits and single dashes ("eu-west", "office-2").
pub fn location(field: &'static str, value: &str) -> Result<String> {
    let v = validate::slug(field, value)?;
    if v.len() > LOCATION_MAX {
        return Err(Error::invalid(field, format!("must be at most {LOCATION_MAX} characters")));
    }
    Ok(v)
}

/// The locations a monitor runs from: unique, at most [`LOCATIONS_MAX`], `server` for the
/// nodes. An empty list means the nodes only, and so does `["server"]`, which is stored empty.
pub fn locations(field: &'static str, values: &[String]) -> Result<Vec<String>> {
    if values.len() > LOCATIONS_MAX {
        return Err(Error::invalid(field, format!("must list at most {LOCATIONS_MAX} locations")));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        let l = location(field, v)?;
        if out.contains(&l) {
            return Err(Error::invalid(field, format!("lists {l:?} twice")));
        }
        out.push(l);
    }
    if out == [SERVER] {
        out.clear();
    }
    Ok(out)
}

/// A monitor's locations as people read them: the stored list, or `server` alone.
pub fn effective(locations: &[String]) -> Vec<String> {
    if locations.is_empty() { vec![SERVER.to_owned()] } else { locations.to_vec() }
}

/// Checks a quorum against the locations: 1 to the number of locations.
pub fn quorum(field: &'static str, quorum: i64, locations: &[String]) -> Result<i32> {
    let n = effective(locations).len() as i64;
    if quorum < 1 || quorum > n {
        let hint = if n == 1 { "1 (the monitor runs from one location)".to_owned() } else { format!("1 to {n}") };
        return Err(Error::invalid(field, format!("must be {hint}")));
    }
    Ok(quorum as i32)
}

/// A probe agent's registration, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentSpec {
    pub name: String,
    pub location: String,
}

impl AgentSpec {
    pub fn new(name: &str, location_name: &str) -> Result<Self> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", name));
        let location_name = p.check(location("location", location_name).and_then(|l| {
            if l == SERVER {
                Err(Error::invalid("location", "\"server\" names the Opsdeck nodes; choose another name"))
            } else {
                Ok(l)
            }
        }));
        p.finish()?;
        match (name, location_name) {
            (Some(name), Some(location)) => Ok(AgentSpec { name, location }),
            _ => Err(Error::invalid("name", "is required")),
        }
    }
}

/// One location's newest result, as the verdict reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationVote {
    pub location: String,
    pub at: DateTime<Utc>,
    pub status: CheckStatus,
    pub latency_ms: Option<f64>,
    pub reason: String,
}

/// How long a location's newest result counts for a monitor: two intervals and the timeout,
/// and at least 30 s (an agent uploads about once a second, and retries).
pub fn fresh_for(interval_seconds: i32, timeout_seconds: i32) -> Duration {
    let s = i64::from(interval_seconds.max(1)).saturating_mul(2).saturating_add(i64::from(timeout_seconds.max(0)));
    Duration::seconds(s.clamp(30, 8 * 24 * 3600))
}

/// The monitor's verdict from its locations' newest results (of `locations` it runs from;
/// those older than `fresh_from` do not vote): down when at least `quorum` locations fail, else
/// degraded when a voter is degraded, else up (failures below the quorum are named in the
/// reason). When fewer locations than the quorum are fresh, the quorum is the fresh ones: an
/// agent that went silent must not hide an outage the others see. With no fresh voter at all
/// the verdict is unknown, so a monitor nobody checks does not stay green.
pub fn verdict(votes: &[LocationVote], quorum: i32, locations: usize, fresh_from: DateTime<Utc>) -> CheckOutcome {
    let fresh: Vec<&LocationVote> = votes.iter().filter(|v| v.at >= fresh_from).collect();
    if fresh.is_empty() {
        return CheckOutcome {
            status: CheckStatus::Unknown,
            latency_ms: None,
            reason: "no location reported a result recently".into(),
            details: serde_json::Value::Null,
        };
    }
    let n = fresh.len();
    let stale = locations.saturating_sub(n);
    let quorum = (quorum.max(1) as usize).min(n);
    let failing: Vec<&&LocationVote> = fresh.iter().filter(|v| !v.status.is_ok()).collect();
    let latencies: Vec<f64> = fresh.iter().filter_map(|v| v.latency_ms).collect();
    let latency_ms = (!latencies.is_empty()).then(|| latencies.iter().sum::<f64>() / latencies.len() as f64);
    let describe = |vs: &[&&LocationVote]| {
        vs.iter().map(|v| format!("{}: {}", v.location, v.reason)).collect::<Vec<_>>().join("; ")
    };
    let silent = match stale {
        0 => String::new(),
        1 => "; 1 location silent".to_owned(),
        k => format!("; {k} locations silent"),
    };
    let (status, reason) = if failing.len() >= quorum {
        (CheckStatus::Down, format!("down from {} of {n} locations ({}){silent}", failing.len(), describe(&failing)))
    } else if !failing.is_empty() {
        // Below the quorum the target counts as reachable: the failing locations have a network
        // problem of their own, shown per location, not an outage.
        let reason = format!(
            "up; failing from {} of {n} locations, below the quorum of {quorum} ({}){silent}",
            failing.len(),
            describe(&failing)
        );
        (CheckStatus::Up, reason)
    } else if fresh.iter().any(|v| v.status == CheckStatus::Degraded) {
        (CheckStatus::Degraded, format!("degraded from some of {n} locations{silent}"))
    } else {
        (CheckStatus::Up, format!("up from {n} of {n} locations{silent}"))
    };
    let details = serde_json::json!({
        "locations": fresh.iter().map(|v| serde_json::json!({
            "location": v.location, "status": v.status.as_str(), "latency_ms": v.latency_ms,
        })).collect::<Vec<_>>(),
    });
    CheckOutcome { status, latency_ms, reason, details }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckStatus::*;

    fn vote(location: &str, status: CheckStatus, age_s: i64, now: DateTime<Utc>) -> LocationVote {
        LocationVote {
            location: location.into(),
            at: now - Duration::seconds(age_s),
            status,
            latency_ms: Some(10.0),
            reason: format!("{location} said {}", status.as_str()),
        }
    }

    #[test]
    fn quorum_decides_down() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let from = now - Duration::seconds(60);
        let votes = [vote("eu", Down, 1, now), vote("us", Up, 1, now), vote("server", Up, 2, now)];
        assert_eq!(verdict(&votes, 1, 3, from).status, Down);
        let two = verdict(&votes, 2, 3, from);
        assert_eq!(two.status, Up, "one failing location below the quorum is not an outage");
        assert!(two.reason.contains("eu: eu said down"), "{}", two.reason);
        let votes = [vote("eu", Down, 1, now), vote("us", Unknown, 1, now), vote("server", Up, 2, now)];
        assert_eq!(verdict(&votes, 2, 3, from).status, Down);
        // Stale votes do not count: the failing one is old, so all fresh voters pass.
        let votes = [vote("eu", Down, 120, now), vote("us", Up, 1, now)];
        assert_eq!(verdict(&votes, 1, 2, from).status, Up);
        // A silent location does not hide an outage: the fresh ones are the quorum.
        let votes = [vote("eu", Down, 1, now), vote("us", Up, 120, now)];
        let silent = verdict(&votes, 2, 2, from);
        assert_eq!(silent.status, Down);
        assert!(silent.reason.ends_with("; 1 location silent"), "{}", silent.reason);
        assert_eq!(verdict(&[vote("eu", Up, 120, now)], 1, 1, from).status, Unknown);
        assert_eq!(verdict(&[], 1, 1, from).status, Unknown);
    }

    #[test]
    fn locations_and_quorum_are_checked() {
        assert_eq!(locations("locations", &["server".into()]).unwrap_or_default(), Vec::<String>::new());
        assert!(locations("locations", &["eu".into(), "eu".into()]).is_err());
        assert!(locations("locations", &["EU West".into()]).is_err());
        let many: Vec<String> = (0..17).map(|i| format!("l{i}")).collect();
        assert!(locations("locations", &many).is_err());
        assert_eq!(quorum("quorum", 1, &[]).ok(), Some(1));
        assert!(quorum("quorum", 2, &[]).is_err());
        assert_eq!(quorum("quorum", 2, &["eu".into(), "us".into()]).ok(), Some(2));
        assert!(quorum("quorum", 0, &["eu".into()]).is_err());
        assert!(AgentSpec::new("probe", "server").is_err());
        assert!(AgentSpec::new("", "eu").is_err());
        assert_eq!(AgentSpec::new(" probe ", "eu").map(|a| a.name).ok().as_deref(), Some("probe"));
        assert_eq!(fresh_for(1, 1), Duration::seconds(30));
        assert_eq!(fresh_for(60, 10), Duration::seconds(130));
    }
}
