//! Reading another tool's REST API for an import: JSON pages behind a token, rate limits
//! (429 with `Retry-After`) waited out, bounded in bodies, pages and objects. Outbound
//! requests follow the egress policy like every other (see `egress.rs`); redirects are not
//! followed (a token must not be sent to wherever a redirect points).
//!
//! Errors name the host at most, never the path, query or token.

use crate::egress::{EgressConfig, EgressPolicy, FilteringResolver};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use opsdeck_core::import::{EQUIVALENCE_DAYS, OBJECTS_MAX};
use opsdeck_core::import::{grafana_oncall, opsgenie, pagerduty::Documents};
use serde_json::Value;
use std::sync::Arc;

/// The largest page body read.
const BODY_MAX: usize = 16 * 1024 * 1024;
/// Rate-limit answers waited out per request, and the longest wait honoured.
const RETRIES_MAX: u32 = 5;
const WAIT_MAX_SECS: u64 = 30;
const PAGE: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Unreadable(String),
}

pub struct VendorApi {
    http: reqwest::Client,
    base: reqwest::Url,
    host: String,
    auth: String,
    /// What the source is called in errors (`PagerDuty`).
    label: &'static str,
}

impl VendorApi {
    /// A client for `base` (its path is kept as a prefix) sending `auth` as `Authorization`.
    pub fn new(label: &'static str, base: &str, auth: String, egress: &EgressConfig) -> Result<Self, FetchError> {
        let base = reqwest::Url::parse(base.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| FetchError::Refused("api_url must be an http(s) URL".into()))?;
        let host = base.host_str().unwrap_or_default().to_owned();
        let policy = Arc::new(EgressPolicy::new(egress));
        policy.check_url(base.as_str()).map_err(FetchError::Refused)?;
        let http = reqwest::Client::builder()
            .dns_resolver(FilteringResolver(policy))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(60))
            .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION"), " (importer)"))
            .build()
            .map_err(|e| FetchError::Unreachable(format!("HTTP client: {e}")))?;
        Ok(VendorApi { http, base, host, auth, label })
    }

    fn url(&self, path: &str) -> reqwest::Url {
        let mut u = self.base.clone();
        let prefix = u.path().trim_end_matches('/').to_owned();
        u.set_path(&format!("{prefix}/{}", path.trim_start_matches('/')));
        u
    }

    /// One JSON document; rate limits are waited out, other failures say what the source said.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, FetchError> {
        let mut url = self.url(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.fetch(url).await
    }

    async fn fetch(&self, url: reqwest::Url) -> Result<Value, FetchError> {
        let mut tries = 0;
        loop {
            let resp = self
                .http
                .get(url.clone())
                .header("Authorization", &self.auth)
                .header("Accept", "application/vnd.pagerduty+json;version=2, application/json")
                .send()
                .await
                .map_err(|e| {
                    let why = if e.is_timeout() { "timed out" } else { "cannot be reached" };
                    FetchError::Unreachable(format!("{} at {} {why}", self.label, self.host))
                })?;
            let status = resp.status().as_u16();
            if status == 429 && tries < RETRIES_MAX {
                tries += 1;
                let wait = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(1)
                    .min(WAIT_MAX_SECS);
                tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
                continue;
            }
            let body = read_capped(resp)
                .await
                .map_err(|why| FetchError::Unreadable(format!("{} at {}: {why}", self.label, self.host)))?;
            return match status {
                200..=299 => serde_json::from_slice(&body).map_err(|e| {
                    FetchError::Unreadable(format!(
                        "{} at {} answered something that is not JSON: {e}",
                        self.label, self.host
                    ))
                }),
                401 | 403 => Err(FetchError::Refused(format!(
                    "{} at {} refused the token ({status}); check it and its permissions",
                    self.label, self.host
                ))),
                429 => Err(FetchError::Unreachable(format!(
                    "{} at {} kept answering 429 (rate limited); try again later",
                    self.label, self.host
                ))),
                _ => Err(FetchError::Unreachable(format!(
                    "{} at {} answered {status}{}",
                    self.label,
                    self.host,
                    message(&body)
                ))),
            };
        }
    }

    /// Every object of a classic-paginated list (`limit`, `offset`, `more`) under `key`.
    pub async fn offset_list(&self, path: &str, key: &str, extra: &[(&str, String)]) -> Result<Vec<Value>, FetchError> {
        let mut out: Vec<Value> = Vec::new();
        loop {
            let mut q: Vec<(&str, String)> = extra.to_vec();
            q.push(("limit", PAGE.to_string()));
            q.push(("offset", out.len().to_string()));
            let page = self.get(path, &q).await?;
            let items = page.get(key).and_then(Value::as_array).ok_or_else(|| {
                FetchError::Unreadable(format!("{} at {}: a {path} page has no {key:?} list", self.label, self.host))
            })?;
            let n = items.len();
            out.extend(items.iter().cloned());
            if out.len() > OBJECTS_MAX {
                return Err(FetchError::Refused(format!("{} has more than {OBJECTS_MAX} {key}", self.label)));
            }
            if n == 0 || !page.get("more").and_then(Value::as_bool).unwrap_or(false) {
                return Ok(out);
            }
        }
    }

    /// Every object of a list under `results`, following `next` (Grafana OnCall) only while it
    /// points at the same server: the token goes nowhere else.
    pub async fn cursor_list(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<Value>, FetchError> {
        let mut url = self.url(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut out: Vec<Value> = Vec::new();
        for _ in 0..=(OBJECTS_MAX / 10) {
            let page = self.fetch(url.clone()).await?;
            let items = page.get("results").and_then(Value::as_array).ok_or_else(|| {
                FetchError::Unreadable(format!(
                    "{} at {}: a {path} page has no \"results\" list",
                    self.label, self.host
                ))
            })?;
            if items.is_empty() {
                return Ok(out);
            }
            out.extend(items.iter().cloned());
            if out.len() > OBJECTS_MAX {
                return Err(FetchError::Refused(format!("{} has more than {OBJECTS_MAX} in {path}", self.label)));
            }
            let next = match page.get("next") {
                None | Some(Value::Null) => return Ok(out),
                Some(n) => n.as_str().and_then(|n| reqwest::Url::parse(n).ok()).ok_or_else(|| {
                    FetchError::Unreadable(format!(
                        "{} at {}: a {path} page's next is not a URL",
                        self.label, self.host
                    ))
                })?,
            };
            if next == url {
                return Err(FetchError::Unreadable(format!("{} at {}: {path} pages in a loop", self.label, self.host)));
            }
            if next.origin() != self.base.origin() {
                return Err(FetchError::Unreadable(format!(
                    "{} at {} pointed its next page elsewhere",
                    self.label, self.host
                )));
            }
            url = next;
        }
        Err(FetchError::Unreadable(format!("{} at {}: too many pages in {path}", self.label, self.host)))
    }

    /// A list under `data` that Opsgenie answers whole (teams, schedules, escalations…).
    pub async fn data_once(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<Value>, FetchError> {
        let page = self.get(path, query).await?;
        let items = page.get("data").and_then(Value::as_array).cloned().ok_or_else(|| {
            FetchError::Unreadable(format!("{} at {}: {path} has no \"data\" list", self.label, self.host))
        })?;
        if items.len() > OBJECTS_MAX {
            return Err(FetchError::Refused(format!("{} has more than {OBJECTS_MAX} in {path}", self.label)));
        }
        Ok(items)
    }

    /// Every object of a list under `data` paged by `limit` and `offset` (Opsgenie): a page
    /// shorter than the limit is the last.
    pub async fn data_list(&self, path: &str, extra: &[(&str, String)]) -> Result<Vec<Value>, FetchError> {
        let mut out: Vec<Value> = Vec::new();
        loop {
            let mut q: Vec<(&str, String)> = extra.to_vec();
            q.push(("limit", PAGE.to_string()));
            q.push(("offset", out.len().to_string()));
            let page = self.get(path, &q).await?;
            let items = page.get("data").and_then(Value::as_array).ok_or_else(|| {
                FetchError::Unreadable(format!("{} at {}: a {path} page has no \"data\" list", self.label, self.host))
            })?;
            let n = items.len();
            out.extend(items.iter().cloned());
            if out.len() > OBJECTS_MAX {
                return Err(FetchError::Refused(format!("{} has more than {OBJECTS_MAX} in {path}", self.label)));
            }
            if n < PAGE {
                return Ok(out);
            }
        }
    }
}

/// An id taken from a vendor's answer that goes into a path: letters, digits and `-` only.
fn path_id(label: &str, v: &Value) -> Result<Option<String>, FetchError> {
    let Some(id) = v.get("id").and_then(Value::as_str) else { return Ok(None) };
    if id.is_empty() || id.len() > 100 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(FetchError::Unreadable(format!("{label} listed an id {id:?} that is not letters, digits and '-'")));
    }
    Ok(Some(id.to_owned()))
}

/// Reads what an Opsgenie import needs: users, teams with their members, schedules with
/// rotations, overrides and the final timeline of the equivalence weeks, escalations and
/// integrations.
pub async fn fetch_opsgenie(api: &VendorApi, now: DateTime<Utc>) -> Result<opsgenie::Documents, FetchError> {
    let users = api.data_list("v2/users", &[]).await?;
    let mut teams = Vec::new();
    for t in api.data_once("v2/teams", &[]).await? {
        let Some(id) = path_id("Opsgenie", &t)? else { continue };
        let full = api.get(&format!("v2/teams/{id}"), &[]).await?;
        teams.push(full.get("data").cloned().unwrap_or(Value::Null));
    }
    let schedules = api.data_once("v2/schedules", &[("expand", "rotation".to_owned())]).await?;
    let (mut overrides, mut timelines) = (Vec::new(), Vec::new());
    let weeks = (EQUIVALENCE_DAYS / 7).to_string();
    for s in &schedules {
        let Some(id) = path_id("Opsgenie", s)? else { continue };
        overrides.push((id.clone(), api.data_once(&format!("v2/schedules/{id}/overrides"), &[]).await?));
        let q = [("date", iso(now)), ("interval", weeks.clone()), ("intervalUnit", "weeks".to_owned())];
        let t = api.get(&format!("v2/schedules/{id}/timeline"), &q).await?;
        timelines.push((id, t.get("data").cloned().unwrap_or(Value::Null)));
    }
    let escalations = api.data_once("v2/escalations", &[]).await?;
    let integrations = api.data_once("v2/integrations", &[]).await?;
    Ok(opsgenie::Documents { users, teams, schedules, overrides, timelines, escalations, integrations })
}

/// Reads what a Grafana OnCall import needs: users, teams, schedules, their shifts and final
/// shifts for the equivalence weeks, escalation chains and their steps, integrations.
pub async fn fetch_grafana_oncall(
    api: &VendorApi,
    now: DateTime<Utc>,
) -> Result<grafana_oncall::Documents, FetchError> {
    let users = api.cursor_list("users/", &[]).await?;
    let teams = api.cursor_list("teams/", &[]).await?;
    let schedules = api.cursor_list("schedules/", &[]).await?;
    let shifts = api.cursor_list("on_call_shifts/", &[]).await?;
    let mut final_shifts = Vec::new();
    // Whole days, through the one the equivalence weeks end in.
    let (from, to) = (now.date_naive(), (now + Duration::days(EQUIVALENCE_DAYS + 1)).date_naive());
    for s in &schedules {
        let Some(id) = path_id("Grafana OnCall", s)? else { continue };
        if s.get("type").and_then(Value::as_str) == Some("ical") {
            continue;
        }
        let q = [("start_date", from.to_string()), ("end_date", to.to_string())];
        final_shifts.push((id.clone(), api.cursor_list(&format!("schedules/{id}/final_shifts/"), &q).await?));
    }
    let chains = api.cursor_list("escalation_chains/", &[]).await?;
    let steps = api.cursor_list("escalation_policies/", &[]).await?;
    let integrations = api.cursor_list("integrations/", &[]).await?;
    Ok(grafana_oncall::Documents { users, teams, schedules, shifts, final_shifts, chains, steps, integrations })
}

/// The error message a vendor put in its body, if any (bounded).
fn message(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let m = v.pointer("/error/message").or_else(|| v.get("message")).and_then(Value::as_str).unwrap_or("");
    if m.is_empty() { String::new() } else { format!(": {}", m.chars().take(200).collect::<String>()) }
}

async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|_| "the answer broke off".to_owned())? {
        if body.len() + chunk.len() > BODY_MAX {
            return Err(format!("an answer is over {} MiB", BODY_MAX / 1024 / 1024));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Reads what a PagerDuty import needs: users with contact methods, teams, schedules (each
/// rendered for the equivalence weeks, with its overrides), escalation policies, services with
/// their integrations and maintenance windows that have not ended.
pub async fn fetch_pagerduty(api: &VendorApi, now: DateTime<Utc>) -> Result<Documents, FetchError> {
    let include = |what: &str| vec![("include[]", what.to_owned())];
    let users = api.offset_list("users", "users", &include("contact_methods")).await?;
    let teams = api.offset_list("teams", "teams", &[]).await?;
    let listed = api.offset_list("schedules", "schedules", &[]).await?;
    let until = now + Duration::days(EQUIVALENCE_DAYS);
    let window = vec![("since", iso(now)), ("until", iso(until)), ("time_zone", "UTC".to_owned())];
    let mut schedules = Vec::with_capacity(listed.len());
    let mut overrides = Vec::new();
    for s in &listed {
        let Some(id) = s.get("id").and_then(Value::as_str) else { continue };
        if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(FetchError::Unreadable(format!(
                "PagerDuty listed a schedule id {id:?} that is not alphanumeric"
            )));
        }
        let full = api.get(&format!("schedules/{id}"), &window).await?;
        schedules.push(full.get("schedule").cloned().unwrap_or(Value::Null));
        // `overflow`: overrides under way keep their real start, so a re-run sees the same ones.
        let o_window = vec![("since", iso(now)), ("until", iso(now + Duration::days(90))), ("overflow", "true".into())];
        let o = api.offset_list(&format!("schedules/{id}/overrides"), "overrides", &o_window).await?;
        overrides.push((id.to_owned(), o));
    }
    let policies = api.offset_list("escalation_policies", "escalation_policies", &[]).await?;
    let services = api.offset_list("services", "services", &include("integrations")).await?;
    let windows = api.offset_list("maintenance_windows", "maintenance_windows", &[("filter", "open".into())]).await?;
    Ok(Documents { users, teams, schedules, overrides, policies, services, windows })
}
