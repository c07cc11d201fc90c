//! Scheduled maintenance on status pages: each occurrence of a maintenance window that covers a
//! page's components is announced on that page, reminded of before it starts, and moves
//! scheduled → in progress → completed on its own (statuspage.io's auto transitions). The
//! lifecycle is persisted; [`plan`] says which steps are due, so every node computes the same
//! ones and the store applies each at most once.

use crate::maintenance::WindowSpec;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

/// A scheduled maintenance's status, as statuspage.io names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceStatus {
    Scheduled,
    InProgress,
    Completed,
}

impl MaintenanceStatus {
    pub const ALL: [MaintenanceStatus; 3] =
        [MaintenanceStatus::Scheduled, MaintenanceStatus::InProgress, MaintenanceStatus::Completed];

    pub fn as_str(self) -> &'static str {
        match self {
            MaintenanceStatus::Scheduled => "scheduled",
            MaintenanceStatus::InProgress => "in_progress",
            MaintenanceStatus::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<MaintenanceStatus> {
        MaintenanceStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            MaintenanceStatus::Scheduled => "Scheduled",
            MaintenanceStatus::InProgress => "In progress",
            MaintenanceStatus::Completed => "Completed",
        }
    }
}

/// Maintenance is announced this far ahead of its start.
pub const ANNOUNCE_AHEAD_DAYS: i64 = 30;
/// Subscribers are reminded this long before a start (statuspage.io's "remind prior": an hour).
pub const REMIND_BEFORE_MINUTES: i64 = 60;

/// What the page says at each step (statuspage.io's default texts).
pub const STARTED: &str = "Scheduled maintenance is currently in progress. We will provide updates as necessary.";
pub const COMPLETED: &str = "The scheduled maintenance has been completed.";
pub const CANCELLED: &str = "This scheduled maintenance has been cancelled.";
pub const ENDED_EARLY: &str = "The scheduled maintenance has ended.";

/// What a component follows, for coverage: its service (and that service's monitors) and its
/// own monitors.
pub struct Followed<'a> {
    pub component_id: Uuid,
    pub service_id: Option<Uuid>,
    pub monitor_ids: &'a [Uuid],
}

/// The components of a page that `window` covers: by service, by one of their own monitors
/// (covered by itself or by its service, as the scheduler counts it), or by a monitor of their
/// service (`service_of` maps a monitor to its service).
pub fn covered(
    window: &WindowSpec,
    components: &[Followed<'_>],
    service_of: &dyn Fn(Uuid) -> Option<Uuid>,
) -> Vec<Uuid> {
    components
        .iter()
        .filter(|c| {
            c.service_id.is_some_and(|s| window.service_ids.contains(&s))
                || c.monitor_ids.iter().any(|m| window.covers(*m, service_of(*m)))
                || window.monitor_ids.iter().any(|m| c.service_id.is_some() && service_of(*m) == c.service_id)
        })
        .map(|c| c.component_id)
        .collect()
}

/// An occurrence that should be on a page: the window's current or next one, within
/// [`ANNOUNCE_AHEAD_DAYS`].
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub page_id: Uuid,
    pub window_id: Uuid,
    pub name: String,
    /// The announcement: the window's description, or a sentence naming it.
    pub body: String,
    pub starts: DateTime<Utc>,
    pub ends: DateTime<Utc>,
    pub components: Vec<Uuid>,
}

impl Wanted {
    /// The occurrence of `window` to show, if one starts within the announcement horizon.
    pub fn of(
        page_id: Uuid,
        window_id: Uuid,
        window: &WindowSpec,
        components: Vec<Uuid>,
        now: DateTime<Utc>,
    ) -> Option<Wanted> {
        if components.is_empty() {
            return None;
        }
        let (starts, ends) = window.next(now)?;
        if starts > now.checked_add_signed(Duration::days(ANNOUNCE_AHEAD_DAYS))? {
            return None;
        }
        let body = if window.description.trim().is_empty() {
            format!("Scheduled maintenance: {}", window.name)
        } else {
            window.description.clone()
        };
        Some(Wanted { page_id, window_id, name: window.name.clone(), body, starts, ends, components })
    }
}

/// A persisted maintenance as the planner needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub id: Uuid,
    pub page_id: Uuid,
    /// `None` once its window was deleted.
    pub window_id: Option<Uuid>,
    pub name: String,
    pub body: String,
    pub status: MaintenanceStatus,
    pub starts: DateTime<Utc>,
    pub ends: DateTime<Utc>,
    pub components: Vec<Uuid>,
    pub reminded: bool,
    pub created_at: DateTime<Utc>,
}

/// One due step. Each is applied only if the maintenance is still in the status it was planned
/// from, so nodes planning at once apply it once.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A new occurrence: announced as scheduled (or in progress, if it has begun).
    Announce(Wanted),
    /// The window changed its name, text, end or components: the maintenance follows, quietly.
    Revise {
        id: Uuid,
        from: MaintenanceStatus,
        wanted: Wanted,
    },
    Remind {
        id: Uuid,
    },
    Start {
        id: Uuid,
    },
    /// Ended (`body` says how): completed, or cancelled before it began.
    Complete {
        id: Uuid,
        from: MaintenanceStatus,
        body: &'static str,
    },
}

/// The steps due at `now`, given what should be on the pages and what is.
pub fn plan(now: DateTime<Utc>, wanted: &[Wanted], known: &[Known]) -> Vec<Step> {
    let mut steps = Vec::new();
    let remind_at = |starts: DateTime<Utc>| starts.checked_sub_signed(Duration::minutes(REMIND_BEFORE_MINUTES));
    for k in known.iter().filter(|k| k.status != MaintenanceStatus::Completed) {
        let w = wanted.iter().find(|w| Some(w.window_id) == k.window_id && w.page_id == k.page_id);
        let matching = w.filter(|w| w.starts == k.starts);
        match (k.status, matching) {
            (_, None) if k.ends <= now => {
                steps.push(Step::Complete { id: k.id, from: k.status, body: COMPLETED });
            }
            (MaintenanceStatus::Scheduled, None) => {
                steps.push(Step::Complete { id: k.id, from: k.status, body: CANCELLED });
            }
            (_, None) => steps.push(Step::Complete { id: k.id, from: k.status, body: ENDED_EARLY }),
            (status, Some(w)) => {
                if w.ends != k.ends || w.name != k.name || w.body != k.body || w.components != k.components {
                    steps.push(Step::Revise { id: k.id, from: status, wanted: w.clone() });
                }
                if status == MaintenanceStatus::Scheduled {
                    if w.starts <= now {
                        steps.push(Step::Start { id: k.id });
                    } else if !k.reminded && remind_at(w.starts).is_some_and(|r| r <= now && k.created_at < r) {
                        steps.push(Step::Remind { id: k.id });
                    }
                }
            }
        }
    }
    for w in wanted {
        let seen =
            known.iter().any(|k| k.window_id == Some(w.window_id) && k.page_id == w.page_id && k.starts == w.starts);
        if !seen {
            steps.push(Step::Announce(w.clone()));
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, h, m, 0).unwrap()
    }

    fn wanted(page: Uuid, window: Uuid, starts: DateTime<Utc>) -> Wanted {
        Wanted {
            page_id: page,
            window_id: window,
            name: "DB upgrade".into(),
            body: "Checkout may be slow.".into(),
            starts,
            ends: starts + Duration::hours(1),
            components: vec![Uuid::nil()],
        }
    }

    fn known(w: &Wanted, status: MaintenanceStatus, created_at: DateTime<Utc>) -> Known {
        Known {
            id: Uuid::now_v7(),
            page_id: w.page_id,
            window_id: Some(w.window_id),
            name: w.name.clone(),
            body: w.body.clone(),
            status,
            starts: w.starts,
            ends: w.ends,
            components: w.components.clone(),
            reminded: false,
            created_at,
        }
    }

    #[test]
    fn an_occurrence_is_announced_reminded_started_and_completed() {
        let (page, window) = (Uuid::now_v7(), Uuid::now_v7());
        let w = wanted(page, window, at(12, 0));
        assert_eq!(plan(at(8, 0), std::slice::from_ref(&w), &[]), vec![Step::Announce(w.clone())]);
        let mut k = known(&w, MaintenanceStatus::Scheduled, at(8, 0));
        assert!(plan(at(10, 59), std::slice::from_ref(&w), std::slice::from_ref(&k)).is_empty());
        assert_eq!(
            plan(at(11, 0), std::slice::from_ref(&w), std::slice::from_ref(&k)),
            vec![Step::Remind { id: k.id }]
        );
        k.reminded = true;
        assert!(plan(at(11, 30), std::slice::from_ref(&w), std::slice::from_ref(&k)).is_empty());
        assert_eq!(plan(at(12, 0), std::slice::from_ref(&w), std::slice::from_ref(&k)), vec![Step::Start { id: k.id }]);
        k.status = MaintenanceStatus::InProgress;
        assert!(plan(at(12, 30), std::slice::from_ref(&w), std::slice::from_ref(&k)).is_empty());
        // Once it ends the window's next occurrence is wanted instead (none here).
        let done = Step::Complete { id: k.id, from: MaintenanceStatus::InProgress, body: COMPLETED };
        assert_eq!(plan(at(13, 0), &[], std::slice::from_ref(&k)), vec![done]);
    }

    #[test]
    fn changes_to_the_window_follow() {
        let (page, window) = (Uuid::now_v7(), Uuid::now_v7());
        let w = wanted(page, window, at(12, 0));
        let k = known(&w, MaintenanceStatus::Scheduled, at(11, 30));
        assert!(
            plan(at(11, 45), std::slice::from_ref(&w), std::slice::from_ref(&k)).is_empty(),
            "announced late: no reminder"
        );
        // Moved: the old one is cancelled and the new time announced.
        let moved = wanted(page, window, at(15, 0));
        let steps = plan(at(11, 45), std::slice::from_ref(&moved), std::slice::from_ref(&k));
        assert_eq!(
            steps,
            vec![
                Step::Complete { id: k.id, from: MaintenanceStatus::Scheduled, body: CANCELLED },
                Step::Announce(moved)
            ]
        );
        // Longer: revised in place.
        let longer = Wanted { ends: at(14, 0), ..w.clone() };
        assert_eq!(
            plan(at(11, 45), std::slice::from_ref(&longer), std::slice::from_ref(&k)),
            vec![Step::Revise { id: k.id, from: MaintenanceStatus::Scheduled, wanted: longer }]
        );
        // Deleted while in progress: it ends.
        let running = Known { status: MaintenanceStatus::InProgress, window_id: None, ..k.clone() };
        assert_eq!(
            plan(at(12, 10), &[], std::slice::from_ref(&running)),
            vec![Step::Complete { id: k.id, from: MaintenanceStatus::InProgress, body: ENDED_EARLY }]
        );
        // Missed entirely (nobody ran): straight to completed.
        assert_eq!(
            plan(at(20, 0), &[], std::slice::from_ref(&k)),
            vec![Step::Complete { id: k.id, from: MaintenanceStatus::Scheduled, body: COMPLETED }]
        );
    }

    #[test]
    fn only_covered_components_and_near_occurrences() {
        let svc = Uuid::now_v7();
        let mon = Uuid::now_v7();
        let window = WindowSpec {
            name: "w".into(),
            description: String::new(),
            starts_at: at(12, 0),
            duration_minutes: 60,
            rrule: None,
            timezone: "UTC".into(),
            service_ids: vec![],
            monitor_ids: vec![mon],
        };
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let comps = [
            Followed { component_id: a, service_id: Some(svc), monitor_ids: &[] },
            Followed { component_id: b, service_id: None, monitor_ids: &[] },
        ];
        assert_eq!(covered(&window, &comps, &|m| (m == mon).then_some(svc)), vec![a]);
        // A component that follows a monitor of a service the window covers is covered too.
        let by_service = WindowSpec { service_ids: vec![svc], monitor_ids: vec![], ..window.clone() };
        let own = [Followed { component_id: b, service_id: None, monitor_ids: &[mon] }];
        assert_eq!(covered(&by_service, &own, &|m| (m == mon).then_some(svc)), vec![b]);
        let w = Wanted::of(Uuid::nil(), Uuid::nil(), &window, vec![a], at(8, 0)).unwrap();
        assert_eq!(w.body, "Scheduled maintenance: w");
        assert!(Wanted::of(Uuid::nil(), Uuid::nil(), &window, vec![a], at(13, 0)).is_none(), "over");
        assert!(Wanted::of(Uuid::nil(), Uuid::nil(), &window, vec![], at(8, 0)).is_none(), "covers nothing");
        let far = at(8, 0) - Duration::days(ANNOUNCE_AHEAD_DAYS + 1);
        assert!(Wanted::of(Uuid::nil(), Uuid::nil(), &window, vec![a], far).is_none(), "beyond the horizon");
    }
}
