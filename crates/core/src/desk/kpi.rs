//! Service desk KPIs over the tickets resolved in a period (ITIL's and HDI's usual set):
//! - mean first-response and resolution time, in business minutes (what the SLA clocks count);
//! - SLA compliance: resolved with neither clock breached / resolved, and each clock's own;
//! - reopen rate: resolved tickets that were reopened at least once / resolved;
//! - raised in the period, and the backlog (open now, for the current period);
//! - satisfaction: the mean of the requesters' 1–5 ratings given in the period;
//! - self-service deflection: the questions a knowledge-base article answered (its reader said
//!   so) / those plus the tickets raised, in the period.
//!
//! A period without resolved tickets has no rates or means (`None`), never 100 %.

use serde::Serialize;

/// A ticket resolved in the period, as its clocks replayed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Business minutes to the first response; `None` when resolved without one.
    pub first_response_minutes: Option<i64>,
    pub first_response_breached: bool,
    pub resolution_minutes: i64,
    pub resolution_breached: bool,
    pub reopened: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeskKpis {
    pub raised: u64,
    pub resolved: u64,
    /// Open (new, in progress or pending) now; `None` for a past period.
    pub backlog: Option<u64>,
    pub mean_first_response_minutes: Option<f64>,
    pub mean_resolution_minutes: Option<f64>,
    pub sla_compliance: Option<f64>,
    pub first_response_compliance: Option<f64>,
    pub resolution_compliance: Option<f64>,
    pub reopen_rate: Option<f64>,
    /// Ratings given in the period, and their mean (1–5).
    pub ratings: u64,
    pub mean_satisfaction: Option<f64>,
    /// Readers who said an article answered their question, and that share of them plus the
    /// tickets raised (`None` when both are zero).
    pub self_service_answers: u64,
    pub deflection_rate: Option<f64>,
}

fn mean(xs: impl Iterator<Item = i64>) -> Option<f64> {
    let (sum, n) = xs.fold((0.0, 0u64), |(s, n), x| (s + x as f64, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Ratings given in a period: how many, and their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ratings {
    pub count: u64,
    pub sum: u64,
}

pub fn summarize(rows: &[Resolved], raised: u64, backlog: Option<u64>, ratings: Ratings, answers: u64) -> DeskKpis {
    let resolved = rows.len() as u64;
    let asked = answers.saturating_add(raised);
    let share = |n: usize| (resolved > 0).then(|| n as f64 / resolved as f64);
    DeskKpis {
        raised,
        resolved,
        backlog,
        mean_first_response_minutes: mean(rows.iter().filter_map(|r| r.first_response_minutes)),
        mean_resolution_minutes: mean(rows.iter().map(|r| r.resolution_minutes)),
        sla_compliance: share(rows.iter().filter(|r| !r.first_response_breached && !r.resolution_breached).count()),
        first_response_compliance: share(rows.iter().filter(|r| !r.first_response_breached).count()),
        resolution_compliance: share(rows.iter().filter(|r| !r.resolution_breached).count()),
        reopen_rate: share(rows.iter().filter(|r| r.reopened).count()),
        ratings: ratings.count,
        mean_satisfaction: (ratings.count > 0).then(|| ratings.sum as f64 / ratings.count as f64),
        self_service_answers: answers,
        deflection_rate: (asked > 0).then(|| answers as f64 / asked as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_over_resolved_tickets() {
        let ok = Resolved {
            first_response_minutes: Some(10),
            first_response_breached: false,
            resolution_minutes: 100,
            resolution_breached: false,
            reopened: false,
        };
        let late = Resolved {
            first_response_minutes: None,
            resolution_minutes: 300,
            resolution_breached: true,
            reopened: true,
            ..ok
        };
        let k = summarize(&[ok, ok, ok, late], 7, Some(3), Ratings { count: 3, sum: 13 }, 3);
        assert_eq!((k.raised, k.resolved, k.backlog), (7, 4, Some(3)));
        assert_eq!(k.mean_first_response_minutes, Some(10.0), "the one without a response does not count");
        assert_eq!(k.mean_resolution_minutes, Some(150.0));
        assert_eq!((k.sla_compliance, k.first_response_compliance), (Some(0.75), Some(1.0)));
        assert_eq!((k.resolution_compliance, k.reopen_rate), (Some(0.75), Some(0.25)));
        assert_eq!(k.mean_satisfaction.map(|m| (m * 100.0).round()), Some(433.0));
        assert_eq!(k.deflection_rate, Some(0.3), "3 answered of 3 + 7 asked");
        let none = summarize(&[], 0, None, Ratings::default(), 0);
        assert_eq!(none.deflection_rate, None);
        assert_eq!((none.sla_compliance, none.mean_resolution_minutes), (None, None));
        assert_eq!(none.mean_satisfaction, None, "no ratings: no mean, never 5");
    }
}
