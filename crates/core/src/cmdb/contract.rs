//! Contracts with vendors (support, maintenance, licences, leases…) and the CIs they cover: when
//! each ends or renews, and the notice deadline before an automatic renewal, which is the date
//! that matters — miss it and the contract runs another term.

use super::cost_cents;
use crate::{Error, Problems, Result, validate};
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// CIs one contract may cover.
pub const CIS_MAX: usize = 1000;
/// The longest notice period, in days (two years).
pub const NOTICE_MAX: i64 = 730;
/// A contract number's length limit.
pub const NUMBER_MAX: usize = 100;
/// Notes' length limit, in characters.
pub const NOTES_MAX: usize = 4000;

str_enum! {
    /// What a contract buys.
    ContractKind {
        Support = "support",
        Maintenance = "maintenance",
        Warranty = "warranty",
        Licence = "licence",
        Subscription = "subscription",
        Lease = "lease",
        Other = "other",
    }
}

impl ContractKind {
    pub fn label(self) -> &'static str {
        match self {
            ContractKind::Support => "Support",
            ContractKind::Maintenance => "Maintenance",
            ContractKind::Warranty => "Extended warranty",
            ContractKind::Licence => "Licence",
            ContractKind::Subscription => "Subscription",
            ContractKind::Lease => "Lease",
            ContractKind::Other => "Other",
        }
    }
}

str_enum! {
    /// A contract date worth a reminder.
    ContractEvent {
        NoticeDeadline = "notice_deadline",
        Ends = "contract_end",
        Renews = "contract_renewal",
    }
}

impl ContractEvent {
    pub fn label(self) -> &'static str {
        match self {
            ContractEvent::NoticeDeadline => "Notice deadline",
            ContractEvent::Ends => "Contract ends",
            ContractEvent::Renews => "Contract renews",
        }
    }
}

/// A contract as the API and the form send it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContractInput {
    pub name: String,
    pub vendor: String,
    pub kind: Option<String>,
    pub number: Option<String>,
    pub start_date: Option<String>,
    pub end_date: String,
    pub auto_renew: bool,
    pub notice_days: Option<i64>,
    /// What one term costs, in the instance's currency.
    pub cost: Option<f64>,
    pub owner_team_id: Option<Uuid>,
    pub notes: Option<String>,
    pub ci_ids: Vec<Uuid>,
}

/// A validated contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractSpec {
    pub name: String,
    pub vendor: String,
    pub kind: ContractKind,
    pub number: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: NaiveDate,
    /// It runs another term unless cancelled by the notice deadline.
    pub auto_renew: bool,
    pub notice_days: u32,
    pub cost_cents: Option<i64>,
    pub owner_team_id: Option<Uuid>,
    pub notes: String,
    /// The CIs it covers, without repeats.
    pub ci_ids: Vec<Uuid>,
}

impl ContractSpec {
    /// Validates every field and reports all problems at once.
    pub fn new(input: &ContractInput) -> Result<Self> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", &input.name));
        let vendor = p.check(validate::name("vendor", &input.vendor));
        let kind = match input.kind.as_deref().map(str::trim) {
            None | Some("") => Some(ContractKind::Support),
            Some(s) => p.check(
                ContractKind::parse(s)
                    .ok_or_else(|| Error::invalid("kind", format!("must be {}", ContractKind::choices()))),
            ),
        };
        let number = match input.number.as_deref().map(str::trim) {
            None | Some("") => Some(None),
            Some(s) if s.chars().count() > NUMBER_MAX || s.chars().any(char::is_control) => {
                p.push("number", format!("must be at most {NUMBER_MAX} characters on one line"));
                None
            }
            Some(s) => Some(Some(s.to_owned())),
        };
        let start_date = match input.start_date.as_deref().map(str::trim) {
            None | Some("") => Some(None),
            Some(s) => p.check(crate::time::parse_date("start_date", s)).map(Some),
        };
        let end_date = p.check(crate::time::parse_date("end_date", &input.end_date));
        if let (Some(Some(start)), Some(end)) = (start_date, end_date)
            && start > end
        {
            p.push("end_date", "must not be before start_date");
        }
        let notice_days = match input.notice_days {
            None => Some(0),
            Some(d) if (0..=NOTICE_MAX).contains(&d) => Some(d as u32),
            Some(_) => {
                p.push("notice_days", format!("must be 0 to {NOTICE_MAX} days"));
                None
            }
        };
        if let (Some(end), Some(days)) = (end_date, notice_days)
            && end.checked_sub_days(Days::new(days.into())).is_none()
        {
            p.push("notice_days", "reaches before the calendar's start");
        }
        let cost = cost_cents("cost", input.cost, &mut p);
        let notes = input.notes.as_deref().unwrap_or("").trim();
        if notes.chars().count() > NOTES_MAX {
            p.push("notes", format!("must be at most {NOTES_MAX} characters"));
        }
        let mut ci_ids: Vec<Uuid> = Vec::new();
        for id in &input.ci_ids {
            if !ci_ids.contains(id) {
                ci_ids.push(*id);
            }
            if ci_ids.len() > CIS_MAX {
                p.push("ci_ids", format!("a contract covers at most {CIS_MAX} CIs"));
                break;
            }
        }
        p.finish()?;
        match (name, vendor, kind, number, start_date, end_date, notice_days, cost) {
            (
                Some(name),
                Some(vendor),
                Some(kind),
                Some(number),
                Some(start_date),
                Some(end_date),
                Some(notice_days),
                Some(cost_cents),
            ) => Ok(ContractSpec {
                name,
                vendor,
                kind,
                number,
                start_date,
                end_date,
                auto_renew: input.auto_renew,
                notice_days,
                cost_cents,
                owner_team_id: input.owner_team_id,
                notes: notes.to_owned(),
                ci_ids,
            }),
            _ => Err(Error::invalid("name", "is invalid")),
        }
    }
}

/// The dates of a contract that reminders announce, earliest first: the notice deadline (when it
/// has a notice period), then its end or renewal.
pub fn events(end_date: NaiveDate, auto_renew: bool, notice_days: u32) -> Vec<(ContractEvent, NaiveDate)> {
    let mut out = Vec::with_capacity(2);
    if notice_days > 0
        && let Some(deadline) = end_date.checked_sub_days(Days::new(notice_days.into()))
    {
        out.push((ContractEvent::NoticeDeadline, deadline));
    }
    out.push((if auto_renew { ContractEvent::Renews } else { ContractEvent::Ends }, end_date));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ContractInput {
        ContractInput {
            name: "Dell ProSupport".into(),
            vendor: "Dell".into(),
            end_date: "2027-03-31".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_contract_needs_a_name_a_vendor_and_an_end() {
        let c = ContractSpec::new(&input()).unwrap();
        assert_eq!(c.kind, ContractKind::Support);
        assert_eq!(c.notice_days, 0);
        let e = ContractSpec::new(&ContractInput::default()).unwrap_err().to_string();
        for field in ["name", "vendor", "end_date"] {
            assert!(e.contains(field), "{e}");
        }
    }

    #[test]
    fn fields_are_checked() {
        let bad = ContractInput {
            kind: Some("gift".into()),
            start_date: Some("2027-04-01".into()),
            notice_days: Some(731),
            cost: Some(-1.0),
            number: Some("a\nb".into()),
            notes: Some("x".repeat(NOTES_MAX + 1)),
            ci_ids: (0..=CIS_MAX as u128).map(Uuid::from_u128).collect(),
            ..input()
        };
        let e = ContractSpec::new(&bad).unwrap_err().to_string();
        for field in ["kind", "end_date", "notice_days", "cost", "number", "notes", "ci_ids"] {
            assert!(e.contains(field), "{field} in {e}");
        }
    }

    #[test]
    fn repeated_cis_count_once() {
        let id = Uuid::from_u128(7);
        let c = ContractSpec::new(&ContractInput { ci_ids: vec![id, id], ..input() }).unwrap();
        assert_eq!(c.ci_ids, vec![id]);
    }

    #[test]
    fn the_notice_deadline_comes_before_a_renewal() {
        let end = NaiveDate::from_ymd_opt(2027, 3, 31).unwrap();
        assert_eq!(
            events(end, true, 60),
            vec![
                (ContractEvent::NoticeDeadline, NaiveDate::from_ymd_opt(2027, 1, 30).unwrap()),
                (ContractEvent::Renews, end)
            ]
        );
        assert_eq!(events(end, false, 0), vec![(ContractEvent::Ends, end)]);
        // At the calendar's start the deadline cannot be computed; the end still is announced.
        assert_eq!(events(NaiveDate::MIN, false, 30), vec![(ContractEvent::Ends, NaiveDate::MIN)]);
    }
}
