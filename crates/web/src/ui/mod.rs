//! Server-rendered pages (askama templates under `templates/`), with forms that work without
//! JavaScript; `assets/app.js` adds live updates, shortcuts and the theme toggle.

// Page helpers return the rendered error page as their `Err`; it is sent at once, so boxing it
// would buy nothing.
#![allow(clippy::result_large_err)]

/// The page frame, or the error page that replaces it: `chrome!(page, state, section, notice)`.
macro_rules! chrome {
    ($page:expr, $state:expr, $section:expr, $notice:expr) => {
        match $page.chrome(&$state, $section, $notice).await {
            Ok(c) => c,
            Err(r) => return r,
        }
    };
}

/// Unwraps a store or API result, or returns the error page.
macro_rules! try_page {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return error_page(&ApiError::from(e)),
        }
    };
}

mod account;
mod admin;
mod agents;
mod alert_rules;
mod capacity;
mod catalogue;
mod change_calendar;
mod change_form;
mod change_questionnaire;
mod change_settings;
mod change_templates;
mod changes;
pub(crate) mod charts;
mod ci_lines;
mod cmdb;
mod cmdb_attributes;
mod cmdb_graph;
mod cmdb_lifecycle;
mod contracts;
mod desk_settings;
mod forecast_chart;
mod home;
mod imports;
mod incidents;
mod integrations;
mod kb;
pub(crate) mod kpi;
mod maintenance;
mod monitor_form;
mod monitors;
pub(crate) mod oncall;
mod portal;
mod postmortems;
mod problems;
mod report_schedules;
mod reports;
mod request_items;
mod sla_agreements;
mod slos;
pub(crate) mod status_pages;
mod status_preview;
mod status_subscribers;
mod status_templates;
mod team_members;
mod ticket_files;
mod ticket_links;
mod ticket_routes;
mod tickets;
mod vendors;

use crate::AppState;
use crate::auth::{self, Auth};
use crate::error::ApiError;
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use opsdeck_core::role::Permission;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::page))
        .route("/login", get(account::login_page).post(account::login_submit))
        .route("/logout", post(account::logout))
        .route("/setup", get(account::setup_page).post(account::setup_submit))
        .route("/services", get(catalogue::services).post(catalogue::service_create))
        .route("/services/new", get(catalogue::service_new))
        .route("/services/{service}", get(catalogue::service_page))
        .route("/services/{service}/edit", get(catalogue::service_edit).post(catalogue::service_update))
        .route("/services/{service}/delete", post(catalogue::service_delete))
        .route("/services/{service}/dependencies", post(catalogue::dependency_add))
        .route("/services/{service}/dependencies/{dep}/delete", post(catalogue::dependency_remove))
        .route("/monitors", get(monitors::list).post(monitor_form::create))
        .route("/monitors/new", get(monitor_form::new))
        .route("/monitors/bulk", post(monitors::bulk))
        .route("/monitors/{id}", get(monitors::detail))
        .route("/monitors/{id}/edit", get(monitor_form::edit).post(monitor_form::update))
        .route("/monitors/{id}/check", post(monitors::check))
        .route("/monitors/{id}/pause", post(monitors::pause))
        .route("/monitors/{id}/resume", post(monitors::resume))
        .route("/monitors/{id}/anomaly-alert", post(monitors::anomaly_alert_on))
        .route("/monitors/{id}/anomaly-alert/delete", post(monitors::anomaly_alert_off))
        .route("/monitors/{id}/delete", post(monitors::delete))
        .route("/monitors/{id}/ping-url/rotate", post(monitors::rotate_ping_url))
        .route("/incidents", get(incidents::list).post(incidents::declare))
        .route("/incidents/bulk", post(incidents::bulk))
        .route("/incidents/{id}", get(incidents::detail))
        .route("/incidents/{id}/responders", post(incidents::responder_add))
        .route("/incidents/{id}/acknowledge", post(incidents::acknowledge))
        .route("/incidents/{id}/resolve", post(incidents::resolve))
        .route("/incidents/{id}/reopen", post(incidents::reopen))
        .route("/incidents/{id}/escalate", post(incidents::escalate))
        .route("/incidents/{id}/notes", post(incidents::note))
        .route("/incidents/{id}/status-updates", post(incidents::status_update))
        .route("/incidents/{id}/public-updates", post(status_pages::public_update))
        .route("/incidents/{id}/snooze", post(incidents::snooze))
        .route("/incidents/{id}/severity", post(incidents::severity))
        .route("/incidents/{id}/assignment", post(incidents::assign))
        .route("/incidents/{id}/merge", post(incidents::merge))
        .route("/incidents/{id}/postmortem", get(postmortems::postmortem).post(postmortems::postmortem_save))
        .route("/incidents/{id}/action-items", post(postmortems::action_add))
        .route("/action-items", get(postmortems::action_items))
        .route("/action-items/{id}", post(postmortems::action_status))
        .route("/alerts", get(incidents::alerts))
        .route("/oncall", get(oncall::list).post(oncall::create))
        .route("/oncall/{id}", get(oncall::detail))
        .route("/oncall/{id}/layers", post(oncall::layer_add))
        .route("/oncall/{id}/layers/{index}/delete", post(oncall::layer_remove))
        .route("/oncall/{id}/overrides", post(oncall::override_add))
        .route("/oncall/{id}/overrides/{override_id}/delete", post(oncall::override_delete))
        .route("/oncall/{id}/delete", post(oncall::schedule_delete))
        .route("/escalation-policies", get(oncall::policies).post(oncall::policy_create))
        .route("/escalation-policies/{id}/delete", post(oncall::policy_delete))
        .route("/services/{service}/escalation-policy", post(oncall::service_policy))
        .route("/channels", get(oncall::channels).post(oncall::channel_create))
        .route("/channels/{id}/test", post(oncall::channel_test))
        .route("/channels/{id}/delete", post(oncall::channel_delete))
        .route("/settings/notifications", get(oncall::mine))
        .route("/settings/notifications/methods", post(oncall::method_add))
        .route("/settings/notifications/methods/{id}/delete", post(oncall::method_delete))
        .route("/settings/notifications/rules", post(oncall::rule_add))
        .route("/settings/notifications/rules/{id}/delete", post(oncall::rule_delete))
        .route("/settings/notifications/calendar/reset", post(oncall::calendar_reset))
        .route("/settings/notifications/test", post(oncall::test_mine))
        .route("/demo/inbox", get(oncall::demo_inbox))
        .route("/reports", get(kpi::dashboard))
        .route("/reports/mttx", get(reports::report))
        .route("/reports/schedules", post(report_schedules::create))
        .route("/reports/schedules/{id}/send", post(report_schedules::send))
        .route("/reports/schedules/{id}/delete", post(report_schedules::delete))
        .route("/capacity", get(capacity::list).post(capacity::set_source))
        .route("/capacity/{name}", get(capacity::detail))
        .route("/capacity/{name}/alert", post(capacity::set_alert))
        .route("/capacity/{name}/alert/delete", post(capacity::clear_alert))
        .route("/services/{service}/integrations", get(integrations::page).post(integrations::create))
        .route("/services/{service}/integrations/{id}/rotate", post(integrations::rotate))
        .route("/services/{service}/integrations/{id}/delete", post(integrations::delete))
        .route("/services/{service}/integrations/{id}/mapping", post(integrations::save_mapping))
        .route("/services/{service}/integrations/{id}/preview", post(integrations::preview))
        .route("/services/{service}/alert-settings", post(integrations::settings))
        .route("/maintenance", get(maintenance::list).post(maintenance::create))
        .route("/maintenance/{id}/delete", post(maintenance::delete))
        .route("/status-pages", get(status_pages::list).post(status_pages::create))
        .route("/status-pages/{id}", get(status_pages::detail).post(status_pages::update))
        .route("/status-pages/{id}/delete", post(status_pages::delete))
        .route("/status-pages/{id}/components", post(status_pages::component_add))
        .route("/status-pages/{id}/components/{component}/delete", post(status_pages::component_remove))
        .route("/status-pages/{id}/components/{component}/override", post(status_pages::component_override))
        .route("/status-pages/{id}/access", post(status_pages::access))
        .route("/status-pages/{id}/preview", get(status_preview::saved).post(status_preview::draft))
        .route("/vendors", get(vendors::list).post(vendors::create))
        .route("/cmdb", get(cmdb::list).post(cmdb::create))
        .route("/cmdb/attributes", get(cmdb_attributes::page).post(cmdb_attributes::create))
        .route("/cmdb/attributes/{id}/delete", post(cmdb_attributes::delete))
        .route("/cmdb/lifecycle", get(cmdb_lifecycle::lifecycle))
        .route("/cmdb/lifecycle/reminders", post(cmdb_lifecycle::save_reminders))
        .route("/cmdb/contracts", get(contracts::list).post(contracts::create))
        .route("/cmdb/contracts/{id}", get(contracts::detail).post(contracts::update))
        .route("/cmdb/contracts/{id}/delete", post(contracts::delete))
        .route("/cmdb/{id}", get(cmdb::detail).post(cmdb::update))
        .route("/cmdb/{id}/delete", post(cmdb::delete))
        .route("/cmdb/{id}/relations", post(cmdb::relate))
        .route("/cmdb/{id}/relations/{relation}/delete", post(cmdb::unrelate))
        .route("/cmdb/{id}/monitors", post(cmdb::bind))
        .route("/cmdb/{id}/monitors/{monitor}/unbind", post(cmdb::unbind))
        .route("/tickets", get(tickets::queue).post(tickets::create))
        .route("/tickets/new", get(tickets::new))
        .route("/tickets/{id}", get(tickets::detail))
        .route("/tickets/{id}/replies", post(tickets::reply))
        .route("/tickets/{id}/act/{action}", post(tickets::act))
        .route("/tickets/{id}/assign", post(tickets::assign))
        .route("/tickets/{id}/decide/{decision}", post(tickets::decide))
        .route("/tickets/{id}/tasks/{index}", post(tickets::task))
        .route("/tickets/{id}/rating", post(tickets::rate))
        .route("/tickets/{id}/attachments/{file}", get(ticket_files::download))
        .route(
            "/tickets/{id}/attachments",
            post(ticket_files::upload).layer(axum::extract::DefaultBodyLimit::max(ticket_files::FORM_MAX)),
        )
        .route("/tickets/{id}/attachments/{file}/delete", post(ticket_files::remove))
        .route("/tickets/mail", get(tickets::mail))
        .route("/tickets/{id}/parent", post(ticket_links::parent))
        .route("/tickets/{id}/incident", post(ticket_links::incident))
        .route("/tickets/{id}/promote", post(ticket_links::promote))
        .route("/tickets/{id}/cis", post(ticket_links::cis))
        .route("/tickets/settings", get(desk_settings::page).post(desk_settings::save))
        .route("/tickets/settings/sla/{priority}", post(desk_settings::save_policy))
        .route("/tickets/settings/agreements", post(sla_agreements::create))
        .route("/tickets/settings/agreements/new", get(sla_agreements::new))
        .route("/tickets/settings/agreements/{id}", get(sla_agreements::edit).post(sla_agreements::update))
        .route("/tickets/settings/agreements/{id}/delete", post(sla_agreements::delete))
        .route("/tickets/{id}/priority", post(tickets::priority))
        .route("/tickets/routing", get(ticket_routes::list).post(ticket_routes::create))
        .route("/tickets/routing/new", get(ticket_routes::new))
        .route("/tickets/routing/{id}", get(ticket_routes::edit).post(ticket_routes::update))
        .route("/tickets/routing/{id}/delete", post(ticket_routes::delete))
        .route("/portal", get(portal::index))
        .route("/portal/items/{slug}", get(portal::item_form).post(portal::submit))
        .route("/request-items", get(request_items::list).post(request_items::create))
        .route("/request-items/new", get(request_items::new))
        .route("/request-items/{id}", get(request_items::edit).post(request_items::update))
        .route("/kb", get(kb::index).post(kb::create))
        .route("/kb/new", get(kb::new))
        .route("/kb/{id}", get(kb::article).post(kb::update))
        .route("/kb/{id}/edit", get(kb::edit))
        .route("/kb/{id}/delete", post(kb::delete))
        .route("/kb/{id}/answer", post(kb::answer))
        .route("/problems", get(problems::index).post(problems::create))
        .route("/problems/new", get(problems::new))
        .route("/problems/{id}", get(problems::detail).post(problems::update))
        .route("/problems/{id}/act/{action}", post(problems::act))
        .route("/changes", get(changes::list).post(changes::create))
        .route("/changes/new", get(changes::new))
        .route("/changes/calendar", get(change_calendar::calendar))
        .route("/changes/windows", get(change_settings::windows).post(change_settings::create_window))
        .route("/changes/windows/{id}/delete", post(change_settings::delete_window))
        .route("/changes/lockdown", post(change_settings::start_lockdown))
        .route("/changes/templates", get(change_templates::templates).post(change_templates::create))
        .route("/changes/questionnaire", get(change_questionnaire::show).post(change_questionnaire::save))
        .route("/changes/templates/{id}/delete", post(change_templates::delete))
        .route("/changes/lockdown/lift", post(change_settings::lift_lockdown))
        .route("/changes/rules", get(change_settings::rules).post(change_settings::create_rule))
        .route("/changes/rules/{id}/delete", post(change_settings::delete_rule))
        .route("/changes/{id}", get(changes::detail))
        .route("/changes/{id}/edit", post(changes::edit))
        .route("/changes/{id}/act/{action}", post(changes::act))
        .route("/changes/{id}/accept", post(changes::accept))
        .route("/changes/{id}/cause", post(changes::cause))
        .route("/agents", get(agents::list).post(agents::create))
        .route("/agents/{id}/revoke", post(agents::revoke))
        .route("/vendors/{id}", get(vendors::detail))
        .route("/vendors/{id}/delete", post(vendors::delete))
        .route("/vendors/{id}/dependents", post(vendors::add_dependent))
        .route("/vendors/{id}/dependents/{service}/delete", post(vendors::remove_dependent))
        .route("/status-pages/{id}/subscribers", post(status_subscribers::add))
        .route("/status-pages/{id}/templates", post(status_templates::add))
        .route("/status-pages/{id}/templates/{template}", post(status_templates::save))
        .route("/status-pages/{id}/templates/{template}/delete", post(status_templates::remove))
        .route("/status-pages/{id}/subscribers.csv", get(status_subscribers::export))
        .route("/status-pages/{id}/subscribers/{subscriber}/delete", post(status_subscribers::remove))
        .route("/teams", get(catalogue::teams).post(catalogue::team_create))
        .route("/teams/{team}", get(catalogue::team_page).post(catalogue::team_update))
        .route("/teams/{team}/delete", post(catalogue::team_delete))
        .route("/teams/{team}/members", post(team_members::add))
        .route("/slos/{id}", get(slos::page))
        .route("/slos/{id}/delete", post(slos::delete))
        .route("/teams/{team}/members/{user}/delete", post(team_members::remove))
        .route("/settings", get(account::settings).post(account::settings_update))
        .route("/settings/password", post(account::password_update))
        .route("/settings/users", get(admin::users).post(admin::user_create))
        .route("/settings/users/{user}", post(admin::user_update))
        .route("/settings/tokens", get(admin::tokens).post(admin::token_create))
        .route("/settings/tokens/{id}/revoke", post(admin::token_revoke))
        .route("/settings/audit", get(admin::audit))
        .route("/settings/import", get(imports::index))
        .route("/settings/import/vendor", post(imports::vendor))
        .route(
            "/settings/import/file",
            post(imports::file).layer(axum::extract::DefaultBodyLimit::max(imports::FORM_MAX)),
        )
        .route("/settings/import/{id}", get(imports::show))
        .route("/settings/import/{id}/apply", post(imports::apply))
}

/// What every page's frame needs: who is signed in, the instance name, the active section.
pub struct Chrome {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub instance_name: String,
    pub section: &'static str,
    pub can_configure: bool,
    /// An agent (responder and up): sees the desk's queue, problems and internal articles.
    pub can_respond: bool,
    pub is_admin: bool,
    /// A one-line confirmation after a redirect (`?notice=`).
    pub notice: Option<String>,
    /// The demo endpoints (and the demo inbox) are served.
    pub demo: bool,
}

/// A signed-in person viewing pages; anyone else is sent to sign in (or to setup on first run).
pub struct PageAuth(pub Auth);

impl FromRequestParts<AppState> for PageAuth {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match auth::authenticate(state, &parts.headers).await {
            Ok(Some(a)) => Ok(PageAuth(a)),
            Ok(None) | Err(_) => {
                if state.db.count_users().await.map_err(|e| error_page(&e.into()))? == 0 {
                    return Err(Redirect::to("/setup").into_response());
                }
                let path = parts
                    .extensions
                    .get::<OriginalUri>()
                    .map(|u| u.0.to_string())
                    .unwrap_or_else(|| parts.uri.to_string());
                let next = if path == "/" { String::new() } else { format!("?next={}", urlencode(&path)) };
                Err(Redirect::to(&format!("/login{next}")).into_response())
            }
        }
    }
}

impl PageAuth {
    pub async fn chrome(
        &self,
        state: &AppState,
        section: &'static str,
        notice: Option<String>,
    ) -> Result<Chrome, Response> {
        let settings = crate::operations::settings::load(state).await.map_err(|e| error_page(&e))?;
        let a = &self.0;
        Ok(Chrome {
            username: a.user.username.clone(),
            display_name: a.user.display_name.clone(),
            role: a.role.to_string(),
            instance_name: settings.instance_name,
            section,
            can_configure: a.allows(Permission::Configure),
            can_respond: a.allows(Permission::Respond),
            is_admin: a.allows(Permission::Administer),
            notice: notice.filter(|n| !n.is_empty() && n.len() < 200),
            demo: state.config.demo_endpoints,
        })
    }

    /// Refuses the page with a 403 page when the role is not enough.
    pub fn require(&self, p: Permission) -> Result<(), Response> {
        self.0.require(p).map_err(|e| error_page(&e))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "layout/error.html")]
struct ErrorPage<'a> {
    status: u16,
    code: &'a str,
    message: &'a str,
}

#[derive(Template, WebTemplate)]
#[template(path = "layout/error_in_app.html")]
struct InAppErrorPage<'a> {
    chrome: Chrome,
    status: u16,
    code: &'a str,
    message: &'a str,
}

/// An error page with the navigation for someone signed in (the bare page otherwise), for
/// addresses that match no route.
pub async fn error_page_for(state: &AppState, headers: &axum::http::HeaderMap, e: &ApiError) -> Response {
    if let Ok(Some(a)) = auth::authenticate(state, headers).await
        && let Ok(chrome) = PageAuth(a).chrome(state, "none", None).await
    {
        let page = InAppErrorPage { chrome, status: e.status().as_u16(), code: e.code.as_str(), message: &e.message };
        if let Ok(html) = page.render() {
            return (e.status(), axum::response::Html(html)).into_response();
        }
    }
    error_page(e)
}

/// A full HTML page for an error, with the API's code and message.
pub fn error_page(e: &ApiError) -> Response {
    let page = ErrorPage { status: e.status().as_u16(), code: e.code.as_str(), message: &e.message };
    match page.render() {
        Ok(html) => (e.status(), axum::response::Html(html)).into_response(),
        Err(_) => (e.status(), e.message.clone()).into_response(),
    }
}

/// Redirects after a successful form post, with a confirmation line.
pub fn done(to: &str, notice: &str) -> Response {
    // A fragment (`#members`) stays last, after the notice.
    let (path, fragment) = match to.split_once('#') {
        Some((p, f)) => (p, format!("#{f}")),
        None => (to, String::new()),
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}notice={}{fragment}", urlencode(notice))).into_response()
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|q| q.trim_start_matches('=').to_owned()).unwrap_or_default()
}

/// "4 min ago" for tables; the absolute UTC time goes into the `title` attribute.
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - t).num_seconds();
    match s {
        i64::MIN..=9 => "just now".into(),
        10..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

/// "2 h 5 min" for a number of seconds.
pub use opsdeck_core::incident::human_duration;

/// Active people to choose from: (id, name as people read it), by name.
pub(crate) async fn active_people(state: &AppState) -> Result<Vec<(uuid::Uuid, String)>, ApiError> {
    let mut v: Vec<(uuid::Uuid, String)> = state
        .db
        .list_users(None, None, Some(500))
        .await?
        .items
        .into_iter()
        .filter(|u| !u.disabled)
        .map(|u| (u.id, u.shown_name()))
        .collect();
    v.sort_by_key(|(_, n)| n.to_lowercase());
    Ok(v)
}

/// Every IANA time zone name, for the time-zone fields' suggestions.
pub fn time_zones() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|z| z.name())
}

pub fn abs(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Back to `back` after a form post: with the confirmation on success, with "Not done: …" for
/// a client error (the message names the field to fix), or the error page for a server error.
pub fn outcome(back: &str, result: Result<String, ApiError>) -> Response {
    match result {
        Ok(notice) => done(back, &notice),
        Err(e) if e.status().is_client_error() => done(back, &format!("Not done: {}", e.message)),
        Err(e) => error_page(&e),
    }
}

/// The message to show beside a form after a failed submit, in the form's words: each field is
/// named by its label ("URL: …", not "settings.url: …"), one wrong field per line; `app.js` marks
/// every field named.
pub fn form_error(e: ApiError) -> Result<String, Response> {
    if !e.status().is_client_error() {
        return Err(error_page(&e));
    }
    let details = e.details.as_ref();
    if let Some(list) = details.and_then(|d| d.get("fields")).and_then(|f| f.as_array()) {
        let lines: Vec<String> = list
            .iter()
            .filter_map(|p| Some((p.get("field")?.as_str()?, p.get("message")?.as_str()?)))
            .map(|(f, m)| format!("{}: {m}", field_label(f)))
            .collect();
        if !lines.is_empty() {
            return Ok(lines.join("\n"));
        }
    }
    let field = details.and_then(|d| d.get("field")).and_then(|f| f.as_str()).map(str::to_owned);
    Ok(match field {
        Some(f) => {
            let rest = e.message.strip_prefix(&format!("{f}: ")).unwrap_or(&e.message);
            format!("{}: {rest}", field_label(&f))
        }
        None => e.message,
    })
}

/// The label a form shows for an API field path.
pub fn field_label(path: &str) -> String {
    let known = [
        ("settings.url", "URL"),
        ("settings.method", "Method"),
        ("settings.expected_status", "Expected status"),
        ("settings.max_response_ms", "Slow above (ms)"),
        ("settings.body_contains", "Body contains"),
        ("settings.body_regex", "Body matches regex"),
        ("settings.json_assert", "JSON pointer"),
        ("settings.headers", "Headers"),
        ("settings.body", "Request body"),
        ("settings.auth", "Authentication"),
        ("settings.server_name", "Server name (SNI)"),
        ("settings.warn_days", "Degraded within (days)"),
        ("settings.critical_days", "Down within (days)"),
        ("settings.record", "Record"),
        ("settings.expected", "Expected answers"),
        ("settings.resolver", "Resolver"),
        ("settings.schedule.period_seconds", "Every (seconds)"),
        ("settings.schedule", "Expect a ping"),
        ("settings.grace_seconds", "Grace (seconds)"),
        ("settings.command", "Plugin (absolute path)"),
        ("settings.args", "Arguments"),
        ("interval_seconds", "Interval (seconds)"),
        ("timeout_seconds", "Timeout (seconds)"),
        ("down_after", "Down after"),
        ("up_after", "Up again after"),
        ("locations", "Locations"),
        ("quorum", "Quorum"),
        ("service_id", "Service"),
        ("starts_at", "Starts"),
        ("duration_minutes", "Duration"),
        ("timezone", "Time zone"),
        ("group_window_seconds", "Window (seconds)"),
        ("reopen_window_seconds", "Reopen window"),
        ("rules", "Routing rules"),
        ("loops", "Run through the levels"),
        ("delay_minutes", "Minutes after being reached"),
        ("address", "Address or webhook URL"),
        ("users", "People"),
        ("runbook_url", "Runbook URL"),
        ("starts_local", "Starts"),
        ("start", "First handoff"),
        ("count", "Each turn"),
        ("length", "Each turn"),
        ("handoffs", "Or hand off by RRULE"),
        ("from_time", "From"),
        ("to_time", "To"),
        ("cis", "CIs covered"),
        ("ci_ids", "CIs covered"),
        ("start_date", "Starts"),
        ("end_date", "Ends"),
        ("notice_days", "Notice (days)"),
        ("lead_days", "Lead times (days)"),
    ];
    if let Some((_, l)) = known.iter().find(|(k, _)| path == *k || path.starts_with(&format!("{k}."))) {
        return (*l).to_owned();
    }
    // Otherwise the last segment in words: `settings.cron` → "Cron".
    let last = path.rsplit('.').next().unwrap_or(path).replace('_', " ");
    let mut c = last.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
