//! Service level objectives: the maths of SLIs, error budgets and burn rates, and the
//! multiwindow burn-rate alert rules of the Google SRE workbook (chapter 5, "Alerting on SLOs").
//! Counts come from whatever measures the SLI (monitor checks, pushed good/total counts); a
//! window without data is neither good nor bad: its SLI is `None`, never 100 %.

use crate::{Error, Problems, Result, validate};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Targets are between these (99.999 % is already five minutes a year).
pub const TARGET_MIN: f64 = 0.5;
pub const TARGET_MAX: f64 = 0.99999;
/// Longest rolling window.
pub const ROLLING_DAYS_MAX: u16 = 90;
/// Monitors one SLI reads, at most.
pub const SLI_MONITORS_MAX: usize = 100;

/// Good and total events over a span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub good: u64,
    pub total: u64,
}

impl Counts {
    pub fn new(good: u64, total: u64) -> Counts {
        Counts { good: good.min(total), total }
    }

    /// The SLI: the share of good events; `None` without events.
    pub fn ratio(self) -> Option<f64> {
        (self.total > 0).then(|| self.good as f64 / self.total as f64)
    }
}

impl std::ops::Add for Counts {
    type Output = Counts;
    fn add(self, o: Counts) -> Counts {
        Counts { good: self.good.saturating_add(o.good), total: self.total.saturating_add(o.total) }
    }
}

/// What an SLO's window is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SloWindow {
    /// The last `days` days, moving with now.
    Rolling { days: u16 },
    /// The calendar month now is in, in `time_zone` (starting at local midnight on the 1st).
    CalendarMonth { time_zone: String },
}

impl SloWindow {
    pub fn rolling(days: i64) -> Result<SloWindow> {
        match u16::try_from(days) {
            Ok(d) if (1..=ROLLING_DAYS_MAX).contains(&d) => Ok(SloWindow::Rolling { days: d }),
            _ => Err(Error::invalid("window", format!("rolling_days must be 1 to {ROLLING_DAYS_MAX}"))),
        }
    }

    pub fn calendar_month(time_zone: &str) -> Result<SloWindow> {
        let tz = time_zone.trim();
        tz.parse::<chrono_tz::Tz>()
            .map_err(|_| Error::invalid("window", format!("unknown time zone {tz:?}; use e.g. Europe/Berlin")))?;
        Ok(SloWindow::CalendarMonth { time_zone: tz.to_owned() })
    }

    /// Where the window that contains `now` starts.
    pub fn start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            SloWindow::Rolling { days } => now.checked_sub_signed(Duration::days(i64::from(*days))).unwrap_or(now),
            SloWindow::CalendarMonth { time_zone } => {
                let tz: chrono_tz::Tz = time_zone.parse().unwrap_or(chrono_tz::UTC);
                let local = now.with_timezone(&tz);
                // Where a DST switch skips midnight, the month begins at the first hour that exists.
                NaiveDate::from_ymd_opt(local.year(), local.month(), 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .and_then(|midnight| {
                        tz.from_local_datetime(&midnight).earliest().or_else(|| {
                            let later = midnight.checked_add_signed(Duration::hours(1))?;
                            tz.from_local_datetime(&later).earliest()
                        })
                    })
                    .map_or(now, |s| s.with_timezone(&Utc))
            }
        }
    }

    /// How long the whole window is, for the budget's time share (a calendar month's own length).
    pub fn length(&self, now: DateTime<Utc>) -> Duration {
        match self {
            SloWindow::Rolling { days } => Duration::days(i64::from(*days)),
            SloWindow::CalendarMonth { .. } => {
                let start = self.start(now);
                // The next month's start: a day past the longest month, then back to its 1st.
                match start.checked_add_signed(Duration::days(32)) {
                    Some(later) => self.start(later) - start,
                    None => Duration::days(31),
                }
            }
        }
    }
}

/// A validated SLO on monitors: availability (checks that passed) over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloSpec {
    pub name: String,
    pub description: String,
    pub service_id: Uuid,
    pub monitor_ids: Vec<Uuid>,
    pub target: f64,
    pub window: SloWindow,
    /// Checks made during maintenance count neither good nor bad.
    pub exclude_maintenance: bool,
}

impl SloSpec {
    pub fn new(
        name: &str,
        description: &str,
        service_id: Uuid,
        monitor_ids: Vec<Uuid>,
        target: f64,
        window: Result<SloWindow>,
        exclude_maintenance: bool,
    ) -> Result<SloSpec> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", name));
        let description = p.check(validate::description("description", description));
        if monitor_ids.is_empty() {
            p.push("sli", "name at least one monitor (sli.monitor_ids)");
        } else if monitor_ids.len() > SLI_MONITORS_MAX {
            p.push("sli", format!("at most {SLI_MONITORS_MAX} monitors"));
        }
        if !(TARGET_MIN..=TARGET_MAX).contains(&target) {
            p.push("target", format!("must be between {TARGET_MIN} and {TARGET_MAX}, e.g. 0.999 for 99.9 %"));
        }
        let window = p.check(window);
        p.finish()?;
        let mut monitor_ids = monitor_ids;
        monitor_ids.sort();
        monitor_ids.dedup();
        match (name, description, window) {
            (Some(name), Some(description), Some(window)) => {
                Ok(SloSpec { name, description, service_id, monitor_ids, target, window, exclude_maintenance })
            }
            _ => Err(Error::invalid("name", "is required")),
        }
    }

    /// The share of events that may be bad.
    pub fn budget(&self) -> f64 {
        1.0 - self.target
    }

    /// The share of the error budget left after `counts` (1 untouched, 0 spent, below 0
    /// overspent); `None` without events.
    pub fn budget_remaining(&self, counts: Counts) -> Option<f64> {
        let bad_share = 1.0 - counts.ratio()?;
        Some(1.0 - bad_share / self.budget())
    }

    /// How fast `counts` spend the budget: 1 spends exactly all of it over the window, 14.4
    /// spends 2 % of a 30-day budget in an hour; `None` without events.
    pub fn burn_rate(&self, counts: Counts) -> Option<f64> {
        Some((1.0 - counts.ratio()?) / self.budget())
    }
}

/// How urgent a burn-rate alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Page,
    Ticket,
}

/// One multiwindow rule: both windows burn at `factor` or faster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnRule {
    pub urgency: Urgency,
    pub long: Duration,
    pub short: Duration,
    pub factor: f64,
}

/// The SRE workbook's rules for a 30-day window: page at 14.4× over 1 h and 5 min (2 % of the
/// budget in an hour) or 6× over 6 h and 30 min (5 % in six hours); ticket at 3× over 1 day and
/// 2 h (10 % in a day) or 1× over 3 days and 6 h.
pub fn burn_rules() -> [BurnRule; 4] {
    [
        BurnRule { urgency: Urgency::Page, long: Duration::hours(1), short: Duration::minutes(5), factor: 14.4 },
        BurnRule { urgency: Urgency::Page, long: Duration::hours(6), short: Duration::minutes(30), factor: 6.0 },
        BurnRule { urgency: Urgency::Ticket, long: Duration::days(1), short: Duration::hours(2), factor: 3.0 },
        BurnRule { urgency: Urgency::Ticket, long: Duration::days(3), short: Duration::hours(6), factor: 1.0 },
    ]
}

/// Every span the rules read (and the burn rates an SLO reports), shortest first, by label.
pub fn burn_windows() -> [(&'static str, Duration); 7] {
    [
        ("5m", Duration::minutes(5)),
        ("30m", Duration::minutes(30)),
        ("1h", Duration::hours(1)),
        ("2h", Duration::hours(2)),
        ("6h", Duration::hours(6)),
        ("1d", Duration::days(1)),
        ("3d", Duration::days(3)),
    ]
}

/// The rules that fire, given the counts over each span (`counts(span)`): a rule fires when both
/// its windows have events and burn at its factor or faster.
pub fn firing(spec: &SloSpec, counts: &dyn Fn(Duration) -> Counts) -> Vec<BurnRule> {
    let burns = |span: Duration, factor: f64| spec.burn_rate(counts(span)).is_some_and(|r| r >= factor);
    burn_rules().into_iter().filter(|r| burns(r.long, r.factor) && burns(r.short, r.factor)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(target: f64) -> SloSpec {
        SloSpec::new("Checkout availability", "", Uuid::nil(), vec![Uuid::nil()], target, SloWindow::rolling(30), true)
            .unwrap()
    }

    #[test]
    fn budget_arithmetic_by_hand() {
        let s = spec(0.999);
        // 10,000 checks, 5 failed: half of the 0.1 % budget is spent.
        let c = Counts::new(9_995, 10_000);
        assert!((c.ratio().unwrap() - 0.9995).abs() < 1e-12);
        assert!((s.budget_remaining(c).unwrap() - 0.5).abs() < 1e-9);
        assert!((s.burn_rate(c).unwrap() - 0.5).abs() < 1e-9);
        // 20 failed: spent twice over.
        assert!((s.budget_remaining(Counts::new(9_980, 10_000)).unwrap() + 1.0).abs() < 1e-9);
        // No data: neither good nor bad.
        assert_eq!(s.budget_remaining(Counts::default()), None);
        assert_eq!(s.burn_rate(Counts::default()), None);
        assert_eq!(Counts::new(5, 3), Counts { good: 3, total: 3 }, "good never exceeds total");
        assert_eq!(Counts::new(1, 2) + Counts::new(3, 4), Counts::new(4, 6));
    }

    #[test]
    fn input_is_checked() {
        let e = SloSpec::new(" ", "", Uuid::nil(), vec![], 1.0, SloWindow::rolling(0), false).unwrap_err();
        let fields: Vec<&str> = e.problems().iter().map(|p| p.field).collect();
        assert_eq!(fields, ["name", "sli", "target", "window"]);
        assert!(SloSpec::new("x", "", Uuid::nil(), vec![Uuid::nil()], f64::NAN, SloWindow::rolling(7), false).is_err());
        assert!(SloWindow::calendar_month("Mars/Olympus").is_err());
    }

    #[test]
    fn calendar_months_start_at_local_midnight_across_dst() {
        let w = SloWindow::calendar_month("Europe/Berlin").unwrap();
        // 15 April 2026 (CEST, UTC+2): the month began at 1 April 00:00 local = 31 March 22:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 4, 15, 12, 0, 0).unwrap();
        assert_eq!(w.start(now), Utc.with_ymd_and_hms(2026, 3, 31, 22, 0, 0).unwrap());
        // March 2026 holds the switch to summer time: 31 days less one hour.
        let march = Utc.with_ymd_and_hms(2026, 3, 20, 0, 0, 0).unwrap();
        assert_eq!(w.length(march), Duration::days(31) - Duration::hours(1));
        assert_eq!(SloWindow::rolling(28).unwrap().start(now), now - Duration::days(28));
        // Casablanca skipped 1 June 2008 00:00 (straight to 01:00 summer time): the month begins then.
        let cas = SloWindow::calendar_month("Africa/Casablanca").unwrap();
        let june = Utc.with_ymd_and_hms(2008, 6, 15, 12, 0, 0).unwrap();
        assert_eq!(cas.start(june), Utc.with_ymd_and_hms(2008, 6, 1, 0, 0, 0).unwrap());
        // Near the end of time nothing overflows.
        let _ = w.length(DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn multiwindow_rules_need_both_windows() {
        let s = spec(0.999);
        // 2 % of checks fail in the last hour and the last 5 minutes: 20× — page.
        let hot = |_: Duration| Counts::new(980, 1_000);
        let fired = firing(&s, &hot);
        assert_eq!(fired.iter().filter(|r| r.urgency == Urgency::Page).count(), 2);
        assert_eq!(fired.len(), 4);
        // The last 5 minutes have recovered: the 1 h / 5 m rule stops, so the page clears quickly.
        let recovered =
            |d: Duration| if d <= Duration::minutes(5) { Counts::new(100, 100) } else { Counts::new(980, 1_000) };
        let fired = firing(&s, &recovered);
        assert!(!fired.iter().any(|r| r.short == Duration::minutes(5)));
        // A gap (no checks) never fires.
        assert!(firing(&s, &|_| Counts::default()).is_empty());
        // 0.5 % bad is 5×: tickets only (3× over 1 d / 2 h, 1× over 3 d / 6 h).
        let warm = |_: Duration| Counts::new(995, 1_000);
        assert!(firing(&s, &warm).iter().all(|r| r.urgency == Urgency::Ticket));
    }

    proptest::proptest! {
        /// The SLI stays in [0, 1] and the budget left is 1 − burn rate, whatever the counts.
        #[test]
        fn budget_consistent_with_sli(good in 0u64..1_000_000, total in 0u64..1_000_000, t in 50_000u32..=99_999) {
            let s = spec(f64::from(t) / 100_000.0);
            let c = Counts::new(good, total);
            match c.ratio() {
                None => proptest::prop_assert_eq!(total, 0),
                Some(r) => {
                    proptest::prop_assert!((0.0..=1.0).contains(&r));
                    let left = s.budget_remaining(c).unwrap();
                    let burn = s.burn_rate(c).unwrap();
                    proptest::prop_assert!((left - (1.0 - burn)).abs() < 1e-9);
                    proptest::prop_assert!(left <= 1.0);
                }
            }
        }
    }
}
