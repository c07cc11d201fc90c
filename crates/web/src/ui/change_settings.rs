//! The change calendar's maintenance and freeze windows, and the approval rules (managers edit
//! them; everyone sees them).

use super::{Chrome, PageAuth, done, error_page, form_error, outcome};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::operations::change_calendar as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use chrono::{TimeZone, Utc};
use opsdeck_core::change::ChangeType;
use opsdeck_core::change::approval::ApprovalRule;
use opsdeck_core::change::risk::RiskLevel;
use opsdeck_core::change::spec::{self, WindowSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::change::calendar::CalendarWindow;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct WindowForm {
    name: String,
    kind: String,
    starts_at: String,
    ends_at: String,
    timezone: String,
    cis: String,
    description: String,
    /// Blank (once), `daily`, `weekly` or `monthly` (on the first occurrence's day).
    repeats: String,
}

impl WindowForm {
    async fn spec(&self, state: &AppState, auth: &Auth) -> Result<WindowSpec, ApiError> {
        auth.require(Permission::Configure)?;
        let tz_name = if self.timezone.trim().is_empty() { "UTC" } else { self.timezone.trim() };
        let tz: chrono_tz::Tz = tz_name.parse().map_err(|_| {
            ApiError::invalid("timezone", format!("unknown time zone {tz_name:?}; use e.g. Europe/Berlin"))
        })?;
        let at = |field: &'static str, raw: &str| -> Result<chrono::DateTime<Utc>, ApiError> {
            let t = opsdeck_core::time::parse_local(field, raw)?;
            let local = tz.from_local_datetime(&t).earliest();
            local
                .map(|l| l.with_timezone(&Utc))
                .ok_or_else(|| ApiError::invalid(field, "this local time does not exist"))
        };
        let cis = super::ci_lines::resolve(state, &self.cis, spec::CIS_MAX, "a window holds").await?;
        let (s, e) = (at("starts_at", &self.starts_at)?, at("ends_at", &self.ends_at)?);
        let rule = match self.repeats.as_str() {
            "" => None,
            "daily" => Some("FREQ=DAILY"),
            "weekly" => Some("FREQ=WEEKLY"),
            "monthly" => Some("FREQ=MONTHLY"),
            _ => return Err(ApiError::invalid("repeats", "choose once, daily, weekly or monthly")),
        };
        Ok(WindowSpec::new(&self.name, &self.kind, s, e, &cis, &self.description)?.repeating(rule, tz_name)?)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "changes/windows.html")]
pub struct WindowsPage {
    chrome: Chrome,
    windows: Vec<(CalendarWindow, String)>,
    form: WindowForm,
    error: Option<String>,
    lockdown: Option<opsdeck_store::change::lockdown::Lockdown>,
}

async fn windows_page(
    state: &AppState,
    auth: &PageAuth,
    notice: Option<String>,
    form: WindowForm,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "changes", notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let windows = match op::window_list(state, &auth.0).await {
        Ok(w) => w,
        Err(e) => return error_page(&e),
    };
    let mut rows = Vec::new();
    for w in windows {
        let names: Vec<String> = match state.db.cis_by_id(&w.ci_ids).await {
            Ok(cis) => cis.into_iter().take(20).map(|c| c.name).collect(),
            Err(e) => return error_page(&e.into()),
        };
        let scope = if w.ci_ids.is_empty() {
            "Every CI".to_owned()
        } else if w.ci_ids.len() > names.len() {
            format!("{} and {} more", names.join(", "), w.ci_ids.len() - names.len())
        } else {
            names.join(", ")
        };
        rows.push((w, scope));
    }
    let lockdown = match crate::operations::change_lockdown::current(state, &auth.0).await {
        Ok(l) => l,
        Err(e) => return error_page(&e),
    };
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, WindowsPage { chrome, windows: rows, form, error, lockdown }).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn windows(
    State(state): State<AppState>,
    auth: PageAuth,
    axum::extract::Query(q): axum::extract::Query<NoticeQuery>,
) -> Response {
    let form = WindowForm { kind: "maintenance".into(), timezone: "UTC".into(), ..WindowForm::default() };
    windows_page(&state, &auth, q.notice, form, None).await
}

pub async fn create_window(State(state): State<AppState>, auth: PageAuth, Form(f): Form<WindowForm>) -> Response {
    let result = async { op::save_window(&state, &auth.0, None, &f.spec(&state, &auth.0).await?).await }.await;
    match result {
        Ok(w) => done("/changes/windows", &format!("Window {} planned", w.name)),
        Err(e) => match form_error(e) {
            Ok(msg) => windows_page(&state, &auth, None, f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn delete_window(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let result = async {
        let id = crate::extract::parse_id(opsdeck_core::Entity::ChangeWindow, &id)?;
        op::delete_window(&state, &auth.0, id).await?;
        Ok("Window deleted".to_owned())
    }
    .await;
    outcome("/changes/windows", result)
}

/// A window's rule in words: the three the form offers, else the rule itself.
pub fn repeats(rule: &str) -> String {
    match rule {
        "FREQ=DAILY" => "every day".to_owned(),
        "FREQ=WEEKLY" => "every week".to_owned(),
        "FREQ=MONTHLY" => "every month".to_owned(),
        other => other.to_owned(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LockdownForm {
    reason: String,
}

/// Starts a change lockdown: every change that is not an emergency is on hold until lifted.
pub async fn start_lockdown(State(state): State<AppState>, auth: PageAuth, Form(f): Form<LockdownForm>) -> Response {
    let result = crate::operations::change_lockdown::start(&state, &auth.0, &f.reason)
        .await
        .map(|_| "Changes are locked down: every change but emergencies is on hold".to_owned());
    outcome("/changes/windows", result)
}

pub async fn lift_lockdown(State(state): State<AppState>, auth: PageAuth) -> Response {
    let result = crate::operations::change_lockdown::lift(&state, &auth.0).await.map(|_| "Lockdown lifted".to_owned());
    outcome("/changes/windows", result)
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct RuleForm {
    name: String,
    normal: Option<String>,
    emergency: Option<String>,
    min_risk: String,
    services: String,
    approvers: String,
    required: String,
}

impl RuleForm {
    async fn rule(&self, state: &AppState, auth: &Auth) -> Result<ApprovalRule, ApiError> {
        auth.require(Permission::Configure)?;
        let mut types = Vec::new();
        if self.normal.is_some() {
            types.push(ChangeType::Normal);
        }
        if self.emergency.is_some() {
            types.push(ChangeType::Emergency);
        }
        let min_risk = match self.min_risk.trim() {
            "" => None,
            r => Some(RiskLevel::parse(r).ok_or_else(|| ApiError::invalid("min_risk", "choose a risk level"))?),
        };
        let mut services = Vec::new();
        for l in self.services.lines().map(str::trim).filter(|l| !l.is_empty()).take(spec::SERVICES_MAX + 1) {
            services.push(crate::operations::changes::service(state, l).await?);
        }
        let mut approvers = Vec::new();
        for l in self.approvers.lines().map(str::trim).filter(|l| !l.is_empty()).take(51) {
            approvers.push(crate::operations::changes::person(state, "approvers", l).await?);
        }
        let required = match self.required.trim() {
            "" => 1,
            n => n.parse::<i64>().map_err(|_| ApiError::invalid("required", "write a whole number"))?,
        };
        Ok(ApprovalRule::new(&self.name, types, min_risk, services, approvers, required)?)
    }
}

/// A rule as the page shows it: who approves, and which services it covers, by name.
pub struct RuleRow {
    id: Uuid,
    rule: ApprovalRule,
    approvers: Vec<String>,
    services: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "changes/rules.html")]
pub struct RulesPage {
    chrome: Chrome,
    rules: Vec<RuleRow>,
    form: RuleForm,
    error: Option<String>,
}

async fn rules_page(
    state: &AppState,
    auth: &PageAuth,
    notice: Option<String>,
    form: RuleForm,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "changes", notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let mut rows = Vec::new();
        for r in op::rules(state, &auth.0).await? {
            let approvers = state.db.user_names(&r.rule.approvers).await?.into_iter().map(|u| u.1).collect();
            let services = state.db.service_tiers(&r.rule.service_ids).await?.into_iter().map(|s| s.1).collect();
            rows.push(RuleRow { id: r.id, rule: r.rule, approvers, services });
        }
        Ok::<_, ApiError>(rows)
    }
    .await;
    let rules = match result {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, RulesPage { chrome, rules, form, error }).into_response()
}

pub async fn rules(
    State(state): State<AppState>,
    auth: PageAuth,
    axum::extract::Query(q): axum::extract::Query<NoticeQuery>,
) -> Response {
    let form = RuleForm {
        required: "1".into(),
        normal: Some("on".into()),
        emergency: Some("on".into()),
        ..RuleForm::default()
    };
    rules_page(&state, &auth, q.notice, form, None).await
}

pub async fn create_rule(State(state): State<AppState>, auth: PageAuth, Form(f): Form<RuleForm>) -> Response {
    let result = async { op::save_rule(&state, &auth.0, None, &f.rule(&state, &auth.0).await?).await }.await;
    match result {
        Ok(r) => done("/changes/rules", &format!("Rule {} added", r.rule.name)),
        Err(e) => match form_error(e) {
            Ok(msg) => rules_page(&state, &auth, None, f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn delete_rule(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let result = async {
        let id = crate::extract::parse_id(opsdeck_core::Entity::ChangeRule, &id)?;
        op::delete_rule(&state, &auth.0, id).await?;
        Ok("Rule deleted".to_owned())
    }
    .await;
    outcome("/changes/rules", result)
}
