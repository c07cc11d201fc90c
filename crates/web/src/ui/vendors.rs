//! Vendors: every third-party status page Opsdeck reads, on one page, and one vendor's
//! components and incidents.

use super::status_pages::NoticeQuery;
use super::{Chrome, PageAuth, done, error_page, form_error};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::vendors as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::vendor::{VendorSpec, VendorStatus};
use opsdeck_store::vendor::Vendor;
use serde::Deserialize;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct VendorForm {
    name: String,
    url: String,
    interval_seconds: String,
}

/// A vendor as the pages show it.
pub struct Shown {
    pub v: Vendor,
    /// The status's CSS class and label.
    pub class: &'static str,
    pub label: &'static str,
    pub checked: String,
    /// Components not operational, first.
    pub troubled: usize,
}

fn shown(v: Vendor, now: chrono::DateTime<chrono::Utc>) -> Shown {
    let (class, label) = match v.status {
        VendorStatus::Known(s) => (s.as_str(), s.label()),
        VendorStatus::Unknown => ("unknown", "Unknown"),
    };
    Shown {
        class,
        label,
        checked: v
            .checked_at
            .map_or_else(|| "not polled yet".to_owned(), |t| format!("checked {}", super::ago(t, now))),
        troubled: v
            .components
            .iter()
            .filter(|c| c.status != opsdeck_core::status_page::ComponentStatus::Operational)
            .count(),
        v,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "vendors/list.html")]
pub struct ListPage {
    chrome: Chrome,
    vendors: Vec<Shown>,
    form: VendorForm,
    error: Option<String>,
}

async fn list_page(
    state: &AppState,
    auth: &PageAuth,
    notice: Option<String>,
    form: VendorForm,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "vendors", notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let now = state.now();
    let mut vendors: Vec<Shown> = match state.db.list_vendors().await {
        Ok(v) => v.into_iter().map(|v| shown(v, now)).collect(),
        Err(e) => return error_page(&e.into()),
    };
    // Trouble first: a vendor that is down or unknown is what the page is for.
    vendors.sort_by_key(|s| {
        (
            s.v.status == VendorStatus::Known(opsdeck_core::status_page::ComponentStatus::Operational),
            s.v.name.to_lowercase(),
        )
    });
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, ListPage { chrome, vendors, form, error }).into_response()
}

pub async fn list(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    list_page(&state, &auth, q.notice, VendorForm::default(), None).await
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<VendorForm>) -> Response {
    let result = async {
        let interval = match f.interval_seconds.trim() {
            "" => None,
            s => Some(
                s.parse::<i64>()
                    .map_err(|_| ApiError::invalid("interval_seconds", "must be a whole number of seconds"))?,
            ),
        };
        let spec = VendorSpec::new(&f.name, &f.url, interval, None)?;
        op::create(&state, &auth.0, spec).await
    }
    .await;
    match result {
        Ok(v) => {
            done(&format!("/vendors/{}", v.id), &format!("Vendor {} added; the first poll runs within seconds", v.name))
        }
        Err(e) => match form_error(e) {
            Ok(msg) => list_page(&state, &auth, None, f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "vendors/detail.html")]
pub struct DetailPage {
    chrome: Chrome,
    s: Shown,
    /// Services that depend on it: (service id, name, component; empty = the whole vendor).
    dependents: Vec<(uuid::Uuid, String, String)>,
    services: Vec<(uuid::Uuid, String)>,
}

async fn load(state: &AppState, id: &str) -> Result<Vendor, ApiError> {
    Ok(state.db.get_vendor(crate::extract::parse_id(Entity::Vendor, id)?).await?)
}

pub async fn detail(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let chrome = match auth.chrome(&state, "vendors", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let v = load(&state, &id).await?;
        let dependents = state.db.vendor_dependents(v.id).await?;
        let filter = opsdeck_store::catalogue::ServiceFilter { limit: Some(500), ..Default::default() };
        let services =
            state.db.list_services(&filter).await?.items.into_iter().map(|s| (s.service.id, s.service.name)).collect();
        Ok::<_, ApiError>((v, dependents, services))
    }
    .await;
    match result {
        Ok((v, dependents, services)) => {
            DetailPage { chrome, s: shown(v, state.now()), dependents, services }.into_response()
        }
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DependentForm {
    service_id: String,
    component: String,
}

pub async fn add_dependent(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<DependentForm>,
) -> Response {
    let result = async {
        let v = load(&state, &id).await?;
        let sid = uuid::Uuid::parse_str(f.service_id.trim())
            .map_err(|_| ApiError::invalid("service_id", "choose a service from the list"))?;
        op::add_dependent(&state, &auth.0, &v, sid, &f.component).await?;
        Ok::<_, ApiError>("The service is alerted while this is degraded or worse".to_owned())
    }
    .await;
    super::outcome(&format!("/vendors/{id}"), result)
}

pub async fn remove_dependent(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, service)): Path<(String, uuid::Uuid)>,
) -> Response {
    let result = async {
        let v = load(&state, &id).await?;
        op::remove_dependent(&state, &auth.0, &v, service).await?;
        Ok::<_, ApiError>("The service no longer depends on this vendor".to_owned())
    }
    .await;
    super::outcome(&format!("/vendors/{id}"), result)
}

pub async fn delete(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let v = match load(&state, &id).await {
        Ok(v) => v,
        Err(e) => return error_page(&e),
    };
    match op::delete(&state, &auth.0, &v).await {
        Ok(()) => done("/vendors", &format!("Vendor {} removed", v.name)),
        Err(e) => super::outcome(&format!("/vendors/{}", v.id), Err(e)),
    }
}
