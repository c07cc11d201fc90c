//! Anomalies in a metric's history (`governance-kpis-scim-forecasting.md` §3.3), as a seasonal
//! baseline plus a robust test of what is left:
//! - the baseline is an exponentially weighted mean per hour of the week (168 slots), so Monday
//!   09:00 is compared with earlier Mondays at 09:00 and a daily or weekly rhythm is not an
//!   anomaly; an hour of the week is judged once it has been seen before (a week of history);
//! - the residual (value − baseline) is judged by its robust z-score against the residuals of
//!   the trailing normal points (median and MAD, Iglewicz–Hoaglin: `|z| > 3.5`), which a spike
//!   does not inflate.
//!
//! An anomalous point teaches the baseline only up to the edge of the expected range, and not
//! the residuals at all, so an outage does not become normal.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serialize;

/// Residuals of the trailing normal points the robust z-score reads.
pub const WINDOW: usize = 96;
/// Residuals needed before a point is judged.
const WARMUP: usize = 24;
/// The robust z-score beyond which a point is anomalous (Iglewicz and Hoaglin).
pub const Z_MAX: f64 = 3.5;
/// Weight of the newest point in a slot's mean.
const LAMBDA: f64 = 0.3;

/// One point found anomalous, with the range that was expected there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Anomaly {
    pub at: DateTime<Utc>,
    pub value: f64,
    pub expected_low: f64,
    pub expected_high: f64,
    /// The robust z-score (signed: above or below).
    pub score: f64,
}

/// The newest of `anomalies` if its hour is at most `fresh` before `now`: what an alert on the
/// series says is happening now.
pub fn current(anomalies: &[Anomaly], now: DateTime<Utc>, fresh: chrono::Duration) -> Option<&Anomaly> {
    anomalies.iter().max_by_key(|a| a.at).filter(|a| now - a.at <= fresh)
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

/// Median and MAD of `xs`.
fn median_mad(xs: &[f64]) -> (f64, f64) {
    let mut s: Vec<f64> = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let m = median(&s);
    let mut dev: Vec<f64> = s.iter().map(|x| (x - m).abs()).collect();
    dev.sort_by(f64::total_cmp);
    (m, median(&dev))
}

/// The robust z-score of `x` against `window`; `None` when the window is flat (MAD 0) and `x`
/// equals its median, infinite when the window is flat and `x` is not.
pub fn robust_z(window: &[f64], x: f64) -> Option<f64> {
    let (m, mad) = median_mad(window);
    if !m.is_finite() {
        return None;
    }
    if mad == 0.0 {
        return if x == m { None } else { Some(f64::INFINITY.copysign(x - m)) };
    }
    Some(0.6745 * (x - m) / mad)
}

fn slot_of(at: DateTime<Utc>) -> usize {
    at.weekday().num_days_from_monday() as usize * 24 + at.hour() as usize
}

/// The anomalies among `points` (oldest first), each judged against the points before it.
pub fn detect(points: &[(DateTime<Utc>, f64)]) -> Vec<Anomaly> {
    // Each hour of the week: its weighted mean, once seen.
    let mut slots: [Option<f64>; 168] = [None; 168];
    let mut residuals: std::collections::VecDeque<f64> = std::collections::VecDeque::with_capacity(WINDOW + 1);
    let mut out = Vec::new();
    for &(at, value) in points {
        if !value.is_finite() {
            continue;
        }
        let slot = &mut slots[slot_of(at)];
        let Some(baseline) = *slot else {
            *slot = Some(value);
            continue;
        };
        let r = value - baseline;
        let window: Vec<f64> = residuals.iter().copied().collect();
        let (m, mad) = median_mad(&window);
        // A floor on the spread (2 % of the level, so about a tenth of it before a point is
        // anomalous): a smooth series still tolerates a small step, as a latency from 70 to 72 ms
        // or a count of connections from 50 to 51.
        let mad = mad.max(baseline.abs() * 0.02).max(1e-9);
        let judged = (window.len() >= WARMUP).then(|| 0.6745 * (r - m) / mad);
        let half = Z_MAX * mad / 0.6745;
        let (lo, hi) = (baseline + m - half, baseline + m + half);
        match judged {
            Some(z) if z.abs() > Z_MAX => {
                out.push(Anomaly { at, value, expected_low: lo, expected_high: hi, score: z });
                // Taught only up to the edge of the expected range.
                let clipped = value.clamp(lo, hi);
                *slot = Some(baseline + LAMBDA * (clipped - baseline));
            }
            _ => {
                *slot = Some(baseline + LAMBDA * r);
                residuals.push_back(r);
                if residuals.len() > WINDOW {
                    residuals.pop_front();
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    /// Three weeks hourly of a latency with a daily and weekly rhythm and noise, with known
    /// spikes and dips; returns the series and the spikes' times.
    type Series = Vec<(DateTime<Utc>, f64)>;

    fn latency() -> (Series, Vec<DateTime<Utc>>) {
        let start =
            DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        let mut seed: u64 = 42;
        let mut noise = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        };
        let injected: Vec<usize> = vec![200, 260, 333, 370, 410, 455, 480];
        let mut points = Vec::new();
        let mut truth = Vec::new();
        for i in 0..21 * 24 {
            let at = start + Duration::hours(i as i64);
            let hour = (i % 24) as f64;
            let weekend = matches!(at.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
            let busy = if (8.0..18.0).contains(&hour) && !weekend { 60.0 } else { 0.0 };
            let mut v = 100.0 + busy + 6.0 * noise();
            if injected.contains(&i) {
                v += if i % 2 == 0 { 150.0 } else { -70.0 };
                truth.push(at);
            }
            points.push((at, v));
        }
        (points, truth)
    }

    #[test]
    fn finds_injected_spikes_not_the_daily_rhythm() {
        let (points, truth) = latency();
        let found = detect(&points);
        let hits = found.iter().filter(|a| truth.contains(&a.at)).count();
        let precision = hits as f64 / found.len().max(1) as f64;
        let recall = hits as f64 / truth.len() as f64;
        println!("anomalies: {} found, precision {precision:.2}, recall {recall:.2}", found.len());
        assert!(precision >= 0.85, "precision {precision}: {found:?}");
        assert!(recall >= 0.85, "recall {recall}: {found:?}");
        for a in found.iter().filter(|a| truth.contains(&a.at)) {
            assert!(a.value < a.expected_low || a.value > a.expected_high, "{a:?}");
        }
    }

    #[test]
    fn robust_z_ignores_one_outlier_in_the_window() {
        let mut w: Vec<f64> = (0..50).map(|i| 10.0 + f64::from(i % 5)).collect();
        w.push(1e6);
        let z = robust_z(&w, 12.0).unwrap_or(f64::NAN);
        assert!(z.abs() < 1.0, "{z}");
        assert!(robust_z(&w, 40.0).is_some_and(|z| z > Z_MAX));
        assert_eq!(robust_z(&[5.0; 10], 5.0), None);
        assert_eq!(robust_z(&[], 5.0), None);
    }

    #[test]
    fn a_flat_then_shifted_series_flags_the_shift_not_everything() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let points: Vec<(DateTime<Utc>, f64)> =
            (0..400).map(|i| (t0 + Duration::hours(i), if i == 300 { 500.0 } else { 50.0 })).collect();
        let found = detect(&points);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].value, 500.0);
        // A step of one in a count that never moved is not an anomaly.
        let counts: Vec<(DateTime<Utc>, f64)> =
            (0..400).map(|i| (t0 + Duration::hours(i), if i == 300 { 51.0 } else { 50.0 })).collect();
        assert!(detect(&counts).is_empty());
    }
}
