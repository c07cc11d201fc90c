//! Business-hours calendars: open intervals per weekday in a time zone, minus holidays, and the
//! two questions an SLA clock asks of them: how much business time lies between two instants,
//! and when a given amount of business time, counted from an instant, runs out. Both walk day
//! by day in local time, so DST changes, weekends and holidays fall out of the walk; both stop
//! after [`WALK_DAYS_MAX`] days (a calendar with no open hour never runs out). A calendar open
//! round the clock without holidays answers at once: its business time is wall time.

use crate::{Error, Problems, Result};
use chrono::{DateTime, Datelike, Days, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How far a walk goes, at most: longer than any SLA target over any sparse calendar.
pub const WALK_DAYS_MAX: u64 = 3 * 366;
/// Open intervals per day, at most.
pub const INTERVALS_MAX: usize = 6;
pub const HOLIDAYS_MAX: usize = 1000;

/// An open interval in local wall-clock minutes of the day: `[start, end)`, `end` up to 1440.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Interval {
    pub start: u16,
    pub end: u16,
}

/// A validated business-hours calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessHours {
    pub timezone: String,
    /// Monday first.
    pub week: [Vec<Interval>; 7],
    pub holidays: BTreeSet<NaiveDate>,
}

impl BusinessHours {
    /// Round the clock, every day.
    pub fn always() -> BusinessHours {
        let day = vec![Interval { start: 0, end: 1440 }];
        BusinessHours { timezone: "UTC".into(), week: std::array::from_fn(|_| day.clone()), holidays: BTreeSet::new() }
    }

    /// Checks a calendar: a known zone; per day at most [`INTERVALS_MAX`] intervals that start
    /// before they end, within the day, sorted and not overlapping; at most [`HOLIDAYS_MAX`]
    /// holidays.
    pub fn new(timezone: &str, week: [Vec<Interval>; 7], holidays: BTreeSet<NaiveDate>) -> Result<BusinessHours> {
        let mut p = Problems::default();
        if timezone.parse::<Tz>().is_err() {
            p.push("timezone", format!("unknown time zone {timezone:?}; use e.g. Europe/Berlin"));
        }
        for (i, day) in week.iter().enumerate() {
            let name = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][i];
            if day.len() > INTERVALS_MAX {
                p.push("week", format!("{name}: at most {INTERVALS_MAX} intervals"));
            }
            let mut reach = 0;
            for iv in day {
                if iv.start >= iv.end || iv.end > 1440 || iv.start < reach {
                    p.push("week", format!("{name}: intervals start before they end, within the day, in order"));
                    break;
                }
                reach = iv.end;
            }
        }
        if holidays.len() > HOLIDAYS_MAX {
            p.push("holidays", format!("at most {HOLIDAYS_MAX} holidays"));
        }
        p.finish()?;
        Ok(BusinessHours { timezone: timezone.to_owned(), week, holidays })
    }

    /// Open all day every day with no holidays: business time is wall time, whatever the zone,
    /// so the walks below are skipped (an old ticket's walk is one step per day since it was
    /// raised, and recomputing 250,000 such clocks spent most of its time there).
    fn round_the_clock(&self) -> bool {
        self.holidays.is_empty()
            && self.week.iter().all(|d| matches!(d.as_slice(), [i] if i.start == 0 && i.end >= 1440))
    }

    fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(Tz::UTC)
    }

    /// The open intervals of local day `d` as UTC instants (none on a holiday). A start in a DST
    /// gap moves to the end of the gap; an ambiguous local time is its earlier instant.
    fn open(&self, tz: Tz, d: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&d) {
            return Vec::new();
        }
        let day = &self.week[d.weekday().num_days_from_monday() as usize];
        day.iter()
            .filter_map(|iv| {
                let s = instant(tz, d, iv.start)?;
                let e = instant(tz, d, iv.end)?;
                (e > s).then_some((s, e))
            })
            .collect()
    }

    /// Business time in `[from, to)`.
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        // Outside the years a user can give there are no business hours (and local-time
        // conversions near chrono's limits would fail).
        if to <= from || crate::time::check_utc("from", from).is_err() {
            return Duration::zero();
        }
        if self.round_the_clock() {
            return to - from;
        }
        let tz = self.tz();
        let mut total = Duration::zero();
        // The local day before `from` too: its intervals may end after midnight UTC.
        let mut d = from.with_timezone(&tz).date_naive().pred_opt().unwrap_or(NaiveDate::MIN);
        for _ in 0..WALK_DAYS_MAX {
            for (s, e) in self.open(tz, d) {
                let (s, e) = (s.max(from), e.min(to));
                if e > s {
                    total += e - s;
                }
            }
            if instant(tz, d, 0).is_some_and(|start| start >= to) {
                break;
            }
            match d.checked_add_days(Days::new(1)) {
                Some(n) => d = n,
                None => break,
            }
        }
        total
    }

    /// The instant `amount` of business time after `from` (`from` itself for zero); `None` when
    /// the calendar does not hold that much within [`WALK_DAYS_MAX`] days.
    pub fn add(&self, from: DateTime<Utc>, amount: Duration) -> Option<DateTime<Utc>> {
        if amount <= Duration::zero() {
            return Some(from);
        }
        crate::time::check_utc("from", from).ok()?;
        if self.round_the_clock() {
            return from.checked_add_signed(amount);
        }
        let tz = self.tz();
        let mut left = amount;
        let mut d = from.with_timezone(&tz).date_naive().pred_opt()?;
        for _ in 0..WALK_DAYS_MAX {
            for (s, e) in self.open(tz, d) {
                let s = s.max(from);
                if e <= s {
                    continue;
                }
                if e - s >= left {
                    return s.checked_add_signed(left);
                }
                left -= e - s;
            }
            d = d.checked_add_days(Days::new(1))?;
        }
        None
    }
}

/// Local minute `m` of day `d` in `tz` as an instant (1440: the next midnight).
fn instant(tz: Tz, d: NaiveDate, m: u16) -> Option<DateTime<Utc>> {
    let (d, m) = if m >= 1440 { (d.checked_add_days(Days::new(1))?, 0) } else { (d, m) };
    let t = NaiveTime::from_num_seconds_from_midnight_opt(u32::from(m) * 60, 0)?;
    let local = NaiveDateTime::new(d, t);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(x) => Some(x.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, _) => Some(a.with_timezone(&Utc)),
        // In a DST gap: the first instant after it (gaps are at most a few hours).
        LocalResult::None => (1..=240).find_map(|k| {
            let later = local.checked_add_signed(Duration::minutes(k))?;
            match tz.from_local_datetime(&later) {
                LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => Some(x.with_timezone(&Utc)),
                LocalResult::None => None,
            }
        }),
    }
}

/// `"09:00-17:00"` as an interval.
pub fn parse_interval(field: &'static str, s: &str) -> Result<Interval> {
    let bad = || Error::invalid(field, format!("{s:?}: write an interval as 09:00-17:00"));
    let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
    let minutes = |t: &str| -> Result<u16> {
        let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if m >= 60 || h > 24 || (h == 24 && m > 0) {
            return Err(bad());
        }
        Ok(h * 60 + m)
    };
    Ok(Interval { start: minutes(a)?, end: minutes(b)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Monday to Friday 09:00–17:00 in Berlin.
    pub(crate) fn office() -> BusinessHours {
        let day = vec![Interval { start: 9 * 60, end: 17 * 60 }];
        let week = [day.clone(), day.clone(), day.clone(), day.clone(), day, vec![], vec![]];
        BusinessHours::new("Europe/Berlin", week, BTreeSet::new()).unwrap()
    }

    fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        chrono_tz::Europe::Berlin.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn business_time_skips_nights_weekends_and_holidays() {
        let h = office();
        // Friday 4 December 2026, 16:00 + 4 h → Monday 7 December, 12:00.
        assert_eq!(h.add(berlin(2026, 12, 4, 16, 0), Duration::hours(4)), Some(berlin(2026, 12, 7, 12, 0)));
        assert_eq!(h.between(berlin(2026, 12, 4, 16, 0), berlin(2026, 12, 7, 12, 0)), Duration::hours(4));
        // Christmas: 24–26 December 2026 (Thursday to Saturday) are holidays.
        let mut xmas = h.clone();
        xmas.holidays.extend([24, 25, 26].map(|d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap()));
        // Wednesday 23rd, 15:00 + 8 h → 2 h that day, then Monday 28th 09:00 + 6 h = 15:00.
        assert_eq!(xmas.add(berlin(2026, 12, 23, 15, 0), Duration::hours(8)), Some(berlin(2026, 12, 28, 15, 0)));
        // Started outside hours: the clock starts at the next opening.
        assert_eq!(h.add(berlin(2026, 12, 5, 11, 0), Duration::minutes(30)), Some(berlin(2026, 12, 7, 9, 30)));
    }

    #[test]
    fn dst_changes_keep_wall_clock_hours() {
        let h = office();
        // Friday 26 March 2027 16:00 + 2 h → Monday 29 March 10:00 (summer time since Sunday).
        let due = h.add(berlin(2027, 3, 26, 16, 0), Duration::hours(2)).unwrap();
        assert_eq!(due, berlin(2027, 3, 29, 10, 0));
        assert_eq!(due, Utc.with_ymd_and_hms(2027, 3, 29, 8, 0, 0).unwrap());
        // A round-the-clock calendar over the night the clocks go back counts 25 hours of day.
        let always = BusinessHours { timezone: "Europe/Berlin".into(), ..BusinessHours::always() };
        let (a, b) = (berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 26, 0, 0));
        assert_eq!(always.between(a, b), Duration::hours(25));
    }

    #[test]
    fn round_the_clock_skips_the_walk_and_agrees_with_it() {
        let fast = BusinessHours { timezone: "Europe/Berlin".into(), ..BusinessHours::always() };
        // A holiday far away makes the same calendar walk day by day.
        let mut walked = fast.clone();
        walked.holidays.insert(NaiveDate::from_ymd_opt(2099, 1, 1).unwrap());
        let (a, b) = (berlin(2025, 3, 1, 7, 13), berlin(2027, 2, 11, 18, 2));
        assert_eq!(fast.between(a, b), walked.between(a, b));
        assert_eq!(fast.add(a, Duration::days(300)), walked.add(a, Duration::days(300)));
        assert_eq!(fast.between(b, a), Duration::zero());
    }

    #[test]
    fn instants_near_the_end_of_time_do_not_panic() {
        let h = office();
        let end = DateTime::<Utc>::MAX_UTC;
        assert_eq!(h.add(end, Duration::hours(1)), None);
        assert_eq!(h.between(end - Duration::days(3), end), Duration::zero());
        let always = BusinessHours::always();
        assert_eq!(always.add(DateTime::<Utc>::MIN_UTC, Duration::hours(1)), None);
    }

    #[test]
    fn a_closed_calendar_never_runs_out_and_bad_ones_are_named() {
        let closed = BusinessHours::new("UTC", Default::default(), BTreeSet::new()).unwrap();
        assert_eq!(closed.add(Utc::now(), Duration::minutes(1)), None);
        let mut week: [Vec<Interval>; 7] = Default::default();
        week[0] = vec![Interval { start: 600, end: 500 }];
        assert!(BusinessHours::new("UTC", week, BTreeSet::new()).is_err());
        assert!(BusinessHours::new("Mars/Base", Default::default(), BTreeSet::new()).is_err());
        assert_eq!(parse_interval("x", "09:00-17:30").unwrap(), Interval { start: 540, end: 1050 });
        assert_eq!(parse_interval("x", "00:00-24:00").unwrap(), Interval { start: 0, end: 1440 });
        assert!(parse_interval("x", "9-5").is_err());
    }
}
