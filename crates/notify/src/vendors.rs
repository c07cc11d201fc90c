//! The vendor poller: reads third-party status pages (statuspage.io JSON or RSS/Atom feeds)
//! on each vendor's interval, under the egress policy, with ETag / If-Modified-Since, and with
//! bounded time (the vendor's timeout for the whole exchange) and memory (answers over
//! [`BODY_MAX`] are refused unread). Anything a vendor does wrong makes it "unknown" with the
//! reason; nothing it sends can stop the loop.

use crate::NotifyError;
use crate::egress::{EgressConfig, EgressPolicy, FilteringResolver};
use opsdeck_core::clock::Clock;
use opsdeck_core::vendor::{BODY_MAX, FeedKind, VendorStatus, parse_feed, parse_summary};
use opsdeck_store::Db;
use opsdeck_store::vendor::{DueVendor, PollOutcome};
use reqwest::header;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Redirects followed at most (a loop ends here).
const REDIRECTS_MAX: usize = 5;
/// Vendors polled at once.
const CONCURRENCY: usize = 16;
/// A vendor poll's lease, renewed every 5 s while the poll runs.
const LEASE_MS: i64 = 15_000;
/// Vendors one pass polls at most.
const PASS_MAX: usize = 256;

/// Told of every status change: (vendor, before, after).
pub type VendorSink = Arc<dyn Fn(Uuid, VendorStatus, VendorStatus) + Send + Sync>;

pub struct VendorPoller {
    db: Db,
    clock: Arc<dyn Clock>,
    node: String,
    http: reqwest::Client,
    egress: Arc<EgressPolicy>,
    sink: Option<VendorSink>,
}

impl VendorPoller {
    pub fn new(db: Db, clock: Arc<dyn Clock>, node: String, egress: &EgressConfig) -> Result<Self, NotifyError> {
        let egress = Arc::new(EgressPolicy::new(egress));
        let policy = egress.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= REDIRECTS_MAX {
                attempt.error(format!("more than {REDIRECTS_MAX} redirects"))
            } else if let Err(why) = policy.check_url(attempt.url().as_str()) {
                attempt.error(why)
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .dns_resolver(FilteringResolver(egress.clone()))
            .redirect(redirects)
            .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION"), " (vendor status poller)"))
            .build()
            .map_err(|e| NotifyError::Setup(format!("vendor HTTP client: {e}")))?;
        Ok(VendorPoller { db, clock, node, http, egress, sink: None })
    }

    pub fn with_sink(mut self, sink: VendorSink) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Polls due vendors every second until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e, "vendor poll pass failed");
            }
        }
    }

    /// Polls every vendor due at the clock's time (at most 256 a pass); returns how many were
    /// polled.
    pub async fn run_once(&self) -> Result<usize, NotifyError> {
        // As many as poll at once, each leased for 15 s and renewed every 5 s while its poll
        // runs (a poll may take up to a minute): a dead node's vendors move within 15 s, and a
        // node that stalled past its lease stores nothing (the record is conditioned on it).
        // A finished poll makes room for the next due vendor, so a slow one holds up no other.
        let mut running: std::collections::HashSet<uuid::Uuid> = std::collections::HashSet::new();
        let mut set = tokio::task::JoinSet::new();
        let mut budget = PASS_MAX;
        let mut renew = tokio::time::interval(Duration::from_secs(5));
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        renew.tick().await;
        let mut polled = 0;
        loop {
            let room = CONCURRENCY.saturating_sub(set.len()).min(budget);
            if room > 0 {
                let now = self.clock.now().timestamp_millis();
                let due = self.db.claim_due_vendors(&self.node, now, now + LEASE_MS, room as i64).await?;
                // Nothing more is due now: claim no more this pass.
                budget = if due.is_empty() { 0 } else { budget.saturating_sub(due.len()) };
                for v in due {
                    running.insert(v.id);
                    let (http, egress) = (self.http.clone(), self.egress.clone());
                    set.spawn(async move {
                        let outcome = poll(&http, &egress, &v).await;
                        (v, outcome)
                    });
                }
            }
            let r = tokio::select! {
                r = set.join_next() => match r {
                    Some(r) => r,
                    None => break,
                },
                _ = renew.tick() => {
                    let ids: Vec<uuid::Uuid> = running.iter().copied().collect();
                    let until = self.clock.now().timestamp_millis() + LEASE_MS;
                    if let Err(e) = self.db.renew_vendor_leases(&self.node, &ids, until).await {
                        tracing::warn!(error = %e, "renewing vendor poll leases failed");
                    }
                    continue;
                }
            };
            let Ok((v, outcome)) = r else { continue };
            running.remove(&v.id);
            let at = self.clock.now();
            if let Some((before, after)) = self.db.record_vendor_poll(&self.node, at, &v, &outcome).await?
                && let Some(sink) = &self.sink
            {
                sink(v.id, before, after);
            }
            polled += 1;
        }
        Ok(polled)
    }
}

/// One poll: the conditional request, the bounded body, the parse.
async fn poll(http: &reqwest::Client, egress: &EgressPolicy, v: &DueVendor) -> PollOutcome {
    let kind = FeedKind::parse(&v.kind).unwrap_or(FeedKind::Statuspage);
    let spec = opsdeck_core::vendor::VendorSpec {
        name: v.name.clone(),
        url: v.url.clone(),
        kind,
        interval_seconds: 0,
        timeout_seconds: 0,
    };
    let url = spec.poll_url();
    if let Err(why) = egress.check_url(&url) {
        return PollOutcome::Failed { reason: why };
    }
    let timeout = Duration::from_secs(u64::try_from(v.timeout_seconds).unwrap_or(10).clamp(1, 60));
    let fetched = tokio::time::timeout(timeout, fetch(http, &url, v)).await;
    let (status, headers, body) = match fetched {
        Err(_) => return PollOutcome::Failed { reason: format!("no complete answer within {} s", timeout.as_secs()) },
        Ok(Err(reason)) => return PollOutcome::Failed { reason },
        Ok(Ok(r)) => r,
    };
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return PollOutcome::NotModified;
    }
    if !status.is_success() {
        return PollOutcome::Failed { reason: format!("HTTP {} from {url}", status.as_u16()) };
    }
    let text = |name: header::HeaderName| {
        headers.get(name).and_then(|h| h.to_str().ok()).map(|s| s.chars().take(200).collect())
    };
    let reading = match kind {
        FeedKind::Statuspage => parse_summary(&body),
        FeedKind::Feed => parse_feed(&body, chrono::Utc::now()),
    };
    match reading {
        Ok(reading) => {
            PollOutcome::Read { reading, etag: text(header::ETAG), last_modified: text(header::LAST_MODIFIED) }
        }
        Err(reason) => PollOutcome::Failed { reason },
    }
}

/// GETs `url` with the vendor's validators; reads at most [`BODY_MAX`] bytes.
async fn fetch(
    http: &reqwest::Client,
    url: &str,
    v: &DueVendor,
) -> Result<(reqwest::StatusCode, header::HeaderMap, Vec<u8>), String> {
    let mut req =
        http.get(url).header(header::ACCEPT, "application/json, application/atom+xml, application/rss+xml, */*;q=0.5");
    if let Some(e) = &v.etag {
        req = req.header(header::IF_NONE_MATCH, e);
    }
    if let Some(m) = &v.last_modified {
        req = req.header(header::IF_MODIFIED_SINCE, m);
    }
    let mut resp = req.send().await.map_err(|e| describe(&e))?;
    if resp.content_length().is_some_and(|n| n > BODY_MAX as u64) {
        return Err(format!("the answer is over {} MB", BODY_MAX / (1024 * 1024)));
    }
    let (status, headers) = (resp.status(), resp.headers().clone());
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        if body.len().saturating_add(chunk.len()) > BODY_MAX {
            return Err(format!("the answer is over {} MB", BODY_MAX / (1024 * 1024)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, headers, body))
}

/// A transport error in words (the notifier's wording), bounded.
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_redirect() { "redirect refused" } else { "cannot reach it" };
    format!("{what}: {}", crate::send::describe(e)).chars().take(300).collect()
}
