//! Heartbeat (push) monitors: jobs ping Opsdeck; a missing ping past its deadline is a failure.

use crate::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// When pings are expected: every `period_seconds`, or at the times of a cron expression in a
/// time zone (a nightly backup at 02:00 Europe/Berlin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatSchedule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

enum Parsed {
    Period(Duration),
    Cron(Box<croner::Cron>, chrono_tz::Tz),
}

impl HeartbeatSchedule {
    fn parsed(&self) -> Result<Parsed> {
        match (&self.period_seconds, &self.cron) {
            (Some(p), None) => {
                if *p == 0 || *p > 366 * 86_400 {
                    return Err(Error::invalid("settings.schedule.period_seconds", "must be 1 second to 366 days"));
                }
                Ok(Parsed::Period(Duration::seconds(i64::from(*p))))
            }
            (None, Some(expr)) => {
                let cron = croner::Cron::from_str(expr)
                    .map_err(|e| Error::invalid("settings.schedule.cron", format!("is not a cron expression: {e}")))?;
                let tz_name = self.timezone.as_deref().unwrap_or("UTC");
                let tz: chrono_tz::Tz = tz_name.parse().map_err(|_| {
                    Error::invalid(
                        "settings.schedule.timezone",
                        format!("unknown time zone {tz_name:?}; use e.g. Europe/Berlin"),
                    )
                })?;
                Ok(Parsed::Cron(Box::new(cron), tz))
            }
            _ => Err(Error::invalid(
                "settings.schedule",
                "give either period_seconds or cron (with an optional timezone)",
            )),
        }
    }

    pub fn validate(&self) -> Result<()> {
        if let Parsed::Cron(cron, tz) = self.parsed()? {
            // A pattern like "0 0 30 2 *" parses but never fires. Cron has no year field, so a
            // pattern that fires at all fires within 28 years of any instant: searching from a
            // fixed one keeps this check (and core) free of clock reads.
            let from = DateTime::<Utc>::UNIX_EPOCH.with_timezone(&tz);
            cron.find_next_occurrence(&from, false)
                .map_err(|_| Error::invalid("settings.schedule.cron", "never fires; check the day and month fields"))?;
        }
        Ok(())
    }

    pub fn describe(&self) -> String {
        match (&self.period_seconds, &self.cron) {
            (Some(p), _) => format!("every {}", crate::monitor::heartbeat::human(*p)),
            (_, Some(c)) => format!("cron {c} ({})", self.timezone.as_deref().unwrap_or("UTC")),
            _ => "no schedule".into(),
        }
    }
}

pub(crate) fn human(secs: u32) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// When the monitor is late: the first expected ping after `since` (the last ping, or the
/// monitor's creation) plus the grace time. `None` when the schedule cannot be evaluated.
pub fn heartbeat_deadline(
    schedule: &HeartbeatSchedule,
    since: DateTime<Utc>,
    grace_seconds: u32,
) -> Option<DateTime<Utc>> {
    let grace = Duration::seconds(i64::from(grace_seconds));
    match schedule.parsed().ok()? {
        Parsed::Period(p) => since.checked_add_signed(p)?.checked_add_signed(grace),
        Parsed::Cron(cron, tz) => {
            let next = cron.find_next_occurrence(&since.with_timezone(&tz), false).ok()?;
            next.with_timezone(&Utc).checked_add_signed(grace)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn period_deadline() {
        let s = HeartbeatSchedule { period_seconds: Some(300), cron: None, timezone: None };
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(heartbeat_deadline(&s, t, 60), Some(t + Duration::seconds(360)));
    }

    #[test]
    fn cron_deadline_in_a_time_zone_across_dst() {
        // Nightly at 02:30 Berlin; on 2026-03-29 02:30 does not exist (clocks jump 02:00 -> 03:00).
        let s = HeartbeatSchedule {
            period_seconds: None,
            cron: Some("30 2 * * *".into()),
            timezone: Some("Europe/Berlin".into()),
        };
        s.validate().unwrap();
        let before = Utc.with_ymd_and_hms(2026, 3, 27, 12, 0, 0).unwrap();
        let d = heartbeat_deadline(&s, before, 600).unwrap();
        assert_eq!(d, Utc.with_ymd_and_hms(2026, 3, 28, 1, 40, 0).unwrap(), "02:30 CET = 01:30 UTC, plus 10 min");
        let summer = Utc.with_ymd_and_hms(2026, 3, 30, 12, 0, 0).unwrap();
        let d = heartbeat_deadline(&s, summer, 0).unwrap();
        assert_eq!(d, Utc.with_ymd_and_hms(2026, 3, 31, 0, 30, 0).unwrap(), "02:30 CEST = 00:30 UTC");
    }

    #[test]
    fn rejects_bad_schedules() {
        let never = HeartbeatSchedule { period_seconds: None, cron: Some("0 0 30 2 *".into()), timezone: None };
        assert!(matches!(never.validate(), Err(Error::Invalid { field: "settings.schedule.cron", .. })));
        let both = HeartbeatSchedule { period_seconds: Some(1), cron: Some("* * * * *".into()), timezone: None };
        assert!(both.validate().is_err());
        let tz = HeartbeatSchedule {
            period_seconds: None,
            cron: Some("* * * * *".into()),
            timezone: Some("Mars/Base".into()),
        };
        assert!(matches!(tz.validate(), Err(Error::Invalid { field: "settings.schedule.timezone", .. })));
    }
}
