//! The ticket page's links card (agents): parent and children, the incident (attach or
//! promote), and the configuration items it concerns; one form per action.

use super::{PageAuth, done, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::ticket_links as op;
use axum::extract::{Path, State};
use axum::response::Response;
use axum_extra::extract::Form;
use opsdeck_core::incident::display_number;
use opsdeck_store::desk::Ticket;
use serde::Deserialize;
use uuid::Uuid;

/// What the links card shows.
#[derive(Default)]
pub struct Links {
    /// The parent's number and key.
    pub parent: Option<(i64, String)>,
    pub children: Vec<Ticket>,
    /// The incident's number, key and title.
    pub incident: Option<(i64, String, String)>,
    pub cis: Vec<(Uuid, String)>,
}

impl Links {
    /// A ticket's links, for an agent (others see none).
    pub async fn load(state: &AppState, auth: &crate::auth::Auth, t: &Ticket) -> Result<Links, ApiError> {
        if !auth.allows(opsdeck_core::role::Permission::Respond) {
            return Ok(Links::default());
        }
        let parent = match t.parent_id {
            Some(id) => state.db.get_ticket(id).await.ok().map(|p| (p.number, p.key())),
            None => None,
        };
        let incident = match t.incident_id {
            Some(id) => state.db.get_incident(id).await.ok().map(|i| (i.number, display_number(i.number), i.title)),
            None => None,
        };
        Ok(Links { parent, children: op::children(state, auth, t).await?, incident, cis: op::cis(state, t).await? })
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LinkForm {
    parent: String,
    incident: String,
    ci: String,
    remove: Option<String>,
    severity: String,
    service: String,
    version: Option<i64>,
}

pub async fn parent(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<LinkForm>,
) -> Response {
    let result =
        op::set_parent(&state, &auth.0, &id, Some(&f.parent), f.version).await.map(|v| match v.ticket.parent_id {
            Some(_) => format!("{} is a child of {}", v.ticket.key(), f.parent.trim().to_uppercase()),
            None => format!("{} is on its own", v.ticket.key()),
        });
    outcome(&format!("/tickets/{id}"), result)
}

pub async fn incident(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<LinkForm>,
) -> Response {
    let result = op::set_incident(&state, &auth.0, &id, Some(&f.incident), f.version).await.map(|v| {
        if v.ticket.incident_id.is_some() {
            format!("{} attached to the incident", v.ticket.key())
        } else {
            format!("{} detached from its incident", v.ticket.key())
        }
    });
    outcome(&format!("/tickets/{id}"), result)
}

pub async fn promote(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<LinkForm>,
) -> Response {
    match op::promote(&state, &auth.0, &id, (Some(&f.severity), Some(&f.service)), f.version).await {
        Ok(inc) => done(&format!("/incidents/{}", inc.number), &format!("{} declared", display_number(inc.number))),
        Err(e) => outcome(&format!("/tickets/{id}"), Err(e)),
    }
}

pub async fn cis(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<LinkForm>,
) -> Response {
    let remove = f.remove.is_some();
    let result = op::change_ci(&state, &auth.0, &id, &f.ci, remove, f.version).await.map(|v| {
        if remove { format!("{} CI removed", v.ticket.key()) } else { format!("{} CI added", v.ticket.key()) }
    });
    outcome(&format!("/tickets/{id}"), result)
}
