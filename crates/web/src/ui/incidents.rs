//! Incident pages: the list (live), an incident with its timeline and actions, and the alerts
//! list (postmortems and action items are in `postmortems`, the MTTx report in `reports`).

use super::{Chrome, PageAuth, abs, ago, done, error_page, form_error};
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
use opsdeck_store::incident::{AlertFilter, Declare};
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
#[template(path = "incidents.html")]
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
#[template(path = "incident.html")]
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

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActForm {
    action: String,
    note: String,
    minutes: String,
    severity: String,
    assignee_id: String,
    commander_id: String,
    source: String,
}

/// Every button on the incident page posts here with `action`.
pub async fn act(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<ActForm>,
) -> Response {
    if let Err(r) = page.require(Permission::Respond) {
        return r;
    }
    let auth = &page.0;
    let inc = try_page!(find_incident(&state, &id).await);
    let back = format!("/incidents/{}", incident::display_number(inc.number));
    let note = Some(f.note.trim()).filter(|n| !n.is_empty());
    let result: Result<String, ApiError> = async {
        Ok(match f.action.as_str() {
            "acknowledge" => {
                op::move_incident(&state, auth, &inc, Move::Acknowledge, note).await?;
                "Acknowledged".into()
            }
            "resolve" => {
                op::move_incident(&state, auth, &inc, Move::Resolve, note).await?;
                "Resolved".into()
            }
            "reopen" => {
                op::move_incident(&state, auth, &inc, Move::Reopen, note).await?;
                "Reopened".into()
            }
            "escalate" => {
                op::escalate_incident(&state, auth, &inc, note).await?;
                "Escalated".into()
            }
            "snooze" => {
                let m: i64 = f.minutes.trim().parse().map_err(|_| ApiError::invalid("minutes", "choose how long"))?;
                if !(1..=10_080).contains(&m) {
                    return Err(ApiError::invalid("minutes", "must be 1 to 10080"));
                }
                op::snooze_incident(&state, auth, &inc, m).await?;
                format!("Snoozed for {}", super::human_duration(m * 60))
            }
            "note" | "status_update" => {
                let body = incident::note(&f.note)?;
                op::add_note(&state, auth, &inc, f.action == "status_update", &body).await?;
                if f.action == "note" { "Note added".into() } else { "Status update posted".into() }
            }
            "severity" => {
                let edit = IncidentEditInput { severity: Some(f.severity.clone()), ..Default::default() };
                op::edit_incident(&state, auth, &inc, edit.into_edit()?).await?;
                format!("Severity set to {}", f.severity)
            }
            "assign" => {
                let parse = |s: &str| -> Result<Option<Uuid>, ApiError> {
                    match s.trim() {
                        "" => Ok(None),
                        v => v.parse().map(Some).map_err(|_| ApiError::invalid("assignee_id", "choose a person")),
                    }
                };
                let edit = IncidentEditInput {
                    assignee_id: Some(parse(&f.assignee_id)?),
                    commander_id: Some(parse(&f.commander_id)?),
                    ..Default::default()
                };
                op::edit_incident(&state, auth, &inc, edit.into_edit()?).await?;
                "Assignment saved".into()
            }
            "merge" => {
                let source = find_incident(&state, f.source.trim())
                    .await
                    .map_err(|_| ApiError::invalid("source", format!("no incident {:?}", f.source.trim())))?;
                op::merge_incidents(&state, auth, &inc, &source).await?;
                format!("{} merged into this incident", incident::display_number(source.number))
            }
            other => return Err(ApiError::bad_request(format!("unknown action {other:?}"))),
        })
    }
    .await;
    match result {
        Ok(notice) => {
            state.events.publish(
                "incident.updated",
                Some(inc.id),
                format!("{}: {notice}", incident::display_number(inc.number)),
            );
            done(&back, &notice)
        }
        Err(e) if e.status().is_client_error() => done(&back, &format!("Not done: {}", e.message)),
        Err(e) => error_page(&e),
    }
}

// ---- alerts -------------------------------------------------------------------------------

pub struct AlertRow {
    a: AlertDto,
    seen: String,
    seen_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "alerts.html")]
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
