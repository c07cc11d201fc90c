//! A change's risk: points from the questionnaire's answers and from what Opsdeck knows (tier-1
//! services impacted, how many CIs, how similar changes went, conflicts, the window), summed
//! into low, moderate or high and explained line by line. Like ServiceNow's calculator and
//! assessment together, the higher evidence wins because every source adds to one score.

use serde::{Deserialize, Serialize};

str_enum! {
    /// Low, moderate or high.
    RiskLevel { Low = "low", Moderate = "moderate", High = "high" }
}

/// Scores from this many points up are moderate, and high.
pub const MODERATE_FROM: u32 = 30;
pub const HIGH_FROM: u32 = 60;

/// One answer of the risk questionnaire: its points and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub points: u32,
    pub reason: String,
}

/// What Opsdeck knows about a change that bears on its risk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    /// Tier-1 services among those it impacts.
    pub tier1_services: usize,
    /// CIs it touches or impacts.
    pub impacted_cis: usize,
    /// Of past closed changes like it (same services or CIs), the share that failed, and how many
    /// there were; `None` without history.
    pub past_failures: Option<(f64, usize)>,
    /// Collisions with other changes (window conflicts count through `outside_window`).
    pub conflicts: usize,
    pub outside_window: bool,
    pub emergency: bool,
    pub outage_expected: bool,
}

/// A risk assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Risk {
    pub level: RiskLevel,
    pub score: u32,
    /// Each line that added points, with them: "+30 touches 1 tier-1 service".
    pub reasons: Vec<String>,
}

/// Sums the answers and the known facts into a risk.
pub fn assess(answers: &[Answer], k: &Known) -> Risk {
    let mut score: u32 = 0;
    let mut reasons = Vec::new();
    let mut add = |points: u32, reason: String| {
        if points > 0 {
            score = score.saturating_add(points);
            reasons.push(format!("+{points} {reason}"));
        }
    };
    for a in answers {
        add(a.points, a.reason.clone());
    }
    if k.tier1_services > 0 {
        add(30, format!("touches {} tier-1 service(s)", k.tier1_services));
    }
    match k.impacted_cis {
        0..=10 => {}
        11..=50 => add(10, format!("impacts {} CIs", k.impacted_cis)),
        n => add(20, format!("impacts {n} CIs")),
    }
    if let Some((rate, n)) = k.past_failures
        && n >= 3
    {
        let pct = (rate * 100.0).round();
        if rate >= 0.2 {
            add(20, format!("{pct}% of {n} similar changes failed"));
        } else if rate >= 0.1 {
            add(10, format!("{pct}% of {n} similar changes failed"));
        }
    }
    if k.conflicts > 0 {
        let points = u32::try_from(k.conflicts.min(3)).unwrap_or(3) * 10;
        add(points, format!("{} scheduling conflict(s)", k.conflicts));
    }
    if k.outside_window {
        add(15, "planned outside a maintenance window".into());
    }
    if k.emergency {
        add(10, "emergency change (less time to test)".into());
    }
    if k.outage_expected {
        add(10, "an outage is expected".into());
    }
    let level = if score >= HIGH_FROM {
        RiskLevel::High
    } else if score >= MODERATE_FROM {
        RiskLevel::Moderate
    } else {
        RiskLevel::Low
    };
    Risk { level, score, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_and_answers_add_up_and_explain_themselves() {
        assert_eq!(assess(&[], &Known::default()), Risk { level: RiskLevel::Low, score: 0, reasons: vec![] });
        let k = Known { tier1_services: 1, impacted_cis: 12, ..Known::default() };
        let r = assess(&[], &k);
        assert_eq!((r.level, r.score), (RiskLevel::Moderate, 40));
        assert_eq!(r.reasons, vec!["+30 touches 1 tier-1 service(s)", "+10 impacts 12 CIs"]);
        let answers = [Answer { points: 15, reason: "no tested backout plan".into() }];
        let k = Known { past_failures: Some((0.25, 8)), conflicts: 5, ..k };
        let r = assess(&answers, &k);
        assert_eq!(r.level, RiskLevel::High);
        assert!(r.reasons.contains(&"+20 25% of 8 similar changes failed".to_owned()), "{r:?}");
        assert!(r.reasons.contains(&"+30 5 scheduling conflict(s)".to_owned()), "{r:?}");
        let thin_history = Known { past_failures: Some((1.0, 2)), ..Known::default() };
        assert_eq!(assess(&[], &thin_history).score, 0, "two changes are no history");
        assert!(RiskLevel::High > RiskLevel::Moderate && RiskLevel::Moderate > RiskLevel::Low);
    }
}
