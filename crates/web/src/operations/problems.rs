//! Problems: agents open them over incidents and tickets, write down the root cause and the
//! workaround (a known error agents can search), and resolve them when the fix ships. Resolving
//! can resolve the linked incidents too, each through the incident's own move.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::operations::incidents;
use opsdeck_core::Entity;
use opsdeck_core::desk::kb;
use opsdeck_core::desk::problem::{self, ProblemAction, ProblemSpec, ProblemState};
use opsdeck_core::incident::{Move, Status};
use opsdeck_core::role::Permission;
use opsdeck_store::Page;
use opsdeck_store::desk::problems::{Problem, ProblemFilter};
use uuid::Uuid;

pub const PROBLEM_CHANGED: &str = "problem.changed";

/// A problem after a move, with what resolving its incidents did.
#[derive(Debug, Clone)]
pub struct Moved {
    pub problem: Problem,
    /// Incidents resolved with the problem.
    pub resolved_incidents: Vec<Uuid>,
}

/// Names the linked ids that do not exist, so nothing is written half-linked.
async fn check_links(state: &AppState, spec: &ProblemSpec) -> Result<(), ApiError> {
    let lists = [
        ("incident_ids", "incidents", "incident", &spec.incident_ids),
        ("ticket_ids", "tickets", "ticket", &spec.ticket_ids),
    ];
    for (field, table, noun, ids) in lists {
        if let Some(first) = state.db.missing_ids(table, ids).await?.first() {
            return Err(ApiError::invalid(field, format!("{first} is not an existing {noun}")));
        }
    }
    if let Some(c) = spec.fix_change_id
        && !state.db.missing_ids("changes", &[c]).await?.is_empty()
    {
        return Err(ApiError::invalid("fix_change_id", format!("{c} is not an existing change")));
    }
    Ok(())
}

/// Problems newest first; `q` searches titles, root causes and workarounds.
pub async fn list(
    state: &AppState,
    auth: &Auth,
    q: Option<&str>,
    f: &ProblemFilter,
) -> Result<Page<Problem>, ApiError> {
    auth.require(Permission::Respond)?;
    let f = ProblemFilter { words: q.map(kb::query_words).unwrap_or_default(), ..f.clone() };
    Ok(state.db.problems(&f).await?)
}

/// A problem by id, `PRB-n` or number (agents only: requesters see tickets, not problems).
pub async fn find(state: &AppState, auth: &Auth, reference: &str) -> Result<Problem, ApiError> {
    auth.require(Permission::Respond)?;
    let r = reference.trim();
    let number = r.strip_prefix("PRB-").or_else(|| r.strip_prefix("prb-")).unwrap_or(r);
    match number.parse::<i64>() {
        Ok(n) => Ok(state.db.problem_by_number(n).await?),
        Err(_) => match Uuid::parse_str(r) {
            Ok(id) => Ok(state.db.get_problem(id).await?),
            Err(_) => Err(ApiError::not_found(Entity::Problem)),
        },
    }
}

pub async fn create(state: &AppState, auth: &Auth, spec: &ProblemSpec) -> Result<Problem, ApiError> {
    auth.require(Permission::Respond)?;
    check_links(state, spec).await?;
    let p = state.db.create_problem(&auth.actor(), state.now(), spec).await?;
    state.events.publish(PROBLEM_CHANGED, Some(p.id), format!("{} opened", p.key()));
    Ok(p)
}

/// Saves title, text, links and fix over `version` (the one the editor loaded).
pub async fn update(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    version: i64,
    spec: &ProblemSpec,
) -> Result<Problem, ApiError> {
    let before = find(state, auth, reference).await?;
    if before.state == ProblemState::Closed {
        return Err(ApiError::conflict(format!("{} is closed; open a new problem that refers to it", before.key())));
    }
    super::check_version(&before.key(), before.version, Some(version))?;
    if before.state == ProblemState::KnownError && spec.workaround.is_empty() {
        return Err(ApiError::invalid("workaround", "a known error keeps its workaround; resolve the problem instead"));
    }
    check_links(state, spec).await?;
    let p = state.db.update_problem(&auth.actor(), state.now(), &before, version, spec).await?;
    state.events.publish(PROBLEM_CHANGED, Some(p.id), format!("{} edited", p.key()));
    Ok(p)
}

/// Moves a problem; `resolve` with `resolve_incidents` also resolves every linked incident that
/// is still open, noting the problem on its timeline.
pub async fn act(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    action: ProblemAction,
    version: Option<i64>,
    resolve_incidents: bool,
) -> Result<Moved, ApiError> {
    let before = find(state, auth, reference).await?;
    super::check_version(&before.key(), before.version, version)?;
    let to = problem::next(before.state, action, !before.workaround.is_empty()).map_err(|r| ApiError::conflict(r.0))?;
    let p = state.db.move_problem(&auth.actor(), state.now(), &before, to).await?;
    state.events.publish(PROBLEM_CHANGED, Some(p.id), format!("{} {}", p.key(), to.as_str()));
    let mut resolved_incidents = Vec::new();
    if to == ProblemState::Resolved && resolve_incidents {
        let note = format!("Resolved with {}: {}", p.key(), p.title);
        for id in &p.incident_ids {
            let inc = state.db.get_incident(*id).await?;
            if inc.status == Status::Resolved {
                continue;
            }
            // One resolved by someone else meanwhile is not a failure of this move.
            match incidents::move_incident(state, auth, &inc, Move::Resolve, Some(&note)).await {
                Ok(_) => resolved_incidents.push(*id),
                Err(e) if e.status() == axum::http::StatusCode::CONFLICT => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(Moved { problem: p, resolved_incidents })
}

/// The change that fixes some problems closed successfully: each open problem it fixes is
/// resolved with its incidents, as the person who closed the change. Best effort: the change's
/// move has happened, so a failure is logged, not an error of the move.
pub async fn fix_shipped(state: &AppState, auth: &Auth, change_id: Uuid) {
    let fixed = match state.db.problems_fixed_by(change_id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(change = %change_id, error = %e, "the problems a change fixes could not be read");
            return;
        }
    };
    for p in fixed {
        if let Err(e) = act(state, auth, &p.id.to_string(), ProblemAction::Resolve, Some(p.version), true).await {
            tracing::warn!(problem = %p.key(), error = %e.message, "a problem could not be resolved with its fix");
        }
    }
}
