//! `opsdeck agent`: a probe agent. It asks the server which monitors its location runs, checks
//! them on their intervals with the same probes as the server, and uploads the results in
//! gzip-compressed batches about once a second. While the server cannot be reached it keeps
//! checking and buffers the batches (on disk with `--buffer-dir`, bounded, oldest dropped
//! first and counted); no database of its own.

pub mod admin;
mod buffer;

use anyhow::{Context, Result, bail};
use buffer::Buffer;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use opsdeck_checks::Prober;
use opsdeck_core::monitor::{CheckOutcome, MonitorType, Settings};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::time::MissedTickBehavior;
use uuid::Uuid;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// How often the agent asks for its monitors.
const REFRESH: Duration = Duration::from_secs(10);
/// How often results are batched for upload.
const FLUSH: Duration = Duration::from_secs(1);
/// Results per upload (the server takes up to 5,000).
const BATCH: usize = 2_000;

pub struct AgentArgs {
    pub server: String,
    pub token: String,
    pub location: String,
    pub buffer_dir: Option<PathBuf>,
    pub buffer_max_mb: u64,
    pub concurrency: usize,
}

#[derive(Deserialize)]
struct Assigned {
    monitors: Vec<AssignedMonitor>,
}

#[derive(Deserialize, Clone)]
struct AssignedMonitor {
    id: Uuid,
    #[serde(rename = "type")]
    kind: String,
    interval_seconds: i32,
    timeout_seconds: i32,
    settings: serde_json::Value,
}

/// A monitor this agent runs, and when next.
struct Job {
    settings: Arc<Settings>,
    interval: i32,
    timeout: i32,
    next: DateTime<Utc>,
    /// Its check is running (or waiting for a slot).
    running: Arc<AtomicBool>,
}

#[derive(serde::Serialize)]
struct ResultOut {
    monitor_id: Uuid,
    at: String,
    status: &'static str,
    latency_ms: Option<f64>,
    reason: String,
}

/// Why the server refused for good: the agent stops and says so.
fn fatal(status: reqwest::StatusCode, body: &str) -> Option<String> {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect());
    match status.as_u16() {
        // 404: not an Opsdeck with agents at that address.
        401 | 403 | 404 | 409 => Some(format!("the server refused this agent ({status}): {message}")),
        _ => None,
    }
}

/// What the agent's tasks share.
struct Shared {
    http: reqwest::Client,
    base: String,
    token: String,
    location: String,
    buffer: Mutex<Buffer>,
    /// Wakes the uploader when a batch was queued.
    queued: Notify,
    /// A refusal for good: the agent stops with it.
    fatal: mpsc::Sender<String>,
}

impl Shared {
    fn request(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.bearer_auth(&self.token)
            .header("x-opsdeck-location", &self.location)
            .header("x-opsdeck-agent-version", VERSION)
            .header("x-opsdeck-agent-time", Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        // A panic while holding it left a consistent queue behind: keep going.
        self.buffer.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues results for upload; a buffer that cannot be written drops them, counted.
    fn queue(&self, results: &[ResultOut]) {
        for chunk in results.chunks(BATCH) {
            let queued = gzip(chunk).and_then(|body| self.lock().push(body, chunk.len() as u64));
            if let Err(e) = queued {
                tracing::error!(error = %e, results = chunk.len(), "results could not be buffered and are dropped");
                self.lock().dropped += chunk.len() as u64;
            }
        }
        self.queued.notify_one();
    }
}

pub async fn run(args: AgentArgs) -> Result<()> {
    opsdeck_core::agent::location("--location", &args.location).map_err(|e| anyhow::anyhow!("{e}"))?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .user_agent(format!("opsdeck-agent/{VERSION}"))
        .build()
        .context("cannot build the HTTP client")?;
    let prober = Arc::new(Prober::new().context("cannot set up the probes")?);
    let buffer = Buffer::open(args.buffer_dir.clone(), args.buffer_max_mb.max(1) * 1024 * 1024)?;
    let (fatal_tx, mut fatal_rx) = mpsc::channel::<String>(4);
    let shared = Arc::new(Shared {
        http,
        base: args.server.trim_end_matches('/').to_owned(),
        token: args.token.clone(),
        location: args.location.clone(),
        buffer: Mutex::new(buffer),
        queued: Notify::new(),
        fatal: fatal_tx,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let (assign_tx, mut assign_rx) = mpsc::channel::<Vec<AssignedMonitor>>(2);
    // Fetching the monitor list and uploading run beside the checks: a slow or absent server
    // never holds up checking.
    let refresher = tokio::spawn(refresh(shared.clone(), assign_tx, stop_rx.clone()));
    let uploader = tokio::spawn(upload(shared.clone(), stop_rx));
    tracing::info!(server = %shared.base, location = %args.location, "agent started");

    let limit = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let (tx, mut rx) = mpsc::channel::<ResultOut>(100_000);
    let mut jobs: HashMap<Uuid, Job> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut flush = tokio::time::interval(FLUSH);
    flush.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut pending: Vec<ResultOut> = Vec::new();
    let mut shutdown = std::pin::pin!(crate::demo::shutdown_signal());
    let refused = loop {
        tokio::select! {
            _ = &mut shutdown => break None,
            Some(why) = fatal_rx.recv() => break Some(why),
            Some(list) = assign_rx.recv() => assign(&mut jobs, list),
            Some(r) = rx.recv() => pending.push(r),
            _ = flush.tick() => shared.queue(&std::mem::take(&mut pending)),
            _ = tick.tick() => {
                let now = Utc::now();
                for (id, job) in jobs.iter_mut().filter(|(_, j)| j.next <= now) {
                    job.next = opsdeck_core::monitor::next_run(job.next, now, job.interval);
                    // One check of a monitor at a time: a slow one skips its turn instead of
                    // piling up behind the concurrency limit.
                    if job.running.swap(true, Ordering::AcqRel) {
                        continue;
                    }
                    let (id, settings, timeout, tx, prober, limit, running) = (
                        *id, job.settings.clone(), job.timeout, tx.clone(), prober.clone(), limit.clone(),
                        job.running.clone(),
                    );
                    tokio::spawn(async move {
                        // Cleared however the task ends, a panicking probe included.
                        let _running = Running(running);
                        if let Ok(_permit) = limit.acquire_owned().await {
                            let at = Utc::now();
                            let o: CheckOutcome =
                                prober.probe(&settings, Duration::from_secs(timeout.max(1) as u64)).await;
                            let out = ResultOut {
                                monitor_id: id,
                                at: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                                status: o.status.as_str(),
                                latency_ms: o.latency_ms,
                                reason: o.reason,
                            };
                            let _ = tx.send(out).await;
                        }
                    });
                }
            }
        }
    };
    // Stopping: the checks under way finish (within their timeouts, at most 15 s), everything
    // checked is queued, and the uploader gets a few seconds to deliver; the rest stays in the
    // buffer directory for the next start.
    refresher.abort();
    // Checks still waiting for a slot do not start now.
    limit.close();
    drop(tx);
    let drained = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(r) = rx.recv().await {
            pending.push(r);
        }
    });
    let _ = drained.await;
    shared.queue(&pending);
    if refused.is_none() {
        let delivered = tokio::time::timeout(Duration::from_secs(5), async {
            while shared.lock().results() > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        if delivered.await.is_err() {
            let left = shared.lock().results();
            tracing::warn!(results = left, "stopping with results not uploaded yet");
        }
    }
    let _ = stop_tx.send(true);
    // A request under way may take its timeout; what it did not deliver stays buffered.
    let _ = tokio::time::timeout(Duration::from_secs(25), uploader).await;
    let refused = refused.or_else(|| fatal_rx.try_recv().ok());
    match refused {
        Some(why) => bail!(why),
        None => Ok(()),
    }
}

/// Clears a monitor's "check running" flag when its check task ends, however it ends.
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Asks for the location's monitors every 10 s; the scheduling loop applies each answer.
async fn refresh(shared: Arc<Shared>, out: mpsc::Sender<Vec<AssignedMonitor>>, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(REFRESH);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = every.tick() => {}
        }
        let url = format!("{}/api/v1/agent/monitors", shared.base);
        match shared.request(shared.http.get(url)).send().await {
            Ok(r) if r.status().is_success() => match r.json::<Assigned>().await {
                Ok(a) => {
                    if out.send(a.monitors).await.is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the monitor list could not be read"),
            },
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                if let Some(why) = fatal(status, &body) {
                    let _ = shared.fatal.send(why).await;
                    return;
                }
                tracing::warn!(%status, "the server did not give the monitor list; keeping the last one");
            }
            Err(e) => tracing::warn!(error = %e, "the server is unreachable; checking on and buffering"),
        }
    }
}

/// Sends queued batches, oldest first, one at a time; while the server fails, waits 1 s
/// doubling to 10 s. A batch leaves the queue only once the server took it (or refused it
/// for good, counted as dropped).
async fn upload(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        if *stop.borrow() {
            return;
        }
        let next = {
            let b = shared.lock();
            b.front().map(|f| (f.seq, f.body.clone(), b.dropped))
        };
        let Some((seq, body, dropped)) = next else {
            tokio::select! {
                _ = stop.changed() => return,
                _ = shared.queued.notified() => continue,
            }
        };
        let url = format!("{}/api/v1/agent/results", shared.base);
        let req = shared
            .request(shared.http.post(url))
            .header("x-opsdeck-dropped", dropped.to_string())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(body);
        let failed = match req.send().await {
            Ok(r) if r.status().is_success() => {
                let mut b = shared.lock();
                b.dropped = b.dropped.saturating_sub(dropped);
                b.remove(seq, false);
                backoff = Duration::from_secs(1);
                continue;
            }
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                if let Some(why) = fatal(status, &body) {
                    let _ = shared.fatal.send(why).await;
                    return;
                }
                if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
                    // The server will never take this batch: drop it, counted, not block the rest.
                    let body: String = body.chars().take(300).collect();
                    tracing::error!(%status, %body, "the server refused a batch of results");
                    shared.lock().remove(seq, true);
                    continue;
                }
                format!("the server answered {status}")
            }
            Err(e) => e.to_string(),
        };
        let buffered = shared.lock().results();
        tracing::warn!(buffered, "upload failed, retrying in {backoff:?}: {failed}");
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Replaces the monitor list, keeping the schedule of monitors that stay (a changed interval
/// or settings take effect at the next run). New monitors start within one interval, spread.
fn assign(jobs: &mut HashMap<Uuid, Job>, monitors: Vec<AssignedMonitor>) {
    let now = Utc::now();
    let mut next: HashMap<Uuid, Job> = HashMap::with_capacity(monitors.len());
    let mut added = 0usize;
    for m in monitors {
        let Ok(kind) = m.kind.parse::<MonitorType>() else { continue };
        let settings = match Settings::parse(kind, m.settings) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(monitor = %m.id, error = %e, "skipping a monitor whose settings this agent cannot read");
                continue;
            }
        };
        let (at, running) = match jobs.remove(&m.id) {
            Some(j) => (j.next, j.running),
            None => {
                added += 1;
                (opsdeck_core::monitor::first_run(m.id, now, m.interval_seconds.min(60)), Arc::default())
            }
        };
        let job = Job {
            settings: Arc::new(settings),
            interval: m.interval_seconds,
            timeout: m.timeout_seconds,
            next: at,
            running,
        };
        next.insert(m.id, job);
    }
    // What is left in `jobs` was taken off the list.
    if added > 0 || !jobs.is_empty() {
        tracing::info!(monitors = next.len(), added, removed = jobs.len(), "monitor list updated");
    }
    *jobs = next;
}

fn gzip(results: &[ResultOut]) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(&serde_json::json!({ "results": results }))?;
    let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::fast());
    enc.write_all(&json)?;
    Ok(enc.finish()?)
}
