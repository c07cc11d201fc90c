//! The change calendar (month and week views, with its feed link), the maintenance and freeze
//! windows, and the approval rules.

use super::{Chrome, PageAuth, error_page};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::change_calendar as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use opsdeck_core::change::conflict::WindowKind;
use opsdeck_store::change::calendar::CalendarWindow;
use serde::Deserialize;

/// One entry of a day: a change or a window.
pub struct Entry {
    pub label: String,
    pub href: String,
    /// `chg`, `maintenance` or `freeze`.
    pub class: &'static str,
    pub title: String,
}

pub struct Day {
    pub date: NaiveDate,
    pub other_month: bool,
    pub today: bool,
    pub entries: Vec<Entry>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CalendarQuery {
    /// `2026-12`: that month.
    month: String,
    /// `2026-12-07`: the week of that day.
    week: String,
    notice: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "changes/calendar.html")]
pub struct CalendarPage {
    chrome: Chrome,
    title: String,
    weeks: Vec<Vec<Day>>,
    week_view: bool,
    prev: String,
    next: String,
    switch: String,
    feed_url: String,
    windows: Vec<CalendarWindow>,
    can_configure: bool,
    /// More changes fall in the view than it shows.
    truncated: bool,
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

fn monday(d: NaiveDate) -> NaiveDate {
    d - Days::new(u64::from(d.weekday().num_days_from_monday()))
}

pub async fn calendar(
    State(state): State<AppState>,
    auth: PageAuth,
    headers: axum::http::HeaderMap,
    Query(q): Query<CalendarQuery>,
) -> Response {
    let chrome = match auth.chrome(&state, "changes", q.notice.clone()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let today = state.now().date_naive();
    let week_view = !q.week.trim().is_empty();
    // Out-of-range or malformed dates fall back to today rather than failing the page.
    let parse_day = |s: &str| opsdeck_core::time::parse_date("week", s).ok();
    let (first, days, title, prev, next, switch) = if week_view {
        let start = monday(parse_day(&q.week).unwrap_or(today));
        let title = format!("Week of {}", start.format("%d %b %Y"));
        let prev = format!("?week={}", start - Days::new(7));
        let next = format!("?week={}", start + Days::new(7));
        (start, 7u64, title, prev, next, format!("?month={}", start.format("%Y-%m")))
    } else {
        let month = parse_day(&format!("{}-01", q.month.trim())).unwrap_or(today).with_day(1).unwrap_or(today);
        let start = monday(month);
        let next_month = month.checked_add_months(chrono::Months::new(1)).unwrap_or(month);
        let prev_month = month.checked_sub_months(chrono::Months::new(1)).unwrap_or(month);
        let weeks = u64::try_from((next_month - start).num_days()).unwrap_or(35).div_ceil(7).max(4);
        let this_month = today.year() == month.year() && today.month() == month.month();
        (
            start,
            weeks * 7,
            month.format("%B %Y").to_string(),
            format!("?month={}", prev_month.format("%Y-%m")),
            format!("?month={}", next_month.format("%Y-%m")),
            format!("?week={}", if this_month { today } else { month }),
        )
    };
    let month_of = first + Days::new(7);
    let (from, to) = (midnight(first), midnight(first + Days::new(days)));
    let base = crate::operations::settings::base_url(&state, &headers).await;
    let result = async {
        let cal = op::calendar(&state, &auth.0, from, to).await?;
        let feed = op::feed_url(&state, &auth.0, base.trim_end_matches('/')).await?;
        Ok::<_, ApiError>((cal.changes, cal.windows, cal.truncated, feed))
    }
    .await;
    let (changes, windows, truncated, feed_url) = match result {
        Ok(x) => x,
        Err(e) => return error_page(&e),
    };
    let mut all = Vec::new();
    for i in 0..days {
        let date = first + Days::new(i);
        let (d0, d1) = (midnight(date), midnight(date + Days::new(1)));
        let mut entries = Vec::new();
        for w in windows.iter().filter(|w| w.starts_at < d1 && w.ends_at > d0) {
            let class = if w.kind == WindowKind::Freeze { "freeze" } else { "maintenance" };
            let what = if w.kind == WindowKind::Freeze { "Freeze" } else { "Window" };
            entries.push(Entry {
                label: format!("{what}: {}", w.name),
                href: "/changes/windows".into(),
                class,
                title: w.name.clone(),
            });
        }
        for c in &changes {
            let start = c.actual_start.or(c.planned_start);
            let end = c.actual_end.or(c.planned_end).or(start);
            if let (Some(s), Some(e)) = (start, end)
                && s < d1
                && (e > d0 || (e == s && s >= d0))
            {
                entries.push(Entry {
                    label: format!("{} {}", c.key(), c.title),
                    href: format!("/changes/{}", c.number),
                    class: "chg",
                    title: format!("{} · {} · {} risk", c.title, c.state.as_str(), c.risk.level.as_str()),
                });
            }
        }
        let other_month = !week_view && date.month() != month_of.month();
        all.push(Day { date, other_month, today: date == today, entries });
    }
    let mut weeks = Vec::new();
    let mut days_left = all.into_iter();
    loop {
        let week: Vec<Day> = days_left.by_ref().take(7).collect();
        if week.is_empty() {
            break;
        }
        weeks.push(week);
    }
    CalendarPage {
        can_configure: chrome.can_configure,
        chrome,
        title,
        weeks,
        week_view,
        prev,
        next,
        switch,
        feed_url,
        windows: windows.into_iter().filter(|w| w.ends_at > state.now()).collect(),
        truncated,
    }
    .into_response()
}
