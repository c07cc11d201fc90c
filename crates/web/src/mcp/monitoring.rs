//! The MCP tools about what is watched and what the public sees: monitors with their recent
//! results, planning a maintenance window, and posting a status-page update about an incident.
//! Each calls the operation layer as the token's user, with the API's role for the same thing.

use super::tools::{ToolDef, limit, object, parse, short, to_json};
use crate::AppState;
use crate::api::maintenance::WindowDto;
use crate::api::monitors::MonitorDto;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::operations::incidents::find_incident;
use crate::operations::status_templates::{Draft, update_spec};
use crate::operations::{maintenance, parse_time, status_pages};
use opsdeck_core::maintenance::WindowInput;
use opsdeck_core::monitor::MonitorState;
use opsdeck_core::role::Permission;
use opsdeck_store::monitor::MonitorFilter;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

pub fn defs() -> Vec<ToolDef> {
    let uuid = json!({"type": "string", "format": "uuid"});
    vec![
        ToolDef {
            name: "monitor_status",
            description: "Monitors and their state (up, down, degraded…), or one monitor (`monitor`: its id) \
                          with its recent check results.",
            schema: object(
                json!({
                    "monitor": uuid,
                    "query": {"type": "string", "description": "Words of the name", "maxLength": 200},
                    "state": {"type": "string", "enum": ["pending", "up", "degraded", "down", "paused", "maintenance"]},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Default 50"}
                }),
                &[],
            ),
            read_only: true,
        },
        ToolDef {
            name: "create_maintenance_window",
            description: "Plans a maintenance window: the services and monitors it names raise no alerts and \
                          show as under maintenance while it runs. Needs the manager role.",
            schema: object(
                json!({
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "description": {"type": "string", "maxLength": 10000},
                    "starts_at": {"type": "string", "format": "date-time"},
                    "duration_minutes": {"type": "integer", "minimum": 1, "maximum": 10080},
                    "rrule": {"type": "string", "description": "Repeats (RFC 5545 RRULE), e.g. FREQ=WEEKLY;BYDAY=SU"},
                    "timezone": {"type": "string", "description": "For a repeating window; default UTC"},
                    "service_ids": {"type": "array", "items": uuid, "maxItems": 100},
                    "monitor_ids": {"type": "array", "items": uuid, "maxItems": 500}
                }),
                &["name", "starts_at", "duration_minutes"],
            ),
            read_only: false,
        },
        ToolDef {
            name: "post_status_update",
            description: "Posts an update about an incident on a status page (the first opens its public \
                          incident); components take the given status until it is resolved. Needs the \
                          responder role. Subscribers are notified unless `notify` is false.",
            schema: object(
                json!({
                    "incident": {"type": "string", "description": "INC-12, its number, or its id", "maxLength": 64},
                    "status_page_id": uuid,
                    "status": {"type": "string", "enum": ["investigating", "identified", "monitoring", "resolved"]},
                    "body": {"type": "string", "minLength": 1, "maxLength": 20000},
                    "name": {
                        "type": "string",
                        "description": "The public title; default the incident's",
                        "maxLength": 200
                    },
                    "components": {
                        "type": "object",
                        "description": "Component id → operational, degraded_performance, partial_outage, major_outage",
                        "additionalProperties": {"type": "string"}
                    },
                    "notify": {"type": "boolean"}
                }),
                &["incident", "status_page_id", "status", "body"],
            ),
            read_only: false,
        },
    ]
}

/// Runs `name` when it is one of these tools.
pub async fn call(state: &AppState, auth: &Auth, name: &str, args: Value) -> Option<Result<Value, ApiError>> {
    Some(match name {
        "monitor_status" => match parse(args) {
            Ok(a) => monitor_status(state, auth, a).await,
            Err(e) => Err(e),
        },
        "create_maintenance_window" => match parse(args) {
            Ok(a) => create_window(state, auth, a).await,
            Err(e) => Err(e),
        },
        "post_status_update" => match parse(args) {
            Ok(a) => post_update(state, auth, a).await,
            Err(e) => Err(e),
        },
        _ => return None,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonitorArgs {
    monitor: Option<Uuid>,
    query: Option<String>,
    state: Option<MonitorState>,
    limit: Option<i64>,
}

async fn monitor_status(state: &AppState, auth: &Auth, a: MonitorArgs) -> Result<Value, ApiError> {
    auth.require(Permission::Read)?;
    short("query", a.query.as_deref(), 200)?;
    limit(a.limit)?;
    let base = state.link_base().await;
    if let Some(id) = a.monitor {
        let v = state.db.get_monitor(id).await?;
        let mut recent = state.db.recent_results(&[id], 20).await?;
        let results = recent.remove(&id).unwrap_or_default();
        return Ok(
            json!({"monitor": to_json(&MonitorDto::new(v, &base, auth))?, "recent_results": to_json(&results)?}),
        );
    }
    let filter = MonitorFilter {
        q: a.query.filter(|q| !q.trim().is_empty()),
        state: a.state,
        limit: Some(a.limit.unwrap_or(50)),
        ..MonitorFilter::default()
    };
    let page = state.db.list_monitors(&filter).await?;
    let items: Vec<MonitorDto> = page.items.into_iter().map(|v| MonitorDto::new(v, &base, auth)).collect();
    Ok(json!({"monitors": to_json(&items)?, "more": page.next_cursor.is_some()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowArgs {
    name: String,
    description: Option<String>,
    starts_at: String,
    duration_minutes: i64,
    rrule: Option<String>,
    timezone: Option<String>,
    service_ids: Option<Vec<Uuid>>,
    monitor_ids: Option<Vec<Uuid>>,
}

async fn create_window(state: &AppState, auth: &Auth, a: WindowArgs) -> Result<Value, ApiError> {
    auth.require(Permission::Configure)?;
    let input = WindowInput {
        name: Some(a.name),
        description: a.description,
        starts_at: Some(parse_time("starts_at", &a.starts_at)?),
        duration_minutes: Some(a.duration_minutes),
        rrule: a.rrule.map(Some),
        timezone: a.timezone,
        service_ids: a.service_ids,
        monitor_ids: a.monitor_ids,
    };
    let w = maintenance::create_window(state, auth, input).await?;
    to_json(&WindowDto::new(w, state.now()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateArgs {
    incident: String,
    status_page_id: Uuid,
    status: String,
    body: String,
    name: Option<String>,
    components: Option<BTreeMap<Uuid, String>>,
    notify: Option<bool>,
}

async fn post_update(state: &AppState, auth: &Auth, a: UpdateArgs) -> Result<Value, ApiError> {
    auth.require(Permission::Respond)?;
    short("incident", Some(&a.incident), 64)?;
    let incident = find_incident(state, a.incident.trim()).await?;
    let draft = Draft {
        page_id: a.status_page_id,
        template_id: None,
        name: a.name,
        status: Some(a.status),
        body: Some(a.body),
        components: a.components.map(|m| m.into_iter().collect()),
    };
    let mut spec = update_spec(state, draft).await?;
    spec.notify = a.notify.unwrap_or(true);
    status_pages::post_update(state, auth, &incident, spec).await?;
    let posted = state.db.public_incidents_of(incident.id).await?;
    let public = posted.into_iter().find(|p| p.page_id == a.status_page_id).ok_or_else(ApiError::internal)?;
    let mut out = Map::new();
    out.insert("public_incident_id".into(), json!(public.id));
    out.insert("status".into(), json!(public.status.as_str()));
    out.insert("name".into(), json!(public.name));
    Ok(Value::Object(out))
}
