//! Routing rules' pages (managers edit; agents read): the rules in the order they are tried,
//! and one form to add or edit a rule.

use super::{Chrome, PageAuth, done, error_page, form_error, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::routing as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::desk::routing::{RouteInput, RouteSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::desk::routing::Route;
use serde::Deserialize;
use uuid::Uuid;

/// Names by id, for the pages' labels.
pub struct Names {
    pub teams: Vec<(Uuid, String)>,
    pub services: Vec<(Uuid, String)>,
}

impl Names {
    pub async fn load(state: &AppState) -> Result<Names, ApiError> {
        let (teams, services) = state.db.desk_names().await?;
        Ok(Names { teams, services })
    }

    fn find(list: &[(Uuid, String)], id: &Uuid) -> String {
        list.iter().find(|(i, _)| i == id).map_or_else(|| "(removed)".to_owned(), |(_, n)| n.clone())
    }

    pub fn team(&self, id: &Uuid) -> String {
        Self::find(&self.teams, id)
    }

    pub fn service(&self, id: &Uuid) -> String {
        Self::find(&self.services, id)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "tickets/routes.html")]
pub struct ListPage {
    chrome: Chrome,
    rules: Vec<Route>,
    names: Names,
    manager: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn list(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    let chrome = match auth.chrome(&state, "tickets", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async { Ok::<_, ApiError>((op::list(&state, &auth.0).await?, Names::load(&state).await?)) }.await;
    match result {
        Ok((rules, names)) => {
            ListPage { chrome, rules, names, manager: auth.0.allows(Permission::Configure) }.into_response()
        }
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct RouteForm {
    name: String,
    position: String,
    ticket_type: String,
    category: String,
    service: String,
    requester: String,
    keywords: String,
    team: String,
    assign: String,
    enabled: Option<String>,
    version: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "tickets/route_edit.html")]
pub struct EditPage {
    chrome: Chrome,
    form: RouteForm,
    /// The rule being edited (none: a new one).
    editing: Option<Uuid>,
    error: Option<String>,
    names: Names,
}

fn route_id(raw: &str) -> Result<Uuid, ApiError> {
    crate::extract::parse_id(opsdeck_core::Entity::TicketRoute, raw)
}

fn form_of(r: &Route) -> RouteForm {
    let s = &r.spec;
    RouteForm {
        name: s.name.clone(),
        position: s.position.to_string(),
        ticket_type: s.ticket_type.map(|t| t.as_str().to_owned()).unwrap_or_default(),
        category: s.category.clone().unwrap_or_default(),
        service: s.service_id.map(|i| i.to_string()).unwrap_or_default(),
        requester: s.requester.clone().unwrap_or_default(),
        keywords: s.keywords.join(", "),
        team: s.team_id.to_string(),
        assign: s.assign.as_str().to_owned(),
        enabled: s.enabled.then(|| "on".into()),
        version: Some(r.version),
    }
}

async fn edit_page(
    state: &AppState,
    auth: &PageAuth,
    form: RouteForm,
    editing: Option<Uuid>,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "tickets", None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(e) = auth.0.require(Permission::Configure) {
        return error_page(&e);
    }
    let names = match Names::load(state).await {
        Ok(n) => n,
        Err(e) => return error_page(&e),
    };
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, EditPage { chrome, form, editing, error, names }).into_response()
}

pub async fn new(State(state): State<AppState>, auth: PageAuth) -> Response {
    let form = RouteForm { position: "100".into(), enabled: Some("on".into()), ..RouteForm::default() };
    edit_page(&state, &auth, form, None, None).await
}

pub async fn edit(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let found = async { op::get(&state, &auth.0, route_id(&id)?).await }.await;
    match found {
        Ok(r) => edit_page(&state, &auth, form_of(&r), Some(r.id), None).await,
        Err(e) => error_page(&e),
    }
}

fn spec_of(f: &RouteForm) -> Result<RouteSpec, ApiError> {
    let id = super::tickets::id_of;
    let position = match f.position.trim() {
        "" => None,
        p => Some(p.parse().map_err(|_| ApiError::invalid("position", "write a whole number, 0 to 10000"))?),
    };
    Ok(RouteSpec::new(&RouteInput {
        name: f.name.clone(),
        position,
        ticket_type: Some(f.ticket_type.clone()),
        category: Some(f.category.clone()),
        service_id: id("service_id", &f.service, "a service")?,
        requester: Some(f.requester.clone()),
        // Commas separate keywords, as the API's list does: "two words" is refused, not split.
        keywords: f.keywords.split([',', '\n']).map(str::trim).filter(|k| !k.is_empty()).map(Into::into).collect(),
        team_id: id("team_id", &f.team, "a team")?,
        assign: Some(f.assign.clone()),
        enabled: Some(f.enabled.is_some()),
    })?)
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<RouteForm>) -> Response {
    let result = async { op::create(&state, &auth.0, &spec_of(&f)?).await }.await;
    match result {
        Ok(r) => done("/tickets/routing", &format!("Rule {} added", r.spec.name)),
        Err(e) => match form_error(e) {
            Ok(msg) => edit_page(&state, &auth, f, None, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn update(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<RouteForm>,
) -> Response {
    let result = async { op::update(&state, &auth.0, route_id(&id)?, &spec_of(&f)?, f.version).await }.await;
    match result {
        Ok(r) => done("/tickets/routing", &format!("Rule {} saved", r.spec.name)),
        Err(e) => match form_error(e) {
            Ok(msg) => edit_page(&state, &auth, f, id.parse().ok(), Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn delete(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let result = async { op::delete(&state, &auth.0, route_id(&id)?).await }.await;
    outcome("/tickets/routing", result.map(|()| "Rule deleted".to_owned()))
}
