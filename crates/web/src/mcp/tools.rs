//! The MCP tools: each a name, what it does, the JSON Schema of its arguments, and a call into
//! the operation layer as the token's user, so a tool does exactly what the API lets that role
//! do (and is audited the same way).

use crate::AppState;
use crate::api::alerts::AlertDto;
use crate::api::incidents::{IncidentDto, TimelineDto};
use crate::api::oncall::OnCallDto;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::operations::incidents::{self as inc, IncidentFilterInput};
use crate::operations::oncall::{self, Scope};
use opsdeck_core::incident::{Move, NOTE_MAX};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::{Ref, ServiceFilter};
use opsdeck_store::incident::AlertFilter;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// One tool as `tools/list` shows it.
pub struct ToolDef {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: Value,
    /// Reads only: changes nothing.
    pub read_only: bool,
}

fn incident_arg() -> Value {
    json!({
        "type": "string",
        "description": "The incident: INC-12, its number, or its id",
        "minLength": 1,
        "maxLength": 64
    })
}

pub(super) fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// Every tool, in the order `tools/list` gives them.
pub fn all() -> Vec<ToolDef> {
    let note = json!({"type": "string", "description": "Why (kept on the timeline)", "maxLength": NOTE_MAX});
    let mut tools = vec![
        ToolDef {
            name: "list_incidents",
            description: "Lists incidents, newest first: open ones by default. Filter by status, severity or \
                          words of the title.",
            schema: object(
                json!({
                    "status": {"type": "string", "enum": ["triggered", "acknowledged", "resolved"]},
                    "open": {
                        "type": "boolean",
                        "description": "Only triggered and acknowledged (default true unless a status is given)"
                    },
                    "severity": {"type": "string", "enum": ["SEV1", "SEV2", "SEV3", "SEV4"]},
                    "query": {
                        "type": "string",
                        "description": "Words of the title, or an incident number",
                        "maxLength": 200
                    },
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Default 20"}
                }),
                &[],
            ),
            read_only: true,
        },
        ToolDef {
            name: "get_incident",
            description: "One incident with its timeline (notes, status changes, alerts joining) and its alerts.",
            schema: object(json!({"incident": incident_arg()}), &["incident"]),
            read_only: true,
        },
        ToolDef {
            name: "acknowledge_incident",
            description: "Acknowledges an incident (and its alerts): paging stops. Needs the responder role.",
            schema: object(json!({"incident": incident_arg(), "note": note}), &["incident"]),
            read_only: false,
        },
        ToolDef {
            name: "resolve_incident",
            description: "Resolves an incident (and its alerts). Needs the responder role.",
            schema: object(json!({"incident": incident_arg(), "note": note}), &["incident"]),
            read_only: false,
        },
        ToolDef {
            name: "add_incident_note",
            description: "Adds a note to an incident's timeline, or a status update for stakeholders. Needs \
                          the responder role.",
            schema: object(
                json!({
                    "incident": incident_arg(),
                    "body": {"type": "string", "minLength": 1, "maxLength": NOTE_MAX},
                    "status_update": {
                        "type": "boolean",
                        "description": "A status update for stakeholders (default false)"
                    }
                }),
                &["incident", "body"],
            ),
            read_only: false,
        },
        ToolDef {
            name: "who_is_on_call",
            description: "Who is on call now or at a time: for a service (by escalation level), a schedule, \
                          a team, or every schedule.",
            schema: object(
                json!({
                    "service": {"type": "string", "description": "A service's slug or id", "maxLength": 200},
                    "schedule_id": {"type": "string", "format": "uuid"},
                    "team_id": {"type": "string", "format": "uuid"},
                    "at": {"type": "string", "format": "date-time", "description": "RFC 3339; default now"}
                }),
                &[],
            ),
            read_only: true,
        },
        ToolDef {
            name: "search_services",
            description: "Searches the service catalogue by name; with `service`, one service with what it \
                          depends on and what depends on it.",
            schema: object(
                json!({
                    "query": {"type": "string", "maxLength": 200},
                    "service": {"type": "string", "description": "A service's slug or id", "maxLength": 200}
                }),
                &[],
            ),
            read_only: true,
        },
    ];
    tools.extend(super::monitoring::defs());
    tools
}

/// What a tool call ends in: a JSON value, or an error the caller reads (a wrong argument, a
/// role that is not enough, a move the state forbids).
pub async fn call(state: &AppState, auth: &Auth, name: &str, args: Map<String, Value>) -> Result<Value, ApiError> {
    let args = Value::Object(args);
    match name {
        "list_incidents" => list_incidents(state, auth, parse(args)?).await,
        "get_incident" => get_incident(state, auth, parse(args)?).await,
        "acknowledge_incident" => move_incident(state, auth, parse(args)?, Move::Acknowledge).await,
        "resolve_incident" => move_incident(state, auth, parse(args)?, Move::Resolve).await,
        "add_incident_note" => add_note(state, auth, parse(args)?).await,
        "who_is_on_call" => who_is_on_call(state, auth, parse(args)?).await,
        "search_services" => search_services(state, auth, parse(args)?).await,
        other => match super::monitoring::call(state, auth, other, args).await {
            Some(done) => done,
            None => Err(ApiError::invalid("name", format!("no tool {other:?}; tools/list names them"))),
        },
    }
}

pub(super) fn parse<T: DeserializeOwned>(args: Value) -> Result<T, ApiError> {
    serde_json::from_value(args).map_err(|e| ApiError::invalid("arguments", e.to_string()))
}

/// A list's `limit`, when given: 1 to 100, as the schemas say.
pub(super) fn limit(v: Option<i64>) -> Result<(), ApiError> {
    match v {
        Some(l) if !(1..=100).contains(&l) => Err(ApiError::invalid("limit", "must be 1 to 100")),
        _ => Ok(()),
    }
}

/// A short argument (a reference, a search) within `max` characters, as its schema says.
pub(super) fn short(field: &'static str, v: Option<&str>, max: usize) -> Result<(), ApiError> {
    match v {
        Some(v) if v.chars().count() > max => Err(ApiError::invalid(field, format!("at most {max} characters"))),
        _ => Ok(()),
    }
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|_| ApiError::internal())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    status: Option<String>,
    open: Option<bool>,
    severity: Option<String>,
    query: Option<String>,
    limit: Option<i64>,
}

async fn list_incidents(state: &AppState, auth: &Auth, a: ListArgs) -> Result<Value, ApiError> {
    auth.require(Permission::Read)?;
    short("query", a.query.as_deref(), 200)?;
    limit(a.limit)?;
    let input = IncidentFilterInput {
        open: Some(a.open.unwrap_or(a.status.is_none())),
        status: a.status,
        severity: a.severity,
        q: a.query,
        limit: Some(a.limit.unwrap_or(20)),
        cursor: None,
    };
    let page = state.db.list_incidents(&inc::incident_filter(&input, None)?).await?;
    let items: Vec<IncidentDto> = page.items.into_iter().map(IncidentDto::from).collect();
    Ok(json!({"incidents": to_json(&items)?, "more": page.next_cursor.is_some()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentArgs {
    incident: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetArgs {
    incident: String,
}

async fn get_incident(state: &AppState, auth: &Auth, a: GetArgs) -> Result<Value, ApiError> {
    auth.require(Permission::Read)?;
    short("incident", Some(&a.incident), 64)?;
    let found = inc::find_incident(state, a.incident.trim()).await?;
    let timeline: Vec<TimelineDto> =
        state.db.incident_timeline(&found, state.now()).await?.into_iter().map(TimelineDto::from).collect();
    let filter = AlertFilter { incident_id: Some(found.id), limit: Some(100), ..AlertFilter::default() };
    let alerts: Vec<AlertDto> = state.db.list_alerts(&filter).await?.items.into_iter().map(AlertDto::from).collect();
    Ok(json!({
        "incident": to_json(&IncidentDto::from(found))?,
        "timeline": to_json(&timeline)?,
        "alerts": to_json(&alerts)?
    }))
}

async fn move_incident(state: &AppState, auth: &Auth, a: IncidentArgs, m: Move) -> Result<Value, ApiError> {
    auth.require(Permission::Respond)?;
    short("incident", Some(&a.incident), 64)?;
    let found = inc::find_incident(state, a.incident.trim()).await?;
    let out = inc::move_incident(state, auth, &found, m, a.note.as_deref()).await?;
    to_json(&IncidentDto::from(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteArgs {
    incident: String,
    body: String,
    status_update: Option<bool>,
}

async fn add_note(state: &AppState, auth: &Auth, a: NoteArgs) -> Result<Value, ApiError> {
    auth.require(Permission::Respond)?;
    short("incident", Some(&a.incident), 64)?;
    let found = inc::find_incident(state, a.incident.trim()).await?;
    let item = inc::add_note(state, auth, &found, a.status_update.unwrap_or(false), &a.body).await?;
    to_json(&TimelineDto::from(item))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnCallArgs {
    service: Option<String>,
    schedule_id: Option<Uuid>,
    team_id: Option<Uuid>,
    at: Option<String>,
}

async fn service_id(state: &AppState, raw: &str) -> Result<Uuid, ApiError> {
    short("service", Some(raw), 200)?;
    let raw = raw.trim();
    let r = raw.parse::<Uuid>().map_or(Ref::Slug(raw), Ref::Id);
    match state.db.get_service(r).await {
        Ok(svc) => Ok(svc.service.id),
        Err(opsdeck_store::StoreError::NotFound(_)) => Err(ApiError::invalid("service", "names no service")),
        Err(e) => Err(e.into()),
    }
}

async fn who_is_on_call(state: &AppState, auth: &Auth, a: OnCallArgs) -> Result<Value, ApiError> {
    auth.require(Permission::Read)?;
    let at = a.at.as_deref().map(|s| inc::parse_time("at", s)).transpose()?.unwrap_or_else(|| state.now());
    let scope = match (a.service.as_deref(), a.schedule_id, a.team_id) {
        (Some(s), _, _) => Scope::Service(service_id(state, s).await?),
        (None, Some(s), _) => Scope::Schedule(s),
        (None, None, Some(t)) => Scope::Team(t),
        (None, None, None) => Scope::All,
    };
    let people: Vec<OnCallDto> =
        oncall::who_is_on_call(state, scope, at).await?.into_iter().map(OnCallDto::from).collect();
    Ok(json!({"at": at.to_rfc3339(), "on_call": to_json(&people)?}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceArgs {
    query: Option<String>,
    service: Option<String>,
}

async fn search_services(state: &AppState, auth: &Auth, a: ServiceArgs) -> Result<Value, ApiError> {
    auth.require(Permission::Read)?;
    short("query", a.query.as_deref(), 200)?;
    if let Some(raw) = a.service.as_deref() {
        let id = service_id(state, raw).await?;
        let svc = state.db.get_service(Ref::Id(id)).await?;
        let (depends_on, dependents) = state.db.service_dependencies(id).await?;
        return Ok(json!({
            "service": to_json(&svc)?,
            "depends_on": to_json(&depends_on)?,
            "dependents": to_json(&dependents)?
        }));
    }
    let filter =
        ServiceFilter { q: a.query.filter(|q| !q.trim().is_empty()), limit: Some(50), ..ServiceFilter::default() };
    let page = state.db.list_services(&filter).await?;
    Ok(json!({"services": to_json(&page.items)?, "more": page.next_cursor.is_some()}))
}
