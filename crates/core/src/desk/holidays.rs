//! Holidays from an iCalendar file (the public-holiday feeds countries and calendar services
//! publish): each event's days, for a business-hours calendar.

use super::hours::HOLIDAYS_MAX;
use crate::{Error, Result};
use chrono::NaiveDate;
use std::collections::BTreeSet;

/// An iCalendar file's size, at most (under the API's 1 MiB body with JSON's escapes).
pub const ICAL_MAX: usize = 900_000;
/// How deep components nest, at most: a calendar holds events, which hold alarms. The parser
/// recurses once per level, so a deeper file is refused before it is parsed.
const DEPTH_MAX: usize = 4;
/// Components in a file, at most.
const COMPONENTS_MAX: usize = 20_000;
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
    let (mut depth, mut components) = (0usize, 0usize);
    for line in unfolded.lines() {
        let line = line.trim_start();
        if line.get(..6).is_some_and(|b| b.eq_ignore_ascii_case("BEGIN:")) {
            depth += 1;
            components += 1;
        } else if line.get(..4).is_some_and(|e| e.eq_ignore_ascii_case("END:")) {
            depth = depth.saturating_sub(1);
        }
        if depth > DEPTH_MAX || components > COMPONENTS_MAX {
            return Err(Error::invalid(field, "nests too deep or holds too many components for a holiday calendar"));
        }
    }
    let not_ical = || Error::invalid(field, "is not an iCalendar file (BEGIN:VCALENDAR … END:VCALENDAR)");
    let roots = icalendar::parser::read_calendar_simple(&unfolded).map_err(|_| not_ical())?;
    let calendar =
        roots.into_iter().find(|c| c.name.as_str().eq_ignore_ascii_case("VCALENDAR")).ok_or_else(not_ical)?;
    let mut days = BTreeSet::new();
    for event in calendar.components.iter().filter(|c| c.name.as_str().eq_ignore_ascii_case("VEVENT")) {
        let value = |key: &str| {
            event.properties.iter().find(|p| p.name.as_str().eq_ignore_ascii_case(key)).map(|p| p.val.as_str())
        };
        let Some(start) = value("DTSTART").and_then(date_of) else {
            return Err(Error::invalid(field, "an event has no start date (DTSTART)"));
        };
        // Dates a user gives are years 1970–9999, as everywhere (`core::time`).
        crate::time::check_date(field, start)?;
        let end = value("DTEND").and_then(date_of).filter(|e| *e > start);
        let span = end.map_or(1, |e| (e - start).num_days().clamp(1, EVENT_DAYS_MAX));
        for d in 0..span.unsigned_abs() {
            let Some(day) = start.checked_add_days(chrono::Days::new(d)) else { break };
            days.insert(crate::time::check_date(field, day)?);
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
        let ancient =
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:00010101\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(from_ical(ancient).is_err(), "years before 1970 are refused, as every date a user gives");
        let no_start = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        for bad in ["", "hello", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", no_start] {
            assert!(from_ical(bad).is_err(), "{bad:?}");
        }
        assert!(from_ical(&"x".repeat(ICAL_MAX + 1)).is_err());
        // Nesting that would recurse the parser 50,000 deep is refused before parsing.
        let deep = format!("BEGIN:VCALENDAR\r\n{}", "BEGIN:X\r\n".repeat(50_000));
        assert!(from_ical(&deep).unwrap_err().to_string().contains("too deep"));
    }
}
