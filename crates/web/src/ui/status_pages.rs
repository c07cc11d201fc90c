//! Status page editor: the list of pages (with a one-click page from a team's services), and
//! one page's settings, components and manual statuses beside a preview of what visitors see.

use super::{Chrome, PageAuth, done, error_page, form_error};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::status_pages::{self as op, LivePage};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::role::Permission;
use opsdeck_core::status_page::{ComponentInput, ComponentStatus, PageInput};
use opsdeck_store::catalogue::ServiceFilter;
use opsdeck_store::status_page::StatusPage;
use opsdeck_store::vendor::Vendor;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
pub struct NoticeQuery {
    pub(super) notice: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct NewPageForm {
    title: String,
    slug: String,
    /// Empty, or a team whose services become the components.
    team_id: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "status/pages.html")]
pub struct PagesPage {
    chrome: Chrome,
    pages: Vec<StatusPage>,
    teams: Vec<(Uuid, String)>,
    form: NewPageForm,
    error: Option<String>,
}

async fn pages_page(
    state: &AppState,
    auth: &PageAuth,
    notice: Option<String>,
    form: NewPageForm,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "status_pages", notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let pages = match state.db.list_status_pages().await {
        Ok(p) => p,
        Err(e) => return error_page(&e.into()),
    };
    let teams = match state.db.list_teams(None, None, Some(500)).await {
        Ok(t) => t.items.into_iter().map(|t| (t.id, t.name)).collect(),
        Err(e) => return error_page(&e.into()),
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, PagesPage { chrome, pages, teams, form, error }).into_response()
}

pub async fn list(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    pages_page(&state, &auth, q.notice, NewPageForm::default(), None).await
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<NewPageForm>) -> Response {
    if let Err(r) = auth.require(Permission::Configure) {
        return r;
    }
    let result = async {
        let team = match f.team_id.trim() {
            "" => None,
            t => Some(Uuid::parse_str(t).map_err(|_| ApiError::invalid("team_id", "choose a team from the list"))?),
        };
        let input = PageInput { title: Some(f.title.clone()), slug: Some(f.slug.clone()), ..Default::default() };
        op::create(&state, &auth.0, input, team).await
    }
    .await;
    match result {
        Ok(p) => done(&format!("/status-pages/{}", p.id), &format!("Status page {} created", p.slug)),
        Err(e) => match form_error(e) {
            Ok(msg) => pages_page(&state, &auth, None, f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

/// A component row of the editor.
pub struct EditorRow {
    id: Uuid,
    name: String,
    group: Option<String>,
    follows: String,
    status: &'static str,
    label: &'static str,
    manual: Option<String>,
    /// The manual status in force, for the form's selection.
    manual_status: Option<&'static str>,
    hidden_when_up: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "status/page.html")]
pub struct EditorPage {
    chrome: Chrome,
    page: StatusPage,
    indicator: &'static str,
    headline: &'static str,
    rows: Vec<EditorRow>,
    services: Vec<(Uuid, String)>,
    /// Third-party choices: (`vendor id|component`, label); an empty component is the whole vendor.
    vendors: Vec<(String, String)>,
    statuses: Vec<(&'static str, &'static str)>,
    can_respond: bool,
    subscribers: super::status_subscribers::Panel,
    templates: super::status_templates::Panel,
    /// Teams a private page may admit: (id, name, admitted now).
    teams: Vec<(Uuid, String, bool)>,
    /// The footer links as the settings form edits them.
    footer_lines: String,
}

fn rows(
    live: &LivePage,
    services: &[(Uuid, String)],
    vendors: &[Vendor],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<EditorRow> {
    live.components
        .iter()
        .filter(|c| !c.component.is_group)
        .map(|c| {
            let comp = &c.component;
            let mut follows: Vec<String> = Vec::new();
            if let Some(s) = comp.service_id {
                let name = services.iter().find(|x| x.0 == s).map_or("a deleted service", |x| x.1.as_str());
                follows.push(format!("service {name}"));
            }
            if !comp.monitor_ids.is_empty() {
                follows.push(format!("{} monitor(s)", comp.monitor_ids.len()));
            }
            if let Some(r) = &comp.vendor {
                let name = vendors.iter().find(|v| v.id == r.vendor_id).map_or("a deleted vendor", |v| v.name.as_str());
                follows.push(match r.component.as_str() {
                    "" => format!("vendor {name}"),
                    c => format!("vendor {name}: {c}"),
                });
            }
            EditorRow {
                id: comp.id,
                name: comp.name.clone(),
                group: comp
                    .group_id
                    .and_then(|g| live.components.iter().find(|x| x.component.id == g))
                    .map(|g| g.component.name.clone()),
                follows: if follows.is_empty() { "nothing (set by hand)".into() } else { follows.join(", ") },
                status: c.status.as_str(),
                label: c.status.label(),
                manual: comp.manual(now).map(|m| match comp.override_until {
                    Some(u) => format!("{} by hand until {}", m.label(), super::abs(u)),
                    None => format!("{} by hand", m.label()),
                }),
                manual_status: comp.manual(now).map(ComponentStatus::as_str),
                hidden_when_up: comp.only_show_if_degraded,
            }
        })
        .collect()
}

async fn load(state: &AppState, id: &str) -> Result<StatusPage, ApiError> {
    Ok(state.db.get_status_page(crate::extract::parse_id(Entity::StatusPage, id)?).await?)
}

pub async fn detail(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let chrome = match auth.chrome(&state, "status_pages", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let page = load(&state, &id).await?;
        let filter = ServiceFilter { limit: Some(500), ..Default::default() };
        let services: Vec<(Uuid, String)> =
            state.db.list_services(&filter).await?.items.into_iter().map(|s| (s.service.id, s.service.name)).collect();
        let subscribers = super::status_subscribers::panel(&state, &auth, &page).await?;
        let templates = super::status_templates::panel(&state, &auth, &page).await?;
        let teams: Vec<(Uuid, String, bool)> = state
            .db
            .list_teams(None, None, Some(500))
            .await?
            .items
            .into_iter()
            .map(|t| (t.id, t.name, page.viewer_team_ids.contains(&t.id)))
            .collect();
        let vendors = state.db.list_vendors().await?;
        let live = op::live(&state, page).await?;
        Ok::<_, ApiError>((live, services, subscribers, templates, teams, vendors))
    }
    .await;
    match result {
        Ok((live, services, subscribers, templates, teams, vendors)) => EditorPage {
            subscribers,
            templates,
            teams,
            footer_lines: footer_lines(&live.page.footer_links),
            rows: rows(&live, &services, &vendors, state.now()),
            vendors: vendors
                .iter()
                .flat_map(|v| {
                    std::iter::once((format!("{}|", v.id), format!("{} (the whole vendor)", v.name))).chain(
                        v.components
                            .iter()
                            .map(|c| (format!("{}|{}", v.id, c.name), format!("{}: {}", v.name, c.name))),
                    )
                })
                .collect(),
            indicator: live.indicator.as_str(),
            headline: live.indicator.description(),
            can_respond: auth.0.allows(Permission::Respond),
            chrome,
            page: live.page,
            services,
            statuses: ComponentStatus::ALL.iter().map(|s| (s.as_str(), s.label())).collect(),
        }
        .into_response(),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SettingsForm {
    title: String,
    slug: String,
    description: String,
    timezone: String,
    accent_color: String,
    custom_domain: String,
    logo_url: String,
    /// One link a line: its label, then its URL.
    footer_links: String,
}

/// Footer links as the settings form writes them: a line each, the label and then the URL.
pub fn footer_lines(links: &[opsdeck_core::status_page::FooterLink]) -> String {
    links.iter().map(|l| format!("{} {}", l.label, l.url)).collect::<Vec<_>>().join("\n")
}

impl SettingsForm {
    /// The page fields the form edits (components stay).
    pub(super) fn input(self) -> PageInput {
        PageInput {
            title: Some(self.title),
            slug: Some(self.slug),
            description: Some(self.description),
            time_zone: Some(self.timezone),
            accent_color: Some(Some(self.accent_color)),
            custom_domain: Some(Some(self.custom_domain)),
            logo_url: Some(Some(self.logo_url)),
            // A line without a space is all URL (its label left empty: refused by name).
            footer_links: Some(
                self.footer_links
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| match l.rsplit_once(char::is_whitespace) {
                        Some((label, url)) => (label.trim().to_owned(), url.to_owned()),
                        None => (String::new(), l.to_owned()),
                    })
                    .collect(),
            ),
            components: None,
        }
    }
}

/// Redirects back to the editor with the outcome as its notice.
fn back(id: Uuid, result: Result<String, ApiError>) -> Response {
    super::outcome(&format!("/status-pages/{id}"), result)
}

pub async fn update(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<SettingsForm>,
) -> Response {
    let page = match load(&state, &id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let result = op::update(&state, &auth.0, &page, f.input()).await.map(|p| format!("Status page {} saved", p.slug));
    back(page.id, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ComponentForm {
    name: String,
    group: String,
    service_id: String,
    /// `vendor id|component` (empty component: the whole vendor), or empty.
    vendor: String,
    only_show_if_degraded: Option<String>,
}

/// The page's components as the editor submits them again (each keeps its id).
fn current_components(page: &StatusPage) -> Vec<ComponentInput> {
    page.spec()
        .components
        .into_iter()
        .map(|c| ComponentInput {
            id: c.id,
            name: c.name,
            description: Some(c.description),
            group: c.group,
            service_id: c.service_id,
            monitor_ids: c.monitor_ids,
            only_show_if_degraded: c.only_show_if_degraded,
            vendor_id: c.vendor.as_ref().map(|v| v.vendor_id),
            vendor_component: c.vendor.map(|v| v.component),
        })
        .collect()
}

pub async fn component_add(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<ComponentForm>,
) -> Response {
    let page = match load(&state, &id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let result = async {
        let service_id = match f.service_id.trim() {
            "" => None,
            s => Some(
                Uuid::parse_str(s).map_err(|_| ApiError::invalid("service_id", "choose a service from the list"))?,
            ),
        };
        let (vendor_id, vendor_component) = match f.vendor.split_once('|') {
            None if f.vendor.trim().is_empty() => (None, None),
            Some((v, c)) => (
                Some(Uuid::parse_str(v).map_err(|_| ApiError::invalid("vendor", "choose a vendor from the list"))?),
                Some(c.to_owned()),
            ),
            None => return Err(ApiError::invalid("vendor", "choose a vendor from the list")),
        };
        let mut components = current_components(&page);
        components.push(ComponentInput {
            name: f.name.clone(),
            group: Some(f.group.clone()),
            service_id,
            vendor_id,
            vendor_component,
            only_show_if_degraded: f.only_show_if_degraded.is_some(),
            ..Default::default()
        });
        let input = PageInput { components: Some(components), ..Default::default() };
        op::update(&state, &auth.0, &page, input).await.map(|_| format!("Component {} added", f.name.trim()))
    }
    .await;
    back(page.id, result)
}

pub async fn component_remove(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, component)): Path<(String, Uuid)>,
) -> Response {
    let page = match load(&state, &id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let mut components = current_components(&page);
    components.retain(|c| c.id != Some(component));
    let input = PageInput { components: Some(components), ..Default::default() };
    let result = op::update(&state, &auth.0, &page, input).await.map(|_| "Component removed".to_owned());
    back(page.id, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OverrideForm {
    /// A status, or empty to return to the derived status.
    status: String,
    /// Empty: until cleared.
    minutes: String,
}

pub async fn component_override(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, component)): Path<(String, Uuid)>,
    Form(f): Form<OverrideForm>,
) -> Response {
    let page = match load(&state, &id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let result = async {
        let status = match f.status.trim() {
            "" => None,
            s => Some(ComponentStatus::parse(s).ok_or_else(|| ApiError::invalid("status", "choose a status"))?),
        };
        let minutes = match f.minutes.trim() {
            "" => None,
            m => Some(m.parse::<i64>().map_err(|_| ApiError::invalid("minutes", "must be a whole number of minutes"))?),
        };
        op::set_override(&state, &auth.0, &page, component, status, minutes).await?;
        Ok(if status.is_some() { "Status set by hand" } else { "Status follows monitors and incidents again" }
            .to_owned())
    }
    .await;
    back(page.id, result)
}

/// The access form: `password` (blank keeps the current one), `remove_password`, each `team`
/// whose members may read the page, or `public` (the "Make public" button) to clear both.
pub async fn access(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let page = match load(&state, &id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let has = |name: &str| fields.iter().any(|(k, _)| k == name);
    let typed = fields.iter().find(|(k, _)| k == "password").map(|(_, v)| v.as_str()).unwrap_or("");
    let result = async {
        let (password, teams) = if has("public") {
            (Some(None), Vec::new())
        } else {
            let mut teams = Vec::new();
            for (_, v) in fields.iter().filter(|(k, _)| k == "team") {
                teams.push(Uuid::parse_str(v).map_err(|_| ApiError::invalid("team_ids", "unknown team"))?);
            }
            let password = match typed {
                "" if has("remove_password") => Some(None),
                "" => None,
                p => Some(Some(p)),
            };
            (password, teams)
        };
        let keeps_password = match password {
            Some(p) => p.is_some(),
            None => page.password_hash.is_some(),
        };
        let n = teams.len();
        op::set_access(&state, &auth.0, &page, password, Some(teams)).await?;
        Ok(match (keeps_password, n) {
            (false, 0) => "The page is public".to_owned(),
            (true, 0) => "The page is private: visitors need the password".to_owned(),
            (false, _) => "The page is private: members of the chosen teams see it once signed in".to_owned(),
            (true, _) => "The page is private: visitors need the password, or to sign in as a member".to_owned(),
        })
    }
    .await;
    back(page.id, result)
}

pub async fn delete(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let page = match load(&state, &id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    match op::delete(&state, &auth.0, &page).await {
        Ok(()) => done("/status-pages", &format!("Status page {} deleted", page.slug)),
        Err(e) => super::outcome(&format!("/status-pages/{}", page.id), Err(e)),
    }
}

/// A status page as the incident page offers it for a public update.
pub struct UpdateTarget {
    pub id: Uuid,
    pub title: String,
    pub slug: String,
    /// Components: id, name, and the status this incident's public incident gives it.
    pub components: Vec<(Uuid, String, Option<String>)>,
    /// The status of this incident's public incident on the page, if one was posted.
    pub current: Option<&'static str>,
    /// Its public title and status value, if one was posted (the form starts from them).
    pub name: Option<String>,
    pub status: Option<&'static str>,
    /// The page's incident templates (id, name), and the one the form was started from.
    pub templates: Vec<(Uuid, String)>,
    pub chosen: Option<Uuid>,
    /// The message the form starts with (a chosen template's).
    pub body: String,
}

/// Every status page, with what this incident has posted on each; the form of the page whose
/// template is `template` starts from that template.
pub async fn update_targets(
    state: &AppState,
    incident: Uuid,
    template: Option<Uuid>,
) -> Result<Vec<UpdateTarget>, ApiError> {
    let posted = state.db.public_incidents_of(incident).await?;
    let mut out = Vec::new();
    for page in state.db.list_status_pages().await? {
        let mine = posted.iter().find(|p| p.page_id == page.id);
        let templates = state.db.templates(page.id).await?;
        let chosen = templates.iter().find(|t| Some(t.id) == template).map(|t| &t.spec);
        let set = |id: Uuid| -> Option<String> {
            match chosen {
                Some(t) => t.components.iter().find(|c| c.0 == id).map(|c| c.1.as_str().to_owned()),
                None => mine?.components.iter().find(|c| c.0 == id).map(|c| c.1.as_str().to_owned()),
            }
        };
        out.push(UpdateTarget {
            components: page
                .components
                .iter()
                .filter(|c| !c.is_group)
                .map(|c| (c.id, c.name.clone(), set(c.id)))
                .collect(),
            current: mine.map(|m| m.status.label()),
            name: chosen.map(|t| t.title.clone()).filter(|t| !t.is_empty()).or_else(|| mine.map(|m| m.name.clone())),
            status: chosen.map(|t| t.status.as_str()).or(mine.map(|m| m.status.as_str())),
            body: chosen.map(|t| t.body.clone()).unwrap_or_default(),
            chosen: chosen.and(template),
            templates: templates.iter().map(|t| (t.id, t.spec.name.clone())).collect(),
            id: page.id,
            title: page.title,
            slug: page.slug,
        });
    }
    Ok(out)
}

/// Posts a public update from the incident page: `status_page_id`, `status`, `body`, and
/// `component:ID` = a status (blank: not affected).
pub async fn public_update(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let result = async {
        let incident = crate::operations::incidents::find_incident(&state, &id).await?;
        let back = format!("/incidents/{}", opsdeck_core::incident::display_number(incident.number));
        let page_id = Uuid::parse_str(field("status_page_id").trim())
            .map_err(|_| ApiError::invalid("status_page_id", "choose a status page"))?;
        let mut components = Vec::new();
        for (k, v) in &fields {
            if let Some(cid) = k.strip_prefix("component:")
                && !v.trim().is_empty()
            {
                let cid = Uuid::parse_str(cid).map_err(|_| ApiError::invalid("components", "unknown component"))?;
                components.push((cid, v.clone()));
            }
        }
        let spec = opsdeck_core::status_page::UpdateSpec::new(
            page_id,
            Some(field("name")),
            field("status"),
            field("body"),
            Some(components),
        )?;
        let status = spec.status;
        op::post_update(&state, &auth.0, &incident, spec).await?;
        Ok::<_, ApiError>((back, format!("Posted to the status page: {}", status.label())))
    }
    .await;
    match result {
        Ok((back, notice)) => done(&back, &notice),
        Err(e) => super::outcome(&format!("/incidents/{id}"), Err(e)),
    }
}
