//! From check results to monitor states, with retries in both directions.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What one check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Up,
    Degraded,
    Down,
    /// The check could not decide (e.g. a plugin's UNKNOWN); counts as a failure.
    Unknown,
}

impl CheckStatus {
    pub fn is_ok(self) -> bool {
        matches!(self, CheckStatus::Up | CheckStatus::Degraded)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Up => "up",
            CheckStatus::Degraded => "degraded",
            CheckStatus::Down => "down",
            CheckStatus::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> CheckStatus {
        match s {
            "up" => CheckStatus::Up,
            "degraded" => CheckStatus::Degraded,
            "down" => CheckStatus::Down,
            _ => CheckStatus::Unknown,
        }
    }
}

/// A monitor's state as people see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorState {
    /// Not checked yet, or failing but not yet for `down_after` checks in a row.
    Pending,
    Up,
    Degraded,
    Down,
    Paused,
    Maintenance,
}

impl MonitorState {
    pub const ALL: [MonitorState; 6] = [
        MonitorState::Up,
        MonitorState::Degraded,
        MonitorState::Down,
        MonitorState::Pending,
        MonitorState::Maintenance,
        MonitorState::Paused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MonitorState::Pending => "pending",
            MonitorState::Up => "up",
            MonitorState::Degraded => "degraded",
            MonitorState::Down => "down",
            MonitorState::Paused => "paused",
            MonitorState::Maintenance => "maintenance",
        }
    }

    pub fn parse(s: &str) -> Option<MonitorState> {
        MonitorState::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// States that should raise an alert.
    pub fn is_problem(self) -> bool {
        matches!(self, MonitorState::Down | MonitorState::Degraded)
    }
}

impl fmt::Display for MonitorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The running state of a monitor between checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub state: MonitorState,
    /// Consecutive failed checks.
    pub fail_streak: i32,
    /// Consecutive passed checks.
    pub ok_streak: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: MonitorState,
    pub to: MonitorState,
}

impl Default for Health {
    fn default() -> Self {
        Health { state: MonitorState::Pending, fail_streak: 0, ok_streak: 0 }
    }
}

impl Health {
    /// Folds one check result into the health. A monitor goes down after `down_after`
    /// consecutive failures and, once down, comes back after `up_after` consecutive passes.
    /// Paused and maintenance monitors keep their state (their results are still recorded).
    pub fn apply(self, status: CheckStatus, down_after: i32, up_after: i32) -> (Health, Option<Transition>) {
        if matches!(self.state, MonitorState::Paused | MonitorState::Maintenance) {
            return (self, None);
        }
        let mut next = self;
        if status.is_ok() {
            next.ok_streak = self.ok_streak.saturating_add(1);
            next.fail_streak = 0;
            let wanted = if status == CheckStatus::Degraded { MonitorState::Degraded } else { MonitorState::Up };
            if self.state != MonitorState::Down || next.ok_streak >= up_after.max(1) {
                next.state = wanted;
            }
        } else {
            next.fail_streak = self.fail_streak.saturating_add(1);
            next.ok_streak = 0;
            if next.fail_streak >= down_after.max(1) {
                next.state = MonitorState::Down;
            } else if self.state == MonitorState::Pending {
                next.state = MonitorState::Pending;
            }
        }
        let t = (next.state != self.state).then_some(Transition { from: self.state, to: next.state });
        (next, t)
    }

    /// Enters or leaves a state that suspends checking's effect (pause, maintenance).
    pub fn set_override(self, to: MonitorState) -> (Health, Option<Transition>) {
        let next = Health { state: to, fail_streak: 0, ok_streak: 0 };
        let t = (to != self.state).then_some(Transition { from: self.state, to });
        (next, t)
    }
}

#[cfg(test)]
mod tests {
    use super::CheckStatus::*;
    use super::*;
    use proptest::prelude::*;

    fn run(statuses: &[CheckStatus], down_after: i32, up_after: i32) -> Vec<MonitorState> {
        let mut h = Health::default();
        statuses
            .iter()
            .map(|s| {
                h = h.apply(*s, down_after, up_after).0;
                h.state
            })
            .collect()
    }

    #[test]
    fn retries_before_down_and_before_up() {
        use MonitorState as M;
        assert_eq!(run(&[Up, Down, Down, Down], 3, 1), [M::Up, M::Up, M::Up, M::Down]);
        assert_eq!(run(&[Down, Down], 2, 1), [M::Pending, M::Down]);
        assert_eq!(run(&[Down, Up, Down, Up, Up], 1, 2), [M::Down, M::Down, M::Down, M::Down, M::Up]);
        assert_eq!(run(&[Up, Degraded, Up], 1, 1), [M::Up, M::Degraded, M::Up]);
        assert_eq!(run(&[Unknown], 1, 1), [M::Down]);
    }

    #[test]
    fn overrides_freeze_the_state() {
        let (h, t) = Health::default().set_override(MonitorState::Paused);
        assert_eq!(t.map(|t| t.to), Some(MonitorState::Paused));
        assert_eq!(h.apply(Down, 1, 1), (h, None));
    }

    proptest! {
        /// Down is reached exactly when the failure streak reaches down_after.
        #[test]
        fn down_iff_enough_failures(seq in proptest::collection::vec(0u8..4, 1..60), down_after in 1i32..5,
            up_after in 1i32..5) {
            let statuses: Vec<CheckStatus> = seq.iter().map(|b| [Up, Degraded, Down, Unknown][*b as usize]).collect();
            let mut h = Health::default();
            for s in statuses {
                let before = h;
                let (next, t) = h.apply(s, down_after, up_after);
                if next.fail_streak >= down_after { prop_assert_eq!(next.state, MonitorState::Down); }
                if next.state == MonitorState::Down && before.state != MonitorState::Down {
                    prop_assert!(next.fail_streak >= down_after);
                }
                prop_assert_eq!(t.is_some(), next.state != before.state);
                h = next;
            }
        }
    }
}
