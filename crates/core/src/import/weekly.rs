//! Sources restrict a rotation to windows of a week ("weekdays 09:00 for 8 hours", "Monday 09:00
//! for 5 days"); Opsdeck's restrictions are windows of at most a day, on chosen weekdays. This
//! turns the first into the second: the union of the windows is cut at midnights and grouped by
//! their times of day.

use crate::oncall::Restriction;
use chrono::{NaiveTime, Weekday};
use std::collections::BTreeMap;

const WEEK: u32 = 7 * 1440;

/// A window of the week: `start` minutes after Monday 00:00, lasting `minutes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeekWindow {
    pub start: u32,
    pub minutes: u32,
}

fn day(i: u32) -> Weekday {
    [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun][(i % 7) as usize]
}

fn time(minute_of_day: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(minute_of_day / 60 % 24, minute_of_day % 60, 0).unwrap_or(NaiveTime::MIN)
}

/// The restrictions covering exactly the union of `windows`; `None` when they cover the whole
/// week (no restriction at all), `Some(vec![])` when they cover nothing.
pub fn restrictions(windows: &[WeekWindow]) -> Option<Vec<Restriction>> {
    // Minutes of the week covered, as sorted, merged intervals.
    let mut spans: Vec<(u32, u32)> = Vec::new();
    for w in windows {
        let minutes = w.minutes.min(WEEK);
        let start = w.start % WEEK;
        let end = start + minutes;
        if end > WEEK {
            spans.push((start, WEEK));
            spans.push((0, end - WEEK));
        } else if minutes > 0 {
            spans.push((start, end));
        }
    }
    spans.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::new();
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    if merged == [(0, WEEK)] {
        return None;
    }
    // Cut at midnights: pieces of one day, (day, from, to) with `to` up to 1440.
    let mut by_times: BTreeMap<(u32, u32), Vec<Weekday>> = BTreeMap::new();
    for (s, e) in merged {
        let mut t = s;
        while t < e {
            let d = t / 1440;
            let day_end = (d + 1) * 1440;
            let to = e.min(day_end);
            let (from_m, to_m) = (t - d * 1440, to - d * 1440);
            // A whole day cannot be one window (start equal to end is refused): two halves.
            let pieces: &[(u32, u32)] = if from_m == 0 && to_m == 1440 { &[(0, 720), (720, 1440)] } else { &[] };
            if pieces.is_empty() {
                by_times.entry((from_m, to_m)).or_default().push(day(d));
            } else {
                for p in pieces {
                    by_times.entry(*p).or_default().push(day(d));
                }
            }
            t = to;
        }
    }
    Some(
        by_times
            .into_iter()
            .map(|((from, to), days)| Restriction { days, start: time(from), end: time(to % 1440) })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn a_daily_window_on_every_day_is_one_restriction() {
        let w: Vec<WeekWindow> = (0..7).map(|d| WeekWindow { start: d * 1440 + 9 * 60, minutes: 8 * 60 }).collect();
        let r = restrictions(&w).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].days.len(), 7);
        assert_eq!((r[0].start, r[0].end), (t(9, 0), t(17, 0)));
    }

    #[test]
    fn a_window_of_several_days_is_cut_at_midnights() {
        // Monday 09:00 for five days: Mon 09–24, Tue–Fri whole, Sat 00–09.
        let r = restrictions(&[WeekWindow { start: 9 * 60, minutes: 5 * 1440 }]).unwrap();
        let find = |s: NaiveTime, e: NaiveTime| r.iter().find(|x| x.start == s && x.end == e).map(|x| x.days.clone());
        assert_eq!(find(t(9, 0), t(0, 0)), Some(vec![Weekday::Mon]));
        assert_eq!(find(t(0, 0), t(9, 0)), Some(vec![Weekday::Sat]));
        assert_eq!(find(t(0, 0), t(12, 0)), Some(vec![Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]));
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn a_window_past_sunday_wraps_to_monday_and_the_whole_week_is_no_restriction() {
        let r = restrictions(&[WeekWindow { start: 6 * 1440 + 22 * 60, minutes: 4 * 60 }]).unwrap();
        assert!(r.iter().any(|x| x.days == [Weekday::Mon] && x.start == t(0, 0) && x.end == t(2, 0)));
        assert!(r.iter().any(|x| x.days == [Weekday::Sun] && x.start == t(22, 0) && x.end == t(0, 0)));
        assert_eq!(restrictions(&[WeekWindow { start: 300, minutes: WEEK }]), None);
        assert_eq!(restrictions(&[]), Some(vec![]));
    }
}
