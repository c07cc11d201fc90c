//! Lifecycle reminders: who hears about warranties, vendor support, lives and contracts ending,
//! and how far ahead. A date is announced once per lead time it enters (with 90, 30 and 7 days: at
//! 90 days, again at 30, again at 7), and only for the tightest lead it is within, so a contract
//! added five days before its end is announced once, not three times.

use crate::{Error, Problems, Result, validate};
use chrono::{Days, NaiveDate};
use serde::Serialize;

/// Recipients of lifecycle reminders, at most.
pub const RECIPIENTS_MAX: usize = 20;
/// Lead times, at most.
pub const LEADS_MAX: usize = 6;
/// The longest lead time, in days (two years).
pub const LEAD_MAX: i64 = 730;
/// Lead times when none are set.
pub const LEADS_DEFAULT: [u32; 3] = [90, 30, 7];

/// Who is reminded and how many days ahead. No recipients: no reminders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReminderSettings {
    pub recipients: Vec<String>,
    /// Ascending, without repeats, at least one.
    pub lead_days: Vec<u32>,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        ReminderSettings { recipients: Vec::new(), lead_days: LEADS_DEFAULT.to_vec() }
    }
}

impl ReminderSettings {
    pub fn new(recipients: &[String], lead_days: &[i64]) -> Result<Self> {
        let mut p = Problems::default();
        let mut out = Vec::new();
        let cleaned: Vec<&str> = recipients.iter().map(|r| r.trim()).filter(|r| !r.is_empty()).collect();
        if cleaned.len() > RECIPIENTS_MAX {
            p.push("recipients", format!("give at most {RECIPIENTS_MAX} e-mail addresses"));
        }
        for r in cleaned.into_iter().take(RECIPIENTS_MAX) {
            if let Some(e) = p.check(validate::email("recipients", r))
                && !out.contains(&e)
            {
                out.push(e);
            }
        }
        let mut leads: Vec<u32> = Vec::new();
        if lead_days.is_empty() || lead_days.len() > LEADS_MAX {
            p.push("lead_days", format!("give 1 to {LEADS_MAX} lead times in days"));
        } else if lead_days.iter().any(|d| !(1..=LEAD_MAX).contains(d)) {
            p.push("lead_days", format!("each must be 1 to {LEAD_MAX} days"));
        } else {
            leads = lead_days.iter().map(|d| *d as u32).collect();
            leads.sort_unstable();
            leads.dedup();
        }
        p.finish()?;
        if leads.is_empty() {
            return Err(Error::invalid("lead_days", "give at least one lead time"));
        }
        Ok(ReminderSettings { recipients: out, lead_days: leads })
    }

    /// The furthest date any lead reaches from `today`.
    pub fn horizon(&self, today: NaiveDate) -> NaiveDate {
        let max = self.lead_days.last().copied().unwrap_or(0);
        today.checked_add_days(Days::new(max.into())).unwrap_or(NaiveDate::MAX)
    }

    /// The lead a reminder for `date` goes out under today: the smallest lead the date is within.
    /// `None` for a date that has passed or is further than every lead.
    pub fn lead_for(&self, today: NaiveDate, date: NaiveDate) -> Option<u32> {
        let left = date.signed_duration_since(today).num_days();
        if left < 0 {
            return None;
        }
        self.lead_days.iter().copied().find(|lead| left <= i64::from(*lead))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_tightest_lead_a_date_is_within_is_used() {
        let s = ReminderSettings::new(&["ops@example.com".into()], &[7, 90, 30, 30]).unwrap();
        assert_eq!(s.lead_days, vec![7, 30, 90]);
        let today = day("2026-12-01");
        assert_eq!(s.lead_for(today, day("2027-03-15")), None, "100 days out");
        assert_eq!(s.lead_for(today, day("2027-03-01")), Some(90));
        assert_eq!(s.lead_for(today, day("2026-12-31")), Some(30));
        assert_eq!(s.lead_for(today, day("2026-12-06")), Some(7));
        assert_eq!(s.lead_for(today, today), Some(7), "today still counts");
        assert_eq!(s.lead_for(today, day("2026-11-30")), None, "passed");
        assert_eq!(s.horizon(today), day("2027-03-01"));
        assert_eq!(s.horizon(NaiveDate::MAX), NaiveDate::MAX);
    }

    #[test]
    fn settings_are_checked() {
        let e = ReminderSettings::new(&["not an address".into()], &[0]).unwrap_err().to_string();
        assert!(e.contains("recipients") && e.contains("lead_days"), "{e}");
        assert!(ReminderSettings::new(&[], &[]).is_err());
        assert!(ReminderSettings::new(&[], &[1, 2, 3, 4, 5, 6, 7]).is_err());
        assert!(ReminderSettings::new(&[], &[731]).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("p{i}@example.com")).collect();
        assert!(ReminderSettings::new(&many, &[7]).is_err());
        let s = ReminderSettings::new(&[" a@example.com ".into(), "a@example.com".into(), "".into()], &[7]).unwrap();
        assert_eq!(s.recipients, vec!["a@example.com"]);
    }
}
