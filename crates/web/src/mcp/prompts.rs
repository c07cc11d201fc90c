//! MCP resources (open incidents as `opsdeck://incidents/INC-n`, services as
//! `opsdeck://services/<slug>`, read as the tools give them) and prompts (a stakeholder summary
//! and a postmortem draft of one incident, with its record embedded).

use super::{resource, tools};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::operations::incidents::{IncidentFilterInput, incident_filter};
use opsdeck_core::incident::display_number;
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::ServiceFilter;
use rmcp::model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Resource, Role};
use serde_json::{Map, Value, json};

const INCIDENTS: &str = "opsdeck://incidents/";
const SERVICES: &str = "opsdeck://services/";

/// The open incidents (50 newest) and the services (100 by name).
pub async fn resources(state: &AppState, auth: &Auth) -> Result<Vec<Resource>, ApiError> {
    auth.require(Permission::Read)?;
    let open = IncidentFilterInput { open: Some(true), limit: Some(50), ..IncidentFilterInput::default() };
    let incidents = state.db.list_incidents(&incident_filter(&open, None)?).await?;
    let services = state.db.list_services(&ServiceFilter { limit: Some(100), ..ServiceFilter::default() }).await?;
    let mut out: Vec<Resource> = incidents
        .items
        .into_iter()
        .map(|i| {
            let key = display_number(i.number);
            let about = format!("{} {} incident, {}", i.severity.as_str(), i.status.as_str(), i.title);
            resource(format!("{INCIDENTS}{key}"), format!("{key} {}", i.title), about)
        })
        .collect();
    out.extend(services.items.into_iter().map(|s| {
        let about = format!("Service {} (tier {})", s.service.name, s.service.tier);
        resource(format!("{SERVICES}{}", s.service.slug), s.service.name.clone(), about)
    }));
    Ok(out)
}

/// A resource's text: the incident or service as the tools give it.
pub async fn read(state: &AppState, auth: &Auth, uri: &str) -> Result<String, ApiError> {
    let (tool, args) = if let Some(key) = uri.strip_prefix(INCIDENTS) {
        ("get_incident", json!({"incident": key}))
    } else if let Some(slug) = uri.strip_prefix(SERVICES) {
        ("search_services", json!({"service": slug}))
    } else {
        return Err(ApiError::invalid("uri", format!("use {INCIDENTS}INC-n or {SERVICES}<slug>")));
    };
    let Value::Object(args) = args else { return Err(ApiError::internal()) };
    let v = tools::call(state, auth, tool, args).await?;
    serde_json::to_string_pretty(&v).map_err(|_| ApiError::internal())
}

pub fn all() -> Vec<Prompt> {
    let incident = || {
        vec![PromptArgument::new("incident").with_description("The incident: INC-12 or its number").with_required(true)]
    };
    vec![
        Prompt::new(
            "summarise_incident",
            Some(
                "Summarise an incident for stakeholders: what is affected, since when, what is being done, what next.",
            ),
            Some(incident()),
        ),
        Prompt::new(
            "draft_postmortem",
            Some(
                "Draft a blameless postmortem of an incident from its timeline: summary, impact, timeline, \
                 causes, actions.",
            ),
            Some(incident()),
        ),
    ]
}

/// A prompt with the incident's record (incident, timeline, alerts) embedded as JSON.
pub async fn get(
    state: &AppState,
    auth: &Auth,
    name: &str,
    args: &Map<String, Value>,
) -> Result<GetPromptResult, ApiError> {
    let key = args.get("incident").and_then(Value::as_str).unwrap_or("").trim();
    if key.is_empty() {
        return Err(ApiError::invalid("incident", "name the incident, e.g. INC-12"));
    }
    let ask = match name {
        "summarise_incident" => {
            "Write a short status summary of this incident for stakeholders who are not engineers: what is \
             affected and since when, what the team is doing, and when they will hear next. No internal jargon, \
             no blame, no speculation beyond the record."
        }
        "draft_postmortem" => {
            "Draft a blameless postmortem of this incident in Markdown: summary, impact (who, how long), a \
             timeline in UTC from the record, contributing causes (mark guesses as questions for the team), \
             what went well, and action items with owners left blank."
        }
        other => return Err(ApiError::invalid("name", format!("no prompt {other:?}; prompts/list names them"))),
    };
    let record = read(state, auth, &format!("{INCIDENTS}{key}")).await?;
    let text = format!("{ask}\n\nThe incident's record from Opsdeck:\n```json\n{record}\n```");
    let mut out = GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]);
    out.description = Some(format!("{name} for {key}"));
    Ok(out)
}
