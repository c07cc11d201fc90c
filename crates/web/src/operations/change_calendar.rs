//! The change calendar and what a change's risk and conflicts read: maintenance and freeze
//! windows, approval rules, the risk questionnaire, the impact of a change's CIs, the
//! maintenance window that silences their monitors, and the changes before an incident.

use super::changes::{CHANGED, ChangeView};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::change::approval::ApprovalRule;
use opsdeck_core::change::conflict::{self, Conflict, Found, Planned};
use opsdeck_core::change::risk::{self, Known, Risk};
use opsdeck_core::change::spec::{ChangeSpec, Questionnaire, WindowSpec};
use opsdeck_core::change::{ChangeState, ChangeType};
use opsdeck_core::maintenance::{self, WindowInput};
use opsdeck_core::role::Permission;
use opsdeck_store::change::Change;
use opsdeck_store::change::approvals::StoredRule;
use opsdeck_store::change::calendar::CalendarWindow;
use opsdeck_store::cmdb::impact::Direction;
use uuid::Uuid;

/// The conflicts of `spec` (as change `id`; nil for one not saved yet) over its planned window,
/// or over `[from, end)` when `from` is given (work starting now); `None` when it has no planned
/// window.
pub async fn conflicts_at(
    state: &AppState,
    spec: &ChangeSpec,
    id: Uuid,
    from: Option<DateTime<Utc>>,
) -> Result<Option<Found>, ApiError> {
    let (Some(start), Some(end)) = (spec.planned_start, spec.planned_end) else {
        return Ok(None);
    };
    let start = from.unwrap_or(start).timestamp_millis();
    let end = end.timestamp_millis().max(start + 1);
    let me = Planned {
        id,
        number: "this change".into(),
        start,
        end,
        ci_ids: spec.ci_ids.clone(),
        implementer: spec.implementer_id,
    };
    let (from_t, to_t) = (opsdeck_core::clock::from_millis(start), opsdeck_core::clock::from_millis(end));
    let stored = state.db.change_windows_between(start, end).await?;
    let windows: Vec<_> = stored.iter().flat_map(|w| w.rules(from_t, to_t)).collect();
    let related = state.db.ci_neighbours(&spec.ci_ids).await?;
    let mut touched: Vec<Uuid> = spec.ci_ids.iter().chain(related.values().flatten()).copied().collect();
    touched.sort_unstable();
    touched.dedup();
    let others = state.db.booked_changes(start, end, &touched, spec.implementer_id).await?;
    let constrained = state.db.constrained_cis(&spec.ci_ids, state.now().timestamp_millis()).await?;
    let emergency = spec.kind == ChangeType::Emergency;
    let mut found = conflict::detect(&me, &others, &windows, &related, &constrained, emergency)
        .map_err(|e| ApiError::invalid("planned_end", e.to_string()))?;
    // Two occurrences of one recurring freeze inside the window are one conflict.
    found.conflicts.dedup();
    if let Some(user) = spec.implementer_id {
        let shifts = implementer_shifts(state, user, start, end).await?;
        if let Some(c) = conflict::off_shift(&me, shifts) {
            found.conflicts.insert(0, c);
            found.conflicts.truncate(conflict::REPORTED_MAX);
        }
    }
    Ok(Some(found))
}

/// When `user` is on call in `[start, end)` in the schedules they rotate in (`None`: they
/// rotate in none, so they keep office hours and are not checked).
async fn implementer_shifts(
    state: &AppState,
    user: Uuid,
    start: i64,
    end: i64,
) -> Result<Option<Vec<(i64, i64)>>, ApiError> {
    let schedules = state.db.list_schedules().await?;
    let theirs: Vec<_> = schedules.iter().filter(|s| s.spec.layers.iter().any(|l| l.users.contains(&user))).collect();
    if theirs.is_empty() {
        return Ok(None);
    }
    let (from, to) = (opsdeck_core::clock::from_millis(start), opsdeck_core::clock::from_millis(end));
    let mut out = Vec::new();
    for s in theirs {
        let overrides = state.db.overrides(s.id, from, to).await?;
        for shift in opsdeck_core::oncall::timeline(&s.spec, &overrides, from, to) {
            if shift.user_id == Some(user) {
                out.push((shift.start.timestamp_millis(), shift.end.timestamp_millis()));
            }
        }
    }
    Ok(Some(out))
}

/// Whether a freeze covers the rest of a change's work, from `now` to its planned end.
pub async fn frozen_from(state: &AppState, v: &ChangeView, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let c = &v.change;
    let spec = c.spec(v.cis.iter().map(|x| x.0).collect(), v.services.iter().map(|s| s.0).collect());
    let found = conflicts_at(state, &spec, c.id, Some(now)).await?;
    Ok(found.is_some_and(|f| f.conflicts.iter().any(|x| matches!(x, Conflict::InsideFreeze { .. }))))
}

/// The services a change to `cis` impacts: theirs and those of every CI that depends on them.
pub async fn impacted_services(state: &AppState, cis: &[Uuid]) -> Result<Vec<Uuid>, ApiError> {
    let own = state.db.cis_by_id(cis).await?;
    let walk = state.db.ci_walk(cis, opsdeck_core::cmdb::DEPTH_DEFAULT, Direction::Impact).await?;
    let mut out: Vec<Uuid> = Vec::new();
    for s in own.iter().filter_map(|c| c.service_id).chain(walk.items.iter().filter_map(|i| i.ci.service_id)) {
        if !out.contains(&s) && out.len() < opsdeck_core::change::spec::SERVICES_MAX {
            out.push(s);
        }
    }
    Ok(out)
}

/// The risk of `spec` (as change `id`): its answers, and what the catalogue, the CMDB, the
/// history of similar changes and the calendar know; with the conflicts it found on the way.
pub async fn assess(state: &AppState, spec: &ChangeSpec, id: Uuid) -> Result<(Risk, Option<Found>), ApiError> {
    let questionnaire = state.db.questionnaire().await?;
    let answers = questionnaire.score(&spec.answers).map_err(|e| ApiError::invalid("answers", e))?;
    let tiers = state.db.service_tiers(&spec.service_ids).await?;
    let impacted = if spec.ci_ids.is_empty() {
        0
    } else {
        let walk = state.db.ci_walk(&spec.ci_ids, opsdeck_core::cmdb::DEPTH_DEFAULT, Direction::Impact).await?;
        spec.ci_ids.len() + walk.items.iter().filter(|i| !spec.ci_ids.contains(&i.ci.id)).count()
    };
    let (failed, total) = state.db.similar_changes(&spec.ci_ids, &spec.service_ids, id).await?;
    let found = conflicts_at(state, spec, id, None).await?;
    let (collisions, outside) = found.as_ref().map_or((0, false), |f| {
        let outside = f.conflicts.iter().any(|c| matches!(c, Conflict::OutsideMaintenance { .. }));
        (f.collisions_total, outside)
    });
    let known = Known {
        tier1_services: tiers.iter().filter(|t| t.2 == 1).count(),
        impacted_cis: impacted,
        past_failures: (total > 0).then(|| (failed as f64 / total as f64, usize::try_from(total).unwrap_or(0))),
        conflicts: collisions,
        outside_window: outside,
        emergency: spec.kind == ChangeType::Emergency,
        outage_expected: spec.outage_expected,
    };
    Ok((risk::assess(&answers, &known), found))
}

/// Opens a maintenance window over a scheduled change's planned time for the monitors of its
/// CIs and the services its CIs stand for: no pages, and the time is left out of adjusted
/// availability. A change longer than a maintenance window may be is covered for its first
/// seven days; a change without monitors gets none. The move has happened by then: a window
/// that cannot be opened is logged, not an error of the move.
pub async fn silence(state: &AppState, auth: &Auth, c: &Change, v: &ChangeView) -> Result<Change, ApiError> {
    if let Err(e) = open_window(state, auth, c, v).await {
        tracing::warn!(change = %c.key(), error = %e.message, "the change's maintenance window was not opened");
    }
    Ok(state.db.get_change(c.id).await?)
}

/// Ends the maintenance window of a change whose work is over (`to` Review: it ends now;
/// Closed: it is removed, its time already counted as maintenance by the checks) or that will
/// not run as planned (a window not started yet is removed, one running ends now). Logged, not
/// an error of the move, when it fails.
pub async fn unsilence(state: &AppState, auth: &Auth, c: &Change, to: ChangeState) -> Result<Change, ApiError> {
    if let Err(e) = close_window(state, auth, c, to).await {
        tracing::warn!(change = %c.key(), error = %e.message, "the change's maintenance window was not ended");
    }
    Ok(state.db.get_change(c.id).await?)
}

async fn open_window(state: &AppState, auth: &Auth, c: &Change, v: &ChangeView) -> Result<Change, ApiError> {
    let (Some(start), Some(end)) = (c.planned_start, c.planned_end) else {
        return Ok(c.clone());
    };
    let ci_ids: Vec<Uuid> = v.cis.iter().map(|x| x.0).collect();
    let mut monitor_ids = state.db.monitors_of_cis(&ci_ids).await?;
    monitor_ids.truncate(maintenance::SCOPE_MAX);
    let mut service_ids: Vec<Uuid> = state.db.cis_by_id(&ci_ids).await?.iter().filter_map(|x| x.service_id).collect();
    service_ids.truncate(maintenance::SCOPE_MAX);
    if monitor_ids.is_empty() && service_ids.is_empty() {
        return Ok(c.clone());
    }
    let minutes = (end - start).num_minutes().clamp(1, i64::from(maintenance::DURATION_MAX_MINUTES));
    let name: String = format!("{} {}", c.key(), c.title).chars().take(opsdeck_core::validate::NAME_MAX).collect();
    let input = WindowInput {
        name: Some(name),
        description: Some(format!("The window of change {}", c.key())),
        starts_at: Some(start),
        duration_minutes: Some(minutes),
        service_ids: Some(service_ids),
        monitor_ids: Some(monitor_ids),
        ..WindowInput::default()
    };
    let spec = maintenance::WindowSpec::create(input)?;
    let w = state.db.create_window(&auth.actor(), state.now(), spec).await?;
    state.db.link_change_window(c.id, Some(w.id)).await?;
    super::status_pages::sync_maintenance(state).await;
    Ok(state.db.get_change(c.id).await?)
}

async fn close_window(state: &AppState, auth: &Auth, c: &Change, to: ChangeState) -> Result<Change, ApiError> {
    let Some(wid) = c.maintenance_window_id else {
        return Ok(c.clone());
    };
    let now = state.now();
    let actor = auth.actor();
    match state.db.get_window(wid).await {
        Ok(w) if w.spec.starts_at >= now || to == ChangeState::Closed => {
            state.db.delete_window(&actor, now, wid).await?;
            state.db.link_change_window(c.id, None).await?;
        }
        Ok(w) => {
            let ran = (now - w.spec.starts_at).num_minutes().max(1);
            if ran < i64::from(w.spec.duration_minutes) {
                let spec =
                    w.spec.clone().apply(WindowInput { duration_minutes: Some(ran), ..WindowInput::default() })?;
                state.db.update_window(&actor, now, wid, spec).await?;
            }
            if to != ChangeState::Review {
                state.db.link_change_window(c.id, None).await?;
            }
        }
        Err(_) => state.db.link_change_window(c.id, None).await?,
    }
    super::status_pages::sync_maintenance(state).await;
    Ok(state.db.get_change(c.id).await?)
}

/// The changes shown for one period at most (a month view with its edges).
pub const CALENDAR_CHANGES_MAX: usize = 2000;

/// A period of the change calendar.
pub struct Calendar {
    /// By start, at most [`CALENDAR_CHANGES_MAX`].
    pub changes: Vec<Change>,
    /// Each occurrence of each window, by start.
    pub windows: Vec<CalendarWindow>,
    /// More changes fall in the period than are listed.
    pub truncated: bool,
}

/// The changes and windows of `[from, to)` (at most 400 days).
pub async fn calendar(
    state: &AppState,
    auth: &Auth,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Calendar, ApiError> {
    auth.require(Permission::Read)?;
    opsdeck_core::time::check_span("to", from, to, Duration::days(400))?;
    let (f, t) = (from.timestamp_millis(), to.timestamp_millis());
    let mut changes = state.db.changes_between(f, t, CALENDAR_CHANGES_MAX as i64 + 1).await?;
    let truncated = changes.len() > CALENDAR_CHANGES_MAX;
    changes.truncate(CALENDAR_CHANGES_MAX);
    Ok(Calendar { changes, windows: occurrences(state, from, to).await?, truncated })
}

/// The windows' occurrences in `[from, to)`, by start: a recurring window once per occurrence.
async fn occurrences(
    state: &AppState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<CalendarWindow>, ApiError> {
    let stored = state.db.change_windows_between(from.timestamp_millis(), to.timestamp_millis()).await?;
    let mut out: Vec<CalendarWindow> = stored.iter().flat_map(|w| w.occurrences(from, to)).collect();
    out.sort_by_key(|w| (w.starts_at, w.id));
    Ok(out)
}

/// The windows as planned (a recurring one once, with its rule) that have not ended a month
/// ago or start within a year: what the windows page lists.
pub async fn window_list(state: &AppState, auth: &Auth) -> Result<Vec<CalendarWindow>, ApiError> {
    auth.require(Permission::Read)?;
    let now = state.now();
    let (f, t) = ((now - Duration::days(30)).timestamp_millis(), (now + Duration::days(366)).timestamp_millis());
    Ok(state.db.change_windows_between(f, t).await?)
}

/// Changes on an incident's CIs or services in the 24 hours before it started (and up to when
/// it was detected): what changed just before it broke.
pub async fn before_incident(state: &AppState, auth: &Auth, incident: Uuid) -> Result<Vec<Change>, ApiError> {
    auth.require(Permission::Read)?;
    let i = state.db.get_incident(incident).await?;
    let cis = state.db.incident_cis(incident).await?;
    let from = i.impact_start_at - Duration::hours(24);
    let to = i.detected_at.max(i.impact_start_at);
    Ok(state.db.changes_on(&cis, &i.service_ids, from.timestamp_millis(), to.timestamp_millis()).await?)
}

pub async fn save_window(
    state: &AppState,
    auth: &Auth,
    id: Option<Uuid>,
    spec: &WindowSpec,
) -> Result<CalendarWindow, ApiError> {
    auth.require(Permission::Configure)?;
    let found = state.db.cis_by_id(&spec.ci_ids).await?;
    if let Some(missing) = spec.ci_ids.iter().find(|id| !found.iter().any(|c| c.id == **id)) {
        return Err(ApiError::invalid("ci_ids", format!("no CI has the id {missing}")));
    }
    let w = state.db.save_change_window(&auth.actor(), state.now(), id, spec).await?;
    state.events.publish(CHANGED, Some(w.id), format!("{} window {} saved", w.kind.as_str(), w.name));
    Ok(w)
}

pub async fn get_window(state: &AppState, auth: &Auth, id: Uuid) -> Result<CalendarWindow, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.get_change_window(id).await?)
}

pub async fn delete_window(state: &AppState, auth: &Auth, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    state.db.delete_change_window(&auth.actor(), state.now(), id).await?;
    state.events.publish(CHANGED, Some(id), "change window deleted".to_owned());
    Ok(())
}

pub async fn rules(state: &AppState, auth: &Auth) -> Result<Vec<StoredRule>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.approval_rules().await?)
}

/// Saves an approval rule whose approvers are active users and whose services exist.
pub async fn save_rule(
    state: &AppState,
    auth: &Auth,
    id: Option<Uuid>,
    rule: &ApprovalRule,
) -> Result<StoredRule, ApiError> {
    auth.require(Permission::Configure)?;
    for a in &rule.approvers {
        match state.db.get_user(*a).await {
            Ok(u) if !u.disabled => {}
            _ => return Err(ApiError::invalid("approvers", format!("no active user has the id {a}"))),
        }
    }
    let services = state.db.service_tiers(&rule.service_ids).await?;
    if let Some(missing) = rule.service_ids.iter().find(|id| !services.iter().any(|s| s.0 == **id)) {
        return Err(ApiError::invalid("service_ids", format!("no service has the id {missing}")));
    }
    Ok(state.db.save_approval_rule(&auth.actor(), state.now(), id, rule).await?)
}

pub async fn delete_rule(state: &AppState, auth: &Auth, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    Ok(state.db.delete_approval_rule(&auth.actor(), state.now(), id).await?)
}

pub async fn questionnaire(state: &AppState, auth: &Auth) -> Result<Questionnaire, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.questionnaire().await?)
}

pub async fn save_questionnaire(state: &AppState, auth: &Auth, q: &Questionnaire) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    Ok(state.db.save_questionnaire(&auth.actor(), state.now(), q).await?)
}

/// The caller's change calendar feed URL. Its token is derived from the signing key and the
/// person's feed epoch: nothing secret is stored, and a new personal calendar link revokes it.
pub async fn feed_url(state: &AppState, auth: &Auth, base: &str) -> Result<String, ApiError> {
    auth.require(Permission::Read)?;
    let me = auth.user.id;
    let key = state.db.signing_key().await?;
    let epoch = state.db.feed_epoch(me).await?.unwrap_or_default();
    let token = opsdeck_core::escalation::change_feed_token(&key, me, epoch);
    Ok(format!("{base}/api/v1/changes/calendar.ics?token={token}"))
}

/// The changes and windows a feed `token` opens (from 30 days ago to 180 ahead), if it is an
/// enabled person's current token.
pub async fn feed(state: &AppState, token: &str) -> Result<Option<(Vec<Change>, Vec<CalendarWindow>)>, ApiError> {
    let Some(user) = opsdeck_core::escalation::change_feed_user(token) else { return Ok(None) };
    let Some(epoch) = state.db.feed_epoch(user).await? else { return Ok(None) };
    let key = state.db.signing_key().await?;
    if !opsdeck_core::escalation::change_feed_matches(&key, user, epoch, token) {
        return Ok(None);
    }
    match state.db.get_user(user).await {
        Ok(u) if !u.disabled => {}
        _ => return Ok(None),
    }
    let now = state.now();
    let (from, to) = (now - Duration::days(30), now + Duration::days(180));
    let changes = state.db.changes_between(from.timestamp_millis(), to.timestamp_millis(), 2000).await?;
    Ok(Some((changes, occurrences(state, from, to).await?)))
}
