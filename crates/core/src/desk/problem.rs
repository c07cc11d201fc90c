//! Problems (`PRB-n`): the cause behind one or more incidents and tickets. A problem is open
//! while its cause is investigated, a known error once a workaround is written down, resolved
//! when the fix ships (often through a change), and closed afterwards.

use crate::{Error, Problems, Result, validate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

str_enum! {
    /// Where a problem is in its life.
    ProblemState { Open = "open", KnownError = "known_error", Resolved = "resolved", Closed = "closed" }
}

str_enum! {
    /// What an agent asks of a problem.
    ProblemAction { KnownError = "known_error", Resolve = "resolve", Close = "close", Reopen = "reopen" }
}

/// Root cause or workaround, at most (characters).
pub const TEXT_MAX: usize = 20_000;
/// Incidents or tickets linked to one problem, at most.
pub const LINKS_MAX: usize = 500;

/// Why a move is refused (answered as a 409).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// The state `action` moves a problem to; a known error needs its workaround written down.
pub fn next(
    state: ProblemState,
    action: ProblemAction,
    has_workaround: bool,
) -> std::result::Result<ProblemState, Refusal> {
    use ProblemAction as A;
    use ProblemState as S;
    let refuse = |why: &str| Err(Refusal(why.to_owned()));
    match (action, state) {
        (_, S::Closed) => refuse("the problem is closed; open a new one that refers to it"),
        (A::KnownError, S::Open) if has_workaround => Ok(S::KnownError),
        (A::KnownError, S::Open) => refuse("write the workaround first: a known error is one people can work around"),
        (A::KnownError, _) => refuse("only an open problem becomes a known error"),
        (A::Resolve, S::Open | S::KnownError) => Ok(S::Resolved),
        (A::Resolve, _) => refuse("the problem is already resolved"),
        (A::Close, S::Resolved) => Ok(S::Closed),
        (A::Close, _) => refuse("only a resolved problem is closed"),
        (A::Reopen, S::Resolved) if has_workaround => Ok(S::KnownError),
        (A::Reopen, S::Resolved) => Ok(S::Open),
        (A::Reopen, _) => refuse("only a resolved problem is reopened"),
    }
}

/// A new or edited problem, unvalidated.
#[derive(Debug, Clone, Default)]
pub struct ProblemInput {
    pub title: String,
    pub description: Option<String>,
    pub root_cause: Option<String>,
    pub workaround: Option<String>,
    pub incident_ids: Vec<Uuid>,
    pub ticket_ids: Vec<Uuid>,
    pub fix_change_id: Option<Uuid>,
}

/// A validated problem: text trimmed, links without repeats.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemSpec {
    pub title: String,
    pub description: String,
    pub root_cause: String,
    pub workaround: String,
    pub incident_ids: Vec<Uuid>,
    pub ticket_ids: Vec<Uuid>,
    pub fix_change_id: Option<Uuid>,
}

fn text(p: &mut Problems, field: &'static str, v: Option<&str>) -> String {
    let v = v.unwrap_or("");
    if v.chars().count() > TEXT_MAX {
        p.push(field, format!("must be at most {TEXT_MAX} characters"));
    } else if v.contains('\0') {
        p.push(field, "must not contain NUL characters");
    }
    v.trim().to_owned()
}

fn links(p: &mut Problems, field: &'static str, ids: &[Uuid]) -> Vec<Uuid> {
    if ids.len() > LINKS_MAX {
        p.push(field, format!("link at most {LINKS_MAX}"));
    }
    let mut out: Vec<Uuid> = ids.iter().copied().take(LINKS_MAX).collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl ProblemSpec {
    pub fn new(input: &ProblemInput) -> Result<ProblemSpec> {
        let mut p = Problems::default();
        let title = p.check(validate::name("title", &input.title));
        let description = p.check(validate::description("description", input.description.as_deref().unwrap_or("")));
        let root_cause = text(&mut p, "root_cause", input.root_cause.as_deref());
        let workaround = text(&mut p, "workaround", input.workaround.as_deref());
        let incident_ids = links(&mut p, "incident_ids", &input.incident_ids);
        let ticket_ids = links(&mut p, "ticket_ids", &input.ticket_ids);
        p.finish()?;
        match (title, description) {
            (Some(title), Some(description)) => Ok(ProblemSpec {
                title,
                description,
                root_cause,
                workaround,
                incident_ids,
                ticket_ids,
                fix_change_id: input.fix_change_id,
            }),
            _ => Err(Error::invalid("title", "is invalid")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_and_specs() {
        use ProblemAction as A;
        use ProblemState as S;
        assert_eq!(next(S::Open, A::KnownError, true), Ok(S::KnownError));
        assert!(next(S::Open, A::KnownError, false).unwrap_err().0.contains("workaround"));
        assert_eq!(next(S::KnownError, A::Resolve, true), Ok(S::Resolved));
        assert_eq!(next(S::Resolved, A::Reopen, true), Ok(S::KnownError));
        assert_eq!(next(S::Resolved, A::Reopen, false), Ok(S::Open));
        assert!(next(S::Closed, A::Reopen, true).is_err());
        assert!(next(S::Open, A::Close, true).is_err());
        let id = Uuid::now_v7();
        let s = ProblemSpec::new(&ProblemInput {
            title: "Disk fills on db-1".into(),
            incident_ids: vec![id, id],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.incident_ids, [id]);
        let many = ProblemInput { title: "x".into(), ticket_ids: vec![id; LINKS_MAX + 1], ..Default::default() };
        assert!(ProblemSpec::new(&many).unwrap_err().to_string().contains("ticket_ids"));
    }
}
