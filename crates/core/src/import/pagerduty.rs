//! PagerDuty's REST API v2 documents, read into a [`Bundle`]. Each object is read on its own,
//! so one that cannot be read is reported by id and the rest still import.
//!
//! Mapping notes (also in docs/migrate/pagerduty.md): the API lists a schedule's layers highest
//! first, Opsdeck stacks them lowest first; a layer's `rotation_virtual_start` and turn length
//! become Opsdeck's first handoff and length (days and weeks hand off at the same local time
//! across DST, as PagerDuty does); restrictions become day windows; `num_loops` repeats become
//! loops (`num_loops + 1`); Events API v2 integrations get new Opsdeck keys.

use super::weekly::{WeekWindow, restrictions};
use super::*;
use crate::alert::IntegrationType;
use crate::escalation::{ChannelKind, TargetKind};
use crate::oncall::Length;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::Value;

/// What the fetcher read, one JSON object per element, as the API answered it.
#[derive(Debug, Clone, Default)]
pub struct Documents {
    /// `GET /users?include[]=contact_methods`.
    pub users: Vec<Value>,
    pub teams: Vec<Value>,
    /// `GET /schedules/{id}?since&until` each (with layers and the final schedule).
    pub schedules: Vec<Value>,
    /// `GET /schedules/{id}/overrides` per schedule id.
    pub overrides: Vec<(String, Vec<Value>)>,
    pub policies: Vec<Value>,
    /// `GET /services?include[]=integrations`.
    pub services: Vec<Value>,
    pub windows: Vec<Value>,
}

#[derive(Deserialize)]
struct Ref {
    id: String,
}

#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    contact_methods: Vec<Contact>,
    #[serde(default)]
    teams: Vec<Ref>,
}

#[derive(Deserialize)]
struct Contact {
    #[serde(default)]
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    label: String,
}

#[derive(Deserialize)]
struct Team {
    id: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct Schedule {
    id: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    time_zone: String,
    #[serde(default)]
    schedule_layers: Vec<ScheduleLayer>,
    #[serde(default)]
    teams: Vec<Ref>,
    #[serde(default)]
    final_schedule: Option<FinalSchedule>,
}

#[derive(Deserialize)]
struct ScheduleLayer {
    #[serde(default)]
    name: String,
    start: String,
    #[serde(default)]
    end: Option<String>,
    rotation_virtual_start: String,
    rotation_turn_length_seconds: i64,
    users: Vec<LayerUser>,
    #[serde(default)]
    restrictions: Vec<PdRestriction>,
}

#[derive(Deserialize)]
struct LayerUser {
    user: Ref,
}

#[derive(Deserialize)]
struct PdRestriction {
    #[serde(rename = "type")]
    kind: String,
    start_time_of_day: String,
    duration_seconds: i64,
    #[serde(default)]
    start_day_of_week: Option<u32>,
}

#[derive(Deserialize)]
struct FinalSchedule {
    #[serde(default)]
    rendered_schedule_entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    start: String,
    end: String,
    #[serde(default)]
    user: Option<Ref>,
}

#[derive(Deserialize)]
struct PdOverride {
    start: String,
    end: String,
    user: Ref,
}

#[derive(Deserialize)]
struct Policy {
    id: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    num_loops: u32,
    escalation_rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    escalation_delay_in_minutes: u32,
    targets: Vec<TargetRef>,
}

#[derive(Deserialize)]
struct TargetRef {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Service {
    id: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    escalation_policy: Option<Ref>,
    #[serde(default)]
    teams: Vec<Ref>,
    #[serde(default)]
    integrations: Vec<Integration>,
}

#[derive(Deserialize)]
struct Integration {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    integration_key: Option<String>,
}

#[derive(Deserialize)]
struct Window {
    id: String,
    start_time: String,
    end_time: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    services: Vec<Ref>,
}

fn role(pd: &str) -> Role {
    match pd {
        "owner" | "admin" => Role::Admin,
        "user" => Role::Manager,
        "limited_user" => Role::Responder,
        _ => Role::Viewer,
    }
}

/// Maps everything the documents hold; `now` decides what has ended (overrides, windows,
/// layers) and starts the rendered comparison.
pub fn map(docs: &Documents, now: DateTime<Utc>) -> Bundle {
    let mut b = Bundle::default();
    let mut members: Vec<(String, String)> = Vec::new();
    for v in &docs.users {
        let Some(u) = read::<User>("user", v, &mut b.unmapped) else { continue };
        if u.email.trim().is_empty() {
            b.unmapped.push(Unmapped::new("user", &u.id, &u.name, "has no e-mail address"));
            continue;
        }
        let mut contacts = Vec::new();
        for c in &u.contact_methods {
            match c.kind.trim_end_matches("_reference") {
                "email_contact_method" => contacts.push(ContactItem {
                    kind: ChannelKind::Email,
                    address: c.address.clone(),
                    label: c.label.clone(),
                }),
                other => b.unmapped.push(Unmapped::new(
                    "contact method",
                    &c.id,
                    format!("{} ({})", u.name, c.label),
                    format!("{other}: Opsdeck reaches people by e-mail, chat or webhook, not phone, SMS or push"),
                )),
            }
        }
        members.extend(u.teams.iter().map(|t| (t.id.clone(), u.id.clone())));
        b.users.push(UserItem { source_id: u.id, name: u.name, email: u.email, role: role(&u.role), contacts });
    }
    for v in &docs.teams {
        let Some(t) = read::<Team>("team", v, &mut b.unmapped) else { continue };
        let members = members.iter().filter(|(team, _)| *team == t.id).map(|(_, u)| u.clone()).collect();
        b.teams.push(TeamItem {
            source_id: t.id,
            name: t.name,
            description: t.description.unwrap_or_default(),
            members,
        });
    }
    let by_schedule: std::collections::HashMap<&str, &[Value]> =
        docs.overrides.iter().map(|(id, o)| (id.as_str(), o.as_slice())).collect();
    for v in &docs.schedules {
        let Some(s) = read::<Schedule>("schedule", v, &mut b.unmapped) else { continue };
        let overrides = by_schedule.get(s.id.as_str()).copied().unwrap_or(&[]);
        if let Some(item) = schedule(&s, overrides, now, &mut b) {
            b.schedules.push(item);
        }
    }
    for v in &docs.policies {
        let Some(p) = read::<Policy>("escalation policy", v, &mut b.unmapped) else { continue };
        let levels = p
            .escalation_rules
            .iter()
            .map(|r| LevelItem {
                delay_minutes: r.escalation_delay_in_minutes.max(1),
                targets: r
                    .targets
                    .iter()
                    .filter_map(|t| {
                        let kind = match t.kind.trim_end_matches("_reference") {
                            "user" => TargetKind::User,
                            "schedule" => TargetKind::Schedule,
                            _ => return None,
                        };
                        Some(TargetItem { kind, source_id: t.id.clone() })
                    })
                    .collect(),
            })
            .collect();
        b.policies.push(PolicyItem {
            source_id: p.id,
            name: p.name,
            description: p.description.unwrap_or_default(),
            loops: p.num_loops.saturating_add(1).min(9),
            levels,
        });
    }
    for v in &docs.services {
        let Some(s) = read::<Service>("service", v, &mut b.unmapped) else { continue };
        let mut integrations = Vec::new();
        for i in s.integrations {
            let name = i.name.or(i.summary).unwrap_or_else(|| "PagerDuty integration".into());
            if i.kind.contains("email") {
                b.unmapped.push(Unmapped::new("integration", &i.id, &name, "e-mail integrations are not supported"));
                continue;
            }
            integrations.push(IntegrationItem {
                source_id: i.id,
                name,
                kind: IntegrationType::Pagerduty,
                old_key: i.integration_key.as_deref().map(key_hint),
            });
        }
        b.services.push(ServiceItem {
            source_id: s.id,
            name: s.name,
            description: s.description.unwrap_or_default(),
            team: s.teams.first().map(|t| t.id.clone()),
            policy: s.escalation_policy.map(|p| p.id),
            integrations,
        });
    }
    for v in &docs.windows {
        let Some(w) = read::<Window>("maintenance window", v, &mut b.unmapped) else { continue };
        let (start, end) = match (instant("start_time", &w.start_time), instant("end_time", &w.end_time)) {
            (Ok(s), Ok(e)) if e > s => (s, e),
            (Err(why), _) | (_, Err(why)) => {
                b.unmapped.push(Unmapped::new("maintenance window", &w.id, "", why));
                continue;
            }
            _ => {
                b.unmapped.push(Unmapped::new("maintenance window", &w.id, "", "ends before it starts"));
                continue;
            }
        };
        if end <= now {
            continue;
        }
        let description = w.description.unwrap_or_default();
        let name =
            if description.trim().is_empty() { format!("PagerDuty window {}", w.id) } else { description.clone() };
        b.windows.push(WindowItem {
            source_id: w.id,
            name: name.chars().take(100).collect(),
            description,
            start,
            duration_minutes: (end - start).num_minutes().max(1),
            rrule: None,
            timezone: "UTC".into(),
            services: w.services.into_iter().map(|s| s.id).collect(),
            monitors: vec![],
        });
    }
    b
}

fn schedule(s: &Schedule, overrides: &[Value], now: DateTime<Utc>, b: &mut Bundle) -> Option<ScheduleItem> {
    let Ok(tz) = s.time_zone.parse::<Tz>() else {
        b.unmapped.push(Unmapped::new("schedule", &s.id, &s.name, format!("unknown time zone {:?}", s.time_zone)));
        return None;
    };
    let mut layers = Vec::new();
    // The API lists the highest layer first.
    for (n, l) in s.schedule_layers.iter().rev().enumerate() {
        let what =
            format!("{} / {}", s.name, if l.name.is_empty() { format!("Layer {}", n + 1) } else { l.name.clone() });
        match layer(l, tz, now) {
            Ok(Some(item)) => layers.push(LayerItem { name: what.chars().take(100).collect(), ..item }),
            Ok(None) => {}
            Err(why) => b.unmapped.push(Unmapped::new("schedule layer", &s.id, &what, why)),
        }
        if let Some(end) = l.end.as_deref().and_then(|e| instant("end", e).ok()).filter(|e| *e > now) {
            b.unmapped.push(Unmapped::new(
                "schedule layer",
                &s.id,
                &what,
                format!("ends at {end}; Opsdeck layers do not end: remove or edit it then"),
            ));
        }
    }
    let mut items = Vec::new();
    for v in overrides {
        let Some(o) = read::<PdOverride>("override", v, &mut b.unmapped) else { continue };
        match (instant("start", &o.start), instant("end", &o.end)) {
            (Ok(start), Ok(end)) if end > now && end > start => {
                items.push(OverrideItem { user: o.user.id, start, end });
            }
            (Ok(_), Ok(_)) => {}
            (Err(why), _) | (_, Err(why)) => b.unmapped.push(Unmapped::new("override", &s.id, &s.name, why)),
        }
    }
    if let Some(f) = &s.final_schedule {
        let shifts = f
            .rendered_schedule_entries
            .iter()
            .filter_map(|e| {
                Some(SourceShift {
                    start: instant("start", &e.start).ok()?,
                    end: instant("end", &e.end).ok()?,
                    user: e.user.as_ref().map(|u| u.id.clone()),
                })
            })
            .collect();
        b.rendered.push((s.id.clone(), shifts));
    }
    Some(ScheduleItem {
        source_id: s.id.clone(),
        name: s.name.clone(),
        description: s.description.clone().unwrap_or_default(),
        timezone: s.time_zone.clone(),
        team: s.teams.first().map(|t| t.id.clone()),
        layers,
        overrides: items,
    })
}

/// One layer, or `None` when it has ended.
fn layer(l: &ScheduleLayer, tz: Tz, now: DateTime<Utc>) -> Result<Option<LayerItem>, String> {
    if l.end.as_deref().and_then(|e| instant("end", e).ok()).is_some_and(|e| e <= now) {
        return Ok(None);
    }
    let turn = l.rotation_turn_length_seconds;
    let length = match turn {
        t if t > 0 && t % 604_800 == 0 && t <= 52 * 604_800 => Length::Weeks((t / 604_800) as u32),
        t if t > 0 && t % 86_400 == 0 && t <= 365 * 86_400 => Length::Days((t / 86_400) as u32),
        t if t > 0 && t % 3_600 == 0 && t <= 744 * 3_600 => Length::Hours((t / 3_600) as u32),
        t => return Err(format!("turns of {t} seconds: Opsdeck rotates by whole hours, days (up to 365) or weeks")),
    };
    if l.users.is_empty() {
        return Err("has no users".into());
    }
    let virtual_start = instant("rotation_virtual_start", &l.rotation_virtual_start)?;
    let start = instant("start", &l.start)?;
    // Opsdeck counts turns from its first handoff: start at the last handoff at or before the
    // layer's start, with the rotation turned to whoever PagerDuty has on then.
    let v_local = virtual_start.with_timezone(&tz).naive_local();
    let s_local = start.with_timezone(&tz).naive_local();
    let turns = if matches!(length, Length::Hours(_)) {
        (start - virtual_start).num_seconds().div_euclid(turn)
    } else {
        (s_local - v_local).num_seconds().div_euclid(turn)
    };
    // Hours are elapsed time (as Opsdeck counts them), days and weeks wall-clock time.
    let step = turns.checked_mul(turn).and_then(Duration::try_seconds).ok_or("the rotation's start is out of range")?;
    let first = if matches!(length, Length::Hours(_)) {
        virtual_start.checked_add_signed(step).map(|t| t.with_timezone(&tz).naive_local())
    } else {
        v_local.checked_add_signed(step)
    }
    .ok_or("the rotation's start is out of range")?;
    let n = l.users.len() as i64;
    let mut users: Vec<String> = l.users.iter().map(|u| u.user.id.clone()).collect();
    users.rotate_left(turns.rem_euclid(n) as usize);
    let restrictions = if l.restrictions.is_empty() {
        vec![]
    } else {
        let mut windows = Vec::new();
        for r in &l.restrictions {
            let tod = NaiveTime::parse_from_str(&r.start_time_of_day, "%H:%M:%S")
                .map_err(|_| format!("restriction start {:?} is not HH:MM:SS", r.start_time_of_day))?;
            let minute = tod.signed_duration_since(NaiveTime::MIN).num_minutes() as u32;
            let minutes = (r.duration_seconds.clamp(0, 7 * 86_400) / 60) as u32;
            match (r.kind.as_str(), r.start_day_of_week) {
                ("daily_restriction", _) => {
                    windows.extend((0..7).map(|d| WeekWindow { start: d * 1440 + minute, minutes }));
                }
                ("weekly_restriction", Some(day @ 1..=7)) => {
                    windows.push(WeekWindow { start: (day - 1) * 1440 + minute, minutes });
                }
                (kind, _) => return Err(format!("restriction {kind:?} is not daily or weekly with a day of week 1-7")),
            }
        }
        match restrictions(&windows) {
            None => vec![],
            Some(r) if r.is_empty() => return Err("its restrictions leave no time on call".into()),
            Some(r) if r.len() > 14 => {
                return Err(format!("its restrictions need {} day windows; Opsdeck keeps 14", r.len()));
            }
            Some(r) => r,
        }
    };
    Ok(Some(LayerItem { name: l.name.clone(), users, start: first, length, restrictions }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn a_layer_starts_at_the_last_handoff_before_its_start_with_the_rotation_turned() {
        let docs = Documents {
            schedules: vec![json!({
                "id": "PS1", "name": "Ops", "time_zone": "Europe/Berlin",
                "schedule_layers": [{
                    "name": "Weekly", "start": "2026-03-04T12:00:00+01:00",
                    "rotation_virtual_start": "2026-03-02T09:00:00+01:00",
                    "rotation_turn_length_seconds": 86400,
                    "users": [{"user": {"id": "A"}}, {"user": {"id": "B"}}, {"user": {"id": "C"}}],
                    "restrictions": [{"type": "weekly_restriction", "start_day_of_week": 1,
                                      "start_time_of_day": "09:00:00", "duration_seconds": 432000}]
                }]
            })],
            ..Documents::default()
        };
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let b = map(&docs, now);
        assert!(b.unmapped.is_empty(), "{:?}", b.unmapped);
        let l = &b.schedules[0].layers[0];
        // Two turns from the virtual start: C's turn began on the 4th at 09:00.
        assert_eq!(l.start.to_string(), "2026-03-04 09:00:00");
        assert_eq!(l.users, ["C", "A", "B"]);
        assert_eq!(l.restrictions.len(), 4);
    }

    #[test]
    fn unreadable_objects_and_phone_contacts_are_reported_by_id() {
        let docs = Documents {
            users: vec![
                json!({"id": "U1", "name": "Ann", "email": "ann@example.com", "role": "admin",
                       "contact_methods": [
                           {"id": "C1", "type": "phone_contact_method", "address": "1", "label": "Mobile"},
                           {"id": "C2", "type": "email_contact_method", "address": "a@x.io", "label": "Work"}]}),
                json!({"id": "U2", "name": "No mail"}),
                json!({"id": "U3", "email": 7}),
            ],
            ..Documents::default()
        };
        let b = map(&docs, Utc::now());
        assert_eq!(b.users.len(), 1);
        assert_eq!(b.users[0].role, Role::Admin);
        assert_eq!(b.users[0].contacts.len(), 1);
        let ids: Vec<&str> = b.unmapped.iter().map(|u| u.source_id.as_str()).collect();
        assert_eq!(ids, ["C1", "U2", "U3"]);
    }
}
