//! On-call schedules: layers of rotations in a time zone, with restrictions and overrides, and
//! the final timeline of who is on call.
//!
//! Day-based rotations hand off at a local wall-clock time (09:00 stays 09:00 across DST, so a
//! shift spanning a change lasts 23 or 25 hours); hour-based rotations are fixed durations.
//! Higher layers override lower ones where they have someone; overrides win over every layer.

use crate::{Error, Result, validate};
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
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

impl ScheduleSpec {
    pub fn validate(self) -> Result<Self> {
        let name = validate::name("name", &self.name)?;
        let description = validate::description("description", &self.description)?;
        self.timezone.parse::<Tz>().map_err(|_| {
            Error::invalid("timezone", format!("unknown time zone {:?}; use e.g. Europe/Berlin", self.timezone))
        })?;
        if self.layers.len() > LAYERS_MAX {
            return Err(Error::invalid("layers", format!("at most {LAYERS_MAX} layers")));
        }
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
            if l.handoffs.is_some() && l.rule_set(tz).is_none() {
                return Err(Error::invalid(
                    "layers.handoffs",
                    "is not a valid RRULE; give only the rule, e.g. FREQ=WEEKLY;BYDAY=MO,TH",
                ));
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

/// Handoffs counted at most, so a frequent rule over a long history stays bounded.
const RRULE_LIMIT: u16 = 20_000;

impl Layer {
    fn rule_set(&self, tz: Tz) -> Option<rrule::RRuleSet> {
        let rule = self.handoffs.as_deref()?;
        if rule.contains('\n') || rule.to_uppercase().contains("DTSTART") {
            return None;
        }
        let local = self.start.format("%Y%m%dT%H%M%S");
        rrule::RRuleSet::from_str(&format!("DTSTART;TZID={tz}:{local}\nRRULE:{rule}")).ok()
    }

    /// With an RRULE: the handoff at or before `t` (counted from the layer's start) and the next.
    fn rrule_period(
        &self,
        tz: Tz,
        start_utc: DateTime<Utc>,
        t: DateTime<Utc>,
    ) -> Option<(i64, DateTime<Utc>, DateTime<Utc>)> {
        let set = self.rule_set(tz)?;
        let utc = |d: DateTime<Utc>| d.with_timezone(&rrule::Tz::UTC);
        let before: Vec<DateTime<Utc>> = set
            .clone()
            .after(utc(start_utc))
            .before(utc(t))
            .all(RRULE_LIMIT)
            .dates
            .into_iter()
            .map(|d| d.with_timezone(&Utc))
            .filter(|d| *d > start_utc && *d <= t)
            .collect();
        let k = before.len() as i64;
        let s = before.last().copied().unwrap_or(start_utc);
        let next = set.after(utc(t)).all(2).dates.into_iter().map(|d| d.with_timezone(&Utc)).find(|d| *d > t);
        Some((k, s, next.unwrap_or(t + Duration::days(3650))))
    }

    /// The rotation period containing `t` (index, start, end), or `None` before the layer starts.
    fn period(&self, tz: Tz, t: DateTime<Utc>) -> Option<(i64, DateTime<Utc>, DateTime<Utc>)> {
        let start_utc = local_to_utc(tz, self.start);
        if t < start_utc {
            return None;
        }
        if self.handoffs.is_some() {
            return self.rrule_period(tz, start_utc, t);
        }
        match self.length {
            Length::Hours(h) => {
                let len = Duration::hours(i64::from(h));
                let k = (t - start_utc).num_milliseconds() / len.num_milliseconds();
                let s = start_utc + len * (k as i32);
                Some((k, s, s + len))
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
                // Around a DST change the naive estimate can be one period off; correct it.
                let bound = |k: i64| local_to_utc(tz, self.start + Duration::days(days * k));
                while k > 0 && bound(k) > t {
                    k -= 1;
                }
                while bound(k + 1) <= t {
                    k += 1;
                }
                Some((k, bound(k), bound(k + 1)))
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
            [local.date(), local.date() - Duration::days(1)].into_iter().any(|d| {
                if !(r.days.is_empty() || r.days.contains(&d.weekday())) {
                    return false;
                }
                let s = d.and_time(r.start);
                let e = if r.end > r.start { d.and_time(r.end) } else { (d + Duration::days(1)).and_time(r.end) };
                local >= s && local < e
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
        let mut t = from.max(start_utc);
        while let Some((_, _, end)) = self.period(tz, t) {
            if end >= to {
                break;
            }
            out.push(end);
            t = end;
        }
        if !self.restrictions.is_empty() {
            let first = from.with_timezone(&tz).date_naive() - Duration::days(1);
            let last = to.with_timezone(&tz).date_naive();
            let mut d = first;
            while d <= last {
                for r in &self.restrictions {
                    let e = if r.end > r.start { d.and_time(r.end) } else { (d + Duration::days(1)).and_time(r.end) };
                    for x in [local_to_utc(tz, d.and_time(r.start)), local_to_utc(tz, e)] {
                        if x > from && x < to {
                            out.push(x);
                        }
                    }
                }
                d += Duration::days(1);
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
    let to = to.min(from + Duration::days(SPAN_MAX_DAYS));
    if from >= to {
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uid(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn naive(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        Utc.from_utc_datetime(&naive(s))
    }

    fn spec(tz: &str, layers: Vec<Layer>) -> ScheduleSpec {
        ScheduleSpec { name: "Primary".into(), description: String::new(), timezone: tz.into(), team_id: None, layers }
    }

    fn layer(users: &[u128], start: &str, length: Length) -> Layer {
        Layer {
            name: "L".into(),
            users: users.iter().map(|u| uid(*u)).collect(),
            start: naive(start),
            length,
            handoffs: None,
            restrictions: vec![],
        }
    }

    #[test]
    fn local_times_at_the_end_of_the_calendar_do_not_overflow() {
        // West of UTC the last local minute has no UTC instant; probing forward must stop.
        let t = local_to_utc(chrono_tz::America::New_York, NaiveDateTime::MAX);
        assert_eq!(t.naive_utc(), NaiveDateTime::MAX);
    }

    #[test]
    fn rrule_handoffs_on_mondays_and_thursdays_across_dst() {
        let mut l = layer(&[1, 2], "2026-10-19 09:00", Length::Weeks(1));
        l.handoffs = Some("FREQ=WEEKLY;BYDAY=MO,TH".into());
        let s = spec("Europe/Berlin", vec![l]).validate().unwrap();
        let shifts = timeline(&s, &[], utc("2026-10-19 07:00"), utc("2026-11-02 08:00"));
        let starts: Vec<String> =
            shifts.iter().map(|x| x.start.with_timezone(&s.tz()).format("%a %H:%M").to_string()).collect();
        assert_eq!(starts, vec!["Mon 09:00", "Thu 09:00", "Mon 09:00", "Thu 09:00"]);
        let users: Vec<Uuid> = shifts.iter().map(|x| x.user_id.unwrap()).collect();
        assert_eq!(users, vec![uid(1), uid(2), uid(1), uid(2)]);
        let mut bad = layer(&[1], "2026-10-19 09:00", Length::Days(1));
        bad.handoffs = Some("FREQ=SOMETIMES".into());
        assert!(spec("UTC", vec![bad]).validate().is_err());
    }

    #[test]
    fn weekly_rotation_hands_off_at_local_time_across_dst() {
        // Berlin leaves summer time on 2026-10-25: the week containing it is 169 hours long.
        let s = spec("Europe/Berlin", vec![layer(&[1, 2], "2026-10-19 09:00", Length::Weeks(1))]);
        let shifts = timeline(&s, &[], utc("2026-10-19 07:00"), utc("2026-11-02 08:00"));
        assert_eq!(shifts.len(), 2);
        assert_eq!(shifts[0].user_id, Some(uid(1)));
        assert_eq!(shifts[0].start, utc("2026-10-19 07:00"), "09:00 CEST");
        assert_eq!(shifts[0].end, utc("2026-10-26 08:00"), "09:00 CET");
        assert_eq!((shifts[0].end - shifts[0].start).num_hours(), 169);
        assert_eq!(shifts[1].user_id, Some(uid(2)));
    }

    #[test]
    fn spring_forward_day_is_23_hours() {
        let s = spec("Europe/Berlin", vec![layer(&[1, 2, 3], "2026-03-27 09:00", Length::Days(1))]);
        let shifts = timeline(&s, &[], utc("2026-03-27 08:00"), utc("2026-03-31 07:00"));
        let lens: Vec<i64> = shifts.iter().map(|s| (s.end - s.start).num_hours()).collect();
        assert_eq!(lens, vec![24, 23, 24, 24]);
        assert_eq!(shifts.iter().map(|s| s.user_id.unwrap()).collect::<Vec<_>>(), vec![uid(1), uid(2), uid(3), uid(1)]);
    }

    #[test]
    fn restrictions_leave_gaps_and_higher_layers_override() {
        let mut day = layer(&[9], "2026-11-02 00:00", Length::Weeks(1));
        day.restrictions = vec![Restriction {
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
        }];
        let s = spec("UTC", vec![layer(&[1], "2026-11-02 00:00", Length::Days(1)), day]);
        assert_eq!(
            on_call(&s, &[], utc("2026-11-02 10:00")).map(|w| w.0),
            Some(uid(9)),
            "business hours: the upper layer"
        );
        assert_eq!(on_call(&s, &[], utc("2026-11-02 18:00")).map(|w| w.0), Some(uid(1)), "evening: the base layer");
        assert_eq!(on_call(&s, &[], utc("2026-11-07 10:00")).map(|w| w.0), Some(uid(1)), "Saturday: the base layer");
        // Only the restricted layer: evenings are gaps.
        let only = spec("UTC", vec![s.layers[1].clone()]);
        let shifts = timeline(&only, &[], utc("2026-11-02 00:00"), utc("2026-11-03 00:00"));
        assert_eq!(shifts.iter().map(|s| s.user_id).collect::<Vec<_>>(), vec![None, Some(uid(9)), None]);
    }

    #[test]
    fn overnight_restriction() {
        let mut l = layer(&[5], "2026-11-01 00:00", Length::Weeks(1));
        l.restrictions = vec![Restriction {
            days: vec![],
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
        }];
        let s = spec("UTC", vec![l]);
        assert!(on_call(&s, &[], utc("2026-11-02 23:00")).is_some());
        assert!(on_call(&s, &[], utc("2026-11-03 05:59")).is_some());
        assert!(on_call(&s, &[], utc("2026-11-03 06:00")).is_none());
    }

    #[test]
    fn override_wins_and_before_start_is_a_gap() {
        let s = spec("UTC", vec![layer(&[1, 2], "2026-11-02 09:00", Length::Days(1))]);
        let o = Override { id: uid(77), user_id: uid(3), start: utc("2026-11-03 12:00"), end: utc("2026-11-03 14:00") };
        assert_eq!(on_call(&s, std::slice::from_ref(&o), utc("2026-11-03 13:00")).map(|w| w.0), Some(uid(3)));
        assert_eq!(on_call(&s, &[o], utc("2026-11-03 14:00")).map(|w| w.0), Some(uid(2)));
        assert_eq!(on_call(&s, &[], utc("2026-11-01 00:00")), None);
    }

    #[test]
    fn validation_names_the_field() {
        let bad = spec("Mars/Olympus", vec![]);
        assert!(matches!(bad.validate(), Err(Error::Invalid { field: "timezone", .. })));
        let empty = spec("UTC", vec![layer(&[], "2026-11-02 09:00", Length::Days(1))]);
        assert!(empty.validate().is_err());
        let zero = spec("UTC", vec![layer(&[1], "2026-11-02 09:00", Length::Hours(0))]);
        assert!(zero.validate().is_err());
    }

    fn arb_length() -> impl Strategy<Value = Length> {
        prop_oneof![
            (1u32..4).prop_map(Length::Days),
            (1u32..3).prop_map(Length::Weeks),
            (1u32..49).prop_map(Length::Hours)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The timeline partitions the range exactly (no overlap, no hole), agrees with
        /// `on_call` everywhere, has nobody missing once a gap-free layer started, and every
        /// override wins inside its range; in a zone with DST.
        #[test]
        fn timeline_partitions_and_agrees(
            users in proptest::collection::vec(1u128..6, 1..5),
            length in arb_length(),
            start_h in 0i64..48,
            from_h in 0i64..24 * 30,
            span_h in 1i64..24 * 20,
            over in proptest::option::of((0i64..24 * 20, 1i64..48, 6u128..9)),
            probes in proptest::collection::vec(0f64..1.0, 1..20),
        ) {
            let base = naive("2026-03-20 00:00");
            let l = Layer { name: "L".into(), users: users.iter().map(|u| uid(*u)).collect(),
                start: base + Duration::hours(start_h), length, handoffs: None, restrictions: vec![] };
            let s = spec("Europe/Berlin", vec![l]);
            let from = utc("2026-03-20 00:00") + Duration::hours(from_h);
            let to = from + Duration::hours(span_h);
            let overrides: Vec<Override> = over.into_iter().map(|(at, len, u)| Override {
                id: uid(1000), user_id: uid(u), start: from + Duration::hours(at),
                    end: from + Duration::hours(at + len),
            }).collect();
            let shifts = timeline(&s, &overrides, from, to);
            prop_assert_eq!(shifts.first().unwrap().start, from);
            prop_assert_eq!(shifts.last().unwrap().end, to);
            for w in shifts.windows(2) {
                prop_assert_eq!(w[0].end, w[1].start);
                prop_assert!(w[0].start < w[0].end);
            }
            let layer_start = local_to_utc(s.tz(), s.layers[0].start);
            for p in probes {
                let t = from + Duration::milliseconds(((to - from).num_milliseconds() as f64 * p) as i64);
                let shift = shifts.iter().find(|sh| sh.start <= t && t < sh.end).unwrap();
                let now = on_call(&s, &overrides, t);
                prop_assert_eq!(shift.user_id, now.map(|w| w.0));
                if t >= layer_start {
                    prop_assert!(now.is_some(), "a layer without restrictions covers every instant");
                }
                for o in &overrides {
                    if o.start <= t && t < o.end {
                        prop_assert_eq!(now.map(|w| w.0), Some(o.user_id));
                    }
                }
            }
        }

        /// Day-based rotations hand off at the same local time every time, DST or not, so no
        /// hour is lost or counted twice: shift lengths are whole days ± the DST hour.
        #[test]
        fn day_handoffs_keep_local_time(days in 1u32..4, hour in 0u32..24, from_d in 0i64..60) {
            let start = naive("2026-03-01 00:00") + Duration::hours(i64::from(hour));
            let s = spec("Europe/Berlin", vec![Layer { name: "L".into(), users: vec![uid(1), uid(2), uid(3)], start,
                length: Length::Days(days), handoffs: None, restrictions: vec![] }]);
            let from = utc("2026-03-01 00:00") + Duration::days(from_d);
            let shifts = timeline(&s, &[], from, from + Duration::days(40));
            let tz = s.tz();
            // Every shift that the range does not clip starts at a handoff.
            for sh in shifts.iter().filter(|sh| sh.start > from && sh.end < from + Duration::days(40)) {
                let local = sh.start.with_timezone(&tz).naive_local();
                // A handoff at a time skipped by the spring change moves to 03:00.
                let moved_to_three = hour == 2 && local.time().format("%H:%M").to_string() == "03:00";
                prop_assert!(local.time() == start.time() || moved_to_three);
                let h = (sh.end - sh.start).num_hours();
                let d = 24 * i64::from(days);
                prop_assert!(h == d || h == d - 1 || h == d + 1, "shift of {} h", h);
            }
        }
    }
}
