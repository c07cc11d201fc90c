//! HTTP(S) probe: status, body assertions and response time.

use crate::tls::{Verifiers, describe_tls_error};
use crate::{ProbeError, fmt_ms, millis, net, outcome, truncate_chars};
use opsdeck_core::monitor::{CheckOutcome, CheckStatus, HttpAuth, HttpSettings, JsonAssert, status_ranges};
use regex::Regex;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::redirect::Policy;
use serde_json::json;
use std::collections::HashMap;
use std::error::Error as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Bodies are read up to this much; assertions see only this part.
const BODY_CAP: usize = 1024 * 1024;
const MAX_REDIRECTS: usize = 10;
/// Patterns are few (one per monitor); the bound only guards against unbounded growth when
/// monitors are edited many times in a long-lived process.
const REGEX_CACHE_MAX: usize = 1024;

/// One client per combination of redirect, verification and connection-reuse settings, built
/// once: reqwest fixes all three per client.
pub(crate) struct Clients {
    /// Indexed by `fresh_connection * 4 + follow_redirects * 2 + verify_tls`. The fresh ones
    /// keep no idle connection, so every check connects (and shakes hands) anew.
    clients: [reqwest::Client; 8],
    regexes: Mutex<HashMap<String, Arc<Regex>>>,
}

impl Clients {
    pub(crate) fn new(tls: &Verifiers) -> Result<Self, ProbeError> {
        let build = |fresh: bool, follow: bool, verify: bool| -> Result<reqwest::Client, ProbeError> {
            let builder = reqwest::Client::builder();
            let builder = if fresh { builder.pool_max_idle_per_host(0) } else { builder };
            Ok(builder
                .tls_backend_preconfigured(tls.http_config(verify)?)
                .redirect(if follow { Policy::limited(MAX_REDIRECTS) } else { Policy::none() })
                // A probe measures the direct path from this node; an HTTP(S)_PROXY in the
                // service's environment must not silently reroute it.
                .no_proxy()
                .user_agent(concat!("Opsdeck/", env!("CARGO_PKG_VERSION"), " (monitoring)"))
                .build()?)
        };
        Ok(Clients {
            clients: [
                build(false, false, false)?,
                build(false, false, true)?,
                build(false, true, false)?,
                build(false, true, true)?,
                build(true, false, false)?,
                build(true, false, true)?,
                build(true, true, false)?,
                build(true, true, true)?,
            ],
            regexes: Mutex::new(HashMap::new()),
        })
    }

    fn client(&self, s: &HttpSettings) -> &reqwest::Client {
        let i = usize::from(s.fresh_connection) * 4 + usize::from(s.follow_redirects) * 2 + usize::from(s.verify_tls);
        &self.clients[i]
    }

    fn regex(&self, pattern: &str) -> Result<Arc<Regex>, regex::Error> {
        let mut cache = self.regexes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = cache.get(pattern) {
            return Ok(r.clone());
        }
        let r = Arc::new(Regex::new(pattern)?);
        if cache.len() >= REGEX_CACHE_MAX {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), r.clone());
        Ok(r)
    }
}

pub(crate) async fn probe(clients: &Clients, s: &HttpSettings) -> CheckOutcome {
    // Settings were validated when saved; anything still wrong is a configuration problem.
    let unknown = |why: String| outcome(CheckStatus::Unknown, None, why);
    let ranges = match status_ranges(&s.expected_status) {
        Ok(r) => r,
        Err(e) => return unknown(e.to_string()),
    };
    let method = match reqwest::Method::from_bytes(s.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => return unknown(format!("invalid HTTP method {:?}", s.method)),
    };
    let mut headers = HeaderMap::new();
    for (k, v) in &s.headers {
        match (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            (Ok(k), Ok(v)) => {
                headers.insert(k, v);
            }
            _ => return unknown(format!("header {k:?} is not a valid header")),
        }
    }
    let mut req = clients.client(s).request(method, &s.url).headers(headers);
    if let Some(body) = &s.body {
        req = req.body(body.clone());
    }
    req = match &s.auth {
        Some(HttpAuth::Basic { username, password }) => req.basic_auth(username, Some(password)),
        Some(HttpAuth::Bearer { token }) => req.bearer_auth(token),
        None => req,
    };

    let start = Instant::now();
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return CheckOutcome::down(None, describe_error(&e)),
    };
    let code = resp.status().as_u16();
    let mut body = Vec::new();
    let mut truncated = false;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = BODY_CAP - body.len();
                if chunk.len() >= room {
                    body.extend_from_slice(&chunk[..room]);
                    // Stop at the cap (timed to here); dropping the response closes the connection.
                    truncated = chunk.len() > room || resp.content_length().is_none_or(|n| n > BODY_CAP as u64);
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                let why = format!("HTTP {code}, reading the body failed: {}", describe_error(&e));
                return CheckOutcome::down(Some(millis(start.elapsed())), why);
            }
        }
    }
    let latency = millis(start.elapsed());
    let details = json!({ "status_code": code, "bytes": body.len(), "truncated": truncated });
    let done = |status, reason: String| outcome(status, Some(latency), reason).with_details(details.clone());

    if !ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&code)) {
        return done(CheckStatus::Down, format!("HTTP {code}, expected {}", s.expected_status.join(", ")));
    }
    let text = String::from_utf8_lossy(&body);
    if let Some(needle) = &s.body_contains
        && !text.contains(needle.as_str())
    {
        return done(CheckStatus::Down, format!("body does not contain {:?}", truncate_chars(needle, 100)));
    }
    if let Some(pattern) = &s.body_regex {
        match clients.regex(pattern) {
            Ok(re) if re.is_match(&text) => {}
            Ok(_) => {
                return done(CheckStatus::Down, format!("body does not match /{}/", truncate_chars(pattern, 100)));
            }
            Err(e) => return unknown(format!("body_regex does not compile: {e}")),
        }
    }
    if let Some(ja) = &s.json_assert
        && let Err(why) = json_assert(&body, ja)
    {
        return done(CheckStatus::Down, why);
    }
    if let Some(max) = s.max_response_ms
        && latency > f64::from(max)
    {
        return done(CheckStatus::Degraded, format!("slow: {} > {max} ms", fmt_ms(latency)));
    }
    done(CheckStatus::Up, format!("HTTP {code} in {}", fmt_ms(latency)))
}

fn json_assert(body: &[u8], ja: &JsonAssert) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("body is not JSON ({e}), cannot check {}", ja.pointer))?;
    let shown = |v: &serde_json::Value| truncate_chars(&v.to_string(), 100);
    // The value read is not echoed: a response may carry data the monitor's readers must not
    // see (tokens, personal data), and the reason travels into alerts and notifications.
    let kind = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a different boolean",
        serde_json::Value::Number(_) => "a different number",
        serde_json::Value::String(_) => "a different string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    };
    match value.pointer(&ja.pointer) {
        Some(v) if *v == ja.equals => Ok(()),
        Some(v) => Err(format!("JSON {} is {}, expected {}", ja.pointer, kind(v), shown(&ja.equals))),
        None => Err(format!("JSON {} is missing, expected {}", ja.pointer, shown(&ja.equals))),
    }
}

/// The useful part of a reqwest error: TLS and socket errors in plain words, else the chain of
/// causes without reqwest's own "error sending request for url (…)" preface.
fn describe_error(e: &reqwest::Error) -> String {
    let mut causes = Vec::new();
    let mut cur = e.source();
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return format!("TLS: {}", describe_tls_error(t));
        }
        if let Some(mut io) = err.downcast_ref::<std::io::Error>() {
            // io::Error::source skips the error it wraps, and hyper-rustls nests them
            // (Other > InvalidData > rustls::Error), so unwrap explicitly.
            while let Some(inner) = io.get_ref() {
                if let Some(t) = inner.downcast_ref::<rustls::Error>() {
                    return format!("TLS: {}", describe_tls_error(t));
                }
                match inner.downcast_ref::<std::io::Error>() {
                    Some(i) => io = i,
                    None => break,
                }
            }
            if let Some(words) = net::io_kind_words(io) {
                return words.to_owned();
            }
        }
        let msg = err.to_string();
        // hyper-util's wrapper adds no information.
        if !msg.starts_with("client error") && causes.last() != Some(&msg) {
            causes.push(msg);
        }
        cur = err.source();
    }
    if e.is_timeout() {
        return "timed out".into();
    }
    if e.is_redirect() {
        return format!("redirect failed (more than {MAX_REDIRECTS} hops or a loop)");
    }
    // reqwest's own text names the URL, whose query may hold a key: never shown.
    if causes.is_empty() { "the request failed".into() } else { causes.join(": ") }
}
