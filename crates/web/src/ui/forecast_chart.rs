//! A capacity forecast as an inline SVG: the series' history as a line, the forecast as a dashed
//! line inside its 95 % band, the capacity as a horizontal rule and "now" as a vertical one.

use super::charts::{esc, nice_step};
use crate::operations::series::PathStep;
use chrono::{DateTime, Utc};
use opsdeck_core::series::Point;
use std::fmt::Write;

/// A number with the decimals its axis step calls for.
pub fn label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 || step <= 0.0 { 0 } else { ((-step.log10()).ceil() as usize).min(6) };
    format!("{v:.decimals$}")
}

pub fn forecast_chart(
    history: &[Point],
    path: &[PathStep],
    capacity: Option<f64>,
    now: DateTime<Utc>,
    anomalies: &[opsdeck_core::anomaly::Anomaly],
) -> String {
    let (w, h, pad_l, pad_r, pad_t, pad_b) = (720.0, 240.0, 64.0, 16.0, 12.0, 24.0);
    let times = history.iter().map(|p| p.at).chain(path.iter().map(|s| s.at));
    let (Some(t0), Some(t1)) = (times.clone().min(), times.max()) else {
        return String::new();
    };
    let values = history
        .iter()
        .map(|p| p.value)
        .chain(path.iter().flat_map(|s| [s.lower, s.upper]))
        .chain(capacity)
        .filter(|v| v.is_finite());
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return String::new();
    }
    let span = (hi - lo).max(hi.abs() * 1e-6).max(1e-9);
    let step = nice_step(span, 4.0);
    let (y_lo, y_hi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
    let secs = ((t1 - t0).num_milliseconds() as f64 / 1000.0).max(1.0);
    let x = |t: DateTime<Utc>| pad_l + (w - pad_l - pad_r) * ((t - t0).num_milliseconds() as f64 / 1000.0) / secs;
    let y = |v: f64| pad_t + (h - pad_t - pad_b) * (1.0 - (v - y_lo) / (y_hi - y_lo).max(1e-12));
    let mut s = format!(
        "<svg class=\"chart forecast\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"History and forecast\">"
    );
    let mut v = y_lo;
    for _ in 0..12 {
        if v > y_hi + step / 2.0 {
            break;
        }
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{pad_l}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\"/>\
             <text class=\"axis\" x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\">{4}</text>",
            y(v),
            w - pad_r,
            pad_l - 6.0,
            y(v) + 4.0,
            esc(&label(v, step))
        );
        v += step;
    }
    if !path.is_empty() {
        let upper: Vec<String> = path.iter().map(|p| format!("{:.1},{:.1}", x(p.at), y(p.upper))).collect();
        let lower: Vec<String> = path.iter().rev().map(|p| format!("{:.1},{:.1}", x(p.at), y(p.lower))).collect();
        let _ = write!(
            s,
            "<polygon class=\"band\" points=\"{} {}\"><title>95 % prediction interval</title></polygon>",
            upper.join(" "),
            lower.join(" ")
        );
        let mid: Vec<String> = path.iter().map(|p| format!("{:.1},{:.1}", x(p.at), y(p.value))).collect();
        let _ =
            write!(s, "<polyline class=\"predicted\" points=\"{}\"><title>forecast</title></polyline>", mid.join(" "));
    }
    if !history.is_empty() {
        let line: Vec<String> = history.iter().map(|p| format!("{:.1},{:.1}", x(p.at), y(p.value))).collect();
        let _ = write!(s, "<polyline class=\"line\" points=\"{}\"><title>history</title></polyline>", line.join(" "));
    }
    for a in anomalies {
        let _ = write!(
            s,
            "<circle class=\"anomaly\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\">\
             <title>{}: {} (expected {} to {})</title></circle>",
            x(a.at),
            y(a.value),
            a.at.format("%Y-%m-%d %H:%M"),
            esc(&label(a.value, step / 10.0)),
            esc(&label(a.expected_low, step / 10.0)),
            esc(&label(a.expected_high, step / 10.0))
        );
    }
    if let Some(c) = capacity.filter(|c| c.is_finite()) {
        let _ = write!(
            s,
            "<line class=\"capacity\" x1=\"{pad_l}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\">\
             <title>capacity {2}</title></line>",
            y(c),
            w - pad_r,
            esc(&label(c, step))
        );
    }
    if now >= t0 && now <= t1 {
        let _ = write!(
            s,
            "<line class=\"nowline\" x1=\"{0:.1}\" y1=\"{pad_t}\" x2=\"{0:.1}\" y2=\"{1}\"><title>now</title></line>",
            x(now),
            h - pad_b
        );
    }
    for (t, anchor) in [(t0, "start"), (now, "middle"), (t1, "end")] {
        if t >= t0 && t <= t1 {
            let _ = write!(
                s,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
                x(t),
                h - 6.0,
                t.format("%d %b")
            );
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn draws_history_band_capacity_and_now() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let history: Vec<Point> =
            (0..10).map(|i| Point { at: now - Duration::hours(10 - i), value: 100.0 + i as f64 }).collect();
        let path: Vec<PathStep> = (0..5)
            .map(|i| PathStep { at: now + Duration::hours(i), value: 110.0 + i as f64, lower: 105.0, upper: 120.0 })
            .collect();
        let svg = forecast_chart(&history, &path, Some(150.0), now, &[]);
        for part in
            ["class=\"band\"", "class=\"predicted\"", "class=\"line\"", "class=\"capacity\"", "class=\"nowline\""]
        {
            assert!(svg.contains(part), "{part}: {svg}");
        }
        assert!(forecast_chart(&[], &[], None, now, &[]).is_empty());
    }
}
