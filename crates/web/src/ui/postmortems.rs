//! Postmortem pages: an incident's postmortem with its action items, and open action items
//! across incidents.

use super::account::NoticeQuery;
use super::incidents::users;
use super::{Chrome, PageAuth, done, error_page};
use crate::AppState;
use crate::api::incidents::IncidentDto;
use crate::api::postmortems::{ActionItemDto, PostmortemDto};
use crate::error::ApiError;
use crate::operations::incidents::{self as op, ActionItemPatch, find_incident};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::incident::{self, ActionItemSpec, PostmortemSpec, Status};
use opsdeck_core::role::Permission;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Template, WebTemplate)]
#[template(path = "incidents/postmortem.html")]
pub struct PostmortemPage {
    chrome: Chrome,
    i: IncidentDto,
    p: PostmortemDto,
    users: Vec<(Uuid, String)>,
    can_respond: bool,
    resolved: bool,
    /// Readable times (the DTO carries RFC 3339 with milliseconds).
    impact_at: String,
    resolved_at: Option<String>,
    saved_at: Option<String>,
}

pub async fn postmortem(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let chrome = chrome!(page, state, "incidents", q.notice);
    let inc = try_page!(find_incident(&state, &id).await);
    let today = state.now().date_naive();
    let pm = try_page!(op::postmortem_of(&state, &inc).await);
    let saved_at = pm.updated_at.map(super::abs);
    let p = PostmortemDto::new(inc.id, pm, today);
    let users = match users(&state).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    PostmortemPage {
        chrome,
        impact_at: super::abs(inc.impact_start_at),
        resolved_at: inc.resolved_at.map(super::abs),
        saved_at,
        resolved: inc.status == Status::Resolved,
        i: IncidentDto::from(inc),
        p,
        users,
        can_respond: page.0.allows(Permission::Respond),
    }
    .into_response()
}

pub async fn postmortem_save(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(spec): Form<PostmortemSpec>,
) -> Response {
    if let Err(r) = page.require(Permission::Respond) {
        return r;
    }
    let inc = try_page!(find_incident(&state, &id).await);
    let back = format!("/incidents/{}/postmortem", incident::display_number(inc.number));
    let result = op::save_postmortem(&state, &page.0, &inc, spec).await;
    match result {
        Ok(_) => done(&back, "Postmortem saved"),
        Err(e) if e.status().is_client_error() => done(&back, &format!("Not saved: {}", e.message)),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActionForm {
    title: String,
    owner_id: String,
    due_date: String,
    status: String,
    back: String,
}

fn safe_back(back: &str, fallback: &str) -> String {
    if back.starts_with('/') && !back.starts_with("//") { back.to_owned() } else { fallback.to_owned() }
}

pub async fn action_add(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    if let Err(r) = page.require(Permission::Respond) {
        return r;
    }
    let inc = try_page!(find_incident(&state, &id).await);
    let back = format!("/incidents/{}/postmortem", incident::display_number(inc.number));
    let result = async {
        let owner = match f.owner_id.trim() {
            "" => None,
            o => Some(o.parse::<Uuid>().map_err(|_| ApiError::invalid("owner_id", "choose a person"))?),
        };
        let spec = ActionItemSpec::new(&f.title, owner, Some(&f.due_date), None)?;
        op::create_action_item(&state, &page.0, &inc, spec).await
    }
    .await;
    match result {
        Ok(a) => done(&back, &format!("Action item added: {}", a.title)),
        Err(e) if e.status().is_client_error() => done(&back, &format!("Not added: {}", e.message)),
        Err(e) => error_page(&e),
    }
}

pub async fn action_status(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    if let Err(r) = page.require(Permission::Respond) {
        return r;
    }
    let back = safe_back(&f.back, "/action-items");
    let result = async {
        let id = crate::extract::parse_id(Entity::ActionItem, &id)?;
        let patch = ActionItemPatch { status: Some(f.status.clone()), ..Default::default() };
        op::update_action_item(&state, &page.0, id, patch).await
    }
    .await;
    match result {
        Ok(a) => done(&back, &format!("{} is {}", a.title, a.status.as_str().replace('_', " "))),
        Err(e) if e.status().is_client_error() => done(&back, &format!("Not changed: {}", e.message)),
        Err(e) => error_page(&e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "incidents/action_items.html")]
pub struct ActionItemsPage {
    chrome: Chrome,
    items: Vec<ActionItemDto>,
    can_respond: bool,
}

pub async fn action_items(State(state): State<AppState>, page: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    let chrome = chrome!(page, state, "action-items", q.notice);
    let today = state.now().date_naive();
    let items = try_page!(state.db.list_action_items(None, true, 500).await);
    ActionItemsPage {
        chrome,
        items: items.into_iter().map(|a| ActionItemDto::new(a, today)).collect(),
        can_respond: page.0.allows(Permission::Respond),
    }
    .into_response()
}
