//! What a ticket is linked to (agents): a parent ticket (one level deep: a parent is no one's
//! child), the incident it is promoted to or attached to, and the configuration items it
//! concerns. A parent resolved resolves its open children with it (see `tickets::act`).

use super::tickets::{TICKET_CHANGED, TicketView, find, view_of};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::desk::ticket::TicketState;
use opsdeck_core::incident::{self, Sev};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::desk::Ticket;
use opsdeck_store::desk::links::CIS_MAX;
use opsdeck_store::incident::{Declare, Incident};
use uuid::Uuid;

/// The children of a parent.
pub async fn children(state: &AppState, auth: &Auth, t: &Ticket) -> Result<Vec<Ticket>, ApiError> {
    if !auth.allows(Permission::Respond) {
        return Ok(Vec::new());
    }
    Ok(state.db.ticket_children(t.id).await?)
}

/// Puts a ticket under `parent` (a reference: `TKT-3`, a number or an id), or on its own.
pub async fn set_parent(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    parent: Option<&str>,
    version: Option<i64>,
) -> Result<TicketView, ApiError> {
    auth.require(Permission::Respond)?;
    let before = find(state, auth, reference).await?;
    super::check_version(&before.key(), before.version, version)?;
    let parent = match parent.map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(r) => Some(find(state, auth, r).await.map_err(|_| ApiError::invalid("parent", "names no ticket"))?),
    };
    if let Some(p) = &parent {
        if p.id == before.id {
            return Err(ApiError::invalid("parent", "a ticket is not its own parent"));
        }
        if let Some(grand) = p.parent_id {
            let g = state.db.get_ticket(grand).await.map(|g| g.key()).unwrap_or_else(|_| "another ticket".into());
            return Err(ApiError::invalid("parent", format!("{} is itself a child of {g}; choose {g}", p.key())));
        }
        if p.state == TicketState::Closed {
            return Err(ApiError::invalid("parent", format!("{} is closed", p.key())));
        }
        if !state.db.ticket_children(before.id).await?.is_empty() {
            return Err(ApiError::invalid(
                "parent",
                format!("{} has children of its own; a parent is no one's child", before.key()),
            ));
        }
    }
    let t = state.db.set_ticket_parent(&auth.actor(), state.now(), &before, parent.as_ref()).await?;
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("{} parent", t.key()));
    view_of(state, auth, t).await
}

/// Attaches a ticket to an incident (`INC-4`, a number or an id), or detaches it.
pub async fn set_incident(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    incident: Option<&str>,
    version: Option<i64>,
) -> Result<TicketView, ApiError> {
    auth.require(Permission::Respond)?;
    let before = find(state, auth, reference).await?;
    super::check_version(&before.key(), before.version, version)?;
    let inc = match incident.map(str::trim).filter(|i| !i.is_empty()) {
        None => None,
        Some(r) => Some(
            super::incidents::find_incident(state, r)
                .await
                .map_err(|_| ApiError::invalid("incident", "names no incident"))?,
        ),
    };
    let key = inc.as_ref().map(|i| incident::display_number(i.number));
    let link = inc.as_ref().zip(key.as_deref()).map(|(i, k)| (i.id, k));
    let t = state.db.set_ticket_incident(&auth.actor(), state.now(), &before, link).await?;
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("{} incident", t.key()));
    view_of(state, auth, t).await
}

/// Promotes a ticket to a new incident on `service` (else the ticket's own), linked in the
/// same transaction; its impact started when the ticket was raised. The incident takes the
/// ticket's title only: incidents are read by every viewer, and a ticket's description is its
/// requester's.
pub async fn promote(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    (severity, service): (Option<&str>, Option<&str>),
    version: Option<i64>,
) -> Result<Incident, ApiError> {
    auth.require(Permission::Respond)?;
    let t = find(state, auth, reference).await?;
    super::check_version(&t.key(), t.version, version)?;
    if t.state == TicketState::Closed {
        return Err(ApiError::conflict(format!("{} is closed; raise an incident of its own", t.key())));
    }
    if let Some(id) = t.incident_id {
        let key = state.db.get_incident(id).await.map(|i| incident::display_number(i.number)).unwrap_or_default();
        return Err(ApiError::conflict(format!("{} is already linked to incident {key}", t.key())));
    }
    let severity = match severity.map(str::trim).filter(|s| !s.is_empty()) {
        None => Sev::Sev3,
        Some(s) => super::incidents::parse_sev(s)?,
    };
    let service_id = match service.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(
            state
                .db
                .get_service(Ref::parse(s))
                .await
                .map_err(|_| ApiError::invalid("service_id", "names no service"))?,
        )
        .map(|s| s.service.id),
        None => t.service_id,
    };
    let Some(service_id) = service_id else {
        return Err(ApiError::invalid("service_id", "name the service the incident is about (the ticket names none)"));
    };
    let key = t.key();
    let description = format!("Raised from ticket {key}.");
    let d = Declare {
        title: incident::title(&t.title)?,
        description,
        service_id,
        severity,
        impact_start_at: Some(t.created_at),
        from_ticket: Some((t.id, t.version, key)),
    };
    let inc = super::incidents::declare_incident(state, auth, d).await?;
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("{} promoted", t.key()));
    Ok(inc)
}

/// Sets the configuration items a ticket concerns (each must exist; at most 50).
pub async fn set_cis(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    ids: &[Uuid],
    version: Option<i64>,
) -> Result<TicketView, ApiError> {
    auth.require(Permission::Respond)?;
    let before = find(state, auth, reference).await?;
    super::check_version(&before.key(), before.version, version)?;
    if ids.len() > CIS_MAX {
        return Err(ApiError::invalid("ci_ids", format!("at most {CIS_MAX} configuration items")));
    }
    let mut cis: Vec<(Uuid, String)> = Vec::with_capacity(ids.len());
    for id in ids {
        if cis.iter().any(|c| c.0 == *id) {
            continue;
        }
        let ci = state.db.get_ci(*id).await.map_err(|_| ApiError::invalid("ci_ids", format!("{id} names no CI")))?;
        cis.push((ci.id, ci.name));
    }
    let t = state.db.set_ticket_cis(&auth.actor(), state.now(), &before, &cis).await?;
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("{} CIs", t.key()));
    view_of(state, auth, t).await
}

/// The configuration items a ticket concerns (id, name).
pub async fn cis(state: &AppState, t: &Ticket) -> Result<Vec<(Uuid, String)>, ApiError> {
    Ok(state.db.ticket_cis(t.id).await?)
}

/// Adds the CI a person names (its name, identity or id) to those a ticket concerns, or takes
/// one away (`remove`): the page's one-at-a-time edit of [`set_cis`].
pub async fn change_ci(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    ci: &str,
    remove: bool,
    version: Option<i64>,
) -> Result<TicketView, ApiError> {
    auth.require(Permission::Respond)?;
    let t = find(state, auth, reference).await?;
    let named = super::cmdb::find(state, auth, "ci", ci).await?;
    let mut ids: Vec<Uuid> = cis(state, &t).await?.into_iter().map(|c| c.0).filter(|id| *id != named.id).collect();
    if !remove {
        ids.push(named.id);
    }
    set_cis(state, auth, reference, &ids, version).await
}
