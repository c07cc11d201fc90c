//! Recurrences (RFC 5545 RRULEs in a time zone) evaluated in bounded time.
//!
//! An RRULE is evaluated from its DTSTART, so a naive evaluation of "every hour since 1970" walks
//! half a million occurrences to answer "is it now?". Every rule here is periodic in local time
//! (DAILY and WEEKLY by whole days; MONTHLY and YEARLY by whole months when the start day is at
//! most 28), so evaluation near a time `t` starts from the start shifted by whole cycles to just
//! before `t`; occurrences counted since the start are the skipped cycles times the occurrences
//! of one cycle. Rules are limited in density at validation, and every walk stops after a fixed
//! number of steps.

use crate::{Error, Result};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{Frequency, RRuleSet};
use std::str::FromStr;

/// Occurrences looked at in one walk, at most: enough for two cycles of the densest allowed rule.
const WALK_MAX: usize = 40_000;
/// `COUNT` above this is refused (such a rule is walked from its start).
const COUNT_MAX: u32 = 10_000;

/// A validated rule with its start in local time.
#[derive(Debug, Clone, PartialEq)]
pub struct Recurrence {
    tz: Tz,
    start: NaiveDateTime,
    rule: String,
    cycle: Option<Cycle>,
    until: Option<DateTime<Utc>>,
}

/// The period after which the rule's pattern repeats exactly, in local time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cycle {
    Days(i64),
    Months(u32),
}

/// What a rule may be: the frequencies allowed and how many occurrences a day at most.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub frequencies: &'static [Frequency],
    pub per_day_max: u32,
    /// Rotations count occurrences since the start: the rule must repeat by whole periods.
    pub periodic: bool,
}

impl Recurrence {
    /// Validates `rule` (only the RRULE part) starting at `start` in `tz`.
    pub fn new(field: &'static str, rule: &str, tz: Tz, start: NaiveDateTime, limits: Limits) -> Result<Self> {
        let rule = rule.trim().trim_start_matches("RRULE:").to_owned();
        if rule.contains(['\n', '\r']) || rule.to_uppercase().contains("DTSTART") {
            return Err(Error::invalid(field, "give only the RRULE part, e.g. FREQ=WEEKLY;BYDAY=MO"));
        }
        crate::time::check_local(field, start)?;
        let set = build(tz, start, &rule).map_err(|e| Error::invalid(field, format!("is not a valid RRULE: {e}")))?;
        let Some(r) = set.get_rrule().first() else { return Err(Error::invalid(field, "is empty")) };
        let names: Vec<String> = limits.frequencies.iter().map(|f| f.to_string()).collect();
        if !limits.frequencies.contains(&r.get_freq()) {
            return Err(Error::invalid(field, format!("FREQ must be one of {}", names.join(", "))));
        }
        let interval = u32::from(r.get_interval().max(1));
        let count = r.get_count();
        if count.is_some_and(|c| c > COUNT_MAX) {
            return Err(Error::invalid(field, format!("COUNT must be at most {COUNT_MAX}")));
        }
        if matches!(r.get_freq(), Frequency::Daily | Frequency::Weekly) && interval > 366 {
            return Err(Error::invalid(field, "INTERVAL is too large (at most a year)"));
        }
        let rec = Recurrence::stored(&rule, tz, start).ok_or_else(|| Error::invalid(field, "is not a valid RRULE"))?;
        if limits.periodic && rec.cycle.is_none() && count.is_none() {
            return Err(Error::invalid(
                field,
                "must repeat every so many days or weeks (BYMONTH, BYMONTHDAY, BYYEARDAY and BYWEEKNO \
                 are not supported here)",
            ));
        }
        // Density, counted in local time (a DST day is 23 or 25 hours long): no more than
        // `per_day_max` occurrences on any local day of the first year.
        let first: Vec<NaiveDateTime> = rec
            .walk(start)
            .take(366 * limits.per_day_max as usize + 1)
            .map(|d| d.with_timezone(&tz).naive_local())
            .collect();
        let year_end = start.checked_add_signed(Duration::days(366)).unwrap_or(start);
        let in_year = first.iter().filter(|d| **d < year_end).count();
        let densest_day = first
            .windows(limits.per_day_max as usize + 1)
            .any(|w| w.last().zip(w.first()).is_some_and(|(l, f)| l.date() == f.date()));
        if in_year > 366 * limits.per_day_max as usize || densest_day {
            return Err(Error::invalid(field, format!("occurs too often: at most {} times a day", limits.per_day_max)));
        }
        Ok(rec)
    }

    /// A rule as stored, without the density limits of [`Recurrence::new`]: rows saved under
    /// earlier rules (12-hourly handoffs, say) still evaluate, every walk bounded. `None` when the
    /// rule does not parse, or recurs by the minute or second (no schedule means that, and its
    /// walks would be long): such a layer puts nobody on call, such a window is never in force.
    pub fn stored(rule: &str, tz: Tz, start: NaiveDateTime) -> Option<Self> {
        let rule = rule.trim().trim_start_matches("RRULE:").to_owned();
        if rule.contains(['\n', '\r']) || rule.to_uppercase().contains("DTSTART") {
            return None;
        }
        let set = build(tz, start, &rule).ok()?;
        let r = set.get_rrule().first()?;
        if matches!(r.get_freq(), Frequency::Minutely | Frequency::Secondly) {
            return None;
        }
        let until = r.get_until().map(|u| u.with_timezone(&Utc));
        Some(Recurrence { tz, start, cycle: cycle_of(r, start), until, rule })
    }

    fn utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        crate::oncall::local_to_utc(self.tz, local)
    }

    /// Occurrences from the (possibly shifted) local start `from_start`, in order, bounded.
    fn walk(&self, from_start: NaiveDateTime) -> impl Iterator<Item = DateTime<Utc>> + use<> {
        let set = build(self.tz, from_start, &self.rule).ok();
        set.into_iter().flat_map(|s| s.limit().into_iter()).take(WALK_MAX).map(|d| d.with_timezone(&Utc))
    }

    /// The start moved forward by `n` whole cycles, if that is exact and in range.
    fn shifted(&self, n: i64) -> Option<NaiveDateTime> {
        match self.cycle? {
            Cycle::Days(d) => self.start.checked_add_signed(Duration::try_days(d.checked_mul(n)?)?),
            Cycle::Months(m) => self.start.checked_add_months(Months::new(u32::try_from(n).ok()?.checked_mul(m)?)),
        }
    }

    /// The start moved forward by up to `n` whole cycles, landing on a local time that exists
    /// (a start in a DST gap is not a valid DTSTART; one cycle less is): `(cycles, start)`.
    fn start_near(&self, n: i64) -> (i64, NaiveDateTime) {
        (0..3)
            .map(|back| n - back)
            .filter(|k| *k > 0)
            .find_map(|k| {
                let s = self.shifted(k)?;
                self.tz.from_local_datetime(&s).earliest().map(|_| (k, s))
            })
            .unwrap_or((0, self.start))
    }

    /// Whole cycles between the start and `t`, less one cycle of margin.
    fn cycles_before(&self, t: DateTime<Utc>) -> i64 {
        let local = t.with_timezone(&self.tz).naive_local();
        let n = match self.cycle {
            Some(Cycle::Days(d)) => (local - self.start).num_days().div_euclid(d),
            Some(Cycle::Months(m)) => {
                let months = (i64::from(local.year()) - i64::from(self.start.year())) * 12 + i64::from(local.month())
                    - i64::from(self.start.month());
                months.div_euclid(i64::from(m))
            }
            None => 0,
        };
        (n - 1).max(0)
    }

    /// Occurrences starting in `[from, to)`, at most `limit`.
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>, limit: usize) -> Vec<DateTime<Utc>> {
        let (_, start) = self.start_near(self.cycles_before(from));
        self.walk(start).skip_while(|d| *d < from).take_while(|d| *d < to).take(limit).collect()
    }

    /// For rotations: how many occurrences lie in `(start, t]`, the last of them (or the start)
    /// and the next one after `t`. `None` when `t` is before the start.
    pub fn position(&self, t: DateTime<Utc>) -> Option<(i64, DateTime<Utc>, Option<DateTime<Utc>>)> {
        let start_utc = self.utc(self.start);
        if t < start_utc {
            return None;
        }
        // After UNTIL the pattern stops: count up to it.
        let t_eff = self.until.map_or(t, |u| t.min(u));
        let (n, from) = self.start_near(self.cycles_before(t_eff));
        // The start itself, when it is an occurrence, is not a handoff.
        let at_start = i64::from(self.walk(self.start).next() == Some(start_utc));
        let base = if n > 0 {
            let cycle_end = self.utc(self.shifted(1)?);
            let per_cycle = self.walk(self.start).take_while(|d| *d < cycle_end).count() as i64;
            n.checked_mul(per_cycle)? - at_start
        } else {
            -at_start
        };
        let mut k = base;
        let mut last = start_utc;
        let mut next = None;
        for d in self.walk(from) {
            if d > t {
                next = Some(d);
                break;
            }
            k += 1;
            last = d;
        }
        Some((k.max(0), last.max(start_utc), next))
    }
}

/// The whole period after which `r`'s occurrences repeat exactly in local time, if there is one
/// that shifting the start by whole periods preserves.
fn cycle_of(r: &rrule::RRule, start: NaiveDateTime) -> Option<Cycle> {
    if r.get_count().is_some() {
        return None;
    }
    let interval = u32::from(r.get_interval().max(1));
    let calendar = !r.get_by_month().is_empty() || !r.get_by_year_day().is_empty() || !r.get_by_week_no().is_empty();
    match r.get_freq() {
        Frequency::Daily | Frequency::Weekly if calendar || !r.get_by_month_day().is_empty() => None,
        // Weekdays repeat every 7 days: a daily rule limited to some weekdays repeats every
        // lcm(INTERVAL, 7) days.
        Frequency::Daily if !r.get_by_weekday().is_empty() => Some(Cycle::Days(lcm(i64::from(interval), 7))),
        Frequency::Daily => Some(Cycle::Days(i64::from(interval))),
        Frequency::Weekly => Some(Cycle::Days(7 * i64::from(interval))),
        Frequency::Monthly if start.day() <= 28 && r.get_by_year_day().is_empty() && r.get_by_week_no().is_empty() => {
            let months = if r.get_by_month().is_empty() { interval } else { lcm(i64::from(interval), 12) as u32 };
            Some(Cycle::Months(months))
        }
        Frequency::Yearly if start.day() <= 28 && interval <= 10 && r.get_by_week_no().is_empty() => {
            Some(Cycle::Months(12 * interval))
        }
        _ => None,
    }
}

fn lcm(a: i64, b: i64) -> i64 {
    let gcd = |mut x: i64, mut y: i64| {
        while y != 0 {
            (x, y) = (y, x % y);
        }
        x
    };
    a / gcd(a, b).max(1) * b
}

fn build(tz: Tz, start: NaiveDateTime, rule: &str) -> std::result::Result<RRuleSet, rrule::RRuleError> {
    let local = start.format("%Y%m%dT%H%M%S");
    RRuleSet::from_str(&format!("DTSTART;TZID={tz}:{local}\nRRULE:{rule}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HANDOFFS: Limits =
        Limits { frequencies: &[Frequency::Daily, Frequency::Weekly], per_day_max: 24, periodic: true };
    const ANY: Limits = Limits {
        frequencies: &[Frequency::Yearly, Frequency::Monthly, Frequency::Weekly, Frequency::Daily],
        per_day_max: 24,
        periodic: false,
    };

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        local(s).and_utc()
    }

    /// The same answers as walking from the start, the slow way.
    fn naive_position(r: &Recurrence, t: DateTime<Utc>) -> (i64, DateTime<Utc>, Option<DateTime<Utc>>) {
        let s = r.utc(r.start);
        let all: Vec<_> = r.walk(r.start).take_while(|d| *d <= t + Duration::days(800)).collect();
        let before: Vec<_> = all.iter().copied().filter(|d| *d > s && *d <= t).collect();
        (before.len() as i64, before.last().copied().unwrap_or(s), all.into_iter().find(|d| *d > t))
    }

    #[test]
    fn skipping_cycles_counts_like_walking_from_the_start() {
        for (rule, start, tz) in [
            ("FREQ=WEEKLY;BYDAY=MO,TH", "2024-01-01 09:00", chrono_tz::Europe::Berlin),
            ("FREQ=DAILY;INTERVAL=3;BYHOUR=8,20", "2023-03-20 08:00", chrono_tz::America::New_York),
            ("FREQ=WEEKLY;INTERVAL=2", "2022-10-30 02:30", chrono_tz::Europe::London),
            ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9", "2023-01-02 09:00", chrono_tz::Europe::Berlin),
            ("FREQ=DAILY;INTERVAL=3;BYDAY=MO,FR", "2023-02-28 07:00", chrono_tz::America::New_York),
            (
                "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23",
                "2023-01-01 00:00",
                chrono_tz::Europe::Berlin,
            ),
        ] {
            let r = Recurrence::new("r", rule, tz, local(start), HANDOFFS).unwrap();
            for t in ["2024-03-31 01:30", "2024-11-03 06:00", "2025-06-01 12:00", "2026-10-25 00:59"] {
                assert_eq!(r.position(utc(t)), Some(naive_position(&r, utc(t))), "{rule} at {t}");
            }
        }
    }

    #[test]
    fn dense_or_unbounded_rules_are_refused() {
        let start = local("2026-01-05 09:00");
        for bad in [
            "FREQ=MINUTELY",
            "FREQ=SECONDLY",
            "FREQ=HOURLY",
            "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;BYMINUTE=0,30",
            "FREQ=DAILY;INTERVAL=1000",
            "FREQ=WEEKLY;COUNT=100000",
            "FREQ=DAILY;BYMONTH=1,7",
            "DTSTART:20260101T000000Z",
            "FREQ=WEEKLY\nRRULE:FREQ=DAILY",
        ] {
            assert!(Recurrence::new("handoffs", bad, Tz::UTC, start, HANDOFFS).is_err(), "{bad}");
        }
        assert!(Recurrence::new("r", "FREQ=MONTHLY;BYDAY=1SU", Tz::UTC, start, ANY).is_ok());
    }

    #[test]
    fn an_hourly_rule_from_1970_answers_quickly() {
        let r = Recurrence::new(
            "r",
            "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23",
            Tz::UTC,
            local("1970-01-01 00:00"),
            HANDOFFS,
        )
        .unwrap();
        let t = utc("2026-11-29 10:30");
        let (k, last, next) = r.position(t).unwrap();
        assert_eq!(k, (t - utc("1970-01-01 00:00")).num_hours());
        assert_eq!((last, next), (utc("2026-11-29 10:00"), Some(utc("2026-11-29 11:00"))));
        assert_eq!(r.between(t, t + Duration::days(1), 100).len(), 24);
    }

    proptest! {
        // Any start and rule: validation answers, and evaluation anywhere in range answers in
        // bounded time (the walks are capped), without a panic.
        #[test]
        fn any_rule_anywhere_is_bounded(
            freq in prop::sample::select(
                vec!["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"]
            ),
            interval in 1u32..2000,
            byhour in prop::option::of(0u32..24),
            start_days in 0i64..2_900_000,
            at_days in 0i64..2_900_000,
        ) {
            let mut rule = format!("FREQ={freq};INTERVAL={interval}");
            if let Some(h) = byhour { rule.push_str(&format!(";BYHOUR={h}")); }
            let base = local("1970-01-01 00:00");
            let start = base + Duration::days(start_days);
            if let Ok(r) = Recurrence::new("r", &rule, chrono_tz::Europe::Berlin, start, ANY) {
                let t = (base + Duration::days(at_days)).and_utc();
                let _ = r.position(t);
                let _ = r.between(t, t + Duration::days(7), 50);
            }
        }
    }
}
