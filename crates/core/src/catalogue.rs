//! The service catalogue: teams, services and the dependencies between services.

use crate::{Error, Problems, Result, validate};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Validated input for creating or replacing a team.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamSpec {
    pub name: String,
    pub slug: String,
    pub description: String,
}

impl TeamSpec {
    pub fn new(name: &str, slug: Option<&str>, description: Option<&str>) -> Result<Self> {
        let name = validate::name("name", name)?;
        let slug = match slug.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => validate::slug("slug", s)?,
            None => validate::slugify(&name),
        };
        Ok(TeamSpec { name, slug, description: validate::description("description", description.unwrap_or(""))? })
    }
}

/// Criticality: tier 1 is business-critical, tier 4 is best effort.
pub const TIER_MIN: i16 = 1;
pub const TIER_MAX: i16 = 4;
pub const DEFAULT_TIER: i16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub title: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub team_id: Option<Uuid>,
    pub tier: i16,
    pub tags: Vec<String>,
    pub runbook_url: Option<String>,
    pub links: Vec<Link>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Validated content of a service (everything but id and timestamps).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSpec {
    pub name: String,
    pub slug: String,
    pub description: String,
    pub team_id: Option<Uuid>,
    pub tier: i16,
    pub tags: Vec<String>,
    pub runbook_url: Option<String>,
    pub links: Vec<Link>,
}

/// Unvalidated service fields as a client sends them; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct ServiceInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub team_id: Option<Option<Uuid>>,
    pub tier: Option<i16>,
    pub tags: Option<Vec<String>>,
    pub runbook_url: Option<Option<String>>,
    pub links: Option<Vec<Link>>,
}

impl ServiceSpec {
    /// Validates a new service; the slug defaults to one derived from the name.
    pub fn create(input: ServiceInput) -> Result<Self> {
        let name = input.name.as_deref().ok_or_else(|| Error::invalid("name", "is required"))?;
        let base = ServiceSpec {
            name: String::new(),
            slug: validate::slugify(name),
            description: String::new(),
            team_id: None,
            tier: DEFAULT_TIER,
            tags: Vec::new(),
            runbook_url: None,
            links: Vec::new(),
        };
        base.apply(input)
    }

    /// Applies a partial update on top of an existing service's content.
    pub fn apply(mut self, input: ServiceInput) -> Result<Self> {
        let mut p = Problems::default();
        if let Some(name) = input.name {
            p.set(&mut self.name, validate::name("name", &name));
        }
        // A blank slug keeps the current one (on create: derived from the name), as for teams.
        if let Some(slug) = input.slug.filter(|s| !s.trim().is_empty()) {
            p.set(&mut self.slug, validate::slug("slug", &slug));
        }
        if let Some(d) = input.description {
            p.set(&mut self.description, validate::description("description", &d));
        }
        if let Some(team) = input.team_id {
            self.team_id = team;
        }
        if let Some(tier) = input.tier {
            if (TIER_MIN..=TIER_MAX).contains(&tier) {
                self.tier = tier;
            } else {
                p.push("tier", "must be 1 (critical) to 4 (best effort)");
            }
        }
        if let Some(tags) = input.tags {
            p.set(&mut self.tags, validate::tags("tags", &tags));
        }
        if let Some(url) = input.runbook_url {
            p.set(&mut self.runbook_url, validate::optional_url("runbook_url", url.as_deref()));
        }
        if let Some(links) = input.links {
            p.set(&mut self.links, validate_links(links));
        }
        if self.name.is_empty() {
            p.push("name", "is required");
        }
        p.finish()?;
        Ok(self)
    }
}

impl From<&Service> for ServiceSpec {
    fn from(s: &Service) -> Self {
        ServiceSpec {
            name: s.name.clone(),
            slug: s.slug.clone(),
            description: s.description.clone(),
            team_id: s.team_id,
            tier: s.tier,
            tags: s.tags.clone(),
            runbook_url: s.runbook_url.clone(),
            links: s.links.clone(),
        }
    }
}

fn validate_links(links: Vec<Link>) -> Result<Vec<Link>> {
    if links.len() > validate::LINKS_MAX {
        return Err(Error::invalid("links", format!("at most {} links", validate::LINKS_MAX)));
    }
    links
        .into_iter()
        .map(|l| Ok(Link { title: validate::name("links.title", &l.title)?, url: validate::url("links.url", &l.url)? }))
        .collect()
}

/// Checks that adding `from → to` ("from depends on to") keeps the dependency graph acyclic.
/// `edges` are the existing (dependent, dependency) pairs.
pub fn check_new_dependency(edges: &[(Uuid, Uuid)], from: Uuid, to: Uuid) -> Result<()> {
    if from == to {
        return Err(Error::Conflict("a service cannot depend on itself".into()));
    }
    if edges.contains(&(from, to)) {
        return Err(Error::Conflict("this dependency already exists".into()));
    }
    // A cycle appears iff `from` is already reachable from `to`.
    let mut next: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (a, b) in edges {
        next.entry(*a).or_default().push(*b);
    }
    let mut seen = HashSet::new();
    let mut stack = vec![to];
    while let Some(n) = stack.pop() {
        if n == from {
            return Err(Error::Conflict("this dependency would create a cycle".into()));
        }
        if seen.insert(n) {
            stack.extend(next.get(&n).into_iter().flatten().copied());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input(name: &str) -> ServiceInput {
        ServiceInput { name: Some(name.into()), ..Default::default() }
    }

    #[test]
    fn create_defaults() {
        let s = ServiceSpec::create(input("Payments API")).unwrap();
        assert_eq!(s.slug, "payments-api");
        assert_eq!(s.tier, DEFAULT_TIER);
        assert!(ServiceSpec::create(ServiceInput::default()).is_err());
    }

    #[test]
    fn update_validates_each_field() {
        let s = ServiceSpec::create(input("Checkout")).unwrap();
        let bad_tier = ServiceInput { tier: Some(5), ..Default::default() };
        assert!(matches!(s.clone().apply(bad_tier), Err(Error::Invalid { field: "tier", .. })));
        let clear_runbook = ServiceInput { runbook_url: Some(None), ..Default::default() };
        assert_eq!(s.clone().apply(clear_runbook).unwrap().runbook_url, None);
        let bad_link = ServiceInput {
            links: Some(vec![Link { title: "Dash".into(), url: "grafana".into() }]),
            ..Default::default()
        };
        assert!(s.apply(bad_link).is_err());
    }

    #[test]
    fn dependency_rules() {
        let [a, b, c] = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        let edges = vec![(a, b), (b, c)];
        assert!(check_new_dependency(&edges, a, a).is_err());
        assert!(check_new_dependency(&edges, a, b).is_err());
        assert!(check_new_dependency(&edges, c, a).is_err());
        assert!(check_new_dependency(&edges, a, c).is_ok());
    }

    proptest! {
        // Adding only accepted edges can never produce a cycle.
        #[test]
        fn accepted_edges_stay_acyclic(pairs in proptest::collection::vec((0usize..8, 0usize..8), 0..40)) {
            let nodes: Vec<Uuid> = (0..8).map(|_| Uuid::now_v7()).collect();
            let mut edges = Vec::new();
            for (x, y) in pairs {
                if check_new_dependency(&edges, nodes[x], nodes[y]).is_ok() {
                    edges.push((nodes[x], nodes[y]));
                }
            }
            // Topological sort succeeds iff acyclic.
            let mut indeg: HashMap<Uuid, usize> = nodes.iter().map(|n| (*n, 0)).collect();
            for (_, b) in &edges { *indeg.get_mut(b).unwrap() += 1; }
            let mut ready: Vec<Uuid> = indeg.iter().filter(|(_, d)| **d == 0).map(|(n, _)| *n).collect();
            let mut done = 0;
            while let Some(n) = ready.pop() {
                done += 1;
                for (a, b) in &edges {
                    if *a == n {
                        let d = indeg.get_mut(b).unwrap();
                        *d -= 1;
                        if *d == 0 { ready.push(*b); }
                    }
                }
            }
            prop_assert_eq!(done, nodes.len());
        }
    }
}
