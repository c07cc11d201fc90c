//! Probe agents: who runs checks from where, when each was last seen, its version and lag;
//! admins register agents (the token is shown once) and revoke them.

use super::{Chrome, PageAuth, ago, done, error_page, form_error};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::agents as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::agent::AgentSpec;
use opsdeck_store::agent::Agent;
use serde::Deserialize;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct AgentForm {
    name: String,
    location: String,
}

pub struct Row {
    a: Agent,
    status: &'static str,
    seen: String,
    lag: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "agents/list.html")]
pub struct AgentsPage {
    chrome: Chrome,
    agents: Vec<Row>,
    form: AgentForm,
    error: Option<String>,
    /// Just registered: the agent and its token, shown this once.
    created: Option<(Agent, String)>,
    /// Where agents reach this server.
    server: String,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn lag(ms: Option<i64>) -> String {
    match ms {
        None => "—".into(),
        Some(ms) if ms < 10_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) if ms < 600_000 => format!("{} s", ms / 1000),
        Some(ms) => format!("{} min", ms / 60_000),
    }
}

async fn page(
    state: &AppState,
    auth: &PageAuth,
    notice: Option<String>,
    form: AgentForm,
    error: Option<String>,
    created: Option<(Agent, String)>,
    headers: &axum::http::HeaderMap,
) -> Response {
    let chrome = match auth.chrome(state, "agents", notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let now = state.now();
    let agents = match op::list(state, &auth.0).await {
        Ok(a) => a,
        Err(e) => return error_page(&e),
    };
    let agents = agents
        .into_iter()
        .map(|a| Row {
            status: op::status(&a, now),
            seen: a.last_seen_at.map(|t| ago(t, now)).unwrap_or_else(|| "never".into()),
            lag: lag(a.lag_ms),
            a,
        })
        .collect();
    let server = crate::operations::settings::base_url(state, headers).await;
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, AgentsPage { chrome, agents, form, error, created, server }).into_response()
}

pub async fn list(
    State(state): State<AppState>,
    auth: PageAuth,
    headers: axum::http::HeaderMap,
    Query(q): Query<NoticeQuery>,
) -> Response {
    page(&state, &auth, q.notice, AgentForm::default(), None, None, &headers).await
}

pub async fn create(
    State(state): State<AppState>,
    auth: PageAuth,
    headers: axum::http::HeaderMap,
    Form(f): Form<AgentForm>,
) -> Response {
    let result = async {
        let spec = AgentSpec::new(&f.name, &f.location)?;
        op::register(&state, &auth.0, spec).await
    }
    .await;
    match result {
        // The token is rendered into this response only; a reload will not show it again.
        Ok((agent, token)) => {
            let notice = format!("Agent {} registered. Copy its token now: it will not be shown again.", agent.name);
            page(&state, &auth, Some(notice), AgentForm::default(), None, Some((agent, token)), &headers).await
        }
        Err(e) => match form_error(e) {
            Ok(msg) => page(&state, &auth, None, f, Some(msg), None, &headers).await,
            Err(r) => r,
        },
    }
}

pub async fn revoke(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let result: Result<Agent, ApiError> = async {
        let id = crate::extract::parse_id(Entity::Agent, &id)?;
        op::revoke(&state, &auth.0, id).await
    }
    .await;
    match result {
        Ok(a) => done("/agents", &format!("Agent {} revoked; its token no longer works", a.name)),
        Err(e) if e.status().is_client_error() => done("/agents", &format!("Not done: {}", e.message)),
        Err(e) => error_page(&e),
    }
}
