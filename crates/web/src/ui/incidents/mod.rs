//! Incident pages: the list (live, with bulk actions) here, an incident with its timeline and
//! actions in `detail`, the alerts list in `alerts` (postmortems and action items are in
//! `postmortems`, the MTTx report in `reports`).

use super::{Chrome, PageAuth, abs, ago, done, error_page, form_error, outcome};
use crate::AppState;
use crate::api::alerts::AlertDto;
use crate::api::incidents::{IncidentDto, TimelineDto};
use crate::api::oncall::DeliveryDto;
use crate::error::ApiError;
use crate::operations::incidents::{
    self as op, IncidentEditInput, IncidentFilterInput, find_incident, incident_filter,
};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::alert::AlertStatus;
use opsdeck_core::incident::{self, Move, Sev, Status};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::{Ref, ServiceFilter, ServiceView};
use opsdeck_store::incident::{AlertFilter, Declare, Incident};
use serde::Deserialize;
use uuid::Uuid;

pub(super) async fn services(state: &AppState) -> Result<Vec<ServiceView>, Response> {
    state
        .db
        .list_services(&ServiceFilter { limit: Some(500), ..Default::default() })
        .await
        .map(|p| p.items)
        .map_err(|e| error_page(&e.into()))
}

/// Active people to choose from (see [`super::active_people`]), or the error page.
pub(super) async fn users(state: &AppState) -> Result<Vec<(Uuid, String)>, Response> {
    super::active_people(state).await.map_err(|e| error_page(&e))
}

// ---- list ---------------------------------------------------------------------------------

pub struct Row {
    i: IncidentDto,
    age: String,
    at: String,
    /// The assignee's display name.
    owner: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "incidents/incidents.html")]
pub struct IncidentsPage {
    chrome: Chrome,
    rows: Vec<Row>,
    triggered: i64,
    acknowledged: i64,
    resolved: i64,
    status_f: String,
    service_f: String,
    severity_f: String,
    q: String,
    open_f: bool,
    services: Vec<ServiceView>,
    sevs: [Sev; 4],
    next: Option<String>,
    filtered: bool,
    can_respond: bool,
    form: DeclareForm,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    service: Option<String>,
    severity: Option<String>,
    q: Option<String>,
    open: Option<String>,
    cursor: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct DeclareForm {
    title: String,
    service_id: String,
    severity: String,
    description: String,
}

async fn list_page(
    state: &AppState,
    page: &PageAuth,
    q: ListQuery,
    form: DeclareForm,
    error: Option<String>,
) -> Response {
    let chrome = chrome!(page, state, "incidents", q.notice.clone());
    let blank = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
    // The list opens on what needs attention: open incidents, unless a status was chosen
    // (`?status=` alone, empty, shows all).
    let open_f = match q.open.as_deref() {
        Some(v) => v == "1",
        None => q.status.is_none(),
    };
    let iq = IncidentFilterInput {
        status: blank(&q.status),
        open: Some(open_f),
        severity: blank(&q.severity),
        q: blank(&q.q),
        limit: Some(50),
        cursor: blank(&q.cursor),
    };
    let service_id = blank(&q.service).and_then(|s| s.parse::<Uuid>().ok());
    let filter = try_page!(incident_filter(&iq, service_id));
    let p = try_page!(state.db.list_incidents(&filter).await);
    let counts = try_page!(state.db.incident_counts(None).await);
    let now = state.now();
    let people = try_page!(super::home::display_names(state).await);
    let rows = p
        .items
        .into_iter()
        .map(|i| Row {
            age: ago(i.detected_at, now),
            at: abs(i.detected_at),
            owner: i.assignee_id.and_then(|id| people.get(&id).cloned()),
            i: IncidentDto::from(i),
        })
        .collect();
    let services = match services(state).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let next = p.next_cursor.map(|c| {
        let mut params = vec![("cursor", c)];
        for (k, v) in [("status", &q.status), ("service", &q.service), ("severity", &q.severity), ("q", &q.q)] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                params.push((k, v.clone()));
            }
        }
        if open_f {
            params.push(("open", "1".into()));
        }
        format!("/incidents?{}", serde_urlencoded::to_string(params).unwrap_or_default())
    });
    (
        status,
        IncidentsPage {
            can_respond: page.0.allows(Permission::Respond),
            filtered: filter.status.is_some()
                || open_f
                || service_id.is_some()
                || filter.severity.is_some()
                || filter.q.is_some(),
            chrome,
            rows,
            triggered: counts.get(&Status::Triggered).copied().unwrap_or(0),
            acknowledged: counts.get(&Status::Acknowledged).copied().unwrap_or(0),
            resolved: counts.get(&Status::Resolved).copied().unwrap_or(0),
            status_f: q.status.unwrap_or_default(),
            service_f: q.service.unwrap_or_default(),
            severity_f: q.severity.unwrap_or_default(),
            q: q.q.unwrap_or_default(),
            open_f,
            services,
            sevs: Sev::ALL,
            next,
            form,
            error,
        },
    )
        .into_response()
}

pub async fn list(State(state): State<AppState>, page: PageAuth, Query(q): Query<ListQuery>) -> Response {
    let form = DeclareForm { severity: "SEV3".into(), ..Default::default() };
    list_page(&state, &page, q, form, None).await
}

pub async fn declare(State(state): State<AppState>, page: PageAuth, Form(f): Form<DeclareForm>) -> Response {
    if let Err(r) = page.require(Permission::Respond) {
        return r;
    }
    let result = async {
        let title = incident::title(&f.title)?;
        let service_id =
            f.service_id.parse::<Uuid>().map_err(|_| ApiError::invalid("service_id", "choose the affected service"))?;
        state
            .db
            .get_service(Ref::Id(service_id))
            .await
            .map_err(|_| ApiError::invalid("service_id", "choose the affected service"))?;
        let severity = Sev::parse(&f.severity).ok_or_else(|| ApiError::invalid("severity", "choose SEV1 to SEV4"))?;
        let description = opsdeck_core::validate::description("description", &f.description)?;
        op::declare_incident(
            &state,
            &page.0,
            Declare { title, description, service_id, severity, impact_start_at: None, from_ticket: None },
        )
        .await
    }
    .await;
    match result {
        Ok(i) => done(&format!("/incidents/{}", incident::display_number(i.number)), "Incident declared"),
        Err(e) => match form_error(e) {
            Ok(msg) => list_page(&state, &page, ListQuery::default(), f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BulkForm {
    ids: Vec<Uuid>,
    action: String,
}

/// Acknowledge or resolve the incidents ticked on the list (`POST /incidents/bulk`).
pub async fn bulk(State(state): State<AppState>, page: PageAuth, Form(f): Form<BulkForm>) -> Response {
    let result = async {
        let m = match f.action.as_str() {
            "acknowledge" => Move::Acknowledge,
            "resolve" => Move::Resolve,
            _ => return Err(ApiError::invalid("action", "choose acknowledge or resolve")),
        };
        let out = op::move_incidents(&state, &page.0, &f.ids, m).await?;
        let verb = if m == Move::Acknowledge { "Acknowledged" } else { "Resolved" };
        let mut msg = format!("{verb} {} incident{}", out.moved, if out.moved == 1 { "" } else { "s" });
        if out.skipped > 0 {
            msg.push_str(&format!("; {} left as they were", out.skipped));
        }
        Ok(msg)
    };
    outcome("/incidents", result.await)
}

mod alerts;
mod detail;
pub use alerts::*;
pub use detail::*;
