//! Service desk pages: the agent queue with SLA timers, a ticket with its conversation and
//! moves, and the form to raise one. Requesters (viewers) raise tickets and follow their own.

use super::{Chrome, PageAuth, done, error_page, form_error, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::tickets::{self as op, TicketView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use chrono::{DateTime, Utc};
use opsdeck_core::desk::sla::{Clock, Stage};
use opsdeck_core::desk::ticket::{TicketAction, TicketInput, TicketSpec, TicketState};
use opsdeck_core::role::Permission;
use opsdeck_store::desk::kb::Article;
use opsdeck_store::desk::{Reply, TicketFilter};
use serde::Deserialize;

/// A clock in words for a row or a card: "due in 2 h 10 min", "breached 35 min ago", "paused".
pub fn timer(c: &Clock, now: &DateTime<Utc>) -> (String, &'static str) {
    let span = |m: i64| {
        let m = m.abs();
        if m >= 60 * 24 {
            format!("{} d {} h", m / 1440, m % 1440 / 60)
        } else if m >= 60 {
            format!("{} h {} min", m / 60, m % 60)
        } else {
            format!("{m} min")
        }
    };
    match (c.stage, c.due_at) {
        (Stage::Stopped, _) if c.breached => ("met late".into(), "bad"),
        (Stage::Stopped, _) => ("met".into(), "good"),
        (Stage::Paused, _) if c.breached => ("breached, paused".into(), "bad"),
        (Stage::Paused, _) => ("paused".into(), "muted"),
        (Stage::Running, Some(d)) if c.breached => (format!("breached {} ago", span((*now - d).num_minutes())), "bad"),
        (Stage::Running, Some(d)) => {
            let warn = c.warn_at.is_some_and(|w| w <= *now);
            (format!("due in {}", span((d - *now).num_minutes())), if warn { "warn" } else { "good" })
        }
        (Stage::Running, None) => ("no business hours".into(), "muted"),
    }
}

/// A file size for people ("12 KB").
pub fn size(bytes: &i64) -> String {
    opsdeck_core::desk::mail::human(usize::try_from(*bytes).unwrap_or(0))
}

/// A 1–5 rating as five stars: "★★★★☆".
pub fn stars(rating: &u8) -> String {
    (1..=5u8).map(|i| if i <= *rating { '★' } else { '☆' }).collect()
}

/// An epoch-ms time as the conversation shows it.
pub fn at(ms: &i64) -> String {
    opsdeck_core::clock::from_millis(*ms).format("%a %d %b %H:%M UTC").to_string()
}

#[derive(Template, WebTemplate)]
#[template(path = "tickets/list.html")]
pub struct QueuePage {
    chrome: Chrome,
    rows: Vec<TicketView>,
    view: String,
    next: Option<String>,
    now: DateTime<Utc>,
    /// An agent sees the queue; a requester, the tickets they raised.
    agent: bool,
    /// The team whose queue is shown ("" for every team).
    team: String,
    names: super::ticket_routes::Names,
    /// The agents' names by id, for the rows.
    agents: Vec<(uuid::Uuid, String)>,
}

impl QueuePage {
    fn agent_name(&self, id: &uuid::Uuid) -> String {
        self.agents.iter().find(|a| a.0 == *id).map_or_else(|| "someone".into(), |a| a.1.clone())
    }

    /// The link to another view of the same team's queue.
    fn link(&self, view: &str) -> String {
        if self.team.is_empty() {
            format!("/tickets?view={view}")
        } else {
            format!("/tickets?view={view}&team={}", self.team)
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct QueueQuery {
    view: String,
    cursor: String,
    notice: Option<String>,
    /// A team id: only that team's tickets.
    team: String,
}

/// The queue's views: open, mine (open and assigned to me), unassigned (open), resolved, all.
const VIEWS: [&str; 5] = ["open", "mine", "unassigned", "resolved", "all"];

pub async fn queue(State(state): State<AppState>, auth: PageAuth, Query(q): Query<QueueQuery>) -> Response {
    let chrome = match auth.chrome(&state, "tickets", q.notice.clone()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let view = VIEWS.iter().find(|v| **v == q.view).copied().unwrap_or("open").to_owned();
    let states = match view.as_str() {
        "resolved" => vec![TicketState::Resolved, TicketState::Closed],
        "all" => vec![],
        _ => vec![TicketState::New, TicketState::InProgress, TicketState::Pending],
    };
    let team_id: Option<uuid::Uuid> = q.team.trim().parse().ok();
    let f = TicketFilter {
        states,
        assignee_id: (view == "mine").then_some(auth.0.user.id),
        unassigned: view == "unassigned",
        team_id,
        cursor: opsdeck_store::Cursor::decode(&q.cursor),
        limit: Some(50),
        ..TicketFilter::default()
    };
    let agent = auth.0.allows(Permission::Respond);
    let result = async {
        let page = op::queue(&state, &auth.0, &f).await?;
        let names = super::ticket_routes::Names::load(&state).await?;
        let agents = if agent { agent_names(&state).await? } else { Vec::new() };
        Ok::<_, ApiError>((page, names, agents))
    }
    .await;
    match result {
        Ok((page, names, agents)) => {
            let team = team_id.map(|t| t.to_string()).unwrap_or_default();
            let (rows, next, now) = (page.items, page.next_cursor, state.now());
            QueuePage { chrome, rows, view, next, now, agent, team, names, agents }.into_response()
        }
        Err(e) => error_page(&e),
    }
}

/// The active agents (responders and up) by name.
async fn agent_names(state: &AppState) -> Result<Vec<(uuid::Uuid, String)>, ApiError> {
    let page = state.db.list_users(None, None, Some(500)).await?;
    Ok(page
        .items
        .into_iter()
        .filter(|u| !u.disabled && u.role.allows(Permission::Respond))
        .map(|u| (u.id, u.shown_name()))
        .collect())
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct TicketForm {
    title: String,
    description: String,
    #[serde(rename = "type")]
    kind: String,
    impact: String,
    urgency: String,
    category: String,
    service: String,
    team: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "tickets/new.html")]
pub struct NewPage {
    chrome: Chrome,
    form: TicketForm,
    error: Option<String>,
    names: super::ticket_routes::Names,
    /// Agents choose the team too.
    agent: bool,
    /// Articles that may answer it already, from its title.
    suggestions: Vec<Article>,
}

async fn new_page(state: &AppState, auth: &PageAuth, form: TicketForm, error: Option<String>) -> Response {
    let chrome = match auth.chrome(state, "tickets", None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let title: String = form.title.chars().take(200).collect();
    let suggestions = if title.trim().is_empty() {
        Vec::new()
    } else {
        match crate::operations::kb::suggest(state, &auth.0, &title, 5).await {
            Ok(s) => s,
            Err(e) => return error_page(&e),
        }
    };
    let names = match super::ticket_routes::Names::load(state).await {
        Ok(n) => n,
        Err(e) => return error_page(&e),
    };
    let agent = auth.0.allows(Permission::Respond);
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, NewPage { chrome, form, error, suggestions, names, agent }).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    /// The title typed so far: the page suggests articles for it (the form asks as you type).
    title: String,
    /// The type to preselect (the portal links "Ask a question" here).
    #[serde(rename = "type")]
    kind: String,
}

pub async fn new(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NewQuery>) -> Response {
    let kind = opsdeck_core::desk::ticket::TicketType::parse(&q.kind)
        .unwrap_or(opsdeck_core::desk::ticket::TicketType::IncidentReport);
    let form = TicketForm {
        title: q.title,
        kind: kind.as_str().into(),
        impact: "3".into(),
        urgency: "3".into(),
        ..TicketForm::default()
    };
    new_page(&state, &auth, form, None).await
}

/// An optional id from a form's select.
pub(super) fn id_of(field: &'static str, v: &str, what: &str) -> Result<Option<uuid::Uuid>, ApiError> {
    match v.trim() {
        "" => Ok(None),
        v => v.parse().map(Some).map_err(|_| ApiError::invalid(field, format!("choose {what}"))),
    }
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<TicketForm>) -> Response {
    let level =
        |field: &'static str, v: &str| v.trim().parse::<i64>().map_err(|_| ApiError::invalid(field, "choose 1 to 4"));
    let result = async {
        let input = TicketInput {
            title: f.title.clone(),
            description: Some(f.description.clone()),
            kind: Some(f.kind.clone()),
            impact: Some(level("impact", &f.impact)?),
            urgency: Some(level("urgency", &f.urgency)?),
            requester_email: auth.0.user.email.clone(),
            category: Some(f.category.clone()),
            service_id: id_of("service_id", &f.service, "a service")?,
            team_id: id_of("team_id", &f.team, "a team")?,
        };
        op::create(&state, &auth.0, &TicketSpec::new(&input)?).await
    }
    .await;
    match result {
        Ok(v) => done(&format!("/tickets/{}", v.ticket.number), &format!("{} raised", v.ticket.key())),
        Err(e) => match form_error(e) {
            Ok(msg) => new_page(&state, &auth, f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "tickets/ticket.html")]
pub struct TicketPage {
    chrome: Chrome,
    v: TicketView,
    replies: Vec<Reply>,
    agent: bool,
    moves: Vec<(&'static str, &'static str)>,
    now: DateTime<Utc>,
    /// Agents who may be assigned (id, name), for an agent's view.
    agents: Vec<(uuid::Uuid, String)>,
    assignee: Option<String>,
    /// The viewer may approve or reject it (its approver, or an admin).
    can_decide: bool,
    approver: Option<String>,
    /// The viewer raised it (and may rate it once resolved).
    requester: bool,
    attachments: Vec<opsdeck_store::desk::mail_in::AttachmentMeta>,
    names: super::ticket_routes::Names,
    links: super::ticket_links::Links,
}

fn label(a: TicketAction) -> &'static str {
    match a {
        TicketAction::Start => "Start work",
        TicketAction::Pend => "Set pending",
        TicketAction::Resolve => "Resolve",
        TicketAction::Close => "Close",
        TicketAction::Reopen => "Reopen",
    }
}

pub async fn detail(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<QueueQuery>,
) -> Response {
    let chrome = match auth.chrome(&state, "tickets", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let t = op::find(&state, &auth.0, &id).await?;
        let replies = op::replies(&state, &auth.0, &t).await?;
        let files = crate::operations::ticket_files::attachments(&state, &auth.0, &id).await?;
        let names = super::ticket_routes::Names::load(&state).await?;
        let links = super::ticket_links::Links::load(&state, &auth.0, &t).await?;
        Ok::<_, ApiError>((op::view_of(&state, &auth.0, t).await?, replies, files, (names, links)))
    }
    .await;
    let (v, replies, attachments, (names, links)) = match result {
        Ok(x) => x,
        Err(e) => return error_page(&e),
    };
    let agent = auth.0.allows(Permission::Respond);
    let mut agents = Vec::new();
    if agent {
        match agent_names(&state).await {
            Ok(a) => agents = a,
            Err(e) => return error_page(&e),
        }
    }
    let assignee = match v.ticket.assignee_id {
        Some(id) => {
            agents.iter().find(|a| a.0 == id).map(|a| a.1.clone()).or(Some("someone no longer an agent".into()))
        }
        None => None,
    };
    let moves = TicketAction::ALL
        .iter()
        .filter(|a| **a != TicketAction::Pend && opsdeck_core::desk::ticket::next(v.ticket.state, **a).is_ok())
        .map(|a| (a.as_str(), label(*a)))
        .collect();
    let me = auth.0.user.id;
    let can_decide = v.ticket.approver_id == Some(me) || auth.0.allows(Permission::Administer);
    let approver = match v.ticket.approver_id {
        Some(id) => state.db.get_user(id).await.ok().map(|u| u.shown_name()),
        None => None,
    };
    let requester = v.ticket.requester_id == Some(me);
    let now = state.now();
    let page = TicketPage {
        chrome,
        v,
        replies,
        agent,
        moves,
        now,
        agents,
        assignee,
        can_decide,
        approver,
        requester,
        attachments,
        names,
        links,
    };
    page.into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReplyForm {
    body: String,
    internal: Option<String>,
}

pub async fn reply(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Response {
    let back = format!("/tickets/{id}");
    let result = op::reply(&state, &auth.0, &id, &f.body, f.internal.is_some())
        .await
        .map(|r| if r.internal { "Note added".to_owned() } else { "Reply sent".to_owned() });
    outcome(&back, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActForm {
    reason: String,
    version: Option<i64>,
}

pub async fn act(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ActForm>,
) -> Response {
    let back = format!("/tickets/{id}");
    let result = async {
        let action = TicketAction::parse(&action).ok_or_else(|| ApiError::invalid("action", "unknown move"))?;
        let v = op::act(&state, &auth.0, &id, action, Some(&f.reason), f.version).await?;
        Ok(format!("{} is {}", v.ticket.key(), v.ticket.state.as_str().replace('_', " ")))
    }
    .await;
    outcome(&back, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AssignForm {
    /// A user id, `me`, or empty to unassign.
    assignee: String,
    /// A team id; empty keeps the team.
    team: String,
    version: Option<i64>,
}

pub async fn assign(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<AssignForm>,
) -> Response {
    let back = format!("/tickets/{id}");
    let result = async {
        let who = match f.assignee.trim() {
            "" => None,
            "me" => Some(auth.0.user.id),
            other => Some(other.parse().map_err(|_| ApiError::invalid("assignee", "choose an agent"))?),
        };
        let team = match f.team.trim() {
            "" => None,
            t => Some(t.parse().map_err(|_| ApiError::invalid("team_id", "choose a team"))?),
        };
        let v = op::assign(&state, &auth.0, &id, Some(who), team, f.version).await?;
        Ok(if v.ticket.assignee_id.is_some() {
            format!("{} assigned", v.ticket.key())
        } else {
            format!("{} unassigned", v.ticket.key())
        })
    }
    .await;
    outcome(&back, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DecideForm {
    comment: String,
    version: Option<i64>,
}

/// Approve or reject a request (`decision` is `approve` or `reject`).
pub async fn decide(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, decision)): Path<(String, String)>,
    Form(f): Form<DecideForm>,
) -> Response {
    let back = format!("/tickets/{id}");
    let approve = decision == "approve";
    let result = crate::operations::requests::decide(&state, &auth.0, &id, approve, Some(&f.comment), f.version)
        .await
        .map(|v| format!("{} {}", v.ticket.key(), if approve { "approved" } else { "rejected" }));
    outcome(&back, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TaskForm {
    done: String,
    version: Option<i64>,
}

pub async fn task(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, index)): Path<(String, usize)>,
    Form(f): Form<TaskForm>,
) -> Response {
    let back = format!("/tickets/{id}#tasks");
    let done = f.done == "yes";
    let result = crate::operations::requests::set_task(&state, &auth.0, &id, index, done, f.version)
        .await
        .map(|_| if done { "Task done".to_owned() } else { "Task reopened".to_owned() });
    outcome(&back, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RatingForm {
    rating: String,
    comment: String,
}

pub async fn rate(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<RatingForm>,
) -> Response {
    let back = format!("/tickets/{id}#rating");
    let result = async {
        let score = f.rating.trim().parse::<i64>().map_err(|_| ApiError::invalid("rating", "choose 1 to 5 stars"))?;
        crate::operations::requests::rate(&state, &auth.0, &id, score, Some(&f.comment)).await?;
        Ok("Thank you for rating it".to_owned())
    }
    .await;
    outcome(&back, result)
}

#[derive(Template, WebTemplate)]
#[template(path = "tickets/mail.html")]
pub struct MailPage {
    chrome: Chrome,
    rows: Vec<opsdeck_store::desk::mail_in::MailIn>,
    numbers: std::collections::HashMap<uuid::Uuid, (i64, String)>,
}

/// The mail the desk read, newest first, with what became of each (agents).
pub async fn mail(State(state): State<AppState>, auth: PageAuth) -> Response {
    let chrome = match auth.chrome(&state, "tickets", None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let rows = crate::operations::ticket_files::mail_log(&state, &auth.0, 200).await?;
        let mut numbers = std::collections::HashMap::new();
        for id in rows.iter().filter_map(|r| r.ticket_id) {
            if let std::collections::hash_map::Entry::Vacant(e) = numbers.entry(id)
                && let Ok(t) = state.db.get_ticket(id).await
            {
                e.insert((t.number, t.key()));
            }
        }
        Ok::<_, ApiError>((rows, numbers))
    }
    .await;
    match result {
        Ok((rows, numbers)) => MailPage { chrome, rows, numbers }.into_response(),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PriorityForm {
    priority: String,
    reason: String,
    version: Option<i64>,
}

pub async fn priority(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<PriorityForm>,
) -> Response {
    let result = async {
        let p = f.priority.trim().parse().map_err(|_| ApiError::invalid("priority", "choose P1 to P4"))?;
        let v = op::set_priority(&state, &auth.0, &id, p, &f.reason, f.version).await?;
        Ok(format!("{} is P{}", v.ticket.key(), v.ticket.priority))
    }
    .await;
    outcome(&format!("/tickets/{id}"), result)
}
