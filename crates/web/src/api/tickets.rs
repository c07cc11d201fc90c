//! Service desk tickets and SLA policies.

use super::incidents::OptionalJson;
use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::operations::cursor;
use crate::operations::tickets::{self as op, TicketView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::desk::sla::Clock;
use opsdeck_core::desk::ticket::{TicketAction, TicketInput, TicketSpec, TicketState};
use opsdeck_store::desk::{Reply, SlaPolicy, TicketFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets, create_ticket))
        .routes(routes!(get_ticket))
        .routes(routes!(list_replies, add_reply))
        .routes(routes!(act_on_ticket))
        .routes(routes!(assign_ticket))
        .routes(routes!(list_policies))
        .routes(routes!(put_policy))
}

#[derive(Serialize, ToSchema)]
pub struct SlaClockDto {
    /// running, paused or stopped.
    pub stage: String,
    pub target_minutes: i64,
    /// Business minutes counted so far.
    pub elapsed_minutes: i64,
    /// When the target runs out (projected while running or paused); when it ran out if it did;
    /// null when met before, or the calendar never opens.
    pub due_at: Option<String>,
    /// When 75 % of the target is reached.
    pub warn_at: Option<String>,
    pub breached: bool,
}

fn clock_dto(c: &Clock) -> SlaClockDto {
    SlaClockDto {
        stage: serde_json::to_value(c.stage).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        target_minutes: c.target.num_minutes(),
        elapsed_minutes: c.elapsed.num_minutes(),
        due_at: c.due_at.map(ts),
        warn_at: c.warn_at.map(ts),
        breached: c.breached,
    }
}

#[derive(Serialize, ToSchema)]
pub struct TicketSlaDto {
    pub first_response_due_at: Option<String>,
    pub resolution_due_at: Option<String>,
    pub first_response: SlaClockDto,
    pub resolution: SlaClockDto,
    /// The SLA agreement the clocks count under (null: the desk's policy of its priority).
    pub agreement_id: Option<Uuid>,
    pub agreement_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketDto {
    pub id: Uuid,
    /// TKT-12, or REQ-12 for a service request.
    pub number: String,
    /// incident_report, service_request or question.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub description: String,
    /// new, in_progress, pending, resolved or closed.
    pub state: String,
    pub impact: u8,
    pub urgency: u8,
    /// 1 (highest) to 4, from impact × urgency through the priority matrix, unless overridden.
    pub priority: u8,
    /// Why an agent overrode the priority (null: the matrix gave it); agents only.
    pub priority_reason: Option<String>,
    pub requester_email: Option<String>,
    pub requester_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    /// What a pending ticket waits for.
    pub pending_reason: String,
    pub first_response_at: Option<String>,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    pub sla: TicketSlaDto,
    /// The request item a service request was raised from, with the answers to its form.
    pub request_item_id: Option<Uuid>,
    pub answers: Vec<AnswerDto>,
    /// none, pending (awaiting the approver; the resolution clock is paused), approved or rejected.
    pub approval: String,
    pub approver_id: Option<Uuid>,
    /// Fulfilment tasks; the request is resolved once every one is done.
    pub tasks: Vec<TaskDto>,
    /// The requester's rating once resolved.
    pub satisfaction: Option<SatisfactionDto>,
    /// The team (group) that works it: named when raised, or chosen by the routing rules.
    pub team_id: Option<Uuid>,
    /// The service it concerns.
    pub service_id: Option<Uuid>,
    /// What it is about (Hardware, Access…); request items give theirs.
    pub category: Option<String>,
    /// Its parent ticket; a parent resolved resolves its open children.
    pub parent_id: Option<Uuid>,
    /// The incident it was promoted to or attached to.
    pub incident_id: Option<Uuid>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AnswerDto {
    pub key: String,
    pub label: String,
    pub value: String,
}

#[derive(Serialize, ToSchema)]
pub struct TaskDto {
    pub title: String,
    pub done: bool,
    pub done_at: Option<String>,
    pub done_by: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SatisfactionDto {
    /// 1 (poor) to 5 (excellent).
    pub rating: u8,
    pub comment: String,
    pub rated_at: Option<String>,
}

pub(super) fn dto(v: TicketView) -> TicketDto {
    let t = v.ticket;
    TicketDto {
        id: t.id,
        number: t.key(),
        kind: t.kind.as_str().into(),
        title: t.title,
        description: t.description,
        state: t.state.as_str().into(),
        impact: t.impact,
        urgency: t.urgency,
        priority: t.priority,
        priority_reason: Some(t.priority_reason).filter(|r| !r.is_empty()),
        requester_email: t.requester_email,
        requester_id: t.requester_id,
        assignee_id: t.assignee_id,
        pending_reason: t.pending_reason,
        first_response_at: t.first_response_at.map(ts),
        resolved_at: t.resolved_at.map(ts),
        closed_at: t.closed_at.map(ts),
        sla: TicketSlaDto {
            first_response_due_at: v.first_response.due_at.map(ts),
            resolution_due_at: v.resolution.due_at.map(ts),
            first_response: clock_dto(&v.first_response),
            resolution: clock_dto(&v.resolution),
            agreement_id: v.agreement.as_ref().map(|a| a.0),
            agreement_name: v.agreement.map(|a| a.1),
        },
        request_item_id: t.request_item_id,
        answers: t.answers.into_iter().map(|a| AnswerDto { key: a.key, label: a.label, value: a.value }).collect(),
        approval: t.approval.as_str().into(),
        approver_id: t.approver_id,
        tasks: t
            .tasks
            .into_iter()
            .map(|x| TaskDto {
                title: x.title,
                done: x.done_at.is_some(),
                done_at: x.done_at.map(|m| ts(opsdeck_core::clock::from_millis(m))),
                done_by: x.done_by,
            })
            .collect(),
        satisfaction: t.rating.map(|rating| SatisfactionDto {
            rating,
            comment: t.rating_comment,
            rated_at: t.rated_at.map(ts),
        }),
        team_id: t.team_id,
        service_id: t.service_id,
        category: Some(t.category).filter(|c| !c.is_empty()),
        parent_id: t.parent_id,
        incident_id: t.incident_id,
        version: t.version,
        created_at: ts(t.created_at),
        updated_at: ts(t.updated_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub title: String,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    /// incident_report (default), service_request or question.
    #[serde(rename = "type")]
    #[schema(schema_with = crate::api::ticket_schema::ticket_type_opt)]
    pub kind: Option<String>,
    /// 1 (widespread) to 4 (one person); default 3.
    #[schema(minimum = 1, maximum = 4)]
    pub impact: Option<i64>,
    /// 1 (critical) to 4 (low); default 3.
    #[schema(minimum = 1, maximum = 4)]
    pub urgency: Option<i64>,
    #[schema(schema_with = crate::api::schema::email_opt)]
    pub requester_email: Option<String>,
    /// What it is about (Hardware, Access…), which routing rules may match.
    #[schema(schema_with = crate::api::schema::name_or_blank_opt)]
    pub category: Option<String>,
    /// The service it concerns (422 when no such service).
    pub service_id: Option<Uuid>,
    /// The team that works it (agents only; 422 otherwise). Left out, the routing rules choose.
    pub team_id: Option<Uuid>,
}

/// Raises a ticket (anyone signed in). Its priority comes from impact × urgency through the
/// priority matrix, and its SLA clocks start at once. Without a `team_id`, the first routing
/// rule that takes it names its team and may assign one of the team's agents.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = TicketBody,
    responses((status = 201, body = TicketDto)))]
async fn create_ticket(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<TicketBody>,
) -> Result<(StatusCode, Json<TicketDto>), ApiError> {
    let input = TicketInput {
        title: b.title,
        description: b.description,
        kind: b.kind,
        impact: b.impact,
        urgency: b.urgency,
        requester_email: b.requester_email,
        category: b.category,
        service_id: b.service_id,
        team_id: b.team_id,
    };
    let v = op::create(&state, &auth, &TicketSpec::new(&input)?).await?;
    Ok((StatusCode::CREATED, Json(dto(v))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    /// Only tickets in these states, comma-separated (e.g. `new,in_progress`).
    #[param(pattern = "^((new|in_progress|pending|resolved|closed)(,(new|in_progress|pending|resolved|closed))*)?$")]
    pub state: Option<String>,
    /// Only tickets assigned to this person.
    pub assignee_id: Option<Uuid>,
    /// Only this team's tickets.
    pub team_id: Option<Uuid>,
    /// true: only tickets nobody is assigned to.
    pub unassigned: Option<bool>,
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
}

/// The agent queue, most urgent first (priority, then oldest), with SLA clocks; for a requester
/// (viewer), the tickets they raised.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(TicketQuery),
    responses((status = 200, body = List<TicketDto>)))]
async fn list_tickets(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<TicketQuery>,
) -> Result<Json<List<TicketDto>>, ApiError> {
    let states = q
        .state
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            TicketState::parse(s)
                .ok_or_else(|| ApiError::invalid("state", format!("must be {}", TicketState::choices())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let f = TicketFilter {
        states,
        assignee_id: q.assignee_id,
        requester_id: None,
        team_id: q.team_id,
        unassigned: q.unassigned.unwrap_or(false),
        cursor: cursor(q.cursor.as_deref())?,
        limit: super::limit(q.limit)?,
    };
    Ok(Json(List::from_page(op::queue(&state, &auth, &f).await?, dto)))
}

/// A ticket with its SLA clocks. Requesters see their own tickets only (404 otherwise).
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number (TKT-12, REQ-12)")),
    responses((status = 200, body = TicketDto)))]
async fn get_ticket(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<TicketDto>, ApiError> {
    let t = op::find(&state, &auth, &id).await?;
    Ok(Json(dto(op::view_of(&state, &auth, t).await?)))
}

#[derive(Serialize, ToSchema)]
pub struct ReplyDto {
    pub id: Uuid,
    pub author_id: Option<Uuid>,
    pub author: String,
    pub body: String,
    /// An internal note, seen by agents only.
    pub internal: bool,
    pub created_at: String,
}

fn reply_dto(r: Reply) -> ReplyDto {
    ReplyDto {
        id: r.id,
        author_id: r.author_id,
        author: r.author,
        body: r.body,
        internal: r.internal,
        created_at: ts(opsdeck_core::clock::from_millis(r.created_at)),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    /// 1 to 50,000 characters, not blank.
    #[schema(schema_with = crate::api::ticket_schema::reply_body)]
    pub body: String,
    /// An internal note (agents only), not shown to the requester.
    pub internal: Option<bool>,
}

/// Replies to a ticket (the requester or an agent), or adds an internal note (agents). An
/// agent's first public reply stops the first-response clock. 409 on a closed ticket.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/replies", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")), request_body = ReplyBody,
    responses((status = 201, body = ReplyDto)))]
async fn add_reply(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReplyBody>,
) -> Result<(StatusCode, Json<ReplyDto>), ApiError> {
    let r = op::reply(&state, &auth, &id, &b.body, b.internal.unwrap_or(false)).await?;
    Ok((StatusCode::CREATED, Json(reply_dto(r))))
}

/// A ticket's replies (and, for agents, internal notes), oldest first.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/replies", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses((status = 200, body = List<ReplyDto>)))]
async fn list_replies(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<ReplyDto>>, ApiError> {
    let t = op::find(&state, &auth, &id).await?;
    let items = op::replies(&state, &auth, &t).await?.into_iter().map(reply_dto).collect();
    Ok(Json(List { items, next_cursor: None }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TicketActBody {
    /// For pend: what the ticket waits for (required).
    #[schema(schema_with = crate::api::ticket_schema::reason_opt)]
    pub reason: Option<String>,
    /// The version you loaded; a move on an older one is refused (409).
    pub version: Option<i64>,
}

/// Moves a ticket (responders and up): start, pend (pauses the resolution clock; needs a
/// reason), resolve (stops it), close (a resolved ticket) or reopen (a resolved ticket; the
/// clock goes on). A move the state forbids answers 409.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/{action}", tag = "tickets",
    params(
        ("id" = String, Path, description = "The ticket's id or number"),
        ("action" = String, Path, description = "start, pend, resolve, close or reopen",
            pattern = "^(start|pend|resolve|close|reopen)$"),
    ),
    request_body(content = Option<TicketActBody>, description = "optional; pend needs a reason"),
    responses((status = 200, body = TicketDto)))]
async fn act_on_ticket(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, action)): Path<(String, String)>,
    OptionalJson(b): OptionalJson<TicketActBody>,
) -> Result<Json<TicketDto>, ApiError> {
    let action = TicketAction::parse(&action)
        .ok_or_else(|| ApiError::invalid("action", format!("must be {}", TicketAction::choices())))?;
    Ok(Json(dto(op::act(&state, &auth, &id, action, b.reason.as_deref(), b.version).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// The agent (a responder or up) to assign; null unassigns; left out keeps the assignee.
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Option<Option<Uuid>>,
    /// The team (group) to hand it to; left out or null keeps its team (422 when no such team).
    #[serde(default)]
    pub team_id: Option<Uuid>,
    /// The version you loaded; an assignment on an older one is refused (409).
    pub version: Option<i64>,
}

/// Assigns a ticket to an agent, who hears of its SLA warnings and breaches by e-mail
/// (responders and up). 422 when the assignee is not an active agent.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/assign", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")), request_body = AssignBody,
    responses((status = 200, body = TicketDto)))]
async fn assign_ticket(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AssignBody>,
) -> Result<Json<TicketDto>, ApiError> {
    Ok(Json(dto(op::assign(&state, &auth, &id, b.assignee_id, b.team_id, b.version).await?)))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyDto {
    /// 1 to 4.
    #[schema(minimum = 1, maximum = 4)]
    pub priority: u8,
    #[schema(minimum = 1, maximum = 527040)]
    pub first_response_minutes: u32,
    #[schema(minimum = 1, maximum = 527040)]
    pub resolution_minutes: u32,
    /// The business hours the targets count in.
    #[schema(schema_with = crate::api::schema::timezone)]
    pub timezone: String,
    /// Open hours per weekday, Monday first: seven lists of `HH:MM-HH:MM` (an empty list: closed).
    #[schema(min_items = 7, max_items = 7)]
    pub week: Vec<Vec<String>>,
    /// Days the desk is closed (YYYY-MM-DD).
    #[schema(max_items = 1000, value_type = Vec<String>, format = Date)]
    pub holidays: Vec<String>,
    /// Who hears of a breach besides the assignee (e.g. the team lead's address).
    #[serde(default)]
    #[schema(schema_with = crate::api::schema::email_opt)]
    pub escalation_email: Option<String>,
}

pub(super) fn policy_dto(p: SlaPolicy) -> SlaPolicyDto {
    let (week, holidays) = crate::operations::desk_settings::written(&p);
    SlaPolicyDto {
        priority: p.priority,
        first_response_minutes: p.first_response_minutes,
        resolution_minutes: p.resolution_minutes,
        timezone: p.hours.timezone.clone(),
        week,
        holidays,
        escalation_email: p.escalation_email,
    }
}

/// The SLA policy of each priority (defaults until one is saved).
#[utoipa::path(get, path = "/api/v1/sla-policies", tag = "tickets",
    responses((status = 200, body = List<SlaPolicyDto>)))]
async fn list_policies(State(state): State<AppState>, auth: Auth) -> Result<Json<List<SlaPolicyDto>>, ApiError> {
    let items = op::policies(&state, &auth).await?.into_iter().map(policy_dto).collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Replaces a priority's SLA policy (managers and up). Open tickets' clocks are replayed under it
/// at once, from their start, and the SLA watcher judges them again within a minute.
#[utoipa::path(put, path = "/api/v1/sla-policies/{priority}", tag = "tickets",
    params(("priority" = String, Path, description = "1 to 4", pattern = "^[1-4]$")), request_body = SlaPolicyDto,
    responses((status = 200, body = SlaPolicyDto)))]
async fn put_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(priority): Path<String>,
    ApiJson(b): ApiJson<SlaPolicyDto>,
) -> Result<Json<SlaPolicyDto>, ApiError> {
    let priority = match priority.parse::<u8>() {
        Ok(p @ 1..=4) => p,
        _ => return Err(ApiError::invalid("priority", "must be 1 to 4")),
    };
    if b.priority != priority {
        return Err(ApiError::invalid("priority", "must match the path"));
    }
    let input = crate::operations::desk_settings::PolicyInput {
        priority,
        first_response_minutes: b.first_response_minutes,
        resolution_minutes: b.resolution_minutes,
        timezone: b.timezone,
        week: b.week,
        holidays: b.holidays,
        escalation_email: b.escalation_email,
        ical: None,
    };
    let p = crate::operations::desk_settings::save_policy_input(&state, &auth, &input).await?;
    Ok(Json(policy_dto(p)))
}
