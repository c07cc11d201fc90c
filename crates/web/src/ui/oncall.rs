//! On-call pages: schedules (layers, overrides, a visual timeline of the next two weeks with
//! gaps flagged), escalation policies, broadcast channels with a test button, and a person's
//! own contact methods and notification rules.

use super::{Chrome, PageAuth, abs, done, error_page, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::oncall::{self as op, OnCall};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use opsdeck_core::Entity;
use opsdeck_core::escalation::{
    ChannelConfig, ChannelKind, ChannelSpec, ContactSpec, Level, PolicySpec, RuleSpec, Target, TargetKind,
};
use opsdeck_core::oncall::{self, Layer, Length, OverrideSpec, Restriction, ScheduleSpec, Shift};
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
                "<line class=\"tick\" x1=\"{0:.1}\" y1=\"14\" x2=\"{0:.1}\" y2=\"{h}\"/><text \
                 class=\"lbl\" x=\"{1:.1}\" y=\"11\">{2}</text>",
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
                        "<rect class=\"shift p{c}\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" \
                         height=\"{:.1}\" rx=\"3\"><title>{}: {}</title></rect>",
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
                        "<rect class=\"gap\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" \
                         height=\"{:.1}\"><title>Nobody on call: {when}</title></rect>",
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
    let spec = ScheduleSpec {
        name: f.name,
        description: String::new(),
        timezone: if f.timezone.trim().is_empty() { "UTC".into() } else { f.timezone.trim().into() },
        team_id: None,
        layers: vec![],
    };
    match op::create_schedule(&state, &page.0, spec).await {
        Ok(s) => done(&format!("/oncall/{}", s.id), "Schedule created: add a layer of people"),
        Err(e) => outcome("/oncall", Err(e)),
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
    now: Option<OnCall>,
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
    let id = try_page!(crate::extract::parse_id(Entity::Schedule, &id));
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
    let who = oncall::on_call(&s.spec, &overrides, now).map(|(u, src)| OnCall {
        user_id: u,
        username: names.get(&u).cloned().unwrap_or_default(),
        level: 1,
        schedule_id: Some(id),
        via: op::via(&s.spec, src),
    });
    let base = crate::operations::settings::base_url(&state, &headers).await;
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
pub struct LayerForm {
    name: String,
    users: Vec<Uuid>,
    start: String,
    count: String,
    unit: String,
    days: Vec<Weekday>,
    handoffs: String,
    from_time: String,
    to_time: String,
}

impl LayerForm {
    /// The layer, named `Layer N` when the form leaves the name empty.
    fn layer(self, n: usize) -> Result<Layer, ApiError> {
        let start = NaiveDateTime::parse_from_str(self.start.trim(), "%Y-%m-%dT%H:%M")
            .map_err(|_| ApiError::invalid("start", "give the first handoff as date and time"))?;
        let count: u32 = self.count.trim().parse().map_err(|_| ApiError::invalid("count", "a whole number"))?;
        let length = match self.unit.as_str() {
            "hours" => Length::Hours(count),
            "weeks" => Length::Weeks(count),
            _ => Length::Days(count),
        };
        let restrictions = match (self.from_time.trim(), self.to_time.trim()) {
            ("", "") => vec![],
            (a, b) => vec![Restriction {
                days: self.days,
                start: NaiveTime::parse_from_str(a, "%H:%M")
                    .map_err(|_| ApiError::invalid("from_time", "a time such as 09:00"))?,
                end: NaiveTime::parse_from_str(b, "%H:%M")
                    .map_err(|_| ApiError::invalid("to_time", "a time such as 17:00"))?,
            }],
        };
        let name = if self.name.trim().is_empty() { format!("Layer {n}") } else { self.name };
        let handoffs = Some(self.handoffs.trim().to_owned()).filter(|h| !h.is_empty());
        Ok(Layer { name, users: self.users, start, length, handoffs, restrictions })
    }
}

pub async fn layer_add(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<LayerForm>,
) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Schedule, &id));
    let s = try_page!(state.db.get_schedule(id).await);
    let result = async {
        let mut spec = s.spec.clone();
        spec.layers.push(f.layer(s.spec.layers.len() + 1)?);
        op::update_schedule(&state, &page.0, id, spec).await?;
        Ok("Layer added".into())
    };
    outcome(&format!("/oncall/{id}"), result.await)
}

pub async fn layer_remove(
    State(state): State<AppState>,
    page: PageAuth,
    Path((id, index)): Path<(String, usize)>,
) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Schedule, &id));
    let s = try_page!(state.db.get_schedule(id).await);
    let result = async {
        let mut spec = s.spec.clone();
        if index >= spec.layers.len() {
            return Err(ApiError::invalid("index", "no such layer"));
        }
        spec.layers.remove(index);
        op::update_schedule(&state, &page.0, id, spec).await?;
        Ok("Layer removed".into())
    };
    outcome(&format!("/oncall/{id}"), result.await)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OverrideForm {
    user_id: String,
    starts: String,
    ends: String,
}

pub async fn override_add(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<OverrideForm>,
) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Schedule, &id));
    let s = try_page!(state.db.get_schedule(id).await);
    let tz = s.spec.tz();
    let result = async {
        let user: Uuid = f.user_id.parse().map_err(|_| ApiError::invalid("user_id", "choose who covers"))?;
        let local = |field: &str, v: &str| -> Result<DateTime<Utc>, ApiError> {
            let n = NaiveDateTime::parse_from_str(v.trim(), "%Y-%m-%dT%H:%M")
                .map_err(|_| ApiError::invalid(field, "date and time"))?;
            Ok(oncall::local_to_utc(tz, n))
        };
        let spec = OverrideSpec::new(user, local("starts", &f.starts)?, local("ends", &f.ends)?)?;
        op::add_override(&state, &page.0, id, spec).await?;
        Ok("Override added".into())
    };
    outcome(&format!("/oncall/{id}"), result.await)
}

pub async fn override_delete(
    State(state): State<AppState>,
    page: PageAuth,
    Path((id, oid)): Path<(String, String)>,
) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Schedule, &id));
    let oid = try_page!(crate::extract::parse_id(Entity::Override, &oid));
    let result = op::delete_override(&state, &page.0, id, oid).await.map(|()| "Override removed".into());
    outcome(&format!("/oncall/{id}"), result)
}

pub async fn schedule_delete(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Schedule, &id));
    match op::delete_schedule(&state, &page.0, id).await {
        Ok(()) => done("/oncall", "Schedule deleted"),
        Err(e) => outcome(&format!("/oncall/{id}"), Err(e)),
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
    let result = async {
        let mut levels = Vec::new();
        for (targets, delay) in [(&f.level1, &f.delay1), (&f.level2, &f.delay2), (&f.level3, &f.delay3)] {
            if targets.is_empty() {
                continue;
            }
            levels.push(Level {
                delay_minutes: delay
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::invalid("levels", "each delay is a whole number of minutes"))?,
                targets: targets.iter().filter_map(|t| parse_target(t)).collect(),
            });
        }
        let loops = f.loops.trim().parse().map_err(|_| ApiError::invalid("loops", "a whole number, 1 to 9"))?;
        let spec = PolicySpec { name: f.name, description: String::new(), loops, levels };
        Ok(match f.id.parse::<Uuid>() {
            Ok(id) => format!("Policy {} saved", op::update_policy(&state, &page.0, id, spec).await?.spec.name),
            Err(_) => format!("Policy {} created", op::create_policy(&state, &page.0, spec).await?.spec.name),
        })
    };
    outcome("/escalation-policies", result.await)
}

pub async fn policy_delete(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::EscalationPolicy, &id));
    outcome("/escalation-policies", op::delete_policy(&state, &page.0, id).await.map(|()| "Policy deleted".into()))
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
    let s = try_page!(state.db.get_service(opsdeck_store::catalogue::Ref::parse(&service)).await);
    let pid = f.policy_id.parse::<Uuid>().ok();
    let result = op::set_service_policy(&state, &page.0, s.service.id, pid).await;
    outcome(&format!("/services/{}", s.service.slug), result.map(|()| "Escalation policy saved".into()))
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
    let result = async {
        let mut config = ChannelConfig::default();
        if f.kind.trim() == ChannelKind::Email.as_str() {
            config.to = Some(f.target.clone());
        } else {
            config.url = Some(f.target.clone());
        }
        config.secret = Some(f.secret.clone()).filter(|s| !s.is_empty());
        config.routing_key = Some(f.routing_key.clone()).filter(|s| !s.is_empty());
        config.subject_template = Some(f.subject_template.clone()).filter(|s| !s.trim().is_empty());
        config.body_template = Some(f.body_template.clone()).filter(|s| !s.trim().is_empty());
        let service_id = f.service_id.parse::<Uuid>().ok();
        let team_id = f.team_id.parse::<Uuid>().ok();
        let spec = ChannelSpec::new(&f.name, &f.kind, config, service_id, team_id)?;
        Ok(format!("Channel {} added", op::create_channel(&state, &page.0, spec).await?.name))
    };
    outcome("/channels", result.await)
}

pub async fn channel_test(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Channel, &id));
    let result = op::test_channel(&state, &page.0, id).await.map(|sent| match sent {
        Ok(c) => format!("Test notification sent to {}", c.name),
        Err(e) => format!("Test failed: {e}"),
    });
    outcome("/channels", result)
}

pub async fn channel_delete(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::Channel, &id));
    outcome("/channels", op::delete_channel(&state, &page.0, id).await.map(|()| "Channel deleted".into()))
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
    let base = crate::operations::settings::base_url(&state, &headers).await;
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

const MINE: &str = "/settings/notifications";

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MethodForm {
    kind: String,
    address: String,
    label: String,
}

pub async fn method_add(State(state): State<AppState>, page: PageAuth, Form(f): Form<MethodForm>) -> Response {
    let result = async {
        let spec = ContactSpec::new(&f.kind, &f.address, &f.label)?;
        op::add_contact_method(&state, &page.0, page.0.user.id, spec).await?;
        Ok("Contact method added".into())
    };
    outcome(MINE, result.await)
}

pub async fn method_delete(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::ContactMethod, &id));
    let result = op::delete_contact_method(&state, &page.0, page.0.user.id, id).await;
    outcome(MINE, result.map(|()| "Contact method removed".into()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RuleForm {
    contact_method_id: String,
    delay_minutes: String,
}

pub async fn rule_add(State(state): State<AppState>, page: PageAuth, Form(f): Form<RuleForm>) -> Response {
    let result = async {
        let cm: Uuid = f
            .contact_method_id
            .parse()
            .map_err(|_| ApiError::invalid("contact_method_id", "choose a contact method"))?;
        let delay: i64 =
            f.delay_minutes.trim().parse().map_err(|_| ApiError::invalid("delay_minutes", "minutes, e.g. 0 or 5"))?;
        op::add_notification_rule(&state, &page.0, page.0.user.id, RuleSpec::new(cm, delay)?).await?;
        Ok("Rule added".into())
    };
    outcome(MINE, result.await)
}

pub async fn rule_delete(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let id = try_page!(crate::extract::parse_id(Entity::NotificationRule, &id));
    let result = op::delete_notification_rule(&state, &page.0, page.0.user.id, id).await;
    outcome(MINE, result.map(|()| "Rule removed".into()))
}

/// Who is on call now for a service, for its page.
pub async fn for_service(state: &AppState, service_id: Uuid) -> Vec<OnCall> {
    op::who_is_on_call(state, op::Scope::Service(service_id), state.now()).await.unwrap_or_default()
}
