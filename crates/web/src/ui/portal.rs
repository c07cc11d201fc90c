//! The self-service portal: what requesters can ask for (request items with their forms), their
//! own tickets, requests awaiting their approval, a knowledge-base search and service status.

use super::{Chrome, PageAuth, done, error_page};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::requests as op;
use crate::operations::tickets::{self as tickets, TicketView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::desk::request_item as item;
use opsdeck_core::role::Permission;
use opsdeck_store::desk::requests::RequestItem;
use opsdeck_store::desk::{Ticket, TicketFilter};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One public status page in a line: its title, slug, headline and unresolved incidents.
pub struct StatusLine {
    pub title: String,
    pub slug: String,
    pub indicator: &'static str,
    pub tone: &'static str,
    pub incidents: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/index.html")]
pub struct PortalPage {
    chrome: Chrome,
    /// Items by category, in order.
    groups: Vec<(String, Vec<RequestItem>)>,
    mine: Vec<TicketView>,
    approvals: Vec<Ticket>,
    status: Vec<StatusLine>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

async fn status_lines(state: &AppState) -> Result<Vec<StatusLine>, ApiError> {
    let pages = state.db.list_status_pages().await?;
    let mut out = Vec::new();
    // Only public pages: a private one's state is not everyone's to read.
    for p in pages.into_iter().filter(|p| p.password_hash.is_none() && p.viewer_team_ids.is_empty()).take(3) {
        let live = crate::operations::status_pages::live(state, p).await?;
        let tone = match live.indicator.as_str() {
            "none" => "good",
            "maintenance" | "minor" => "warn",
            _ => "bad",
        };
        out.push(StatusLine {
            title: live.page.title.clone(),
            slug: live.page.slug.clone(),
            indicator: live.indicator.description(),
            tone,
            incidents: live.unresolved.iter().take(5).map(|i| i.name.clone()).collect(),
        });
    }
    Ok(out)
}

pub async fn index(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    let chrome = match auth.chrome(&state, "portal", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let a = &auth.0;
    let result = async {
        let items = op::items(&state, a, false).await?;
        let mut groups: Vec<(String, Vec<RequestItem>)> = Vec::new();
        for i in items {
            match groups.last_mut() {
                Some((c, list)) if *c == i.category => list.push(i),
                _ => groups.push((i.category.clone(), vec![i])),
            }
        }
        let f = TicketFilter { requester_id: Some(a.user.id), limit: Some(20), ..TicketFilter::default() };
        let mine = tickets::queue(&state, a, &f).await?.items;
        let who = if a.allows(Permission::Administer) { None } else { Some(a.user.id) };
        let approvals = state.db.awaiting_approval(who).await?;
        Ok::<_, ApiError>((groups, mine, approvals, status_lines(&state).await?))
    }
    .await;
    match result {
        Ok((groups, mine, approvals, status)) => PortalPage { chrome, groups, mine, approvals, status }.into_response(),
        Err(e) => error_page(&e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/item.html")]
pub struct ItemPage {
    chrome: Chrome,
    item: RequestItem,
    /// What was typed, by key (kept when the form comes back with errors).
    given: BTreeMap<String, String>,
    /// What is wrong, by key.
    errors: BTreeMap<String, String>,
    error: Option<String>,
    approver: Option<String>,
}

impl ItemPage {
    fn value(&self, key: &str) -> &str {
        self.given.get(key).map_or("", String::as_str)
    }
}

async fn item_page(
    state: &AppState,
    auth: &PageAuth,
    slug: &str,
    given: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "portal", None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let item = match op::item(state, &auth.0, slug).await {
        Ok(i) => i,
        Err(e) => return error_page(&e),
    };
    let approver = match item.approver_id {
        Some(id) => state.db.get_user(id).await.ok().map(|u| u.shown_name()),
        None => None,
    };
    let code = if errors.is_empty() && error.is_none() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    (code, ItemPage { chrome, item, given, errors, error, approver }).into_response()
}

pub async fn item_form(State(state): State<AppState>, auth: PageAuth, Path(slug): Path<String>) -> Response {
    item_page(&state, &auth, &slug, BTreeMap::new(), BTreeMap::new(), None).await
}

pub async fn submit(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(slug): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let given: BTreeMap<String, String> = pairs.into_iter().take(item::FIELDS_MAX + 5).collect();
    // The same check the operation makes, here per field so the form marks each one.
    if let Ok(it) = op::item(&state, &auth.0, &slug).await
        && let Err(problems) = item::check_answers(&it.fields, &given)
    {
        let n = problems.len();
        let errors: BTreeMap<String, String> = problems.into_iter().collect();
        let msg = format!("{n} answer{} need{} fixing", if n == 1 { "" } else { "s" }, if n == 1 { "s" } else { "" });
        return item_page(&state, &auth, &slug, given, errors, Some(msg)).await;
    }
    match op::raise(&state, &auth.0, &slug, &given, None).await {
        Ok(v) => {
            let note = if v.ticket.approval == opsdeck_core::desk::request_item::Approval::Pending {
                format!("{} raised; it waits for approval", v.ticket.key())
            } else {
                format!("{} raised", v.ticket.key())
            };
            done(&format!("/tickets/{}", v.ticket.number), &note)
        }
        Err(e) if e.status().is_client_error() => {
            item_page(&state, &auth, &slug, given, BTreeMap::new(), Some(e.message)).await
        }
        Err(e) => error_page(&e),
    }
}
