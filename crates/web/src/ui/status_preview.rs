//! The status page editor's live preview: the public page as it stands (GET), or as the
//! settings form would make it before it is saved (POST, which the form's "Preview" button and
//! `app.js`'s live typing send into the editor's preview frame). Rendered like the public page,
//! for the signed-in editor only (private pages too), never cached.

use super::status_pages::SettingsForm;
use super::{PageAuth, error_page};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::status_pages as op;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::role::Permission;
use opsdeck_store::status_page::StatusPage;

async fn load(state: &AppState, auth: &PageAuth, id: &str) -> Result<StatusPage, ApiError> {
    auth.0.require(Permission::Read)?;
    Ok(state.db.get_status_page(crate::extract::parse_id(Entity::StatusPage, id)?).await?)
}

async fn render(state: &AppState, page: StatusPage) -> Response {
    let html = match op::live(state, page).await.and_then(|live| crate::status::preview_html(&live)) {
        Ok(h) => h,
        Err(e) => return error_page(&e),
    };
    let mut res = Html(html).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Framed by the editor only.
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'self'"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    res
}

pub async fn saved(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    match load(&state, &auth, &id).await {
        Ok(page) => render(&state, page).await,
        Err(e) => error_page(&e),
    }
}

pub async fn draft(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<SettingsForm>,
) -> Response {
    let result = async {
        let mut page = load(&state, &auth, &id).await?;
        let spec = page.spec().apply(f.input())?;
        page.title = spec.title;
        page.description = spec.description;
        page.time_zone = spec.time_zone;
        page.accent_color = spec.accent_color;
        page.logo_url = spec.logo_url;
        page.footer_links = spec.footer_links;
        Ok::<_, ApiError>(page)
    }
    .await;
    match result {
        Ok(page) => render(&state, page).await,
        Err(e) => error_page(&e),
    }
}
