//! Problem pages: the list with the known-error search, a problem with its links and moves,
//! and the form. Links are typed as numbers (INC-12, TKT-3, CHG-5) and turned into ids here.

use super::{Chrome, PageAuth, done, error_page, form_error, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::{changes, incidents, problems as op, tickets};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::desk::problem::{self, ProblemAction, ProblemInput, ProblemSpec, ProblemState};
use opsdeck_store::desk::problems::{Problem, ProblemFilter};
use serde::Deserialize;

#[derive(Template, WebTemplate)]
#[template(path = "problems/list.html")]
pub struct ListPage {
    chrome: Chrome,
    q: String,
    view: String,
    rows: Vec<Problem>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    view: String,
    cursor: String,
    notice: Option<String>,
}

pub async fn index(State(state): State<AppState>, auth: PageAuth, Query(q): Query<ListQuery>) -> Response {
    let chrome = match auth.chrome(&state, "problems", q.notice.clone()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let view = if ["known", "done", "all"].contains(&q.view.as_str()) { q.view.clone() } else { "open".into() };
    let states = match view.as_str() {
        "open" => vec![ProblemState::Open, ProblemState::KnownError],
        "known" => vec![ProblemState::KnownError],
        "done" => vec![ProblemState::Resolved, ProblemState::Closed],
        _ => vec![],
    };
    let f = ProblemFilter {
        states,
        cursor: opsdeck_store::Cursor::decode(&q.cursor),
        limit: Some(50),
        ..ProblemFilter::default()
    };
    let text: String = q.q.chars().take(200).collect();
    match op::list(&state, &auth.0, Some(&text), &f).await {
        Ok(page) => ListPage { chrome, q: text, view, rows: page.items, next: page.next_cursor }.into_response(),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ProblemForm {
    title: String,
    description: String,
    root_cause: String,
    workaround: String,
    /// INC-12, INC-14 (commas or spaces).
    incidents: String,
    /// TKT-3, REQ-4.
    tickets: String,
    /// CHG-5.
    fix_change: String,
    version: Option<i64>,
}

fn refs(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ' ', '\n', '\r', '\t', ';']).filter(|r| !r.is_empty())
}

/// The form's references as ids; an unknown one is named in the field's error.
async fn input(state: &AppState, auth: &PageAuth, f: &ProblemForm) -> Result<ProblemInput, ApiError> {
    let refused = |field: &'static str, r: &str, what: &str| ApiError::invalid(field, format!("{r} is not {what}"));
    let mut incident_ids = Vec::new();
    for r in refs(&f.incidents).take(problem::LINKS_MAX + 1) {
        let inc = incidents::find_incident(state, r).await.map_err(|_| refused("incidents", r, "an incident"))?;
        incident_ids.push(inc.id);
    }
    let mut ticket_ids = Vec::new();
    for r in refs(&f.tickets).take(problem::LINKS_MAX + 1) {
        let t = tickets::find(state, &auth.0, r).await.map_err(|_| refused("tickets", r, "a ticket"))?;
        ticket_ids.push(t.id);
    }
    let fix_change_id = match f.fix_change.trim() {
        "" => None,
        r => Some(changes::find(state, &auth.0, r).await.map_err(|_| refused("fix change", r, "a change"))?.id),
    };
    Ok(ProblemInput {
        title: f.title.clone(),
        description: Some(f.description.clone()),
        root_cause: Some(f.root_cause.clone()),
        workaround: Some(f.workaround.clone()),
        incident_ids,
        ticket_ids,
        fix_change_id,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "problems/new.html")]
pub struct NewPage {
    chrome: Chrome,
    form: ProblemForm,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    /// Opened from an incident: it is linked already.
    incident: String,
}

pub async fn new(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NewQuery>) -> Response {
    if let Err(e) = auth.0.require(opsdeck_core::role::Permission::Respond) {
        return error_page(&e);
    }
    let chrome = match auth.chrome(&state, "problems", None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut form = ProblemForm::default();
    if let Ok(inc) = incidents::find_incident(&state, &q.incident).await {
        form.incidents = opsdeck_core::incident::display_number(inc.number);
        form.title = inc.title;
    }
    NewPage { chrome, form, error: None }.into_response()
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<ProblemForm>) -> Response {
    let result = async {
        let spec = ProblemSpec::new(&input(&state, &auth, &f).await?)?;
        op::create(&state, &auth.0, &spec).await
    }
    .await;
    match result {
        Ok(p) => done(&format!("/problems/{}", p.number), &format!("{} opened", p.key())),
        Err(e) => match form_error(e) {
            Ok(msg) => {
                let chrome = match auth.chrome(&state, "problems", None).await {
                    Ok(c) => c,
                    Err(r) => return r,
                };
                (StatusCode::UNPROCESSABLE_ENTITY, NewPage { chrome, form: f, error: Some(msg) }).into_response()
            }
            Err(r) => r,
        },
    }
}

/// A linked record as the page lists it: its number, title and state.
pub struct Link {
    pub href: String,
    pub key: String,
    pub title: String,
    pub state: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "problems/problem.html")]
pub struct DetailPage {
    chrome: Chrome,
    p: Problem,
    form: ProblemForm,
    incidents: Vec<Link>,
    tickets: Vec<Link>,
    fix: Option<Link>,
    moves: Vec<(&'static str, &'static str)>,
    error: Option<String>,
}

fn label(a: ProblemAction) -> &'static str {
    match a {
        ProblemAction::KnownError => "Mark as known error",
        ProblemAction::Resolve => "Resolve",
        ProblemAction::Close => "Close",
        ProblemAction::Reopen => "Reopen",
    }
}

async fn detail_page(
    state: &AppState,
    auth: &PageAuth,
    id: &str,
    notice: Option<String>,
    edit: Option<(ProblemForm, String)>,
) -> Response {
    let chrome = match auth.chrome(state, "problems", notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let p = op::find(state, &auth.0, id).await?;
        let mut incident_links = Vec::new();
        for i in &p.incident_ids {
            let inc = state.db.get_incident(*i).await?;
            let key = opsdeck_core::incident::display_number(inc.number);
            incident_links.push(Link {
                href: format!("/incidents/{}", inc.id),
                key,
                title: inc.title,
                state: inc.status.to_string(),
            });
        }
        let mut ticket_links = Vec::new();
        for t in &p.ticket_ids {
            let t = state.db.get_ticket(*t).await?;
            ticket_links.push(Link {
                href: format!("/tickets/{}", t.number),
                key: t.key(),
                title: t.title.clone(),
                state: t.state.as_str().replace('_', " "),
            });
        }
        let fix = match p.fix_change_id {
            Some(c) => {
                let c = state.db.get_change(c).await?;
                Some(Link {
                    href: format!("/changes/{}", c.number),
                    key: c.key(),
                    title: c.title.clone(),
                    state: c.state.as_str().replace('_', " "),
                })
            }
            None => None,
        };
        Ok::<_, ApiError>((p, incident_links, ticket_links, fix))
    }
    .await;
    let (p, incidents, tickets, fix) = match result {
        Ok(x) => x,
        Err(e) => return error_page(&e),
    };
    let moves = ProblemAction::ALL
        .iter()
        .filter(|a| problem::next(p.state, **a, !p.workaround.is_empty()).is_ok())
        .map(|a| (a.as_str(), label(*a)))
        .collect();
    let (form, error) = match edit {
        Some((f, e)) => (f, Some(e)),
        None => (
            ProblemForm {
                title: p.title.clone(),
                description: p.description.clone(),
                root_cause: p.root_cause.clone(),
                workaround: p.workaround.clone(),
                incidents: incidents.iter().map(|l| l.key.clone()).collect::<Vec<_>>().join(", "),
                tickets: tickets.iter().map(|l| l.key.clone()).collect::<Vec<_>>().join(", "),
                fix_change: fix.as_ref().map(|l| l.key.clone()).unwrap_or_default(),
                version: Some(p.version),
            },
            None,
        ),
    };
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, DetailPage { chrome, p, form, incidents, tickets, fix, moves, error }).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    detail_page(&state, &auth, &id, q.notice, None).await
}

pub async fn update(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<ProblemForm>,
) -> Response {
    let result = async {
        let version = f.version.ok_or_else(|| ApiError::invalid("version", "reload the problem and edit it again"))?;
        let spec = ProblemSpec::new(&input(&state, &auth, &f).await?)?;
        op::update(&state, &auth.0, &id, version, &spec).await
    }
    .await;
    match result {
        Ok(p) => done(&format!("/problems/{}", p.number), &format!("{} saved", p.key())),
        Err(e) => match form_error(e) {
            Ok(msg) => detail_page(&state, &auth, &id, None, Some((f, msg))).await,
            Err(r) => r,
        },
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActForm {
    version: Option<i64>,
    resolve_incidents: Option<String>,
}

pub async fn act(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ActForm>,
) -> Response {
    let back = format!("/problems/{id}");
    let result = async {
        let action = ProblemAction::parse(&action).ok_or_else(|| ApiError::invalid("action", "unknown move"))?;
        let m = op::act(&state, &auth.0, &id, action, f.version, f.resolve_incidents.is_some()).await?;
        let state = match m.problem.state {
            ProblemState::KnownError => "a known error".to_owned(),
            other => other.as_str().to_owned(),
        };
        let mut notice = format!("{} is {state}", m.problem.key());
        if !m.resolved_incidents.is_empty() {
            notice.push_str(&format!("; {} incident(s) resolved with it", m.resolved_incidents.len()));
        }
        Ok(notice)
    }
    .await;
    outcome(&back, result)
}
