//! Users, teams, schedules (with overrides) and escalation policies.

use super::{Decision, Run, item_digest};
use crate::error::ApiError;
use crate::operations::{catalogue, oncall, users};
use opsdeck_core::catalogue::TeamSpec;
use opsdeck_core::escalation::{ContactSpec, Level, PolicySpec, Target, TargetKind};
use opsdeck_core::import::{ObjectKind, PolicyItem, ScheduleItem, TeamItem, UserItem, username_from};
use opsdeck_core::oncall::{Layer, OverrideSpec, ScheduleSpec};
use opsdeck_core::{user, validate};
use opsdeck_store::catalogue::Ref;
use opsdeck_store::user::{NewUser, UserPatch};
use std::collections::HashSet;

/// Imported accounts have no password: an admin sets one (or the person asks for one) before
/// they sign in. A hash no password matches.
pub const NO_PASSWORD: &str = "!imported: no password set";

fn why(e: impl Into<ApiError>) -> String {
    e.into().message
}

struct CheckedUser {
    email: String,
    name: String,
    contacts: Vec<ContactSpec>,
}

fn check_user(u: &UserItem) -> Result<CheckedUser, String> {
    let email = user::email(Some(&u.email)).map_err(why)?.ok_or("has no e-mail address")?;
    let name = if u.name.trim().is_empty() { email.clone() } else { validate::name("name", &u.name).map_err(why)? };
    let contacts = u
        .contacts
        .iter()
        .map(|c| ContactSpec::new(c.kind.as_str(), &c.address, &c.label).map_err(why))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CheckedUser { email, name, contacts })
}

/// A username nobody has (nor any account this run creates).
fn free_username(taken: &mut HashSet<String>, email: &str, name: &str) -> String {
    let base = username_from(email, name);
    let mut candidate = base.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        let suffix = format!("-{n}");
        let keep = opsdeck_core::user::USERNAME_MAX - suffix.len();
        candidate = format!("{}{suffix}", base.chars().take(keep).collect::<String>());
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

pub async fn users(run: &mut Run<'_>, items: &[UserItem]) -> Result<(), ApiError> {
    let mut taken = run.existing.usernames.clone();
    for u in items {
        let d = item_digest(u);
        let adopt = run.existing.users_by_email.get(&u.email.trim().to_lowercase()).copied();
        let decision = run.decide(ObjectKind::User, &u.source_id, &d, adopt);
        let checked = match check_user(u) {
            Ok(c) => c,
            Err(e) => {
                run.finish((ObjectKind::User, &u.source_id, &u.name), &decision, &d, Err(e), String::new()).await?;
                continue;
            }
        };
        let (state, auth) = (run.state, run.auth);
        let username = matches!(decision, Decision::Create).then(|| free_username(&mut taken, &checked.email, &u.name));
        // What fails after the object is written is a note: the object and its link stay, so a
        // re-run does not write it again.
        let mut later: Vec<String> = Vec::new();
        let done = run
            .written(&decision, async {
                let id = match decision {
                    Decision::Update(id) => {
                        let current = state.db.get_user(id).await?;
                        let patch = UserPatch {
                            display_name: Some(checked.name.clone()),
                            email: Some(Some(checked.email.clone())),
                            role: None,
                            disabled: None,
                        };
                        users::update_user(state, auth, &current, patch).await?.id
                    }
                    _ => {
                        let new = NewUser {
                            username: username.clone().unwrap_or_default(),
                            display_name: checked.name.clone(),
                            email: Some(checked.email.clone()),
                            role: u.role,
                            password_hash: NO_PASSWORD.into(),
                        };
                        let created = users::create_user(state, auth, new).await?;
                        for c in &checked.contacts {
                            if let Err(e) = oncall::add_contact_method(state, auth, created.id, c.clone()).await {
                                later.push(format!("contact {} not added: {}", c.address, e.message));
                            }
                        }
                        created.id
                    }
                };
                Ok(id)
            })
            .await;
        let note = match (&decision, &username) {
            (Decision::Adopt(_), _) => "an account with this e-mail exists: linked, not changed".to_owned(),
            (_, Some(name)) => format!("username {name}; no password until an admin sets one"),
            _ => String::new(),
        };
        let note = [note].into_iter().chain(later).filter(|n| !n.is_empty()).collect::<Vec<_>>().join("; ");
        run.finish((ObjectKind::User, &u.source_id, &checked.name), &decision, &d, done, note).await?;
    }
    Ok(())
}

pub async fn teams(run: &mut Run<'_>, items: &[TeamItem]) -> Result<(), ApiError> {
    for t in items {
        let d = item_digest(t);
        let slug = validate::slugify(&t.name);
        let adopt = run.existing.teams_by_slug.get(&slug).copied();
        let decision = run.decide(ObjectKind::Team, &t.source_id, &d, adopt);
        let spec = match TeamSpec::new(&t.name, None, Some(&t.description)) {
            Ok(s) => s,
            Err(e) => {
                run.finish((ObjectKind::Team, &t.source_id, &t.name), &decision, &d, Err(why(e)), String::new())
                    .await?;
                continue;
            }
        };
        let mut members = Vec::new();
        let mut left_out = Vec::new();
        for m in &t.members {
            match run.resolve(ObjectKind::User, m) {
                Ok(id) => members.push(id),
                Err(e) => left_out.push(e),
            }
        }
        let (state, auth) = (run.state, run.auth);
        let mut later: Vec<String> = Vec::new();
        let done = run
            .written(&decision, async {
                let team = match decision {
                    Decision::Update(id) => {
                        let current = state.db.get_team(Ref::Id(id)).await?;
                        catalogue::update_team(state, auth, &current, spec.clone()).await?
                    }
                    _ => catalogue::create_team(state, auth, spec.clone()).await?,
                };
                for m in &members {
                    if let Err(e) = catalogue::add_member(state, auth, &team, *m).await {
                        later.push(format!("a member was not added: {}", e.message));
                    }
                }
                Ok(team.id)
            })
            .await;
        let note = match &decision {
            Decision::Adopt(_) => "a team with this slug exists: linked, not changed".to_owned(),
            _ if !left_out.is_empty() => format!("members left out: {}", left_out.join("; ")),
            _ => String::new(),
        };
        let note = [note].into_iter().chain(later).filter(|n| !n.is_empty()).collect::<Vec<_>>().join("; ");
        run.finish((ObjectKind::Team, &t.source_id, &t.name), &decision, &d, done, note).await?;
    }
    Ok(())
}

/// The schedule with Opsdeck ids; people who were not imported are left out of their layers
/// (named in the note), a layer left with nobody is dropped.
fn schedule_spec(run: &Run<'_>, s: &ScheduleItem, notes: &mut Vec<String>) -> ScheduleSpec {
    let mut layers = Vec::new();
    for l in &s.layers {
        let mut users = Vec::new();
        for u in &l.users {
            match run.resolve(ObjectKind::User, u) {
                Ok(id) => users.push(id),
                Err(e) => notes.push(format!("{}: {e}", l.name)),
            }
        }
        if users.is_empty() {
            notes.push(format!("layer {:?} dropped: nobody in it was imported", l.name));
            continue;
        }
        layers.push(Layer {
            name: l.name.clone(),
            users,
            start: l.start,
            length: l.length,
            handoffs: None,
            restrictions: l.restrictions.clone(),
        });
    }
    ScheduleSpec {
        name: s.name.clone(),
        description: s.description.clone(),
        timezone: s.timezone.clone(),
        team_id: s.team.as_deref().and_then(|t| run.resolve(ObjectKind::Team, t).ok()),
        layers,
    }
}

pub async fn schedules(run: &mut Run<'_>, items: &[ScheduleItem]) -> Result<(), ApiError> {
    for s in items {
        let d = item_digest(s);
        let decision = run.decide(ObjectKind::Schedule, &s.source_id, &d, None);
        let mut notes = Vec::new();
        let spec = schedule_spec(run, s, &mut notes);
        let checked = match spec.validate() {
            Ok(spec) if spec.layers.is_empty() => Err("no layer has anyone imported in it".to_owned()),
            Ok(spec) => Ok(spec),
            Err(e) => Err(why(e)),
        };
        let mut overrides = Vec::new();
        for o in &s.overrides {
            let user = run.resolve(ObjectKind::User, &o.user);
            match user.and_then(|u| OverrideSpec::new(u, o.start, o.end).map_err(why)) {
                Ok(spec) => overrides.push(spec),
                Err(e) => notes.push(format!("override {} – {} left out: {e}", o.start, o.end)),
            }
        }
        let (state, auth) = (run.state, run.auth);
        let mut later: Vec<String> = Vec::new();
        let done = match checked {
            Err(e) => Err(e),
            Ok(spec) => {
                run.written(&decision, async {
                    let id = match decision {
                        Decision::Update(id) => oncall::update_schedule(state, auth, id, spec.clone()).await?.id,
                        _ => oncall::create_schedule(state, auth, spec.clone()).await?.id,
                    };
                    // Overrides are added on creation; a changed schedule keeps the ones it has
                    // and gains the source's new ones.
                    let have = state.db.overrides(id, state.now(), chrono::DateTime::<chrono::Utc>::MAX_UTC).await?;
                    for o in &overrides {
                        let same = |x: &opsdeck_core::oncall::Override| {
                            x.user_id == o.user_id && x.start == o.start && x.end == o.end
                        };
                        if !have.iter().any(same)
                            && let Err(e) = oncall::add_override(state, auth, id, o.clone()).await
                        {
                            later.push(format!("override {} – {} not added: {}", o.start, o.end, e.message));
                        }
                    }
                    Ok(id)
                })
                .await
            }
        };
        notes.extend(later);
        run.finish((ObjectKind::Schedule, &s.source_id, &s.name), &decision, &d, done, notes.join("; ")).await?;
    }
    Ok(())
}

pub async fn policies(run: &mut Run<'_>, items: &[PolicyItem]) -> Result<(), ApiError> {
    for p in items {
        let d = item_digest(p);
        let decision = run.decide(ObjectKind::Policy, &p.source_id, &d, None);
        let mut notes = Vec::new();
        let mut levels = Vec::new();
        for (n, l) in p.levels.iter().enumerate() {
            let mut targets = Vec::new();
            for t in &l.targets {
                let kind = match t.kind {
                    TargetKind::User => ObjectKind::User,
                    TargetKind::Schedule => ObjectKind::Schedule,
                    TargetKind::Team => ObjectKind::Team,
                };
                match run.resolve(kind, &t.source_id) {
                    Ok(id) => targets.push(Target { kind: t.kind, id }),
                    Err(e) => notes.push(format!("level {}: {e}", n + 1)),
                }
            }
            if !targets.is_empty() {
                levels.push(Level { delay_minutes: l.delay_minutes, targets });
            }
        }
        let spec = PolicySpec { name: p.name.clone(), description: p.description.clone(), loops: p.loops, levels };
        let (state, auth) = (run.state, run.auth);
        let done = match spec.validate() {
            Err(e) => Err(why(e)),
            Ok(spec) => {
                run.written(&decision, async {
                    Ok(match decision {
                        Decision::Update(id) => oncall::update_policy(state, auth, id, spec.clone()).await?.id,
                        _ => oncall::create_policy(state, auth, spec.clone()).await?.id,
                    })
                })
                .await
            }
        };
        run.finish((ObjectKind::Policy, &p.source_id, &p.name), &decision, &d, done, notes.join("; ")).await?;
    }
    Ok(())
}
