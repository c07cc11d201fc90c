//! The request catalogue behind the portal: items (managers keep them), requests raised from
//! them (answers checked against the item's form, then an approval when the item names an
//! approver, then fulfilment tasks), and the requester's satisfaction rating.

use super::ticket_sla::{mail, mail_about};
use super::tickets::{self, TICKET_CHANGED, TicketView};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::desk::request_item::{self as item, Approval, ItemSpec};
use opsdeck_core::desk::ticket::{TicketAction, TicketInput, TicketSpec, TicketState};
use opsdeck_core::role::Permission;
use opsdeck_store::desk::Ticket;
use opsdeck_store::desk::requests::{Decision, NewRequest, RequestItem};
use std::collections::BTreeMap;

/// A decision's or a rating's comment, at most.
pub const COMMENT_MAX: usize = 2000;

/// The items on offer; managers also see the inactive ones when they ask.
pub async fn items(state: &AppState, auth: &Auth, with_inactive: bool) -> Result<Vec<RequestItem>, ApiError> {
    auth.require(Permission::Read)?;
    let all = with_inactive && auth.allows(Permission::Configure);
    Ok(state.db.request_items(!all).await?)
}

/// An item by id or slug; an inactive one only for managers.
pub async fn item(state: &AppState, auth: &Auth, reference: &str) -> Result<RequestItem, ApiError> {
    auth.require(Permission::Read)?;
    let i = state.db.request_item(reference.trim()).await?;
    if !i.active && !auth.allows(Permission::Configure) {
        return Err(ApiError::not_found(opsdeck_core::Entity::RequestItem));
    }
    Ok(i)
}

async fn check_approver(state: &AppState, spec: &ItemSpec) -> Result<(), ApiError> {
    if let Some(id) = spec.approver_id {
        let ok = state.db.get_user(id).await.ok().is_some_and(|u| !u.disabled);
        if !ok {
            return Err(ApiError::invalid("approver_id", "must name an active user"));
        }
    }
    Ok(())
}

pub async fn create_item(state: &AppState, auth: &Auth, spec: &ItemSpec) -> Result<RequestItem, ApiError> {
    auth.require(Permission::Configure)?;
    check_approver(state, spec).await?;
    Ok(state.db.create_request_item(&auth.actor(), state.now(), spec).await?)
}

pub async fn update_item(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    spec: &ItemSpec,
    version: Option<i64>,
) -> Result<RequestItem, ApiError> {
    auth.require(Permission::Configure)?;
    let before = state.db.request_item(reference.trim()).await?;
    super::check_version(&before.title, before.version, version)?;
    check_approver(state, spec).await?;
    Ok(state.db.update_request_item(&auth.actor(), state.now(), &before, spec).await?)
}

/// Raises a request for `reference` with `answers` (key → text): a service request titled after
/// the item, its answers as the description. An item with an approver waits for approval, its
/// resolution clock paused, and the approver is e-mailed.
pub async fn raise(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    answers: &BTreeMap<String, String>,
    requester_email: Option<String>,
) -> Result<TicketView, ApiError> {
    let it = item(state, auth, reference).await?;
    let checked = item::check_answers(&it.fields, answers).map_err(|p| {
        let named: Vec<(String, String)> = p.iter().map(|(k, m)| (format!("answers.{k}"), m.clone())).collect();
        ApiError::invalid_named(&named)
    })?;
    let input = TicketInput {
        title: it.title.clone(),
        description: Some(item::summary(&checked)),
        kind: Some("service_request".into()),
        impact: Some(i64::from(it.impact)),
        urgency: Some(i64::from(it.urgency)),
        requester_email,
        category: Some(it.category.clone()),
        ..TicketInput::default()
    };
    let spec = TicketSpec::new(&input)?;
    let approver = match it.approver_id {
        Some(id) => state.db.get_user(id).await.ok().filter(|u| !u.disabled),
        None => None,
    };
    let approver_mail: Option<opsdeck_store::desk::requests::MailFor> =
        match approver.as_ref().and_then(|u| u.email.clone()) {
            Some(to) => {
                let base = state.link_base().await;
                let (title, who) = (it.title.clone(), auth.user.display_name.clone());
                let lines = vec![format!("{who} asks for {title}:"), item::summary(&checked)];
                Some(Box::new(move |n: i64| {
                    let key = format!("REQ-{n}");
                    mail_about(&base, (n, &key, &title), &to, "Your approval is needed", &lines)
                }))
            }
            None => None,
        };
    let request = NewRequest {
        needs_approval: it.approver_id.is_some(),
        item_id: it.id,
        answers: checked,
        approver_id: approver.map(|u| u.id),
        tasks: it.tasks.clone(),
        approver_mail,
    };
    tickets::create_with(state, auth, &spec, Some(&request)).await
}

/// Refuses a move a request's approval or tasks forbid: nothing moves while it awaits approval,
/// and it is not resolved while a fulfilment task is open.
pub fn may_move(t: &Ticket, action: TicketAction) -> Result<(), ApiError> {
    if t.approval == Approval::Pending {
        return Err(ApiError::conflict(format!(
            "{} awaits approval; its approver approves or rejects it first",
            t.key()
        )));
    }
    if t.approval == Approval::Rejected && action == TicketAction::Reopen {
        return Err(ApiError::conflict(format!("{} was rejected; a new request asks again", t.key())));
    }
    let open: Vec<&str> = t.tasks.iter().filter(|x| x.done_at.is_none()).map(|x| x.title.as_str()).collect();
    if action == TicketAction::Resolve && t.approval != Approval::Rejected && !open.is_empty() {
        let first: Vec<&str> = open.iter().take(3).copied().collect();
        return Err(ApiError::conflict(format!(
            "{} has {} open fulfilment task(s) ({}); tick them off first",
            t.key(),
            open.len(),
            first.join(", ")
        )));
    }
    Ok(())
}

fn comment(raw: Option<&str>) -> Result<String, ApiError> {
    let c = raw.unwrap_or("").trim();
    if c.chars().count() > COMMENT_MAX || c.contains('\0') {
        return Err(ApiError::invalid("comment", format!("must be at most {COMMENT_MAX} characters")));
    }
    Ok(c.to_owned())
}

/// Approves or rejects a request awaiting approval: its approver, or an admin. A rejection needs a
/// comment (the requester reads why). The decision is a public reply, mailed to the requester.
pub async fn decide(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    approve: bool,
    raw_comment: Option<&str>,
    version: Option<i64>,
) -> Result<TicketView, ApiError> {
    let t = tickets::find(state, auth, reference).await?;
    if t.approver_id != Some(auth.user.id) && !auth.allows(Permission::Administer) {
        return Err(ApiError::forbidden(opsdeck_core::role::Role::Admin));
    }
    if t.requester_id == Some(auth.user.id) {
        return Err(ApiError::conflict(format!("you raised {}: its approver or another admin decides", t.key())));
    }
    super::check_version(&t.key(), t.version, version)?;
    if t.approval != Approval::Pending {
        return Err(ApiError::conflict(format!(
            "{} is not awaiting approval (it is {})",
            t.key(),
            t.approval.as_str()
        )));
    }
    let c = comment(raw_comment)?;
    if !approve && c.is_empty() {
        return Err(ApiError::invalid("comment", "say why the request is rejected; the requester reads it"));
    }
    let who = &auth.user.display_name;
    let reply = match (approve, c.is_empty()) {
        (true, true) => format!("Approved by {who}."),
        (true, false) => format!("Approved by {who}: {c}"),
        (false, _) => format!("Rejected by {who}: {c}"),
    };
    let note = match &t.requester_email {
        Some(to) => {
            let base = state.link_base().await;
            let headline = if approve { "Your request was approved" } else { "Your request was rejected" };
            Some(mail(&base, &t, to, headline, std::slice::from_ref(&reply)))
        }
        None => None,
    };
    let d = Decision { approve, reply: &reply, mail: note.as_ref() };
    let t = state.db.decide_request(&auth.actor(), state.now(), &t, &d).await?;
    let word = if approve { "approved" } else { "rejected" };
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("{} {word}", t.key()));
    tickets::view_of(state, auth, t).await
}

/// Ticks off (or reopens) fulfilment task `index` (0-based) of a request (agents).
pub async fn set_task(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    index: usize,
    done: bool,
    version: Option<i64>,
) -> Result<TicketView, ApiError> {
    auth.require(Permission::Respond)?;
    let t = tickets::find(state, auth, reference).await?;
    super::check_version(&t.key(), t.version, version)?;
    if index >= t.tasks.len() {
        return Err(ApiError::invalid("task", format!("{} has {} task(s), numbered from 0", t.key(), t.tasks.len())));
    }
    match (t.approval, t.state) {
        (Approval::Pending, _) => return Err(ApiError::conflict(format!("{} awaits approval", t.key()))),
        (Approval::Rejected, _) => return Err(ApiError::conflict(format!("{} was rejected", t.key()))),
        (_, TicketState::Closed) => return Err(ApiError::conflict(format!("{} is closed", t.key()))),
        _ => {}
    }
    let t = state.db.set_ticket_task(&auth.actor(), state.now(), &t, index, done).await?;
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("{} task", t.key()));
    tickets::view_of(state, auth, t).await
}

/// The requester rates a resolved (or closed) ticket 1 to 5, with an optional comment; a later
/// rating replaces the earlier one.
pub async fn rate(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    score: i64,
    raw_comment: Option<&str>,
) -> Result<TicketView, ApiError> {
    let t = tickets::find(state, auth, reference).await?;
    if t.requester_id != Some(auth.user.id) {
        return Err(ApiError::conflict(format!("only the requester of {} rates it", t.key())));
    }
    let score = match u8::try_from(score) {
        Ok(s @ 1..=5) => s,
        _ => return Err(ApiError::invalid("rating", "must be 1 (poor) to 5 (excellent)")),
    };
    if !matches!(t.state, TicketState::Resolved | TicketState::Closed) {
        return Err(ApiError::conflict(format!("{} is rated once it is resolved", t.key())));
    }
    let c = comment(raw_comment)?;
    let t = state.db.rate_ticket(&auth.actor(), state.now(), &t, score, &c).await?;
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("{} rated", t.key()));
    tickets::view_of(state, auth, t).await
}
