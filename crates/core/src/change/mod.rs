//! Change management's rules, pure: the types and states of a change and the moves between them
//! ([`next`]), who must approve ([`approval`]), how risky it is ([`risk`]) and what it collides
//! with ([`conflict`]). The store records changes; these functions decide.
//!
//! States follow ServiceNow's model: New → Assess → Authorize → Scheduled → Implement → Review →
//! Closed, or Canceled. A standard change is pre-approved and goes from New straight to
//! Scheduled; an emergency change skips Assess. No change reaches Implement without the approvals
//! its rules require, and a freeze stops every change but an emergency one.

pub mod approval;
pub mod conflict;
pub mod deploy;
pub mod kpi;
pub mod link;
pub mod risk;
pub mod spec;
pub mod template;
pub mod window;

use serde::{Deserialize, Serialize};

str_enum! {
    /// How a change is authorised.
    ChangeType { Standard = "standard", Normal = "normal", Emergency = "emergency" }
}

str_enum! {
    /// Where a change is in its life.
    ChangeState {
        New = "new",
        Assess = "assess",
        Authorize = "authorize",
        Scheduled = "scheduled",
        Implement = "implement",
        Review = "review",
        Closed = "closed",
        Canceled = "canceled",
    }
}

str_enum! {
    /// How a closed change went; the first two count as successes.
    CloseCode {
        Successful = "successful",
        SuccessfulWithIssues = "successful_with_issues",
        Unsuccessful = "unsuccessful",
        BackedOut = "backed_out",
    }
}

str_enum! {
    /// What a person asks of a change.
    Action {
        Submit = "submit",
        Approve = "approve",
        Reject = "reject",
        Schedule = "schedule",
        Implement = "implement",
        Review = "review",
        Close = "close",
        Cancel = "cancel",
    }
}

impl CloseCode {
    /// Whether it counts as a success in the change success rate.
    pub fn succeeded(self) -> bool {
        matches!(self, CloseCode::Successful | CloseCode::SuccessfulWithIssues)
    }
}

impl ChangeState {
    pub fn is_terminal(self) -> bool {
        matches!(self, ChangeState::Closed | ChangeState::Canceled)
    }
}

/// What the store knows about a change when an action is asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Why the approvals its rules require are not all given yet (`None`: they are).
    pub approvals_missing: Option<String>,
    /// Planned start and end are set, the end after the start.
    pub planned: bool,
    /// Conflicts found and not overridden with a reason.
    pub open_conflicts: usize,
    /// The planned window (for scheduling) or now (for implementing) falls in a freeze.
    pub frozen: bool,
    pub close_code: Option<CloseCode>,
    /// The reason of the change lockdown in force, if one is: changes that are not emergencies
    /// stay on hold (neither scheduled nor started) until it is lifted.
    pub lockdown: Option<String>,
}

/// Why a move is refused, in words naming what is missing (answered as a 409).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse<T>(msg: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(msg.into()))
}

/// The state `action` moves a change of `kind` from `state` to, or why it may not. `Approve`
/// leaves the state as it is (the approval is recorded; `schedule` moves on once enough are in).
pub fn next(kind: ChangeType, state: ChangeState, action: Action, f: &Facts) -> Result<ChangeState, Refusal> {
    use ChangeState as S;
    if state.is_terminal() {
        return refuse(format!("the change is {}; nothing more can be done with it", state.as_str()));
    }
    let on_hold = |f: &Facts| -> Result<(), Refusal> {
        match &f.lockdown {
            Some(why) if kind != ChangeType::Emergency => refuse(format!(
                "a change lockdown is in force ({why}): changes are on hold until it is lifted; \
                 only emergency changes go ahead"
            )),
            _ => Ok(()),
        }
    };
    let ready_to_schedule = |f: &Facts| -> Result<(), Refusal> {
        on_hold(f)?;
        if !f.planned {
            return refuse("set the planned start and end first");
        }
        if let Some(why) = &f.approvals_missing {
            return refuse(format!("approvals missing: {why}"));
        }
        if f.open_conflicts > 0 {
            return refuse(format!(
                "{} conflict(s) open: reschedule, or override each with a reason",
                f.open_conflicts
            ));
        }
        if f.frozen && kind != ChangeType::Emergency {
            return refuse("the planned window is inside a change freeze; only emergency changes go ahead");
        }
        Ok(())
    };
    match (action, state) {
        (Action::Submit, S::New) => match kind {
            ChangeType::Standard => ready_to_schedule(f).map(|()| S::Scheduled),
            ChangeType::Normal => Ok(S::Assess),
            ChangeType::Emergency => Ok(S::Authorize),
        },
        (Action::Submit, S::Assess) => Ok(S::Authorize),
        // Approvals are collected while authorising, and still while scheduled: a change whose
        // risk rose after scheduling (a new conflict, a new rule) gets the approvals it now
        // needs without starting over.
        (Action::Approve, S::Authorize | S::Scheduled) => Ok(state),
        // A rejection sends the change back to New; its approvals are withdrawn.
        (Action::Reject, S::Authorize | S::Scheduled) => Ok(S::New),
        (Action::Approve | Action::Reject, _) => {
            refuse("only a change awaiting authorisation or scheduled is approved or rejected")
        }
        (Action::Schedule, S::Authorize) => ready_to_schedule(f).map(|()| S::Scheduled),
        (Action::Schedule, _) => refuse("only an authorised change is scheduled"),
        (Action::Implement, S::Scheduled) => {
            on_hold(f)?;
            if let Some(why) = &f.approvals_missing {
                return refuse(format!("approvals missing: {why}"));
            }
            if f.frozen && kind != ChangeType::Emergency {
                return refuse("a change freeze is in force; only emergency changes go ahead");
            }
            Ok(S::Implement)
        }
        (Action::Implement, _) => refuse("only a scheduled change is implemented"),
        (Action::Review, S::Implement) => Ok(S::Review),
        (Action::Review, _) => refuse("only a change being implemented goes to review"),
        (Action::Close, S::Review) => match f.close_code {
            Some(_) => Ok(S::Closed),
            None => refuse("give a close code: successful, successful_with_issues, unsuccessful or backed_out"),
        },
        (Action::Close, _) => refuse("only a change in review is closed"),
        // Once work has started the outcome counts: close it (backed out, unsuccessful…).
        (Action::Cancel, S::Implement | S::Review) => refuse(
            "a change that has started is reviewed and closed with a code (backed_out, unsuccessful…), not canceled",
        ),
        (Action::Cancel, _) => Ok(S::Canceled),
        (Action::Submit, _) => refuse("only a new or assessed change is submitted"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok() -> Facts {
        Facts { planned: true, ..Facts::default() }
    }

    #[test]
    fn a_normal_change_goes_through_every_state() {
        let k = ChangeType::Normal;
        let mut s = ChangeState::New;
        for (a, want) in [
            (Action::Submit, ChangeState::Assess),
            (Action::Submit, ChangeState::Authorize),
            (Action::Approve, ChangeState::Authorize),
            (Action::Schedule, ChangeState::Scheduled),
            (Action::Implement, ChangeState::Implement),
            (Action::Review, ChangeState::Review),
        ] {
            s = next(k, s, a, &ok()).unwrap();
            assert_eq!(s, want, "{a:?}");
        }
        let e = next(k, s, Action::Close, &ok()).unwrap_err();
        assert!(e.0.contains("close code"), "{e}");
        let closed = Facts { close_code: Some(CloseCode::Unsuccessful), ..ok() };
        assert_eq!(next(k, s, Action::Close, &closed), Ok(ChangeState::Closed));
        assert!(next(k, ChangeState::Closed, Action::Cancel, &ok()).is_err());
    }

    #[test]
    fn standard_changes_skip_authorisation_and_emergencies_skip_assessment() {
        assert_eq!(next(ChangeType::Standard, ChangeState::New, Action::Submit, &ok()), Ok(ChangeState::Scheduled));
        let unplanned = Facts::default();
        assert!(
            next(ChangeType::Standard, ChangeState::New, Action::Submit, &unplanned).unwrap_err().0.contains("planned")
        );
        assert_eq!(next(ChangeType::Emergency, ChangeState::New, Action::Submit, &ok()), Ok(ChangeState::Authorize));
    }

    #[test]
    fn scheduling_names_what_is_missing() {
        let k = ChangeType::Normal;
        let s = ChangeState::Authorize;
        let missing = Facts { approvals_missing: Some("CAB: 1 of 2".into()), ..ok() };
        assert!(next(k, s, Action::Schedule, &missing).unwrap_err().0.contains("CAB: 1 of 2"));
        let conflicted = Facts { open_conflicts: 2, ..ok() };
        assert!(next(k, s, Action::Schedule, &conflicted).unwrap_err().0.contains("2 conflict"));
        let frozen = Facts { frozen: true, ..ok() };
        assert!(next(k, s, Action::Schedule, &frozen).unwrap_err().0.contains("freeze"));
        assert_eq!(next(ChangeType::Emergency, s, Action::Schedule, &frozen), Ok(ChangeState::Scheduled));
        assert_eq!(next(k, s, Action::Reject, &ok()), Ok(ChangeState::New));
        assert!(next(k, ChangeState::Review, Action::Cancel, &ok()).is_err());
        assert!(next(k, ChangeState::Implement, Action::Cancel, &ok()).unwrap_err().0.contains("backed_out"));
        // Approvals still come in while scheduled, so a change whose rules grew is not stuck.
        let sch = ChangeState::Scheduled;
        assert_eq!(next(k, sch, Action::Approve, &ok()), Ok(sch));
        assert!(next(k, sch, Action::Implement, &missing).is_err());
    }

    #[test]
    fn a_lockdown_holds_every_change_but_emergencies() {
        let locked = Facts { lockdown: Some("major incident INC-7".into()), ..ok() };
        let k = ChangeType::Normal;
        let e = next(k, ChangeState::Scheduled, Action::Implement, &locked).unwrap_err();
        assert!(e.0.contains("lockdown") && e.0.contains("INC-7"), "{e}");
        assert!(next(k, ChangeState::Authorize, Action::Schedule, &locked).is_err());
        assert!(next(ChangeType::Standard, ChangeState::New, Action::Submit, &locked).is_err());
        // Work already started can still be finished or backed out, and changes canceled.
        assert_eq!(next(k, ChangeState::Implement, Action::Review, &locked), Ok(ChangeState::Review));
        assert_eq!(next(k, ChangeState::Scheduled, Action::Cancel, &locked), Ok(ChangeState::Canceled));
        let em = ChangeType::Emergency;
        assert_eq!(next(em, ChangeState::Scheduled, Action::Implement, &locked), Ok(ChangeState::Implement));
    }

    fn any_kind() -> impl Strategy<Value = ChangeType> {
        prop::sample::select(ChangeType::ALL.to_vec())
    }
    fn any_action() -> impl Strategy<Value = Action> {
        prop::sample::select(Action::ALL.to_vec())
    }
    fn any_facts() -> impl Strategy<Value = Facts> {
        (any::<bool>(), any::<bool>(), 0usize..3, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(approved, planned, open_conflicts, frozen, coded, locked)| Facts {
                approvals_missing: (!approved).then(|| "CAB".to_owned()),
                planned,
                open_conflicts,
                frozen,
                close_code: coded.then_some(CloseCode::Successful),
                lockdown: locked.then(|| "lockdown".to_owned()),
            },
        )
    }

    proptest! {
        /// Whatever is asked, in whatever order: Implement is reached only with the approvals
        /// the rules require, and only an emergency change gets past a freeze or a lockdown.
        #[test]
        fn implement_needs_approvals_and_a_freeze_stops_all_but_emergencies(
            kind in any_kind(),
            steps in prop::collection::vec((any_action(), any_facts()), 0..40),
        ) {
            let mut s = ChangeState::New;
            for (a, f) in steps {
                if let Ok(to) = next(kind, s, a, &f) {
                    let entered = to != s && (to == ChangeState::Implement || to == ChangeState::Scheduled);
                    if entered {
                        prop_assert!(f.approvals_missing.is_none(), "{kind:?} reached {to:?} without approvals");
                        prop_assert!(!f.frozen || kind == ChangeType::Emergency, "{kind:?} passed a freeze");
                        let held = f.lockdown.is_some() && kind != ChangeType::Emergency;
                        prop_assert!(!held, "{kind:?} passed a lockdown");
                    }
                    if to == ChangeState::Closed {
                        prop_assert_eq!(s, ChangeState::Review);
                        prop_assert!(f.close_code.is_some());
                    }
                    s = to;
                }
            }
        }
    }
}
