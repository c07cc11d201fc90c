//! On-call pages: schedules (layers, overrides, a visual timeline of the next two weeks with
//! gaps flagged), escalation policies, broadcast channels with a test button, and a person's
//! own contact methods and notification rules.

use super::{Chrome, PageAuth, abs, done, error_page};
use crate::AppState;
use crate::api::oncall::{OnCallDto, OnCallQuery, who_is_on_call};
use crate::error::ApiError;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use opsdeck_core::escalation::{ChannelConfig, ChannelKind, Level, PolicySpec, Target, TargetKind, contact_address};
use opsdeck_core::oncall::{self, Layer, Length, Restriction, ScheduleSpec, Shift, Source};
use opsdeck_core::role::Permission;
use opsdeck_store::oncall::Schedule;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt::Write;
use uuid::Uuid;

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

async fn people(state: &AppState) -> Result<Vec<(Uuid, String)>, ApiError> {
    Ok(state
        .db
        .list_users(None, None, Some(500))
        .await?
        .items
        .into_iter()
        .filter(|u| !u.disabled)
        .map(|u| (u.id, u.username))
        .collect())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const PALETTE: usize = 8;

/// Rows of shifts over `[from, to)` as SVG: each layer, the overrides, and the final schedule
/// with gaps in red. Colours follow the person (`.p0`…`.p7`).
fn timeline_svg(
    rows: &[(String, Vec<Shift>)],
    names: &HashMap<Uuid, String>,
    order: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> String {
    let (label_w, w, row_h) = (130.0, 900.0, 26.0);
    let span = (to - from).num_seconds().max(1) as f64;
    let h = 22.0 + rows.len() as f64 * row_h;
    let x = |t: DateTime<Utc>| label_w + (w - label_w) * ((t - from).num_seconds() as f64 / span).clamp(0.0, 1.0);
    let mut s =
        format!("<svg class=\"chart oncall\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"On-call timeline\">");
    // Day ticks, labelled in the schedule's zone.
    let mut day = from.with_timezone(&tz).date_naive();
    while let Some(t) =
        tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default()).earliest().map(|d| d.with_timezone(&Utc))
    {
        if t >= to {
            break;
        }
        if t >= from {
            let _ = write!(
                s,
                "<line class=\"tick\" x1=\"{0:.1}\" y1=\"14\" x2=\"{0:.1}\" y2=\"{h}\"/><text class=\"lbl\" x=\"{1:.1}\" y=\"11\">{2}</text>",
                x(t),
                x(t) + 2.0,
                day.format("%a %d")
            );
        }
        day += Duration::days(1);
    }
    for (i, (label, shifts)) in rows.iter().enumerate() {
        let y = 18.0 + i as f64 * row_h;
        let _ = write!(s, "<text class=\"lbl rowlbl\" x=\"0\" y=\"{:.1}\">{}</text>", y + 15.0, esc(label));
        for sh in shifts {
            let (x0, x1) = (x(sh.start), x(sh.end));
            let when = format!(
                "{} – {}",
                sh.start.with_timezone(&tz).format("%a %d %b %H:%M"),
                sh.end.with_timezone(&tz).format("%a %d %b %H:%M %Z")
            );
            match sh.user_id {
                Some(u) => {
                    let name = names.get(&u).cloned().unwrap_or_else(|| "?".into());
                    let c = order.iter().position(|o| *o == u).unwrap_or(0) % PALETTE;
                    let _ = write!(
                        s,
                        "<rect class=\"shift p{c}\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\"><title>{}: {}</title></rect>",
                        (x1 - x0).max(1.0),
                        row_h - 6.0,
                        esc(&name),
                        when
                    );
                    if x1 - x0 > 8.0 * name.len() as f64 {
                        let _ = write!(
                            s,
                            "<text class=\"who\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                            x0 + 4.0,
                            y + 14.0,
                            esc(&name)
                        );
                    }
                }
                None if label == "Final" => {
                    let _ = write!(
                        s,
                        "<rect class=\"gap\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>Nobody on call: {when}</title></rect>",
                        (x1 - x0).max(1.0),
                        row_h - 6.0
                    );
                }
                None => {}
            }
        }
    }
    s.push_str("</svg>");
    s
}

// ---- schedules ------------------------------------------------------------------------------

pub struct ScheduleRow {
    id: Uuid,
    name: String,
    timezone: String,
    layers: usize,
    now: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "oncall.html")]
pub struct OnCallPage {
    chrome: Chrome,
    schedules: Vec<ScheduleRow>,
}

pub async fn list(State(state): State<AppState>, page: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    let chrome = chrome!(page, state, "oncall", q.notice);
    let now = state.now();
    let mut schedules = Vec::new();
    for s in try_page!(state.db.list_schedules().await) {
        let o = try_page!(state.db.overrides(s.id, now - Duration::days(1), now + Duration::days(1)).await);
        let who = oncall::on_call(&s.spec, &o, now).map(|w| w.0);
        let name = match who {
            Some(u) => try_page!(state.db.user_names(&[u]).await).into_iter().next().map(|x| x.1).unwrap_or_default(),
            None => String::new(),
        };
        schedules.push(ScheduleRow {
            id: s.id,
            layers: s.spec.layers.len(),
            timezone: s.spec.timezone,
            name: s.spec.name,
            now: name,
        });
    }
    OnCallPage { chrome, schedules }.into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewSchedule {
    name: String,
    timezone: String,
}

pub async fn create(State(state): State<AppState>, page: PageAuth, Form(f): Form<NewSchedule>) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let spec = ScheduleSpec {
        name: f.name,
        description: String::new(),
        timezone: if f.timezone.trim().is_empty() { "UTC".into() } else { f.timezone.trim().into() },
        team_id: None,
        layers: vec![],
    };
    match spec.validate() {
        Ok(spec) => match state.db.create_schedule(&page.0.actor(), state.now(), spec).await {
            Ok(s) => done(&format!("/oncall/{}", s.id), "Schedule created: add a layer of people"),
            Err(e) => error_page(&e.into()),
        },
        Err(e) => done("/oncall", &format!("Not created: {e}")),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "schedule.html")]
pub struct SchedulePage {
    chrome: Chrome,
    s: Schedule,
    layer_users: Vec<Vec<String>>,
    svg: String,
    gaps: usize,
    overrides: Vec<(Uuid, String, String, String)>,
    now: Option<OnCallDto>,
    people: Vec<(Uuid, String)>,
    calendar_url: String,
    personal_url: String,
    days: [Weekday; 7],
    default_start: String,
}

pub async fn detail(
    State(state): State<AppState>,
    page: PageAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let chrome = chrome!(page, state, "oncall", q.notice);
    let id = try_page!(crate::extract::parse_id("schedule", &id));
    let s = try_page!(state.db.get_schedule(id).await);
    let now = state.now();
    let tz = s.spec.tz();
    let (from, to) = (now - Duration::hours(12), now + Duration::days(14));
    let overrides = try_page!(state.db.overrides(id, from, to).await);
    let people = try_page!(people(&state).await);
    let names: HashMap<Uuid, String> = people.iter().cloned().collect();
    let order: Vec<Uuid> = people.iter().map(|p| p.0).collect();
    let mut rows: Vec<(String, Vec<Shift>)> = s
        .spec
        .layers
        .iter()
        .map(|l| {
            let only = ScheduleSpec { layers: vec![l.clone()], ..s.spec.clone() };
            (l.name.clone(), oncall::timeline(&only, &[], from, to))
        })
        .collect();
    if !overrides.is_empty() {
        let only = ScheduleSpec { layers: vec![], ..s.spec.clone() };
        rows.push(("Overrides".into(), oncall::timeline(&only, &overrides, from, to)));
    }
    let fin = oncall::timeline(&s.spec, &overrides, from, to);
    let gaps = fin.iter().filter(|f| f.user_id.is_none() && f.end > now).count();
    rows.push(("Final".into(), fin));
    let svg = timeline_svg(&rows, &names, &order, from, to, tz);
    let who = oncall::on_call(&s.spec, &overrides, now).map(|(u, src)| OnCallDto {
        user_id: u,
        username: names.get(&u).cloned().unwrap_or_default(),
        level: 1,
        schedule_id: Some(id),
        via: match src {
            Source::Layer(i) => s.spec.layers.get(i).map(|l| format!("layer {}", l.name)).unwrap_or_default(),
            Source::Override(_) => "override".into(),
        },
    });
    let base = crate::api::monitors::base_url(&state, &headers).await;
    let key = try_page!(state.db.signing_key().await);
    let me = page.0.user.id;
    SchedulePage {
        chrome,
        layer_users: s
            .spec
            .layers
            .iter()
            .map(|l| l.users.iter().map(|u| names.get(u).cloned().unwrap_or_else(|| "?".into())).collect())
            .collect(),
        svg,
        gaps,
        overrides: overrides
            .iter()
            .map(|o| (o.id, names.get(&o.user_id).cloned().unwrap_or_default(), abs(o.start), abs(o.end)))
            .collect(),
        now: who,
        people,
        calendar_url: format!("{base}/schedules/{}/calendar.ics?token={}", s.id, s.feed_token),
        personal_url: format!(
            "{base}/users/{me}/calendar.ics?token={}",
            opsdeck_core::escalation::feed_token(&key, me)
        ),
        days: [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun],
        default_start: now.with_timezone(&tz).format("%Y-%m-%dT09:00").to_string(),
        s,
    }
    .into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ScheduleAction {
    action: String,
    // add_layer
    name: String,
    users: Vec<Uuid>,
    start: String,
    unit: String,
    count: String,
    days: Vec<Weekday>,
    handoffs: String,
    from_time: String,
    to_time: String,
    // remove_layer
    index: String,
    // override
    user_id: String,
    starts: String,
    ends: String,
    override_id: String,
}

pub async fn act(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<ScheduleAction>,
) -> Response {
    let needed = if matches!(f.action.as_str(), "override" | "delete_override") {
        Permission::Respond
    } else {
        Permission::Configure
    };
    if let Err(r) = page.require(needed) {
        return r;
    }
    let id = try_page!(crate::extract::parse_id("schedule", &id));
    let s = try_page!(state.db.get_schedule(id).await);
    let back = format!("/oncall/{id}");
    let tz = s.spec.tz();
    let actor = page.0.actor();
    let now = state.now();
    let result: Result<&str, ApiError> = async {
        match f.action.as_str() {
            "add_layer" => {
                let start = NaiveDateTime::parse_from_str(f.start.trim(), "%Y-%m-%dT%H:%M")
                    .map_err(|_| ApiError::invalid("start", "give the first handoff as date and time"))?;
                let count: u32 = f.count.trim().parse().map_err(|_| ApiError::invalid("count", "a whole number"))?;
                let length = match f.unit.as_str() {
                    "hours" => Length::Hours(count),
                    "weeks" => Length::Weeks(count),
                    _ => Length::Days(count),
                };
                let restrictions = match (f.from_time.trim(), f.to_time.trim()) {
                    ("", "") => vec![],
                    (a, b) => vec![Restriction {
                        days: f.days.clone(),
                        start: NaiveTime::parse_from_str(a, "%H:%M")
                            .map_err(|_| ApiError::invalid("from_time", "a time such as 09:00"))?,
                        end: NaiveTime::parse_from_str(b, "%H:%M")
                            .map_err(|_| ApiError::invalid("to_time", "a time such as 17:00"))?,
                    }],
                };
                let name = if f.name.trim().is_empty() {
                    format!("Layer {}", s.spec.layers.len() + 1)
                } else {
                    f.name.clone()
                };
                let mut spec = s.spec.clone();
                let handoffs = Some(f.handoffs.trim().to_owned()).filter(|h| !h.is_empty());
                spec.layers.push(Layer { name, users: f.users.clone(), start, length, handoffs, restrictions });
                let spec = spec.validate()?;
                state.db.update_schedule(&actor, now, id, spec).await?;
                Ok("Layer added")
            }
            "remove_layer" => {
                let i: usize = f.index.parse().map_err(|_| ApiError::bad_request("index"))?;
                let mut spec = s.spec.clone();
                if i >= spec.layers.len() {
                    return Err(ApiError::bad_request("no such layer"));
                }
                spec.layers.remove(i);
                state.db.update_schedule(&actor, now, id, spec).await?;
                Ok("Layer removed")
            }
            "override" => {
                let user: Uuid = f.user_id.parse().map_err(|_| ApiError::invalid("user_id", "choose who covers"))?;
                let parse = |field: &str, v: &str| -> Result<DateTime<Utc>, ApiError> {
                    let n = NaiveDateTime::parse_from_str(v.trim(), "%Y-%m-%dT%H:%M")
                        .map_err(|_| ApiError::invalid(field, "date and time"))?;
                    Ok(oncall::local_to_utc(tz, n))
                };
                let (a, b) = (parse("starts", &f.starts)?, parse("ends", &f.ends)?);
                if b <= a {
                    return Err(ApiError::invalid("ends", "must be after the start"));
                }
                state.db.add_override(&actor, now, id, user, a, b).await?;
                Ok("Override added")
            }
            "delete_override" => {
                let oid: Uuid = f.override_id.parse().map_err(|_| ApiError::bad_request("override_id"))?;
                state.db.delete_override(&actor, now, id, oid).await?;
                Ok("Override removed")
            }
            "delete" => {
                state.db.delete_schedule(&actor, now, id).await?;
                Ok("deleted")
            }
            _ => Err(ApiError::bad_request("unknown action")),
        }
    }
    .await;
    match result {
        Ok("deleted") => done("/oncall", "Schedule deleted"),
        Ok(n) => done(&back, n),
        Err(e) if e.status.is_client_error() => done(&back, &format!("Not done: {}", e.message)),
        Err(e) => error_page(&e),
    }
}

// ---- escalation policies ------------------------------------------------------------------

pub struct PolicyRow {
    id: Uuid,
    name: String,
    loops: u32,
    levels: Vec<(u32, Vec<String>)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "policies.html")]
pub struct PoliciesPage {
    chrome: Chrome,
    policies: Vec<PolicyRow>,
    targets: Vec<(String, String)>,
    /// The form: the policy being edited (id, name, loops, per level: selected targets and delay).
    form: PolicyFormView,
}

#[derive(Default)]
pub struct PolicyFormView {
    id: Option<Uuid>,
    name: String,
    loops: u32,
    levels: Vec<(Vec<String>, u32)>,
}

impl PolicyFormView {
    fn selected(&self, level: usize, target: &str) -> bool {
        self.levels.get(level).is_some_and(|l| l.0.iter().any(|t| t == target))
    }

    fn delay(&self, level: usize) -> u32 {
        self.levels.get(level).map(|l| l.1).unwrap_or(15)
    }
}

fn target_key(t: &Target) -> String {
    let kind = match t.kind {
        TargetKind::User => "user",
        TargetKind::Schedule => "schedule",
        TargetKind::Team => "team",
    };
    format!("{kind}:{}", t.id)
}

#[derive(Deserialize, Default)]
pub struct PoliciesQuery {
    notice: Option<String>,
    edit: Option<Uuid>,
}

async fn target_names(state: &AppState) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for s in state.db.list_schedules().await? {
        out.push((format!("schedule:{}", s.id), format!("Schedule: {}", s.spec.name)));
    }
    for (id, name) in people(state).await? {
        out.push((format!("user:{id}"), format!("Person: {name}")));
    }
    for t in state.db.list_teams(None, None, Some(500)).await?.items {
        out.push((format!("team:{}", t.id), format!("Team: {}", t.name)));
    }
    Ok(out)
}

pub async fn policies(State(state): State<AppState>, page: PageAuth, Query(q): Query<PoliciesQuery>) -> Response {
    let chrome = chrome!(page, state, "policies", q.notice);
    let targets = try_page!(target_names(&state).await);
    let label: HashMap<String, String> = targets.iter().cloned().collect();
    let policies = try_page!(state.db.list_policies().await)
        .into_iter()
        .map(|p| PolicyRow {
            id: p.id,
            name: p.spec.name,
            loops: p.spec.loops,
            levels: p
                .spec
                .levels
                .iter()
                .map(|l| {
                    let names = l
                        .targets
                        .iter()
                        .map(|t| {
                            let key = format!(
                                "{}:{}",
                                serde_json::to_value(t.kind)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_owned))
                                    .unwrap_or_default(),
                                t.id
                            );
                            label.get(&key).cloned().unwrap_or(key)
                        })
                        .collect();
                    (l.delay_minutes, names)
                })
                .collect(),
        })
        .collect();
    let form = match q.edit {
        Some(id) => match state.db.get_policy(id).await {
            Ok(p) => PolicyFormView {
                id: Some(p.id),
                name: p.spec.name,
                loops: p.spec.loops,
                levels: p
                    .spec
                    .levels
                    .iter()
                    .map(|l| (l.targets.iter().map(target_key).collect(), l.delay_minutes))
                    .collect(),
            },
            Err(e) => return error_page(&e.into()),
        },
        None => PolicyFormView { loops: 1, ..Default::default() },
    };
    PoliciesPage { chrome, policies, targets, form }.into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PolicyForm {
    id: String,
    name: String,
    loops: String,
    level1: Vec<String>,
    delay1: String,
    level2: Vec<String>,
    delay2: String,
    level3: Vec<String>,
    delay3: String,
}

fn parse_target(s: &str) -> Option<Target> {
    let (k, id) = s.split_once(':')?;
    let kind = match k {
        "user" => TargetKind::User,
        "schedule" => TargetKind::Schedule,
        "team" => TargetKind::Team,
        _ => return None,
    };
    Some(Target { kind, id: id.parse().ok()? })
}

pub async fn policy_create(State(state): State<AppState>, page: PageAuth, Form(f): Form<PolicyForm>) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let mut levels = Vec::new();
    for (targets, delay) in [(&f.level1, &f.delay1), (&f.level2, &f.delay2), (&f.level3, &f.delay3)] {
        if targets.is_empty() {
            continue;
        }
        levels.push(Level {
            delay_minutes: delay.trim().parse().unwrap_or(15),
            targets: targets.iter().filter_map(|t| parse_target(t)).collect(),
        });
    }
    let spec =
        PolicySpec { name: f.name, description: String::new(), loops: f.loops.trim().parse().unwrap_or(1), levels };
    let spec = match spec.validate() {
        Ok(s) => s,
        Err(e) => return done("/escalation-policies", &format!("Not saved: {e}")),
    };
    let result = match f.id.parse::<Uuid>() {
        Ok(id) => state
            .db
            .update_policy(&page.0.actor(), state.now(), id, spec)
            .await
            .map(|p| format!("Policy {} saved", p.spec.name)),
        Err(_) => state
            .db
            .create_policy(&page.0.actor(), state.now(), spec)
            .await
            .map(|p| format!("Policy {} created", p.spec.name)),
    };
    match result {
        Ok(n) => done("/escalation-policies", &n),
        Err(e) => error_page(&e.into()),
    }
}

pub async fn policy_delete(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let id = try_page!(crate::extract::parse_id("escalation policy", &id));
    try_page!(state.db.delete_policy(&page.0.actor(), state.now(), id).await);
    done("/escalation-policies", "Policy deleted")
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ServicePolicyForm {
    policy_id: String,
}

pub async fn service_policy(
    State(state): State<AppState>,
    page: PageAuth,
    Path(service): Path<String>,
    Form(f): Form<ServicePolicyForm>,
) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let s = try_page!(state.db.get_service(opsdeck_store::catalogue::Ref::parse(&service)).await);
    let pid = f.policy_id.parse::<Uuid>().ok();
    try_page!(state.db.set_service_policy(&page.0.actor(), state.now(), s.service.id, pid).await);
    done(&format!("/services/{}", s.service.slug), "Escalation policy saved")
}

// ---- channels -----------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "channels.html")]
pub struct ChannelsPage {
    chrome: Chrome,
    channels: Vec<(opsdeck_store::oncall::Channel, String)>,
    services: Vec<opsdeck_store::catalogue::ServiceView>,
    teams: Vec<opsdeck_core::catalogue::Team>,
    kinds: [ChannelKind; 6],
}

pub async fn channels(State(state): State<AppState>, page: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    let chrome = chrome!(page, state, "channels", q.notice);
    let services = try_page!(
        state
            .db
            .list_services(&opsdeck_store::catalogue::ServiceFilter { limit: Some(500), ..Default::default() })
            .await
    )
    .items;
    let teams = try_page!(state.db.list_teams(None, None, Some(500)).await).items;
    let names: HashMap<Uuid, String> = services.iter().map(|s| (s.service.id, s.service.name.clone())).collect();
    let team_names: HashMap<Uuid, String> = teams.iter().map(|t| (t.id, t.name.clone())).collect();
    let channels = try_page!(state.db.list_channels(None).await)
        .into_iter()
        .map(|c| {
            let scope = match (c.service_id, c.team_id) {
                (Some(s), _) => names.get(&s).cloned().unwrap_or_default(),
                (None, Some(t)) => format!("every service of {}", team_names.get(&t).cloned().unwrap_or_default()),
                _ => "—".into(),
            };
            (c, scope)
        })
        .collect();
    ChannelsPage { chrome, channels, services, teams, kinds: ChannelKind::ALL }.into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChannelForm {
    name: String,
    kind: String,
    target: String,
    secret: String,
    routing_key: String,
    service_id: String,
    team_id: String,
    subject_template: String,
    body_template: String,
}

pub async fn channel_create(State(state): State<AppState>, page: PageAuth, Form(f): Form<ChannelForm>) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let result = async {
        let kind = ChannelKind::parse(&f.kind).ok_or_else(|| ApiError::invalid("kind", "choose a kind"))?;
        let name = opsdeck_core::validate::name("name", &f.name)?;
        let mut config = ChannelConfig::default();
        if kind == ChannelKind::Email {
            config.to = Some(f.target.clone());
        } else {
            config.url = Some(f.target.clone());
        }
        config.secret = Some(f.secret.clone()).filter(|s| !s.is_empty());
        config.routing_key = Some(f.routing_key.clone()).filter(|s| !s.is_empty());
        config.subject_template = Some(f.subject_template.clone()).filter(|s| !s.trim().is_empty());
        config.body_template = Some(f.body_template.clone()).filter(|s| !s.trim().is_empty());
        let config = config.validate(kind)?;
        let service_id = f.service_id.parse::<Uuid>().ok();
        let team_id = f.team_id.parse::<Uuid>().ok();
        if service_id.is_none() && team_id.is_none() {
            return Err(ApiError::invalid("service_id", "choose the service or team whose incidents it announces"));
        }
        Ok::<_, ApiError>(
            state.db.create_channel(&page.0.actor(), state.now(), &name, kind, config, service_id, team_id).await?,
        )
    }
    .await;
    match result {
        Ok(c) => done("/channels", &format!("Channel {} added", c.name)),
        Err(e) if e.status.is_client_error() => done("/channels", &format!("Not added: {}", e.message)),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChannelAction {
    action: String,
}

pub async fn channel_act(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<ChannelAction>,
) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let id = try_page!(crate::extract::parse_id("channel", &id));
    let c = try_page!(state.db.get_channel(id).await);
    match f.action.as_str() {
        "test" => {
            let Some(n) = state.notifier.as_ref() else {
                return done("/channels", "The notifier is not running on this node");
            };
            match n.test_channel(c.kind, &c.config, &c.name).await {
                Ok(()) => done("/channels", &format!("Test notification sent to {}", c.name)),
                Err(e) => done("/channels", &format!("Test to {} failed: {e}", c.name)),
            }
        }
        "delete" => {
            try_page!(state.db.delete_channel(&page.0.actor(), state.now(), id).await);
            done("/channels", "Channel deleted")
        }
        _ => error_page(&ApiError::bad_request("unknown action")),
    }
}

// ---- my notifications ---------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "my_notifications.html")]
pub struct MyNotificationsPage {
    chrome: Chrome,
    methods: Vec<opsdeck_store::oncall::ContactMethod>,
    rules: Vec<(Uuid, String, i32)>,
    kinds: [ChannelKind; 5],
    calendar_url: String,
}

pub async fn mine(
    State(state): State<AppState>,
    page: PageAuth,
    headers: HeaderMap,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let chrome = chrome!(page, state, "notifications", q.notice);
    let me = page.0.user.id;
    let methods = try_page!(state.db.contact_methods(me).await);
    let rules = try_page!(state.db.notification_rules(me).await)
        .into_iter()
        .map(|r| {
            let m = methods
                .iter()
                .find(|m| m.id == r.contact_method_id)
                .map(|m| format!("{} {}", m.kind, m.address))
                .unwrap_or_default();
            (r.id, m, r.delay_minutes)
        })
        .collect();
    let base = crate::api::monitors::base_url(&state, &headers).await;
    let key = try_page!(state.db.signing_key().await);
    MyNotificationsPage {
        chrome,
        methods,
        rules,
        kinds: [ChannelKind::Email, ChannelKind::Slack, ChannelKind::Teams, ChannelKind::Discord, ChannelKind::Webhook],
        calendar_url: format!(
            "{base}/users/{me}/calendar.ics?token={}",
            opsdeck_core::escalation::feed_token(&key, me)
        ),
    }
    .into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MineForm {
    action: String,
    kind: String,
    address: String,
    label: String,
    contact_method_id: String,
    delay_minutes: String,
    id: String,
}

pub async fn mine_act(State(state): State<AppState>, page: PageAuth, Form(f): Form<MineForm>) -> Response {
    let me = page.0.user.id;
    let actor = page.0.actor();
    let now = state.now();
    let back = "/settings/notifications";
    let result: Result<&str, ApiError> = async {
        match f.action.as_str() {
            "add_method" => {
                let kind = ChannelKind::parse(&f.kind).ok_or_else(|| ApiError::invalid("kind", "choose a kind"))?;
                let address = contact_address(kind, &f.address)?;
                state.db.add_contact_method(&actor, now, me, kind, &address, f.label.trim()).await?;
                Ok("Contact method added")
            }
            "delete_method" => {
                state
                    .db
                    .delete_contact_method(&actor, now, me, f.id.parse().map_err(|_| ApiError::bad_request("id"))?)
                    .await?;
                Ok("Contact method removed")
            }
            "add_rule" => {
                let cm: Uuid = f
                    .contact_method_id
                    .parse()
                    .map_err(|_| ApiError::invalid("contact_method_id", "choose a contact method"))?;
                let delay: i32 = f
                    .delay_minutes
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::invalid("delay_minutes", "minutes, e.g. 0 or 5"))?;
                if !(0..=1440).contains(&delay) {
                    return Err(ApiError::invalid("delay_minutes", "0 to 1440"));
                }
                state.db.add_notification_rule(&actor, now, me, cm, delay).await?;
                Ok("Rule added")
            }
            "delete_rule" => {
                state
                    .db
                    .delete_notification_rule(&actor, now, me, f.id.parse().map_err(|_| ApiError::bad_request("id"))?)
                    .await?;
                Ok("Rule removed")
            }
            _ => Err(ApiError::bad_request("unknown action")),
        }
    }
    .await;
    match result {
        Ok(n) => done(back, n),
        Err(e) if e.status.is_client_error() => done(back, &format!("Not done: {}", e.message)),
        Err(e) => error_page(&e),
    }
}

/// Who is on call now for a service, for its page.
pub async fn for_service(state: &AppState, service_id: Uuid) -> Vec<OnCallDto> {
    who_is_on_call(
        state,
        &OnCallQuery { service_id: Some(service_id.to_string()), schedule_id: None, team_id: None, at: None },
    )
    .await
    .unwrap_or_default()
}
