//! Maintenance windows: planned time when monitors of some services (or single monitors) are
//! expected to fail. They show `maintenance`, raise no alerts, and their time is left out of the
//! adjusted availability (the raw figure still counts it).

use crate::recurrence::{Limits, Recurrence};
use crate::{Error, Problems, Result, validate};
use chrono::{DateTime, Duration, Utc};
use rrule::Frequency;
use serde::Serialize;
use uuid::Uuid;

/// Repeating windows: daily to yearly, at most four a day.
const RULES: Limits = Limits {
    frequencies: &[Frequency::Daily, Frequency::Weekly, Frequency::Monthly, Frequency::Yearly],
    per_day_max: 4,
    periodic: false,
};

pub const DURATION_MAX_MINUTES: i32 = 7 * 24 * 60;
pub const SCOPE_MAX: usize = 500;

/// A validated window: its first occurrence, length, optional RRULE repetition (evaluated in
/// `timezone`, so "every Sunday 02:00" stays 02:00 local across DST) and scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowSpec {
    pub name: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    /// RFC 5545 RRULE body, e.g. `FREQ=WEEKLY;BYDAY=SU`; `None` for a one-off window.
    pub rrule: Option<String>,
    pub timezone: String,
    pub service_ids: Vec<Uuid>,
    pub monitor_ids: Vec<Uuid>,
}

/// Unvalidated window fields.
#[derive(Debug, Clone, Default)]
pub struct WindowInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub duration_minutes: Option<i64>,
    pub rrule: Option<Option<String>>,
    pub timezone: Option<String>,
    pub service_ids: Option<Vec<Uuid>>,
    pub monitor_ids: Option<Vec<Uuid>>,
}

fn tz(name: &str) -> Result<chrono_tz::Tz> {
    name.parse().map_err(|_| Error::invalid("timezone", format!("unknown time zone {name:?}; use e.g. Europe/Berlin")))
}

impl WindowSpec {
    pub fn create(input: WindowInput) -> Result<Self> {
        let starts_at = input.starts_at.ok_or_else(|| Error::invalid("starts_at", "is required (RFC 3339 time)"))?;
        let base = WindowSpec {
            name: String::new(),
            description: String::new(),
            starts_at,
            duration_minutes: 60,
            rrule: None,
            timezone: "UTC".into(),
            service_ids: Vec::new(),
            monitor_ids: Vec::new(),
        };
        base.apply(input)
    }

    pub fn apply(mut self, input: WindowInput) -> Result<Self> {
        let mut p = Problems::default();
        if let Some(n) = input.name {
            p.set(&mut self.name, validate::name("name", &n));
        }
        if let Some(d) = input.description {
            p.set(&mut self.description, validate::description("description", &d));
        }
        if let Some(s) = input.starts_at {
            p.set(&mut self.starts_at, crate::time::check_utc("starts_at", s));
        }
        if let Some(d) = input.duration_minutes {
            match i32::try_from(d) {
                Ok(d) if (1..=DURATION_MAX_MINUTES).contains(&d) => self.duration_minutes = d,
                _ => p.push("duration_minutes", format!("must be 1 to {DURATION_MAX_MINUTES} minutes")),
            }
        }
        if let Some(t) = input.timezone
            && p.check(tz(&t)).is_some()
        {
            self.timezone = t;
        }
        if let Some(r) = input.rrule {
            self.rrule = r.map(|r| r.trim().trim_start_matches("RRULE:").to_owned()).filter(|r| !r.is_empty());
        }
        if let Some(s) = input.service_ids {
            self.service_ids = s;
        }
        if let Some(m) = input.monitor_ids {
            self.monitor_ids = m;
        }
        if self.name.is_empty() {
            p.push("name", "is required");
        }
        if self.service_ids.is_empty() && self.monitor_ids.is_empty() {
            p.push("service_ids", "name at least one service or monitor the window covers");
        }
        if self.service_ids.len() > SCOPE_MAX || self.monitor_ids.len() > SCOPE_MAX {
            p.push("service_ids", format!("at most {SCOPE_MAX} services and {SCOPE_MAX} monitors"));
        }
        p.check(crate::time::check_utc("starts_at", self.starts_at));
        // The rule is walked only once its zone and start are known good.
        if self.rrule.is_some() && !p.has("timezone") && !p.has("starts_at") {
            p.check(self.validated_recurrence());
        }
        p.finish()?;
        Ok(self)
    }

    fn duration(&self) -> Duration {
        Duration::minutes(i64::from(self.duration_minutes))
    }

    fn validated_recurrence(&self) -> Result<Recurrence> {
        let zone = tz(&self.timezone)?;
        let local = self.starts_at.with_timezone(&zone).naive_local();
        Recurrence::new("rrule", self.rrule.as_deref().unwrap_or(""), zone, local, RULES)
    }

    /// The rule as stored (evaluated on every scheduler pass: no validation walk).
    fn recurrence(&self) -> Result<Recurrence> {
        let zone = tz(&self.timezone)?;
        let local = self.starts_at.with_timezone(&zone).naive_local();
        Recurrence::stored(self.rrule.as_deref().unwrap_or(""), zone, local)
            .ok_or_else(|| Error::invalid("rrule", "is not a valid RRULE"))
    }

    /// Occurrences (start, end) that overlap `[from, to)`, at most `limit`.
    pub fn occurrences(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u16,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let d = self.duration();
        // Checked: a row stored before the year rules may hold any date; it then has no occurrence.
        let window = |s: DateTime<Utc>| s.checked_add_signed(d).map(|e| (s, e));
        match &self.rrule {
            None => window(self.starts_at).filter(|(s, e)| *s < to && *e > from).into_iter().collect(),
            Some(_) => {
                let (Ok(rule), Some(after)) = (self.recurrence(), from.checked_sub_signed(d)) else {
                    return Vec::new();
                };
                rule.between(after, to, usize::from(limit))
                    .into_iter()
                    .filter_map(window)
                    .filter(|(s, e)| *s < to && *e > from)
                    .collect()
            }
        }
    }

    pub fn is_active(&self, at: DateTime<Utc>) -> bool {
        at.checked_add_signed(Duration::milliseconds(1)).is_some_and(|end| !self.occurrences(at, end, 4).is_empty())
    }

    /// The next occurrence that has not ended by `now`.
    pub fn next(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.occurrences(now, now.checked_add_signed(Duration::days(400))?, 1).into_iter().next()
    }

    /// Why this stored window cannot be evaluated (a row written before today's rules), if so:
    /// such a window is skipped (never in force) and its page says why, instead of stopping the
    /// checks of every monitor.
    pub fn problem(&self) -> Option<String> {
        let checked = crate::time::check_utc("starts_at", self.starts_at).and_then(|_| match self.rrule {
            Some(_) => self.validated_recurrence().map(|_| ()),
            None => Ok(()),
        });
        checked.err().map(|e| format!("this window is never in force: {e}"))
    }

    pub fn covers(&self, monitor_id: Uuid, service_id: Option<Uuid>) -> bool {
        self.monitor_ids.contains(&monitor_id) || service_id.is_some_and(|s| self.service_ids.contains(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn weekly() -> WindowSpec {
        WindowSpec::create(WindowInput {
            name: Some("Sunday patching".into()),
            starts_at: Some(Utc.with_ymd_and_hms(2026, 3, 1, 1, 0, 0).unwrap()), // 02:00 Berlin (CET)
            duration_minutes: Some(120),
            rrule: Some(Some("FREQ=WEEKLY;BYDAY=SU".into())),
            timezone: Some("Europe/Berlin".into()),
            service_ids: Some(vec![Uuid::now_v7()]),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn recurring_windows_keep_local_time_across_dst() {
        let w = weekly();
        assert!(w.is_active(Utc.with_ymd_and_hms(2026, 3, 22, 1, 30, 0).unwrap()), "02:30 CET");
        assert!(!w.is_active(Utc.with_ymd_and_hms(2026, 3, 22, 3, 0, 0).unwrap()), "after two hours");
        assert!(!w.is_active(Utc.with_ymd_and_hms(2026, 3, 24, 1, 30, 0).unwrap()), "a Tuesday");
        // After the switch to CEST (29 March), 02:00 local is 00:00 UTC.
        assert!(w.is_active(Utc.with_ymd_and_hms(2026, 4, 5, 0, 30, 0).unwrap()));
        assert!(!w.is_active(Utc.with_ymd_and_hms(2026, 4, 5, 2, 30, 0).unwrap()));
        let (s, e) = w.next(Utc.with_ymd_and_hms(2026, 4, 6, 0, 0, 0).unwrap()).unwrap();
        assert_eq!(s, Utc.with_ymd_and_hms(2026, 4, 12, 0, 0, 0).unwrap());
        assert_eq!(e - s, Duration::hours(2));
    }

    #[test]
    fn one_off_and_validation() {
        let mut w = weekly();
        w.rrule = None;
        assert!(w.is_active(Utc.with_ymd_and_hms(2026, 3, 1, 2, 59, 0).unwrap()));
        assert!(!w.is_active(Utc.with_ymd_and_hms(2026, 3, 8, 1, 30, 0).unwrap()));
        let bad = |input: WindowInput| match WindowSpec::create(input) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let ok = WindowInput {
            name: Some("w".into()),
            starts_at: Some(Utc::now()),
            monitor_ids: Some(vec![Uuid::now_v7()]),
            ..Default::default()
        };
        assert!(WindowSpec::create(ok.clone()).is_ok());
        assert_eq!(bad(WindowInput { rrule: Some(Some("FREQ=SOMETIMES".into())), ..ok.clone() }), "rrule");
        assert_eq!(bad(WindowInput { timezone: Some("Moon/Base".into()), ..ok.clone() }), "timezone");
        assert_eq!(bad(WindowInput { duration_minutes: Some(0), ..ok.clone() }), "duration_minutes");
        assert_eq!(bad(WindowInput { monitor_ids: Some(vec![]), ..ok.clone() }), "service_ids");
        assert_eq!(bad(WindowInput { starts_at: None, ..ok }), "starts_at");
    }

    proptest::proptest! {
        /// Windows stored with any start (rows older than the year rules) and any rule: the
        /// checks scheduler's questions answer without a panic, in bounded time.
        #[test]
        fn any_window_answers(
            start_s in -8_000_000_000_000i64..250_000_000_000,
            at_s in 0i64..253_402_300_799,
            rule in proptest::option::of(proptest::sample::select(vec![
                "FREQ=DAILY", "FREQ=MONTHLY;BYMONTHDAY=31", "FREQ=SECONDLY", "FREQ=YEARLY", "FREQ=WEEKLY;BYDAY=SU",
            ])),
        ) {
            let w = WindowSpec {
                name: "w".into(), description: String::new(),
                starts_at: DateTime::from_timestamp(start_s, 0).unwrap_or_default(),
                duration_minutes: DURATION_MAX_MINUTES, rrule: rule.map(str::to_owned),
                timezone: "Europe/Berlin".into(),
                service_ids: vec![Uuid::nil()], monitor_ids: vec![],
            };
            let at = DateTime::from_timestamp(at_s, 0).unwrap();
            let _ = w.is_active(at);
            let _ = w.next(at);
        }
    }

    #[test]
    fn far_dates_and_dense_rules_are_refused() {
        let input = |starts: DateTime<Utc>, rule: &str| WindowInput {
            name: Some("w".into()),
            starts_at: Some(starts),
            rrule: Some(Some(rule.into())),
            service_ids: Some(vec![Uuid::now_v7()]),
            ..Default::default()
        };
        let far = DateTime::<Utc>::MAX_UTC;
        assert!(WindowSpec::create(input(far, "FREQ=DAILY")).unwrap_err().to_string().starts_with("starts_at"));
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        for dense in ["FREQ=MINUTELY", "FREQ=HOURLY", "FREQ=DAILY;BYHOUR=1,2,3,4,5"] {
            assert!(WindowSpec::create(input(now, dense)).unwrap_err().to_string().starts_with("rrule"), "{dense}");
        }
    }
}
