//! Holidays from an iCalendar file (the public-holiday feeds countries and calendar services
//! publish): each event's days, for a business-hours calendar.

use super::hours::HOLIDAYS_MAX;
use crate::{Error, Result};
use chrono::NaiveDate;
use std::collections::BTreeSet;

/// An iCalendar file's size, at most.
pub const ICAL_MAX: usize = 1_000_000;
/// Days one event covers, at most (a longer one is cut there).
const EVENT_DAYS_MAX: i64 = 31;

/// `20261225` or `20261225T090000Z`: the date part.
fn date_of(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value.get(..8)?, "%Y%m%d").ok()
}

/// The days the events of `text` cover: from DTSTART up to DTEND (exclusive, as iCalendar
/// counts all-day events; one day without DTEND). Recurring rules are not expanded: holiday
/// feeds list each year's dates.
pub fn from_ical(text: &str) -> Result<BTreeSet<NaiveDate>> {
    let field = "ical";
    if text.len() > ICAL_MAX {
        return Err(Error::invalid(field, format!("an iCalendar file is at most {ICAL_MAX} bytes")));
    }
    let unfolded = icalendar::parser::unfold(text);
    let calendar = icalendar::parser::read_calendar(&unfolded)
        .map_err(|_| Error::invalid(field, "is not an iCalendar file (BEGIN:VCALENDAR … END:VCALENDAR)"))?;
    let mut days = BTreeSet::new();
    for event in calendar.components.iter().filter(|c| c.name.as_str().eq_ignore_ascii_case("VEVENT")) {
        let value = |key: &str| {
            event.properties.iter().find(|p| p.name.as_str().eq_ignore_ascii_case(key)).map(|p| p.val.as_str())
        };
        let Some(start) = value("DTSTART").and_then(date_of) else {
            return Err(Error::invalid(field, "an event has no start date (DTSTART)"));
        };
        let end = value("DTEND").and_then(date_of).filter(|e| *e > start).unwrap_or(start + chrono::Days::new(1));
        let span = (end - start).num_days().clamp(1, EVENT_DAYS_MAX);
        for d in 0..span {
            days.insert(start + chrono::Days::new(u64::try_from(d).unwrap_or(0)));
            if days.len() > HOLIDAYS_MAX {
                return Err(Error::invalid(field, format!("more than {HOLIDAYS_MAX} holidays")));
            }
        }
    }
    if days.is_empty() {
        return Err(Error::invalid(field, "holds no events (VEVENT)"));
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
        BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261227\r\n\
        SUMMARY:Christmas\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:2\r\nDTSTART;VALUE=DATE:20270101\r\nSUMMARY:New Year\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:3\r\nDTSTART:20270406T000000Z\r\nDTEND:20270406T235959Z\r\n\
        SUMMARY:Easter Monday\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";

    #[test]
    fn events_become_days() {
        let days: Vec<String> = from_ical(FEED).unwrap().iter().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2026-12-25", "2026-12-26", "2027-01-01", "2027-04-06"]);
    }

    #[test]
    fn bad_files_are_named() {
        let no_start = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        for bad in ["", "hello", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", no_start] {
            assert!(from_ical(bad).is_err(), "{bad:?}");
        }
        assert!(from_ical(&"x".repeat(ICAL_MAX + 1)).is_err());
    }
}
