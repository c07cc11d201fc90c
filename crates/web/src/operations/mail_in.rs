//! Mail to the service desk: each message read from the mailbox becomes a ticket, a reply on the
//! ticket it answers, or a refusal kept with why — never silently dropped.
//!
//! - A message answering a ticket (our thread id in its references, or `[TKT-12]` in its
//!   subject) from the ticket's requester is a public reply; it resumes a pending ticket and
//!   reopens a resolved one. From anyone else, it is an internal note (a stranger who knows a
//!   ticket number does not speak for its requester). A closed ticket gets a follow-up ticket.
//! - Anything else raises a ticket from its sender, unless it is automatic (bounce, out of office).
//! - A message over the size limit keeps its header (a ticket still opens, saying so);
//!   attachments over theirs are left out, named on the ticket. Text beyond a description's limit
//!   is kept whole as `message.txt`.

use super::tickets::{TICKET_CHANGED, matrix};
use crate::AppState;
use crate::error::ApiError;
use opsdeck_core::audit::Actor;
use opsdeck_core::desk::mail::{self, Inbound, Thread};
use opsdeck_core::desk::request_item::Approval;
use opsdeck_core::desk::ticket::{TicketInput, TicketSpec, TicketState, TicketType};
use opsdeck_core::validate::DESCRIPTION_MAX;
use opsdeck_store::desk::Ticket;
use opsdeck_store::desk::mail_in::{MailAction, MailRecord, NewAttachment};

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Replied,
    Noted,
    Refused,
    /// Read before (the mailbox gave it again, e.g. after a crash): nothing written.
    Known,
}

/// The limits a message is read under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub message_bytes: usize,
    pub attachment_bytes: usize,
}

/// The ticket `m` answers; a database error is passed up (the message stays unseen for the next
/// pass) rather than taken for "no such ticket", which would raise a duplicate.
async fn answered(state: &AppState, m: &Inbound) -> Result<Option<Ticket>, ApiError> {
    let (found, req) = match mail::thread_of(m) {
        Some(Thread::Id(id)) => (state.db.get_ticket(id).await, None),
        Some(Thread::Key(req, n)) => (state.db.ticket_by_number(n).await, Some(req)),
        None => return Ok(None),
    };
    match found {
        // REQ-7 names a service request: it does not reach incident report TKT-7.
        Ok(t) => Ok(Some(t).filter(|t| req.is_none_or(|r| (t.kind == TicketType::ServiceRequest) == r))),
        Err(opsdeck_store::StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Keeps `record` as refused with `why` (a message that cannot become anything).
async fn refuse(state: &AppState, actor: &Actor, record: MailRecord, why: String) -> Result<Outcome, ApiError> {
    let record = MailRecord { detail: clip(&why), ..record };
    kept(state.db.take_mail(actor, state.now(), &record, &MailAction::Refuse, &[]).await.map(|_| ()), Outcome::Refused)
}

/// A unique-key conflict means another node kept the same message first.
fn kept(r: Result<(), opsdeck_store::StoreError>, outcome: Outcome) -> Result<Outcome, ApiError> {
    match r {
        Ok(()) => Ok(outcome),
        Err(opsdeck_store::StoreError::Conflict(m)) if m == opsdeck_store::desk::mail_in::ALREADY => Ok(Outcome::Known),
        Err(e) => Err(e.into()),
    }
}

/// A log line's detail, at most 2,000 characters.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(2000).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Keeps one message: `raw` is the whole message, or only its header when `header_only` (it
/// was `size` bytes, over the limit).
pub async fn receive(
    state: &AppState,
    raw: &[u8],
    header_only: bool,
    size: usize,
    limits: Limits,
) -> Result<Outcome, ApiError> {
    let now = state.now();
    let mut m = match mail::read(raw, limits.attachment_bytes) {
        Ok(m) => m,
        Err(why) => {
            let record = MailRecord {
                message_id: mail::fingerprint(raw),
                sender: String::new(),
                subject: String::new(),
                detail: why.0,
            };
            if state.db.mail_known(&record.message_id, &record.sender).await? {
                return Ok(Outcome::Known);
            }
            let why = record.detail.clone();
            return refuse(state, &Actor::system("mail"), record, why).await;
        }
    };
    if state.db.mail_known(&m.message_id, &m.from).await? {
        return Ok(Outcome::Known);
    }
    let mut notes: Vec<String> = Vec::new();
    if header_only {
        notes.push(format!(
            "This message was {}, over the {} limit: its text and attachments were not kept. Ask the sender for a \
             smaller one.",
            mail::human(size),
            mail::human(limits.message_bytes)
        ));
    }
    for a in m.attachments.iter().filter(|a| a.data.is_none()) {
        notes.push(format!(
            "Attachment {} left out: {}.",
            a.filename,
            a.skipped.as_deref().unwrap_or("over the limit")
        ));
    }
    if m.attachments_dropped > 0 {
        let (n, max) = (m.attachments_dropped, mail::ATTACHMENTS_MAX);
        notes.push(format!("{n} more attachments left out (at most {max} are kept)."));
    }
    let mut files: Vec<NewAttachment> = m
        .attachments
        .iter_mut()
        .filter_map(|a| {
            let data = a.data.take()?;
            Some(NewAttachment { filename: a.filename.clone(), content_type: a.content_type.clone(), data })
        })
        .collect();
    let mut text = m.text.clone();
    if !notes.is_empty() {
        text = format!("{}\n\n{}", text, notes.join("\n")).trim().to_owned();
    }
    let record = MailRecord {
        message_id: m.message_id.clone(),
        sender: m.from.clone(),
        subject: m.subject.clone(),
        detail: clip(&notes.join(" ")),
    };
    let user = state.db.user_by_email(&m.from).await?;
    let actor = Actor { user_id: user.as_ref().map(|u| u.id), label: m.from.clone() };

    let ticket = answered(state, &m).await?;
    let (action_outcome, id) = match ticket {
        Some(t) if t.state != TicketState::Closed => {
            let from_requester = t.requester_email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&m.from));
            let internal = !from_requester || m.automatic;
            // A rejected request stays decided: an answer does not reopen it.
            let resume = match (internal, t.state, t.approval) {
                (_, _, Approval::Rejected) => None,
                (false, TicketState::Pending | TicketState::Resolved, a) if a != Approval::Pending => {
                    Some(TicketState::InProgress)
                }
                _ => None,
            };
            let body = if text.is_empty() { "(an empty message)".to_owned() } else { text.clone() };
            let body = if internal { format!("Mail from {}:\n\n{body}", m.from) } else { body };
            let body: String = body.chars().take(super::tickets::BODY_MAX).collect();
            let action = MailAction::Reply { ticket: &t, body: &body, internal, author: actor.user_id, resume };
            let outcome = if internal { Outcome::Noted } else { Outcome::Replied };
            match state.db.take_mail(&actor, now, &record, &action, &files).await {
                Ok(id) => (outcome, id),
                Err(e) => return kept(Err(e), outcome),
            }
        }
        found => {
            if m.automatic {
                let why = "an automatic message (bounce or auto-reply): no ticket raised".to_owned();
                return refuse(state, &actor, record, why).await;
            }
            let follow_up =
                found.map(|t| format!("Follow-up to {}, which is closed.\n\n", t.key())).unwrap_or_default();
            let full = format!("{follow_up}{text}");
            let description = if full.chars().count() > DESCRIPTION_MAX {
                files.push(NewAttachment {
                    filename: "message.txt".into(),
                    content_type: "text/plain; charset=utf-8".into(),
                    data: full.clone().into_bytes(),
                });
                let cut: String = full.chars().take(DESCRIPTION_MAX - 80).collect();
                format!("{cut}…\n\n(The whole message is attached as message.txt.)")
            } else {
                full
            };
            let title = if m.subject.is_empty() {
                format!("Mail from {}", m.from).chars().take(opsdeck_core::validate::NAME_MAX).collect()
            } else {
                m.subject.clone()
            };
            let input = TicketInput {
                title,
                description: Some(description),
                kind: None,
                impact: None,
                urgency: None,
                requester_email: Some(m.from.clone()),
                ..TicketInput::default()
            };
            let spec = match TicketSpec::new(&input) {
                Ok(spec) => spec,
                Err(e) => return refuse(state, &actor, record, format!("cannot raise a ticket from it: {e}")).await,
            };
            let priority = matrix(state).await?.priority(spec.impact, spec.urgency);
            let routed = super::routing::route_new(state, None, &spec).await?;
            let action =
                MailAction::Create { spec: &spec, priority, requester: actor.user_id, routed: routed.as_ref() };
            match state.db.take_mail(&actor, now, &record, &action, &files).await {
                Ok(id) => (Outcome::Created, id),
                Err(e) => return kept(Err(e), Outcome::Created),
            }
        }
    };
    state.events.publish(TICKET_CHANGED, id, format!("mail from {}", m.from));
    Ok(action_outcome)
}
