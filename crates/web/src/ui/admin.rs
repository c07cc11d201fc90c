//! Administration pages: users, API tokens and the audit log.

use super::{Chrome, PageAuth, abs, ago, done, error_page, form_error};
use crate::AppState;
use crate::operations::audit::{AuditFilterInput, list_audit};
use crate::operations::users as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use opsdeck_core::Entity;
use opsdeck_core::role::{Permission, Role};
use opsdeck_core::user::{ApiToken, User};
use opsdeck_store::user::UserPatch;
use serde::Deserialize;

// ---- users ------------------------------------------------------------------------------

#[derive(Deserialize, Default, Clone)]
pub struct UserForm {
    username: String,
    display_name: String,
    email: String,
    role: String,
    password: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/users.html")]
pub struct UsersPage {
    chrome: Chrome,
    users: Vec<User>,
    me: uuid::Uuid,
    roles: [Role; 4],
    q: String,
    next: Option<String>,
    form: UserForm,
    error: Option<String>,
    /// Accounts, disabled ones included.
    total: i64,
}

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    cursor: Option<String>,
    notice: Option<String>,
}

async fn users_page(
    state: &AppState,
    page: &PageAuth,
    q: ListQuery,
    form: UserForm,
    error: Option<String>,
) -> Response {
    if let Err(r) = page.require(Permission::Administer) {
        return r;
    }
    let chrome = chrome!(page, state, "users", q.notice);
    let cursor = q.cursor.as_deref().and_then(opsdeck_store::Cursor::decode);
    let list = match state.db.list_users(q.q.as_deref(), cursor.as_ref(), Some(50)).await {
        Ok(l) => l,
        Err(e) => return error_page(&e.into()),
    };
    let qs = q.q.unwrap_or_default();
    let next = list.next_cursor.map(|c| format!("/settings/users?q={}&cursor={c}", super::urlencode(&qs)));
    let total = match state.db.count_users().await {
        Ok(n) => n,
        Err(e) => return error_page(&e.into()),
    };
    let status =
        if error.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    let me = page.0.user.id;
    (status, UsersPage { chrome, users: list.items, me, roles: Role::ALL, q: qs, next, form, error, total })
        .into_response()
}

pub async fn users(State(state): State<AppState>, page: PageAuth, Query(q): Query<ListQuery>) -> Response {
    users_page(&state, &page, q, UserForm { role: "responder".into(), ..Default::default() }, None).await
}

pub async fn user_create(State(state): State<AppState>, page: PageAuth, Form(f): Form<UserForm>) -> Response {
    if let Err(r) = page.require(Permission::Administer) {
        return r;
    }
    let result = async {
        let role: Role = f.role.parse()?;
        let new = op::validate_new_user(&f.username, &f.password, Some(&f.display_name), Some(&f.email), role).await?;
        op::create_user(&state, &page.0, new).await
    }
    .await;
    match result {
        Ok(u) => done("/settings/users", &format!("User {} added as {}", u.username, u.role)),
        Err(e) => match form_error(e) {
            Ok(msg) => {
                let f = UserForm { password: String::new(), ..f };
                users_page(&state, &page, ListQuery { q: None, cursor: None, notice: None }, f, Some(msg)).await
            }
            Err(r) => r,
        },
    }
}

#[derive(Deserialize)]
pub struct UserUpdateForm {
    role: Option<String>,
    /// "enable" or "disable".
    action: Option<String>,
}

pub async fn user_update(
    State(state): State<AppState>,
    page: PageAuth,
    Path(user): Path<String>,
    Form(f): Form<UserUpdateForm>,
) -> Response {
    if let Err(r) = page.require(Permission::Administer) {
        return r;
    }
    let result = async {
        let target = op::find_user(&state, &user).await?;
        let patch = UserPatch {
            role: f.role.as_deref().map(str::parse::<Role>).transpose()?,
            disabled: match f.action.as_deref() {
                Some("disable") => Some(true),
                Some("enable") => Some(false),
                _ => None,
            },
            ..Default::default()
        };
        op::update_user(&state, &page.0, &target, patch).await
    }
    .await;
    match result {
        Ok(u) => done("/settings/users", &format!("User {} saved", u.username)),
        Err(e) => match form_error(e) {
            Ok(msg) => {
                users_page(
                    &state,
                    &page,
                    ListQuery { q: None, cursor: None, notice: None },
                    UserForm::default(),
                    Some(msg),
                )
                .await
            }
            Err(r) => r,
        },
    }
}

// ---- tokens -----------------------------------------------------------------------------

pub struct TokenRow {
    t: ApiToken,
    created: String,
    last_used: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/tokens.html")]
pub struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
    all: bool,
    roles: Vec<Role>,
    /// The secret of a token just created, shown once.
    created: Option<String>,
    name: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct TokensQuery {
    all: Option<String>,
    notice: Option<String>,
}

async fn tokens_page(
    state: &AppState,
    page: &PageAuth,
    all: bool,
    notice: Option<String>,
    created: Option<String>,
    name: String,
    error: Option<String>,
) -> Response {
    let all = all && page.0.allows(Permission::Administer);
    let chrome = chrome!(page, state, "tokens", notice);
    let tokens = match state.db.list_tokens((!all).then_some(page.0.user.id)).await {
        Ok(t) => t,
        Err(e) => return error_page(&e.into()),
    };
    let now = state.now();
    let tokens = tokens
        .into_iter()
        .map(|t| TokenRow {
            created: ago(t.created_at, now),
            last_used: t.last_used_at.map(|l| ago(l, now)).unwrap_or_else(|| "never".into()),
            t,
        })
        .collect();
    let roles = Role::ALL.into_iter().filter(|r| *r <= page.0.role).collect();
    let status =
        if error.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    (status, TokensPage { chrome, tokens, all, roles, created, name, error }).into_response()
}

pub async fn tokens(State(state): State<AppState>, page: PageAuth, Query(q): Query<TokensQuery>) -> Response {
    tokens_page(&state, &page, q.all.is_some_and(|a| a == "true" || a == "1"), q.notice, None, String::new(), None)
        .await
}

#[derive(Deserialize)]
pub struct TokenForm {
    name: String,
    role: String,
}

pub async fn token_create(State(state): State<AppState>, page: PageAuth, Form(f): Form<TokenForm>) -> Response {
    let result = async {
        let role = match f.role.as_str() {
            "" => None,
            r => Some(r.parse::<Role>()?),
        };
        let me = page.0.user.clone();
        op::issue_token(&state, &page.0, &me, &f.name, role).await
    }
    .await;
    match result {
        // The secret is rendered into this response only; a reload will not show it again.
        Ok((token, secret)) => {
            let notice = format!("Token {} created. Copy it now: it will not be shown again.", token.name);
            tokens_page(&state, &page, false, Some(notice), Some(secret), String::new(), None).await
        }
        Err(e) => match form_error(e) {
            Ok(msg) => tokens_page(&state, &page, false, None, None, f.name, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn token_revoke(State(state): State<AppState>, page: PageAuth, Path(id): Path<String>) -> Response {
    let result = async {
        let id = crate::extract::parse_id(Entity::ApiToken, &id)?;
        op::revoke_token(&state, &page.0, id).await
    }
    .await;
    match result {
        Ok(t) => done("/settings/tokens", &format!("Token {} revoked", t.name)),
        Err(e) => error_page(&e),
    }
}

// ---- audit log --------------------------------------------------------------------------

pub struct AuditRow {
    e: opsdeck_core::audit::AuditEntry,
    ago: String,
    at: String,
    before: Option<String>,
    after: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit.html")]
pub struct AuditPage {
    chrome: Chrome,
    rows: Vec<AuditRow>,
    action: String,
    actor: String,
    entity_type: String,
    next: Option<String>,
    filtered: bool,
    /// Entries in the whole log.
    total: i64,
}

#[derive(Deserialize)]
pub struct AuditPageQuery {
    action: Option<String>,
    actor: Option<String>,
    entity_type: Option<String>,
    cursor: Option<String>,
}

pub async fn audit(State(state): State<AppState>, page: PageAuth, Query(q): Query<AuditPageQuery>) -> Response {
    if let Err(r) = page.require(Permission::Administer) {
        return r;
    }
    let chrome = chrome!(page, state, "audit", None);
    let input = AuditFilterInput {
        action: q.action.clone(),
        actor: q.actor.clone(),
        entity_type: q.entity_type.clone(),
        cursor: q.cursor.clone(),
        limit: Some(50),
        ..Default::default()
    };
    let list = match list_audit(&state, &page.0, input).await {
        Ok(l) => l,
        Err(e) => return error_page(&e),
    };
    let now = state.now();
    let pretty = |v: &Option<serde_json::Value>| v.as_ref().and_then(|v| serde_json::to_string_pretty(v).ok());
    let rows = list
        .items
        .into_iter()
        .map(|e| AuditRow { ago: ago(e.at, now), at: abs(e.at), before: pretty(&e.before), after: pretty(&e.after), e })
        .collect();
    let (action, actor, entity_type) =
        (q.action.unwrap_or_default(), q.actor.unwrap_or_default(), q.entity_type.unwrap_or_default());
    let next = list.next_cursor.map(|c| {
        format!(
            "/settings/audit?action={}&actor={}&entity_type={}&cursor={c}",
            super::urlencode(&action),
            super::urlencode(&actor),
            super::urlencode(&entity_type)
        )
    });
    let filtered = !(action.is_empty() && actor.is_empty() && entity_type.is_empty());
    let total = match state.db.count_audit().await {
        Ok(n) => n,
        Err(e) => return error_page(&e.into()),
    };
    AuditPage { chrome, rows, action, actor, entity_type, next, filtered, total }.into_response()
}
