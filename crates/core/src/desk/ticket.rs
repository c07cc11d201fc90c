//! Tickets: their types and states, the moves between them ([`next`]), priority from impact and
//! urgency through a configurable lookup table ([`PriorityMatrix`]), and the SLA clock events a
//! ticket's history turns into ([`clock_events`]).

use super::sla::Event;
use crate::{Error, Problems, Result, validate};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

str_enum! {
    /// What a ticket asks for.
    TicketType { IncidentReport = "incident_report", ServiceRequest = "service_request", Question = "question" }
}

str_enum! {
    /// Where a ticket is in its life.
    TicketState {
        New = "new",
        InProgress = "in_progress",
        Pending = "pending",
        Resolved = "resolved",
        Closed = "closed",
    }
}

str_enum! {
    /// What an agent asks of a ticket.
    TicketAction { Start = "start", Pend = "pend", Resolve = "resolve", Close = "close", Reopen = "reopen" }
}

impl TicketType {
    /// The number prefix: `REQ-` for service requests, `TKT-` for the rest.
    pub fn prefix(self) -> &'static str {
        match self {
            TicketType::ServiceRequest => "REQ",
            _ => "TKT",
        }
    }
}

/// Why a move is refused (answered as a 409).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// The state `action` moves a ticket from `state` to.
pub fn next(state: TicketState, action: TicketAction) -> std::result::Result<TicketState, Refusal> {
    use TicketAction as A;
    use TicketState as S;
    let refuse = |why: &str| Err(Refusal(why.to_owned()));
    match (action, state) {
        (_, S::Closed) => refuse("the ticket is closed; raise a new one that refers to it"),
        (A::Start, S::New | S::Pending) => Ok(S::InProgress),
        (A::Start, _) => refuse("only a new or pending ticket is started"),
        (A::Pend, S::New | S::InProgress) => Ok(S::Pending),
        (A::Pend, _) => refuse("only a new or open ticket is set pending"),
        (A::Resolve, S::New | S::InProgress | S::Pending) => Ok(S::Resolved),
        (A::Resolve, _) => refuse("the ticket is already resolved"),
        (A::Close, S::Resolved) => Ok(S::Closed),
        (A::Close, _) => refuse("only a resolved ticket is closed"),
        (A::Reopen, S::Resolved) => Ok(S::InProgress),
        (A::Reopen, _) => refuse("only a resolved ticket is reopened"),
    }
}

/// Priority 1 (highest) to 4 from impact × urgency, each 1 (highest) to 4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityMatrix {
    /// `cells[impact - 1][urgency - 1]`.
    pub cells: [[u8; 4]; 4],
}

impl Default for PriorityMatrix {
    /// The usual ITIL table: widespread and critical is P1; minor and low is P4.
    fn default() -> Self {
        PriorityMatrix { cells: [[1, 1, 2, 3], [1, 2, 3, 3], [2, 3, 3, 4], [3, 3, 4, 4]] }
    }
}

impl PriorityMatrix {
    pub fn new(cells: [[u8; 4]; 4]) -> Result<PriorityMatrix> {
        if cells.iter().flatten().any(|p| !(1..=4).contains(p)) {
            return Err(Error::invalid("cells", "every priority is 1 to 4"));
        }
        Ok(PriorityMatrix { cells })
    }

    pub fn priority(&self, impact: Level, urgency: Level) -> u8 {
        self.cells[usize::from(impact.0 - 1)][usize::from(urgency.0 - 1)]
    }
}

/// Impact or urgency: 1 (highest) to 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Level(u8);

impl Level {
    pub fn new(field: &'static str, v: i64) -> Result<Level> {
        match u8::try_from(v) {
            Ok(n @ 1..=4) => Ok(Level(n)),
            _ => Err(Error::invalid(field, "must be 1 (highest) to 4")),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// A new ticket, unvalidated.
#[derive(Debug, Clone, Default)]
pub struct TicketInput {
    pub title: String,
    pub description: Option<String>,
    pub kind: Option<String>,
    pub impact: Option<i64>,
    pub urgency: Option<i64>,
    pub requester_email: Option<String>,
    pub category: Option<String>,
    pub service_id: Option<uuid::Uuid>,
    /// The team that works it; routing rules choose one when none is given.
    pub team_id: Option<uuid::Uuid>,
}

/// A validated new ticket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketSpec {
    pub title: String,
    pub description: String,
    pub kind: TicketType,
    pub impact: Level,
    pub urgency: Level,
    pub requester_email: Option<String>,
    /// What it is about (`Hardware`, `Access`…), free text routing rules match.
    pub category: Option<String>,
    /// The service it concerns.
    pub service_id: Option<uuid::Uuid>,
    pub team_id: Option<uuid::Uuid>,
}

impl TicketSpec {
    /// Impact and urgency default to 3 (a single user, not urgent).
    pub fn new(input: &TicketInput) -> Result<TicketSpec> {
        let mut p = Problems::default();
        let title = p.check(validate::name("title", &input.title));
        let description = p.check(validate::description("description", input.description.as_deref().unwrap_or("")));
        let kind = match input.kind.as_deref() {
            None => Some(TicketType::IncidentReport),
            Some(k) => TicketType::parse(k).or_else(|| {
                p.push("type", format!("must be {}", TicketType::choices()));
                None
            }),
        };
        let impact = p.check(Level::new("impact", input.impact.unwrap_or(3)));
        let urgency = p.check(Level::new("urgency", input.urgency.unwrap_or(3)));
        let requester_email = match input.requester_email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            None => None,
            Some(e) => p.check(validate::email("requester_email", e)),
        };
        let category = match input.category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => p.check(validate::name("category", c)),
        };
        p.finish()?;
        match (title, description, kind, impact, urgency) {
            (Some(title), Some(description), Some(kind), Some(impact), Some(urgency)) => Ok(TicketSpec {
                title,
                description,
                kind,
                impact,
                urgency,
                requester_email,
                category,
                service_id: input.service_id,
                team_id: input.team_id,
            }),
            _ => Err(Error::invalid("title", "is invalid")),
        }
    }
}

/// A move in a ticket's history, as the SLA clocks read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    pub at: DateTime<Utc>,
    pub to: TicketState,
}

/// The resolution clock's events: it runs from `raised`, pauses while pending, stops when
/// resolved and runs again when reopened.
pub fn clock_events(raised: DateTime<Utc>, moves: &[Moved]) -> Vec<Event> {
    let mut out = vec![Event::Run(raised)];
    for m in moves {
        out.push(match m.to {
            TicketState::Pending => Event::Pause(m.at),
            TicketState::Resolved | TicketState::Closed => Event::Stop(m.at),
            TicketState::New | TicketState::InProgress => Event::Run(m.at),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_and_the_moves() {
        let m = PriorityMatrix::default();
        let l = |v| Level::new("x", v).unwrap();
        assert_eq!((m.priority(l(1), l(1)), m.priority(l(4), l(4)), m.priority(l(2), l(3))), (1, 4, 3));
        assert!(PriorityMatrix::new([[0; 4]; 4]).is_err());
        assert!(Level::new("impact", 5).is_err());
        assert_eq!(next(TicketState::New, TicketAction::Pend), Ok(TicketState::Pending));
        assert_eq!(next(TicketState::Resolved, TicketAction::Reopen), Ok(TicketState::InProgress));
        assert!(next(TicketState::Closed, TicketAction::Reopen).unwrap_err().0.contains("closed"));
        assert!(next(TicketState::New, TicketAction::Close).is_err());
        let e = TicketSpec::new(&TicketInput { title: " ".into(), impact: Some(9), ..TicketInput::default() });
        assert!(e.is_err());
    }
}
