//! Incident pages: the list (live), an incident with its timeline and actions, and the alerts
//! list (postmortems and action items are in `postmortems`, the MTTx report in `reports`).

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

pub(super) async fn users(state: &AppState) -> Result<Vec<(Uuid, String)>, Response> {
    state
        .db
        .list_users(None, None, Some(500))
        .await
        .map(|p| p.items.into_iter().filter(|u| !u.disabled).map(|u| (u.id, u.username)).collect())
        .map_err(|e| error_page(&e.into()))
}

// ---- list ---------------------------------------------------------------------------------

pub struct Row {
    i: IncidentDto,
    age: String,
    at: String,
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
    let open_f = q.open.as_deref() == Some("1");
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
    let rows = p
        .items
        .into_iter()
        .map(|i| Row { age: ago(i.detected_at, now), at: abs(i.detected_at), i: IncidentDto::from(i) })
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
            Declare { title, description, service_id, severity, impact_start_at: None },
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

// ---- one incident -------------------------------------------------------------------------

pub struct TlRow {
    t: TimelineDto,
    at: String,
    clock: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "incidents/incident.html")]
pub struct IncidentPage {
    chrome: Chrome,
    i: IncidentDto,
    timeline: Vec<TlRow>,
    alerts: Vec<AlertDto>,
    affected: Vec<(String, String)>,
    depends_on: Vec<(String, String)>,
    runbook: Option<String>,
    users: Vec<(Uuid, String)>,
    responders: Vec<String>,
    sevs: [Sev; 4],
    can_respond: bool,
    postmortem_saved: bool,
    detected: String,
    impact: String,
    deliveries: Vec<DeliveryDto>,
    durations: Vec<(&'static str, String)>,
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let chrome = chrome!(page, state, "incidents", q.notice);
    let inc = try_page!(find_incident(&state, &id).await);
    let now = state.now();
    let tl = try_page!(state.db.incident_timeline(&inc, now).await);
    let alerts = try_page!(
        state.db.list_alerts(&AlertFilter { incident_id: Some(inc.id), limit: Some(50), ..Default::default() }).await
    );
    let mut affected = Vec::new();
    let mut depends_on = Vec::new();
    let mut runbook = None;
    for sid in &inc.service_ids {
        if let Ok(s) = state.db.get_service(Ref::Id(*sid)).await {
            if Some(*sid) == inc.service_id {
                runbook = s.service.runbook_url.clone();
                if let Ok((deps, _)) = state.db.service_dependencies(*sid).await {
                    depends_on = deps.into_iter().map(|d| (d.service.name, d.service.slug)).collect();
                }
            }
            affected.push((s.service.name, s.service.slug));
        }
    }
    let users = match users(&state).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let responders = try_page!(state.db.incident_responders(inc.id).await).into_iter().map(|(_, n)| n).collect();
    let postmortem_saved = try_page!(state.db.get_postmortem(inc.id).await).is_some();
    let dur = |a: chrono::DateTime<chrono::Utc>, b: Option<chrono::DateTime<chrono::Utc>>| {
        b.map(|b| super::human_duration((b - a).num_seconds())).unwrap_or_else(|| "—".into())
    };
    let durations = vec![
        ("Time to detect", dur(inc.impact_start_at, Some(inc.detected_at))),
        ("Time to acknowledge", dur(inc.detected_at, inc.acknowledged_at)),
        ("Time to resolve", dur(inc.detected_at, inc.resolved_at)),
    ];
    let timeline = tl
        .into_iter()
        .map(|t| {
            // Today's entries show the time; older ones the day too.
            let fmt = if t.at.date_naive() == now.date_naive() { "%H:%M:%S" } else { "%d %b %H:%M" };
            TlRow { at: abs(t.at), clock: t.at.format(fmt).to_string(), t: TimelineDto::from(t) }
        })
        .collect();
    IncidentPage {
        chrome,
        detected: ago(inc.detected_at, now),
        impact: abs(inc.impact_start_at),
        deliveries: try_page!(state.db.deliveries(inc.id).await).into_iter().map(DeliveryDto::from).collect(),
        i: IncidentDto::from(inc),
        timeline,
        alerts: alerts.items.into_iter().map(AlertDto::from).collect(),
        affected,
        depends_on,
        runbook,
        users,
        responders,
        sevs: Sev::ALL,
        can_respond: page.0.allows(Permission::Respond),
        postmortem_saved,
        durations,
    }
    .into_response()
}

/// Loads the incident of the page and says where to go back to.
async fn incident_and_back(state: &AppState, id: &str) -> Result<(Incident, String), ApiError> {
    let inc = find_incident(state, id).await?;
    let back = format!("/incidents/{}", incident::display_number(inc.number));
    Ok((inc, back))
}

/// Back to the incident with the outcome; a change is also announced to live pages.
fn finish(state: &AppState, inc: &Incident, back: &str, result: Result<String, ApiError>) -> Response {
    if let Ok(notice) = &result {
        state.events.publish(
            "incident.updated",
            Some(inc.id),
            format!("{}: {notice}", incident::display_number(inc.number)),
        );
    }
    outcome(back, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoteForm {
    note: String,
}

impl NoteForm {
    fn note(&self) -> Option<&str> {
        Some(self.note.trim()).filter(|n| !n.is_empty())
    }
}

async fn move_page(state: AppState, page: PageAuth, id: String, f: NoteForm, m: Move, done: &str) -> Response {
    let (inc, back) = try_page!(incident_and_back(&state, &id).await);
    let result = op::move_incident(&state, &page.0, &inc, m, f.note()).await.map(|_| done.to_owned());
    finish(&state, &inc, &back, result)
}

pub async fn acknowledge(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Response {
    move_page(state, page, id, f, Move::Acknowledge, "Acknowledged").await
}

pub async fn resolve(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Response {
    move_page(state, page, id, f, Move::Resolve, "Resolved").await
}

pub async fn reopen(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Response {
    move_page(state, page, id, f, Move::Reopen, "Reopened").await
}

pub async fn escalate(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Response {
    let (inc, back) = try_page!(incident_and_back(&state, &id).await);
    let result = op::escalate_incident(&state, &page.0, &inc, f.note()).await.map(|_| "Escalated".to_owned());
    finish(&state, &inc, &back, result)
}

async fn note_page(state: AppState, page: PageAuth, id: String, f: NoteForm, status_update: bool) -> Response {
    let (inc, back) = try_page!(incident_and_back(&state, &id).await);
    let result = async {
        let body = incident::note(&f.note)?;
        op::add_note(&state, &page.0, &inc, status_update, &body).await?;
        Ok(if status_update { "Status update posted" } else { "Note added" }.to_owned())
    };
    finish(&state, &inc, &back, result.await)
}

pub async fn note(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Response {
    note_page(state, page, id, f, false).await
}

pub async fn status_update(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Response {
    note_page(state, page, id, f, true).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SnoozeForm {
    minutes: String,
}

pub async fn snooze(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<SnoozeForm>,
) -> Response {
    let (inc, back) = try_page!(incident_and_back(&state, &id).await);
    let result = async {
        let m: i64 = f.minutes.trim().parse().map_err(|_| ApiError::invalid("minutes", "choose how long"))?;
        op::snooze_incident(&state, &page.0, &inc, m).await?;
        Ok(format!("Snoozed for {}", super::human_duration(m.saturating_mul(60))))
    };
    finish(&state, &inc, &back, result.await)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SeverityForm {
    severity: String,
}

pub async fn severity(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<SeverityForm>,
) -> Response {
    let (inc, back) = try_page!(incident_and_back(&state, &id).await);
    let result = async {
        let edit = IncidentEditInput { severity: Some(f.severity.clone()), ..Default::default() };
        op::edit_incident(&state, &page.0, &inc, edit.into_edit()?).await?;
        Ok(format!("Severity set to {}", f.severity))
    };
    finish(&state, &inc, &back, result.await)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AssignForm {
    assignee_id: String,
    commander_id: String,
}

pub async fn assign(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<AssignForm>,
) -> Response {
    let (inc, back) = try_page!(incident_and_back(&state, &id).await);
    let person = |field: &'static str, s: &str| -> Result<Option<Uuid>, ApiError> {
        match s.trim() {
            "" => Ok(None),
            v => v.parse().map(Some).map_err(|_| ApiError::invalid(field, "choose a person")),
        }
    };
    let result = async {
        let edit = IncidentEditInput {
            assignee_id: Some(person("assignee_id", &f.assignee_id)?),
            commander_id: Some(person("commander_id", &f.commander_id)?),
            ..Default::default()
        };
        op::edit_incident(&state, &page.0, &inc, edit.into_edit()?).await?;
        Ok("Assignment saved".to_owned())
    };
    finish(&state, &inc, &back, result.await)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MergeForm {
    source: String,
}

pub async fn merge(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<MergeForm>,
) -> Response {
    let (inc, back) = try_page!(incident_and_back(&state, &id).await);
    let result = async {
        let source = find_incident(&state, f.source.trim())
            .await
            .map_err(|_| ApiError::invalid("source", format!("no incident {:?}", f.source.trim())))?;
        op::merge_incidents(&state, &page.0, &inc, &source).await?;
        Ok(format!("{} merged into this incident", incident::display_number(source.number)))
    };
    finish(&state, &inc, &back, result.await)
}

// ---- alerts -------------------------------------------------------------------------------

pub struct AlertRow {
    a: AlertDto,
    seen: String,
    seen_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "incidents/alerts.html")]
pub struct AlertsPage {
    chrome: Chrome,
    rows: Vec<AlertRow>,
    status_f: String,
    q: String,
    next: Option<String>,
    counts: Vec<(String, i64)>,
    filtered: bool,
}

#[derive(Deserialize, Default)]
pub struct AlertListQuery {
    status: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
}

pub async fn alerts(State(state): State<AppState>, page: PageAuth, Query(q): Query<AlertListQuery>) -> Response {
    let chrome = chrome!(page, state, "alerts", None);
    let status = q.status.as_deref().filter(|s| !s.is_empty()).and_then(AlertStatus::parse);
    let query = q.q.clone().filter(|s| !s.trim().is_empty());
    let p = try_page!(
        state
            .db
            .list_alerts(&AlertFilter {
                status,
                q: query.clone(),
                cursor: q.cursor.as_deref().and_then(opsdeck_store::Cursor::decode),
                limit: Some(50),
                ..Default::default()
            })
            .await
    );
    let counts = try_page!(state.db.alert_counts().await);
    let now = state.now();
    let next = p.next_cursor.map(|c| {
        let mut params = vec![("cursor", c)];
        if let Some(s) = q.status.clone().filter(|s| !s.is_empty()) {
            params.push(("status", s));
        }
        if let Some(s) = query.clone() {
            params.push(("q", s));
        }
        format!("/alerts?{}", serde_urlencoded::to_string(params).unwrap_or_default())
    });
    AlertsPage {
        chrome,
        rows: p
            .items
            .into_iter()
            .map(|a| AlertRow { seen: ago(a.last_seen, now), seen_at: abs(a.last_seen), a: AlertDto::from(a) })
            .collect(),
        filtered: status.is_some() || query.is_some(),
        status_f: q.status.unwrap_or_default(),
        q: q.q.unwrap_or_default(),
        next,
        counts: ["firing", "acknowledged", "resolved"]
            .iter()
            .map(|s| (s.to_string(), counts.get(*s).copied().unwrap_or(0)))
            .collect(),
    }
    .into_response()
}
