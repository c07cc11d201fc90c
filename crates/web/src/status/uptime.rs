//! `/status/{slug}/uptime`: a page's uptime history, three calendar months at a time, a square
//! per day per component (UTC days, as the daily rollups are kept). Days without a counted check
//! are "no data", never up. `?page=1` is the three months before, and so on, as far back as the
//! daily rollups are kept. Renderings are reused for a minute ([`UptimeCache`]).

use super::{access, snapshot};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::status_pages::{Day, uptime_history};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Months, NaiveDate};
use opsdeck_core::Entity;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Renderings by (slug, page), reused for [`REUSE`]: the days shown change once a day, and a
/// storm of visitors then costs no database work. Bounded: only existing pages are stored, and
/// it starts afresh past [`CACHE_MAX`] entries.
#[derive(Default)]
pub struct UptimeCache {
    entries: Mutex<HashMap<(String, u32), (Instant, Bytes)>>,
}

const REUSE: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = opsdeck_store::status_page::MAX_PAGES as usize * (PAGE_MAX as usize + 1);

impl UptimeCache {
    fn get(&self, slug: &str, page: u32) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(&(slug.to_owned(), page)).filter(|(at, _)| at.elapsed() < REUSE).map(|(_, b)| b.clone())
    }

    fn put(&self, slug: &str, page: u32, body: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CACHE_MAX {
            entries.clear();
        }
        entries.insert((slug.to_owned(), page), (Instant::now(), body));
    }

    /// Drops a page's renderings (its access or settings changed).
    pub fn forget(&self, slug: &str) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).retain(|(s, _), _| s != slug);
    }
}

/// How far back a visitor may page (10 years of three months): beyond it nothing is kept.
pub const PAGE_MAX: u32 = 39;
const MONTHS_PER_PAGE: u32 = 3;

#[derive(serde::Deserialize)]
pub struct UptimeQuery {
    page: Option<String>,
}

/// One day square; `None` fills the calendar's first week before the 1st.
struct Cell {
    class: &'static str,
    label: String,
}

struct Month {
    name: String,
    uptime: String,
    /// Leading blanks (Monday first), then a cell per day up to today.
    blanks: usize,
    cells: Vec<Cell>,
}

struct ComponentRow {
    name: String,
    months: Vec<Month>,
}

#[derive(Template)]
#[template(path = "status/uptime.html")]
struct UptimePage {
    slug: String,
    title: String,
    accent: Option<String>,
    span: String,
    rows: Vec<ComponentRow>,
    earlier: Option<u32>,
    later: Option<u32>,
}

fn parse_page(q: &UptimeQuery) -> Result<u32, ApiError> {
    match q.page.as_deref().map(str::trim) {
        None | Some("") => Ok(0),
        Some(p) => p
            .parse::<u32>()
            .ok()
            .filter(|p| *p <= PAGE_MAX)
            .ok_or_else(|| ApiError::invalid("page", format!("must be a whole number from 0 to {PAGE_MAX}"))),
    }
}

fn percent(days: &[Day]) -> String {
    let (checks, failures) = days.iter().fold((0i64, 0i64), |(c, f), d| match d {
        Day::NoData => (c, f),
        Day::Checked { checks, failures } => (c.saturating_add(*checks), f.saturating_add(*failures)),
    });
    if checks == 0 {
        return "no data".into();
    }
    format!("{:.2} % uptime", 100.0 * (checks - failures) as f64 / checks as f64)
}

fn cell(date: NaiveDate, day: Day) -> Cell {
    let when = date.format("%b %-d, %Y");
    match day {
        Day::NoData => Cell { class: "c-empty", label: format!("{when}: no data") },
        Day::Checked { checks, failures } => {
            let u = day.uptime().unwrap_or(0.0);
            Cell {
                class: crate::ui::charts::day_class(u),
                label: format!("{when}: {u:.2} % ({failures} of {checks} checks failed)"),
            }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<UptimeQuery>,
    headers: HeaderMap,
) -> Response {
    match render(&state, &slug, &q, &headers).await {
        Ok(r) => r,
        Err(e) => crate::ui::error_page(&e),
    }
}

async fn render(state: &AppState, slug: &str, q: &UptimeQuery, headers: &HeaderMap) -> Result<Response, ApiError> {
    let snap = snapshot(state, slug, headers).await?;
    if !snap.granted {
        return Ok(access::refused(&snap, true));
    }
    let n = parse_page(q)?;
    let private = snap.access.is_private();
    let cache = HeaderValue::from_static(if private { "private, max-age=60" } else { "public, max-age=60" });
    let html = HeaderValue::from_static("text/html; charset=utf-8");
    let body = match state.status_pages.uptime.get(slug, n) {
        Some(body) => body,
        None => {
            let body = Bytes::from(build(state, slug, n).await?);
            state.status_pages.uptime.put(slug, n, body.clone());
            body
        }
    };
    Ok(([(header::CONTENT_TYPE, html), (header::CACHE_CONTROL, cache)], body).into_response())
}

/// The history page `n` of `slug`, rendered.
async fn build(state: &AppState, slug: &str, n: u32) -> Result<String, ApiError> {
    let page = state.db.get_status_page_by_slug(slug).await.map_err(|e| match e {
        opsdeck_store::StoreError::NotFound(_) => ApiError::not_found(Entity::StatusPage),
        e => e.into(),
    })?;
    let today = state.now().date_naive();
    let this_month = today.with_day(1).unwrap_or(today);
    let back = |m: u32| this_month.checked_sub_months(Months::new(m));
    let newest = back(n * MONTHS_PER_PAGE).ok_or_else(|| ApiError::invalid("page", "is too far back"))?;
    let oldest =
        back(n * MONTHS_PER_PAGE + MONTHS_PER_PAGE - 1).ok_or_else(|| ApiError::invalid("page", "is too far back"))?;
    let end = newest.checked_add_months(Months::new(1)).and_then(|d| d.pred_opt()).unwrap_or(newest).min(today);
    let history = uptime_history(state, &page, oldest, end).await?;
    let months: Vec<NaiveDate> = (0..MONTHS_PER_PAGE).rev().filter_map(|i| back(n * MONTHS_PER_PAGE + i)).collect();
    let rows = page
        .components
        .iter()
        // Only what checks measure: a component set by hand or following a vendor has no days.
        .filter(|c| !c.is_group && !c.only_show_if_degraded && (c.service_id.is_some() || !c.monitor_ids.is_empty()))
        .filter_map(|c| Some((c, history.get(&c.id)?)))
        .map(|(c, days)| ComponentRow {
            name: c.name.clone(),
            months: months
                .iter()
                .map(|first| {
                    let last = first.checked_add_months(Months::new(1)).and_then(|d| d.pred_opt()).unwrap_or(*first);
                    let span: Vec<(NaiveDate, Day)> = first
                        .iter_days()
                        .take_while(|d| *d <= last.min(today))
                        .filter_map(|d| {
                            let i = usize::try_from((d - oldest).num_days()).ok()?;
                            Some((d, days.get(i).copied().unwrap_or(Day::NoData)))
                        })
                        .collect();
                    let only: Vec<Day> = span.iter().map(|(_, d)| *d).collect();
                    Month {
                        name: first.format("%B %Y").to_string(),
                        uptime: percent(&only),
                        blanks: first.weekday().num_days_from_monday() as usize,
                        cells: span.into_iter().map(|(d, day)| cell(d, day)).collect(),
                    }
                })
                .collect(),
        })
        .collect();
    let body = UptimePage {
        slug: page.slug.clone(),
        title: page.title.clone(),
        accent: page.accent_color.clone(),
        span: format!(
            "{} – {}",
            months.first().map(|d| d.format("%B %Y").to_string()).unwrap_or_default(),
            months.last().map(|d| d.format("%B %Y").to_string()).unwrap_or_default()
        ),
        rows,
        earlier: (n < PAGE_MAX).then_some(n + 1),
        later: n.checked_sub(1),
    }
    .render()
    .map_err(|_| ApiError::internal())?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bounded_and_named_when_wrong() {
        let q = |p: &str| UptimeQuery { page: Some(p.into()) };
        assert_eq!(parse_page(&UptimeQuery { page: None }).ok(), Some(0));
        assert_eq!(parse_page(&q("2")).ok(), Some(2));
        for bad in ["-1", "40", "abc", "99999999999999"] {
            assert!(parse_page(&q(bad)).is_err(), "{bad}");
        }
        assert_eq!(percent(&[Day::NoData, Day::NoData]), "no data");
        assert_eq!(percent(&[Day::Checked { checks: 4, failures: 1 }, Day::NoData]), "75.00 % uptime");
    }
}
