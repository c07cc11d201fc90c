//! A deploy reported by CI/CD (`POST /integrations/{key}/deploy`): recorded as a standard change
//! that already ran, closed successful or unsuccessful by its status, on the CIs it names. The
//! body is what a GitHub Actions, GitLab CI or Jenkins step can send with `curl`:
//!
//! ```json
//! {"summary": "Deploy pay-app 2.4.1", "id": "github-123456-1", "status": "success",
//!  "version": "2.4.1", "environment": "production", "cis": ["pay-app"],
//!  "started_at": "2026-12-08T10:00:00Z", "finished_at": "2026-12-08T10:04:00Z",
//!  "url": "https://github.com/acme/pay-app/actions/runs/123456", "actor": "octocat"}
//! ```
//!
//! Only `summary` is required. `id` makes a retried post record nothing new.

use super::CloseCode;
use crate::{Error, Problems, Result, time, validate};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// CIs one deploy names, at most.
pub const DEPLOY_CIS_MAX: usize = 100;
const ID_MAX: usize = 200;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    summary: String,
    id: Option<String>,
    status: Option<String>,
    version: Option<String>,
    environment: Option<String>,
    #[serde(default)]
    cis: Vec<String>,
    started_at: Option<String>,
    finished_at: Option<String>,
    url: Option<String>,
    actor: Option<String>,
}

/// A validated deploy.
#[derive(Debug, Clone, PartialEq)]
pub struct Deploy {
    pub summary: String,
    pub external_id: Option<String>,
    pub outcome: CloseCode,
    pub description: String,
    /// CI names or identities, as sent.
    pub cis: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub url: Option<String>,
}

fn short(field: &'static str, v: Option<String>, max: usize) -> Result<Option<String>> {
    match v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > max || s.chars().any(char::is_control) => {
            Err(Error::invalid(field, format!("must be at most {max} characters, without control characters")))
        }
        other => Ok(other),
    }
}

/// Parses a deploy body received at `now`; times default to `now` and may not lie ahead of it.
pub fn parse(bytes: &[u8], now: DateTime<Utc>) -> Result<Deploy> {
    let b: Body = serde_json::from_slice(bytes).map_err(|e| Error::invalid("body", format!("not a deploy: {e}")))?;
    let mut p = Problems::default();
    // A commit title may be long: the change keeps its first line's first 120 characters.
    let first = b.summary.trim().lines().next().unwrap_or("");
    let summary = p.check(validate::name("summary", &first.chars().take(validate::NAME_MAX).collect::<String>()));
    let external_id = p.check(short("id", b.id, ID_MAX)).flatten();
    let outcome = match b.status.as_deref().map(str::trim).map(str::to_ascii_lowercase).as_deref() {
        None | Some("" | "success" | "succeeded" | "successful" | "ok" | "passed") => Some(CloseCode::Successful),
        Some("failure" | "failed" | "error" | "unsuccessful") => Some(CloseCode::Unsuccessful),
        Some("cancelled" | "canceled" | "rolled_back" | "rollback" | "backed_out") => Some(CloseCode::BackedOut),
        Some(_) => {
            p.push("status", "must be success, failure or rolled_back");
            None
        }
    };
    let version = p.check(short("version", b.version, 100)).flatten();
    let environment = p.check(short("environment", b.environment, 100)).flatten();
    let actor = p.check(short("actor", b.actor, 100)).flatten();
    let url = p.check(validate::optional_url("url", b.url.as_deref().map(str::trim).filter(|u| !u.is_empty())));
    if b.cis.len() > DEPLOY_CIS_MAX {
        p.push("cis", format!("name at most {DEPLOY_CIS_MAX} CIs"));
    }
    let cis: Vec<String> = b.cis.iter().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
    if cis.iter().any(|c| c.chars().count() > validate::NAME_MAX + 80) {
        p.push("cis", "a CI name or identity is at most 200 characters");
    }
    let at = |field: &'static str, v: Option<String>, p: &mut Problems| -> Option<DateTime<Utc>> {
        match v.filter(|s| !s.trim().is_empty()) {
            None => Some(now),
            Some(s) => p.check(time::parse_rfc3339(field, &s)).map(|t| t.min(now)),
        }
    };
    let finished_at = at("finished_at", b.finished_at, &mut p);
    let started_at = at("started_at", b.started_at, &mut p);
    p.finish()?;
    let (Some(summary), Some(outcome), Some(url), Some(started_at), Some(finished_at)) =
        (summary, outcome, url, started_at, finished_at)
    else {
        return Err(Error::invalid("summary", "is invalid"));
    };
    let mut lines = Vec::new();
    for (k, v) in [("Version", version), ("Environment", environment), ("By", actor)] {
        if let Some(v) = v {
            lines.push(format!("{k}: {v}"));
        }
    }
    if let Some(u) = &url {
        lines.push(format!("Run: {u}"));
    }
    Ok(Deploy {
        summary,
        external_id,
        outcome,
        description: lines.join("\n"),
        cis,
        started_at: started_at.min(finished_at),
        finished_at,
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_github_step_body_parses_and_bad_fields_are_named() {
        let now = Utc.with_ymd_and_hms(2026, 12, 8, 10, 5, 0).unwrap();
        let body = br#"{"summary": "Deploy pay-app 2.4.1", "id": "gh-1", "status": "failure", "version": "2.4.1",
            "cis": ["pay-app", " "], "started_at": "2026-12-08T10:00:00Z",
            "url": "https://github.com/acme/pay-app/actions/runs/1"}"#;
        let d = parse(body, now).unwrap();
        assert_eq!(
            (d.outcome, d.cis.clone(), d.finished_at),
            (CloseCode::Unsuccessful, vec!["pay-app".to_owned()], now)
        );
        assert!(d.description.contains("Version: 2.4.1") && d.description.contains("Run: https://github.com"));
        let minimal = parse(br#"{"summary": "deploy"}"#, now).unwrap();
        assert_eq!((minimal.outcome, minimal.started_at), (CloseCode::Successful, now));
        let e = parse(br#"{"summary": " ", "status": "meh", "started_at": "yesterday"}"#, now).unwrap_err().to_string();
        assert!(e.contains("summary") && e.contains("status") && e.contains("started_at"), "{e}");
        assert!(parse(br#"{"summary": "x", "colour": 1}"#, now).is_err(), "unknown fields are refused");
        let future = parse(br#"{"summary": "x", "finished_at": "2027-01-01T00:00:00Z"}"#, now).unwrap();
        assert_eq!(future.finished_at, now, "a deploy does not finish in the future");
    }
}
