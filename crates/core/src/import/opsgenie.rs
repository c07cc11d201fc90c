//! Opsgenie's REST API v2 documents, read into a [`Bundle`], each object on its own.
//!
//! Mapping notes (docs/migrate/opsgenie.md): a rotation becomes a layer (daily, weekly or hourly
//! turns from its `startDate`, in the schedule's zone); its time restrictions become day windows.
//! Opsgenie notifies everyone on call in every rotation at once, Opsdeck one person per schedule:
//! rotations that overlap in time are imported as layers (the later one wins) and the on-call
//! check names the hours where Opsgenie had several people. Escalation rules, timed from the
//! alert's creation, become levels whose delays are the gaps between them; a team's
//! integrations become a service per integration under the team's escalation.

use super::weekly::{WeekWindow, restrictions};
use super::*;
use crate::alert::IntegrationType;
use crate::escalation::{ChannelKind, TargetKind};
use crate::oncall::Length;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::Value;

/// What the fetcher read, one JSON object per element.
#[derive(Debug, Clone, Default)]
pub struct Documents {
    pub users: Vec<Value>,
    /// `GET /v2/teams/{id}` each (with members).
    pub teams: Vec<Value>,
    /// `GET /v2/schedules?expand=rotation`.
    pub schedules: Vec<Value>,
    /// `GET /v2/schedules/{id}/overrides` per schedule id.
    pub overrides: Vec<(String, Vec<Value>)>,
    /// `GET /v2/schedules/{id}/timeline` (`data`) per schedule id.
    pub timelines: Vec<(String, Value)>,
    pub escalations: Vec<Value>,
    pub integrations: Vec<Value>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    id: String,
    username: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    role: Option<RoleRef>,
}

#[derive(Deserialize)]
struct RoleRef {
    name: String,
}

#[derive(Deserialize)]
struct Team {
    id: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    members: Vec<Member>,
}

#[derive(Deserialize)]
struct Member {
    user: Named,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Schedule {
    id: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    timezone: String,
    #[serde(default)]
    owner_team: Option<Named>,
    #[serde(default)]
    rotations: Vec<Rotation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rotation {
    #[serde(default)]
    name: String,
    start_date: String,
    #[serde(default)]
    end_date: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default = "one")]
    length: u32,
    participants: Vec<Participant>,
    #[serde(default)]
    time_restriction: Option<TimeRestriction>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
struct Participant {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct TimeRestriction {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    restriction: Option<Span>,
    #[serde(default)]
    restrictions: Vec<Span>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Span {
    #[serde(default)]
    start_day: Option<String>,
    #[serde(default)]
    end_day: Option<String>,
    start_hour: u32,
    #[serde(default)]
    start_min: u32,
    end_hour: u32,
    #[serde(default)]
    end_min: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Override {
    user: Named,
    start_date: String,
    end_date: String,
    #[serde(default)]
    rotations: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Escalation {
    id: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    rules: Vec<Rule>,
    #[serde(default)]
    repeat: Option<Repeat>,
    #[serde(default)]
    owner_team: Option<Named>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    notify_type: Option<String>,
    delay: Delay,
    recipient: Recipient,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delay {
    time_amount: u32,
    #[serde(default)]
    time_unit: Option<String>,
}

#[derive(Deserialize)]
struct Recipient {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Repeat {
    #[serde(default)]
    wait_interval: u32,
    #[serde(default)]
    count: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Integration {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    owner_team: Option<Named>,
}

fn role(name: &str) -> Role {
    match name.to_lowercase().as_str() {
        "owner" | "admin" => Role::Admin,
        "user" => Role::Responder,
        _ => Role::Viewer,
    }
}

fn day_index(d: &str) -> Option<u32> {
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        .iter()
        .position(|x| x.eq_ignore_ascii_case(d))
        .map(|i| i as u32)
}

/// Opsgenie's restriction as week windows: every day's time of day, or spans from a weekday
/// and time to another (an end not after the start runs round the week).
fn windows(t: &TimeRestriction) -> Result<Vec<WeekWindow>, String> {
    let minute = |h: u32, m: u32| -> Result<u32, String> {
        if h > 24 || m > 59 { Err(format!("time {h}:{m:02} is not a time of day")) } else { Ok((h * 60 + m).min(1440)) }
    };
    const WEEK: u32 = 7 * 1440;
    match t.kind.as_str() {
        "time-of-day" => {
            let s = t.restriction.as_ref().ok_or("a time-of-day restriction without its times")?;
            let (a, b) = (minute(s.start_hour, s.start_min)?, minute(s.end_hour, s.end_min)?);
            let len = if b > a { b - a } else { b + 1440 - a };
            Ok((0..7).map(|d| WeekWindow { start: d * 1440 + a, minutes: len }).collect())
        }
        "weekday-and-time-of-day" => t
            .restrictions
            .iter()
            .map(|s| {
                let sd = s.start_day.as_deref().and_then(day_index).ok_or("a restriction without a start day")?;
                let ed = s.end_day.as_deref().and_then(day_index).ok_or("a restriction without an end day")?;
                let a = sd * 1440 + minute(s.start_hour, s.start_min)?;
                let b = ed * 1440 + minute(s.end_hour, s.end_min)?;
                Ok(WeekWindow { start: a, minutes: if b > a { b - a } else { b + WEEK - a } })
            })
            .collect(),
        other => Err(format!("restriction type {other:?} is not time-of-day or weekday-and-time-of-day")),
    }
}

fn layer(r: &Rotation, tz: Tz, now: DateTime<Utc>, notes: &mut Vec<String>) -> Result<Option<LayerItem>, String> {
    if r.end_date.as_deref().and_then(|e| instant("endDate", e).ok()).is_some_and(|e| e <= now) {
        return Ok(None);
    }
    let length = match (r.kind.as_str(), r.length) {
        (_, 0) => return Err("a rotation of length 0".into()),
        ("daily", n) if n <= 365 => Length::Days(n),
        ("weekly", n) if n <= 52 => Length::Weeks(n),
        ("hourly", n) if n <= 744 => Length::Hours(n),
        (kind, n) => return Err(format!("a {kind} rotation of length {n} is not supported")),
    };
    let mut users = Vec::new();
    for p in &r.participants {
        match (p.kind.as_str(), &p.id) {
            ("user", Some(id)) => users.push(id.clone()),
            (kind, _) => notes.push(format!("a {kind} participant is left out (Opsdeck rotations hold people)")),
        }
    }
    if users.is_empty() {
        return Err("no user participants".into());
    }
    let start = instant("startDate", &r.start_date)?.with_timezone(&tz).naive_local();
    let restrictions = match &r.time_restriction {
        None => vec![],
        Some(t) => match restrictions(&windows(t)?) {
            None => vec![],
            Some(x) if x.is_empty() => return Err("its restrictions leave no time on call".into()),
            Some(x) if x.len() > 14 => {
                return Err(format!("its restrictions need {} day windows; Opsdeck keeps 14", x.len()));
            }
            Some(x) => x,
        },
    };
    if let Some(end) = r.end_date.as_deref().and_then(|e| instant("endDate", e).ok()) {
        notes.push(format!("ends at {end}; Opsdeck layers do not end: remove it then"));
    }
    Ok(Some(LayerItem { name: r.name.chars().take(100).collect(), users, start, length, restrictions }))
}

fn minutes(d: &Delay) -> u32 {
    let n = d.time_amount;
    match d.time_unit.as_deref().unwrap_or("minutes") {
        "hours" => n.saturating_mul(60),
        "days" => n.saturating_mul(1440),
        _ => n,
    }
}

/// Maps everything the documents hold; `now` decides what has ended.
pub fn map(docs: &Documents, now: DateTime<Utc>) -> Bundle {
    let mut b = Bundle::default();
    for v in &docs.users {
        let Some(u) = read::<User>("user", v, &mut b.unmapped) else { continue };
        let name = if u.full_name.trim().is_empty() { u.username.clone() } else { u.full_name };
        let contacts =
            vec![ContactItem { kind: ChannelKind::Email, address: u.username.clone(), label: "Opsgenie".into() }];
        let role = role(&u.role.map(|r| r.name).unwrap_or_default());
        b.users.push(UserItem { source_id: u.id, name, email: u.username, role, contacts });
    }
    for v in &docs.teams {
        let Some(t) = read::<Team>("team", v, &mut b.unmapped) else { continue };
        let members = t.members.into_iter().map(|m| m.user.id).collect();
        b.teams.push(TeamItem {
            source_id: t.id,
            name: t.name,
            description: t.description.unwrap_or_default(),
            members,
        });
    }
    let overrides_of: std::collections::HashMap<&str, &[Value]> =
        docs.overrides.iter().map(|(id, o)| (id.as_str(), o.as_slice())).collect();
    let timeline_of: std::collections::HashMap<&str, &Value> =
        docs.timelines.iter().map(|(id, t)| (id.as_str(), t)).collect();
    for v in &docs.schedules {
        let Some(s) = read::<Schedule>("schedule", v, &mut b.unmapped) else { continue };
        let Ok(tz) = s.timezone.parse::<Tz>() else {
            b.unmapped.push(Unmapped::new("schedule", &s.id, &s.name, format!("unknown time zone {:?}", s.timezone)));
            continue;
        };
        let mut layers = Vec::new();
        for r in &s.rotations {
            let mut notes = Vec::new();
            let what = format!("{} / {}", s.name, r.name);
            match layer(r, tz, now, &mut notes) {
                Ok(Some(l)) => layers.push(l),
                Ok(None) => {}
                Err(why) => notes.push(why),
            }
            b.unmapped.extend(notes.into_iter().map(|n| Unmapped::new("rotation", &s.id, &what, n)));
        }
        let mut overrides = Vec::new();
        for v in overrides_of.get(s.id.as_str()).copied().unwrap_or(&[]) {
            let Some(o) = read::<Override>("override", v, &mut b.unmapped) else { continue };
            match (instant("startDate", &o.start_date), instant("endDate", &o.end_date)) {
                (Ok(start), Ok(end)) if end > now && end > start => {
                    if !o.rotations.is_empty() {
                        let why = "covers some rotations in Opsgenie; in Opsdeck it covers the whole schedule";
                        b.unmapped.push(Unmapped::new("override", &s.id, &s.name, why));
                    }
                    overrides.push(OverrideItem { user: o.user.id, start, end });
                }
                (Ok(_), Ok(_)) => {}
                (Err(why), _) | (_, Err(why)) => b.unmapped.push(Unmapped::new("override", &s.id, &s.name, why)),
            }
        }
        if let Some(t) = timeline_of.get(s.id.as_str()) {
            b.rendered.push((s.id.clone(), rendered(t)));
        }
        b.schedules.push(ScheduleItem {
            source_id: s.id,
            name: s.name,
            description: s.description.unwrap_or_default(),
            timezone: s.timezone,
            team: s.owner_team.map(|t| t.id),
            layers,
            overrides,
        });
    }
    let mut team_policy: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for v in &docs.escalations {
        let Some(e) = read::<Escalation>("escalation", v, &mut b.unmapped) else { continue };
        // Rules are timed from the alert; levels wait between each other.
        let mut starts: Vec<(u32, Vec<TargetItem>)> = Vec::new();
        for r in &e.rules {
            let kind = match r.recipient.kind.as_str() {
                "user" => TargetKind::User,
                "schedule" => TargetKind::Schedule,
                "team" => TargetKind::Team,
                other => {
                    b.unmapped.push(Unmapped::new(
                        "escalation rule",
                        &e.id,
                        &e.name,
                        format!("recipient type {other:?}"),
                    ));
                    continue;
                }
            };
            if r.notify_type.as_deref().is_some_and(|t| t != "default") {
                let why = format!("notifies {:?} of the schedule; Opsdeck notifies who is on call", r.notify_type);
                b.unmapped.push(Unmapped::new("escalation rule", &e.id, &e.name, why));
            }
            let Some(id) = r.recipient.id.clone() else { continue };
            let at = minutes(&r.delay);
            match starts.iter_mut().find(|(m, _)| *m == at) {
                Some((_, t)) => t.push(TargetItem { kind, source_id: id }),
                None => starts.push((at, vec![TargetItem { kind, source_id: id }])),
            }
        }
        starts.sort_by_key(|(m, _)| *m);
        let repeat = e.repeat.as_ref().filter(|r| r.count > 0);
        let last_wait = repeat.map_or(5, |r| r.wait_interval.clamp(1, 1440));
        let levels = (0..starts.len())
            .map(|i| {
                let next = starts.get(i + 1).map_or(starts[i].0.saturating_add(last_wait), |n| n.0);
                let delay = next.saturating_sub(starts[i].0).clamp(1, crate::escalation::DELAY_MAX_MINUTES);
                LevelItem { delay_minutes: delay, targets: starts[i].1.clone() }
            })
            .collect();
        if let Some(t) = e.owner_team {
            team_policy.entry(t.id).or_insert_with(|| e.id.clone());
        }
        b.policies.push(PolicyItem {
            source_id: e.id,
            name: e.name,
            description: e.description.unwrap_or_default(),
            loops: repeat.map_or(1, |r| r.count.saturating_add(1).min(9)),
            levels,
        });
    }
    for v in &docs.integrations {
        let Some(i) = read::<Integration>("integration", v, &mut b.unmapped) else { continue };
        let kind = match i.kind.to_lowercase().as_str() {
            "prometheus" | "alertmanager" => IntegrationType::Alertmanager,
            "grafana" => IntegrationType::Grafana,
            "api" | "webhook" | "incomingcall" => IntegrationType::Webhook,
            t if t.contains("email") => {
                b.unmapped.push(Unmapped::new("integration", &i.id, &i.name, "e-mail integrations are not supported"));
                continue;
            }
            _ => IntegrationType::Webhook,
        };
        let team = i.team_id.or(i.owner_team.map(|t| t.id));
        b.services.push(ServiceItem {
            source_id: format!("integration:{}", i.id),
            name: i.name.clone(),
            description: format!("Imported from the Opsgenie {} integration {}", i.kind, i.name),
            policy: team.as_ref().and_then(|t| team_policy.get(t).cloned()),
            team,
            integrations: vec![IntegrationItem { source_id: i.id, name: i.name, kind, old_key: None }],
        });
    }
    b
}

/// The final timeline's periods per rotation: several people at once where rotations overlap.
fn rendered(t: &Value) -> Vec<SourceShift> {
    let rotations = t.pointer("/finalTimeline/rotations").and_then(Value::as_array).cloned().unwrap_or_default();
    rotations
        .iter()
        .flat_map(|r| r.get("periods").and_then(Value::as_array).cloned().unwrap_or_default())
        .filter_map(|p| {
            Some(SourceShift {
                start: instant("startDate", p.get("startDate")?.as_str()?).ok()?,
                end: instant("endDate", p.get("endDate")?.as_str()?).ok()?,
                user: p.pointer("/recipient/id").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn rules_timed_from_the_alert_become_levels_waiting_between_each_other() {
        let docs = Documents {
            escalations: vec![json!({"id": "E1", "name": "Ops", "rules": [
                {"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 0},
                 "recipient": {"type": "schedule", "id": "S1"}},
                {"condition": "if-not-acked", "notifyType": "default",
                 "delay": {"timeAmount": 10, "timeUnit": "minutes"},
                 "recipient": {"type": "user", "id": "U1"}},
                {"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 1, "timeUnit": "hours"},
                 "recipient": {"type": "team", "id": "T1"}}
            ], "repeat": {"waitInterval": 20, "count": 2}})],
            ..Documents::default()
        };
        let b = map(&docs, Utc::now());
        let p = &b.policies[0];
        let delays: Vec<u32> = p.levels.iter().map(|l| l.delay_minutes).collect();
        assert_eq!(delays, [10, 50, 20]);
        assert_eq!(p.loops, 3);
    }

    #[test]
    fn weekday_spans_and_times_of_day_become_windows() {
        let t = TimeRestriction {
            kind: "weekday-and-time-of-day".into(),
            restriction: None,
            restrictions: vec![Span {
                start_day: Some("friday".into()),
                end_day: Some("monday".into()),
                start_hour: 17,
                start_min: 0,
                end_hour: 9,
                end_min: 0,
            }],
        };
        let w = windows(&t).unwrap();
        assert_eq!((w[0].start, w[0].minutes), (4 * 1440 + 17 * 60, 2 * 1440 + 16 * 60));
        let now = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let r: Rotation = serde_json::from_value(json!({"name": "R", "startDate": "2027-01-04T08:00:00Z",
            "type": "weekly", "length": 1, "participants": [{"type": "user", "id": "U1"}, {"type": "none"}]}))
        .unwrap();
        let mut notes = vec![];
        let l = layer(&r, chrono_tz::Europe::Berlin, now, &mut notes).unwrap().unwrap();
        assert_eq!(l.start.to_string(), "2027-01-04 09:00:00");
        assert_eq!(notes.len(), 1);
    }
}
