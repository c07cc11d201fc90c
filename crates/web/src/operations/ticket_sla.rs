//! SLA notices: judging open tickets' clocks when they are due (see `crate::sla_watch`), and
//! the e-mails tickets send: warnings at 75 % to the assignee, breaches to the assignee and the
//! policy's escalation address, and agents' public replies to the requester, all threaded under
//! the ticket so mail clients keep one conversation.

use super::tickets::clocks;
use crate::AppState;
use crate::error::ApiError;
use crate::ui::charts::esc;
use chrono::{DateTime, Utc};
use opsdeck_core::desk::sla::Clock;
use opsdeck_store::desk::Ticket;
use opsdeck_store::desk::sla_watch::{Judged, SlaNotice, TicketMail};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Tickets judged per batch.
pub const BATCH: i64 = 500;

/// One e-mail about `t`: a subject tagged with its key (`[TKT-12] …`) and a link to it.
pub fn mail(base: &str, t: &Ticket, to: &str, headline: &str, lines: &[String]) -> TicketMail {
    mail_about(base, (t.number, &t.key(), &t.title), to, headline, lines)
}

/// As [`mail`], for a ticket known by (number, key, title): one being raised has no row yet.
pub fn mail_about(
    base: &str,
    (number, key, title): (i64, &str, &str),
    to: &str,
    headline: &str,
    lines: &[String],
) -> TicketMail {
    let page = format!("{base}/tickets/{number}");
    let text = format!("{headline}\n\n{}\n\n{key} {title}\n{page}\n", lines.join("\n"));
    let paras: String = lines.iter().map(|l| format!("<p style=\"white-space:pre-wrap\">{}</p>", esc(l))).collect();
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{}</h2>{paras}\
         <p><a href=\"{}\">{} {}</a></p></body></html>",
        esc(headline),
        esc(&page),
        key,
        esc(title)
    );
    TicketMail { recipient: to.to_owned(), subject: format!("[{key}] {headline}"), html, text }
}

fn due(c: &Clock) -> String {
    c.due_at.map_or_else(
        || "never (the calendar has no open hours)".to_owned(),
        |d| d.format("%a %d %b %H:%M UTC").to_string(),
    )
}

/// Judges `tickets` at `now`: records each warning or breach not recorded before, with its
/// e-mails, and when to look at each ticket again. How many notices were recorded.
pub async fn judge(state: &AppState, tickets: Vec<Ticket>, now: DateTime<Utc>) -> Result<usize, ApiError> {
    if tickets.is_empty() {
        return Ok(0);
    }
    let ids: Vec<_> = tickets.iter().map(|t| t.id).collect();
    let book = state.db.policy_book().await?;
    let mut moves = state.db.ticket_moves_of(&ids).await?;
    let seen: HashSet<(Uuid, String, String)> = state.db.sla_events_of(&ids).await?.into_iter().collect();
    let base = state.link_base().await;
    let mut emails: HashMap<Uuid, Option<String>> = HashMap::new();
    let mut judged = Vec::with_capacity(tickets.len());
    for t in tickets {
        let p = book.for_ticket(&t).policy;
        let (fr, res) = clocks(&t, &moves.remove(&t.id).unwrap_or_default(), p, now);
        let assignee = match t.assignee_id {
            Some(id) => match emails.get(&id) {
                Some(e) => e.clone(),
                None => {
                    let e = state.db.get_user(id).await.ok().filter(|u| !u.disabled).and_then(|u| u.email);
                    emails.insert(id, e.clone());
                    e
                }
            },
            None => None,
        };
        let mut notices = Vec::new();
        let mut next: Option<DateTime<Utc>> = None;
        for (name, label, c) in [("first_response", "First response", &fr), ("resolution", "Resolution", &res)] {
            let crossed = c.crossed(now);
            next = [next, crossed.next].into_iter().flatten().min();
            let fresh = |kind: &str| !seen.contains(&(t.id, name.to_owned(), kind.to_owned()));
            if crossed.breached && fresh("breach") {
                let to: Vec<&String> = assignee.iter().chain(p.escalation_email.iter()).collect();
                let headline = format!("{label} SLA breached: {}", t.title);
                let lines = [format!("P{} · {label} was due {}. {}", t.priority, due(c), state_line(&t))];
                let mails = to.iter().map(|r| mail(&base, &t, r, &headline, &lines)).collect();
                notices.push(SlaNotice { clock: name, kind: "breach", mails });
            }
            if crossed.warned && fresh("warning") {
                // A breach found first says it all: the warning is recorded without a mail.
                let mails = if crossed.breached {
                    Vec::new()
                } else {
                    let headline = format!("{label} SLA at 75 %: {}", t.title);
                    let lines = [format!("P{} · {label} is due {}. {}", t.priority, due(c), state_line(&t))];
                    assignee.iter().map(|r| mail(&base, &t, r, &headline, &lines)).collect()
                };
                notices.push(SlaNotice { clock: name, kind: "warning", mails });
            }
        }
        judged.push(Judged { ticket: t, notices, next });
    }
    Ok(state.db.record_sla_judgements(now, &judged).await?)
}

fn state_line(t: &Ticket) -> String {
    let who = if t.assignee_id.is_some() { "assigned" } else { "unassigned" };
    format!("The ticket is {} and {who}.", t.state.as_str().replace('_', " "))
}
