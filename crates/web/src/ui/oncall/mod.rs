//! On-call pages: schedules (layers, overrides, a visual timeline of the next two weeks with
//! gaps flagged), escalation policies, broadcast channels with a test button, and a person's
//! own contact methods and notification rules.

use super::{Chrome, PageAuth, abs, done, error_page, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::oncall::{self as op, OnCall};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use opsdeck_core::Entity;
use opsdeck_core::escalation::{
    ChannelConfig, ChannelKind, ChannelSpec, ContactSpec, Level, PolicySpec, RuleSpec, Target, TargetKind,
};
use opsdeck_core::oncall::{self, Layer, Length, OverrideSpec, Restriction, ScheduleSpec, Shift};
use opsdeck_store::oncall::Schedule;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt::Write;
use uuid::Uuid;

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

async fn people(state: &AppState) -> Result<Vec<(Uuid, String)>, ApiError> {
    Ok(state
        .db
        .list_users(None, None, Some(500))
        .await?
        .items
        .into_iter()
        .filter(|u| !u.disabled)
        .map(|u| (u.id, u.username))
        .collect())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const PALETTE: usize = 8;

/// Rows of shifts over `[from, to)` as SVG: each layer, the overrides, and the final schedule
/// with gaps in red. Colours follow the person (`.p0`…`.p7`).
fn timeline_svg(
    rows: &[(String, Vec<Shift>)],
    names: &HashMap<Uuid, String>,
    order: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> String {
    let (label_w, w, row_h) = (130.0, 900.0, 26.0);
    let span = (to - from).num_seconds().max(1) as f64;
    let h = 22.0 + rows.len() as f64 * row_h;
    let x = |t: DateTime<Utc>| label_w + (w - label_w) * ((t - from).num_seconds() as f64 / span).clamp(0.0, 1.0);
    let mut s =
        format!("<svg class=\"chart oncall\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"On-call timeline\">");
    // Day ticks, labelled in the schedule's zone.
    let mut day = from.with_timezone(&tz).date_naive();
    while let Some(t) =
        tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default()).earliest().map(|d| d.with_timezone(&Utc))
    {
        if t >= to {
            break;
        }
        if t >= from {
            let _ = write!(
                s,
                "<line class=\"tick\" x1=\"{0:.1}\" y1=\"14\" x2=\"{0:.1}\" y2=\"{h}\"/><text \
                 class=\"lbl\" x=\"{1:.1}\" y=\"11\">{2}</text>",
                x(t),
                x(t) + 2.0,
                day.format("%a %d")
            );
        }
        day += Duration::days(1);
    }
    for (i, (label, shifts)) in rows.iter().enumerate() {
        let y = 18.0 + i as f64 * row_h;
        let _ = write!(s, "<text class=\"lbl rowlbl\" x=\"0\" y=\"{:.1}\">{}</text>", y + 15.0, esc(label));
        for sh in shifts {
            let (x0, x1) = (x(sh.start), x(sh.end));
            let when = format!(
                "{} – {}",
                sh.start.with_timezone(&tz).format("%a %d %b %H:%M"),
                sh.end.with_timezone(&tz).format("%a %d %b %H:%M %Z")
            );
            match sh.user_id {
                Some(u) => {
                    let name = names.get(&u).cloned().unwrap_or_else(|| "?".into());
                    let c = order.iter().position(|o| *o == u).unwrap_or(0) % PALETTE;
                    let _ = write!(
                        s,
                        "<rect class=\"shift p{c}\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" \
                         height=\"{:.1}\" rx=\"3\"><title>{}: {}</title></rect>",
                        (x1 - x0).max(1.0),
                        row_h - 6.0,
                        esc(&name),
                        when
                    );
                    if x1 - x0 > 8.0 * name.len() as f64 {
                        let _ = write!(
                            s,
                            "<text class=\"who\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                            x0 + 4.0,
                            y + 14.0,
                            esc(&name)
                        );
                    }
                }
                None if label == "Final" => {
                    let _ = write!(
                        s,
                        "<rect class=\"gap\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" \
                         height=\"{:.1}\"><title>Nobody on call: {when}</title></rect>",
                        (x1 - x0).max(1.0),
                        row_h - 6.0
                    );
                }
                None => {}
            }
        }
    }
    s.push_str("</svg>");
    s
}

mod channels;
mod mine;
mod policies;
mod schedules;
pub(crate) use channels::*;
pub(crate) use mine::*;
pub(crate) use policies::*;
pub(crate) use schedules::*;
