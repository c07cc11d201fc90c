//! SLA agreements: what the tickets of some services or some requesters (a customer's domain,
//! named VIPs) are promised, per priority, on their own business-hours calendar. Agreements are
//! tried by position before the desk's per-priority policies; the first that takes a ticket
//! gives its targets.

use super::hours::BusinessHours;
use super::routing::{requester_matches, requester_pattern};
use crate::{Error, Problems, Result, validate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Agreements, at most.
pub const AGREEMENTS_MAX: usize = 100;
/// Services one agreement names, at most.
pub const SERVICES_MAX: usize = 50;
/// Requester addresses or domains one agreement names, at most.
pub const REQUESTERS_MAX: usize = 100;
/// A target, at most: a year of minutes.
pub const TARGET_MINUTES_MAX: u32 = 366 * 24 * 60;

/// The targets of one priority, in business minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    pub first_response_minutes: u32,
    pub resolution_minutes: u32,
}

/// One priority's targets as written.
#[derive(Debug, Clone, Copy, Default)]
pub struct TargetInput {
    pub priority: i64,
    pub first_response_minutes: i64,
    pub resolution_minutes: i64,
}

/// An agreement, unvalidated (the calendar is checked where it is read, see
/// [`BusinessHours::new`]).
#[derive(Debug, Clone)]
pub struct AgreementInput {
    pub name: String,
    pub position: Option<i64>,
    pub service_ids: Vec<Uuid>,
    pub requesters: Vec<String>,
    pub targets: Vec<TargetInput>,
    pub hours: BusinessHours,
    pub escalation_email: Option<String>,
    pub enabled: Option<bool>,
}

/// A validated agreement. Every condition given must hold: the ticket's service is one of
/// `service_ids` (when any), and its requester is one of `requesters` (when any).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreementSpec {
    pub name: String,
    /// Tried lowest first.
    pub position: i32,
    pub service_ids: Vec<Uuid>,
    /// Addresses (`ana@example.com`) or domains (`@example.com`), lowercase.
    pub requesters: Vec<String>,
    /// P1 first.
    pub targets: [Targets; 4],
    pub hours: BusinessHours,
    /// Who hears of a breach besides the assignee.
    pub escalation_email: Option<String>,
    pub enabled: bool,
}

impl AgreementSpec {
    pub fn new(input: &AgreementInput) -> Result<AgreementSpec> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", &input.name));
        let position = match input.position.unwrap_or(100) {
            v @ 0..=10_000 => i32::try_from(v).unwrap_or(100),
            _ => {
                p.push("position", "must be 0 to 10000");
                100
            }
        };
        if input.service_ids.len() > SERVICES_MAX {
            p.push("service_ids", format!("at most {SERVICES_MAX} services"));
        }
        let mut service_ids: Vec<Uuid> = Vec::new();
        for id in input.service_ids.iter().take(SERVICES_MAX) {
            if !service_ids.contains(id) {
                service_ids.push(*id);
            }
        }
        if input.requesters.len() > REQUESTERS_MAX {
            p.push("requesters", format!("at most {REQUESTERS_MAX} addresses or domains"));
        }
        let mut requesters: Vec<String> = Vec::new();
        for r in input.requesters.iter().take(REQUESTERS_MAX).map(|r| r.trim()).filter(|r| !r.is_empty()) {
            if let Some(r) = p.check(requester_pattern("requesters", r))
                && !requesters.contains(&r)
            {
                requesters.push(r);
            }
        }
        let targets = p.check(targets(&input.targets));
        let escalation_email = match input.escalation_email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            None => None,
            Some(e) => p.check(validate::email("escalation_email", e)),
        };
        p.finish()?;
        match (name, targets) {
            (Some(name), Some(targets)) => Ok(AgreementSpec {
                name,
                position,
                service_ids,
                requesters,
                targets,
                hours: input.hours.clone(),
                escalation_email,
                enabled: input.enabled.unwrap_or(true),
            }),
            _ => Err(Error::invalid("name", "is invalid")),
        }
    }

    /// Whether this agreement covers a ticket about `service_id` raised by `requester`.
    pub fn matches(&self, service_id: Option<Uuid>, requester: Option<&str>) -> bool {
        self.enabled
            && (self.service_ids.is_empty() || service_id.is_some_and(|s| self.service_ids.contains(&s)))
            && (self.requesters.is_empty()
                || requester.is_some_and(|e| self.requesters.iter().any(|r| requester_matches(r, e))))
    }

    /// The targets of `priority` (1–4; anything else reads as 4).
    pub fn targets_of(&self, priority: u8) -> Targets {
        let i = usize::from(priority.clamp(1, 4)) - 1;
        self.targets[i]
    }
}

/// Exactly one entry per priority 1–4, each target 1 to [`TARGET_MINUTES_MAX`] minutes.
fn targets(input: &[TargetInput]) -> Result<[Targets; 4]> {
    let mut out: [Option<Targets>; 4] = [None; 4];
    if input.len() != 4 {
        return Err(Error::invalid("targets", "give one entry for each priority 1 to 4"));
    }
    let minutes = |v: i64| u32::try_from(v).ok().filter(|m| (1..=TARGET_MINUTES_MAX).contains(m));
    for t in input {
        let slot = match t.priority {
            1..=4 => usize::try_from(t.priority - 1).unwrap_or(0),
            _ => return Err(Error::invalid("targets", "a priority is 1 to 4")),
        };
        if out[slot].is_some() {
            return Err(Error::invalid("targets", format!("priority {} is given twice", t.priority)));
        }
        match (minutes(t.first_response_minutes), minutes(t.resolution_minutes)) {
            (Some(first_response_minutes), Some(resolution_minutes)) => {
                out[slot] = Some(Targets { first_response_minutes, resolution_minutes });
            }
            _ => {
                return Err(Error::invalid(
                    "targets",
                    format!("P{}: each target is 1 to {TARGET_MINUTES_MAX} minutes", t.priority),
                ));
            }
        }
    }
    let [Some(a), Some(b), Some(c), Some(d)] = out else {
        return Err(Error::invalid("targets", "give one entry for each priority 1 to 4"));
    };
    Ok([a, b, c, d])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AgreementInput {
        AgreementInput {
            name: "Payroll gold".into(),
            position: None,
            service_ids: Vec::new(),
            requesters: Vec::new(),
            targets: (1..=4)
                .map(|p| TargetInput { priority: p, first_response_minutes: 10 * p, resolution_minutes: 60 * p })
                .collect(),
            hours: BusinessHours::always(),
            escalation_email: None,
            enabled: None,
        }
    }

    #[test]
    fn conditions_all_hold() {
        let svc = Uuid::now_v7();
        let mut i = input();
        i.service_ids = vec![svc, svc];
        i.requesters = vec!["@Example.COM".into(), " ceo@other.org ".into()];
        let a = AgreementSpec::new(&i).unwrap();
        assert_eq!(a.service_ids, vec![svc]);
        assert_eq!(a.requesters, vec!["@example.com".to_owned(), "ceo@other.org".to_owned()]);
        assert!(a.matches(Some(svc), Some("Ana@example.com")));
        assert!(a.matches(Some(svc), Some("CEO@other.org")));
        assert!(!a.matches(Some(svc), Some("cfo@other.org")));
        assert!(!a.matches(None, Some("ana@example.com")));
        assert!(!a.matches(Some(Uuid::now_v7()), Some("ana@example.com")));
        assert_eq!(a.targets_of(2), Targets { first_response_minutes: 20, resolution_minutes: 120 });
        let everyone = AgreementSpec::new(&input()).unwrap();
        assert!(everyone.matches(None, None));
        let off = AgreementSpec { enabled: false, ..everyone };
        assert!(!off.matches(None, None));
    }

    #[test]
    fn bad_agreements_name_the_field() {
        let mut i = input();
        i.name = " ".into();
        i.position = Some(-1);
        i.requesters = vec!["@nodot".into()];
        i.targets.pop();
        i.escalation_email = Some("nobody".into());
        let e = AgreementSpec::new(&i).unwrap_err().to_string();
        for f in ["name", "position", "requesters", "targets", "escalation_email"] {
            assert!(e.contains(f), "{f} missing from {e}");
        }
        let mut i = input();
        i.targets[1].priority = 1;
        assert!(AgreementSpec::new(&i).is_err());
        let mut i = input();
        i.targets[0].resolution_minutes = i64::from(TARGET_MINUTES_MAX) + 1;
        assert!(AgreementSpec::new(&i).is_err());
        let mut i = input();
        i.targets[0].priority = 9;
        assert!(AgreementSpec::new(&i).is_err());
    }
}
