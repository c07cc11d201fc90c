//! Scheduled operations reports: a weekly or monthly KPI report e-mailed to chosen people once
//! its period has ended.

use crate::kpi::ReportPeriod;
use crate::validate;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Recipients one schedule may have, at most.
pub const RECIPIENTS_MAX: usize = 20;

/// How often a report goes out, and what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// Monday to Monday (UTC), sent after the week ends.
    Weekly,
    /// A calendar month (UTC), sent after the month ends.
    Monthly,
}

impl Cadence {
    pub fn parse(s: &str) -> Result<Cadence> {
        match s.trim() {
            "weekly" => Ok(Cadence::Weekly),
            "monthly" => Ok(Cadence::Monthly),
            _ => Err(Error::invalid("cadence", "must be weekly or monthly")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Weekly => "weekly",
            Cadence::Monthly => "monthly",
        }
    }

    /// The last period that has ended by `now`: the report that is due.
    pub fn due(self, now: DateTime<Utc>) -> Option<ReportPeriod> {
        match self {
            Cadence::Weekly => ReportPeriod::last_week(now),
            Cadence::Monthly => ReportPeriod::last_month(now),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportScheduleSpec {
    pub name: String,
    pub cadence: Cadence,
    pub recipients: Vec<String>,
    /// Only this service's figures; all services when `None`.
    pub service_id: Option<Uuid>,
}

impl ReportScheduleSpec {
    pub fn new(name: &str, cadence: &str, recipients: &[String], service_id: Option<Uuid>) -> Result<Self> {
        let mut p = crate::error::Problems::default();
        let mut out = Vec::new();
        let name = p.check(validate::name("name", name));
        let cadence = p.check(Cadence::parse(cadence));
        let cleaned: Vec<&str> = recipients.iter().map(|r| r.trim()).filter(|r| !r.is_empty()).collect();
        if cleaned.is_empty() || cleaned.len() > RECIPIENTS_MAX {
            p.check::<()>(Err(Error::invalid("recipients", format!("give 1 to {RECIPIENTS_MAX} e-mail addresses"))));
        }
        for r in cleaned {
            if let Some(e) = p.check(validate::email("recipients", r))
                && !out.contains(&e)
            {
                out.push(e);
            }
        }
        p.finish()?;
        match (name, cadence) {
            (Some(name), Some(cadence)) => Ok(ReportScheduleSpec { name, cadence, recipients: out, service_id }),
            _ => Err(Error::invalid("name", "is required")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_checked_and_recipients_deduplicated() {
        let r = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let s = ReportScheduleSpec::new("Ops monthly", "monthly", &r(&["a@example.com", " a@example.com ", ""]), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.recipients, vec!["a@example.com"]);
        assert!(matches!(
            ReportScheduleSpec::new("x", "daily", &r(&["a@example.com"]), None),
            Err(Error::Invalid { field: "cadence", .. })
        ));
        assert!(ReportScheduleSpec::new("x", "weekly", &r(&[]), None).is_err());
        assert!(ReportScheduleSpec::new("x", "weekly", &r(&["not-an-address"]), None).is_err());
        let many: Vec<String> = (0..=RECIPIENTS_MAX).map(|i| format!("p{i}@example.com")).collect();
        assert!(ReportScheduleSpec::new("x", "weekly", &many, None).is_err());
    }

    #[test]
    fn the_due_period_is_the_last_one_ended() {
        let now =
            DateTime::parse_from_rfc3339("2026-12-01T00:05:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        assert_eq!(Cadence::Monthly.due(now).map(|p| p.label), Some("2026-11".into()));
        assert_eq!(Cadence::Weekly.due(now).map(|p| p.label), Some("2026-11-23 – 2026-11-29".into()));
    }
}
