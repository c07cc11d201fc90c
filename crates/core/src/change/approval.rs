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

/// `None` when every rule covering the change has its k approvals; otherwise what is missing,
/// rule by rule ("CAB: 1 of 2 approvals").
pub fn missing(rules: &[ApprovalRule], c: &Subject<'_>, approvals: &[Approval]) -> Option<String> {
    let gaps: Vec<String> = rules
        .iter()
        .filter(|r| r.covers(c))
        .filter_map(|r| {
            let given = r.approvers.iter().filter(|a| approvals.iter().any(|x| x.user == **a)).count();
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

        let low = Subject { kind: ChangeType::Normal, risk: RiskLevel::Low, service_ids: &[] };
        assert_eq!(missing(&rules, &low, &[]), None, "no rule covers a low-risk change elsewhere");
        let standard = Subject { kind: ChangeType::Standard, risk: RiskLevel::High, service_ids: &services };
        assert_eq!(missing(&rules, &standard, &[]), None, "standard changes are pre-approved");
    }
}
