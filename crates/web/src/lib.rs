//! Opsdeck's HTTP surface: the JSON API under `/api/v1`, the server-rendered UI, live updates
//! over Server-Sent Events, and the operational endpoints (`/healthz`, `/readyz`, `/metrics`).
//!
//! Architecture invariant: this is the only crate that knows HTTP, HTML and JSON DTOs.

mod api;
mod assets;
mod auth;
mod cache;
mod change_links;
pub mod demo_inbox;
mod demo_targets;
mod error;
mod events;
mod extract;
pub mod ingest;
mod kpi_metrics;
pub mod leased;
mod links;
pub mod mail_in;
mod markdown;
mod mcp;
mod operations;
mod ops;
pub mod peer_events;
mod ping;
pub mod report_mailer;
pub mod series_watch;
mod server;
pub mod sla_watch;
pub mod slo_evaluator;
mod status;
mod ui;

use axum::Router;
use opsdeck_core::clock::Clock;
use opsdeck_store::Db;
use std::sync::Arc;

pub use auth::SESSION_COOKIE;
use axum::http::{HeaderValue, header};
pub use error::ApiError;
pub use events::{Event, Events};
pub use ops::install_metrics;
use tower_http::set_header::SetResponseHeaderLayer;

/// Handles monitor state changes (from the scheduler or a pause): live-update events, and the
/// alerts they raise, which the store wrote to its outbox with the change: drained now rather
/// than at the next tick. A drain that fails leaves them pending for the next one.
pub async fn on_monitor_changes(state: &AppState, changes: &[opsdeck_store::monitor::StateChange]) {
    for c in changes {
        state.events.publish(
            "monitor.state",
            Some(c.monitor_id),
            format!("{} is {} ({})", c.name, c.transition.to, c.reason),
        );
    }
    if changes.iter().any(|c| opsdeck_store::monitor::raises_alert(c.transition.to, c.service_id))
        && let Err(e) = state.pipeline.drain_monitor_alerts().await
    {
        tracing::warn!(error = %e, "monitor alerts stay pending until the next drain");
    }
}

/// The scheduler's change sink for `state`.
#[allow(clippy::type_complexity)]
pub fn monitor_change_sink(
    state: &AppState,
) -> Arc<
    dyn Fn(Vec<opsdeck_store::monitor::StateChange>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
> {
    let state = state.clone();
    std::sync::Arc::new(move |changes| {
        let state = state.clone();
        Box::pin(async move { on_monitor_changes(&state, &changes).await })
    })
}

/// The notifier's live-update sink: the incident pages' delivery logs refresh.
pub fn notifier_sink(events: &Events) -> opsdeck_notify::ChangeSink {
    let events = events.clone();
    Arc::new(move |ids| {
        for id in ids {
            events.publish("incident.notified", Some(*id), "Notifications updated");
        }
    })
}

/// Wakes the notifier on every write the server reports (its own `incident.notified` aside), so
/// what a write queued (a page, a status update, a ticket mail) goes out at once rather than at
/// the notifier's next poll. Runs until `stop` turns true.
pub async fn wake_notifier(
    events: Events,
    notifier: Arc<opsdeck_notify::Notifier>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    use tokio::sync::broadcast::error::RecvError;
    let mut rx = events.subscribe();
    loop {
        tokio::select! {
            got = rx.recv() => match got {
                // Its own reports, and the demo inbox's echo of a page it sent.
                Ok(e) if matches!(e.kind.as_str(), "incident.notified" | "demo.inbox" | events::ACCESS_CHANGED) => {}
                Ok(_) | Err(RecvError::Lagged(_)) => notifier.wake(),
                Err(RecvError::Closed) => return Ok(()),
            },
            _ = stop.changed() => return Ok(()),
        }
    }
}

/// The vendor poller's sink: vendor pages and the overview refresh when a vendor's status
/// changes.
pub fn vendor_sink(events: &Events) -> opsdeck_notify::vendors::VendorSink {
    let events = events.clone();
    Arc::new(move |id, before, after| {
        events.publish("vendor.changed", Some(id), format!("Vendor {} → {}", before.as_str(), after.as_str()));
    })
}

/// Publishes what an ingest batch did as live-update events.
fn publish_report(events: &Events, r: &opsdeck_store::ingest::Report) {
    for (id, number, title) in &r.opened {
        events.publish("incident.opened", Some(*id), format!("INC-{number} opened: {title}"));
    }
    for id in &r.changed {
        if !r.opened.iter().any(|o| o.0 == *id) {
            events.publish("incident.updated", Some(*id), "Incident updated");
        }
    }
}

/// Settings the HTTP layer needs from the binary's configuration.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Mark session cookies `Secure` (set when Opsdeck is served over HTTPS).
    pub secure_cookies: bool,
    /// How long a sign-in lasts.
    pub session_ttl: chrono::Duration,
    /// Sign-in attempts allowed per client address and username per minute.
    pub login_attempts_per_minute: u32,
    /// Serve the `/demo/*` endpoints that demo monitors watch.
    pub demo_endpoints: bool,
    /// Monitoring history kept (heartbeat pings are stored here, checks by the scheduler).
    pub retention: opsdeck_store::monitor::Retention,
    /// Ingest queue bounds and batch size.
    pub pipeline: opsdeck_store::pipeline::PipelineConfig,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for sign-in throttling).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// A session unused this long ends (besides its absolute lifetime `session_ttl`).
    pub session_idle: chrono::Duration,
    /// How long a public status page's rendering is reused (zero: rendered for every request).
    pub status_refresh: std::time::Duration,
    /// Where outbound requests made for a user (Prometheus queries of forecasts) may go.
    pub egress: opsdeck_notify::egress::EgressConfig,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: false,
            session_ttl: chrono::Duration::days(14),
            login_attempts_per_minute: 10,
            demo_endpoints: false,
            retention: Default::default(),
            pipeline: Default::default(),
            trusted_proxies: Vec::new(),
            session_idle: chrono::Duration::hours(12),
            status_refresh: std::time::Duration::from_secs(2),
            egress: Default::default(),
        }
    }
}

/// Everything a request handler may reach. Cloning is one reference count: axum clones the state
/// for every extractor and middleware of every request, and cloning each shared part on its own
/// (a dozen contended atomic counts) measurably slowed the ingest path.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

pub struct SharedState {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub events: Events,
    pub config: Arc<WebConfig>,
    pub(crate) login_limiter: Arc<auth::LoginLimiter>,
    /// Rendered service lists, validated against the catalogue revision.
    service_lists: Arc<cache::RenderCache>,
    /// The batching writer every inbound alert goes through.
    pub pipeline: opsdeck_store::pipeline::Pipeline,
    /// Integration keys → routes.
    pub(crate) routes: Arc<ingest::RouteCache>,
    /// The escalation and notification worker of this node (for test notifications); set once
    /// it has started ([`AppState::set_notifier`]).
    notifier: std::sync::OnceLock<Arc<opsdeck_notify::Notifier>>,
    /// This node's supervised background workers (restarts, and `/readyz` when one keeps failing).
    pub workers: opsdeck_store::worker::Workers,
    /// Set once the server begins to shut down: endless responses (live-update streams) end.
    pub(crate) closing: Arc<tokio::sync::watch::Sender<bool>>,
    /// Notifications sent to demo users (`serve --demo`; empty otherwise).
    pub demo_inbox: demo_inbox::DemoInbox,
    /// Public status pages as last rendered.
    status_pages: status::SnapshotCache,
    /// Throttles visitors' sign-ups to status pages.
    pub(crate) signup_limiter: operations::status_subscribers::SignupLimiter,
    /// The KPI series `/metrics` last computed, and when.
    pub(crate) kpi_metrics: kpi_metrics::Cache,
    /// Reads series whose source is a Prometheus query (`None` if its client could not be built).
    pub(crate) prometheus: Option<opsdeck_notify::prometheus::PrometheusClient>,
}

impl AppState {
    /// Builds the state and starts the ingest pipeline's writer (needs a Tokio runtime).
    pub fn new(db: Db, clock: Arc<dyn Clock>, config: WebConfig) -> Self {
        let login_limiter = Arc::new(auth::LoginLimiter::new(config.login_attempts_per_minute));
        let events = Events::new();
        let sink_events = events.clone();
        let workers = opsdeck_store::worker::Workers::new();
        let pipeline = opsdeck_store::pipeline::Pipeline::start(
            db.clone(),
            clock.clone(),
            config.pipeline.clone(),
            Arc::new(move |r| publish_report(&sink_events, r)),
            &workers,
        );
        let prometheus = opsdeck_notify::prometheus::PrometheusClient::new(&config.egress).ok();
        AppState(Arc::new(SharedState {
            workers,
            closing: Arc::new(tokio::sync::watch::Sender::new(false)),
            db,
            clock,
            events,
            pipeline,
            routes: Arc::default(),
            notifier: std::sync::OnceLock::new(),
            config: Arc::new(config),
            login_limiter,
            service_lists: Arc::new(cache::RenderCache::default()),
            demo_inbox: demo_inbox::DemoInbox::default(),
            status_pages: status::SnapshotCache::default(),
            signup_limiter: Default::default(),
            kpi_metrics: Default::default(),
            prometheus,
        }))
    }

    /// Gives the state this node's notifier (once; later calls change nothing).
    pub fn set_notifier(&self, notifier: Arc<opsdeck_notify::Notifier>) {
        let _ = self.notifier.set(notifier);
    }

    pub fn notifier(&self) -> Option<&Arc<opsdeck_notify::Notifier>> {
        self.notifier.get()
    }

    /// The address links in e-mails start with, without a trailing slash: the public URL set
    /// in the settings, else the one the server was started with.
    pub async fn link_base(&self) -> String {
        let set = operations::settings::load(self).await.ok().and_then(|s| s.public_url);
        let started = self.notifier().map(|n| n.public_url().to_owned());
        set.or(started).unwrap_or_else(|| "http://localhost:8080".to_owned()).trim_end_matches('/').to_owned()
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

/// The whole application as one axum router.
pub fn router(state: AppState) -> Router {
    ops::install_metrics();
    let (api_router, mut openapi) = api::router().split_for_parts();
    api::openapi::complete(&mut openapi);
    let demo =
        if state.config.demo_endpoints { demo_targets::router().merge(demo_inbox::router()) } else { Router::new() };
    let app = Router::new()
        .merge(demo)
        .merge(api_router)
        .merge(utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
        .merge(ui::router())
        .merge(ops::router())
        .merge(ping::router())
        .merge(ingest::router())
        .merge(links::router())
        .merge(change_links::router())
        .merge(status::router())
        .merge(mcp::router(state.clone()))
        .merge(assets::router())
        .fallback(error::not_found_fallback)
        .layer(axum::middleware::from_fn_with_state(state.clone(), ops::track_requests))
        .layer(tower_http::csrf::CsrfLayer::new().with_rejection_response(error::csrf_rejection))
        // On every response: no framing (clickjacking), no content sniffing, no referrer to other
        // sites, and nothing kept by caches unless a route says otherwise (an answer may hold a
        // secret shown once: a new token, an integration key).
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, deny_framing))
        .layer(header_if_missing(header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"))
        .layer(header_if_missing(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_if_missing(header::REFERRER_POLICY, "same-origin"))
        .layer(header_if_missing(header::CACHE_CONTROL, "no-store"))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(error::panic_response))
        .with_state(state.clone());
    // A page's custom domain is chosen before routing (a layer on a router runs after it).
    let domains = axum::middleware::from_fn_with_state(state, status::domains::rewrite);
    Router::new().fallback_service(tower::Layer::layer(&domains, app))
}

/// `X-Frame-Options: DENY` unless the route chose its own `frame-ancestors` (the status widget).
fn deny_framing<B>(res: &axum::http::Response<B>) -> Option<HeaderValue> {
    (!res.headers().contains_key(header::CONTENT_SECURITY_POLICY)).then(|| HeaderValue::from_static("DENY"))
}

fn header_if_missing(name: header::HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

pub use server::serve;
