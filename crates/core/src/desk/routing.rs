//! Routing a new ticket to a group: ordered rules matched on what the ticket says (its type,
//! category, service, requester, words), the first match naming the team that works it and how
//! the ticket is handed to one of its agents ([`Assign`]: round robin or least loaded).

use super::ticket::TicketType;
use crate::{Error, Problems, Result, validate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Keywords in one rule, at most.
pub const KEYWORDS_MAX: usize = 20;
/// A keyword's length, at most.
pub const KEYWORD_MAX: usize = 40;
/// Rules, at most.
pub const RULES_MAX: usize = 200;

str_enum! {
    /// How a routed ticket gets its assignee within the team.
    Assign { None = "none", RoundRobin = "round_robin", LeastLoaded = "least_loaded" }
}

/// A rule, unvalidated.
#[derive(Debug, Clone, Default)]
pub struct RouteInput {
    pub name: String,
    pub position: Option<i64>,
    pub ticket_type: Option<String>,
    pub category: Option<String>,
    pub service_id: Option<Uuid>,
    pub requester: Option<String>,
    pub keywords: Vec<String>,
    pub team_id: Option<Uuid>,
    pub assign: Option<String>,
    pub enabled: Option<bool>,
}

/// A validated rule: every condition given must hold; a rule with none matches every ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteSpec {
    pub name: String,
    /// Rules are tried by position, lowest first.
    pub position: i32,
    pub ticket_type: Option<TicketType>,
    /// Matched without regard to case.
    pub category: Option<String>,
    pub service_id: Option<Uuid>,
    /// An address (`ana@example.com`) or a domain (`@example.com`), lowercase.
    pub requester: Option<String>,
    /// Any of these words in the title or description (lowercase, whole words).
    pub keywords: Vec<String>,
    pub team_id: Uuid,
    pub assign: Assign,
    pub enabled: bool,
}

impl RouteSpec {
    pub fn new(input: &RouteInput) -> Result<RouteSpec> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", &input.name));
        let position = match input.position.unwrap_or(100) {
            v @ 0..=10_000 => i32::try_from(v).unwrap_or(100),
            _ => {
                p.push("position", "must be 0 to 10000");
                100
            }
        };
        let ticket_type = match input.ticket_type.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => TicketType::parse(t).or_else(|| {
                p.push("ticket_type", format!("must be {}", TicketType::choices()));
                None
            }),
        };
        let category = match input.category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => p.check(validate::name("category", c)),
        };
        let requester = match input.requester.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            None => None,
            Some(r) => p.check(requester_pattern("requester", r)),
        };
        if input.keywords.len() > KEYWORDS_MAX {
            p.push("keywords", format!("at most {KEYWORDS_MAX} keywords"));
        }
        let mut keywords: Vec<String> = Vec::new();
        for k in input.keywords.iter().take(KEYWORDS_MAX).map(|k| k.trim()).filter(|k| !k.is_empty()) {
            if k.chars().count() > KEYWORD_MAX || !k.chars().all(char::is_alphanumeric) {
                p.push(
                    "keywords",
                    format!("{k:?}: a keyword is one word of letters and digits, at most {KEYWORD_MAX}"),
                );
            } else if !keywords.contains(&k.to_lowercase()) {
                keywords.push(k.to_lowercase());
            }
        }
        if input.team_id.is_none() {
            p.push("team_id", "name the team that works the tickets this rule matches");
        }
        let assign = match input.assign.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            None => Assign::None,
            Some(a) => Assign::parse(a).unwrap_or_else(|| {
                p.push("assign", format!("must be {}", Assign::choices()));
                Assign::None
            }),
        };
        p.finish()?;
        match (name, input.team_id) {
            (Some(name), Some(team_id)) => Ok(RouteSpec {
                name,
                position,
                ticket_type,
                category,
                service_id: input.service_id,
                requester,
                keywords,
                team_id,
                assign,
                enabled: input.enabled.unwrap_or(true),
            }),
            _ => Err(Error::invalid("name", "is invalid")),
        }
    }

    /// Whether this rule takes a ticket that says `facts`.
    pub fn matches(&self, facts: &Facts<'_>) -> bool {
        self.enabled
            && self.ticket_type.is_none_or(|t| t == facts.ticket_type)
            && self
                .category
                .as_deref()
                .is_none_or(|c| facts.category.is_some_and(|f| f.to_lowercase() == c.to_lowercase()))
            && self.service_id.is_none_or(|s| facts.service_id == Some(s))
            && self.requester.as_deref().is_none_or(|r| facts.requester.is_some_and(|e| requester_matches(r, e)))
            && (self.keywords.is_empty() || words(facts.text).any(|w| self.keywords.contains(&w)))
    }
}

/// `ana@example.com` or `@example.com`, lowercase.
pub(crate) fn requester_pattern(field: &'static str, v: &str) -> Result<String> {
    let domain_ok = |d: &str| {
        !d.is_empty()
            && d.len() <= 253
            && d.contains('.')
            && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    match v.strip_prefix('@') {
        Some(d) if domain_ok(d) => Ok(v.to_ascii_lowercase()),
        Some(_) => Err(Error::invalid(field, "a domain is written @example.com")),
        None => validate::email(field, v).map(|e| e.to_lowercase()),
    }
}

/// Case does not matter, in any script (`pattern` is stored lowercase).
pub(crate) fn requester_matches(pattern: &str, email: &str) -> bool {
    let email = email.to_lowercase();
    match pattern.strip_prefix('@') {
        Some(domain) => email.rsplit_once('@').is_some_and(|(_, d)| d == domain),
        None => email == pattern,
    }
}

/// The lowercase words of `text`, split at anything that is not a letter or digit.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// What a new ticket says, as rules read it.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub ticket_type: TicketType,
    pub category: Option<&'a str>,
    pub service_id: Option<Uuid>,
    pub requester: Option<&'a str>,
    /// The title and description.
    pub text: &'a str,
}

/// The first of `rules` (tried by position, then as given) that takes the ticket.
pub fn first_match<'r, R: AsRef<RouteSpec>>(rules: &'r [R], facts: &Facts<'_>) -> Option<&'r R> {
    let mut ordered: Vec<&R> = rules.iter().collect();
    ordered.sort_by_key(|r| r.as_ref().position);
    ordered.into_iter().find(|r| r.as_ref().matches(facts))
}

impl AsRef<RouteSpec> for RouteSpec {
    fn as_ref(&self) -> &RouteSpec {
        self
    }
}

/// The agent a routed ticket goes to. `agents` are the team's active agents in a fixed order;
/// `turn` counts the team's round-robin hand-outs (this one included); `load` is each agent's
/// open tickets. Least loaded breaks ties by the round-robin turn, so equals take turns.
pub fn pick(assign: Assign, agents: &[Uuid], turn: u64, load: &[(Uuid, i64)]) -> Option<Uuid> {
    if agents.is_empty() {
        return None;
    }
    let n = u64::try_from(agents.len()).ok()?;
    let start = usize::try_from(turn.saturating_sub(1) % n).ok()?;
    let rotated = agents[start..].iter().chain(&agents[..start]);
    match assign {
        Assign::None => None,
        Assign::RoundRobin => agents.get(start).copied(),
        Assign::LeastLoaded => {
            let load_of = |id: &Uuid| load.iter().find(|(a, _)| a == id).map_or(0, |(_, n)| *n);
            rotated.min_by_key(|id| load_of(id)).copied()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(input: RouteInput) -> RouteSpec {
        RouteSpec::new(&RouteInput { team_id: Some(Uuid::nil()), ..input }).unwrap()
    }

    fn facts<'a>(text: &'a str, requester: Option<&'a str>) -> Facts<'a> {
        Facts { ticket_type: TicketType::IncidentReport, category: Some("Hardware"), service_id: None, requester, text }
    }

    #[test]
    fn conditions_all_hold_and_the_lowest_position_wins() {
        let vpn = rule(RouteInput { name: "VPN".into(), keywords: vec!["VPN".into()], ..RouteInput::default() });
        let acme = rule(RouteInput {
            name: "Acme".into(),
            position: Some(10),
            requester: Some("@Acme.com".into()),
            category: Some("hardware".into()),
            ..RouteInput::default()
        });
        let rules = vec![vpn.clone(), acme.clone()];
        assert_eq!(first_match(&rules, &facts("My vpn drops", Some("a@acme.com"))), Some(&acme));
        assert_eq!(first_match(&rules, &facts("My vpn drops", Some("a@other.org"))), Some(&vpn));
        // Whole words only: "vpnclient" is not "vpn".
        assert_eq!(first_match(&rules, &facts("vpnclient", None)), None);
        let off = RouteSpec { enabled: false, ..acme };
        assert_eq!(first_match(&[off], &facts("x", Some("a@acme.com"))), None);
    }

    #[test]
    fn bad_rules_name_every_field() {
        let e = RouteSpec::new(&RouteInput {
            name: " ".into(),
            position: Some(-1),
            requester: Some("@nodot".into()),
            keywords: vec!["two words".into()],
            assign: Some("random".into()),
            ticket_type: Some("bug".into()),
            ..RouteInput::default()
        })
        .unwrap_err()
        .to_string();
        for f in ["name", "position", "requester", "keywords", "assign", "ticket_type", "team_id"] {
            assert!(e.contains(f), "{f} missing from {e}");
        }
    }

    #[test]
    fn round_robin_cycles_and_least_loaded_takes_turns_among_equals() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let team = [a, b, c];
        let rr: Vec<_> = (1..=4).map(|t| pick(Assign::RoundRobin, &team, t, &[])).collect();
        assert_eq!(rr, vec![Some(a), Some(b), Some(c), Some(a)]);
        assert_eq!(pick(Assign::LeastLoaded, &team, 1, &[(a, 3), (b, 1), (c, 2)]), Some(b));
        assert_eq!(pick(Assign::LeastLoaded, &team, 3, &[(a, 1), (b, 1), (c, 1)]), Some(c));
        assert_eq!(pick(Assign::None, &team, 1, &[]), None);
        assert_eq!(pick(Assign::RoundRobin, &[], 1, &[]), None);
        assert!(pick(Assign::RoundRobin, &team, u64::MAX, &[]).is_some());
    }
}
