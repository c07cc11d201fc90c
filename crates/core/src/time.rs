//! Times a user gives: every date or time that arrives from outside (API bodies and queries,
//! forms, ingested events) is checked here to lie in years [`YEAR_MIN`]..=[`YEAR_MAX`], so the
//! date arithmetic after it (periods, rotations, recurrences, report buckets) stays far from
//! chrono's limits. The arithmetic itself is checked too, because rows written before these
//! rules existed may hold anything: a failing step yields `None`, never a panic.

use crate::{Error, Result};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};

/// The earliest year accepted: nothing an operations team schedules or reports on is older.
pub const YEAR_MIN: i32 = 1970;
/// The latest year accepted (four digits, as RFC 3339 and HTML date inputs write them).
pub const YEAR_MAX: i32 = 9999;

fn out_of_range(field: &'static str) -> Error {
    Error::invalid(field, format!("must be between the years {YEAR_MIN} and {YEAR_MAX}"))
}

/// `t` if its year is within range.
pub fn check_utc(field: &'static str, t: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if (YEAR_MIN..=YEAR_MAX).contains(&t.year()) { Ok(t) } else { Err(out_of_range(field)) }
}

/// A local wall-clock time if its year is within range.
pub fn check_local(field: &'static str, t: NaiveDateTime) -> Result<NaiveDateTime> {
    if (YEAR_MIN..=YEAR_MAX).contains(&t.year()) { Ok(t) } else { Err(out_of_range(field)) }
}

/// A date if its year is within range.
pub fn check_date(field: &'static str, d: NaiveDate) -> Result<NaiveDate> {
    if (YEAR_MIN..=YEAR_MAX).contains(&d.year()) { Ok(d) } else { Err(out_of_range(field)) }
}

/// An RFC 3339 time such as `2026-11-22T14:05:00Z`, within range.
pub fn parse_rfc3339(field: &'static str, s: &str) -> Result<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(s.trim())
        .map_err(|_| Error::invalid(field, "must be an RFC 3339 time such as 2026-11-22T14:05:00Z"))?;
    check_utc(field, t.with_timezone(&Utc))
}

/// A calendar date written `YYYY-MM-DD` (exactly four year digits, no sign), within range.
pub fn parse_date(field: &'static str, s: &str) -> Result<NaiveDate> {
    let s = s.trim();
    let shaped = s.len() == 10 && s.as_bytes()[4] == b'-' && s.bytes().take(4).all(|b| b.is_ascii_digit());
    let d = shaped
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| Error::invalid(field, "must be a date such as 2026-11-01"))?;
    check_date(field, d)
}

/// A local date and time as an HTML `datetime-local` input sends it (`2026-11-22T14:05`, seconds
/// optional), within range.
pub fn parse_local(field: &'static str, s: &str) -> Result<NaiveDateTime> {
    let s = s.trim();
    let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .filter(|_| s.len() >= 16 && s.bytes().take(4).all(|b| b.is_ascii_digit()))
        .ok_or_else(|| Error::invalid(field, "must be a local date and time such as 2026-11-22T14:05"))?;
    check_local(field, t)
}

/// `[from, to)` with `from` before `to` and at most `max` apart; `to_field` is named otherwise.
pub fn check_span(to_field: &'static str, from: DateTime<Utc>, to: DateTime<Utc>, max: Duration) -> Result<()> {
    if to <= from {
        return Err(Error::invalid(to_field, "must be after from"));
    }
    if to - from > max {
        return Err(Error::invalid(to_field, format!("the range spans at most {} days", max.num_days())));
    }
    Ok(())
}

/// `t + d`, or `None` past chrono's range.
pub fn add(t: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
    t.checked_add_signed(d)
}

/// `t - d`, or `None` past chrono's range.
pub fn sub(t: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
    t.checked_sub_signed(d)
}

/// `n` days, or `None` when `n` is beyond any representable span.
pub fn days(n: i64) -> Option<Duration> {
    Duration::try_days(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dates_outside_the_years_are_refused_with_the_field() {
        assert!(parse_rfc3339("at", "2026-11-22T14:05:00Z").is_ok());
        for bad in ["1969-12-31T23:59:59Z", "+262142-12-31T00:00:00Z", "2026-13-01T00:00:00Z", ""] {
            let e = parse_rfc3339("at", bad).unwrap_err();
            assert!(e.to_string().starts_with("at: "), "{e}");
        }
        assert!(parse_date("to", "2026-11-01").is_ok());
        for bad in ["+262142-12-31", "-262000-01-01", "12026-01-01", "0999-01-01", "26-1-1"] {
            assert!(parse_date("to", bad).is_err(), "{bad}");
        }
        assert!(parse_local("starts", "2026-11-22T14:05").is_ok());
        assert!(parse_local("starts", "+262142-11-22T14:05").is_err());
        let t = parse_rfc3339("from", "2026-01-01T00:00:00Z").unwrap();
        assert!(check_span("to", t, t + Duration::days(731), Duration::days(731)).is_ok());
        assert!(check_span("to", t, t + Duration::days(732), Duration::days(731)).is_err());
        assert!(check_span("to", t, t, Duration::days(1)).is_err());
    }

    proptest! {
        // Whatever is typed, parsing answers (no panic) and what it accepts is in range.
        #[test]
        fn parsers_never_panic_and_accept_only_the_range(s in "\\PC{0,40}", y in -300_000i32..300_000) {
            for text in [s.clone(), format!("{y}-01-01"), format!("{y}-06-30T12:00:00Z"), format!("{y}-06-30T12:00")] {
                if let Ok(t) = parse_rfc3339("t", &text) { prop_assert!((YEAR_MIN..=YEAR_MAX).contains(&t.year())); }
                if let Ok(d) = parse_date("d", &text) { prop_assert!((YEAR_MIN..=YEAR_MAX).contains(&d.year())); }
                if let Ok(l) = parse_local("l", &text) { prop_assert!((YEAR_MIN..=YEAR_MAX).contains(&l.year())); }
            }
        }
    }
}
