//! On-call schedules: layers of rotations in a time zone, with restrictions and overrides, and
//! the final timeline of who is on call.
//!
//! Day-based rotations hand off at a local wall-clock time (09:00 stays 09:00 across DST, so a
//! shift spanning a change lasts 23 or 25 hours); hour-based rotations are fixed durations.
//! Higher layers override lower ones where they have someone; overrides win over every layer.

use crate::recurrence::{Limits, Recurrence};
use crate::{Error, Problems, Result, validate};
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use rrule::Frequency;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long each person's turn lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "unit", content = "count", rename_all = "lowercase")]
pub enum Length {
    /// `count` days, handing off at the same local time.
    Days(u32),
    /// `count` weeks, handing off at the same local time and weekday.
    Weeks(u32),
    /// `count` hours of elapsed time.
    Hours(u32),
}

impl Length {
    fn validate(self) -> Result<Self> {
        let (n, max) = match self {
            Length::Days(n) => (n, 365),
            Length::Weeks(n) => (n, 52),
            Length::Hours(n) => (n, 24 * 31),
        };
        if n == 0 || n > max {
            return Err(Error::invalid("length", format!("count must be 1 to {max}")));
        }
        Ok(self)
    }
}

/// Limits a layer to local time windows (e.g. weekdays 09:00–17:00). A window whose end is not
/// after its start runs past midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restriction {
    /// Days the window starts on (`mon`…`sun`); empty means every day.
    #[serde(default)]
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub name: String,
    /// The rotation, in order.
    pub users: Vec<Uuid>,
    /// The first handoff, in the schedule's time zone.
    pub start: NaiveDateTime,
    pub length: Length,
    /// Handoffs at the occurrences of an RRULE (e.g. `FREQ=WEEKLY;BYDAY=MO,TH`) from `start`,
    /// in the schedule's zone, instead of every `length`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoffs: Option<String>,
    #[serde(default)]
    pub restrictions: Vec<Restriction>,
}

/// A validated schedule: layers from lowest to highest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    pub name: String,
    pub description: String,
    pub timezone: String,
    pub team_id: Option<Uuid>,
    pub layers: Vec<Layer>,
}

pub const LAYERS_MAX: usize = 10;
pub const USERS_MAX: usize = 100;
/// The longest timeline computed in one call.
pub const SPAN_MAX_DAYS: i64 = 120;
/// Handoffs a layer contributes to one timeline at most (hourly handoffs over the longest span).
const EDGES_MAX: usize = 24 * SPAN_MAX_DAYS as usize + 2;

impl ScheduleSpec {
    pub fn validate(self) -> Result<Self> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", &self.name)).unwrap_or_default();
        let description = p.check(validate::description("description", &self.description)).unwrap_or_default();
        if self.timezone.parse::<Tz>().is_err() {
            p.push("timezone", format!("unknown time zone {:?}; use e.g. Europe/Berlin", self.timezone));
        }
        if self.layers.len() > LAYERS_MAX {
            p.push("layers", format!("at most {LAYERS_MAX} layers"));
        }
        // The layers are walked only under a valid zone and bounded in number.
        p.finish()?;
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in self.layers {
            if l.users.is_empty() || l.users.len() > USERS_MAX {
                return Err(Error::invalid("layers", format!("layer {:?} needs 1 to {USERS_MAX} users", l.name)));
            }
            if l.restrictions.len() > 14 {
                return Err(Error::invalid("layers", "at most 14 restrictions per layer"));
            }
            for r in &l.restrictions {
                if r.start == r.end {
                    return Err(Error::invalid("layers", "a restriction must not start and end at the same time"));
                }
            }
            let tz: Tz = self.timezone.parse().unwrap_or(Tz::UTC);
            let handoffs = l
                .handoffs
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(|r| r.trim_start_matches("RRULE:").to_owned());
            let l = Layer { handoffs, ..l };
            crate::time::check_local("layers.start", l.start)?;
            if let Some(rule) = &l.handoffs {
                Recurrence::new("layers.handoffs", rule, tz, l.start, HANDOFF_RULES)?;
            }
            layers.push(Layer { name: validate::name("layers.name", &l.name)?, length: l.length.validate()?, ..l });
        }
        Ok(ScheduleSpec { name, description, layers, ..self })
    }

    pub fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(Tz::UTC)
    }
}

/// Someone covering a range in place of the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub id: Uuid,
    pub user_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The longest override: a cover longer than this is a schedule change, not an override.
pub const OVERRIDE_MAX_DAYS: i64 = 90;

/// A validated request for someone to cover `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideSpec {
    pub user_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl OverrideSpec {
    /// The end must follow the start, at most [`OVERRIDE_MAX_DAYS`] later.
    pub fn new(user_id: Uuid, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self> {
        if end <= start {
            return Err(Error::invalid("end", "must be after start"));
        }
        if end - start > chrono::Duration::days(OVERRIDE_MAX_DAYS) {
            return Err(Error::invalid("end", format!("an override lasts at most {OVERRIDE_MAX_DAYS} days")));
        }
        Ok(OverrideSpec { user_id, start, end })
    }
}

/// Who is on call and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Source {
    Layer(usize),
    Override(Uuid),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shift {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `None` is a gap: nobody is on call.
    pub user_id: Option<Uuid>,
    pub source: Option<Source>,
}

/// A local wall-clock time as an instant; times skipped by a DST change move forward to the
/// first valid minute, repeated ones take the first occurrence.
pub fn local_to_utc(tz: Tz, t: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = t;
    for _ in 0..180 {
        if let Some(dt) = tz.from_local_datetime(&probe).earliest() {
            return dt.with_timezone(&Utc);
        }
        // Checked: a form may send a date at the very end of chrono's range.
        match probe.checked_add_signed(Duration::minutes(1)) {
            Some(next) => probe = next,
            None => break,
        }
    }
    Utc.from_utc_datetime(&t)
}

/// Handoff rules: day-based (DAILY, WEEKLY with BYDAY/BYHOUR…), at most hourly.
const HANDOFF_RULES: Limits =
    Limits { frequencies: &[Frequency::Daily, Frequency::Weekly], per_day_max: 24, periodic: true };

impl Layer {
    /// The handoff rule as stored: a layer saved under earlier, looser rules keeps rotating.
    fn recurrence(&self, tz: Tz) -> Option<Recurrence> {
        Recurrence::stored(self.handoffs.as_deref()?, tz, self.start)
    }

    /// With an RRULE: the handoff at or before `t` (counted from the layer's start) and the next
    /// (none after the rule ends: the last person stays on).
    fn rrule_period(&self, tz: Tz, t: DateTime<Utc>) -> Option<(i64, DateTime<Utc>, DateTime<Utc>)> {
        let (k, last, next) = self.recurrence(tz)?.position(t)?;
        Some((k, last, next.unwrap_or(DateTime::<Utc>::MAX_UTC)))
    }

    /// The rotation period containing `t` (index, start, end), or `None` before the layer starts.
    fn period(&self, tz: Tz, t: DateTime<Utc>) -> Option<(i64, DateTime<Utc>, DateTime<Utc>)> {
        let start_utc = local_to_utc(tz, self.start);
        if t < start_utc {
            return None;
        }
        if self.handoffs.is_some() {
            return self.rrule_period(tz, t);
        }
        match self.length {
            Length::Hours(h) => {
                let len_ms = i64::from(h).checked_mul(3_600_000).filter(|l| *l > 0)?;
                let k = (t - start_utc).num_milliseconds() / len_ms;
                let s = start_utc.checked_add_signed(Duration::try_milliseconds(len_ms.checked_mul(k)?)?)?;
                Some((k, s, s.checked_add_signed(Duration::try_milliseconds(len_ms)?)?))
            }
            Length::Days(_) | Length::Weeks(_) => {
                let days = match self.length {
                    Length::Days(d) => i64::from(d),
                    Length::Weeks(w) => 7 * i64::from(w),
                    Length::Hours(_) => unreachable!("handled above"),
                };
                // Local wall-clock arithmetic: handoffs stay at the same local time.
                let local = t.with_timezone(&tz).naive_local();
                let mut k = (local - self.start).num_minutes().div_euclid(days * 1440);
                // Around a DST change the naive estimate can be one period off; correct it
                // (at most a step or two; bounded anyway).
                let bound = |k: i64| {
                    let d = Duration::try_days(days.checked_mul(k)?)?;
                    Some(local_to_utc(tz, self.start.checked_add_signed(d)?))
                };
                for _ in 0..4 {
                    if k > 0 && bound(k)? > t {
                        k -= 1;
                    } else if bound(k + 1)? <= t {
                        k += 1;
                    } else {
                        break;
                    }
                }
                Some((k, bound(k)?, bound(k + 1)?))
            }
        }
    }

    /// True when `t` falls inside one of the layer's restriction windows (or it has none).
    fn allows(&self, tz: Tz, t: DateTime<Utc>) -> bool {
        if self.restrictions.is_empty() {
            return true;
        }
        let local = t.with_timezone(&tz).naive_local();
        self.restrictions.iter().any(|r| {
            // The window may have started today or, when it runs past midnight, yesterday.
            [Some(local.date()), local.date().pred_opt()].into_iter().flatten().any(|d| {
                if !(r.days.is_empty() || r.days.contains(&d.weekday())) {
                    return false;
                }
                let s = d.and_time(r.start);
                let e = if r.end > r.start { Some(d) } else { d.succ_opt() }.map(|d| d.and_time(r.end));
                local >= s && e.is_some_and(|e| local < e)
            })
        })
    }

    /// Who this layer puts on call at `t`.
    pub fn who(&self, tz: Tz, t: DateTime<Utc>) -> Option<Uuid> {
        let (k, _, _) = self.period(tz, t)?;
        if !self.allows(tz, t) {
            return None;
        }
        let n = self.users.len() as i64;
        self.users.get(k.rem_euclid(n) as usize).copied()
    }

    /// Instants in `[from, to)` where this layer's answer may change.
    fn edges(&self, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>, out: &mut Vec<DateTime<Utc>>) {
        let start_utc = local_to_utc(tz, self.start);
        if start_utc >= to {
            return;
        }
        if start_utc >= from {
            out.push(start_utc);
        }
        if let Some(rule) = self.handoffs.as_ref().and(self.recurrence(tz)) {
            // One pass over the rule's occurrences in the range.
            out.extend(rule.between(from, to, EDGES_MAX).into_iter().filter(|x| *x > from));
        } else {
            let mut t = from.max(start_utc);
            for _ in 0..EDGES_MAX {
                match self.period(tz, t) {
                    Some((_, _, end)) if end < to && end > t => {
                        out.push(end);
                        t = end;
                    }
                    _ => break,
                }
            }
        }
        if !self.restrictions.is_empty() {
            let first = from.with_timezone(&tz).date_naive().pred_opt();
            let last = to.with_timezone(&tz).date_naive();
            let mut d = first;
            // `timeline` limits the range to SPAN_MAX_DAYS, so this runs at most that many days.
            while let Some(day) = d.filter(|d| *d <= last) {
                for r in &self.restrictions {
                    let e = if r.end > r.start { Some(day) } else { day.succ_opt() }.map(|d| d.and_time(r.end));
                    for x in [Some(local_to_utc(tz, day.and_time(r.start))), e.map(|e| local_to_utc(tz, e))]
                        .into_iter()
                        .flatten()
                    {
                        if x > from && x < to {
                            out.push(x);
                        }
                    }
                }
                d = day.succ_opt();
            }
        }
    }
}

/// Who is on call at `t`: the latest override covering it, else the highest layer with someone.
pub fn on_call(spec: &ScheduleSpec, overrides: &[Override], t: DateTime<Utc>) -> Option<(Uuid, Source)> {
    if let Some(o) = overrides.iter().rev().find(|o| o.start <= t && t < o.end) {
        return Some((o.user_id, Source::Override(o.id)));
    }
    let tz = spec.tz();
    spec.layers.iter().enumerate().rev().find_map(|(i, l)| l.who(tz, t).map(|u| (u, Source::Layer(i))))
}

/// The final timeline over `[from, to)`: consecutive shifts covering the whole range, gaps
/// included (`user_id: None`), with neighbours of the same person and source merged.
pub fn timeline(spec: &ScheduleSpec, overrides: &[Override], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
    let to = to.min(from.checked_add_signed(Duration::days(SPAN_MAX_DAYS)).unwrap_or(to));
    // Outside the years a user can give, there is nothing to show (and local-time conversions
    // near chrono's limits would fail).
    if from >= to || crate::time::check_utc("from", from).is_err() || crate::time::check_utc("to", to).is_err() {
        return Vec::new();
    }
    let tz = spec.tz();
    let mut edges = vec![from, to];
    for l in &spec.layers {
        l.edges(tz, from, to, &mut edges);
    }
    for o in overrides {
        for x in [o.start, o.end] {
            if x > from && x < to {
                edges.push(x);
            }
        }
    }
    edges.sort();
    edges.dedup();
    let mut out: Vec<Shift> = Vec::new();
    for w in edges.windows(2) {
        let (s, e) = (w[0], w[1]);
        let who = on_call(spec, overrides, s);
        let (user_id, source) = (who.map(|w| w.0), who.map(|w| w.1));
        match out.last_mut() {
            Some(last) if last.user_id == user_id && last.source == source => last.end = e,
            _ => out.push(Shift { start: s, end: e, user_id, source }),
        }
    }
    out
}

#[cfg(test)]
mod tests;
