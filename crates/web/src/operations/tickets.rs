//! Service desk tickets: raise, reply, move, and read them with their SLA clocks. The clocks are
//! replayed from the ticket's history against its priority's policy on every read (see
//! `opsdeck_core::desk::sla`), so a policy or calendar changed mid-ticket applies at once.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::desk::sla::{self, Clock, Event};
use opsdeck_core::desk::ticket::{self, PriorityMatrix, TicketAction, TicketSpec, TicketState};
use opsdeck_core::role::Permission;
use opsdeck_store::Page;
use opsdeck_store::desk::agreements::PolicyBook;
use opsdeck_store::desk::requests::NewRequest;
use opsdeck_store::desk::{Reply, SlaPolicy, Ticket, TicketFilter};
use uuid::Uuid;

pub const TICKET_CHANGED: &str = "ticket.changed";
/// A reply's body, at most.
pub const BODY_MAX: usize = 50_000;
/// A pending reason, at most.
pub const REASON_MAX: usize = 500;

/// A ticket with its SLA clocks at `now`.
#[derive(Debug, Clone)]
pub struct TicketView {
    pub ticket: Ticket,
    pub first_response: Clock,
    pub resolution: Clock,
    /// The SLA agreement its clocks count under: (id, name); none for the desk's policy of its
    /// priority.
    pub agreement: Option<(Uuid, String)>,
}

/// The clocks of `t` under `policy` at `now`: the first response runs from the raise to the
/// first public reply; resolution runs from the raise, pauses while pending, stops when resolved
/// and runs again when reopened.
pub fn clocks(t: &Ticket, moves: &[ticket::Moved], policy: &SlaPolicy, now: DateTime<Utc>) -> (Clock, Clock) {
    let mut first = vec![Event::Run(t.created_at)];
    // A ticket resolved without a public reply needs no first response any more.
    let done = moves.iter().find(|m| matches!(m.to, TicketState::Resolved | TicketState::Closed)).map(|m| m.at);
    if let Some(at) = [t.first_response_at, done].into_iter().flatten().min() {
        first.push(Event::Stop(at));
    }
    let fr = sla::clock(&first, &policy.hours, Duration::minutes(i64::from(policy.first_response_minutes)), now);
    let events = ticket::clock_events(t.created_at, moves);
    let res = sla::clock(&events, &policy.hours, Duration::minutes(i64::from(policy.resolution_minutes)), now);
    (fr, res)
}

/// `t` with its clocks at `now` under what `book` gives it.
fn view(book: &PolicyBook, t: Ticket, moves: &[ticket::Moved], now: DateTime<Utc>) -> TicketView {
    let applied = book.for_ticket(&t);
    let (first_response, resolution) = clocks(&t, moves, applied.policy, now);
    let agreement = applied.agreement.map(|a| (a.id, a.spec.name.clone()));
    TicketView { ticket: t, first_response, resolution, agreement }
}

/// `t` with its clocks now, as `auth` may read it: which agreement covers a ticket is the
/// agents' (a name like "VIP: board" says how the desk classes its requester).
pub async fn view_of(state: &AppState, auth: &Auth, t: Ticket) -> Result<TicketView, ApiError> {
    let moves = state.db.ticket_moves(t.id).await?;
    let book = state.db.policy_book().await?;
    Ok(view_for(auth, view(&book, t, &moves, state.now())))
}

fn view_for(auth: &Auth, mut v: TicketView) -> TicketView {
    if !auth.allows(Permission::Respond) {
        v.agreement = None;
    }
    v
}

/// The priority matrix in force (the ITIL default until one is saved).
pub async fn matrix(state: &AppState) -> Result<PriorityMatrix, ApiError> {
    let stored: Option<PriorityMatrix> =
        state.db.get_setting("desk.priority_matrix").await?.and_then(|v| serde_json::from_value(v).ok());
    // A stored table is checked again: a priority outside 1–4 would break the queue's order.
    Ok(stored.and_then(|m| PriorityMatrix::new(m.cells).ok()).unwrap_or_default())
}

/// Raises a ticket (anyone signed in: requesters are viewers); its priority comes from the matrix.
/// Raised for someone else (another requester e-mail), it has no requester account: the agent
/// who raised it is not its requester, so their replies are responses.
pub async fn create(state: &AppState, auth: &Auth, spec: &TicketSpec) -> Result<TicketView, ApiError> {
    create_with(state, auth, spec, None).await
}

/// Raises a ticket, from a request item when `request` is given (see `super::requests`).
pub async fn create_with(
    state: &AppState,
    auth: &Auth,
    spec: &TicketSpec,
    request: Option<&NewRequest>,
) -> Result<TicketView, ApiError> {
    auth.require(Permission::Read)?;
    let priority = matrix(state).await?.priority(spec.impact, spec.urgency);
    let own = match (&spec.requester_email, &auth.user.email) {
        (None, _) => true,
        (Some(e), Some(mine)) => e.eq_ignore_ascii_case(mine),
        (Some(_), None) => false,
    };
    let requester = own.then_some(auth.user.id);
    // Raised for oneself, the ticket is answered at one's own address.
    let mut spec = spec.clone();
    if spec.requester_email.is_none() {
        spec.requester_email = auth.user.email.clone();
    }
    let routed = super::routing::route_new(state, Some(auth), &spec).await?;
    let t = state
        .db
        .create_ticket(&auth.actor(), state.now(), &spec, priority, requester, request, routed.as_ref())
        .await?;
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("{} raised", t.key()));
    view_of(state, auth, t).await
}

/// A ticket by id, `TKT-n`, `REQ-n` or number. Agents (responders) see every ticket; others see
/// the ones they raised.
pub async fn find(state: &AppState, auth: &Auth, reference: &str) -> Result<Ticket, ApiError> {
    auth.require(Permission::Read)?;
    let r = reference.trim();
    let prefix = r.split_once('-').map(|x| x.0.to_ascii_uppercase()).filter(|p| p == "TKT" || p == "REQ");
    let number = if prefix.is_some() { r.split_once('-').map_or(r, |x| x.1) } else { r };
    let t = match number.parse::<i64>() {
        Ok(n) => {
            let t = state.db.ticket_by_number(n).await?;
            // REQ-7 names a service request: it does not open incident report TKT-7.
            if prefix.as_deref().is_some_and(|p| p != t.kind.prefix()) {
                return Err(ApiError::not_found(opsdeck_core::Entity::Ticket));
            }
            t
        }
        Err(_) => match Uuid::parse_str(r) {
            Ok(id) => state.db.get_ticket(id).await?,
            Err(_) => return Err(ApiError::not_found(opsdeck_core::Entity::Ticket)),
        },
    };
    // The approver of a request sees it too, whatever their role.
    let me = Some(auth.user.id);
    if !auth.allows(Permission::Respond) && t.requester_id != me && t.approver_id != me {
        return Err(ApiError::not_found(opsdeck_core::Entity::Ticket));
    }
    Ok(for_reader(auth, t))
}

/// The agent queue (responders and up); a requester's own tickets for anyone else.
pub async fn queue(state: &AppState, auth: &Auth, f: &TicketFilter) -> Result<Page<TicketView>, ApiError> {
    auth.require(Permission::Read)?;
    let mut f = f.clone();
    if !auth.allows(Permission::Respond) {
        f.requester_id = Some(auth.user.id);
    }
    let page = state.db.tickets(&f).await?;
    let mine: Vec<Ticket> = page.items.into_iter().map(|t| for_reader(auth, t)).collect();
    let items = views(state, auth, mine).await?;
    Ok(Page { items, next_cursor: page.next_cursor })
}

/// A ticket as `auth` may read it: why an agent overrode its priority is the agents' (as the
/// internal note that records it).
fn for_reader(auth: &Auth, mut t: Ticket) -> Ticket {
    if !auth.allows(Permission::Respond) {
        t.priority_reason.clear();
    }
    t
}

/// Tickets with their clocks at now: their moves in one query, the policies once.
pub async fn views(state: &AppState, auth: &Auth, tickets: Vec<Ticket>) -> Result<Vec<TicketView>, ApiError> {
    let book = state.db.policy_book().await?;
    let now = state.now();
    let ids: Vec<Uuid> = tickets.iter().map(|t| t.id).collect();
    let mut moves_of = state.db.ticket_moves_of(&ids).await?;
    Ok(tickets
        .into_iter()
        .map(|t| {
            let moves = moves_of.remove(&t.id).unwrap_or_default();
            view_for(auth, view(&book, t, &moves, now))
        })
        .collect())
}

/// Moves a ticket (responders and up); `pend` needs a reason.
pub async fn act(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    action: TicketAction,
    reason: Option<&str>,
    version: Option<i64>,
) -> Result<TicketView, ApiError> {
    auth.require(Permission::Respond)?;
    let before = find(state, auth, reference).await?;
    if reason.unwrap_or("").chars().count() > REASON_MAX {
        return Err(ApiError::invalid("reason", format!("must be at most {REASON_MAX} characters")));
    }
    let reason = reason.unwrap_or("").trim();
    if action == TicketAction::Pend && reason.is_empty() {
        return Err(ApiError::invalid("reason", "say what the ticket waits for (the requester, a vendor…)"));
    }
    super::check_version(&before.key(), before.version, version)?;
    super::requests::may_move(&before, action)?;
    let to = ticket::next(before.state, action).map_err(|r| ApiError::conflict(r.0))?;
    // A parent resolved resolves its open children with it (those that may be resolved now).
    let children: Vec<_> = if to == TicketState::Resolved {
        let open = state.db.open_children(before.id).await?;
        open.into_iter().filter(|c| super::requests::may_move(c, TicketAction::Resolve).is_ok()).collect()
    } else {
        Vec::new()
    };
    let t = state.db.move_ticket_with(&auth.actor(), state.now(), &before, to, reason, &children).await?;
    for c in &children {
        state.events.publish(TICKET_CHANGED, Some(c.id), format!("{} {}", c.key(), to.as_str()));
    }
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("{} {}", t.key(), to.as_str()));
    view_of(state, auth, t).await
}

/// Adds a public reply (the requester or an agent) or an internal note (agents only).
pub async fn reply(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    body: &str,
    internal: bool,
) -> Result<Reply, ApiError> {
    let t = find(state, auth, reference).await?;
    // An approver reads the request and decides; only its requester and agents converse on it.
    if internal || t.requester_id != Some(auth.user.id) {
        auth.require(Permission::Respond)?;
    }
    if body.trim().is_empty() || body.chars().count() > BODY_MAX {
        return Err(ApiError::invalid("body", format!("write 1 to {BODY_MAX} characters")));
    }
    if body.contains('\0') {
        return Err(ApiError::invalid("body", "must not contain NUL characters"));
    }
    if t.state == TicketState::Closed {
        return Err(ApiError::conflict(format!("{} is closed; raise a new ticket that refers to it", t.key())));
    }
    // A public answer from anyone but the requester goes to the requester by e-mail too.
    let mine = t.requester_id == Some(auth.user.id)
        || t.requester_email.as_deref().zip(auth.user.email.as_deref()).is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
    let mail = match (&t.requester_email, internal || mine) {
        (Some(to), false) => {
            let base = state.link_base().await;
            let lines = [body.trim().to_owned(), format!("— {}", auth.user.display_name)];
            Some(super::ticket_sla::mail(&base, &t, to, &format!("New reply: {}", t.title), &lines))
        }
        _ => None,
    };
    let r = state.db.add_reply(&auth.actor(), state.now(), &t, body.trim(), internal, mail.as_ref()).await?;
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("{} reply", t.key()));
    Ok(r)
}

/// Assigns a ticket to an agent (an active user who may respond), or unassigns it
/// (`Some(None)`; `None` keeps its assignee), and hands it to `team` when given.
pub async fn assign(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    assignee: Option<Option<Uuid>>,
    team: Option<Uuid>,
    version: Option<i64>,
) -> Result<TicketView, ApiError> {
    auth.require(Permission::Respond)?;
    let before = find(state, auth, reference).await?;
    super::check_version(&before.key(), before.version, version)?;
    let who = match assignee {
        Some(None) => None,
        // Left out: the assignee stays (moving a ticket to another team keeps who works it).
        None => match before.assignee_id {
            Some(id) => {
                Some((id, state.db.get_user(id).await.map(|u| u.username).unwrap_or_else(|_| "someone".into())))
            }
            None => None,
        },
        Some(Some(id)) => {
            let u = state.db.get_user(id).await.ok().filter(|u| !u.disabled && u.role.allows(Permission::Respond));
            let u =
                u.ok_or_else(|| ApiError::invalid("assignee_id", "must name an active agent (a responder or up)"))?;
            Some((u.id, u.username))
        }
    };
    let team = match team.filter(|t| before.team_id != Some(*t)) {
        None => None,
        Some(id) => match state.db.get_team(opsdeck_store::catalogue::Ref::Id(id)).await {
            Ok(t) => Some((t.id, t.name)),
            Err(_) => return Err(ApiError::invalid("team_id", "names no team")),
        },
    };
    let who = who.as_ref().map(|(id, n)| (*id, n.as_str()));
    let team = team.as_ref().map(|(id, n)| (*id, n.as_str()));
    let t = state.db.assign_ticket(&auth.actor(), state.now(), &before, who, team).await?;
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("{} assigned", t.key()));
    view_of(state, auth, t).await
}

pub async fn replies(state: &AppState, auth: &Auth, t: &Ticket) -> Result<Vec<Reply>, ApiError> {
    let all = state.db.ticket_replies(t.id).await?;
    // Requesters do not see internal notes.
    Ok(if auth.allows(Permission::Respond) { all } else { all.into_iter().filter(|r| !r.internal).collect() })
}

pub async fn policies(state: &AppState, auth: &Auth) -> Result<Vec<SlaPolicy>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.sla_policies().await?)
}

/// Saves a priority's SLA policy (managers and up): open tickets' clocks follow at once.
pub async fn save_policy(state: &AppState, auth: &Auth, p: &SlaPolicy) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    if !(1..=4).contains(&p.priority) {
        return Err(ApiError::invalid("priority", "must be 1 to 4"));
    }
    let most = 366 * 24 * 60;
    for (field, v) in
        [("first_response_minutes", p.first_response_minutes), ("resolution_minutes", p.resolution_minutes)]
    {
        if v == 0 || v > most {
            return Err(ApiError::invalid(field, format!("must be 1 to {most} minutes")));
        }
    }
    Ok(state.db.save_sla_policy(&auth.actor(), state.now(), p).await?)
}

/// The desk's KPIs over `[from, to)`: the tickets resolved in it replayed under their
/// priorities' policies, those raised in it, and (for the current period) the backlog now.
pub async fn desk_kpis(
    state: &AppState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    current: bool,
) -> Result<opsdeck_core::desk::kpi::DeskKpis, ApiError> {
    use opsdeck_core::desk::kpi::{Resolved, summarize};
    let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
    let tickets = state.db.tickets_resolved_between(from_ms, to_ms).await?;
    let book = state.db.policy_book().await?;
    let now = state.now();
    let mut rows = Vec::with_capacity(tickets.len());
    for chunk in tickets.chunks(500) {
        let ids: Vec<Uuid> = chunk.iter().map(|t| t.id).collect();
        let mut moves_of = state.db.ticket_moves_of(&ids).await?;
        for t in chunk {
            let moves = moves_of.remove(&t.id).unwrap_or_default();
            let (fr, res) = clocks(t, &moves, book.for_ticket(t).policy, now);
            let reopened =
                moves.windows(2).any(|w| w[0].to == TicketState::Resolved && w[1].to == TicketState::InProgress);
            rows.push(Resolved {
                first_response_minutes: t.first_response_at.map(|_| fr.elapsed.num_minutes()),
                first_response_breached: fr.breached,
                resolution_minutes: res.elapsed.num_minutes(),
                resolution_breached: res.breached,
                reopened,
            });
        }
    }
    let raised = u64::try_from(state.db.tickets_raised_between(from_ms, to_ms).await?).unwrap_or(0);
    let backlog = if current { Some(u64::try_from(state.db.open_ticket_count().await?).unwrap_or(0)) } else { None };
    let (count, sum) = state.db.ratings_between(from_ms, to_ms).await?;
    let ratings = opsdeck_core::desk::kpi::Ratings {
        count: u64::try_from(count).unwrap_or(0),
        sum: u64::try_from(sum).unwrap_or(0),
    };
    let answers = u64::try_from(state.db.self_service_answers_between(from_ms, to_ms).await?).unwrap_or(0);
    Ok(summarize(&rows, raised, backlog, ratings, answers))
}

/// Overrides a ticket's priority (agents), saying why: its SLA targets follow at once (the
/// clocks replay under the new priority's policy) and the reason is kept, noted and audited.
pub async fn set_priority(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    priority: i64,
    reason: &str,
    version: Option<i64>,
) -> Result<TicketView, ApiError> {
    auth.require(Permission::Respond)?;
    let before = find(state, auth, reference).await?;
    super::check_version(&before.key(), before.version, version)?;
    let priority = match u8::try_from(priority) {
        Ok(p @ 1..=4) => p,
        _ => return Err(ApiError::invalid("priority", "must be 1 (highest) to 4")),
    };
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX || reason.chars().any(char::is_control) {
        return Err(ApiError::invalid("reason", format!("say why, on one line of at most {REASON_MAX} characters")));
    }
    if priority == before.priority {
        return Err(ApiError::invalid("priority", format!("{} is P{priority} already", before.key())));
    }
    if before.state == TicketState::Closed {
        return Err(ApiError::conflict(format!("{} is closed", before.key())));
    }
    let t = state.db.override_priority(&auth.actor(), state.now(), &before, priority, reason).await?;
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("{} priority", t.key()));
    view_of(state, auth, t).await
}
