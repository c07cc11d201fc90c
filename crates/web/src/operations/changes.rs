//! Change requests: raise, edit, assess and move them. The API, the pages and the CLI (through
//! the API) come here; the rules are `opsdeck_core::change`'s and are composed only here: the
//! risk (answers plus what the CMDB and history know), the conflicts (other changes, windows,
//! freezes), who must approve, and what each move does to monitoring (a scheduled change's
//! window silences the monitors of its CIs).

use super::change_calendar::{assess, conflicts_at};
use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ErrorCode};
use opsdeck_core::change::approval::{self, Approval, Subject};
use opsdeck_core::change::conflict::{Conflict, Found};
use opsdeck_core::change::risk::{Risk, RiskLevel};
use opsdeck_core::change::spec::{ChangeInput, ChangeSpec};
use opsdeck_core::change::{self, Action, ChangeState, ChangeType, CloseCode, Facts};
use opsdeck_core::role::Permission;
use opsdeck_store::Page;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::change::approvals::{Decision, Override};
use opsdeck_store::change::{Change, ChangeFilter, Move, Origin};
use uuid::Uuid;

pub const CHANGED: &str = "change.changed";

/// A conflict as people see it: its key (for overrides), words, whether a reason accepted it,
/// and whether it can be accepted at all (a freeze cannot).
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictView {
    pub key: String,
    pub conflict: Conflict,
    pub text: String,
    pub overridable: bool,
    pub accepted: Option<Override>,
}

/// A change with everything its page shows.
#[derive(Debug, Clone)]
pub struct ChangeView {
    pub change: Change,
    pub cis: Vec<(Uuid, String)>,
    pub services: Vec<(Uuid, String, i16)>,
    pub conflicts: Vec<ConflictView>,
    /// Collisions with other changes in all (only the first 200 are listed).
    pub collisions_total: usize,
    /// What approvals the rules still want, in words (`None`: none).
    pub approvals_missing: Option<String>,
    pub decisions: Vec<Decision>,
    /// Whether the viewer is an approver of a rule covering it.
    pub may_decide: bool,
    /// The lockdown reason holding it (an in-flight change that is not an emergency).
    pub on_hold: Option<String>,
}

impl ChangeView {
    /// Conflicts not accepted with a reason (freezes are counted by the state rules).
    pub fn open_conflicts(&self) -> usize {
        self.conflicts.iter().filter(|c| c.overridable && c.accepted.is_none()).count()
    }

    pub fn frozen(&self) -> bool {
        self.conflicts.iter().any(|c| !c.overridable)
    }
}

/// What a move carries: the close code and notes, or a decision's comment.
#[derive(Debug, Clone, Default)]
pub struct ActInput {
    pub close_code: Option<String>,
    pub notes: Option<String>,
    /// The version the caller saw; a move on an older one is refused.
    pub version: Option<i64>,
}

pub fn key(c: &Conflict) -> String {
    match c {
        Conflict::SameCi { change_id, .. } => format!("same_ci:{change_id}"),
        Conflict::RelatedCi { change_id, .. } => format!("related_ci:{change_id}"),
        Conflict::OutsideMaintenance { ci } => format!("outside_maintenance:{ci}"),
        Conflict::InsideFreeze { window_id, .. } => format!("inside_freeze:{window_id}"),
        Conflict::ImplementerBusy { change_id, .. } => format!("implementer_busy:{change_id}"),
        Conflict::ImplementerOffShift { user_id } => format!("implementer_off_shift:{user_id}"),
    }
}

/// A conflict in words, CIs named from `names`.
pub fn describe(c: &Conflict, names: &dyn Fn(Uuid) -> String) -> String {
    match c {
        Conflict::SameCi { change, ci, .. } => format!("{change} is scheduled on {} at the same time", names(*ci)),
        Conflict::RelatedCi { change, ci, related, .. } => {
            format!("{change} is scheduled at the same time on {}, which is related to {}", names(*related), names(*ci))
        }
        Conflict::OutsideMaintenance { ci } => format!("{} is changed outside its maintenance windows", names(*ci)),
        Conflict::InsideFreeze { window, .. } => {
            format!("inside the change freeze {window}: only emergency changes go ahead")
        }
        Conflict::ImplementerBusy { change, .. } => format!("the implementer is booked on {change} at the same time"),
        Conflict::ImplementerOffShift { .. } => {
            "the implementer is not on shift in their on-call rotation for all of the window".to_owned()
        }
    }
}

/// The conflicts found, in words (CIs by name), with the reasons that accepted them.
async fn conflict_views(
    state: &AppState,
    found: Option<Found>,
    overrides: &[Override],
) -> Result<Vec<ConflictView>, ApiError> {
    let Some(f) = found else { return Ok(Vec::new()) };
    let mut ids: Vec<Uuid> = Vec::new();
    for c in &f.conflicts {
        match c {
            Conflict::SameCi { ci, .. } | Conflict::OutsideMaintenance { ci } => ids.push(*ci),
            Conflict::RelatedCi { ci, related, .. } => ids.extend([*ci, *related]),
            Conflict::InsideFreeze { .. } | Conflict::ImplementerBusy { .. } | Conflict::ImplementerOffShift { .. } => {
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let cis = state.db.cis_by_id(&ids).await?;
    let names = |ci: Uuid| cis.iter().find(|c| c.id == ci).map_or_else(|| ci.to_string(), |c| c.name.clone());
    Ok(f.conflicts
        .iter()
        .map(|c| {
            let k = key(c);
            ConflictView {
                accepted: overrides.iter().find(|o| o.conflict_key == k).cloned(),
                overridable: !matches!(c, Conflict::InsideFreeze { .. }),
                text: describe(c, &names),
                conflict: c.clone(),
                key: k,
            }
        })
        .collect())
}

pub async fn list(state: &AppState, auth: &Auth, filter: &ChangeFilter) -> Result<Page<Change>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.change_requests(filter).await?)
}

/// A change by id or by `CHG-n`.
pub async fn find(state: &AppState, auth: &Auth, reference: &str) -> Result<Change, ApiError> {
    auth.require(Permission::Read)?;
    let r = reference.trim();
    let number = r.strip_prefix("CHG-").or_else(|| r.strip_prefix("chg-")).unwrap_or(r);
    if let Ok(n) = number.parse::<i64>() {
        return Ok(state.db.change_by_number(n).await?);
    }
    match Uuid::parse_str(r) {
        Ok(id) => Ok(state.db.get_change(id).await?),
        Err(_) => Err(ApiError::not_found(opsdeck_core::Entity::Change)),
    }
}

/// A change with its links, conflicts (live: other changes move), approvals and decisions.
pub async fn view(state: &AppState, auth: &Auth, id: Uuid) -> Result<ChangeView, ApiError> {
    auth.require(Permission::Read)?;
    let change = state.db.get_change(id).await?;
    let (cis, services) = state.db.change_links(id).await?;
    let spec = change.spec(cis.iter().map(|c| c.0).collect(), services.iter().map(|s| s.0).collect());
    let found = if change.state.is_terminal() || change.state == ChangeState::Review {
        None
    } else {
        conflicts_at(state, &spec, change.id, None).await?
    };
    let overrides = state.db.change_overrides(id).await?;
    let collisions_total = found.as_ref().map_or(0, |f| f.collisions_total);
    let conflicts = conflict_views(state, found, &overrides).await?;
    let decisions = state.db.change_decisions(id).await?;
    let rules: Vec<_> = state.db.approval_rules().await?.into_iter().map(|r| r.rule).collect();
    let subject = Subject { kind: change.kind, risk: change.risk.level, service_ids: &spec.service_ids };
    let given: Vec<Approval> = decisions
        .iter()
        .filter(|d| d.revision == change.revision && d.decision == "approved")
        .map(|d| Approval { user: d.user_id })
        .collect();
    let approvals_missing = approval::missing(&rules, &subject, &given);
    let may_decide = approval::may_decide(&rules, &subject, auth.user.id);
    // Work under way is not held: it may still go to review or be backed out.
    let in_flight = matches!(change.state, ChangeState::Authorize | ChangeState::Scheduled);
    let on_hold = if in_flight && change.kind != ChangeType::Emergency {
        super::change_lockdown::reason(state).await?
    } else {
        None
    };
    Ok(ChangeView {
        change,
        cis,
        services,
        conflicts,
        collisions_total,
        approvals_missing,
        decisions,
        may_decide,
        on_hold,
    })
}

/// The spec of `input`, its CIs, services and people checked to exist; the services its CIs
/// impact through the CMDB are always added to those named (naming one cannot hide a tier-1
/// service from the risk and the approval rules). `saved_start`: see `ChangeSpec::new`.
async fn spec(
    state: &AppState,
    input: &ChangeInput,
    saved_start: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<ChangeSpec, ApiError> {
    let mut input = input.clone();
    super::change_templates::apply(state, &mut input).await?;
    let input = &input;
    let questionnaire = state.db.questionnaire().await?;
    let mut spec = ChangeSpec::new(input, state.now(), &questionnaire, saved_start)?;
    let found = state.db.cis_by_id(&spec.ci_ids).await?;
    if let Some(missing) = spec.ci_ids.iter().find(|id| !found.iter().any(|c| c.id == **id)) {
        return Err(ApiError::invalid("ci_ids", format!("no CI has the id {missing}")));
    }
    let services = state.db.service_tiers(&spec.service_ids).await?;
    if let Some(missing) = spec.service_ids.iter().find(|id| !services.iter().any(|s| s.0 == **id)) {
        return Err(ApiError::invalid("service_ids", format!("no service has the id {missing}")));
    }
    for (field, user) in [("assignee_id", spec.assignee_id), ("implementer_id", spec.implementer_id)] {
        if let Some(u) = user {
            match state.db.get_user(u).await {
                Ok(u) if !u.disabled => {}
                _ => return Err(ApiError::invalid(field, format!("no active user has the id {u}"))),
            }
        }
    }
    if !spec.ci_ids.is_empty() {
        for s in super::change_calendar::impacted_services(state, &spec.ci_ids).await? {
            if !spec.service_ids.contains(&s) && spec.service_ids.len() < opsdeck_core::change::spec::SERVICES_MAX {
                spec.service_ids.push(s);
            }
        }
    }
    Ok(spec)
}

/// Raises a change request (responders and up).
pub async fn create(state: &AppState, auth: &Auth, input: &ChangeInput) -> Result<Change, ApiError> {
    auth.require(Permission::Respond)?;
    let spec = spec(state, input, None).await?;
    let (risk, _) = assess(state, &spec, Uuid::nil()).await?;
    let c = state.db.create_change(&auth.actor(), state.now(), &spec, &risk, &Origin::manual()).await?;
    state.events.publish(CHANGED, Some(c.id), format!("{} raised", c.key()));
    Ok(c)
}

/// The risk and conflicts `input` would have, without saving (the form's live feedback); for an
/// edit, `of` is the change edited (it does not collide with itself).
pub async fn preview(
    state: &AppState,
    auth: &Auth,
    input: &ChangeInput,
    of: Option<&Change>,
) -> Result<(ChangeSpec, Risk, Vec<ConflictView>), ApiError> {
    auth.require(Permission::Respond)?;
    let spec = spec(state, input, of.and_then(|c| c.planned_start)).await?;
    let id = of.map_or(Uuid::nil(), |c| c.id);
    let (risk, found) = assess(state, &spec, id).await?;
    let conflicts = conflict_views(state, found, &[]).await?;
    Ok((spec, risk, conflicts))
}

/// Edits a change before work starts. An edit that changes what approvals were given for
/// (type, CIs, services, window, answers) withdraws them: an authorising or scheduled change
/// goes back to Authorize (a standard one to New) and its maintenance window is removed.
pub async fn update(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    input: &ChangeInput,
    version: Option<i64>,
) -> Result<Change, ApiError> {
    auth.require(Permission::Respond)?;
    let before = state.db.get_change(id).await?;
    check_version(&before, version)?;
    if matches!(before.state, ChangeState::Implement | ChangeState::Review) || before.state.is_terminal() {
        return Err(ApiError::conflict(format!(
            "{} is {}; its plan is fixed once work has started",
            before.key(),
            before.state.as_str()
        )));
    }
    // An edit of a standard change keeps its template unless it names another.
    let mut input = input.clone();
    if input.template_id.is_none() && input.kind.as_deref().is_none_or(|k| k == ChangeType::Standard.as_str()) {
        input.template_id = before.template_id;
    }
    let spec = spec(state, &input, before.planned_start).await?;
    let (cis, services) = state.db.change_links(id).await?;
    let old = before.spec(cis.iter().map(|c| c.0).collect(), services.iter().map(|s| s.0).collect());
    let reauthorise = old.reauthorise(&spec);
    let to = match (reauthorise, before.state) {
        (true, ChangeState::Scheduled) if spec.kind == ChangeType::Standard => ChangeState::New,
        (true, ChangeState::Scheduled | ChangeState::Authorize) if spec.kind != ChangeType::Standard => {
            ChangeState::Authorize
        }
        (true, ChangeState::Authorize) => ChangeState::New,
        (_, s) => s,
    };
    let (risk, _) = assess(state, &spec, id).await?;
    let mut c = state.db.update_change(&auth.actor(), state.now(), &before, &spec, &risk, reauthorise, to).await?;
    if to != ChangeState::Scheduled && c.maintenance_window_id.is_some() {
        c = super::change_calendar::unsilence(state, auth, &c, ChangeState::Authorize).await?;
        c = state.db.get_change(c.id).await?;
    }
    if c.state == ChangeState::Authorize {
        super::change_approval_mail::ask_approvers(state, auth, c.id).await;
    }
    state.events.publish(CHANGED, Some(c.id), format!("{} edited", c.key()));
    Ok(c)
}

fn check_version(c: &Change, version: Option<i64>) -> Result<(), ApiError> {
    super::check_version(&c.key(), c.version, version)
}

/// Asks for `action` on a change. Approve and reject are decisions of an approver of a rule
/// covering the change; every other move is a responder's and follows the state rules, which
/// name what is missing when they refuse (answered as 409).
pub async fn act(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    action: Action,
    input: &ActInput,
) -> Result<Change, ApiError> {
    auth.require(Permission::Read)?;
    let before = state.db.get_change(id).await?;
    check_version(&before, input.version)?;
    let notes = input.notes.as_deref().unwrap_or("").trim();
    if notes.chars().count() > opsdeck_core::validate::DESCRIPTION_MAX {
        return Err(ApiError::invalid("comment", "must be at most 4000 characters"));
    }
    let v = view(state, auth, id).await?;
    if matches!(action, Action::Approve | Action::Reject) {
        return decide(state, auth, v, action == Action::Approve, notes).await;
    }
    auth.require(Permission::Respond)?;
    let close_code = match input.close_code.as_deref() {
        None => None,
        Some(c) => Some(
            CloseCode::parse(c)
                .ok_or_else(|| ApiError::invalid("close_code", format!("must be {}", CloseCode::choices())))?,
        ),
    };
    if let (Some(code), Some(_)) = (close_code, before.caused_incident_id)
        && code.succeeded()
    {
        return Err(ApiError::conflict(format!(
            "{} caused an incident; close it as unsuccessful or backed_out",
            before.key()
        )));
    }
    let now = state.now();
    let mut facts = Facts {
        approvals_missing: v.approvals_missing.clone(),
        planned: before.planned_start.is_some() && before.planned_end.is_some(),
        open_conflicts: v.open_conflicts(),
        frozen: v.frozen(),
        close_code,
        lockdown: super::change_lockdown::reason(state).await?,
    };
    // A standard change is pre-approved routine work: one that scores above low risk is not
    // routine, and goes through assessment and approval as a normal change.
    if action == Action::Submit && before.kind == ChangeType::Standard && before.risk.level > RiskLevel::Low {
        return Err(ApiError::conflict(format!(
            "{} scores {} risk: a standard change must be low risk; make it a normal change",
            before.key(),
            before.risk.level.as_str()
        )));
    }
    if action == Action::Implement {
        // Work starts in its approved window (a quarter of an hour early at most), and what
        // matters is a freeze from now to the end of the work, not over the plan.
        if let Some(start) = before.planned_start
            && now < start - chrono::Duration::minutes(15)
            && before.kind != ChangeType::Emergency
        {
            return Err(ApiError::conflict(format!(
                "{} is planned from {}; start it in its window, or reschedule it",
                before.key(),
                start.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        facts.frozen = super::change_calendar::frozen_from(state, &v, now).await?;
    }
    let to = change::next(before.kind, before.state, action, &facts).map_err(|r| ApiError::conflict(r.0))?;
    let mut m = Move { close_code, close_notes: (!notes.is_empty()).then(|| notes.to_owned()), ..Move::default() };
    match action {
        Action::Implement => m.actual_start = Some(now),
        Action::Review => m.actual_end = Some(now),
        _ => {}
    }
    let mut c = state.db.move_change(&auth.actor(), now, &before, action, to, &m).await?;
    match to {
        ChangeState::Scheduled if before.state != ChangeState::Scheduled => {
            c = super::change_calendar::silence(state, auth, &c, &v).await?;
        }
        ChangeState::Review | ChangeState::Closed | ChangeState::Canceled | ChangeState::New => {
            c = super::change_calendar::unsilence(state, auth, &c, to).await?;
        }
        ChangeState::Authorize if before.state != ChangeState::Authorize => {
            super::change_approval_mail::ask_approvers(state, auth, c.id).await;
        }
        _ => {}
    }
    if to == ChangeState::Closed
        && matches!(c.close_code, Some(CloseCode::Successful | CloseCode::SuccessfulWithIssues))
    {
        super::problems::fix_shipped(state, auth, c.id).await;
    }
    state.events.publish(CHANGED, Some(c.id), format!("{} {}", c.key(), to.as_str()));
    Ok(c)
}

/// An approver's decision on the change as it stands. A rejection sends it back to New with
/// every approval withdrawn; the approval that completes what the rules want schedules an
/// authorising change when nothing else holds it.
async fn decide(
    state: &AppState,
    auth: &Auth,
    v: ChangeView,
    approve: bool,
    comment: &str,
) -> Result<Change, ApiError> {
    let c = &v.change;
    let action = if approve { Action::Approve } else { Action::Reject };
    change::next(c.kind, c.state, action, &Facts::default()).map_err(|r| ApiError::conflict(r.0))?;
    if !v.may_decide {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "{} is not an approver of any rule covering {} ({})",
                auth.user.username,
                c.key(),
                v.approvals_missing.as_deref().unwrap_or("no approvals are wanted")
            ),
        ));
    }
    if !approve && comment.is_empty() {
        return Err(ApiError::invalid("comment", "say why the change is rejected"));
    }
    let now = state.now();
    state.db.record_decision(&auth.actor(), now, c, auth.user.id, approve, comment).await?;
    let mut out = state.db.get_change(c.id).await?;
    if !approve {
        let m = Move { withdraw_approvals: true, ..Move::default() };
        out = state.db.move_change(&auth.actor(), now, &out, Action::Reject, ChangeState::New, &m).await?;
        out = super::change_calendar::unsilence(state, auth, &out, ChangeState::New).await?;
    } else if out.state == ChangeState::Authorize {
        let fresh = view(state, auth, c.id).await?;
        let facts = Facts {
            approvals_missing: fresh.approvals_missing.clone(),
            planned: out.planned_start.is_some() && out.planned_end.is_some(),
            open_conflicts: fresh.open_conflicts(),
            frozen: fresh.frozen(),
            close_code: None,
            lockdown: super::change_lockdown::reason(state).await?,
        };
        if change::next(out.kind, out.state, Action::Schedule, &facts).is_ok() {
            let (actor, m) = (auth.actor(), Move::default());
            let scheduled =
                state.db.move_change(&actor, now, &out, Action::Schedule, ChangeState::Scheduled, &m).await?;
            out = super::change_calendar::silence(state, auth, &scheduled, &fresh).await?;
        }
    }
    state.events.publish(
        CHANGED,
        Some(out.id),
        format!("{} {}", out.key(), if approve { "approved" } else { "rejected" }),
    );
    Ok(out)
}

/// Accepts a conflict of a change with a reason, so it no longer blocks scheduling. A freeze is
/// not accepted this way: only an emergency change passes one.
pub async fn accept_conflict(state: &AppState, auth: &Auth, id: Uuid, key: &str, reason: &str) -> Result<(), ApiError> {
    auth.require(Permission::Respond)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(ApiError::invalid("reason", "say in 1 to 1000 characters why the conflict is acceptable"));
    }
    let v = view(state, auth, id).await?;
    let Some(found) = v.conflicts.iter().find(|c| c.key == key) else {
        return Err(ApiError::invalid("conflict", format!("{} has no open conflict {key:?}", v.change.key())));
    };
    if !found.overridable {
        return Err(ApiError::conflict("a change freeze is not overridden; only an emergency change passes it"));
    }
    state.db.override_conflict(&auth.actor(), state.now(), &v.change, key, reason).await?;
    state.events.publish(CHANGED, Some(id), format!("{} conflict accepted", v.change.key()));
    Ok(())
}

/// Marks a change as the cause of an incident: a closed change then counts as unsuccessful, an
/// open one may only be closed as unsuccessful or backed out.
pub async fn mark_cause(state: &AppState, auth: &Auth, id: Uuid, incident: Uuid) -> Result<Change, ApiError> {
    auth.require(Permission::Respond)?;
    let c = state.db.get_change(id).await?;
    let i = state.db.get_incident(incident).await.map_err(|_| ApiError::invalid("incident_id", "no such incident"))?;
    if c.actual_start.is_none() {
        return Err(ApiError::conflict(format!(
            "{} never ran ({}); it cannot have caused an incident",
            c.key(),
            c.state.as_str()
        )));
    }
    let out = state.db.mark_change_cause(&auth.actor(), state.now(), &c, i.id, &format!("INC-{}", i.number)).await?;
    state.events.publish(CHANGED, Some(id), format!("{} caused INC-{}", c.key(), i.number));
    Ok(out)
}

/// Whether `user` may see `id` as an approver: for the approval inbox.
pub async fn inbox(state: &AppState, auth: &Auth) -> Result<Vec<ChangeView>, ApiError> {
    auth.require(Permission::Read)?;
    let filter = ChangeFilter {
        states: vec![ChangeState::Authorize, ChangeState::Scheduled],
        limit: Some(200),
        ..ChangeFilter::default()
    };
    let page = state.db.change_requests(&filter).await?;
    let mut out = Vec::new();
    for c in page.items {
        let v = view(state, auth, c.id).await?;
        let decided = v.decisions.iter().any(|d| d.user_id == auth.user.id && d.revision == v.change.revision);
        if v.approvals_missing.is_some() && v.may_decide && !decided {
            out.push(v);
        }
    }
    Ok(out)
}

/// A user by id or username, for forms and the CLI.
pub async fn person(state: &AppState, field: &'static str, reference: &str) -> Result<Uuid, ApiError> {
    let r = reference.trim();
    if let Ok(id) = Uuid::parse_str(r) {
        return Ok(id);
    }
    match state.db.find_user_by_username(&r.to_lowercase()).await {
        Ok(u) => Ok(u.id),
        Err(_) => Err(ApiError::invalid(field, format!("no user is called {r:?}"))),
    }
}

/// A service by id or slug.
pub async fn service(state: &AppState, reference: &str) -> Result<Uuid, ApiError> {
    let r = reference.trim();
    let found = match Uuid::parse_str(r) {
        Ok(id) => state.db.get_service(Ref::Id(id)).await,
        Err(_) => state.db.get_service(Ref::Slug(r)).await,
    };
    found.map(|s| s.service.id).map_err(|_| ApiError::invalid("service_ids", format!("no service {r:?}")))
}
