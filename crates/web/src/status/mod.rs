//! Public status pages, readable without signing in: `/status/{slug}` (server-rendered HTML,
//! no JavaScript needed) and statuspage.io's public API v2 under `/status/{slug}/api/v2/`.
//!
//! What a page shows is computed by [`operations::status_pages::live`] and rendered once into
//! every format; the rendering is reused for `WebConfig::status_refresh` (2 s by default), so a
//! visitor storm costs no database work. Answers carry an ETag (a repeat visit gets 304) and
//! `Cache-Control: public, max-age=2`, so a change reaches a visitor within about 4 s.

mod access;
pub mod domains;
pub use access::{PASSWORD_MAX, PASSWORD_MIN};
mod feed;
mod json;
mod subscribe;
mod uptime;

use crate::AppState;
use crate::error::ApiError;
use crate::operations;
use crate::operations::status_pages::{Day, LiveComponent, LivePage};
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opsdeck_core::Entity;
use opsdeck_core::status_maintenance::MaintenanceStatus;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/status/{slug}", get(html))
        .route("/status/{slug}/api/v2/{*doc}", get(api_doc))
        .route("/status/{slug}/feed.rss", get(rss))
        .route("/status/{slug}/feed.atom", get(atom))
        .route("/status/{slug}/embed", get(embed))
        .route("/status/{slug}/uptime", get(uptime::page))
        .route("/status/{slug}/badge.svg", get(page_badge))
        .route("/status/{slug}/uptime.svg", get(page_uptime))
        .route("/status/{slug}/components/{id}/badge.svg", get(component_badge))
        .route("/status/{slug}/components/{id}/uptime.svg", get(component_uptime))
        .route("/status/{slug}/unlock", axum::routing::post(access::unlock))
        .merge(subscribe::router())
}

/// One page rendered in every format at one moment.
pub struct Snapshot {
    rendered: Instant,
    title: String,
    slug: String,
    /// Who may read it.
    access: access::Access,
    etag: HeaderValue,
    html: Bytes,
    /// The page gzipped once per rendering (about a tenth of the size: uptime bars repeat).
    html_gz: Bytes,
    /// statuspage.io's documents by their path under `api/v2/`.
    docs: HashMap<&'static str, Bytes>,
    rss: Bytes,
    atom: Bytes,
    embed: Bytes,
    /// The page's indicator and uptime over the days with data, for badges.
    indicator: opsdeck_core::status_page::Indicator,
    uptime: Option<f64>,
    /// Each visible component's status and uptime, for badges.
    components: HashMap<uuid::Uuid, (opsdeck_core::status_page::ComponentStatus, Option<f64>)>,
}

/// The statuspage.io documents a page serves.
pub const DOCS: [&str; 8] = [
    "summary.json",
    "status.json",
    "components.json",
    "incidents.json",
    "incidents/unresolved.json",
    "scheduled-maintenances.json",
    "scheduled-maintenances/upcoming.json",
    "scheduled-maintenances/active.json",
];

/// Rendered pages by slug. Bounded: there are at most `MAX_PAGES` pages, and an unknown slug
/// is never stored.
#[derive(Default)]
pub struct SnapshotCache {
    entries: std::sync::Mutex<HashMap<String, Arc<Snapshot>>>,
    /// One rendering at a time, so a storm of visitors to an expired page renders it once.
    refresh: tokio::sync::Mutex<()>,
    /// Custom domains of pages ([`domains`]).
    pub domains: domains::Domains,
    /// The monthly uptime history's renderings ([`uptime`]).
    uptime: uptime::UptimeCache,
}

impl SnapshotCache {
    fn fresh(&self, slug: &str, max_age: std::time::Duration) -> Option<Arc<Snapshot>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(slug).filter(|s| s.rendered.elapsed() < max_age).cloned()
    }

    /// Drops a page's rendering (its access changed: that must not wait for the next one).
    pub fn forget(&self, slug: &str) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(slug);
        self.uptime.forget(slug);
    }

    fn put(&self, slug: &str, snap: Arc<Snapshot>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= opsdeck_store::status_page::MAX_PAGES as usize * 2 {
            entries.clear();
        }
        entries.insert(slug.to_owned(), snap);
    }
}

/// The page's current rendering; `headers` name the host for absolute links when no public URL
/// is configured.
async fn snapshot(state: &AppState, slug: &str, headers: &HeaderMap) -> Result<Seen, ApiError> {
    let snap = rendering(state, slug, headers).await?;
    let granted = access::granted(state, headers, &snap.access).await;
    Ok(Seen { snap, granted })
}

/// A rendering and whether this request may read it.
pub struct Seen {
    snap: Arc<Snapshot>,
    granted: bool,
}

impl std::ops::Deref for Seen {
    type Target = Snapshot;
    fn deref(&self) -> &Snapshot {
        &self.snap
    }
}

async fn rendering(state: &AppState, slug: &str, headers: &HeaderMap) -> Result<Arc<Snapshot>, ApiError> {
    let max_age = state.config.status_refresh;
    if let Some(s) = state.status_pages.fresh(slug, max_age) {
        return Ok(s);
    }
    let _one = state.status_pages.refresh.lock().await;
    if let Some(s) = state.status_pages.fresh(slug, max_age) {
        return Ok(s);
    }
    let page = match state.db.get_status_page_by_slug(slug).await {
        Ok(p) => p,
        Err(opsdeck_store::StoreError::NotFound(_)) => return Err(ApiError::not_found(Entity::StatusPage)),
        Err(e) => return Err(e.into()),
    };
    let live = operations::status_pages::live(state, page).await?;
    let snap = Arc::new(render(state, &live, headers).await?);
    state.status_pages.put(slug, snap.clone());
    Ok(snap)
}

async fn render(state: &AppState, live: &LivePage, headers: &HeaderMap) -> Result<Snapshot, ApiError> {
    let url = format!("{}/status/{}", operations::settings::base_url(state, headers).await, live.page.slug);
    let page = json::page(live, &url);
    let status = json::status(live);
    let comps = json::components(live);
    let unresolved: Vec<json::Incident> =
        live.unresolved.iter().map(|i| json::incident(live, &comps, &url, i)).collect();
    let recent: Vec<json::Incident> = live.recent.iter().map(|i| json::incident(live, &comps, &url, i)).collect();
    let maintenances: Vec<(MaintenanceStatus, json::Incident)> =
        live.maintenances.iter().map(|m| (m.status, json::maintenance(live, &comps, &url, m))).collect();
    let maint = |keep: fn(MaintenanceStatus) -> bool| {
        maintenances.iter().filter(|m| keep(m.0)).map(|m| &m.1).collect::<Vec<_>>()
    };
    let page = &page;
    let mut docs: HashMap<&'static str, Bytes> = HashMap::new();
    docs.insert("status.json", to_json(&json::StatusDoc { page, status })?);
    docs.insert(
        "summary.json",
        to_json(&json::SummaryDoc {
            page,
            components: &comps,
            incidents: &unresolved,
            scheduled_maintenances: maint(|s| s != MaintenanceStatus::Completed),
            status,
        })?,
    );
    docs.insert("components.json", to_json(&json::ComponentsDoc { page, components: &comps })?);
    docs.insert("incidents.json", to_json(&json::IncidentsDoc { page, incidents: &recent })?);
    docs.insert("incidents/unresolved.json", to_json(&json::IncidentsDoc { page, incidents: &unresolved })?);
    let all = json::MaintenancesDoc { page, scheduled_maintenances: maint(|_| true) };
    docs.insert("scheduled-maintenances.json", to_json(&all)?);
    let upcoming = json::MaintenancesDoc { page, scheduled_maintenances: maint(|s| s == MaintenanceStatus::Scheduled) };
    docs.insert("scheduled-maintenances/upcoming.json", to_json(&upcoming)?);
    let active = json::MaintenancesDoc { page, scheduled_maintenances: maint(|s| s == MaintenanceStatus::InProgress) };
    docs.insert("scheduled-maintenances/active.json", to_json(&active)?);
    let public = PublicPage::new(live);
    let html = public.render().map_err(|_| ApiError::internal())?;
    let embed = EmbedPage { p: &public, url: &url }.render().map_err(|_| ApiError::internal())?;
    let entries = feed::entries(live, &url);
    let rss = feed::rss(live, &url, &entries)?;
    let atom = feed::atom(live, &url, &entries)?;
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&html, &mut hasher);
    std::hash::Hash::hash(&atom, &mut hasher);
    for d in DOCS {
        std::hash::Hash::hash(&docs.get(d), &mut hasher);
    }
    let etag = HeaderValue::from_str(&format!("\"{:016x}\"", std::hash::Hasher::finish(&hasher)))
        .map_err(|_| ApiError::internal())?;
    let (checks, failures) =
        live.components.iter().flat_map(|c| c.days.iter()).fold((0i64, 0i64), |(c, f), d| match d {
            Day::NoData => (c, f),
            Day::Checked { checks, failures } => (c.saturating_add(*checks), f.saturating_add(*failures)),
        });
    let html_gz = gzip(html.as_bytes())?;
    Ok(Snapshot {
        html_gz,
        rendered: Instant::now(),
        title: live.page.title.clone(),
        slug: live.page.slug.clone(),
        access: access::access_of(state, &live.page).await?,
        etag,
        html: html.into(),
        docs,
        rss: rss.into(),
        atom: atom.into(),
        embed: embed.into(),
        indicator: live.indicator,
        uptime: (checks > 0).then(|| 100.0 * (checks - failures) as f64 / checks as f64),
        components: live
            .components
            .iter()
            .filter(|c| live.shown(c))
            .map(|c| (c.component.id, (c.status, c.uptime())))
            .collect(),
    })
}

fn gzip(bytes: &[u8]) -> Result<Bytes, ApiError> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 8), flate2::Compression::default());
    enc.write_all(bytes).map_err(|_| ApiError::internal())?;
    enc.finish().map(Into::into).map_err(|_| ApiError::internal())
}

/// Whether the client takes gzip (`Accept-Encoding: gzip`, not with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |t| {
            let mut parts = t.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused =
                parts.any(|p| matches!(p.trim().strip_prefix("q="), Some(q) if q.trim().parse::<f32>() == Ok(0.0)));
            name.eq_ignore_ascii_case("gzip") && !refused
        },
    )
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(v).map(Into::into).map_err(|_| ApiError::internal())
}

/// The answer for one format: 304 when the visitor has this rendering already; a private
/// page's password form (or 401) without its access cookie.
fn answer(headers: &HeaderMap, snap: &Seen, content_type: &'static str, body: &Bytes, cors: bool) -> Response {
    if !snap.granted {
        return access::refused(snap, content_type.starts_with("text/html"));
    }
    // A private page is kept by the visitor's browser only, and not read across origins.
    let private = snap.access.is_private();
    let cache = HeaderValue::from_static(if private { "private, max-age=2" } else { "public, max-age=2" });
    let cors = cors && !private;
    let mut res = if headers.get(header::IF_NONE_MATCH) == Some(&snap.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body.clone()).into_response()
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, snap.etag.clone());
    h.insert(header::CACHE_CONTROL, cache);
    if cors {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    res
}

async fn html(State(state): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    match snapshot(&state, &slug, &headers).await {
        Ok(s) => {
            let gz = accepts_gzip(&headers);
            let mut res =
                answer(&headers, &s, "text/html; charset=utf-8", if gz { &s.html_gz } else { &s.html }, false);
            res.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            if gz && res.status() == StatusCode::OK {
                res.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            res
        }
        Err(e) => crate::ui::error_page(&e),
    }
}

async fn rss(State(state): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    match snapshot(&state, &slug, &headers).await {
        Ok(s) => answer(&headers, &s, "application/rss+xml; charset=utf-8", &s.rss, true),
        Err(e) => e.into_response(),
    }
}

async fn atom(State(state): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    match snapshot(&state, &slug, &headers).await {
        Ok(s) => answer(&headers, &s, "application/atom+xml; charset=utf-8", &s.atom, true),
        Err(e) => e.into_response(),
    }
}

/// The page part other sites may frame: its own `frame-ancestors *` replaces the default
/// `'none'` (and so the `X-Frame-Options: DENY` every other answer carries).
async fn embed(State(state): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    match snapshot(&state, &slug, &headers).await {
        Ok(s) => {
            let mut res = answer(&headers, &s, "text/html; charset=utf-8", &s.embed, false);
            res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors *"));
            res
        }
        Err(e) => crate::ui::error_page(&e),
    }
}

/// An SVG badge; badges are fetched by other sites' pages (READMEs, wikis), so CORS is open.
fn svg(headers: &HeaderMap, snap: &Seen, body: Result<String, ApiError>) -> Response {
    match body {
        Ok(b) => answer(headers, snap, "image/svg+xml", &Bytes::from(b), true),
        Err(e) => e.into_response(),
    }
}

fn uptime_text(u: Option<f64>) -> String {
    u.map_or_else(|| "no data".to_owned(), |u| format!("{u:.2}%"))
}

async fn page_badge(State(state): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    match snapshot(&state, &slug, &headers).await {
        Ok(s) => {
            let badge = feed::badge("status", s.indicator.description(), feed::indicator_colour(s.indicator));
            svg(&headers, &s, badge)
        }
        Err(e) => e.into_response(),
    }
}

async fn page_uptime(State(state): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    match snapshot(&state, &slug, &headers).await {
        Ok(s) => svg(&headers, &s, feed::badge("uptime", &uptime_text(s.uptime), feed::uptime_colour(s.uptime))),
        Err(e) => e.into_response(),
    }
}

/// A visible component's status and uptime (a hidden or unknown one is a 404).
async fn component(
    state: &AppState,
    slug: &str,
    id: &str,
    headers: &HeaderMap,
) -> Result<(Seen, opsdeck_core::status_page::ComponentStatus, Option<f64>), ApiError> {
    let snap = snapshot(state, slug, headers).await?;
    let id = uuid::Uuid::parse_str(id)
        .map_err(|_| ApiError::invalid("id", "a component id is a UUID, as components.json lists it"))?;
    let (status, uptime) = *snap.components.get(&id).ok_or_else(|| ApiError::not_found(Entity::StatusPage))?;
    Ok((snap, status, uptime))
}

async fn component_badge(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match component(&state, &slug, &id, &headers).await {
        Ok((s, status, _)) => svg(&headers, &s, feed::badge("status", status.label(), feed::status_colour(status))),
        Err(e) => e.into_response(),
    }
}

async fn component_uptime(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match component(&state, &slug, &id, &headers).await {
        Ok((s, _, u)) => svg(&headers, &s, feed::badge("uptime", &uptime_text(u), feed::uptime_colour(u))),
        Err(e) => e.into_response(),
    }
}

async fn api_doc(
    State(state): State<AppState>,
    Path((slug, doc)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !DOCS.contains(&doc.as_str()) {
        let e = ApiError::new(
            crate::error::ErrorCode::RouteNotFound,
            format!("no document api/v2/{doc}; there are {}", DOCS.join(", ")),
        );
        return e.into_response();
    }
    match snapshot(&state, &slug, &headers).await {
        Ok(s) => match s.docs.get(doc.as_str()) {
            Some(body) => answer(&headers, &s, "application/json", body, true),
            None => ApiError::internal().into_response(),
        },
        Err(e) => e.into_response(),
    }
}

/// A component row of the public page.
struct Row {
    name: String,
    description: String,
    status: &'static str,
    label: &'static str,
    /// Members of a group (empty for a component).
    members: Vec<Row>,
    /// The uptime bars and figure (components with monitors only).
    bars: Option<String>,
    uptime: Option<String>,
}

impl Row {
    fn new(live: &LivePage, c: &LiveComponent) -> Row {
        let per_day: Vec<Option<(f64, i64)>> = c
            .days
            .iter()
            .map(|d| match d {
                Day::NoData => None,
                Day::Checked { checks, .. } => d.uptime().map(|u| (u, *checks)),
            })
            .collect();
        let has_data = per_day.iter().any(Option::is_some);
        Row {
            name: c.component.name.clone(),
            description: c.component.description.clone(),
            status: c.status.as_str(),
            label: c.status.label(),
            members: if c.component.is_group {
                live.members(c.component.id).filter(|m| m.visible()).map(|m| Row::new(live, m)).collect()
            } else {
                Vec::new()
            },
            bars: has_data.then(|| crate::ui::charts::day_bars(&per_day, live.at)),
            uptime: c.uptime().map(|u| format!("{u:.2} %")),
        }
    }
}

/// A public incident or a maintenance as the page shows it.
struct Notice {
    anchor: String,
    name: String,
    /// `minor`, `major`, `critical`, `none` or `maintenance` (the banner colour).
    impact: &'static str,
    status: &'static str,
    /// Status label, text and time of each update, newest first.
    updates: Vec<(&'static str, String, String)>,
    /// For maintenance: when.
    window: Option<String>,
}

fn local(t: chrono::DateTime<chrono::Utc>, zone: chrono_tz::Tz) -> String {
    t.with_timezone(&zone).format("%b %-d, %H:%M %Z").to_string()
}

fn notice(i: &opsdeck_store::status_incident::PublicIncident, zone: chrono_tz::Tz) -> Notice {
    Notice {
        anchor: format!("incident-{}", i.id),
        name: i.name.clone(),
        impact: i.impact.as_str(),
        status: i.status.label(),
        updates: i.updates.iter().map(|u| (u.status.label(), u.body.clone(), local(u.created_at, zone))).collect(),
        window: None,
    }
}

/// The public page as `live` shows it, for the editor's preview (not cached, not public).
pub fn preview_html(live: &LivePage) -> Result<String, ApiError> {
    PublicPage::new(live).render().map_err(|_| ApiError::internal())
}

#[derive(Template)]
#[template(path = "status/public.html")]
struct PublicPage {
    slug: String,
    title: String,
    logo: Option<String>,
    links: Vec<opsdeck_core::status_page::FooterLink>,
    description: String,
    accent: Option<String>,
    indicator: &'static str,
    headline: &'static str,
    rows: Vec<Row>,
    updated: String,
    incidents: Vec<Notice>,
    maintenances: Vec<Notice>,
    /// Resolved incidents of the last days.
    history: Vec<Notice>,
    /// Components a visitor may subscribe to (id, name).
    choices: Vec<(uuid::Uuid, String)>,
}

#[derive(Template)]
#[template(path = "status/embed.html")]
struct EmbedPage<'a> {
    p: &'a PublicPage,
    url: &'a str,
}

/// Resolved incidents stay in the page's history this long.
const HISTORY_DAYS: i64 = 14;

impl PublicPage {
    fn new(live: &LivePage) -> PublicPage {
        let shown = live
            .components
            .iter()
            .filter(|c| c.component.group_id.is_none() && live.shown(c))
            .map(|c| Row::new(live, c))
            .collect();
        let zone: chrono_tz::Tz = live.page.time_zone.parse().unwrap_or(chrono_tz::UTC);
        PublicPage {
            slug: live.page.slug.clone(),
            title: live.page.title.clone(),
            logo: live.page.logo_url.clone(),
            links: live.page.footer_links.clone(),
            description: live.page.description.clone(),
            accent: live.page.accent_color.clone(),
            indicator: live.indicator.as_str(),
            headline: live.indicator.description(),
            rows: shown,
            updated: live.at.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z").to_string(),
            incidents: live.unresolved.iter().map(|i| notice(i, zone)).collect(),
            maintenances: live
                .maintenances
                .iter()
                .filter(|m| m.status != MaintenanceStatus::Completed)
                .map(|m| Notice {
                    anchor: format!("maintenance-{}", m.id),
                    name: m.name.clone(),
                    impact: "maintenance",
                    status: m.status.label(),
                    updates: m
                        .updates
                        .iter()
                        .map(|u| (u.status.label(), u.body.clone(), local(u.created_at, zone)))
                        .collect(),
                    window: Some(format!("{} – {}", local(m.scheduled_for, zone), local(m.scheduled_until, zone))),
                })
                .collect(),
            choices: live
                .components
                .iter()
                .filter(|c| !c.component.is_group && c.visible())
                .map(|c| (c.component.id, c.component.name.clone()))
                .collect(),
            history: live
                .recent
                .iter()
                .filter(|i| i.resolved_at.is_some_and(|r| live.at - r < chrono::Duration::days(HISTORY_DAYS)))
                .map(|i| notice(i, zone))
                .collect(),
        }
    }
}
