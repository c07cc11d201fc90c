//! Approval rules: which changes a rule covers (by type, risk and service) and who of its
//! approvers must say yes, k of n ("high risk → CAB, 2 of 5"; "tier-1 service → its owner").

use super::ChangeType;
use super::risk::RiskLevel;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A rule's approvers, at most.
pub const APPROVERS_MAX: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRule {
    pub name: String,
    /// The types it covers; empty: all but standard (standard changes are pre-approved).
    pub types: Vec<ChangeType>,
    /// It covers changes of this risk or higher; `None`: any risk.
    pub min_risk: Option<RiskLevel>,
    /// It covers changes touching one of these services; empty: any.
    pub service_ids: Vec<Uuid>,
    pub approvers: Vec<Uuid>,
    /// How many of the approvers must approve (1 to their number).
    pub required: u32,
}

/// The change an approval rule is matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject<'a> {
    pub kind: ChangeType,
    pub risk: RiskLevel,
    pub service_ids: &'a [Uuid],
}

impl ApprovalRule {
    /// Checks a rule: a name, 1 to [`APPROVERS_MAX`] distinct approvers, `required` between 1
    /// and their number, and no `standard` type (standard changes are pre-approved: a rule on
    /// them would leave them no way to collect approvals).
    pub fn new(
        name: &str,
        types: Vec<ChangeType>,
        min_risk: Option<RiskLevel>,
        service_ids: Vec<Uuid>,
        approvers: Vec<Uuid>,
        required: i64,
    ) -> crate::Result<ApprovalRule> {
        let mut p = crate::Problems::default();
        let name = p.check(crate::validate::name("name", name));
        let mut distinct: Vec<Uuid> = Vec::new();
        for a in approvers {
            if !distinct.contains(&a) {
                distinct.push(a);
            }
            if distinct.len() > APPROVERS_MAX {
                break;
            }
        }
        if distinct.is_empty() || distinct.len() > APPROVERS_MAX {
            p.push("approvers", format!("name 1 to {APPROVERS_MAX} approvers"));
        }
        let required = match u32::try_from(required) {
            Ok(k) if k >= 1 && k as usize <= distinct.len().max(1) => Some(k),
            _ => {
                p.push("required", "must be 1 to the number of approvers");
                None
            }
        };
        if types.contains(&ChangeType::Standard) {
            p.push("types", "standard changes are pre-approved; a rule covers normal and emergency changes");
        }
        p.finish()?;
        match (name, required) {
            (Some(name), Some(required)) => {
                Ok(ApprovalRule { name, types, min_risk, service_ids, approvers: distinct, required })
            }
            _ => Err(crate::Error::invalid("name", "is invalid")),
        }
    }

    pub fn covers(&self, c: &Subject<'_>) -> bool {
        let kind = if self.types.is_empty() { c.kind != ChangeType::Standard } else { self.types.contains(&c.kind) };
        let risk = self.min_risk.is_none_or(|min| c.risk >= min);
        let service = self.service_ids.is_empty() || self.service_ids.iter().any(|s| c.service_ids.contains(s));
        kind && risk && service
    }
}

/// A recorded approval (a rejection sends the change back to New and clears them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approval {
    pub user: Uuid,
}

/// The approvers still to be asked: of each covering rule short of its k approvals, those who
/// have not approved yet (each once, in rule order).
pub fn waiting_on(rules: &[ApprovalRule], c: &Subject<'_>, approvals: &[Approval]) -> Vec<Uuid> {
    let mut out: Vec<Uuid> = Vec::new();
    for r in rules.iter().filter(|r| r.covers(c)) {
        let given = r.approvers.iter().filter(|u| approvals.iter().any(|a| a.user == **u)).count();
        if given >= r.required as usize {
            continue;
        }
        for u in &r.approvers {
            if !out.contains(u) && !approvals.iter().any(|a| a.user == *u) {
                out.push(*u);
            }
        }
    }
    out
}

/// `None` when every rule covering the change has its k approvals; otherwise what is missing,
/// rule by rule ("CAB: 1 of 2 approvals").
pub fn missing(rules: &[ApprovalRule], c: &Subject<'_>, approvals: &[Approval]) -> Option<String> {
    let gaps: Vec<String> = rules
        .iter()
        .filter(|r| r.covers(c))
        .filter_map(|r| {
            // Distinct people: an approver listed twice or approving twice counts once.
            let mut given_by: Vec<Uuid> =
                approvals.iter().map(|a| a.user).filter(|u| r.approvers.contains(u)).collect();
            given_by.sort_unstable();
            given_by.dedup();
            let given = given_by.len();
            let need = r.required as usize;
            (given < need).then(|| format!("{}: {given} of {need} approvals", r.name))
        })
        .collect();
    (!gaps.is_empty()).then(|| gaps.join("; "))
}

/// Whether `user` may approve or reject the change: an approver of a rule that covers it.
pub fn may_decide(rules: &[ApprovalRule], c: &Subject<'_>, user: Uuid) -> bool {
    rules.iter().filter(|r| r.covers(c)).any(|r| r.approvers.contains(&user))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn cab() -> ApprovalRule {
        ApprovalRule {
            name: "CAB".into(),
            types: vec![],
            min_risk: Some(RiskLevel::High),
            service_ids: vec![],
            approvers: (1..=5).map(id).collect(),
            required: 2,
        }
    }

    #[test]
    fn only_approvers_of_rules_still_short_are_asked() {
        let owner = ApprovalRule { name: "Owner".into(), approvers: vec![id(9)], required: 1, ..cab() };
        let rules = [cab(), owner];
        let high = Subject { kind: ChangeType::Normal, risk: RiskLevel::High, service_ids: &[] };
        let asked = waiting_on(&rules, &high, &[Approval { user: id(1) }]);
        assert_eq!(asked, vec![id(2), id(3), id(4), id(5), id(9)]);
        let two = [Approval { user: id(1) }, Approval { user: id(2) }];
        assert_eq!(waiting_on(&rules, &high, &two), vec![id(9)], "the CAB has its two");
        let low = Subject { risk: RiskLevel::Low, ..high };
        assert!(waiting_on(&rules, &low, &[]).is_empty(), "no rule covers it");
    }

    #[test]
    fn k_of_n_approvers_of_each_covering_rule() {
        let owner = ApprovalRule {
            name: "Payments owner".into(),
            types: vec![ChangeType::Normal, ChangeType::Emergency],
            min_risk: None,
            service_ids: vec![id(100)],
            approvers: vec![id(9)],
            required: 1,
        };
        let rules = [cab(), owner];
        let services = [id(100)];
        let c = Subject { kind: ChangeType::Normal, risk: RiskLevel::High, service_ids: &services };
        assert_eq!(missing(&rules, &c, &[]).unwrap(), "CAB: 0 of 2 approvals; Payments owner: 0 of 1 approvals");
        let some = [Approval { user: id(1) }, Approval { user: id(7) }, Approval { user: id(9) }];
        assert_eq!(missing(&rules, &c, &some).unwrap(), "CAB: 1 of 2 approvals", "7 is nobody's approver");
        let enough = [Approval { user: id(1) }, Approval { user: id(2) }, Approval { user: id(9) }];
        assert_eq!(missing(&rules, &c, &enough), None);
        assert!(may_decide(&rules, &c, id(3)) && !may_decide(&rules, &c, id(7)));

        let twice = [Approval { user: id(1) }, Approval { user: id(1) }, Approval { user: id(9) }];
        assert_eq!(missing(&rules, &c, &twice).unwrap(), "CAB: 1 of 2 approvals", "one person counts once");
        let e = ApprovalRule::new("", vec![ChangeType::Standard], None, vec![], vec![id(1), id(1)], 2).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("name") && e.contains("required") && e.contains("types"), "{e}");
        let r = ApprovalRule::new("CAB", vec![], Some(RiskLevel::High), vec![], vec![id(1), id(1), id(2)], 2).unwrap();
        assert_eq!(r.approvers, vec![id(1), id(2)]);

        let low = Subject { kind: ChangeType::Normal, risk: RiskLevel::Low, service_ids: &[] };
        assert_eq!(missing(&rules, &low, &[]), None, "no rule covers a low-risk change elsewhere");
        let standard = Subject { kind: ChangeType::Standard, risk: RiskLevel::High, service_ids: &services };
        assert_eq!(missing(&rules, &standard, &[]), None, "standard changes are pre-approved");
    }
}
