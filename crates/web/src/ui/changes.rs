//! Change pages: the list (open, awaiting your approval, scheduled, closed), the form with its
//! risk and conflict check, and a change's page with its moves, approvals and conflicts.

use super::change_form::{ChangeForm, Pairs};
use super::{Chrome, PageAuth, done, error_page, form_error, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::changes::{self as op, ActInput, ChangeView, ConflictView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use chrono::{DateTime, Utc};
use opsdeck_core::change::risk::Risk;
use opsdeck_core::change::spec::Question;
use opsdeck_core::change::{self, Action, ChangeState, ChangeType, CloseCode, Facts};
use opsdeck_core::role::Permission;
use opsdeck_store::change::{Change, ChangeFilter};
use serde::Deserialize;

/// `Tue 08 Dec 14:00 UTC`.
pub(super) fn when(t: &Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%a %d %b %Y %H:%M UTC").to_string()).unwrap_or_else(|| "—".into())
}

/// The views of the list, with what they show.
const VIEWS: [(&str, &str); 5] = [
    ("open", "Open"),
    ("approvals", "Awaiting my approval"),
    ("scheduled", "Scheduled"),
    ("closed", "Closed"),
    ("all", "All"),
];

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    view: String,
    cursor: String,
    notice: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "changes/list.html")]
pub struct ListPage {
    chrome: Chrome,
    view: String,
    views: &'static [(&'static str, &'static str)],
    rows: Vec<Change>,
    next: Option<String>,
    can_respond: bool,
    lockdown: Option<opsdeck_store::change::lockdown::Lockdown>,
}

pub async fn list(State(state): State<AppState>, auth: PageAuth, Query(q): Query<ListQuery>) -> Response {
    let chrome = match auth.chrome(&state, "changes", q.notice.clone()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let view = if VIEWS.iter().any(|(v, _)| *v == q.view) { q.view.clone() } else { "open".into() };
    let result = async {
        if view == "approvals" {
            let items = op::inbox(&state, &auth.0).await?;
            return Ok((items.into_iter().map(|v| v.change).collect(), None));
        }
        use ChangeState as S;
        let states = match view.as_str() {
            "open" => vec![S::New, S::Assess, S::Authorize, S::Scheduled, S::Implement, S::Review],
            "scheduled" => vec![S::Scheduled, S::Implement],
            "closed" => vec![S::Closed, S::Canceled],
            _ => vec![],
        };
        let filter = ChangeFilter {
            states,
            cursor: opsdeck_store::Cursor::decode(&q.cursor),
            limit: Some(50),
            ..ChangeFilter::default()
        };
        let page = op::list(&state, &auth.0, &filter).await?;
        Ok::<_, ApiError>((page.items, page.next_cursor))
    }
    .await;
    match result {
        Ok((rows, next)) => {
            let lockdown = match crate::operations::change_lockdown::current(&state, &auth.0).await {
                Ok(l) => l,
                Err(e) => return error_page(&e),
            };
            let can_respond = auth.0.allows(Permission::Respond);
            ListPage { chrome, view, views: &VIEWS, rows, next, can_respond, lockdown }.into_response()
        }
        Err(e) => error_page(&e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "changes/new.html")]
pub struct NewPage {
    chrome: Chrome,
    form: ChangeForm,
    questions: Vec<Question>,
    /// Active standard change templates: (id, name).
    templates: Vec<(String, String)>,
    error: Option<String>,
    /// The risk and conflicts of the form as it stands (after "check risk").
    checked: Option<(Risk, Vec<ConflictView>)>,
}

/// The active standard change templates a form offers: (id, name).
async fn template_choices(state: &AppState, auth: &crate::auth::Auth) -> Result<Vec<(String, String)>, ApiError> {
    let all = crate::operations::change_templates::list(state, auth).await?;
    Ok(all.into_iter().filter(|t| t.spec.active).map(|t| (t.id.to_string(), t.spec.name)).collect())
}

impl NewPage {
    fn form_action(&self) -> String {
        "/changes".into()
    }
}

async fn new_page(
    state: &AppState,
    auth: &PageAuth,
    form: ChangeForm,
    error: Option<String>,
    checked: Option<(Risk, Vec<ConflictView>)>,
) -> Response {
    let chrome = match auth.chrome(state, "changes", None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let loaded = async {
        let q = crate::operations::change_calendar::questionnaire(state, &auth.0).await?;
        Ok::<_, ApiError>((q.questions, template_choices(state, &auth.0).await?))
    };
    let (questions, templates) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(&e),
    };
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, NewPage { chrome, form, questions, templates, error, checked }).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    /// A standard change template to start from.
    template: Option<String>,
}

pub async fn new(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NewQuery>) -> Response {
    if let Err(e) = auth.0.require(Permission::Respond) {
        return error_page(&e);
    }
    let form = match q.template.as_deref() {
        None | Some("") => ChangeForm::blank(),
        Some(t) => {
            let found = async {
                let id = crate::extract::parse_id(opsdeck_core::Entity::ChangeTemplate, t)?;
                crate::operations::change_templates::get(&state, &auth.0, id).await
            };
            match found.await {
                Ok(t) => ChangeForm::from_template(&t),
                Err(e) => return error_page(&e),
            }
        }
    };
    new_page(&state, &auth, form, None, None).await
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(pairs): Form<Pairs>) -> Response {
    let f = ChangeForm::from_pairs(pairs);
    let result = async {
        let (input, _) = f.input(&state, &auth.0).await?;
        if f.preview {
            let (_, risk, conflicts) = op::preview(&state, &auth.0, &input, None).await?;
            return Ok(Err((risk, conflicts)));
        }
        op::create(&state, &auth.0, &input).await.map(Ok)
    }
    .await;
    match result {
        Ok(Ok(c)) => done(&format!("/changes/{}", c.number), &format!("{} raised", c.key())),
        Ok(Err(checked)) => new_page(&state, &auth, f, None, Some(checked)).await,
        Err(e) => match form_error(e) {
            Ok(msg) => new_page(&state, &auth, f, Some(msg), None).await,
            Err(r) => r,
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "changes/change.html")]
pub struct DetailPage {
    chrome: Chrome,
    v: ChangeView,
    can_respond: bool,
    /// The moves its state allows, as buttons: (action, label).
    moves: Vec<(&'static str, &'static str)>,
    closable: bool,
    editable: bool,
    close_codes: Vec<(&'static str, &'static str)>,
    steps: Vec<(&'static str, &'static str)>,
    form: ChangeForm,
    questions: Vec<Question>,
    templates: Vec<(String, String)>,
    error: Option<String>,
    checked: Option<(Risk, Vec<ConflictView>)>,
}

impl DetailPage {
    fn form_action(&self) -> String {
        format!("/changes/{}/edit", self.v.change.number)
    }
}

/// The path of states a change of `kind` walks, each marked done, current or to come.
fn steps(kind: ChangeType, state: ChangeState) -> Vec<(&'static str, &'static str)> {
    use ChangeState as S;
    let path: &[S] = match kind {
        ChangeType::Standard => &[S::New, S::Scheduled, S::Implement, S::Review, S::Closed],
        ChangeType::Emergency => &[S::New, S::Authorize, S::Scheduled, S::Implement, S::Review, S::Closed],
        ChangeType::Normal => &[S::New, S::Assess, S::Authorize, S::Scheduled, S::Implement, S::Review, S::Closed],
    };
    let at = path.iter().position(|s| *s == state);
    path.iter()
        .enumerate()
        .map(|(i, s)| {
            let mark = match at {
                Some(a) if i < a => "done",
                Some(a) if i == a => "current",
                _ => "todo",
            };
            (s.as_str(), mark)
        })
        .collect()
}

fn label(a: Action) -> &'static str {
    match a {
        Action::Submit => "Submit",
        Action::Schedule => "Schedule",
        Action::Implement => "Start work",
        Action::Review => "Work done: review",
        Action::Cancel => "Cancel change",
        Action::Approve => "Approve",
        Action::Reject => "Reject",
        Action::Close => "Close",
    }
}

/// A close code in words.
pub(super) fn outcome_label(c: &CloseCode) -> &'static str {
    match c {
        CloseCode::Successful => "Successful",
        CloseCode::SuccessfulWithIssues => "Successful with issues",
        CloseCode::Unsuccessful => "Unsuccessful",
        CloseCode::BackedOut => "Backed out",
    }
}

pub(super) fn close_codes() -> Vec<(&'static str, &'static str)> {
    CloseCode::ALL.iter().map(|c| (c.as_str(), outcome_label(c))).collect()
}

#[allow(clippy::too_many_arguments)]
async fn detail_page(
    state: &AppState,
    auth: &PageAuth,
    reference: &str,
    notice: Option<String>,
    form: Option<ChangeForm>,
    error: Option<String>,
    checked: Option<(Risk, Vec<ConflictView>)>,
) -> Response {
    let chrome = match auth.chrome(state, "changes", notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let c = op::find(state, &auth.0, reference).await?;
        let v = op::view(state, &auth.0, c.id).await?;
        let q = crate::operations::change_calendar::questionnaire(state, &auth.0).await?;
        Ok::<_, ApiError>((v, q.questions, template_choices(state, &auth.0).await?))
    }
    .await;
    let (v, questions, templates) = match result {
        Ok(x) => x,
        Err(e) => return error_page(&e),
    };
    let c = &v.change;
    // A move is offered when the state allows it; what else it needs is named if it is refused.
    let open = Facts { planned: true, close_code: Some(CloseCode::Successful), ..Facts::default() };
    let moves = [Action::Submit, Action::Schedule, Action::Implement, Action::Review, Action::Cancel]
        .into_iter()
        .filter(|a| change::next(c.kind, c.state, *a, &open).is_ok_and(|to| to != c.state))
        .map(|a| (a.as_str(), label(a)))
        .collect();
    let service_ids: Vec<_> = v.services.iter().map(|s| s.0).collect();
    let form = match form {
        Some(f) => f,
        None => ChangeForm::of(state, c, &v.cis, &service_ids).await,
    };
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = DetailPage {
        chrome,
        can_respond: auth.0.allows(Permission::Respond),
        moves,
        closable: c.state == ChangeState::Review,
        editable: !matches!(c.state, ChangeState::Implement | ChangeState::Review) && !c.state.is_terminal(),
        close_codes: close_codes(),
        steps: steps(c.kind, c.state),
        form,
        questions,
        templates,
        error,
        checked,
        v,
    };
    (code, page).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DetailQuery {
    notice: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    detail_page(&state, &auth, &id, q.notice, None, None, None).await
}

pub async fn edit(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(pairs): Form<Pairs>,
) -> Response {
    let f = ChangeForm::from_pairs(pairs);
    let result = async {
        let c = op::find(&state, &auth.0, &id).await?;
        let (input, version) = f.input(&state, &auth.0).await?;
        if f.preview {
            let (_, risk, conflicts) = op::preview(&state, &auth.0, &input, Some(&c)).await?;
            return Ok(Err((risk, conflicts)));
        }
        op::update(&state, &auth.0, c.id, &input, version).await.map(Ok)
    }
    .await;
    match result {
        Ok(Ok(c)) => done(&format!("/changes/{}", c.number), &format!("{} saved", c.key())),
        Ok(Err(checked)) => detail_page(&state, &auth, &id, None, Some(f), None, Some(checked)).await,
        Err(e) => match form_error(e) {
            Ok(msg) => detail_page(&state, &auth, &id, None, Some(f), Some(msg), None).await,
            Err(r) => r,
        },
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActForm {
    close_code: String,
    comment: String,
    version: String,
}

pub async fn act(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ActForm>,
) -> Response {
    let back = format!("/changes/{id}");
    let result = async {
        let action = Action::parse(&action).ok_or_else(|| ApiError::invalid("action", "no such move"))?;
        let c = op::find(&state, &auth.0, &id).await?;
        let input = ActInput {
            close_code: Some(f.close_code.clone()).filter(|c| !c.is_empty()),
            notes: Some(f.comment.clone()),
            version: f.version.trim().parse().ok(),
        };
        let after = op::act(&state, &auth.0, c.id, action, &input).await?;
        Ok(match action {
            Action::Approve => format!("You approved {}; it is {}", after.key(), after.state.as_str()),
            Action::Reject => format!("You rejected {}; it is back to new", after.key()),
            _ => format!("{} is {}", after.key(), after.state.as_str()),
        })
    }
    .await;
    outcome(&back, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AcceptForm {
    key: String,
    reason: String,
}

pub async fn accept(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<AcceptForm>,
) -> Response {
    let result = async {
        let c = op::find(&state, &auth.0, &id).await?;
        op::accept_conflict(&state, &auth.0, c.id, f.key.trim(), &f.reason).await?;
        Ok("Conflict accepted".to_owned())
    }
    .await;
    outcome(&format!("/changes/{id}#conflicts"), result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CauseForm {
    incident: String,
}

pub async fn cause(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<CauseForm>,
) -> Response {
    let result = async {
        let c = op::find(&state, &auth.0, &id).await?;
        let raw = f.incident.trim();
        let number = raw.trim_start_matches("INC-").trim_start_matches("inc-").trim_start_matches('#');
        let incident = match number.parse::<i64>() {
            Ok(n) => state
                .db
                .get_incident_by_number(n)
                .await
                .map_err(|_| ApiError::invalid("incident", format!("no incident {raw}")))?,
            Err(_) => return Err(ApiError::invalid("incident", "write the incident's number, e.g. INC-12")),
        };
        let after = op::mark_cause(&state, &auth.0, c.id, incident.id).await?;
        Ok(format!("{} marked as the cause of INC-{}", after.key(), incident.number))
    }
    .await;
    outcome(&format!("/changes/{id}"), result)
}
