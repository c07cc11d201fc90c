//! Incident operations: declaring, moving (acknowledge, resolve, reopen), editing, escalating,
//! snoozing, merging, notes and responders; postmortems with their action items; and the
//! incident lookup and list filter the API and the pages share.

use super::cursor;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::Actor;
use opsdeck_core::incident::{self, ActionItemSpec, Move, PostmortemSpec, Sev, Status};
use opsdeck_core::role::Permission;
use opsdeck_store::incident::{ActionItem, Declare, Incident, IncidentEdit, IncidentFilter, TimelineItem};
use uuid::Uuid;

// ---- lookups and the list filter --------------------------------------------------------------

/// An incident by UUID or by reference such as `INC-42`.
pub async fn find_incident(state: &AppState, raw: &str) -> Result<Incident, ApiError> {
    if let Ok(id) = raw.parse::<Uuid>() {
        return Ok(state.db.get_incident(id).await?);
    }
    match incident::parse_number(raw) {
        Some(n) => Ok(state.db.get_incident_by_number(n).await?),
        None => Err(ApiError::not_found(Entity::Incident)),
    }
}

/// The incident list's filter as given (query string or form); [`incident_filter`] checks it.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilterInput {
    /// triggered, acknowledged or resolved.
    pub status: Option<String>,
    /// Only triggered and acknowledged.
    pub open: Option<bool>,
    /// SEV1..SEV4.
    pub severity: Option<String>,
    /// Text in the title, or an incident number.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The store filter for `q` on the service `service_id` (already resolved).
pub fn incident_filter(q: &IncidentFilterInput, service_id: Option<Uuid>) -> Result<IncidentFilter, ApiError> {
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            Status::parse(s).ok_or_else(|| ApiError::bad_request("status: use triggered, acknowledged or resolved"))
        })
        .transpose()?;
    let severity = q
        .severity
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| Sev::parse(s).ok_or_else(|| ApiError::bad_request("severity: use SEV1, SEV2, SEV3 or SEV4")))
        .transpose()?;
    Ok(IncidentFilter {
        status,
        open: q.open.unwrap_or(false),
        service_id,
        severity,
        q: q.q.clone(),
        cursor: cursor(q.cursor.as_deref())?,
        limit: super::page_limit(q.limit)?,
    })
}

// ---- edits --------------------------------------------------------------------------------------

pub use super::parse_time;

pub fn parse_sev(s: &str) -> Result<Sev, ApiError> {
    Sev::parse(s).ok_or_else(|| ApiError::invalid("severity", "must be SEV1, SEV2, SEV3 or SEV4"))
}

/// Changes to an incident as given; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct IncidentEditInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<String>,
    pub impact_start_at: Option<String>,
    pub mitigated_at: Option<Option<String>>,
    pub assignee_id: Option<Option<Uuid>>,
    pub commander_id: Option<Option<Uuid>>,
}

impl IncidentEditInput {
    pub fn into_edit(self) -> Result<IncidentEdit, ApiError> {
        Ok(IncidentEdit {
            title: self.title.as_deref().map(incident::title).transpose()?,
            description: self
                .description
                .as_deref()
                .map(|d| opsdeck_core::validate::description("description", d))
                .transpose()?,
            severity: self.severity.as_deref().map(parse_sev).transpose()?,
            impact_start_at: self.impact_start_at.as_deref().map(|s| parse_time("impact_start_at", s)).transpose()?,
            mitigated_at: self
                .mitigated_at
                .map(|m| m.as_deref().map(|s| parse_time("mitigated_at", s)).transpose())
                .transpose()?,
            assignee_id: self.assignee_id,
            commander_id: self.commander_id,
        })
    }
}

// ---- writes -------------------------------------------------------------------------------------

/// Declares an incident by hand (responder or higher); `d.service_id` names an existing service.
pub async fn declare_incident(state: &AppState, auth: &Auth, d: Declare) -> Result<Incident, ApiError> {
    auth.require(Permission::Respond)?;
    let inc = state.db.declare_incident(&auth.actor(), state.now(), d).await?;
    state.events.publish(
        "incident.opened",
        Some(inc.id),
        format!("{} declared: {}", incident::display_number(inc.number), inc.title),
    );
    Ok(inc)
}

/// Changes title, description, severity, times, assignee or commander (responder or higher).
pub async fn edit_incident(
    state: &AppState,
    auth: &Auth,
    inc: &Incident,
    edit: IncidentEdit,
) -> Result<Incident, ApiError> {
    auth.require(Permission::Respond)?;
    let out = state.db.edit_incident(&auth.actor(), state.now(), inc.id, edit).await?;
    state.events.publish("incident.updated", Some(out.id), format!("{} updated", incident::display_number(out.number)));
    Ok(out)
}

/// Acknowledges, resolves or reopens an incident (with its alerts).
pub async fn move_incident(
    state: &AppState,
    auth: &Auth,
    inc: &Incident,
    m: Move,
    note: Option<&str>,
) -> Result<Incident, ApiError> {
    auth.require(Permission::Respond)?;
    let note = optional_note("note", note)?;
    let out = state.db.move_incident(&auth.actor(), state.now(), inc.id, m, note.as_deref()).await?;
    state.events.publish(
        "incident.updated",
        Some(out.id),
        format!("{} {} by {}", incident::display_number(out.number), out.status, auth.user.username),
    );
    Ok(out)
}

/// How many incidents a bulk move changed, and how many it left as they were (already in the
/// state, or a move their state does not allow).
pub struct BulkMoved {
    pub moved: usize,
    pub skipped: usize,
}

/// The most incidents one bulk action moves.
pub const BULK_MAX: usize = 200;

/// Acknowledges or resolves several incidents at once (the lists' bulk actions); each is one
/// [`move_incident`], so every rule and side effect is the single incident's.
pub async fn move_incidents(state: &AppState, auth: &Auth, ids: &[Uuid], m: Move) -> Result<BulkMoved, ApiError> {
    auth.require(Permission::Respond)?;
    if ids.is_empty() {
        return Err(ApiError::invalid("ids", "choose at least one incident"));
    }
    if ids.len() > BULK_MAX {
        return Err(ApiError::invalid("ids", format!("choose at most {BULK_MAX} incidents at a time")));
    }
    let mut out = BulkMoved { moved: 0, skipped: 0 };
    for id in ids {
        let inc = match state.db.get_incident(*id).await {
            Ok(i) => i,
            Err(opsdeck_store::StoreError::NotFound(_)) => {
                out.skipped += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match move_incident(state, auth, &inc, m, None).await {
            Ok(_) => out.moved += 1,
            Err(e) if e.status() == axum::http::StatusCode::CONFLICT => out.skipped += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Acknowledges or resolves an incident for someone who followed a signed link in a
/// notification: the link's signature is the authority, `actor` says whose it was.
pub async fn move_from_link(state: &AppState, actor: &Actor, incident_id: Uuid, m: Move) -> Result<Incident, ApiError> {
    let inc = state.db.move_incident(actor, state.now(), incident_id, m, None).await?;
    state.events.publish(
        "incident.updated",
        Some(inc.id),
        format!("{} {} from a notification link", incident::display_number(inc.number), inc.status),
    );
    Ok(inc)
}

/// Back to triggered so the next responders are paged.
pub async fn escalate_incident(
    state: &AppState,
    auth: &Auth,
    inc: &Incident,
    reason: Option<&str>,
) -> Result<Incident, ApiError> {
    auth.require(Permission::Respond)?;
    let reason = optional_note("reason", reason)?;
    let out = state.db.escalate_incident(&auth.actor(), state.now(), inc.id, reason.as_deref()).await?;
    state.events.publish(
        "incident.updated",
        Some(out.id),
        format!("{} escalated", incident::display_number(out.number)),
    );
    Ok(out)
}

/// How long a snooze lasts: 1 minute to a week.
pub fn snooze_for(minutes: i64) -> Result<Duration, ApiError> {
    if !(1..=10_080).contains(&minutes) {
        return Err(ApiError::invalid("minutes", "must be 1 to 10080 (a week)"));
    }
    Ok(Duration::minutes(minutes))
}

/// Acknowledged for `minutes`, then triggered again.
pub async fn snooze_incident(
    state: &AppState,
    auth: &Auth,
    inc: &Incident,
    minutes: i64,
) -> Result<Incident, ApiError> {
    auth.require(Permission::Respond)?;
    let until = state.now() + snooze_for(minutes)?;
    Ok(state.db.snooze_incident(&auth.actor(), state.now(), inc.id, until).await?)
}

/// Merges `source` into `target`.
pub async fn merge_incidents(
    state: &AppState,
    auth: &Auth,
    target: &Incident,
    source: &Incident,
) -> Result<Incident, ApiError> {
    auth.require(Permission::Respond)?;
    let out = state.db.merge_incidents(&auth.actor(), state.now(), target.id, source.id).await?;
    state.events.publish(
        "incident.updated",
        Some(out.id),
        format!("{} merged", incident::display_number(source.number)),
    );
    Ok(out)
}

/// Adds a note, or a status update for stakeholders; `body` is checked by [`incident::note`].
pub async fn add_note(
    state: &AppState,
    auth: &Auth,
    inc: &Incident,
    status_update: bool,
    body: &str,
) -> Result<TimelineItem, ApiError> {
    auth.require(Permission::Respond)?;
    let body = incident::note(body)?;
    let t = state.db.add_incident_note(&auth.actor(), state.now(), inc.id, status_update, &body).await?;
    state.events.publish("incident.updated", Some(inc.id), format!("Note on {}", incident::display_number(inc.number)));
    Ok(t)
}

pub async fn add_responder(state: &AppState, auth: &Auth, inc: &Incident, user_id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Respond)?;
    Ok(state.db.add_responder(&auth.actor(), state.now(), inc.id, user_id).await?)
}

// ---- postmortems ----------------------------------------------------------------------------

/// A postmortem, or the template pre-filled from the incident while none is saved.
pub struct Postmortem {
    /// False while it is only the pre-filled template.
    pub saved: bool,
    pub spec: PostmortemSpec,
    pub author: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    pub action_items: Vec<ActionItem>,
}

/// The postmortem, or a template pre-filled from the incident when none is saved yet.
pub async fn postmortem_of(state: &AppState, inc: &Incident) -> Result<Postmortem, ApiError> {
    let action_items = state.db.list_action_items(Some(inc.id), false, 200).await?;
    Ok(match state.db.get_postmortem(inc.id).await? {
        Some(p) => Postmortem {
            saved: true,
            spec: p.spec,
            author: Some(p.author),
            updated_at: Some(p.updated_at),
            action_items,
        },
        None => {
            let tl = state.db.incident_timeline(inc, state.now()).await?;
            let timeline = tl
                .iter()
                .map(|t| format!("- {} — {} ({})", t.at.format("%Y-%m-%d %H:%M:%S UTC"), t.body, t.actor))
                .collect::<Vec<_>>()
                .join("\n");
            let spec = PostmortemSpec { impact: impact_template(inc), timeline, ..Default::default() };
            Postmortem { saved: false, spec, author: None, updated_at: None, action_items }
        }
    })
}

fn impact_template(inc: &Incident) -> String {
    let dur = |a: DateTime<Utc>, b: Option<DateTime<Utc>>| {
        b.map(|b| opsdeck_core::incident::human_duration((b - a).num_seconds())).unwrap_or_else(|| "—".into())
    };
    format!(
        "{} on {}: impact began {}, detected after {}, resolved after {} from impact start.",
        inc.severity,
        inc.service_name.as_deref().unwrap_or("an unknown service"),
        inc.impact_start_at.format("%Y-%m-%d %H:%M UTC"),
        dur(inc.impact_start_at, Some(inc.detected_at)),
        dur(inc.impact_start_at, inc.resolved_at),
    )
}

/// Saves the postmortem of a resolved incident (responder or higher).
pub async fn save_postmortem(
    state: &AppState,
    auth: &Auth,
    inc: &Incident,
    spec: PostmortemSpec,
) -> Result<(), ApiError> {
    auth.require(Permission::Respond)?;
    let spec = spec.validate()?;
    state.db.save_postmortem(&auth.actor(), state.now(), inc.id, spec).await?;
    Ok(())
}

pub async fn create_action_item(
    state: &AppState,
    auth: &Auth,
    inc: &Incident,
    spec: ActionItemSpec,
) -> Result<ActionItem, ApiError> {
    auth.require(Permission::Respond)?;
    Ok(state.db.create_action_item(&auth.actor(), state.now(), inc.id, spec).await?)
}

/// Changes to an action item; `None` keeps a field, `Some(None)` clears owner or due date.
#[derive(Debug, Clone, Default)]
pub struct ActionItemPatch {
    pub title: Option<String>,
    pub owner_id: Option<Option<Uuid>>,
    /// YYYY-MM-DD.
    pub due_date: Option<Option<String>>,
    /// open, in_progress or done.
    pub status: Option<String>,
}

pub async fn update_action_item(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    patch: ActionItemPatch,
) -> Result<ActionItem, ApiError> {
    auth.require(Permission::Respond)?;
    let cur = state.db.get_action_item(id).await?;
    let due = match patch.due_date {
        Some(d) => d,
        None => cur.due_date.map(|d| d.to_string()),
    };
    let spec = ActionItemSpec::new(
        patch.title.as_deref().unwrap_or(&cur.title),
        patch.owner_id.unwrap_or(cur.owner_id),
        due.as_deref(),
        Some(patch.status.as_deref().unwrap_or(cur.status.as_str())),
    )?;
    Ok(state.db.update_action_item(&auth.actor(), state.now(), id, spec).await?)
}

pub async fn delete_action_item(state: &AppState, auth: &Auth, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Respond)?;
    Ok(state.db.delete_action_item(&auth.actor(), state.now(), id).await?)
}

/// An optional note on a move or escalation: blank means none; at most `NOTE_MAX` characters.
fn optional_note(field: &'static str, note: Option<&str>) -> Result<Option<String>, ApiError> {
    match note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) if n.chars().count() > incident::NOTE_MAX => {
            Err(ApiError::invalid(field, format!("must be at most {} characters", incident::NOTE_MAX)))
        }
        other => Ok(other.map(str::to_owned)),
    }
}
