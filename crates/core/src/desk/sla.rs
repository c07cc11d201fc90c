//! SLA clocks computed from a ticket's history, never kept running in a table: each question
//! ("when is it due?", "is it breached?") replays the history over the business-hours calendar.
//! A policy or calendar changed mid-ticket therefore applies to the whole ticket at once, and a
//! pause is measured in business time (GLPI and Zammad keep running counters, and that is where
//! their clock bugs live).

use super::hours::BusinessHours;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// What happened to the clock, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The clock runs (the ticket was raised, resumed from pending, or reopened).
    Run(DateTime<Utc>),
    /// The clock pauses (pending on the requester or a third party).
    Pause(DateTime<Utc>),
    /// The clock stops: its target was met (first public reply, or resolved).
    Stop(DateTime<Utc>),
}

impl Event {
    fn at(self) -> DateTime<Utc> {
        match self {
            Event::Run(t) | Event::Pause(t) | Event::Stop(t) => t,
        }
    }
}

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Running,
    Paused,
    /// Stopped: met or, with `breached`, late.
    Stopped,
}

/// A clock at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clock {
    pub stage: Stage,
    pub target: Duration,
    /// Business time counted so far.
    pub elapsed: Duration,
    /// When the target runs out: if running, from now; if paused, as if it resumed now (it
    /// moves while paused); when it ran out, if it did; `None` for a calendar that never opens.
    pub due_at: Option<DateTime<Utc>>,
    /// When 75 % of the target is (or was) reached, the same way.
    pub warn_at: Option<DateTime<Utc>>,
    pub breached: bool,
    pub stopped_at: Option<DateTime<Utc>>,
}

/// The share of the target at which a clock warns, in percent.
pub const WARN_PERCENT: i32 = 75;

/// Replays `events` up to `now` over `hours` against `target`. Events after `now` are ignored;
/// an event out of order counts from the previous one (time never runs backwards).
pub fn clock(events: &[Event], hours: &BusinessHours, target: Duration, now: DateTime<Utc>) -> Clock {
    let warn_target = target * WARN_PERCENT / 100;
    let mut elapsed = Duration::zero();
    let mut running_since: Option<DateTime<Utc>> = None;
    let mut stage = Stage::Paused;
    let mut stopped_at = None;
    let (mut due_at, mut warn_at) = (None, None);
    let mut last = DateTime::<Utc>::MIN_UTC;
    // Counts the run from `since` to `until`, noting when the warning and the target passed.
    let mut run = |since: DateTime<Utc>, until: DateTime<Utc>, elapsed: &mut Duration| {
        let add = hours.between(since, until);
        for (mark, at) in [(warn_target, &mut warn_at), (target, &mut due_at)] {
            if at.is_none() && *elapsed < mark && *elapsed + add >= mark {
                *at = hours.add(since, mark - *elapsed);
            }
        }
        *elapsed += add;
    };
    for e in events.iter().copied().filter(|e| e.at() <= now) {
        let at = e.at().max(last);
        last = at;
        if let Some(since) = running_since.take() {
            run(since, at, &mut elapsed);
        }
        match e {
            Event::Run(_) => {
                running_since = Some(at);
                stage = Stage::Running;
                stopped_at = None;
            }
            Event::Pause(_) => stage = if stage == Stage::Stopped { Stage::Stopped } else { Stage::Paused },
            Event::Stop(_) => {
                stage = Stage::Stopped;
                stopped_at = Some(at);
            }
        }
    }
    if let Some(since) = running_since {
        run(since, now.max(last), &mut elapsed);
    }
    let breached = elapsed > target || (elapsed == target && stage != Stage::Stopped && target > Duration::zero());
    // Not yet reached: projected from now (a paused clock as if it resumed now).
    if stage != Stage::Stopped {
        let from = now.max(last);
        if due_at.is_none() {
            due_at = hours.add(from, target - elapsed);
        }
        if warn_at.is_none() {
            warn_at = hours.add(from, warn_target - elapsed);
        }
    }
    Clock { stage, target, elapsed, due_at, warn_at, breached, stopped_at }
}

/// What a clock has crossed at `now` and when it next crosses something, for notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crossed {
    /// 75 % of the target is used.
    pub warned: bool,
    /// The target is used up.
    pub breached: bool,
    /// The next instant a threshold is crossed: only while the clock runs (a paused or stopped
    /// clock crosses nothing until the ticket moves, and a move asks again).
    pub next: Option<DateTime<Utc>>,
}

impl Clock {
    /// A stopped clock has nothing to announce: met is met, and late was announced when it ran
    /// out (or is not worth an alarm once the ticket is done).
    pub fn crossed(&self, now: DateTime<Utc>) -> Crossed {
        if self.stage == Stage::Stopped {
            return Crossed { warned: false, breached: false, next: None };
        }
        // In milliseconds with saturation: no multiplication of a duration can overflow.
        let ms = |d: Duration, by: i64| d.num_milliseconds().saturating_mul(by);
        let warned = ms(self.elapsed, 100) >= ms(self.target, i64::from(WARN_PERCENT));
        let next = match self.stage {
            Stage::Running => {
                [(!warned).then_some(self.warn_at).flatten(), (!self.breached).then_some(self.due_at).flatten()]
                    .into_iter()
                    .flatten()
                    .map(|t| t.max(now))
                    .min()
            }
            _ => None,
        };
        Crossed { warned, breached: self.breached, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::hours::{BusinessHours, Interval};
    use chrono::TimeZone;
    use std::collections::BTreeSet;

    fn office() -> BusinessHours {
        let day = vec![Interval { start: 9 * 60, end: 17 * 60 }];
        let week = [day.clone(), day.clone(), day.clone(), day.clone(), day, vec![], vec![]];
        BusinessHours::new("Europe/Berlin", week, BTreeSet::new()).unwrap()
    }

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        // December 2026 in Berlin (UTC+1); the 7th is a Monday.
        chrono_tz::Europe::Berlin.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_running_clock_is_due_in_business_time() {
        let c = clock(&[Event::Run(at(4, 16, 0))], &office(), Duration::hours(4), at(4, 16, 30));
        assert_eq!((c.stage, c.elapsed), (Stage::Running, Duration::minutes(30)));
        assert_eq!(c.due_at, Some(at(7, 12, 0)), "Friday 16:00 + 4 business hours");
        assert_eq!(c.warn_at, Some(at(7, 11, 0)), "75 % is 3 h");
        assert!(!c.breached);
        let late = clock(&[Event::Run(at(4, 16, 0))], &office(), Duration::hours(4), at(7, 12, 1));
        assert!(late.breached);
        assert_eq!(late.due_at, Some(at(7, 12, 0)), "when it ran out");
    }

    #[test]
    fn crossings_name_the_next_instant_to_look_again() {
        let run = [Event::Run(at(4, 16, 0))];
        let early = clock(&run, &office(), Duration::hours(4), at(4, 16, 30)).crossed(at(4, 16, 30));
        assert_eq!(early, Crossed { warned: false, breached: false, next: Some(at(7, 11, 0)) });
        let warned = clock(&run, &office(), Duration::hours(4), at(7, 11, 30)).crossed(at(7, 11, 30));
        assert_eq!(warned, Crossed { warned: true, breached: false, next: Some(at(7, 12, 0)) });
        let late = clock(&run, &office(), Duration::hours(4), at(7, 12, 5)).crossed(at(7, 12, 5));
        assert_eq!(late, Crossed { warned: true, breached: true, next: None });
        let paused = [Event::Run(at(7, 9, 0)), Event::Pause(at(7, 9, 30))];
        let p = clock(&paused, &office(), Duration::hours(4), at(7, 15, 0)).crossed(at(7, 15, 0));
        assert_eq!(p, Crossed { warned: false, breached: false, next: None }, "a paused clock waits for a move");
        let met = [Event::Run(at(7, 9, 0)), Event::Stop(at(7, 9, 30))];
        assert_eq!(clock(&met, &office(), Duration::hours(4), at(8, 9, 0)).crossed(at(8, 9, 0)).next, None);
    }

    #[test]
    fn a_pause_moves_the_due_time_by_the_business_time_it_lasted() {
        // Raised Monday 09:00 with 8 h; pending from 10:00 to Tuesday 10:00 (8 business hours).
        let ev = [Event::Run(at(7, 9, 0)), Event::Pause(at(7, 10, 0)), Event::Run(at(8, 10, 0))];
        let c = clock(&ev, &office(), Duration::hours(8), at(8, 11, 0));
        assert_eq!(c.elapsed, Duration::hours(2));
        assert_eq!(c.due_at, Some(at(8, 17, 0)), "1 h Monday + 7 h Tuesday from 10:00");
        // While paused, the due time is projected as if it resumed now.
        let paused = clock(&ev[..2], &office(), Duration::hours(8), at(7, 15, 0));
        assert_eq!((paused.stage, paused.elapsed), (Stage::Paused, Duration::hours(1)));
        assert_eq!(paused.due_at, Some(at(8, 14, 0)), "7 h left from Monday 15:00");
    }

    #[test]
    fn stopping_and_reopening() {
        let ev = [Event::Run(at(7, 9, 0)), Event::Stop(at(7, 12, 0))];
        let met = clock(&ev, &office(), Duration::hours(4), at(9, 9, 0));
        assert_eq!((met.stage, met.breached, met.stopped_at), (Stage::Stopped, false, Some(at(7, 12, 0))));
        assert_eq!(met.elapsed, Duration::hours(3));
        // Reopened Wednesday 09:00: the clock goes on from 3 h.
        let mut again = ev.to_vec();
        again.push(Event::Run(at(9, 9, 0)));
        let c = clock(&again, &office(), Duration::hours(4), at(9, 9, 30));
        assert_eq!((c.stage, c.elapsed, c.due_at), (Stage::Running, Duration::minutes(210), Some(at(9, 10, 0))));
    }

    #[test]
    fn a_policy_or_calendar_changed_mid_ticket_applies_from_the_start() {
        let ev = [Event::Run(at(7, 9, 0))];
        let now = at(7, 13, 0);
        // The target shrank from 8 h to 2 h: already breached, at 11:00.
        let c = clock(&ev, &office(), Duration::hours(2), now);
        assert_eq!((c.breached, c.due_at), (true, Some(at(7, 11, 0))));
        // The calendar became round the clock: 4 h from Monday 09:00 Berlin is 13:00.
        let always = BusinessHours { timezone: "Europe/Berlin".into(), ..BusinessHours::always() };
        assert_eq!(clock(&ev, &always, Duration::hours(4), at(7, 10, 0)).due_at, Some(at(7, 13, 0)));
        // Events in the future do not count yet.
        let future = clock(&[Event::Run(at(7, 9, 0)), Event::Stop(at(8, 9, 0))], &office(), Duration::hours(4), now);
        assert_eq!(future.stage, Stage::Running);
    }
}
