//! Capacity forecasts from a metric's history: a least-squares line with Prometheus'
//! `predict_linear` semantics, and damped Holt (double exponential smoothing), each with a 95 %
//! prediction interval and the time until the series reaches a capacity
//! (`governance-kpis-scim-forecasting.md` §3.1–3.2).
//!
//! Times are seconds relative to the evaluation time `now` (negative in the past), so the line's
//! intercept is the value now, as in Prometheus. Every loop is bounded by the number of points
//! or by [`SCAN_STEPS`]; nothing here allocates by what a caller asks for beyond the points given.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Forecast points a path holds, at most (the chart's resolution).
pub const PATH_STEPS: usize = 120;
/// Steps of the bounded search for where a band crosses the capacity.
const SCAN_STEPS: usize = 4096;

/// A value at a time (seconds relative to now; negative in the past).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub t: f64,
    pub y: f64,
}

/// One step of a forecast path.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Step {
    /// Seconds after now.
    pub h: f64,
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
}

/// When the series reaches a capacity, in seconds from now: the point estimate, the earliest
/// (the upper band crosses) and the latest (the lower band crosses; `None` if it never does
/// within the search).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Exhaustion {
    pub seconds: f64,
    pub lower: f64,
    pub upper: Option<f64>,
}

/// A fitted model: its value and 95 % band `h` seconds ahead.
pub trait Model {
    /// `(value, half-width of the 95 % band)` at `h` seconds after now.
    fn at(&self, h: f64) -> (f64, f64);
}

/// Neumaier-compensated sum, as Prometheus' `linearRegression` uses.
#[derive(Default, Clone, Copy)]
struct Sum {
    s: f64,
    c: f64,
}

impl Sum {
    fn add(&mut self, v: f64) {
        let t = self.s + v;
        if self.s.abs() >= v.abs() {
            self.c += (self.s - t) + v;
        } else {
            self.c += (v - t) + self.s;
        }
        self.s = t;
    }
    fn get(self) -> f64 {
        self.s + self.c
    }
}

/// A least-squares line through the samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Linear {
    /// Change per second.
    pub slope: f64,
    /// The value now (`predict_linear(v, 0)`).
    pub intercept: f64,
    pub n: usize,
    /// Residual standard error.
    pub sigma: f64,
    x_mean: f64,
    sxx: f64,
    t_quantile: f64,
}

/// Fits a line (needs two samples at two different times, all finite).
pub fn linear(samples: &[Sample]) -> Option<Linear> {
    let n = samples.len();
    if n < 2 || samples.iter().any(|s| !s.t.is_finite() || !s.y.is_finite()) {
        return None;
    }
    let (mut sx, mut sy) = (Sum::default(), Sum::default());
    for s in samples {
        sx.add(s.t);
        sy.add(s.y);
    }
    let nf = n as f64;
    let (x_mean, y_mean) = (sx.get() / nf, sy.get() / nf);
    // Centred sums: the same line as Prometheus' uncentred ones, without their cancellation when
    // the points lie far from now.
    let (mut sxx, mut sxy) = (Sum::default(), Sum::default());
    for s in samples {
        sxx.add((s.t - x_mean).powi(2));
        sxy.add((s.t - x_mean) * (s.y - y_mean));
    }
    let (sxx, sxy) = (sxx.get(), sxy.get());
    let constant = samples.iter().all(|s| s.y == samples[0].y);
    let (slope, intercept) = if constant {
        (0.0, samples[0].y)
    } else if sxx <= 0.0 || !sxx.is_finite() {
        return None;
    } else {
        let b = sxy / sxx;
        (b, y_mean - b * x_mean)
    };
    let sse: f64 = samples.iter().map(|s| (s.y - (intercept + slope * s.t)).powi(2)).sum();
    let sigma = if n > 2 { (sse / (nf - 2.0)).sqrt() } else { 0.0 };
    Some(Linear { slope, intercept, n, sigma, x_mean, sxx, t_quantile: t975(n.saturating_sub(2)) })
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom (the normal's without any).
fn t975(df: usize) -> f64 {
    let q = if df == 0 {
        Normal::new(0.0, 1.0).map(|d| d.inverse_cdf(0.975)).ok()
    } else {
        StudentsT::new(0.0, 1.0, df as f64).map(|d| d.inverse_cdf(0.975)).ok()
    };
    q.filter(|v| v.is_finite()).unwrap_or(1.96)
}

impl Model for Linear {
    fn at(&self, h: f64) -> (f64, f64) {
        let value = self.intercept + self.slope * h;
        let lever = if self.sxx > 0.0 { (h - self.x_mean).powi(2) / self.sxx } else { 0.0 };
        let half = self.t_quantile * self.sigma * (1.0 + 1.0 / self.n as f64 + lever).sqrt();
        (value, half)
    }
}

/// Damped Holt, fitted on evenly spaced samples (the series is read as steps of its mean
/// spacing).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Holt {
    pub alpha: f64,
    pub beta: f64,
    pub phi: f64,
    /// The level and trend (per step) after the last sample.
    pub level: f64,
    pub trend: f64,
    /// Seconds per step.
    pub step: f64,
    /// One-step-ahead residual standard deviation.
    pub sigma: f64,
    /// Seconds from the last sample to now.
    lag: f64,
}

/// One pass of damped Holt over evenly spaced values; `None` marks a step without data, which
/// the model steps over (its forecast carries on) without learning from it.
fn holt_run(ys: &[Option<f64>], alpha: f64, beta: f64, phi: f64) -> (f64, f64, f64, usize) {
    let mut known = ys.iter().enumerate().filter_map(|(i, y)| y.map(|y| (i, y)));
    let (Some((i0, y0)), Some((i1, y1))) = (known.next(), known.next()) else {
        return (0.0, 0.0, f64::INFINITY, 0);
    };
    // The first trend per step, across any empty steps between the first two values.
    let (mut level, mut trend) = (y0, (y1 - y0) / (i1 - i0) as f64);
    let (mut sse, mut n) = (0.0, 0);
    let first = ys.iter().position(Option::is_some).unwrap_or(0);
    for y in &ys[first + 1..] {
        let forecast = level + phi * trend;
        match y {
            Some(y) => {
                sse += (y - forecast).powi(2);
                n += 1;
                let prev = level;
                level = alpha * y + (1.0 - alpha) * forecast;
                trend = beta * (level - prev) + (1.0 - beta) * phi * trend;
            }
            None => {
                level = forecast;
                trend *= phi;
            }
        }
    }
    (level, trend, sse, n)
}

/// The samples as evenly spaced steps ending at the last one: means per day (four days of
/// history or more) or per hour (four hours or more), `None` where a step has no sample; the
/// samples themselves below that. A day's mean hides the daily rhythm that would otherwise pass
/// for the trend. Returns the values, the step in seconds and the time the last value stands for
/// (a bucket's mean stands for its middle).
fn grid(samples: &[Sample]) -> (Vec<Option<f64>>, f64, f64) {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else { return (Vec::new(), 0.0, 0.0) };
    let span = last.t - first.t;
    let width = if span >= 4.0 * 86_400.0 {
        86_400.0
    } else if span >= 4.0 * 3_600.0 {
        3_600.0
    } else {
        let n = samples.len().saturating_sub(1).max(1) as f64;
        return (samples.iter().map(|s| Some(s.y)).collect(), span / n, last.t);
    };
    // At most (span / width) + 1 steps; callers ask for up to 730 days, and a longer span (stray
    // times) is cut to its newest 1,000 days rather than allocated.
    let steps = ((span / width).floor() as usize).min(1000 * 24) + 1;
    let mut sums = vec![(0.0, 0u32); steps];
    for s in samples {
        let back = ((last.t - s.t) / width).floor() as usize;
        if let Some(slot) = steps.checked_sub(1 + back).and_then(|i| sums.get_mut(i)) {
            *slot = (slot.0 + s.y, slot.1 + 1);
        }
    }
    (sums.into_iter().map(|(y, n)| (n > 0).then(|| y / f64::from(n))).collect(), width, last.t - width / 2.0)
}

/// Fits damped Holt by the smallest one-step-ahead squared error over a grid of α, β and φ, on
/// the samples' [`grid`]. Needs three steps with data.
pub fn holt(samples: &[Sample]) -> Option<Holt> {
    if samples.iter().any(|s| !s.t.is_finite() || !s.y.is_finite()) {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.t.total_cmp(&b.t));
    let (ys, step, last) = grid(&sorted);
    if ys.iter().flatten().count() < 3 || step <= 0.0 || !step.is_finite() {
        return None;
    }
    let mut best: Option<(f64, Holt)> = None;
    for alpha in [0.1, 0.2, 0.3, 0.5, 0.7, 0.9] {
        for beta in [0.01, 0.05, 0.1, 0.2, 0.4] {
            for phi in [0.9, 0.95, 0.98, 1.0] {
                let (level, trend, sse, n) = holt_run(&ys, alpha, beta, phi);
                if n > 0 && sse.is_finite() && best.as_ref().is_none_or(|(b, _)| sse < *b) {
                    let sigma = (sse / n as f64).sqrt();
                    best = Some((sse, Holt { alpha, beta, phi, level, trend, step, sigma, lag: -last }));
                }
            }
        }
    }
    best.map(|(_, h)| h)
}

/// `Σ_{j=1..n} φ^j` for a real `n ≥ 0`.
fn geometric(phi: f64, n: f64) -> f64 {
    if phi >= 1.0 { n } else { phi * (1.0 - phi.powf(n)) / (1.0 - phi) }
}

impl Holt {
    /// `Σ_{j=1..n} c_j²` with `c_j = α(1 + β·(φ + … + φ^j))`, the ETS(A,Ad,N) variance terms
    /// (`β` the trend's smoothing weight), in closed form so a long horizon costs nothing.
    fn variance_terms(&self, n: f64) -> f64 {
        let (a, b, phi) = (self.alpha, self.beta, self.phi);
        let (sum_s, sum_s2) = if phi >= 1.0 {
            (n * (n + 1.0) / 2.0, n * (n + 1.0) * (2.0 * n + 1.0) / 6.0)
        } else {
            // S_j = k(1 − φ^j) with k = φ/(1 − φ).
            let k = phi / (1.0 - phi);
            let g1 = geometric(phi, n);
            let g2 = geometric(phi * phi, n);
            (k * (n - g1), k * k * (n - 2.0 * g1 + g2))
        };
        a * a * (n + 2.0 * b * sum_s + b * b * sum_s2)
    }
}

impl Model for Holt {
    fn at(&self, h: f64) -> (f64, f64) {
        let steps = ((h + self.lag) / self.step).max(0.0);
        let value = self.level + geometric(self.phi, steps) * self.trend;
        // σ_h² = σ²·(1 + Σ_{j=1..h−1} c_j²).
        let var = self.sigma.powi(2) * (1.0 + self.variance_terms((steps.max(1.0) - 1.0).max(0.0)));
        (value, 1.96 * var.max(0.0).sqrt())
    }
}

/// The forecast path from now to `horizon` seconds ahead, [`PATH_STEPS`] steps.
pub fn path(model: &dyn Model, horizon: f64) -> Vec<Step> {
    let horizon = if horizon.is_finite() && horizon > 0.0 { horizon } else { return Vec::new() };
    (0..=PATH_STEPS)
        .map(|i| {
            let h = horizon * i as f64 / PATH_STEPS as f64;
            let (value, half) = model.at(h);
            Step { h, value, lower: value - half, upper: value + half }
        })
        .collect()
}

/// The first `h` in `(0, limit]` where `f(h) ≥ capacity`, to within `limit / SCAN_STEPS`.
fn first_crossing(f: &dyn Fn(f64) -> f64, capacity: f64, limit: f64) -> Option<f64> {
    if f(0.0) >= capacity {
        return Some(0.0);
    }
    let dt = limit / SCAN_STEPS as f64;
    let mut prev = 0.0;
    for i in 1..=SCAN_STEPS {
        let h = dt * i as f64;
        if f(h) >= capacity {
            // Halve the last step a few times for a closer figure.
            let (mut lo, mut hi) = (prev, h);
            for _ in 0..30 {
                let mid = (lo + hi) / 2.0;
                if f(mid) >= capacity { hi = mid } else { lo = mid }
            }
            return Some(hi);
        }
        prev = h;
    }
    None
}

/// When the series reaches `capacity`, searching up to `limit` seconds ahead; `None` when the
/// point forecast does not reach it by then. A growing series (disk used) reaches a capacity
/// above it, and one already over it has reached it now; a falling one (free space) reaches a
/// capacity below it, and never one above it. The earliest time is where the band's edge on
/// that side crosses, the latest where the other edge does.
pub fn exhaustion(model: &dyn Model, capacity: f64, limit: f64) -> Option<Exhaustion> {
    if !capacity.is_finite() || !limit.is_finite() || limit <= 0.0 {
        return None;
    }
    // The way the forecast heads decides the question: growing toward a capacity above (or
    // already over it), or falling toward one below (or already under it).
    let now = model.at(0.0).0;
    let dir = if model.at(3_600.0).0 >= now { 1.0 } else { -1.0 };
    // Falling away from a capacity above (disk use going down): never reached.
    if dir < 0.0 && capacity >= now {
        return None;
    }
    let edge = |h: f64, side: f64| {
        let (v, half) = model.at(h);
        dir * v + side * half
    };
    let target = dir * capacity;
    let point = first_crossing(&|h| edge(h, 0.0), target, limit)?;
    let lower = first_crossing(&|h| edge(h, 1.0), target, limit).unwrap_or(point).min(point);
    let upper = first_crossing(&|h| edge(h, -1.0), target, limit).map(|u| u.max(point));
    Some(Exhaustion { seconds: point, lower, upper })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(n: usize, slope: f64, now_value: f64, noise: &dyn Fn(usize) -> f64) -> Vec<Sample> {
        // Hourly samples ending now.
        (0..n)
            .map(|i| {
                let t = -3600.0 * (n - 1 - i) as f64;
                Sample { t, y: now_value + slope * t + noise(i) }
            })
            .collect()
    }

    #[test]
    fn a_straight_line_is_fitted_exactly() {
        let s = line(48, 0.01, 500.0, &|_| 0.0);
        let l = linear(&s).unwrap_or_else(|| panic!("fit"));
        assert!((l.slope - 0.01).abs() < 1e-12 && (l.intercept - 500.0).abs() < 1e-6, "{l:?}");
        // predict_linear(v, 3600) = a + b·3600.
        assert!((l.at(3600.0).0 - 536.0).abs() < 1e-6);
        // 500 to 1000 at 0.01 per second: 50,000 s.
        let e = exhaustion(&l, 1000.0, 1e7).unwrap_or_else(|| panic!("exhausts"));
        assert!((e.seconds - 50_000.0).abs() < 1.0, "{e:?}");
        assert!((e.lower - e.seconds).abs() < 1.0 && e.upper.is_some_and(|u| (u - e.seconds).abs() < 1.0));
    }

    #[test]
    fn noise_widens_the_band_around_the_truth() {
        // ±5 of noise on a disk filling by 1 per hour from 400 to a capacity of 1,000.
        let noise = |i: usize| if i.is_multiple_of(2) { 5.0 } else { -5.0 };
        let s = line(200, 1.0 / 3600.0, 400.0, &noise);
        let l = linear(&s).unwrap_or_else(|| panic!("fit"));
        let e = exhaustion(&l, 1000.0, 1e8).unwrap_or_else(|| panic!("exhausts"));
        let truth = 600.0 * 3600.0;
        assert!((e.seconds - truth).abs() / truth < 0.02, "{e:?}");
        let upper = e.upper.unwrap_or(f64::INFINITY);
        assert!(e.lower < e.seconds && e.seconds < upper, "{e:?}");
        assert!(e.lower <= truth && truth <= upper, "the band holds the truth: {e:?}");
    }

    #[test]
    fn flat_series_do_not_exhaust_and_past_ones_already_have() {
        let flat = linear(&line(10, 0.0, 42.0, &|_| 0.0)).unwrap_or_else(|| panic!("fit"));
        assert_eq!((flat.slope, flat.intercept), (0.0, 42.0));
        assert!(exhaustion(&flat, 100.0, 1e9).is_none());
        // Already over it: now.
        assert_eq!(exhaustion(&flat, 10.0, 1e9).map(|e| e.seconds), Some(0.0));
        // A falling series heads away from a capacity above it.
        let falling = linear(&line(10, -0.5, 42.0, &|i| i as f64 * 0.01)).unwrap_or_else(|| panic!("fit"));
        assert!(exhaustion(&falling, 100.0, 1e9).is_none());
    }

    #[test]
    fn falling_series_run_out_downwards() {
        // Free space falling by 1 per hour from 100 now: empty (0) in 100 hours.
        let s = line(48, -1.0 / 3600.0, 100.0, &|i| if i.is_multiple_of(2) { 0.5 } else { -0.5 });
        let l = linear(&s).unwrap_or_else(|| panic!("fit"));
        let e = exhaustion(&l, 0.0, 1e9).unwrap_or_else(|| panic!("runs out"));
        assert!((e.seconds - 360_000.0).abs() / 360_000.0 < 0.02, "{e:?}");
        assert!(e.lower < e.seconds && e.upper.is_some_and(|u| u > e.seconds), "{e:?}");
        assert!(exhaustion(&l, 200.0, 1e9).is_none(), "falling away from a capacity above");
    }

    #[test]
    fn holt_steps_over_gaps_at_the_true_spacing() {
        // Three days, a 20-day gap, three more days: 1 a day throughout.
        let s: Vec<Sample> = (0..26)
            .filter(|d| !(3..23).contains(d))
            .flat_map(|d| (0..24).map(move |h| -86_400.0 * f64::from(25 - d) - 3600.0 * f64::from(h)))
            .map(|t| Sample { t, y: 500.0 + t / 86_400.0 })
            .collect();
        let h = holt(&s).unwrap_or_else(|| panic!("fit"));
        assert!((h.step - 86_400.0).abs() < 1e-9, "{h:?}");
        assert!((h.trend - 1.0).abs() < 0.2, "about 1 a day, not a quarter of it: {h:?}");
    }

    #[test]
    fn too_few_or_bad_samples_fit_nothing() {
        assert!(linear(&[Sample { t: 0.0, y: 1.0 }]).is_none());
        assert!(linear(&[Sample { t: 0.0, y: 1.0 }, Sample { t: 0.0, y: 2.0 }]).is_none(), "no time spread");
        assert!(linear(&[Sample { t: -1.0, y: f64::NAN }, Sample { t: 0.0, y: 2.0 }]).is_none());
        assert!(holt(&line(2, 1.0, 1.0, &|_| 0.0)).is_none());
    }

    #[test]
    fn holt_sees_the_trend_under_a_daily_rhythm() {
        // Two weeks hourly: 2 a day up to 400 now, with a ±3 daily wave; full at 1,000 in 300 days.
        let s: Vec<Sample> = (0..14 * 24)
            .map(|i| {
                let hours_ago = (14 * 24 - 1 - i) as f64;
                let wave = 3.0 * (2.0 * std::f64::consts::PI * (hours_ago % 24.0) / 24.0).sin();
                Sample { t: -3600.0 * hours_ago, y: 400.0 - 2.0 * hours_ago / 24.0 + wave }
            })
            .collect();
        let h = holt(&s).unwrap_or_else(|| panic!("fit"));
        let e = exhaustion(&h, 1000.0, 1e9).unwrap_or_else(|| panic!("exhausts: {h:?}"));
        let truth = 300.0 * 86_400.0;
        assert!((e.seconds - truth).abs() / truth < 0.1, "{e:?} {h:?}");
    }

    #[test]
    fn holt_follows_a_trend_and_damping_bends_it() {
        let s = line(100, 2.0 / 3600.0, 300.0, &|i| if i % 3 == 0 { 1.0 } else { -0.5 });
        let h = holt(&s).unwrap_or_else(|| panic!("fit"));
        let (now, _) = h.at(0.0);
        assert!((now - 300.0).abs() < 5.0, "{h:?}");
        let (day, half) = h.at(86_400.0);
        assert!(day > now && half > 0.0, "{h:?}");
        let p = path(&h, 86_400.0);
        assert_eq!(p.len(), PATH_STEPS + 1);
        assert!(p.windows(2).all(|w| w[1].upper - w[1].value >= w[0].upper - w[0].value - 1e-9), "the band widens");
    }

    proptest! {
        #[test]
        fn bounds_bracket_the_point(slope in 0.0001f64..1.0, start in 0.0f64..1000.0, amp in 0.0f64..50.0,
                                    n in 3usize..300, capacity in 1000.0f64..1e6) {
            let s = line(n, slope, start, &|i| amp * ((i * 7919) % 13) as f64 / 13.0);
            if let Some(l) = linear(&s)
                && let Some(e) = exhaustion(&l, capacity, 1e9)
            {
                prop_assert!(e.lower <= e.seconds + 1e-6);
                if let Some(u) = e.upper { prop_assert!(u + 1e-6 >= e.seconds); }
                prop_assert!(e.seconds >= 0.0 && e.seconds <= 1e9);
            }
        }
    }
}
