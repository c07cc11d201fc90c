//! Impact analysis: which CIs a failure reaches, level by level.
//!
//! The walk is a breadth-first search driven by its caller: [`Walk::frontier`] names the CIs
//! whose outgoing impact must be looked up next, [`Walk::advance`] takes those hops, and
//! [`Walk::finish`] gives every impacted CI with its depth and one shortest path. The store runs
//! one query per level, so a walk costs at most `max_depth` round trips, and everything here is
//! pure and tested on hand-built graphs.
//!
//! Redundancy (k of n, iTop-style): a CI with `min_up = k` and `n` CIs it relies on is impacted
//! only once more than `n - k` of them are impacted.

use serde::Serialize;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// One step a failure can take: `from` (impacted) reaches `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    pub from: Uuid,
    pub to: Uuid,
    /// `to`'s redundancy, if it has one.
    pub min_up: Option<i32>,
    /// How many CIs `to` relies on (the hops that can reach it); read only with `min_up`.
    pub providers: i64,
}

/// An impacted CI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Impacted {
    pub id: Uuid,
    /// Hops from the nearest failed CI.
    pub depth: u32,
    /// From a failed CI to this one, both included.
    pub path: Vec<Uuid>,
}

#[derive(Debug)]
pub struct Walk {
    max_depth: u32,
    starts: HashSet<Uuid>,
    /// Impacted CIs: (depth, the CI that reached it).
    reached: HashMap<Uuid, (u32, Uuid)>,
    /// Distinct impacted providers seen so far of CIs with redundancy that still hold.
    hits: HashMap<Uuid, HashSet<Uuid>>,
    frontier: Vec<Uuid>,
    depth: u32,
    /// Order of first reach, so results come out in walk order.
    order: Vec<Uuid>,
}

impl Walk {
    /// Starts a walk from the failed CIs `starts`, going at most `max_depth` hops.
    pub fn new(starts: &[Uuid], max_depth: u32) -> Walk {
        let mut frontier: Vec<Uuid> = Vec::with_capacity(starts.len());
        let mut set = HashSet::with_capacity(starts.len());
        for s in starts {
            if set.insert(*s) {
                frontier.push(*s);
            }
        }
        Walk {
            max_depth,
            starts: set,
            reached: HashMap::new(),
            hits: HashMap::new(),
            frontier,
            depth: 0,
            order: Vec::new(),
        }
    }

    /// The CIs whose hops [`Walk::advance`] needs next; empty when the walk is over.
    pub fn frontier(&self) -> &[Uuid] {
        if self.depth >= self.max_depth { &[] } else { &self.frontier }
    }

    /// Takes the hops out of the current frontier (any order; hops from other CIs are ignored)
    /// and moves one level on.
    pub fn advance(&mut self, mut hops: Vec<Hop>) {
        if self.frontier().is_empty() {
            return;
        }
        let current: HashSet<Uuid> = self.frontier.iter().copied().collect();
        // Deterministic results whatever order the store answered in.
        hops.sort_by_key(|h| (h.to, h.from));
        let depth = self.depth + 1;
        let mut next = Vec::new();
        for h in hops {
            if !current.contains(&h.from) || self.reached.contains_key(&h.to) {
                continue;
            }
            if let Some(k) = h.min_up {
                let seen = self.hits.entry(h.to).or_default();
                seen.insert(h.from);
                let down = seen.len() as i64;
                // Impacted once fewer than k providers remain up.
                if h.providers.saturating_sub(down) >= i64::from(k) {
                    continue;
                }
            }
            self.reached.insert(h.to, (depth, h.from));
            self.order.push(h.to);
            // A failed CI reached again (a cycle) is listed but was expanded already.
            if !self.starts.contains(&h.to) {
                next.push(h.to);
            }
        }
        self.frontier = next;
        self.depth = depth;
    }

    /// How many CIs are impacted so far.
    pub fn reached(&self) -> usize {
        self.order.len()
    }

    /// Ends the walk where it is (the caller's result limit).
    pub fn stop(&mut self) {
        self.frontier.clear();
    }

    /// Every impacted CI in the order reached (by depth), each with one shortest path.
    pub fn finish(self) -> Vec<Impacted> {
        let mut out = Vec::with_capacity(self.order.len());
        for id in &self.order {
            let Some(&(depth, _)) = self.reached.get(id) else { continue };
            let mut path = vec![*id];
            let mut at = *id;
            // Each step goes to a CI reached at a smaller depth, or to a failed CI: it ends.
            while let Some(&(_, from)) = self.reached.get(&at) {
                path.push(from);
                if self.starts.contains(&from) {
                    break;
                }
                at = from;
            }
            path.reverse();
            out.push(Impacted { id: *id, depth, path });
        }
        out
    }
}

/// Runs a whole walk over an in-memory graph (tests, small graphs): `out(id)` gives the hops
/// out of `id`.
pub fn walk_with(starts: &[Uuid], max_depth: u32, mut out: impl FnMut(Uuid) -> Vec<Hop>) -> Vec<Impacted> {
    let mut w = Walk::new(starts, max_depth);
    while !w.frontier().is_empty() {
        let hops: Vec<Hop> = w.frontier().to_vec().into_iter().flat_map(&mut out).collect();
        w.advance(hops);
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A graph of `n` CIs numbered from 1; `edges` are (from, to) impact hops.
    struct Graph {
        edges: Vec<(u128, u128)>,
        min_up: HashMap<u128, i32>,
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    impl Graph {
        fn new(edges: &[(u128, u128)]) -> Graph {
            Graph { edges: edges.to_vec(), min_up: HashMap::new() }
        }

        fn hops(&self, from: Uuid) -> Vec<Hop> {
            self.edges
                .iter()
                .filter(|(f, _)| id(*f) == from)
                .map(|(f, t)| Hop {
                    from: id(*f),
                    to: id(*t),
                    min_up: self.min_up.get(t).copied(),
                    providers: self.edges.iter().filter(|(_, x)| x == t).count() as i64,
                })
                .collect()
        }

        fn impact(&self, starts: &[u128], depth: u32) -> Vec<Impacted> {
            let s: Vec<Uuid> = starts.iter().map(|n| id(*n)).collect();
            walk_with(&s, depth, |u| self.hops(u))
        }

        fn ids(&self, starts: &[u128], depth: u32) -> BTreeSet<u128> {
            self.impact(starts, depth).iter().map(|i| i.id.as_u128()).collect()
        }
    }

    #[test]
    fn a_chain_gives_depths_and_paths() {
        let g = Graph::new(&[(1, 2), (2, 3), (3, 4)]);
        let got = g.impact(&[1], 10);
        let summary: Vec<(u128, u32, Vec<u128>)> =
            got.iter().map(|i| (i.id.as_u128(), i.depth, i.path.iter().map(|p| p.as_u128()).collect())).collect();
        assert_eq!(summary, vec![(2, 1, vec![1, 2]), (3, 2, vec![1, 2, 3]), (4, 3, vec![1, 2, 3, 4])]);
        assert_eq!(g.ids(&[1], 2), BTreeSet::from([2, 3]), "the depth limit holds");
        assert!(g.impact(&[1], 0).is_empty());
    }

    #[test]
    fn a_diamond_lists_each_ci_once_at_its_shortest_depth() {
        // 1 → 2 → 4, 1 → 3 → 4, 4 → 5, and a long way 1 → 6 → 7 → 5.
        let g = Graph::new(&[(1, 2), (1, 3), (2, 4), (3, 4), (4, 5), (1, 6), (6, 7), (7, 5)]);
        let got = g.impact(&[1], 10);
        assert_eq!(got.len(), 6);
        let five = got.iter().find(|i| i.id == id(5)).expect("5 is impacted");
        assert_eq!(five.depth, 3);
        assert_eq!(five.path.len(), 4);
    }

    #[test]
    fn cycles_end_and_a_ci_impacts_itself_only_on_one() {
        let g = Graph::new(&[(1, 2), (2, 3), (3, 1), (3, 4)]);
        let got = g.impact(&[1], 10);
        let one = got.iter().find(|i| i.id == id(1)).expect("1 is on a cycle");
        assert_eq!((one.depth, one.path.first(), one.path.last()), (3, Some(&id(1)), Some(&id(1))));
        assert_eq!(g.ids(&[1], 10), BTreeSet::from([1, 2, 3, 4]));
        assert_eq!(g.ids(&[4], 10), BTreeSet::new(), "4 is not on the cycle");
    }

    #[test]
    fn redundancy_holds_until_too_few_members_are_up() {
        // Members 1, 2, 3 of cluster 10 (2 of 3 must be up); the app 20 runs on the cluster.
        let mut g = Graph::new(&[(1, 10), (2, 10), (3, 10), (10, 20)]);
        g.min_up.insert(10, 2);
        assert_eq!(g.ids(&[1], 10), BTreeSet::new(), "one member down: the cluster holds");
        assert_eq!(g.ids(&[1, 2], 10), BTreeSet::from([10, 20]), "two down: below 2 of 3");
        // Members fail at different depths: 4 → 1 and 5 → 6 → 2.
        g.edges.extend([(4, 1), (5, 6), (6, 2)]);
        let got = g.impact(&[4, 5], 10);
        let cluster = got.iter().find(|i| i.id == id(10)).expect("the cluster falls once both members do");
        assert_eq!(cluster.depth, 3);
        assert_eq!(cluster.path.iter().map(|p| p.as_u128()).collect::<Vec<_>>(), vec![5, 6, 2, 10]);
    }

    proptest::proptest! {
        /// Without redundancy, a set impacts exactly the union of what its members impact; every
        /// step of a path is an edge, so a CI that impacts itself is on a cycle.
        #[test]
        fn a_set_impacts_the_union_of_its_members_impacts(
            edges in proptest::collection::vec((1u128..12, 1u128..12), 0..30),
            a in 1u128..12,
            b in 1u128..12,
            depth in 1u32..7,
        ) {
            let edges: Vec<(u128, u128)> = edges.into_iter().filter(|(x, y)| x != y).collect();
            let g = Graph::new(&edges);
            let mut union = g.ids(&[a], depth);
            union.extend(g.ids(&[b], depth));
            proptest::prop_assert_eq!(g.ids(&[a, b], depth), union);
            for i in g.impact(&[a], depth) {
                proptest::prop_assert!(i.depth <= depth);
                proptest::prop_assert_eq!(i.path.len() as u32, i.depth + 1);
                proptest::prop_assert_eq!((i.path.first(), i.path.last()), (Some(&id(a)), Some(&i.id)));
                for w in i.path.windows(2) {
                    proptest::prop_assert!(edges.contains(&(w[0].as_u128(), w[1].as_u128())));
                }
            }
        }
    }
}
