//! Grafana OnCall's public API v1 documents, read into a [`Bundle`], each object on its own.
//!
//! Mapping notes (docs/migrate/grafana-oncall.md): a web schedule's rolling-users shifts become
//! layers (higher `level` higher up), daily, weekly or hourly by `frequency` × `interval`, from
//! `rotation_start` in the schedule's zone; a shift shorter than its period becomes day windows
//! (on its `by_day` days, else every day, or the start's weekday for a weekly one); override
//! shifts become overrides. iCal schedules follow an outside calendar and are listed. An
//! escalation chain's steps become levels: notifications up to a `wait` step form a level, the
//! wait its delay. Integrations become a service each, under their default route's chain.

use super::weekly::{WeekWindow, restrictions};
use super::*;
use crate::alert::IntegrationType;
use crate::escalation::{ChannelKind, TargetKind};
use crate::oncall::Length;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Default)]
pub struct Documents {
    pub users: Vec<Value>,
    pub teams: Vec<Value>,
    pub schedules: Vec<Value>,
    pub shifts: Vec<Value>,
    /// `GET /api/v1/schedules/{id}/final_shifts` per schedule id.
    pub final_shifts: Vec<(String, Vec<Value>)>,
    pub chains: Vec<Value>,
    pub steps: Vec<Value>,
    pub integrations: Vec<Value>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    email: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
struct Team {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Schedule {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    shifts: Vec<String>,
}

#[derive(Deserialize)]
struct Shift {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    level: i64,
    start: String,
    #[serde(default)]
    rotation_start: Option<String>,
    duration: i64,
    #[serde(default)]
    frequency: Option<String>,
    #[serde(default)]
    interval: Option<u32>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    by_day: Option<Vec<String>>,
    #[serde(default)]
    rolling_users: Option<Vec<Vec<String>>>,
    #[serde(default)]
    users: Option<Vec<String>>,
    #[serde(default)]
    time_zone: Option<String>,
}

#[derive(Deserialize)]
struct Chain {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Step {
    id: String,
    escalation_chain_id: String,
    position: i64,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    duration: Option<i64>,
    #[serde(default)]
    persons_to_notify: Option<Vec<String>>,
    #[serde(default)]
    persons_to_notify_next_each_time: Option<Vec<String>>,
    #[serde(default)]
    notify_on_call_from_schedule: Option<String>,
    #[serde(default)]
    notify_to_team_members: Option<String>,
}

#[derive(Deserialize)]
struct Integration {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    default_route: Option<Route>,
}

#[derive(Deserialize)]
struct Route {
    #[serde(default)]
    escalation_chain_id: Option<String>,
}

/// OnCall writes local times without an offset (in the shift's or schedule's zone) or with one.
fn local(s: &str, tz: Tz) -> Result<NaiveDateTime, String> {
    let t = match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&tz).naive_local(),
        Err(_) => NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S")
            .map_err(|_| format!("time {s:?} is not YYYY-MM-DDTHH:MM:SS"))?,
    };
    crate::time::check_local("start", t).map_err(|e| e.to_string())
}

/// An instant: as written when it carries an offset (or `Z`), else local to `tz`.
fn utc(s: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    if DateTime::parse_from_rfc3339(s).is_ok() {
        return instant("start", s);
    }
    let t = local(s, tz)?;
    tz.from_local_datetime(&t)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("{s} does not exist in {tz}"))
}

fn day(d: &str) -> Option<u32> {
    ["MO", "TU", "WE", "TH", "FR", "SA", "SU"].iter().position(|x| x.eq_ignore_ascii_case(d)).map(|i| i as u32)
}

fn layer(s: &Shift, tz: Tz, now: DateTime<Utc>, notes: &mut Vec<String>) -> Result<Option<LayerItem>, String> {
    if s.until.as_deref().and_then(|u| utc(u, tz).ok()).is_some_and(|u| u <= now) {
        return Ok(None);
    }
    let n = s.interval.unwrap_or(1).max(1);
    let (length, period_s) = match s.frequency.as_deref() {
        Some("daily") if n <= 365 => (Length::Days(n), i64::from(n) * 86_400),
        Some("weekly") if n <= 52 => (Length::Weeks(n), i64::from(n) * 604_800),
        Some("hourly") if n <= 744 => (Length::Hours(n), i64::from(n) * 3_600),
        other => return Err(format!("frequency {other:?} × {n} is not hourly, daily or weekly")),
    };
    let groups: Vec<Vec<String>> = match (&s.rolling_users, &s.users) {
        (Some(r), _) if !r.is_empty() => r.clone(),
        (_, Some(u)) if !u.is_empty() => vec![u.clone()],
        _ => return Err("has no users".into()),
    };
    if groups.iter().any(|g| g.len() > 1) {
        notes.push("groups of several people: the first of each is on call in Opsdeck".into());
    }
    let users: Vec<String> = groups.into_iter().filter_map(|g| g.into_iter().next()).collect();
    let start = local(s.rotation_start.as_deref().unwrap_or(&s.start), tz)?;
    let first = local(&s.start, tz)?;
    let restrictions = if s.duration >= period_s || s.duration <= 0 {
        vec![]
    } else {
        let tod = first.time().signed_duration_since(chrono::NaiveTime::MIN).num_minutes() as u32;
        let minutes = (s.duration / 60) as u32;
        let days: Vec<u32> = match (&s.by_day, length) {
            (Some(d), _) if !d.is_empty() => d.iter().filter_map(|x| day(x)).collect(),
            (_, Length::Weeks(_)) => vec![chrono::Datelike::weekday(&first).num_days_from_monday()],
            (_, Length::Hours(_)) => return Err("an hourly rotation shorter than its hour".into()),
            _ => (0..7).collect(),
        };
        let w: Vec<WeekWindow> = days.iter().map(|d| WeekWindow { start: d * 1440 + tod, minutes }).collect();
        match restrictions(&w) {
            None => vec![],
            Some(x) if x.is_empty() || x.len() > 14 => return Err(format!("needs {} day windows", x.len())),
            Some(x) => x,
        }
    };
    Ok(Some(LayerItem { name: s.name.chars().take(100).collect(), users, start, length, restrictions }))
}

pub fn map(docs: &Documents, now: DateTime<Utc>) -> Bundle {
    let mut b = Bundle::default();
    for v in &docs.users {
        let Some(u) = read::<User>("user", v, &mut b.unmapped) else { continue };
        let role = match u.role.as_str() {
            "admin" => Role::Admin,
            "editor" => Role::Responder,
            _ => Role::Viewer,
        };
        let name = if u.username.is_empty() { u.email.clone() } else { u.username };
        let contacts =
            vec![ContactItem { kind: ChannelKind::Email, address: u.email.clone(), label: "Grafana OnCall".into() }];
        b.users.push(UserItem { source_id: u.id, name, email: u.email, role, contacts });
    }
    for v in &docs.teams {
        let Some(t) = read::<Team>("team", v, &mut b.unmapped) else { continue };
        b.teams.push(TeamItem { source_id: t.id, name: t.name, description: String::new(), members: vec![] });
    }
    let shifts: Vec<Shift> = docs.shifts.iter().filter_map(|v| read::<Shift>("shift", v, &mut b.unmapped)).collect();
    let shift_of: std::collections::HashMap<&str, &Shift> = shifts.iter().map(|x| (x.id.as_str(), x)).collect();
    let final_of: std::collections::HashMap<&str, &Vec<Value>> =
        docs.final_shifts.iter().map(|(id, f)| (id.as_str(), f)).collect();
    for v in &docs.schedules {
        let Some(s) = read::<Schedule>("schedule", v, &mut b.unmapped) else { continue };
        if s.kind == "ical" {
            let why = "follows an outside iCal calendar: recreate its rotation as layers";
            b.unmapped.push(Unmapped::new("schedule", &s.id, &s.name, why));
            continue;
        }
        let zone = s.time_zone.clone().unwrap_or_else(|| "UTC".into());
        let Ok(tz) = zone.parse::<Tz>() else {
            b.unmapped.push(Unmapped::new("schedule", &s.id, &s.name, format!("unknown time zone {zone:?}")));
            continue;
        };
        let mut mine: Vec<&Shift> = s.shifts.iter().filter_map(|id| shift_of.get(id.as_str()).copied()).collect();
        mine.sort_by_key(|x| x.level);
        let (mut layers, mut overrides) = (Vec::new(), Vec::new());
        for x in mine {
            let what = format!("{} / {}", s.name, x.name);
            if x.time_zone.as_deref().is_some_and(|z| z != zone) {
                let why = format!("its own zone {:?}: read in the schedule's", x.time_zone.as_deref().unwrap_or(""));
                b.unmapped.push(Unmapped::new("shift", &x.id, &what, why));
            }
            if x.kind == "override" || x.kind == "single_event" {
                let user = x.users.as_ref().and_then(|u| u.first()).cloned();
                match (user, utc(&x.start, tz)) {
                    (Some(user), Ok(start)) => {
                        let length = chrono::Duration::seconds(x.duration.clamp(60, 90 * 86_400));
                        if let Some(end) = start.checked_add_signed(length).filter(|e| *e > now) {
                            overrides.push(OverrideItem { user, start, end });
                        }
                    }
                    (None, _) => b.unmapped.push(Unmapped::new("shift", &x.id, &what, "an override without a user")),
                    (_, Err(why)) => b.unmapped.push(Unmapped::new("shift", &x.id, &what, why)),
                }
                continue;
            }
            let mut notes = Vec::new();
            match layer(x, tz, now, &mut notes) {
                Ok(Some(l)) => layers.push(l),
                Ok(None) => {}
                Err(why) => notes.push(why),
            }
            b.unmapped.extend(notes.into_iter().map(|n| Unmapped::new("shift", &x.id, &what, n)));
        }
        if let Some(f) = final_of.get(s.id.as_str()) {
            let shifts = f
                .iter()
                .filter_map(|e| {
                    Some(SourceShift {
                        start: instant("shift_start", e.get("shift_start")?.as_str()?).ok()?,
                        end: instant("shift_end", e.get("shift_end")?.as_str()?).ok()?,
                        user: e.get("user_pk").and_then(Value::as_str).map(str::to_owned),
                    })
                })
                .collect();
            b.rendered.push((s.id.clone(), shifts));
        }
        b.schedules.push(ScheduleItem {
            source_id: s.id,
            name: s.name,
            description: String::new(),
            timezone: zone,
            team: s.team_id,
            layers,
            overrides,
        });
    }
    chains(docs, &mut b);
    for v in &docs.integrations {
        let Some(i) = read::<Integration>("integration", v, &mut b.unmapped) else { continue };
        let kind = match i.kind.as_str() {
            "alertmanager" => IntegrationType::Alertmanager,
            "grafana" | "grafana_alerting" => IntegrationType::Grafana,
            "inbound_email" => {
                b.unmapped.push(Unmapped::new("integration", &i.id, &i.name, "e-mail integrations are not supported"));
                continue;
            }
            _ => IntegrationType::Webhook,
        };
        let old_key = i.link.as_deref().and_then(|l| l.trim_end_matches('/').rsplit('/').next()).map(key_hint);
        b.services.push(ServiceItem {
            source_id: format!("integration:{}", i.id),
            name: i.name.clone(),
            description: format!("Imported from the Grafana OnCall {} integration {}", i.kind, i.name),
            team: i.team_id,
            policy: i.default_route.and_then(|r| r.escalation_chain_id),
            integrations: vec![IntegrationItem { source_id: i.id, name: i.name, kind, old_key }],
        });
    }
    b
}

/// Chains and their steps: notifications up to a wait form a level, the wait its delay.
fn chains(docs: &Documents, b: &mut Bundle) {
    let steps: Vec<Step> =
        docs.steps.iter().filter_map(|v| read::<Step>("escalation step", v, &mut b.unmapped)).collect();
    for v in &docs.chains {
        let Some(c) = read::<Chain>("escalation chain", v, &mut b.unmapped) else { continue };
        let mut mine: Vec<&Step> = steps.iter().filter(|s| s.escalation_chain_id == c.id).collect();
        mine.sort_by_key(|s| s.position);
        let (mut levels, mut targets, mut loops) = (Vec::new(), Vec::new(), 1);
        for s in mine {
            match s.kind.as_str() {
                "wait" => {
                    let delay = (s.duration.unwrap_or(300) / 60).clamp(1, 1440) as u32;
                    if !targets.is_empty() {
                        levels.push(LevelItem { delay_minutes: delay, targets: std::mem::take(&mut targets) });
                    } else if let Some(last) = levels.last_mut() {
                        last.delay_minutes = last.delay_minutes.saturating_add(delay).min(1440);
                    }
                }
                "notify_persons" => {
                    let people = s.persons_to_notify.iter().flatten();
                    targets.extend(people.map(|p| TargetItem { kind: TargetKind::User, source_id: p.clone() }));
                }
                "notify_person_next_each_time" => {
                    let people = s.persons_to_notify_next_each_time.iter().flatten();
                    targets.extend(people.map(|p| TargetItem { kind: TargetKind::User, source_id: p.clone() }));
                    let why = "notifies one of these people in turn; Opsdeck notifies all of them";
                    b.unmapped.push(Unmapped::new("escalation step", &s.id, &c.name, why));
                }
                "notify_on_call_from_schedule" => {
                    if let Some(id) = &s.notify_on_call_from_schedule {
                        targets.push(TargetItem { kind: TargetKind::Schedule, source_id: id.clone() });
                    }
                }
                "notify_team_members" => {
                    if let Some(id) = &s.notify_to_team_members {
                        targets.push(TargetItem { kind: TargetKind::Team, source_id: id.clone() });
                    }
                }
                "repeat_escalation" => loops = 6,
                other => {
                    b.unmapped.push(Unmapped::new("escalation step", &s.id, &c.name, format!("step type {other:?}")))
                }
            }
        }
        if !targets.is_empty() {
            levels.push(LevelItem { delay_minutes: 5, targets });
        }
        b.policies.push(PolicyItem { source_id: c.id, name: c.name, description: String::new(), loops, levels });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn steps_up_to_a_wait_are_a_level_and_short_shifts_are_windows() {
        let docs = Documents {
            chains: vec![json!({"id": "C1", "name": "Default"})],
            steps: vec![
                json!({"id": "E1", "escalation_chain_id": "C1", "position": 0, "type": "notify_on_call_from_schedule",
                       "notify_on_call_from_schedule": "S1"}),
                json!({"id": "E2", "escalation_chain_id": "C1", "position": 1, "type": "wait", "duration": 600}),
                json!({"id": "E3", "escalation_chain_id": "C1", "position": 2, "type": "notify_persons",
                       "persons_to_notify": ["U1"]}),
                json!({"id": "E4", "escalation_chain_id": "C1", "position": 3, "type": "trigger_webhook"}),
            ],
            ..Documents::default()
        };
        let b = map(&docs, Utc::now());
        let delays: Vec<u32> = b.policies[0].levels.iter().map(|l| l.delay_minutes).collect();
        assert_eq!(delays, [10, 5]);
        assert_eq!(b.unmapped.len(), 1);
        let s: Shift =
            serde_json::from_value(json!({"id": "X", "type": "rolling_users", "start": "2027-01-04T09:00:00",
            "duration": 32400, "frequency": "daily", "interval": 1, "by_day": ["MO", "TU"],
            "rolling_users": [["U1"], ["U2", "U3"]]}))
            .unwrap();
        let mut notes = vec![];
        let l = layer(&s, chrono_tz::UTC, Utc::now(), &mut notes).unwrap().unwrap();
        assert_eq!(l.users, ["U1", "U2"]);
        assert_eq!(l.restrictions.len(), 1);
        assert_eq!(notes.len(), 1);
    }
}
