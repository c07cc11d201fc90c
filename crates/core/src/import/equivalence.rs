//! The on-call equivalence check: an imported schedule must put the same person on call as the
//! source for the coming weeks. The source's own rendering (its API's "final schedule") is
//! compared with Opsdeck's timeline of the mapped layers and overrides at every instant either
//! one changes.

use super::{EQUIVALENCE_DAYS, ScheduleItem, SourceShift};
use crate::oncall::{self, Layer, Override, ScheduleSpec};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// The most differences reported per schedule (the first ones say what is wrong).
pub const DIFFERENCES_MAX: usize = 20;
/// The most shifts of a source's rendering compared (eight weeks of hourly handoffs in three
/// rotations); beyond it the rest shows up as differences.
pub const RENDERED_MAX: usize = 4_100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Source user ids; `None` is nobody.
    pub source: Option<String>,
    pub opsdeck: Option<String>,
}

/// The schedule as Opsdeck would run it, with each source user as a stand-in id. Unknown users
/// (not imported) stay out of the rotation, as they would after the import.
pub fn spec_of(item: &ScheduleItem, ids: &HashMap<String, Uuid>) -> ScheduleSpec {
    let layers = item
        .layers
        .iter()
        .map(|l| Layer {
            name: l.name.clone(),
            users: l.users.iter().filter_map(|u| ids.get(u).copied()).collect(),
            start: l.start,
            length: l.length,
            handoffs: None,
            restrictions: l.restrictions.clone(),
        })
        .filter(|l| !l.users.is_empty())
        .collect();
    ScheduleSpec {
        name: item.name.clone(),
        description: String::new(),
        timezone: item.timezone.clone(),
        team_id: None,
        layers,
    }
}

/// Stand-in ids for the source's users (stable within one check).
pub fn stand_ins<'a>(users: impl Iterator<Item = &'a str>) -> HashMap<String, Uuid> {
    users.enumerate().map(|(i, u)| (u.to_owned(), Uuid::from_u128(i as u128 + 1))).collect()
}

/// Where Opsdeck's timeline for `item` differs from the source's `rendered` shifts over
/// `[from, from + EQUIVALENCE_DAYS)`; at most [`DIFFERENCES_MAX`].
pub fn compare(
    item: &ScheduleItem,
    ids: &HashMap<String, Uuid>,
    rendered: &[SourceShift],
    from: DateTime<Utc>,
) -> Vec<Difference> {
    let to = from + Duration::days(EQUIVALENCE_DAYS);
    // The comparison scans the source's shifts at each change: bounded by their number.
    let rendered = &rendered[..rendered.len().min(RENDERED_MAX)];
    let spec = spec_of(item, ids);
    let overrides: Vec<Override> = item
        .overrides
        .iter()
        .filter_map(|o| Some(Override { id: Uuid::nil(), user_id: *ids.get(&o.user)?, start: o.start, end: o.end }))
        .collect();
    let names: HashMap<Uuid, &str> = ids.iter().map(|(k, v)| (*v, k.as_str())).collect();
    let ours = oncall::timeline(&spec, &overrides, from, to);
    // Everyone the source has on call at `t` (several where its rotations add up, as Opsgenie's
    // and Grafana OnCall's do), named together.
    let theirs = |t: DateTime<Utc>| -> Option<String> {
        let mut who: Vec<&str> =
            rendered.iter().filter(|s| s.start <= t && t < s.end).filter_map(|s| s.user.as_deref()).collect();
        who.sort_unstable();
        who.dedup();
        (!who.is_empty()).then(|| who.join(", "))
    };
    let mine = |t: DateTime<Utc>| -> Option<String> {
        ours.iter()
            .find(|s| s.start <= t && t < s.end)
            .and_then(|s| s.user_id)
            .and_then(|u| names.get(&u).map(|n| (*n).to_owned()))
    };
    let mut edges: Vec<DateTime<Utc>> = vec![from, to];
    edges.extend(ours.iter().flat_map(|s| [s.start, s.end]));
    edges.extend(rendered.iter().flat_map(|s| [s.start, s.end]));
    edges.retain(|t| *t >= from && *t <= to);
    edges.sort();
    edges.dedup();
    let mut out: Vec<Difference> = Vec::new();
    for w in edges.windows(2) {
        let (s, e) = (w[0], w[1]);
        let (a, b) = (theirs(s), mine(s));
        if a == b {
            continue;
        }
        if let Some(last) = out.last_mut().filter(|l| l.end == s && l.source == a && l.opsdeck == b) {
            last.end = e;
        } else if out.len() >= DIFFERENCES_MAX {
            break;
        } else {
            out.push(Difference { start: s, end: e, source: a, opsdeck: b });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::LayerItem;
    use crate::oncall::Length;
    use chrono::{NaiveDate, TimeZone};

    fn item() -> ScheduleItem {
        ScheduleItem {
            source_id: "S1".into(),
            name: "Primary".into(),
            description: String::new(),
            timezone: "UTC".into(),
            team: None,
            layers: vec![LayerItem {
                name: "L1".into(),
                users: vec!["A".into(), "B".into()],
                start: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap().and_hms_opt(9, 0, 0).unwrap(),
                length: Length::Days(1),
                restrictions: vec![],
            }],
            overrides: vec![],
        }
    }

    #[test]
    fn the_same_rotation_has_no_differences_and_a_swap_is_named() {
        let from = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
        let ids = stand_ins(["A", "B"].into_iter());
        let day = |k: i64, u: &str| SourceShift {
            start: from + Duration::days(k),
            end: from + Duration::days(k + 1),
            user: Some(u.into()),
        };
        let good: Vec<SourceShift> =
            (0..EQUIVALENCE_DAYS).map(|k| day(k, if k % 2 == 0 { "A" } else { "B" })).collect();
        assert!(compare(&item(), &ids, &good, from).is_empty());
        let mut bad = good.clone();
        bad[3].user = Some("A".into());
        let d = compare(&item(), &ids, &bad, from);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].start, d[0].source.as_deref(), d[0].opsdeck.as_deref()), (bad[3].start, Some("A"), Some("B")));
    }
}
