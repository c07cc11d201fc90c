//! Sign-in, first-run setup, sign-out and the settings page.

use super::{Chrome, PageAuth, done, error_page, form_error};
use crate::AppState;
use crate::auth;
use crate::operations::{settings, users};
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use opsdeck_core::settings::InstanceSettings as Settings;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Template, WebTemplate)]
#[template(path = "account/login.html")]
pub struct LoginPage {
    instance_name: String,
    username: String,
    next: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    notice: Option<String>,
}

/// Only same-site paths are followed after sign-in (no open redirects). Browsers drop tabs and
/// newlines from URLs and read `\\` as `/`, so `/%09/evil.com` or `/\\evil.com` would become
/// `//evil.com`: a path with any control character, whitespace or backslash is refused whole.
pub(super) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/incidents?status=open")), "/incidents?status=open");
        for evil in
            ["//evil.com", "/\t/evil.com", "/\n/evil.com", "/\\evil.com", "/ /evil.com", "https://evil.com", "evil"]
        {
            assert_eq!(safe_next(Some(evil)), "/", "{evil:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}

async fn instance_name(state: &AppState) -> String {
    settings::load(state).await.map(|s| s.instance_name).unwrap_or_else(|_| "Opsdeck".into())
}

pub async fn login_page(State(state): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    match state.db.count_users().await {
        Ok(0) => return Redirect::to("/setup").into_response(),
        Err(e) => return error_page(&e.into()),
        Ok(_) => {}
    }
    LoginPage {
        instance_name: instance_name(&state).await,
        username: String::new(),
        next: safe_next(q.next.as_deref()),
        error: None,
        notice: q.notice,
    }
    .into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    jar: CookieJar,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let ip = auth::client_ip(&state, addr.ip(), &headers);
    match auth::verify_login(&state, Some(ip), &f.username, &f.password).await {
        Ok(user) => match auth::start_session(&state, &user).await {
            Ok(cookie) => (jar.add(cookie), Redirect::to(&next)).into_response(),
            Err(e) => error_page(&e),
        },
        Err(e) => {
            let status = e.status();
            let page = LoginPage {
                instance_name: instance_name(&state).await,
                username: f.username,
                next,
                error: Some(e.message),
                notice: None,
            };
            (status, page).into_response()
        }
    }
}

pub async fn logout(State(state): State<AppState>, auth: Option<auth::Auth>, jar: CookieJar) -> Response {
    if let Some(a) = &auth
        && let Err(e) = crate::operations::users::end_session(&state, a).await
    {
        return error_page(&e);
    }
    (jar.add(auth::clear_session_cookie()), Redirect::to("/login?notice=Signed+out")).into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "account/setup.html")]
pub struct SetupPage {
    username: String,
    display_name: String,
    email: String,
    error: Option<String>,
}

pub async fn setup_page(State(state): State<AppState>) -> Response {
    match state.db.count_users().await {
        Ok(0) => SetupPage { username: "admin".into(), display_name: String::new(), email: String::new(), error: None }
            .into_response(),
        Ok(_) => Redirect::to("/login").into_response(),
        Err(e) => error_page(&e.into()),
    }
}

#[derive(Deserialize)]
pub struct SetupForm {
    username: String,
    display_name: String,
    email: String,
    password: String,
    password_confirm: String,
}

pub async fn setup_submit(State(state): State<AppState>, jar: CookieJar, Form(f): Form<SetupForm>) -> Response {
    let result = if f.password != f.password_confirm {
        Err(crate::ApiError::invalid("password_confirm", "the two passwords differ"))
    } else {
        users::create_first_admin(&state, &f.username, &f.password, Some(&f.display_name), Some(&f.email)).await
    };
    match result {
        Ok(user) => match auth::start_session(&state, &user).await {
            Ok(cookie) => (jar.add(cookie), super::done("/", "Welcome! Your admin account is ready.")).into_response(),
            Err(e) => error_page(&e),
        },
        Err(e) if e.code == crate::error::ErrorCode::Conflict => Redirect::to("/login").into_response(),
        Err(e) => {
            let status = e.status();
            match form_error(e) {
                Ok(msg) => (
                    status,
                    SetupPage { username: f.username, display_name: f.display_name, email: f.email, error: Some(msg) },
                )
                    .into_response(),
                Err(r) => r,
            }
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "account/settings.html")]
pub struct SettingsPage {
    chrome: Chrome,
    settings: Settings,
    error: Option<String>,
    password_error: Option<String>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

pub async fn settings(State(state): State<AppState>, page: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    let chrome = match page.chrome(&state, "settings", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match settings::load(&state).await {
        Ok(s) => SettingsPage { chrome, settings: s, error: None, password_error: None }.into_response(),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize)]
pub struct SettingsForm {
    instance_name: String,
    public_url: String,
}

pub async fn settings_update(State(state): State<AppState>, page: PageAuth, Form(f): Form<SettingsForm>) -> Response {
    let public_url = Some(f.public_url.as_str()).filter(|u| !u.trim().is_empty());
    let saved = match Settings::new(&f.instance_name, public_url) {
        Ok(valid) => settings::save(&state, &page.0, valid).await,
        Err(e) => Err(e.into()),
    };
    let wanted = Settings { instance_name: f.instance_name, public_url: public_url.map(str::to_owned) };
    match saved {
        Ok(_) => done("/settings", "Settings saved"),
        Err(e) => {
            let status = e.status();
            let msg = match form_error(e) {
                Ok(m) => m,
                Err(r) => return r,
            };
            let chrome = match page.chrome(&state, "settings", None).await {
                Ok(c) => c,
                Err(r) => return r,
            };
            (status, SettingsPage { chrome, settings: wanted, error: Some(msg), password_error: None }).into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: String,
}

pub async fn password_update(State(state): State<AppState>, page: PageAuth, Form(f): Form<PasswordForm>) -> Response {
    let result = if f.new_password != f.new_password_confirm {
        Err(crate::ApiError::invalid("new_password_confirm", "the two new passwords differ"))
    } else {
        let me = page.0.user.clone();
        users::change_password(&state, &page.0, &me, Some(&f.current_password), &f.new_password).await
    };
    match result {
        Ok(()) => done("/settings", "Password changed; your other sessions were signed out"),
        Err(e) => {
            let status = e.status();
            let msg = match form_error(e) {
                Ok(m) => m,
                Err(r) => return r,
            };
            let chrome = match page.chrome(&state, "settings", None).await {
                Ok(c) => c,
                Err(r) => return r,
            };
            let s = settings::load(&state).await.unwrap_or_default();
            (status, SettingsPage { chrome, settings: s, error: None, password_error: Some(msg) }).into_response()
        }
    }
}
