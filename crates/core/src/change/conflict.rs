//! Conflict detection, as ServiceNow defines it: another change scheduled at the same time on
//! the same CI, or on one of its parents or children; a CI outside its maintenance windows; a
//! change inside a freeze (blackout); the implementer booked on another change at the time.
//! Linear in the other changes' CIs (a set lookup each) and in the windows' CIs.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Conflicts reported for one change, at most.
pub const REPORTED_MAX: usize = 200;

/// A change's planned window, CIs and implementer (times in epoch ms, `start < end`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub id: Uuid,
    pub number: String,
    pub start: i64,
    pub end: i64,
    pub ci_ids: Vec<Uuid>,
    pub implementer: Option<Uuid>,
}

impl Planned {
    fn overlaps(&self, start: i64, end: i64) -> bool {
        self.start < end && start < self.end
    }
}

str_enum! {
    /// A maintenance window (changes allowed) or a freeze (none but emergencies).
    WindowKind { Maintenance = "maintenance", Freeze = "freeze" }
}

/// A maintenance or freeze window; no CIs means every CI (a global freeze).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub id: Uuid,
    pub name: String,
    pub kind: WindowKind,
    pub start: i64,
    pub end: i64,
    pub ci_ids: Vec<Uuid>,
}

/// One conflict, explained; the other change and the window are named by id (overrides are
/// keyed on them) and by number or name (for people).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Conflict {
    /// Another change is scheduled on one of its CIs at the same time.
    SameCi { change_id: Uuid, change: String, ci: Uuid },
    /// Another change is scheduled at the same time on a parent or child of one of its CIs.
    RelatedCi { change_id: Uuid, change: String, ci: Uuid, related: Uuid },
    /// A CI that has maintenance windows is changed outside them.
    OutsideMaintenance { ci: Uuid },
    /// The change, or a parent or child of one of its CIs, is inside a freeze. Not overridable:
    /// only an emergency change passes a freeze.
    InsideFreeze { window_id: Uuid, window: String },
    /// The implementer is booked on another change at the same time.
    ImplementerBusy { change_id: Uuid, change: String },
    /// The implementer works shifts (is in an on-call rotation) and is not on shift for all
    /// of the change's window.
    ImplementerOffShift { user_id: Uuid },
}

/// What [`detect`] found: window conflicts first, then collisions with other changes (at most
/// [`REPORTED_MAX`] in all), and how many collisions there were in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    pub conflicts: Vec<Conflict>,
    pub collisions_total: usize,
}

/// Refused input: a window that does not end after it starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} must end after it starts")]
pub struct Inverted(pub String);

/// Whether the windows, merged where they touch or overlap, cover `[start, end)`.
fn covered(mut spans: Vec<(i64, i64)>, start: i64, end: i64) -> bool {
    spans.sort_unstable();
    let mut reach = start;
    for (s, e) in spans {
        if s > reach {
            break;
        }
        reach = reach.max(e);
        if reach >= end {
            return true;
        }
    }
    false
}

/// Whether the change's implementer is off shift for part of its window: `shifts` are the
/// stretches they are on call in the schedules they rotate in, overlapping the window (`None`:
/// they rotate in none, and are not checked).
pub fn off_shift(change: &Planned, shifts: Option<Vec<(i64, i64)>>) -> Option<Conflict> {
    let (user_id, shifts) = (change.implementer?, shifts?);
    (!covered(shifts, change.start, change.end)).then_some(Conflict::ImplementerOffShift { user_id })
}

/// The conflicts of `change` with the `others` (scheduled or implementing; itself is left
/// out), the `windows` overlapping it, and `related` (each CI's parents and children).
/// `constrained` are the CIs that have maintenance windows at all (whether or not one overlaps
/// this change): they may change only inside one. A maintenance window without CIs applies to
/// every CI. An emergency change is not held by freezes (its other conflicts still show).
pub fn detect(
    change: &Planned,
    others: &[Planned],
    windows: &[Window],
    related: &HashMap<Uuid, Vec<Uuid>>,
    constrained: &HashSet<Uuid>,
    emergency: bool,
) -> Result<Found, Inverted> {
    if change.end <= change.start {
        return Err(Inverted(format!("change {}", change.number)));
    }
    if let Some(w) = windows.iter().find(|w| w.end <= w.start) {
        return Err(Inverted(format!("window {}", w.name)));
    }
    let mut own: Vec<Uuid> = change.ci_ids.clone();
    own.sort_unstable();
    own.dedup();
    let own_set: HashSet<Uuid> = own.iter().copied().collect();
    // A neighbour of one of our CIs, mapped to the lowest such CI (a stable report).
    let mut near: HashMap<Uuid, Uuid> = HashMap::new();
    for ci in &own {
        for r in related.get(ci).into_iter().flatten() {
            if !own_set.contains(r) {
                near.entry(*r).or_insert(*ci);
            }
        }
    }
    let mut conflicts = Vec::new();
    if !emergency {
        for w in windows.iter().filter(|w| w.kind == WindowKind::Freeze) {
            let applies = w.ci_ids.is_empty() || w.ci_ids.iter().any(|c| own_set.contains(c) || near.contains_key(c));
            if applies && w.start < change.end && change.start < w.end {
                conflicts.push(Conflict::InsideFreeze { window_id: w.id, window: w.name.clone() });
            }
        }
    }
    let global: Vec<(i64, i64)> = windows
        .iter()
        .filter(|w| w.kind == WindowKind::Maintenance && w.ci_ids.is_empty())
        .map(|w| (w.start, w.end))
        .collect();
    let mut by_ci: HashMap<Uuid, Vec<(i64, i64)>> = HashMap::new();
    for w in windows.iter().filter(|w| w.kind == WindowKind::Maintenance) {
        for ci in w.ci_ids.iter().filter(|c| own_set.contains(c)) {
            by_ci.entry(*ci).or_default().push((w.start, w.end));
        }
    }
    for ci in own.iter().filter(|c| constrained.contains(c)) {
        let mut spans = by_ci.remove(ci).unwrap_or_default();
        spans.extend(global.iter().copied());
        if !covered(spans, change.start, change.end) {
            conflicts.push(Conflict::OutsideMaintenance { ci: *ci });
        }
    }
    let mut collisions_total = 0;
    for o in others.iter().filter(|o| o.id != change.id && o.overlaps(change.start, change.end)) {
        let mut found = Vec::new();
        let mut theirs: Vec<&Uuid> = o.ci_ids.iter().collect();
        theirs.sort_unstable();
        if let Some(ci) = theirs.iter().find(|c| own_set.contains(c)) {
            found.push(Conflict::SameCi { change_id: o.id, change: o.number.clone(), ci: **ci });
        } else if let Some((related, ci)) = theirs.iter().find_map(|c| near.get(c).map(|mine| (**c, *mine))) {
            found.push(Conflict::RelatedCi { change_id: o.id, change: o.number.clone(), ci, related });
        }
        if change.implementer.is_some() && o.implementer == change.implementer {
            found.push(Conflict::ImplementerBusy { change_id: o.id, change: o.number.clone() });
        }
        collisions_total += found.len();
        for c in found {
            if conflicts.len() < REPORTED_MAX {
                conflicts.push(c);
            }
        }
    }
    Ok(Found { conflicts, collisions_total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn change(n: u128, start: i64, end: i64, cis: &[u128], implementer: Option<u128>) -> Planned {
        Planned {
            id: id(n),
            number: format!("CHG-{n}"),
            start,
            end,
            ci_ids: cis.iter().map(|c| id(*c)).collect(),
            implementer: implementer.map(id),
        }
    }

    fn none() -> HashSet<Uuid> {
        HashSet::new()
    }

    #[test]
    fn an_implementer_in_a_rotation_works_inside_their_shifts() {
        let c = change(1, 100, 200, &[], Some(9));
        assert_eq!(off_shift(&c, None), None, "not in any rotation: not checked");
        assert_eq!(off_shift(&c, Some(vec![(50, 150), (150, 210)])), None, "shifts back to back cover it");
        assert_eq!(off_shift(&c, Some(vec![(50, 150)])), Some(Conflict::ImplementerOffShift { user_id: id(9) }));
        assert!(off_shift(&c, Some(vec![])).is_some(), "in a rotation but never on call then");
        assert_eq!(off_shift(&change(1, 100, 200, &[], None), Some(vec![])), None, "no implementer");
    }

    #[test]
    fn overlaps_on_a_ci_its_neighbours_and_its_implementer() {
        let me = change(1, 100, 200, &[10, 11, 11], Some(7));
        let related = HashMap::from([(id(10), vec![id(20), id(11)])]);
        let others = [
            change(2, 150, 250, &[11], None),        // same CI, overlapping
            change(3, 200, 300, &[10], None),        // same CI, touching only: no conflict
            change(4, 50, 120, &[20], Some(7)),      // a child of CI 10, and the same implementer
            change(5, 0, 1000, &[99], Some(8)),      // unrelated
            change(1, 100, 200, &[10, 11], Some(7)), // itself
        ];
        let got = detect(&me, &others, &[], &related, &none(), false).unwrap();
        assert_eq!(
            got.conflicts,
            vec![
                Conflict::SameCi { change_id: id(2), change: "CHG-2".into(), ci: id(11) },
                Conflict::RelatedCi { change_id: id(4), change: "CHG-4".into(), ci: id(10), related: id(20) },
                Conflict::ImplementerBusy { change_id: id(4), change: "CHG-4".into() },
            ]
        );
        assert_eq!(got.collisions_total, 3);
        let inverted = change(9, 300, 100, &[10], None);
        assert!(detect(&inverted, &[], &[], &related, &none(), false).is_err());
    }

    fn window(n: u128, kind: WindowKind, start: i64, end: i64, cis: &[u128]) -> Window {
        Window { id: id(n), name: format!("W{n}"), kind, start, end, ci_ids: cis.iter().map(|c| id(*c)).collect() }
    }

    #[test]
    fn windows_allow_and_forbid() {
        let me = change(1, 100, 200, &[10, 11, 12], None);
        let related = HashMap::from([(id(12), vec![id(30)])]);
        let constrained = HashSet::from([id(10), id(11), id(12)]);
        let windows = [
            window(50, WindowKind::Maintenance, 0, 300, &[10]),
            window(51, WindowKind::Maintenance, 120, 300, &[11]),
            // CI 12's windows touch: together they cover the change.
            window(52, WindowKind::Maintenance, 50, 150, &[12]),
            window(53, WindowKind::Maintenance, 150, 250, &[12]),
            // A freeze on a parent of CI 12.
            window(60, WindowKind::Freeze, 150, 400, &[30]),
        ];
        let got = detect(&me, &[], &windows, &related, &constrained, false).unwrap();
        assert_eq!(
            got.conflicts,
            vec![
                Conflict::InsideFreeze { window_id: id(60), window: "W60".into() },
                Conflict::OutsideMaintenance { ci: id(11) },
            ]
        );
        let got = detect(&me, &[], &windows, &related, &constrained, true).unwrap();
        assert_eq!(got.conflicts, vec![Conflict::OutsideMaintenance { ci: id(11) }], "an emergency passes the freeze");
        // A CI with windows on other days (none passed here) is still outside them; a global
        // maintenance window covers every CI.
        let got = detect(&me, &[], &[], &related, &HashSet::from([id(10)]), false).unwrap();
        assert_eq!(got.conflicts, vec![Conflict::OutsideMaintenance { ci: id(10) }]);
        let global = [window(70, WindowKind::Maintenance, 0, 1000, &[])];
        assert!(detect(&me, &[], &global, &related, &constrained, false).unwrap().conflicts.is_empty());
        let bad = [window(71, WindowKind::Freeze, 10, 10, &[])];
        assert!(detect(&me, &[], &bad, &related, &constrained, false).is_err());
    }

    proptest! {
        /// A change conflicts with another on a shared CI exactly when their windows overlap.
        #[test]
        fn shared_ci_conflicts_iff_windows_overlap(a in 0i64..100, la in 1i64..50, b in 0i64..100, lb in 1i64..50) {
            let me = change(1, a, a + la, &[10], None);
            let other = change(2, b, b + lb, &[10], None);
            let got = detect(&me, &[other], &[], &HashMap::new(), &HashSet::new(), false).unwrap();
            prop_assert_eq!(!got.conflicts.is_empty(), a < b + lb && b < a + la);
        }
    }
}
