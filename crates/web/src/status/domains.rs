//! Pages served at a custom domain. A request whose `Host` is a page's custom domain is
//! rewritten before routing: `/` to `/status/{slug}`, and the page's other paths (`/api/v2/…`,
//! `/feed.atom`, `/uptime`, …) to the same path under it; anything else (the stylesheet, the
//! app) is left as it is. The map of domains is read again at most every `status_refresh`.

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Paths of a page that its custom domain serves from its root.
const PAGE_PATHS: [&str; 11] = [
    "/api/v2/",
    "/feed.atom",
    "/feed.rss",
    "/embed",
    "/badge.svg",
    "/uptime.svg",
    "/uptime",
    "/components/",
    "/subscribe",
    "/subscriptions/",
    "/unlock",
];

/// Custom domain → page slug.
type DomainMap = Arc<HashMap<String, String>>;

/// Custom domains and their pages' slugs, as read last (and when).
#[derive(Default)]
pub struct Domains {
    map: Mutex<Option<(Instant, DomainMap)>>,
}

impl Domains {
    async fn current(&self, state: &AppState) -> DomainMap {
        let max_age = state.config.status_refresh;
        let cached = self.map.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some((at, map)) = &cached
            && at.elapsed() < max_age
        {
            return map.clone();
        }
        let map = match state.db.status_page_domains().await {
            Ok(rows) => Arc::new(rows.into_iter().collect::<HashMap<_, _>>()),
            Err(e) => {
                // Keep serving what was known; the next request tries again.
                tracing::warn!(error = %e, "reading status page domains failed");
                return cached.map(|(_, m)| m).unwrap_or_default();
            }
        };
        *self.map.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), map.clone()));
        map
    }

    /// Forgets the map (a page's domain changed: that must not wait for the next read).
    pub fn forget(&self) {
        *self.map.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// The request's host name, lower case, without a port.
fn host(req: &Request) -> Option<String> {
    let raw = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).or_else(|| req.uri().host())?;
    let name = match raw.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => raw,
    };
    Some(name.trim_end_matches('.').to_ascii_lowercase())
}

/// Where `uri` goes on the page `slug`, when it is one of the page's paths.
fn page_uri(slug: &str, uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let inner = if path == "/" {
        format!("/status/{slug}")
    } else if PAGE_PATHS.iter().any(|p| path.starts_with(p)) {
        format!("/status/{slug}{path}")
    } else {
        return None;
    };
    let with_query = match uri.query() {
        Some(q) => format!("{inner}?{q}"),
        None => inner,
    };
    with_query.parse().ok()
}

pub async fn rewrite(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(name) = host(&req) {
        let map = state.status_pages.domains.current(&state).await;
        if let Some(uri) = map.get(&name).and_then(|slug| page_uri(slug, req.uri())) {
            *req.uri_mut() = uri;
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_paths_go_under_the_page_and_the_rest_stays() {
        let go = |u: &str| page_uri("acme", &u.parse::<Uri>().unwrap_or_default()).map(|u| u.to_string());
        assert_eq!(go("/").as_deref(), Some("/status/acme"));
        assert_eq!(go("/api/v2/summary.json").as_deref(), Some("/status/acme/api/v2/summary.json"));
        assert_eq!(go("/uptime?page=2").as_deref(), Some("/status/acme/uptime?page=2"));
        assert_eq!(go("/static/app.css"), None);
        assert_eq!(go("/login"), None);
    }
}
