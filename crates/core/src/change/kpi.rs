//! Change KPIs over the changes closed in a period (`governance-kpis-scim-forecasting.md`):
//! - change success rate: closed successful (with or without issues) / closed;
//! - change failure rate (DORA): closed unsuccessful or backed out, or marked as an incident's
//!   cause, / closed: a change that caused an incident failed whatever its close code says;
//! - emergency share: emergency / closed;
//! - mean lead time: raised → work done (the actual end), over those that ran.
//!
//! Canceled changes never ran and count nowhere. A period without closed changes has no rates
//! (`None`), never 100 %.

use super::risk::RiskLevel;
use super::{ChangeType, CloseCode};
use serde::Serialize;

/// A change closed in the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    pub kind: ChangeType,
    pub risk: RiskLevel,
    pub close_code: Option<CloseCode>,
    pub caused_incident: bool,
    /// Milliseconds from raised to work done, when it ran.
    pub lead_ms: Option<i64>,
}

impl Closed {
    pub fn failed(&self) -> bool {
        self.caused_incident || self.close_code.is_none_or(|c| !c.succeeded())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChangeKpis {
    pub closed: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub success_rate: Option<f64>,
    pub failure_rate: Option<f64>,
    pub emergency_share: Option<f64>,
    pub mean_lead_hours: Option<f64>,
    /// Closed changes by type and by risk level, every value present.
    pub by_type: Vec<(ChangeType, u64)>,
    pub by_risk: Vec<(RiskLevel, u64)>,
}

pub fn summarize(rows: &[Closed]) -> ChangeKpis {
    let closed = rows.len() as u64;
    let failed = rows.iter().filter(|r| r.failed()).count() as u64;
    let succeeded = closed - failed;
    let share = |n: u64| (closed > 0).then(|| n as f64 / closed as f64);
    let emergencies = rows.iter().filter(|r| r.kind == ChangeType::Emergency).count() as u64;
    let leads: Vec<i64> = rows.iter().filter_map(|r| r.lead_ms).filter(|l| *l >= 0).collect();
    let mean_lead_hours = (!leads.is_empty()).then(|| {
        let sum: f64 = leads.iter().map(|l| *l as f64).sum();
        sum / leads.len() as f64 / 3_600_000.0
    });
    ChangeKpis {
        closed,
        succeeded,
        failed,
        success_rate: share(succeeded),
        failure_rate: share(failed),
        emergency_share: share(emergencies),
        mean_lead_hours,
        by_type: ChangeType::ALL.iter().map(|t| (*t, rows.iter().filter(|r| r.kind == *t).count() as u64)).collect(),
        by_risk: RiskLevel::ALL.iter().map(|l| (*l, rows.iter().filter(|r| r.risk == *l).count() as u64)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: ChangeType, code: CloseCode, caused: bool, lead_h: i64) -> Closed {
        Closed {
            kind,
            risk: RiskLevel::Low,
            close_code: Some(code),
            caused_incident: caused,
            lead_ms: Some(lead_h * 3_600_000),
        }
    }

    #[test]
    fn rates_count_causes_as_failures_and_nothing_is_not_perfect() {
        assert_eq!(summarize(&[]).success_rate, None);
        let rows = [
            row(ChangeType::Normal, CloseCode::Successful, false, 10),
            row(ChangeType::Normal, CloseCode::SuccessfulWithIssues, false, 20),
            row(ChangeType::Emergency, CloseCode::BackedOut, false, 2),
            row(ChangeType::Standard, CloseCode::Successful, true, 0),
        ];
        let k = summarize(&rows);
        assert_eq!((k.closed, k.succeeded, k.failed), (4, 2, 2));
        assert_eq!((k.success_rate, k.failure_rate, k.emergency_share), (Some(0.5), Some(0.5), Some(0.25)));
        assert_eq!(k.mean_lead_hours, Some(8.0));
        assert_eq!(k.by_type, vec![(ChangeType::Standard, 1), (ChangeType::Normal, 2), (ChangeType::Emergency, 1)]);
    }
}
