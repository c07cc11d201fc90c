//! `opsdeck agent`: a probe agent. It asks the server which monitors its location runs, checks
//! them on their intervals with the same probes as the server, and uploads the results in
//! gzip-compressed batches about once a second. While the server cannot be reached it keeps
//! checking and buffers the batches (on disk with `--buffer-dir`, bounded, oldest dropped
//! first and counted); no database of its own.

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
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
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
        401 | 403 | 409 => Some(format!("the server refused this agent ({status}): {message}")),
        _ => None,
    }
}

pub async fn run(args: AgentArgs) -> Result<()> {
    opsdeck_core::agent::location("--location", &args.location).map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = args.server.trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .user_agent(format!("opsdeck-agent/{VERSION}"))
        .build()
        .context("cannot build the HTTP client")?;
    let prober = Arc::new(Prober::new().context("cannot set up the probes")?);
    let mut buffer = Buffer::open(args.buffer_dir.clone(), args.buffer_max_mb.max(1) * 1024 * 1024)?;
    let limit = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let (tx, mut rx) = mpsc::channel::<ResultOut>(100_000);
    let headers = |req: reqwest::RequestBuilder| {
        req.bearer_auth(&args.token)
            .header("x-opsdeck-location", &args.location)
            .header("x-opsdeck-agent-version", VERSION)
    };
    tracing::info!(server = %base, location = %args.location, "agent started");

    let mut jobs: HashMap<Uuid, Job> = HashMap::new();
    let mut refresh = tokio::time::interval(REFRESH);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut flush = tokio::time::interval(FLUSH);
    let mut pending: Vec<ResultOut> = Vec::new();
    // Upload back-off while the server is away: 1 s doubling to 10 s.
    let mut retry_at = tokio::time::Instant::now();
    let mut backoff = Duration::from_secs(1);
    let mut shutdown = std::pin::pin!(crate::demo::shutdown_signal());
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = refresh.tick() => {
                match headers(http.get(format!("{base}/api/v1/agent/monitors"))).send().await {
                    Ok(r) if r.status().is_success() => match r.json::<Assigned>().await {
                        Ok(a) => assign(&mut jobs, a.monitors),
                        Err(e) => tracing::warn!(error = %e, "the monitor list could not be read"),
                    },
                    Ok(r) => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        if let Some(why) = fatal(status, &body) {
                            bail!(why);
                        }
                        tracing::warn!(%status, "the server did not give the monitor list; keeping the last one");
                    }
                    Err(e) => tracing::warn!(error = %e, "the server is unreachable; checking on and buffering"),
                }
            }
            _ = tick.tick() => {
                let now = Utc::now();
                for (id, job) in jobs.iter_mut().filter(|(_, j)| j.next <= now) {
                    job.next = opsdeck_core::monitor::next_run(job.next, now, job.interval);
                    let (id, settings, timeout, tx, prober, limit) =
                        (*id, job.settings.clone(), job.timeout, tx.clone(), prober.clone(), limit.clone());
                    tokio::spawn(async move {
                        let Ok(_permit) = limit.acquire_owned().await else { return };
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
                    });
                }
            }
            Some(r) = rx.recv() => pending.push(r),
            _ = flush.tick() => {
                for chunk in pending.chunks(BATCH) {
                    buffer.push(gzip(chunk)?, chunk.len() as u64)?;
                }
                pending.clear();
                if tokio::time::Instant::now() >= retry_at {
                    match send(&http, &base, &args, &mut buffer).await {
                        Ok(()) => backoff = Duration::from_secs(1),
                        Err(Failure::Fatal(why)) => bail!(why),
                        Err(Failure::Later(why)) => {
                            let buffered = buffer.results();
                            tracing::warn!(buffered, "upload failed, retrying in {backoff:?}: {why}");
                            retry_at = tokio::time::Instant::now() + backoff;
                            backoff = (backoff * 2).min(Duration::from_secs(10));
                        }
                    }
                }
            }
        }
    }
    // Stopping: what was checked goes out if the server answers now, else stays on disk.
    for chunk in pending.chunks(BATCH) {
        buffer.push(gzip(chunk)?, chunk.len() as u64)?;
    }
    if let Err(e) = send(&http, &base, &args, &mut buffer).await {
        let why = match e {
            Failure::Fatal(w) | Failure::Later(w) => w,
        };
        tracing::warn!(buffered = buffer.results(), "stopping with results not uploaded: {why}");
    }
    Ok(())
}

/// Replaces the monitor list, keeping the schedule of monitors that stay (a changed interval
/// or settings take effect at the next run). New monitors start within one interval, spread.
fn assign(jobs: &mut HashMap<Uuid, Job>, monitors: Vec<AssignedMonitor>) {
    let now = Utc::now();
    let mut next: HashMap<Uuid, Job> = HashMap::with_capacity(monitors.len());
    for m in monitors {
        let Ok(kind) = m.kind.parse::<MonitorType>() else { continue };
        let settings = match Settings::parse(kind, m.settings) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(monitor = %m.id, error = %e, "skipping a monitor whose settings this agent cannot read");
                continue;
            }
        };
        let at = jobs
            .remove(&m.id)
            .map(|j| j.next)
            .unwrap_or_else(|| opsdeck_core::monitor::first_run(m.id, now, m.interval_seconds.min(60)));
        let job =
            Job { settings: Arc::new(settings), interval: m.interval_seconds, timeout: m.timeout_seconds, next: at };
        next.insert(m.id, job);
    }
    if next.len() != jobs.len() {
        tracing::info!(monitors = next.len(), "monitor list updated");
    }
    *jobs = next;
}

fn gzip(results: &[ResultOut]) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(&serde_json::json!({ "results": results }))?;
    let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::fast());
    enc.write_all(&json)?;
    Ok(enc.finish()?)
}

enum Failure {
    Fatal(String),
    Later(String),
}

/// Sends buffered batches, oldest first, until the buffer is empty or the server fails.
async fn send(http: &reqwest::Client, base: &str, args: &AgentArgs, buffer: &mut Buffer) -> Result<(), Failure> {
    while let Some(batch) = buffer.front() {
        let r = http
            .post(format!("{base}/api/v1/agent/results"))
            .bearer_auth(&args.token)
            .header("x-opsdeck-location", &args.location)
            .header("x-opsdeck-agent-version", VERSION)
            .header("x-opsdeck-dropped", buffer.dropped.to_string())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(batch.body.clone())
            .send()
            .await
            .map_err(|e| Failure::Later(e.to_string()))?;
        let status = r.status();
        let reported = buffer.dropped;
        if status.is_success() {
            buffer.dropped -= reported;
            buffer.pop(false);
            continue;
        }
        let body = r.text().await.unwrap_or_default();
        if let Some(why) = fatal(status, &body) {
            return Err(Failure::Fatal(why));
        }
        if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
            // The server will never take this batch: drop it, counted, rather than block the rest.
            tracing::error!(%status, body = %body.chars().take(300).collect::<String>(), "the server refused a batch");
            buffer.pop(true);
            continue;
        }
        return Err(Failure::Later(format!("the server answered {status}")));
    }
    Ok(())
}
