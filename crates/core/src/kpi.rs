//! Operations KPIs that are not incident times (those are [`crate::incident::mttx`]):
//! availability from check counts, with planned maintenance excluded (the SLA figure) and as
//! users saw it, and the report periods they are measured over.
//!
//! Formulas (`governance-kpis-scim-forecasting.md` §4.2), with checks standing for time (each
//! check speaks for its interval): `T` all checks, `M` checks during maintenance, `D_u` failed
//! checks outside maintenance.
//! - adjusted (SLA) availability `(T − M − D_u) / (T − M)`;
//! - raw (user-experienced) availability `(T − M − D_u) / T`: maintenance counts as down.
//!
//! A period with no checks has no availability (`None`), never 100 %.

use crate::slo::Counts;
use crate::time;
use crate::{Error, Result};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

/// Check counts of some monitors over a period, as the rollups keep them. `failures` includes
/// `maint_failures` (failed checks during maintenance), as in `check_rollups`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CheckTotals {
    pub total: u64,
    pub failures: u64,
    pub maintenance: u64,
    pub maint_failures: u64,
}

impl std::ops::Add for CheckTotals {
    type Output = CheckTotals;
    fn add(self, o: CheckTotals) -> CheckTotals {
        CheckTotals {
            total: self.total.saturating_add(o.total),
            failures: self.failures.saturating_add(o.failures),
            maintenance: self.maintenance.saturating_add(o.maintenance),
            maint_failures: self.maint_failures.saturating_add(o.maint_failures),
        }
    }
}

impl std::iter::Sum for CheckTotals {
    fn sum<I: Iterator<Item = CheckTotals>>(iter: I) -> CheckTotals {
        iter.fold(CheckTotals::default(), |a, b| a + b)
    }
}

/// Availability both ways; `None` where nothing was measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Availability {
    /// Maintenance excluded: `(T − M − D_u) / (T − M)`.
    pub adjusted: Option<f64>,
    /// As users saw it: `(T − M − D_u) / T`.
    pub raw: Option<f64>,
}

impl CheckTotals {
    /// Clamps counts that rows written by hand (or a bug) could leave inconsistent, so every
    /// figure stays in [0, 1].
    fn parts(self) -> (u64, u64, u64) {
        let maintenance = self.maintenance.min(self.total);
        let unplanned = self.failures.saturating_sub(self.maint_failures).min(self.total - maintenance);
        (self.total, maintenance, unplanned)
    }

    pub fn availability(self) -> Availability {
        let (total, maintenance, unplanned) = self.parts();
        let up = total - maintenance - unplanned;
        let ratio = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
        Availability { adjusted: ratio(up, total - maintenance), raw: ratio(up, total) }
    }

    /// The good and valid events of an availability SLI over these checks, as an SLO reads
    /// them: without maintenance when it excludes maintenance, otherwise every check with every
    /// failure bad.
    pub fn slo_counts(self, exclude_maintenance: bool) -> Counts {
        if exclude_maintenance {
            let (total, maintenance, unplanned) = self.parts();
            Counts::events(total - maintenance - unplanned, total - maintenance)
        } else {
            Counts::events(self.total.saturating_sub(self.failures.min(self.total)), self.total)
        }
    }
}

/// A report's period `[from, to)` and the one it is compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportPeriod {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub previous_from: DateTime<Utc>,
    pub previous_to: DateTime<Utc>,
    /// `2026-10` for a month, else `2026-10-01 – 2026-10-14` (the last day shown inclusively).
    pub label: String,
}

/// The longest report period: two years.
pub const PERIOD_MAX_DAYS: i64 = 731;

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

fn month_start(year: i32, month: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, 1)
}

fn next_month(d: NaiveDate) -> Option<NaiveDate> {
    if d.month() == 12 { month_start(d.year().checked_add(1)?, 1) } else { month_start(d.year(), d.month() + 1) }
}

fn prev_month(d: NaiveDate) -> Option<NaiveDate> {
    if d.month() == 1 { month_start(d.year().checked_sub(1)?, 12) } else { month_start(d.year(), d.month() - 1) }
}

impl ReportPeriod {
    /// A calendar month in UTC, written `YYYY-MM`, compared with the month before it.
    pub fn month(field: &'static str, s: &str) -> Result<ReportPeriod> {
        let s = s.trim();
        let bad = || Error::invalid(field, "must be a month such as 2026-10");
        let shaped = s.len() == 7 && s.as_bytes()[4] == b'-' && s.bytes().filter(|b| b.is_ascii_digit()).count() == 6;
        if !shaped {
            return Err(bad());
        }
        let year: i32 = s[..4].parse().map_err(|_| bad())?;
        let month: u32 = s[5..].parse().map_err(|_| bad())?;
        let start = time::check_date(field, month_start(year, month).ok_or_else(bad)?)?;
        let end = next_month(start).ok_or_else(bad)?;
        let before = prev_month(start).ok_or_else(bad)?;
        Ok(ReportPeriod {
            from: midnight(start),
            to: midnight(end),
            previous_from: midnight(before),
            previous_to: midnight(start),
            label: start.format("%Y-%m").to_string(),
        })
    }

    /// The month before the one `now` is in: the period a monthly report covers.
    pub fn last_month(now: DateTime<Utc>) -> Option<ReportPeriod> {
        let this = month_start(now.year(), now.month())?;
        ReportPeriod::month("period", &prev_month(this)?.format("%Y-%m").to_string()).ok()
    }

    /// The Monday-to-Monday week before the one `now` is in (UTC), compared with the week before.
    pub fn last_week(now: DateTime<Utc>) -> Option<ReportPeriod> {
        let today = now.date_naive();
        let monday = today.checked_sub_days(chrono::Days::new(u64::from(today.weekday().num_days_from_monday())))?;
        let start = monday.checked_sub_days(chrono::Days::new(7))?;
        ReportPeriod::span("to", midnight(start), midnight(monday)).ok()
    }

    /// Any span of up to [`PERIOD_MAX_DAYS`], compared with the span of the same length before it.
    pub fn span(to_field: &'static str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<ReportPeriod> {
        time::check_span(to_field, from, to, Duration::days(PERIOD_MAX_DAYS))?;
        let previous_from = time::sub(from, to - from).ok_or_else(|| Error::invalid("from", "is too early"))?;
        let last = if to.time() == NaiveTime::MIN { to - Duration::seconds(1) } else { to };
        let label = if from.time() == NaiveTime::MIN && from.day() == 1 && to == midnight_after_month(from) {
            from.format("%Y-%m").to_string()
        } else {
            format!("{} – {}", from.format("%Y-%m-%d"), last.format("%Y-%m-%d"))
        };
        Ok(ReportPeriod { from, to, previous_from, previous_to: from, label })
    }

    pub fn length(&self) -> Duration {
        self.to - self.from
    }
}

fn midnight_after_month(from: DateTime<Utc>) -> DateTime<Utc> {
    next_month(from.date_naive()).map(midnight).unwrap_or(from)
}

/// The relative change from `before` to `now` (`0.25` = 25 % more); `None` when either is
/// missing or `before` is zero.
pub fn change(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    match (now, before) {
        (Some(n), Some(b)) if b != 0.0 && n.is_finite() && b.is_finite() => Some((n - b) / b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn availability_excludes_maintenance_or_counts_it_down() {
        // 1,000 checks: 100 in maintenance (30 of which failed), 20 failures outside it.
        let c = CheckTotals { total: 1000, failures: 50, maintenance: 100, maint_failures: 30 };
        let a = c.availability();
        assert_eq!(a.adjusted, Some(880.0 / 900.0));
        assert_eq!(a.raw, Some(880.0 / 1000.0));
        assert_eq!(c.slo_counts(true), Counts::events(880, 900));
        assert_eq!(c.slo_counts(false), Counts::events(950, 1000));
    }

    #[test]
    fn no_checks_is_no_availability() {
        assert_eq!(CheckTotals::default().availability(), Availability { adjusted: None, raw: None });
        // Only maintenance: users saw nothing up; the SLA figure has nothing to measure.
        let c = CheckTotals { total: 10, failures: 0, maintenance: 10, maint_failures: 0 };
        assert_eq!(c.availability(), Availability { adjusted: None, raw: Some(0.0) });
    }

    #[test]
    fn months_compare_with_the_month_before() {
        let p = ReportPeriod::month("period", "2026-03").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.from, p.to), (t("2026-03-01T00:00:00Z"), t("2026-04-01T00:00:00Z")));
        assert_eq!((p.previous_from, p.previous_to), (t("2026-02-01T00:00:00Z"), t("2026-03-01T00:00:00Z")));
        let jan = ReportPeriod::month("period", "2026-01").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(jan.previous_from, t("2025-12-01T00:00:00Z"));
        let dec = ReportPeriod::month("period", "2026-12").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dec.to, t("2027-01-01T00:00:00Z"));
        assert_eq!(dec.label, "2026-12");
        for bad in ["2026-13", "2026-00", "26-10", "2026-1", "+026-10", "2026/10", "1969-12", ""] {
            assert!(ReportPeriod::month("period", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spans_and_calendar_shortcuts() {
        let p = ReportPeriod::span("to", t("2026-10-01T00:00:00Z"), t("2026-10-15T00:00:00Z"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.previous_from, t("2026-09-17T00:00:00Z"));
        assert_eq!(p.label, "2026-10-01 – 2026-10-14");
        let m = ReportPeriod::span("to", t("2026-10-01T00:00:00Z"), t("2026-11-01T00:00:00Z"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.label, "2026-10");
        assert!(ReportPeriod::span("to", t("2026-10-02T00:00:00Z"), t("2026-10-01T00:00:00Z")).is_err());
        assert!(ReportPeriod::span("to", t("2020-01-01T00:00:00Z"), t("2026-10-01T00:00:00Z")).is_err());
        let now = t("2026-12-06T09:00:00Z"); // a Sunday
        let w = ReportPeriod::last_week(now).unwrap_or_else(|| panic!("week"));
        assert_eq!((w.from, w.to), (t("2026-11-23T00:00:00Z"), t("2026-11-30T00:00:00Z")));
        let lm = ReportPeriod::last_month(t("2027-01-03T00:00:00Z")).unwrap_or_else(|| panic!("month"));
        assert_eq!(lm.label, "2026-12");
    }

    #[test]
    fn relative_change() {
        assert_eq!(change(Some(15.0), Some(10.0)), Some(0.5));
        assert_eq!(change(Some(1.0), Some(0.0)), None);
        assert_eq!(change(None, Some(1.0)), None);
    }

    proptest! {
        #[test]
        fn availability_stays_in_unit_interval(total in 0u64..1_000_000, f in 0u64..2_000_000,
                                               m in 0u64..2_000_000, mf in 0u64..2_000_000) {
            let c = CheckTotals { total, failures: f, maintenance: m, maint_failures: mf };
            let a = c.availability();
            for v in [a.adjusted, a.raw].into_iter().flatten() {
                prop_assert!((0.0..=1.0).contains(&v));
            }
            // Counting maintenance as down can only lower the figure.
            if let (Some(adj), Some(raw)) = (a.adjusted, a.raw) {
                prop_assert!(raw <= adj + 1e-12);
            }
            for exclude in [true, false] {
                let s = c.slo_counts(exclude);
                prop_assert!(s.good <= s.total && s.total <= total as f64);
            }
        }
    }
}
