//! Small inline SVG charts rendered on the server: uptime bars, sparklines, latency charts,
//! daily uptime, and the on-call schedule timeline.
//! Colours come from CSS classes (`.c-up`, `.c-down`…) so themes apply; every mark has a
//! `<title>` for hover and screen readers.

use chrono::{DateTime, Duration, TimeZone, Utc};
use opsdeck_core::monitor::CheckStatus;
use opsdeck_core::oncall::Shift;
use opsdeck_store::monitor::{RawResult, Rollup};
use std::collections::HashMap;
use std::fmt::Write;
use uuid::Uuid;

/// Escapes text for HTML and SVG, in element content and in either kind of quoted attribute.
/// The one escape helper of the hand-built markup (templates escape by themselves).
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn class(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Up => "c-up",
        CheckStatus::Degraded => "c-degraded",
        CheckStatus::Down => "c-down",
        CheckStatus::Unknown => "c-unknown",
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// One bar per recent check, oldest left; empty slots when there are fewer than `slots`.
pub fn uptime_bar(newest_first: &[RawResult], slots: usize) -> String {
    let (w, gap, h) = (4.0, 1.5, 18.0);
    let width = slots as f64 * (w + gap);
    let mut s = format!(
        "<svg class='ubar' viewBox='0 0 {width} {h}' width='{width}' height='{h}' role='img' aria-label='last {slots} \
            checks'>"
    );
    let pad = slots.saturating_sub(newest_first.len());
    for i in 0..pad {
        let _ =
            write!(s, r#"<rect class="c-empty" x="{}" y="0" width="{w}" height="{h}" rx="1"/>"#, i as f64 * (w + gap));
    }
    for (j, r) in newest_first.iter().take(slots).rev().enumerate() {
        let x = (pad + j) as f64 * (w + gap);
        let lat = r.latency_ms.map(|l| format!(", {l:.0} ms")).unwrap_or_default();
        let _ = write!(
            s,
            r#"<rect class="{}" x="{x}" y="0" width="{w}" height="{h}" rx="1"><title>{} · {}{lat} · {}</title></rect>"#,
            class(r.status),
            when(r.at),
            r.status.as_str(),
            esc(&r.reason)
        );
    }
    s.push_str("</svg>");
    s
}

/// A latency line over recent checks, oldest left.
pub fn sparkline(newest_first: &[RawResult], width: f64, height: f64) -> String {
    let pts: Vec<f64> = newest_first.iter().rev().filter_map(|r| r.latency_ms).collect();
    let mut s = format!(
        "<svg class='spark' viewBox='0 0 {width} {height}' width='{width}' height='{height}' role='img' \
            aria-label='latency trend'>"
    );
    if pts.len() >= 2 {
        let max = pts.iter().cloned().fold(1.0_f64, f64::max);
        let step = width / (pts.len() - 1) as f64;
        let path: Vec<String> = pts
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * step, height - 1.0 - (v / max) * (height - 2.0)))
            .collect();
        let last = pts.last().copied().unwrap_or(0.0);
        let _ =
            write!(s, r#"<polyline points="{}"/><title>latest {last:.0} ms, max {max:.0} ms</title>"#, path.join(" "));
    }
    s.push_str("</svg>");
    s
}

/// A "nice" axis step (1, 2 or 5 × 10ⁿ) that spans `max` in about `ticks` steps.
pub fn nice_step(max: f64, ticks: f64) -> f64 {
    let raw = (max / ticks).max(1e-3);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A latency as people read it: `0.4 ms`, `38 ms`, `1.2 s`, with the decimals an axis step
/// needs (`step` 0 for a single value).
pub fn fmt_latency(ms: f64, step: f64) -> String {
    let (v, unit, step) =
        if ms >= 1000.0 || step >= 1000.0 { (ms / 1000.0, "s", step / 1000.0) } else { (ms, "ms", step) };
    let decimals = if step > 0.0 {
        if step >= 1.0 { 0 } else { ((-step.log10()).ceil() as usize).min(3) }
    } else if v >= 10.0 {
        0
    } else {
        1
    };
    format!("{v:.decimals$} {unit}")
}

/// Latency of recent checks with a nice-number axis in ms (or s), failures marked as red
/// columns; oldest left. The title gives the time range.
pub fn latency_chart(newest_first: &[RawResult]) -> String {
    let (w, h, left, bottom, top) = (720.0, 180.0, 56.0, 22.0, 8.0);
    let pts: Vec<&RawResult> = newest_first.iter().rev().collect();
    let label = match (pts.first(), pts.last()) {
        (Some(a), Some(b)) => format!(
            "latency of the last {} checks, {} to {}",
            pts.len(),
            a.at.format("%d %b %H:%M"),
            b.at.format("%d %b %H:%M UTC")
        ),
        _ => "latency: no recent check results".to_owned(),
    };
    let mut s = format!(r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}">"#, esc(&label));
    let _ = write!(s, "<title>{}</title>", esc(&label));
    let data_max = pts.iter().filter(|r| r.status.is_ok()).filter_map(|r| r.latency_ms).fold(0.0_f64, f64::max);
    let step = nice_step(data_max.max(0.001), 4.0);
    let max = (data_max / step).ceil().max(1.0) * step;
    let plot_w = w - left - 8.0;
    let plot_h = h - bottom - top;
    // No results, no scale: an axis of nothing would only suggest data.
    let ticks = if pts.is_empty() { -1 } else { (max / step).round() as i32 };
    for i in 0..=ticks {
        let v = step * f64::from(i);
        let y = top + plot_h - plot_h * v / max;
        let _ = write!(
            s,
            "<line class='grid' x1='{left}' x2='{}' y1='{y:.1}' y2='{y:.1}'/><text class='lbl' x='{}' y='{:.1}' \
                text-anchor='end'>{}</text>",
            w - 8.0,
            left - 6.0,
            y + 4.0,
            fmt_latency(v, step)
        );
    }
    if pts.is_empty() {
        let _ = write!(
            s,
            r#"<text class="lbl" x="{}" y="{}" text-anchor="middle">No recent check results</text>"#,
            left + plot_w / 2.0,
            top + plot_h / 2.0
        );
    } else {
        let step_x = if pts.len() > 1 { plot_w / (pts.len() - 1) as f64 } else { 0.0 };
        let mut line = Vec::new();
        for (i, r) in pts.iter().enumerate() {
            let x = if pts.len() > 1 { left + i as f64 * step_x } else { left + plot_w / 2.0 };
            match r.latency_ms {
                Some(l) if r.status.is_ok() => {
                    let y = top + plot_h - plot_h * l / max;
                    line.push(format!("{x:.1},{y:.1}"));
                    if pts.len() == 1 {
                        let _ = write!(s, "<circle class='dot' cx='{x:.1}' cy='{y:.1}' r='3'/>");
                    }
                }
                _ => {
                    let _ = write!(
                        s,
                        "<rect class='c-down fail' x='{:.1}' y='{top}' width='{:.1}' \
                            height='{plot_h:.1}'><title>{} · {} · {}</title></rect>",
                        x - step_x / 2.0,
                        step_x.max(2.0),
                        when(r.at),
                        r.status.as_str(),
                        esc(&r.reason)
                    );
                }
            }
        }
        let _ = write!(s, r#"<polyline class="line" points="{}"/>"#, line.join(" "));
        if let (Some(first), Some(last)) = (pts.first(), pts.last()) {
            let _ = write!(
                s,
                "<text class='lbl' x='{left}' y='{}'>{}</text><text class='lbl' x='{}' y='{}' \
                    text-anchor='end'>{}</text>",
                h - 4.0,
                first.at.format("%d %b %H:%M"),
                w - 8.0,
                h - 4.0,
                last.at.format("%d %b %H:%M UTC")
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The colour class of a day's uptime: green from 99.9 %, amber from 95 %, red below.
pub(crate) fn day_class(u: f64) -> &'static str {
    if u >= 99.9 {
        "c-up"
    } else if u >= 95.0 {
        "c-degraded"
    } else {
        "c-down"
    }
}

/// One bar per day (daily rollups) coloured by uptime, days without data shown as such, with
/// a legend and the range under it.
pub fn daily_bars(days: &[Rollup], now: DateTime<Utc>, n_days: i64) -> String {
    let today = now.timestamp().div_euclid(86_400);
    let per_day: Vec<Option<(f64, i64)>> = (0..n_days)
        .map(|i| {
            let day = today - (n_days - 1 - i);
            let r = days.iter().find(|r| r.bucket.timestamp().div_euclid(86_400) == day)?;
            Some((r.uptime()?, r.total))
        })
        .collect();
    day_bars(&per_day, now)
}

/// One bar per day, oldest first and the last one `today` (UTC days): each `(uptime %, checks)`
/// or `None` for a day without data, which is drawn as "no data", never as up.
pub fn day_bars(per_day: &[Option<(f64, i64)>], today: DateTime<Utc>) -> String {
    let (bw, gap, h) = (6.0, 2.0, 28.0);
    let n_days = per_day.len() as i64;
    let width = n_days as f64 * (bw + gap) - gap;
    let mut s = format!(
        "<figure class='days'><svg class='ubar days' viewBox='0 0 {width} {h}' role='img' \
            aria-label='daily uptime, last {n_days} days'>"
    );
    let today = today.timestamp().div_euclid(86_400);
    for (i, d) in per_day.iter().enumerate() {
        let day = today - (n_days - 1 - i as i64);
        let x = i as f64 * (bw + gap);
        let date =
            DateTime::from_timestamp(day * 86_400, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
        match d {
            Some((u, total)) => {
                let _ = write!(
                    s,
                    "<rect class='{}' x='{x}' y='0' width='{bw}' height='{h}' rx='1'><title>{date}: {u:.2}% of {total} \
                        checks</title></rect>",
                    day_class(*u),
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<rect class='c-empty' x='{x}' y='0' width='{bw}' height='{h}' rx='1'><title>{date}: no \
                        data</title></rect>"
                );
            }
        }
    }
    let _ = write!(
        s,
        "</svg><figcaption class='legend'><span>{n_days} days ago</span><span class='keys'>\
         <span><i class='c-up'></i>≥ 99.9 %</span><span><i class='c-degraded'></i>95–99.9 %</span>\
         <span><i class='c-down'></i>&lt; 95 %</span><span><i class='c-empty'></i>no data</span></span>\
         <span>today</span></figcaption></figure>"
    );
    s
}

/// Vertical columns with a label under each (e.g. incidents per week); labels thin out when
/// there are many columns.
pub fn column_chart(items: &[(String, i64)], what: &str) -> String {
    let (w, h, pad_b, pad_t) = (640.0, 160.0, 22.0, 14.0);
    let n = items.len().max(1) as f64;
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    let slot = w / n;
    let bar = (slot * 0.7).max(2.0);
    let every = (items.len() / 12).max(1);
    let mut s =
        format!("<svg class=\"chart columns\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">", esc(what));
    let _ = write!(s, "<line class=\"axis\" x1=\"0\" y1=\"{0}\" x2=\"{w}\" y2=\"{0}\"/>", h - pad_b);
    for (i, (label, v)) in items.iter().enumerate() {
        let bh = (h - pad_b - pad_t) * (*v as f64) / max;
        let x = i as f64 * slot + (slot - bar) / 2.0;
        let y = h - pad_b - bh;
        let _ = write!(
            s,
            "<rect class=\"c-bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" \
             height=\"{bh:.1}\"><title>{}: {v} {}</title></rect>",
            esc(label),
            esc(what)
        );
        if *v > 0 {
            let _ = write!(
                s,
                "<text class=\"val\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{v}</text>",
                x + bar / 2.0,
                y - 3.0
            );
        }
        if i % every == 0 {
            let _ = write!(
                s,
                "<text class=\"lbl\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                h - 6.0,
                esc(label)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars with the label on the left and the value on the right.
pub fn hbar_chart(items: &[(String, i64)]) -> String {
    let (w, row, label_w) = (420.0, 22.0, 150.0);
    let h = (items.len().max(1) as f64) * row;
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    let mut s = format!("<svg class=\"chart hbars\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"counts\">");
    for (i, (label, v)) in items.iter().enumerate() {
        let y = i as f64 * row;
        let bw = (w - label_w - 40.0) * (*v as f64) / max;
        let short: String = label.chars().take(22).collect();
        let _ = write!(
            s,
            "<text class=\"lbl\" x=\"0\" y=\"{:.1}\">{}</text><rect class=\"c-bar\" \
             x=\"{label_w}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\"><title>{}: \
             {v}</title></rect><text class=\"val\" x=\"{:.1}\" y=\"{:.1}\">{v}</text>",
            y + row * 0.68,
            esc(&short),
            y + 4.0,
            row - 8.0,
            esc(label),
            label_w + bw + 4.0,
            y + row * 0.68
        );
    }
    s.push_str("</svg>");
    s
}

/// Person colours in the schedule timeline (`.p0`…`.p7`).
const PALETTE: usize = 8;

/// Rows of shifts over `[from, to)` as SVG: each layer, the overrides, and the final schedule
/// with gaps in red. Colours follow the person (`.p0`…`.p7`).
pub fn schedule_timeline(
    rows: &[(String, Vec<Shift>)],
    names: &HashMap<Uuid, String>,
    order: &[Uuid],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
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
                    // The name when it fits, else the initials, so blocks stay named.
                    let initials: String = name.split_whitespace().filter_map(|w| w.chars().next()).take(3).collect();
                    let label = if x1 - x0 > 7.0 * name.chars().count() as f64 + 8.0 {
                        Some(name.as_str())
                    } else if x1 - x0 > 8.0 * initials.chars().count() as f64 + 6.0 {
                        Some(initials.as_str())
                    } else {
                        None
                    };
                    if let Some(label) = label {
                        let _ = write!(
                            s,
                            "<text class=\"who\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                            x0 + 4.0,
                            y + 14.0,
                            esc(label)
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
    if from <= now && now < to {
        // A line with a marker on top (a text label would sit on the day labels).
        let at = now.with_timezone(&tz).format("%a %d %b %H:%M %Z");
        let _ = write!(
            s,
            "<g class=\"now\"><title>Now: {at}</title><line x1=\"{0:.1}\" y1=\"14\" x2=\"{0:.1}\" y2=\"{h}\"/>\
             <path d=\"M{1:.1} 13 L{2:.1} 13 L{0:.1} 19 Z\"/></g>",
            x(now),
            x(now) - 5.0,
            x(now) + 5.0
        );
    }
    s.push_str("</svg>");
    s
}

/// An SLO's error budget burn-down: the share of the budget left at the end of each day of its
/// window (`None`: no checks yet), as a line from 100 % down, with the zero line and the ideal
/// straight burn (spending the budget evenly over the whole window of `days_total`).
pub fn burn_down(points: &[(String, Option<f64>)], days_total: usize) -> String {
    let (w, h, pad_l, pad_b, pad_t) = (640.0, 180.0, 44.0, 22.0, 10.0);
    let plot_h = h - pad_b - pad_t;
    let n = days_total.max(points.len()).max(2) as f64;
    let x = |i: f64| pad_l + (w - pad_l - 24.0) * i / (n - 1.0);
    // From 100 % at the top down to 0, or to −100 % when overspent (worse is drawn at the floor).
    let low = points.iter().filter_map(|p| p.1).fold(0.0_f64, f64::min).max(-1.0);
    let y = |v: f64| pad_t + plot_h * (1.0 - v.clamp(low, 1.0)) / (1.0 - low);
    let mut s = String::from(
        "<svg class=\"chart burn\" viewBox=\"0 0 640 180\" role=\"img\" aria-label=\"Error budget left by day\">",
    );
    let marks: &[(f64, &str)] = if low < 0.0 {
        &[(1.0, "100 %"), (0.0, "0 %"), (-1.0, "−100 %")]
    } else {
        &[(1.0, "100 %"), (0.5, "50 %"), (0.0, "0 %")]
    };
    for &(v, label) in marks {
        let _ = write!(
            s,
            "<line class=\"{3}\" x1=\"{pad_l}\" y1=\"{0:.1}\" x2=\"{w}\" y2=\"{0:.1}\"/>\
             <text class=\"lbl\" x=\"{1}\" y=\"{2:.1}\" text-anchor=\"end\">{label}</text>",
            y(v),
            pad_l - 4.0,
            y(v) + 4.0,
            if v == 0.0 { "axis zero" } else { "grid" },
        );
    }
    let _ = write!(
        s,
        "<line class=\"ideal\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\">\
         <title>spending the budget evenly</title></line>",
        x(0.0),
        y(1.0),
        x(n - 1.0),
        y(0.0)
    );
    let line: Vec<String> = points
        .iter()
        .enumerate()
        .filter_map(|(i, (_, v))| v.map(|v| format!("{:.1},{:.1}", x(i as f64), y(v))))
        .collect();
    if !line.is_empty() {
        let _ = write!(s, "<polyline class=\"budget\" points=\"{}\"/>", line.join(" "));
    }
    for (i, (label, v)) in points.iter().enumerate() {
        if let Some(v) = v {
            let _ = write!(
                s,
                "<circle class=\"pt\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"><title>{}: {:.1} % left</title></circle>",
                x(i as f64),
                y(*v),
                esc(label),
                v * 100.0
            );
        }
    }
    let every = (points.len() / 7).max(1);
    for (i, (label, _)) in points.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let _ = write!(
            s,
            "<text class=\"lbl\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x(i as f64),
            h - 6.0,
            esc(label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(status: CheckStatus, ms: f64, reason: &str) -> RawResult {
        RawResult {
            at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            status,
            latency_ms: Some(ms),
            reason: reason.into(),
        }
    }

    #[test]
    fn bars_escape_and_pad() {
        let svg = uptime_bar(&[r(CheckStatus::Down, 5.0, "<script>"), r(CheckStatus::Up, 3.0, "ok")], 4);
        assert_eq!(svg.matches("c-empty").count(), 2);
        assert!(svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("<script>"));
        let spark = sparkline(&[r(CheckStatus::Up, 5.0, ""), r(CheckStatus::Up, 10.0, "")], 60.0, 16.0);
        assert!(spark.contains("<polyline"));
        assert!(latency_chart(&[]).contains("No recent check results"));
        // One result still draws; a sub-millisecond axis has decimals and units.
        let one = latency_chart(&[r(CheckStatus::Up, 0.42, "ok")]);
        assert!(one.contains("<circle") && one.contains(">0.6 ms<") && !one.contains("No recent"), "{one}");
    }

    #[test]
    fn axes_use_nice_numbers_with_units() {
        assert_eq!(nice_step(1.1, 4.0), 0.5);
        assert_eq!(nice_step(830.0, 4.0), 500.0);
        assert_eq!(nice_step(38.0, 4.0), 10.0);
        assert_eq!(fmt_latency(0.5, 0.5), "0.5 ms");
        assert_eq!(fmt_latency(40.0, 10.0), "40 ms");
        assert_eq!(fmt_latency(1500.0, 500.0), "1.5 s");
        assert_eq!(fmt_latency(0.34, 0.0), "0.3 ms");
        assert_eq!(fmt_latency(38.2, 0.0), "38 ms");
        let svg = latency_chart(&[r(CheckStatus::Up, 1.1, ""), r(CheckStatus::Up, 0.3, "")]);
        for label in ["0.0 ms", "0.5 ms", "1.0 ms", "1.5 ms"] {
            assert!(svg.contains(&format!(">{label}<")), "{label} in {svg}");
        }
    }
}
