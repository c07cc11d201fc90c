//! Catalogue pages: services (list, detail, form) and teams.

use super::{Chrome, PageAuth, done, error_page, form_error};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::catalogue as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use opsdeck_core::Entity;
use opsdeck_core::catalogue::{Link, ServiceInput, Team, TeamSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::{Ref, ServiceFilter, ServiceView};
use serde::Deserialize;
use uuid::Uuid;

// ---- services list ----------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct ServicesQuery {
    q: Option<String>,
    team: Option<String>,
    tier: Option<String>,
    cursor: Option<String>,
    notice: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "catalogue/services.html")]
pub struct ServicesPage {
    chrome: Chrome,
    services: Vec<ServiceView>,
    teams: Vec<Team>,
    q: String,
    team: String,
    tier: String,
    next: Option<String>,
    filtered: bool,
    /// The worst monitor state of each listed service that has monitors.
    health: std::collections::HashMap<Uuid, &'static str>,
    /// Open incidents of each listed service that has some: (count, worst severity).
    open: std::collections::HashMap<Uuid, (i64, String)>,
    /// Who each listed service with an escalation policy pages first: (name, unreachable).
    on_call: std::collections::HashMap<Uuid, Vec<(String, bool)>>,
    /// Services in the catalogue.
    total: i64,
}

pub async fn services(State(state): State<AppState>, page: PageAuth, Query(q): Query<ServicesQuery>) -> Response {
    let chrome = chrome!(page, state, "services", q.notice.clone());
    let team_id = q.team.as_deref().and_then(|t| t.parse::<Uuid>().ok());
    let tier = q.tier.as_deref().and_then(|t| t.parse::<i16>().ok());
    let cursor = q.cursor.as_deref().and_then(opsdeck_store::Cursor::decode);
    let filter = ServiceFilter { q: q.q.clone(), team_id, tier, cursor, limit: Some(50) };
    let list = try_page!(state.db.list_services(&filter).await);
    let teams = try_page!(state.db.list_teams(None, None, Some(500)).await).items;
    let (qs, team, tier_s) = (q.q.unwrap_or_default(), q.team.unwrap_or_default(), q.tier.unwrap_or_default());
    let next = list.next_cursor.map(|c| {
        format!(
            "/services?q={}&team={}&tier={}&cursor={}",
            super::urlencode(&qs),
            super::urlencode(&team),
            super::urlencode(&tier_s),
            c
        )
    });
    let filtered = !qs.is_empty() || team_id.is_some() || tier.is_some();
    // Health, open incidents and first responders of the listed services, a few grouped queries
    // for the page.
    let ids: Vec<Uuid> = list.items.iter().map(|v| v.service.id).collect();
    use opsdeck_core::monitor::MonitorState as M;
    let health = try_page!(state.db.monitor_states_by_service(&ids).await)
        .into_iter()
        .filter_map(|(id, states)| {
            [M::Down, M::Degraded, M::Pending, M::Maintenance, M::Up, M::Paused]
                .into_iter()
                .find(|st| states.iter().any(|(s, n)| s == st && *n > 0))
                .map(|st| (id, st.as_str()))
        })
        .collect();
    let open = try_page!(state.db.open_incidents_by_service(&ids).await);
    let on_call = try_page!(crate::operations::oncall::first_on_call(&state, &ids, state.now()).await)
        .into_iter()
        .map(|(id, people)| (id, people.into_iter().map(|p| (p.display_name, p.unreachable)).collect()))
        .collect();
    let total = try_page!(state.db.count_services().await);
    ServicesPage {
        chrome,
        services: list.items,
        teams,
        q: qs,
        team,
        tier: tier_s,
        next,
        filtered,
        health,
        open,
        on_call,
        total,
    }
    .into_response()
}

// ---- service form -----------------------------------------------------------------------

/// The form's fields as text, so a failed submit shows exactly what was typed.
#[derive(Deserialize, Default, Clone)]
pub struct ServiceForm {
    name: String,
    slug: String,
    description: String,
    team_id: String,
    tier: String,
    tags: String,
    runbook_url: String,
    /// One link per line: `Title | https://…`.
    links: String,
}

impl ServiceForm {
    fn from_service(s: &opsdeck_core::catalogue::Service) -> Self {
        ServiceForm {
            name: s.name.clone(),
            slug: s.slug.clone(),
            description: s.description.clone(),
            team_id: s.team_id.map(|t| t.to_string()).unwrap_or_default(),
            tier: s.tier.to_string(),
            tags: s.tags.join(", "),
            runbook_url: s.runbook_url.clone().unwrap_or_default(),
            links: s.links.iter().map(|l| format!("{} | {}", l.title, l.url)).collect::<Vec<_>>().join("\n"),
        }
    }

    fn input(&self) -> Result<ServiceInput, ApiError> {
        let team_id = match self.team_id.trim() {
            "" => None,
            t => Some(t.parse::<Uuid>().map_err(|_| ApiError::invalid("team_id", "choose a team from the list"))?),
        };
        let tier =
            self.tier.trim().parse::<i16>().map_err(|_| ApiError::invalid("tier", "choose a tier from 1 to 4"))?;
        let mut links = Vec::new();
        for line in self.links.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (title, url) = match line.split_once('|') {
                Some((t, u)) => (t.trim(), u.trim()),
                None => (line, line),
            };
            links.push(Link { title: title.to_owned(), url: url.to_owned() });
        }
        Ok(ServiceInput {
            name: Some(self.name.clone()),
            slug: Some(self.slug.clone()).filter(|s| !s.trim().is_empty()),
            description: Some(self.description.clone()),
            team_id: Some(team_id),
            tier: Some(tier),
            tags: Some(self.tags.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect()),
            runbook_url: Some(Some(self.runbook_url.clone())),
            links: Some(links),
        })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "catalogue/service_form.html")]
pub struct ServiceFormPage {
    chrome: Chrome,
    /// `None` when creating.
    slug: Option<String>,
    form: ServiceForm,
    teams: Vec<Team>,
    error: Option<String>,
}

async fn form_page(
    state: &AppState,
    page: &PageAuth,
    slug: Option<String>,
    form: ServiceForm,
    error: Option<String>,
) -> Response {
    let chrome = chrome!(page, state, "services", None);
    let teams = try_page!(state.db.list_teams(None, None, Some(500)).await).items;
    let status =
        if error.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    (status, ServiceFormPage { chrome, slug, form, teams, error }).into_response()
}

pub async fn service_new(State(state): State<AppState>, page: PageAuth) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let form = ServiceForm { tier: "3".into(), ..Default::default() };
    form_page(&state, &page, None, form, None).await
}

pub async fn service_create(State(state): State<AppState>, page: PageAuth, Form(f): Form<ServiceForm>) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let result = async { op::create_service(&state, &page.0, f.input()?).await }.await;
    match result {
        Ok(s) => done(&format!("/services/{}", s.slug), "Service created"),
        Err(e) => match form_error(e) {
            Ok(msg) => form_page(&state, &page, None, f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn service_edit(State(state): State<AppState>, page: PageAuth, Path(service): Path<String>) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let s = try_page!(state.db.get_service(Ref::parse(&service)).await).service;
    form_page(&state, &page, Some(s.slug.clone()), ServiceForm::from_service(&s), None).await
}

pub async fn service_update(
    State(state): State<AppState>,
    page: PageAuth,
    Path(service): Path<String>,
    Form(f): Form<ServiceForm>,
) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let current = try_page!(state.db.get_service(Ref::parse(&service)).await).service;
    let result = async { op::update_service(&state, &page.0, &current, f.input()?).await }.await;
    match result {
        Ok(s) => done(&format!("/services/{}", s.slug), "Service saved"),
        Err(e) => match form_error(e) {
            Ok(msg) => form_page(&state, &page, Some(current.slug), f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn service_delete(State(state): State<AppState>, page: PageAuth, Path(service): Path<String>) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let s = try_page!(op::delete_service(&state, &page.0, Ref::parse(&service)).await);
    done("/services", &format!("Service {} deleted", s.name))
}

// ---- service page -----------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "catalogue/service.html")]
pub struct ServicePage {
    chrome: Chrome,
    s: ServiceView,
    depends_on: Vec<ServiceView>,
    dependents: Vec<ServiceView>,
    /// Services that could be added as dependencies.
    candidates: Vec<ServiceView>,
    updated_ago: String,
    updated_at: String,
    error: Option<String>,
    monitors: Vec<opsdeck_store::monitor::MonitorView>,
    /// The worst state among the service's monitors, if it has any.
    health: Option<&'static str>,
    /// Open incidents on the service: (reference, title, status, severity).
    open_incidents: Vec<(String, String, String, String)>,
    /// Changes reported for the service (PagerDuty change events), newest first: (when, summary).
    changes: Vec<(String, String)>,
    /// Who its escalation policy reaches now, by level.
    on_call: Vec<crate::operations::oncall::OnCall>,
    /// Policies to choose from, and the service's.
    policies: Vec<(uuid::Uuid, String)>,
    policy_id: Option<uuid::Uuid>,
    slos: Vec<super::slos::Row>,
}

#[derive(Deserialize)]
pub struct ServiceQuery {
    notice: Option<String>,
    error: Option<String>,
}

pub async fn service_page(
    State(state): State<AppState>,
    page: PageAuth,
    Path(service): Path<String>,
    Query(q): Query<ServiceQuery>,
) -> Response {
    let chrome = chrome!(page, state, "services", q.notice);
    let s = try_page!(state.db.get_service(Ref::parse(&service)).await);
    let (depends_on, dependents) = try_page!(state.db.service_dependencies(s.service.id).await);
    let candidates = if chrome.can_configure {
        let all =
            try_page!(state.db.list_services(&ServiceFilter { limit: Some(500), ..Default::default() }).await).items;
        all.into_iter()
            .filter(|c| c.service.id != s.service.id && !depends_on.iter().any(|d| d.service.id == c.service.id))
            .collect()
    } else {
        Vec::new()
    };
    let now = state.now();
    let (updated_ago, updated_at) = (super::ago(s.service.updated_at, now), super::abs(s.service.updated_at));
    let (monitors, counts) = match super::monitors::for_service(&state, s.service.id).await {
        Ok(m) => m,
        Err(e) => return error_page(&e),
    };
    use opsdeck_core::monitor::MonitorState as M;
    let health = [M::Down, M::Degraded, M::Pending, M::Maintenance, M::Up, M::Paused]
        .into_iter()
        .find(|st| counts.get(st).copied().unwrap_or(0) > 0)
        .map(M::as_str);
    let open = try_page!(
        state
            .db
            .list_incidents(&opsdeck_store::incident::IncidentFilter {
                open: true,
                service_id: Some(s.service.id),
                limit: Some(10),
                ..Default::default()
            })
            .await
    );
    let open_incidents = open
        .items
        .into_iter()
        .map(|i| {
            (
                opsdeck_core::incident::display_number(i.number),
                i.title,
                i.status.as_str().to_owned(),
                i.severity.as_str().to_owned(),
            )
        })
        .collect();
    let changes = try_page!(state.db.list_changes(s.service.id, now - chrono::Duration::days(30), now, 10).await)
        .into_iter()
        .map(|c| (super::ago(c.at, now), c.summary))
        .collect();
    let on_call = super::oncall::for_service(&state, s.service.id).await;
    let policies = try_page!(state.db.list_policies().await).into_iter().map(|p| (p.id, p.spec.name)).collect();
    let policy_id = try_page!(state.db.service_policy(s.service.id).await);
    let slos = try_page!(super::slos::for_service(&state, s.service.id).await);
    ServicePage {
        slos,
        on_call,
        policies,
        policy_id,
        open_incidents,
        changes,
        chrome,
        s,
        depends_on,
        dependents,
        candidates,
        updated_ago,
        updated_at,
        error: q.error.filter(|e| e.len() < 300),
        monitors,
        health,
    }
    .into_response()
}

#[derive(Deserialize)]
pub struct DependencyForm {
    depends_on_id: String,
}

pub async fn dependency_add(
    State(state): State<AppState>,
    page: PageAuth,
    Path(service): Path<String>,
    Form(f): Form<DependencyForm>,
) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let s = try_page!(state.db.get_service(Ref::parse(&service)).await).service;
    let back = format!("/services/{}", s.slug);
    let Ok(dep) = f.depends_on_id.parse::<Uuid>() else {
        return axum::response::Redirect::to(&format!(
            "{back}?error={}",
            super::urlencode("Choose a service to depend on")
        ))
        .into_response();
    };
    match op::add_dependency(&state, &page.0, &s, dep).await {
        Ok(()) => done(&back, "Dependency added"),
        Err(e) => match form_error(e) {
            Ok(msg) => {
                axum::response::Redirect::to(&format!("{back}?error={}", super::urlencode(&msg))).into_response()
            }
            Err(r) => r,
        },
    }
}

pub async fn dependency_remove(
    State(state): State<AppState>,
    page: PageAuth,
    Path((service, dep)): Path<(String, String)>,
) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let s = try_page!(state.db.get_service(Ref::parse(&service)).await).service;
    let dep = match crate::extract::parse_id(Entity::Dependency, &dep) {
        Ok(d) => d,
        Err(e) => return error_page(&e),
    };
    try_page!(op::remove_dependency(&state, &page.0, &s, dep).await);
    done(&format!("/services/{}", s.slug), "Dependency removed")
}

// ---- teams ------------------------------------------------------------------------------

#[derive(Deserialize, Default, Clone)]
pub struct TeamForm {
    name: String,
    slug: String,
    description: String,
}

pub struct TeamRow {
    team: Team,
    services: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "catalogue/teams.html")]
pub struct TeamsPage {
    chrome: Chrome,
    teams: Vec<TeamRow>,
    q: String,
    next: Option<String>,
    form: TeamForm,
    error: Option<String>,
    /// Teams in the catalogue.
    total: i64,
}

#[derive(Deserialize)]
pub struct TeamsQuery {
    q: Option<String>,
    cursor: Option<String>,
    notice: Option<String>,
}

async fn teams_page(
    state: &AppState,
    page: &PageAuth,
    q: TeamsQuery,
    form: TeamForm,
    error: Option<String>,
) -> Response {
    let chrome = chrome!(page, state, "teams", q.notice);
    let cursor = q.cursor.as_deref().and_then(opsdeck_store::Cursor::decode);
    let list = try_page!(state.db.list_teams(q.q.as_deref(), cursor.as_ref(), Some(50)).await);
    let counts = try_page!(state.db.service_counts_by_team().await);
    let teams = list
        .items
        .into_iter()
        .map(|team| TeamRow { services: counts.get(&team.id).copied().unwrap_or(0), team })
        .collect();
    let qs = q.q.unwrap_or_default();
    let next = list.next_cursor.map(|c| format!("/teams?q={}&cursor={c}", super::urlencode(&qs)));
    let total = try_page!(state.db.count_teams().await);
    let status =
        if error.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    (status, TeamsPage { chrome, teams, q: qs, next, form, error, total }).into_response()
}

pub async fn teams(State(state): State<AppState>, page: PageAuth, Query(q): Query<TeamsQuery>) -> Response {
    teams_page(&state, &page, q, TeamForm::default(), None).await
}

pub async fn team_create(State(state): State<AppState>, page: PageAuth, Form(f): Form<TeamForm>) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let result = async {
        let spec = TeamSpec::new(&f.name, Some(&f.slug), Some(&f.description))?;
        op::create_team(&state, &page.0, spec).await
    }
    .await;
    match result {
        Ok(t) => done("/teams", &format!("Team {} created", t.name)),
        Err(e) => match form_error(e) {
            Ok(msg) => {
                teams_page(&state, &page, TeamsQuery { q: None, cursor: None, notice: None }, f, Some(msg)).await
            }
            Err(r) => r,
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "catalogue/team.html")]
pub struct TeamPage {
    chrome: Chrome,
    team: Team,
    services: Vec<ServiceView>,
    members: super::team_members::Panel,
    form: TeamForm,
    error: Option<String>,
}

async fn team_view(
    state: &AppState,
    page: &PageAuth,
    team: Team,
    form: Option<TeamForm>,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let chrome = chrome!(page, state, "teams", notice);
    let filter = ServiceFilter { team_id: Some(team.id), limit: Some(500), ..Default::default() };
    let services = try_page!(state.db.list_services(&filter).await).items;
    let members = try_page!(super::team_members::panel(state, &team, page.0.allows(Permission::Configure)).await);
    let form = form.unwrap_or_else(|| TeamForm {
        name: team.name.clone(),
        slug: team.slug.clone(),
        description: team.description.clone(),
    });
    let status =
        if error.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    (status, TeamPage { chrome, team, services, members, form, error }).into_response()
}

pub async fn team_page(
    State(state): State<AppState>,
    page: PageAuth,
    Path(team): Path<String>,
    Query(q): Query<super::account::NoticeQuery>,
) -> Response {
    let team = try_page!(state.db.get_team(Ref::parse(&team)).await);
    team_view(&state, &page, team, None, None, q.notice).await
}

pub async fn team_update(
    State(state): State<AppState>,
    page: PageAuth,
    Path(team): Path<String>,
    Form(f): Form<TeamForm>,
) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let current = try_page!(state.db.get_team(Ref::parse(&team)).await);
    let result = async {
        let spec = TeamSpec::new(&f.name, Some(&f.slug), Some(&f.description))?;
        op::update_team(&state, &page.0, &current, spec).await
    }
    .await;
    match result {
        Ok(t) => done(&format!("/teams/{}", t.slug), "Team saved"),
        Err(e) => match form_error(e) {
            Ok(msg) => team_view(&state, &page, current, Some(f), Some(msg), None).await,
            Err(r) => r,
        },
    }
}

pub async fn team_delete(State(state): State<AppState>, page: PageAuth, Path(team): Path<String>) -> Response {
    if let Err(r) = page.require(Permission::Configure) {
        return r;
    }
    let t = try_page!(op::delete_team(&state, &page.0, Ref::parse(&team)).await);
    done("/teams", &format!("Team {} deleted", t.name))
}
