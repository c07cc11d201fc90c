//! Maintenance and freeze windows of the change calendar, once or recurring ("every Sunday
//! 02:00–04:00 Europe/Berlin"): a recurring window repeats its first occurrence's length at each
//! occurrence of an RRULE, evaluated in its time zone (bounded, see `crate::recurrence`).

use super::conflict::WindowKind;
use super::spec::{CIS_MAX, WINDOW_MAX_DAYS, distinct};
use crate::recurrence::{Limits, Recurrence};
use crate::{Error, Problems, Result, time, validate};
use chrono::{DateTime, Duration, Utc};
use rrule::Frequency;
use serde::Serialize;
use uuid::Uuid;

/// One occurrence of a recurring window lasts at most this long (a weekly window fits).
pub const OCCURRENCE_MAX_DAYS: i64 = 7;

const RULES: Limits =
    Limits { frequencies: &[Frequency::Daily, Frequency::Weekly, Frequency::Monthly], per_day_max: 1, periodic: false };

/// A validated maintenance or freeze window of the change calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowSpec {
    pub name: String,
    pub kind: WindowKind,
    /// The first occurrence.
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// None: every CI.
    pub ci_ids: Vec<Uuid>,
    pub description: String,
    /// Repeats at each occurrence of this RRULE (`FREQ=WEEKLY;BYDAY=SU`) from `starts_at`.
    pub rrule: Option<String>,
    /// The zone the rule is evaluated in (wall-clock times across DST changes).
    pub timezone: String,
}

fn zone(name: &str) -> Result<chrono_tz::Tz> {
    name.parse().map_err(|_| Error::invalid("timezone", format!("unknown time zone {name:?}; use e.g. Europe/Berlin")))
}

impl WindowSpec {
    pub fn new(
        name: &str,
        kind: &str,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        ci_ids: &[Uuid],
        description: &str,
    ) -> Result<WindowSpec> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", name));
        let kind = WindowKind::parse(kind);
        if kind.is_none() {
            p.push("kind", format!("must be {}", WindowKind::choices()));
        }
        let starts_at = p.check(time::check_utc("starts_at", starts_at));
        let ends_at = p.check(time::check_utc("ends_at", ends_at));
        if let (Some(s), Some(e)) = (starts_at, ends_at) {
            if e <= s {
                p.push("ends_at", "must be after starts_at");
            } else if e - s > Duration::days(WINDOW_MAX_DAYS) {
                p.push("ends_at", format!("a window spans at most {WINDOW_MAX_DAYS} days"));
            }
        }
        if ci_ids.len() > CIS_MAX {
            p.push("ci_ids", format!("name at most {CIS_MAX} CIs"));
        }
        let description = p.check(validate::description("description", description));
        p.finish()?;
        match (name, kind, starts_at, ends_at, description) {
            (Some(name), Some(kind), Some(starts_at), Some(ends_at), Some(description)) => Ok(WindowSpec {
                name,
                kind,
                starts_at,
                ends_at,
                ci_ids: distinct(ci_ids),
                description,
                rrule: None,
                timezone: "UTC".to_owned(),
            }),
            _ => Err(Error::invalid("name", "is invalid")),
        }
    }

    /// Makes the window repeat by `rule` in `timezone` (blank rule: once). Each occurrence lasts
    /// as long as the first, at most [`OCCURRENCE_MAX_DAYS`]; daily, weekly or monthly, once a
    /// day at most.
    pub fn repeating(mut self, rule: Option<&str>, timezone: &str) -> Result<WindowSpec> {
        let timezone = if timezone.trim().is_empty() { "UTC" } else { timezone.trim() };
        let tz = zone(timezone)?;
        self.timezone = timezone.to_owned();
        let Some(rule) = rule.map(str::trim).filter(|r| !r.is_empty()) else {
            self.rrule = None;
            return Ok(self);
        };
        if self.ends_at - self.starts_at > Duration::days(OCCURRENCE_MAX_DAYS) {
            return Err(Error::invalid(
                "ends_at",
                format!("a recurring window's occurrence lasts at most {OCCURRENCE_MAX_DAYS} days"),
            ));
        }
        let local = self.starts_at.with_timezone(&tz).naive_local();
        Recurrence::new("rrule", rule, tz, local, RULES)?;
        self.rrule = Some(rule.trim_start_matches("RRULE:").to_owned());
        Ok(self)
    }

    /// The occurrences (start, end) overlapping `[from, to)`, at most `limit`; a stored rule that
    /// no longer evaluates has none.
    pub fn occurrences(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let length = self.ends_at - self.starts_at;
        let Some(rule) = &self.rrule else {
            return if self.starts_at < to && self.ends_at > from {
                vec![(self.starts_at, self.ends_at)]
            } else {
                vec![]
            };
        };
        let (Ok(tz), Some(after)) = (zone(&self.timezone), from.checked_sub_signed(length)) else {
            return Vec::new();
        };
        let Some(r) = Recurrence::stored(rule, tz, self.starts_at.with_timezone(&tz).naive_local()) else {
            return Vec::new();
        };
        r.between(after, to, limit)
            .into_iter()
            .filter_map(|s| s.checked_add_signed(length).map(|e| (s, e)))
            .filter(|(s, e)| *s < to && *e > from)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 1, 0, 0).unwrap()
    }

    #[test]
    fn windows_are_checked() {
        let e = WindowSpec::new("Year end", "blackout", now(), now() - Duration::hours(1), &[], "").unwrap_err();
        assert!(e.to_string().contains("kind") && e.to_string().contains("ends_at"), "{e}");
        let w = WindowSpec::new("Year end", "freeze", now(), now() + Duration::days(14), &[], "").unwrap();
        assert_eq!(w.kind, WindowKind::Freeze);
        assert!(w.clone().repeating(Some("FREQ=WEEKLY"), "UTC").is_err(), "14 days cannot repeat weekly");
        assert_eq!(w.occurrences(now(), now() + Duration::days(30), 10).len(), 1);
    }

    #[test]
    fn a_weekly_window_keeps_its_wall_clock_time_across_dst() {
        // Sunday 6 December 2026, 02:00–04:00 Berlin (01:00 UTC in winter).
        let w = WindowSpec::new("DB patching", "maintenance", now(), now() + Duration::hours(2), &[], "").unwrap();
        let w = w.repeating(Some("FREQ=WEEKLY;BYDAY=SU"), "Europe/Berlin").unwrap();
        let from = Utc.with_ymd_and_hms(2027, 3, 20, 0, 0, 0).unwrap();
        let got = w.occurrences(from, from + Duration::days(21), 10);
        // 21 March in winter time (01:00 UTC); 28 March, the night the clocks go forward, falls
        // in the gap and starts at 03:00 local (01:00 UTC); 4 April in summer time (00:00 UTC).
        assert_eq!(got[0].0, Utc.with_ymd_and_hms(2027, 3, 21, 1, 0, 0).unwrap());
        assert_eq!(got[2].0, Utc.with_ymd_and_hms(2027, 4, 4, 0, 0, 0).unwrap());
        assert_eq!(got[2].1 - got[2].0, Duration::hours(2));
        assert!(w.clone().repeating(Some("FREQ=HOURLY"), "UTC").is_err(), "hourly is not a window");
        assert!(w.clone().repeating(Some("FREQ=WEEKLY"), "Mars/Olympus").is_err());
        let once = w.repeating(Some(" "), "UTC").unwrap();
        assert_eq!(once.rrule, None);
    }
}
