//! On-call operations: schedules, overrides, escalation policies, contact methods, notification
//! rules and broadcast channels, and the "who is on call" read the API and the pages share.

use super::check_users;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::escalation::{
    ChannelConfig, ChannelKind, ChannelSpec, ContactSpec, PolicySpec, RuleSpec, Target, TargetKind,
};
use opsdeck_core::oncall::{self, Override, OverrideSpec, ScheduleSpec, Source};
use opsdeck_core::role::Permission;
use opsdeck_core::user;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::oncall::{Channel, ContactMethod, NotificationRule, Policy, Schedule};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

// ---- schedules --------------------------------------------------------------------------------

/// Validates a schedule against the database: its people are active users, its team exists.
async fn checked_schedule(state: &AppState, spec: ScheduleSpec) -> Result<ScheduleSpec, ApiError> {
    let spec = spec.validate()?;
    check_users(state, "users", spec.layers.iter().flat_map(|l| l.users.iter().copied())).await?;
    if let Some(t) = spec.team_id {
        state.db.get_team(Ref::Id(t)).await.map_err(|_| ApiError::invalid("team_id", "no such team"))?;
    }
    Ok(spec)
}

pub async fn create_schedule(state: &AppState, auth: &Auth, spec: ScheduleSpec) -> Result<Schedule, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = checked_schedule(state, spec).await?;
    Ok(state.db.create_schedule(&auth.actor(), state.now(), spec).await?)
}

pub async fn update_schedule(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    spec: ScheduleSpec,
) -> Result<Schedule, ApiError> {
    auth.require(Permission::Configure)?;
    state.db.get_schedule(id).await?;
    let spec = checked_schedule(state, spec).await?;
    Ok(state.db.update_schedule(&auth.actor(), state.now(), id, spec).await?)
}

pub async fn delete_schedule(state: &AppState, auth: &Auth, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    Ok(state.db.delete_schedule(&auth.actor(), state.now(), id).await?)
}

/// Someone covers part of a schedule: responders may, so a swap needs no manager.
pub async fn add_override(
    state: &AppState,
    auth: &Auth,
    schedule_id: Uuid,
    o: OverrideSpec,
) -> Result<Override, ApiError> {
    auth.require(Permission::Respond)?;
    let s = state.db.get_schedule(schedule_id).await?;
    check_users(state, "user_id", std::iter::once(o.user_id)).await?;
    Ok(state.db.add_override(&auth.actor(), state.now(), s.id, o.user_id, o.start, o.end).await?)
}

pub async fn delete_override(state: &AppState, auth: &Auth, schedule_id: Uuid, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Respond)?;
    Ok(state.db.delete_override(&auth.actor(), state.now(), schedule_id, id).await?)
}

// ---- who is on call ---------------------------------------------------------------------------

/// Whose on-call to look up.
pub enum Scope {
    /// Everyone the service's escalation policy reaches, by level.
    Service(Uuid),
    Schedule(Uuid),
    Team(Uuid),
    /// Every schedule.
    All,
}

/// One person on call.
#[derive(Debug, Clone)]
pub struct OnCall {
    pub user_id: Uuid,
    pub username: String,
    /// How people read the name (the display name, or the username when it has none).
    pub display_name: String,
    /// The person has no contact method: pages for them reach nobody.
    pub unreachable: bool,
    /// 1-based escalation level (for a service); 1 otherwise.
    pub level: i32,
    pub schedule_id: Option<Uuid>,
    /// `layer NAME`, `override`, or `direct` for a user target.
    pub via: String,
}

/// How someone came to be on call, as people read it.
pub fn via(spec: &ScheduleSpec, src: Source) -> String {
    match src {
        Source::Layer(i) => spec.layers.get(i).map(|l| format!("layer {}", l.name)).unwrap_or_default(),
        Source::Override(_) => "override".into(),
    }
}

/// Usernames of active users by id.
pub async fn names(state: &AppState, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, ApiError> {
    Ok(state.db.user_names(ids).await?.into_iter().map(|(id, u, _)| (id, u)).collect())
}

/// Who is on call at `at` in a schedule, and how (a layer or an override).
async fn on_call_in(state: &AppState, s: &Schedule, at: DateTime<Utc>) -> Result<Option<(Uuid, String)>, ApiError> {
    let day = Duration::days(1);
    let around = (at.checked_sub_signed(day).unwrap_or(at), at.checked_add_signed(day).unwrap_or(at));
    let o = state.db.overrides(s.id, around.0, around.1).await?;
    Ok(oncall::on_call(&s.spec, &o, at).map(|(u, src)| (u, via(&s.spec, src))))
}

/// The schedules a target stands for (none for a person).
async fn target_schedules(state: &AppState, t: &Target) -> Result<Vec<Uuid>, ApiError> {
    Ok(match t.kind {
        TargetKind::User => Vec::new(),
        TargetKind::Schedule => vec![t.id],
        TargetKind::Team => state.db.team_schedule_ids(t.id).await?,
    })
}

/// Who is on call at `at` within `scope`.
pub async fn who_is_on_call(state: &AppState, scope: Scope, at: DateTime<Utc>) -> Result<Vec<OnCall>, ApiError> {
    let mut out: Vec<Reached> = Vec::new();
    if let Scope::Service(sid) = scope {
        if let Some(pid) = state.db.service_policy(sid).await? {
            let p = state.db.get_policy(pid).await?;
            for (i, level) in p.spec.levels.iter().enumerate() {
                let level_no = i32::try_from(i + 1).unwrap_or(i32::MAX);
                for t in &level.targets {
                    if t.kind == TargetKind::User {
                        out.push((t.id, level_no, None, "direct".into()));
                    }
                    for sid in target_schedules(state, t).await? {
                        let Ok(s) = state.db.get_schedule(sid).await else { continue };
                        if let Some((u, via)) = on_call_in(state, &s, at).await? {
                            out.push((u, level_no, Some(sid), via));
                        }
                    }
                }
            }
        }
    } else {
        let schedules = match scope {
            Scope::Schedule(s) => vec![s],
            Scope::Team(t) => state.db.team_schedule_ids(t).await?,
            _ => state.db.list_schedules().await?.into_iter().map(|s| s.id).collect(),
        };
        for sid in schedules {
            let s = state.db.get_schedule(sid).await?;
            if let Some((u, via)) = on_call_in(state, &s, at).await? {
                out.push((u, 1, Some(sid), via));
            }
        }
    }
    named(state, out).await
}

/// Who each service's escalation policy reaches first (its level 1) at `at`, for lists of
/// services. A policy or schedule shared by many services is read once.
pub async fn first_on_call(
    state: &AppState,
    service_ids: &[Uuid],
    at: DateTime<Utc>,
) -> Result<HashMap<Uuid, Vec<OnCall>>, ApiError> {
    let policies = state.db.service_policy_ids(service_ids).await?;
    let mut by_schedule: HashMap<Uuid, Option<(Uuid, String)>> = HashMap::new();
    let mut by_policy: HashMap<Uuid, Vec<OnCall>> = HashMap::new();
    for pid in policies.values().copied().collect::<HashSet<Uuid>>() {
        let Ok(p) = state.db.get_policy(pid).await else { continue };
        let mut out: Vec<Reached> = Vec::new();
        for t in p.spec.levels.first().map(|l| l.targets.as_slice()).unwrap_or_default() {
            if t.kind == TargetKind::User {
                out.push((t.id, 1, None, "direct".into()));
            }
            for sid in target_schedules(state, t).await? {
                if let std::collections::hash_map::Entry::Vacant(slot) = by_schedule.entry(sid) {
                    let found = match state.db.get_schedule(sid).await {
                        Ok(s) => on_call_in(state, &s, at).await?,
                        Err(_) => None,
                    };
                    slot.insert(found);
                }
                if let Some(Some((u, via))) = by_schedule.get(&sid) {
                    out.push((*u, 1, Some(sid), via.clone()));
                }
            }
        }
        by_policy.insert(pid, named(state, out).await?);
    }
    Ok(policies.into_iter().filter_map(|(svc, pid)| Some((svc, by_policy.get(&pid)?.clone()))).collect())
}

/// Someone reached: (user, level, through which schedule, how).
type Reached = (Uuid, i32, Option<Uuid>, String);

/// Names the people reached (leaving out anyone no longer active), marking who has no contact
/// method.
async fn named(state: &AppState, out: Vec<Reached>) -> Result<Vec<OnCall>, ApiError> {
    let ids: Vec<Uuid> = out.iter().map(|o| o.0).collect();
    let n: HashMap<Uuid, (String, String)> =
        state.db.user_names(&ids).await?.into_iter().map(|(id, u, d)| (id, (u, d))).collect();
    let unreachable = unreachable_ids(state, &ids).await?;
    Ok(out
        .into_iter()
        .filter_map(|(u, level, schedule_id, via)| {
            n.get(&u).map(|(name, display)| OnCall {
                user_id: u,
                username: name.clone(),
                display_name: user::shown_name(name, display),
                unreachable: unreachable.contains(&u),
                level,
                schedule_id,
                via,
            })
        })
        .collect())
}

/// One stretch of a schedule's final timeline; `user_id` is `None` for a gap.
pub struct ShiftView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub user_id: Option<Uuid>,
    pub username: Option<String>,
    /// `layer NAME`, `override` or `gap`.
    pub via: String,
}

/// The final timeline of a schedule between `from` and `to`, gaps included.
pub async fn shifts(
    state: &AppState,
    s: &Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ShiftView>, ApiError> {
    let overrides = state.db.overrides(s.id, from, to).await?;
    let tl = oncall::timeline(&s.spec, &overrides, from, to);
    let ids: Vec<Uuid> = tl.iter().filter_map(|t| t.user_id).collect();
    let n = names(state, &ids).await?;
    Ok(tl
        .into_iter()
        .map(|t| ShiftView {
            start: t.start,
            end: t.end,
            username: t.user_id.and_then(|u| n.get(&u).cloned()),
            user_id: t.user_id,
            via: t.source.map(|src| via(&s.spec, src)).unwrap_or_else(|| "gap".into()),
        })
        .collect())
}

// ---- escalation policies ----------------------------------------------------------------------

/// Validates a policy against the database: every target exists.
async fn checked_policy(state: &AppState, spec: PolicySpec) -> Result<PolicySpec, ApiError> {
    let spec = spec.validate()?;
    for t in spec.levels.iter().flat_map(|l| l.targets.iter()) {
        let ok = match t.kind {
            TargetKind::User => !state.db.user_names(&[t.id]).await?.is_empty(),
            TargetKind::Schedule => state.db.get_schedule(t.id).await.is_ok(),
            TargetKind::Team => state.db.get_team(Ref::Id(t.id)).await.is_ok(),
        };
        if !ok {
            return Err(ApiError::invalid("levels", format!("no {:?} has id {}", t.kind, t.id).to_lowercase()));
        }
    }
    Ok(spec)
}

/// The caller's personal calendar feed URL (their shifts in every schedule). The token is
/// derived from the signing key and the person's feed epoch, so nothing secret is stored.
pub async fn personal_calendar_url(state: &AppState, auth: &Auth, base: &str) -> Result<String, ApiError> {
    auth.require(Permission::Read)?;
    let me = auth.user.id;
    let key = state.db.signing_key().await?;
    let epoch = state.db.feed_epoch(me).await?.unwrap_or_default();
    Ok(format!("{base}/users/{me}/calendar.ics?token={}", opsdeck_core::escalation::feed_token(&key, me, epoch)))
}

/// A new personal calendar link for the caller; the old one stops working.
pub async fn new_personal_calendar_url(state: &AppState, auth: &Auth) -> Result<(), ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.new_feed_epoch(&auth.actor(), state.now(), auth.user.id).await?)
}

/// The person whose calendar feed `token` opens, if it is their current token and they are
/// enabled.
pub async fn personal_feed_allowed(state: &AppState, user_id: Uuid, token: &str) -> Result<bool, ApiError> {
    let Some(epoch) = state.db.feed_epoch(user_id).await? else { return Ok(false) };
    let key = state.db.signing_key().await?;
    Ok(opsdeck_core::escalation::feed_token_matches(&key, user_id, epoch, token))
}

pub async fn create_policy(state: &AppState, auth: &Auth, spec: PolicySpec) -> Result<Policy, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = checked_policy(state, spec).await?;
    Ok(state.db.create_policy(&auth.actor(), state.now(), spec).await?)
}

pub async fn update_policy(state: &AppState, auth: &Auth, id: Uuid, spec: PolicySpec) -> Result<Policy, ApiError> {
    auth.require(Permission::Configure)?;
    state.db.get_policy(id).await?;
    let spec = checked_policy(state, spec).await?;
    Ok(state.db.update_policy(&auth.actor(), state.now(), id, spec).await?)
}

pub async fn delete_policy(state: &AppState, auth: &Auth, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    Ok(state.db.delete_policy(&auth.actor(), state.now(), id).await?)
}

/// Sets (or with `None` clears) the escalation policy of a service.
pub async fn set_service_policy(
    state: &AppState,
    auth: &Auth,
    service_id: Uuid,
    policy_id: Option<Uuid>,
) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    if let Some(p) = policy_id {
        state.db.get_policy(p).await.map_err(|_| ApiError::invalid("policy_id", "no such escalation policy"))?;
    }
    Ok(state.db.set_service_policy(&auth.actor(), state.now(), service_id, policy_id).await?)
}

// ---- contact methods and notification rules --------------------------------------------------

/// People manage their own contact methods and rules; admins anyone's.
fn may_manage(auth: &Auth, user_id: Uuid) -> Result<(), ApiError> {
    if user_id != auth.user.id {
        auth.require(Permission::Administer)?;
    }
    Ok(())
}

pub async fn add_contact_method(
    state: &AppState,
    auth: &Auth,
    user_id: Uuid,
    c: ContactSpec,
) -> Result<ContactMethod, ApiError> {
    may_manage(auth, user_id)?;
    Ok(state.db.add_contact_method(&auth.actor(), state.now(), user_id, c.kind, &c.address, &c.label).await?)
}

pub async fn delete_contact_method(state: &AppState, auth: &Auth, user_id: Uuid, id: Uuid) -> Result<(), ApiError> {
    may_manage(auth, user_id)?;
    Ok(state.db.delete_contact_method(&auth.actor(), state.now(), user_id, id).await?)
}

pub async fn add_notification_rule(
    state: &AppState,
    auth: &Auth,
    user_id: Uuid,
    r: RuleSpec,
) -> Result<NotificationRule, ApiError> {
    may_manage(auth, user_id)?;
    Ok(state
        .db
        .add_notification_rule(&auth.actor(), state.now(), user_id, r.contact_method_id, r.delay_minutes)
        .await?)
}

pub async fn delete_notification_rule(state: &AppState, auth: &Auth, user_id: Uuid, id: Uuid) -> Result<(), ApiError> {
    may_manage(auth, user_id)?;
    Ok(state.db.delete_notification_rule(&auth.actor(), state.now(), user_id, id).await?)
}

// ---- broadcast channels -----------------------------------------------------------------------

pub async fn create_channel(state: &AppState, auth: &Auth, c: ChannelSpec) -> Result<Channel, ApiError> {
    auth.require(Permission::Configure)?;
    if let Some(sid) = c.service_id {
        state.db.get_service(Ref::Id(sid)).await.map_err(|_| ApiError::invalid("service_id", "no such service"))?;
    }
    if let Some(t) = c.team_id {
        state.db.get_team(Ref::Id(t)).await.map_err(|_| ApiError::invalid("team_id", "no such team"))?;
    }
    Ok(state.db.create_channel(&auth.actor(), state.now(), &c.name, c.kind, c.config, c.service_id, c.team_id).await?)
}

pub async fn delete_channel(state: &AppState, auth: &Auth, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    Ok(state.db.delete_channel(&auth.actor(), state.now(), id).await?)
}

/// The people among `ids` who have no contact method: pages for them reach nobody.
pub async fn unreachable_ids(state: &AppState, ids: &[Uuid]) -> Result<HashSet<Uuid>, ApiError> {
    let reachable = state.db.users_with_contact_methods(ids).await?;
    Ok(ids.iter().copied().filter(|id| !reachable.contains(id)).collect())
}

/// Display names of the active people among `ids` who have no contact method, each once, in
/// the order given.
pub async fn unreachable_people(state: &AppState, ids: &[Uuid]) -> Result<Vec<String>, ApiError> {
    let mut seen = HashSet::new();
    let unique: Vec<Uuid> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    let unreachable = unreachable_ids(state, &unique).await?;
    let names: HashMap<Uuid, String> =
        state.db.user_names(&unique).await?.into_iter().map(|(id, u, d)| (id, user::shown_name(&u, &d))).collect();
    Ok(unique.iter().filter(|id| unreachable.contains(id)).filter_map(|id| names.get(id).cloned()).collect())
}

/// Sends a test message to each of the caller's own contact methods now: (method, outcome),
/// the outcome being the receiver's refusal when there was one.
pub async fn test_my_contact_methods(
    state: &AppState,
    auth: &Auth,
) -> Result<Vec<(String, Result<(), String>)>, ApiError> {
    let methods = state.db.contact_methods(auth.user.id).await?;
    if methods.is_empty() {
        return Err(ApiError::invalid("contact_methods", "add a contact method first: there is nothing to test"));
    }
    let Some(n) = state.notifier() else {
        return Err(ApiError::new(crate::error::ErrorCode::Unavailable, "the notifier is not running on this node"));
    };
    let mut out = Vec::new();
    for m in methods {
        let kind = ChannelKind::parse(&m.kind).unwrap_or(ChannelKind::Webhook);
        let config = if kind == ChannelKind::Email {
            ChannelConfig { to: Some(m.address.clone()), ..Default::default() }
        } else {
            ChannelConfig { url: Some(m.address.clone()), ..Default::default() }
        };
        let label = if m.label.is_empty() { m.kind.clone() } else { format!("{} ({})", m.label, m.kind) };
        let result = n.test_channel(kind, &config, &auth.user.display_name).await;
        out.push((label, result));
    }
    Ok(out)
}

/// Sends a test message through a channel now; `Ok(Err(reason))` when the receiver refused it.
pub async fn test_channel(state: &AppState, auth: &Auth, id: Uuid) -> Result<Result<Channel, String>, ApiError> {
    auth.require(Permission::Configure)?;
    let c = state.db.get_channel(id).await?;
    let Some(n) = state.notifier() else {
        return Err(ApiError::new(crate::error::ErrorCode::Unavailable, "the notifier is not running on this node"));
    };
    Ok(match n.test_channel(c.kind, &c.config, &c.name).await {
        Ok(()) => Ok(c),
        Err(e) => Err(e.to_string()),
    })
}
