//! The monitor form: create and edit a monitor of any type, with every field as typed.

use super::{Chrome, PageAuth, done, error_page, form_error};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::monitors::{self as op, require_for_kind};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::monitor::{MonitorInput, MonitorSpec, MonitorType, Settings};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::ServiceFilter;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// Every field any monitor type has, as typed, so a failed submit shows what was entered.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct MonitorForm {
    name: String,
    service_id: String,
    interval_seconds: String,
    timeout_seconds: String,
    down_after: String,
    up_after: String,
    tags: String,
    locations: String,
    quorum: String,
    // http
    url: String,
    method: String,
    expected_status: String,
    body_contains: String,
    body_regex: String,
    json_pointer: String,
    json_equals: String,
    max_response_ms: String,
    follow_redirects: Option<String>,
    verify_tls: Option<String>,
    fresh_connection: Option<String>,
    headers: String,
    body: String,
    auth: String,
    auth_user: String,
    auth_secret: String,
    // tcp, icmp, tls, dns
    host: String,
    port: String,
    server_name: String,
    warn_days: String,
    critical_days: String,
    dns_name: String,
    record_type: String,
    expected: String,
    resolver: String,
    // heartbeat
    schedule: String,
    period_seconds: String,
    cron: String,
    timezone: String,
    grace_seconds: String,
    // command
    command: String,
    args: String,
}

fn opt(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

fn num(field: &'static str, s: &str) -> Result<Option<i64>, ApiError> {
    opt(s).map(|v| v.parse::<i64>().map_err(|_| ApiError::invalid(field, "must be a whole number"))).transpose()
}

fn comma_list(s: &str) -> Vec<String> {
    s.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect()
}

impl MonitorForm {
    fn blank(kind: MonitorType) -> Self {
        MonitorForm {
            interval_seconds: "60".into(),
            down_after: "1".into(),
            up_after: "1".into(),
            locations: opsdeck_core::agent::SERVER.into(),
            quorum: "1".into(),
            method: "GET".into(),
            expected_status: "200-299".into(),
            follow_redirects: Some("on".into()),
            verify_tls: Some("on".into()),
            port: if kind == MonitorType::Tls { "443".into() } else { String::new() },
            warn_days: "21".into(),
            critical_days: "7".into(),
            record_type: "A".into(),
            schedule: "period".into(),
            period_seconds: "3600".into(),
            timezone: "UTC".into(),
            grace_seconds: "300".into(),
            ..Default::default()
        }
    }

    fn settings(&self, kind: MonitorType) -> Result<Value, ApiError> {
        let s = |v: &str| opt(v).map(|x| Value::String(x.to_owned()));
        Ok(match kind {
            MonitorType::Http => {
                let mut headers = serde_json::Map::new();
                for line in self.headers.lines().filter_map(opt) {
                    let (k, v) = line
                        .split_once(':')
                        .ok_or_else(|| ApiError::invalid("settings.headers", "write one \"Name: value\" per line"))?;
                    headers.insert(k.trim().to_owned(), Value::String(v.trim().to_owned()));
                }
                let auth = match self.auth.as_str() {
                    "basic" => json!({"type": "basic", "username": self.auth_user, "password": self.auth_secret}),
                    "bearer" => json!({"type": "bearer", "token": self.auth_secret}),
                    _ => Value::Null,
                };
                let json_assert = match opt(&self.json_pointer) {
                    Some(p) => {
                        let equals = serde_json::from_str::<Value>(&self.json_equals)
                            .unwrap_or_else(|_| Value::String(self.json_equals.clone()));
                        json!({"pointer": p, "equals": equals})
                    }
                    None => Value::Null,
                };
                json!({
                    "url": self.url.trim(), "method": opt(&self.method).unwrap_or("GET"),
                        "expected_status": comma_list(&self.expected_status),
                    "body_contains": s(&self.body_contains), "body_regex": s(&self.body_regex),
                        "json_assert": json_assert,
                    "max_response_ms": num("settings.max_response_ms", &self.max_response_ms)?,
                    "follow_redirects": self.follow_redirects.is_some(), "verify_tls": self.verify_tls.is_some(),
                    "fresh_connection": self.fresh_connection.is_some(),
                    "headers": headers, "body": s(&self.body), "auth": auth,
                })
            }
            MonitorType::Tcp => {
                json!({"host": self.host.trim(), "port": num("settings.port", &self.port)?.unwrap_or(0)})
            }
            MonitorType::Icmp => json!({"host": self.host.trim()}),
            MonitorType::Tls => {
                let mut v = json!({"host": self.host.trim(), "server_name": s(&self.server_name)});
                for (k, field, raw) in [
                    ("port", "settings.port", &self.port),
                    ("warn_days", "settings.warn_days", &self.warn_days),
                    ("critical_days", "settings.critical_days", &self.critical_days),
                ] {
                    if let Some(n) = num(field, raw)? {
                        v[k] = json!(n);
                    }
                }
                v
            }
            MonitorType::Dns => {
                json!({"name": self.dns_name.trim(), "record_type": opt(&self.record_type).unwrap_or("A"),
                    "expected": comma_list(&self.expected), "resolver": s(&self.resolver)})
            }
            MonitorType::Heartbeat => {
                let schedule = if self.schedule == "cron" {
                    json!({"cron": self.cron.trim(), "timezone": opt(&self.timezone).unwrap_or("UTC")})
                } else {
                    json!({"period_seconds": num("settings.schedule.period_seconds",
                        &self.period_seconds)?.unwrap_or(0)})
                };
                json!({"schedule": schedule, "grace_seconds": num("settings.grace_seconds",
                    &self.grace_seconds)?.unwrap_or(60)})
            }
            MonitorType::Command => {
                json!({"command": self.command.trim(), "args": self.args.lines().filter_map(opt).collect::<Vec<_>>()})
            }
        })
    }

    fn input(&self, kind: MonitorType) -> Result<MonitorInput, ApiError> {
        let service_id = match opt(&self.service_id) {
            Some(s) => {
                Some(s.parse::<Uuid>().map_err(|_| ApiError::invalid("service_id", "choose a service from the list"))?)
            }
            None => None,
        };
        Ok(MonitorInput {
            name: Some(self.name.clone()),
            service_id: Some(service_id),
            kind: Some(kind.as_str().into()),
            interval_seconds: num("interval_seconds", &self.interval_seconds)?,
            timeout_seconds: num("timeout_seconds", &self.timeout_seconds)?,
            down_after: num("down_after", &self.down_after)?,
            up_after: num("up_after", &self.up_after)?,
            tags: Some(comma_list(&self.tags)),
            settings: Some(self.settings(kind)?),
            locations: (kind != MonitorType::Heartbeat).then(|| comma_list(&self.locations)),
            quorum: if kind == MonitorType::Heartbeat { None } else { num("quorum", &self.quorum)? },
        })
    }

    fn from_spec(spec: &MonitorSpec) -> Self {
        let mut f = MonitorForm::blank(spec.kind);
        f.name = spec.name.clone();
        f.service_id = spec.service_id.map(|s| s.to_string()).unwrap_or_default();
        f.interval_seconds = spec.interval_seconds.to_string();
        f.timeout_seconds = spec.timeout_seconds.to_string();
        f.down_after = spec.down_after.to_string();
        f.up_after = spec.up_after.to_string();
        f.tags = spec.tags.join(", ");
        f.locations = opsdeck_core::agent::effective(&spec.locations).join(", ");
        f.quorum = spec.quorum.to_string();
        // Secrets are write-only: the form shows them masked, and sending the mask (or a blank
        // password) back keeps the stored value (`Settings::keep_secrets`).
        match &spec.settings.redacted() {
            Settings::Http(h) => {
                f.url = h.url.clone();
                f.method = h.method.clone();
                f.expected_status = h.expected_status.join(", ");
                f.body_contains = h.body_contains.clone().unwrap_or_default();
                f.body_regex = h.body_regex.clone().unwrap_or_default();
                if let Some(j) = &h.json_assert {
                    f.json_pointer = j.pointer.clone();
                    f.json_equals = j.equals.to_string();
                }
                f.max_response_ms = h.max_response_ms.map(|v| v.to_string()).unwrap_or_default();
                f.follow_redirects = h.follow_redirects.then(|| "on".into());
                f.verify_tls = h.verify_tls.then(|| "on".into());
                f.fresh_connection = h.fresh_connection.then(|| "on".into());
                f.headers = h.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n");
                f.body = h.body.clone().unwrap_or_default();
                match &h.auth {
                    Some(opsdeck_core::monitor::HttpAuth::Basic { username, .. }) => {
                        f.auth = "basic".into();
                        f.auth_user = username.clone();
                    }
                    Some(opsdeck_core::monitor::HttpAuth::Bearer { .. }) => f.auth = "bearer".into(),
                    None => {}
                }
            }
            Settings::Tcp(t) => {
                f.host = t.host.clone();
                f.port = t.port.to_string();
            }
            Settings::Icmp(i) => f.host = i.host.clone(),
            Settings::Tls(t) => {
                f.host = t.host.clone();
                f.port = t.port.to_string();
                f.server_name = t.server_name.clone().unwrap_or_default();
                f.warn_days = t.warn_days.to_string();
                f.critical_days = t.critical_days.to_string();
            }
            Settings::Dns(d) => {
                f.dns_name = d.name.clone();
                f.record_type = serde_json::to_value(d.record_type)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "A".into());
                f.expected = d.expected.join(", ");
                f.resolver = d.resolver.clone().unwrap_or_default();
            }
            Settings::Heartbeat(h) => {
                f.grace_seconds = h.grace_seconds.to_string();
                match (&h.schedule.period_seconds, &h.schedule.cron) {
                    (Some(p), _) => {
                        f.schedule = "period".into();
                        f.period_seconds = p.to_string();
                    }
                    (_, Some(c)) => {
                        f.schedule = "cron".into();
                        f.cron = c.clone();
                        f.timezone = h.schedule.timezone.clone().unwrap_or_else(|| "UTC".into());
                    }
                    _ => {}
                }
            }
            Settings::Command(c) => {
                f.command = c.command.clone();
                f.args = c.args.join("\n");
            }
        }
        f
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "monitors/monitor_form.html")]
pub struct FormPage {
    chrome: Chrome,
    kind: MonitorType,
    types: [MonitorType; 7],
    /// `None` when creating.
    id: Option<Uuid>,
    form: MonitorForm,
    services: Vec<opsdeck_store::catalogue::ServiceView>,
    error: Option<String>,
    is_admin: bool,
}

async fn form_page(
    state: &AppState,
    page: &PageAuth,
    kind: MonitorType,
    id: Option<Uuid>,
    form: MonitorForm,
    error: Option<String>,
) -> Response {
    let chrome = chrome!(page, state, "monitors", None);
    let services =
        try_page!(state.db.list_services(&ServiceFilter { limit: Some(500), ..Default::default() }).await).items;
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let is_admin = page.0.allows(Permission::Administer);
    (status, FormPage { chrome, kind, types: MonitorType::ALL, id, form, services, error, is_admin }).into_response()
}

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    service: Option<String>,
}

pub async fn new(State(state): State<AppState>, page: PageAuth, Query(q): Query<NewQuery>) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let kind = q.kind.as_deref().and_then(|k| k.parse().ok()).unwrap_or(MonitorType::Http);
    let mut form = MonitorForm::blank(kind);
    form.service_id = q.service.unwrap_or_default();
    form_page(&state, &page, kind, None, form, None).await
}

#[derive(Deserialize)]
pub struct KindQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    page: PageAuth,
    Query(q): Query<KindQuery>,
    Form(f): Form<MonitorForm>,
) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let kind = q.kind.as_deref().and_then(|k| k.parse().ok()).unwrap_or(MonitorType::Http);
    let result = async { op::create_monitor(&state, &page.0, f.input(kind)?, false).await }.await;
    match result {
        Ok(v) => {
            done(&format!("/monitors/{}", v.monitor.id), "Monitor created; its first check runs within one interval")
        }
        Err(e) => match form_error(e) {
            Ok(msg) => form_page(&state, &page, kind, None, f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn edit(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let id = match crate::extract::parse_id(Entity::Monitor, &id) {
        Ok(id) => id,
        Err(e) => return error_page(&e),
    };
    let v = try_page!(state.db.get_monitor(id).await);
    let spec = &v.monitor.spec;
    form_page(&state, &page, spec.kind, Some(id), MonitorForm::from_spec(spec), None).await
}

pub async fn update(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<MonitorForm>,
) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let id = match crate::extract::parse_id(Entity::Monitor, &id) {
        Ok(id) => id,
        Err(e) => return error_page(&e),
    };
    let current = try_page!(state.db.get_monitor(id).await).monitor;
    let kind = current.spec.kind;
    let result = async {
        // Command monitors are refused to non-admins before the form is read.
        require_for_kind(&page.0, kind)?;
        op::update_monitor(&state, &page.0, id, f.input(kind)?).await
    }
    .await;
    match result {
        Ok(_) => done(&format!("/monitors/{id}"), "Monitor saved"),
        Err(e) => match form_error(e) {
            Ok(msg) => form_page(&state, &page, kind, Some(id), f, Some(msg)).await,
            Err(r) => r,
        },
    }
}
