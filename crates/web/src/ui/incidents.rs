//! Incident pages: the list (live), an incident with its timeline and actions, postmortems
//! with action items, the alerts list, open action items, and the MTTx report.

use super::charts;
use super::{Chrome, PageAuth, abs, ago, done, error_page, form_error};
use crate::AppState;
use crate::api::incidents::{
    ActionItemDto, AlertDto, EditBody, IncidentDto, IncidentQuery, PostmortemDto, TimelineDto, do_move, find_incident,
    incident_filter, postmortem_of,
};
use crate::api::reports::{self, ReportQuery};
use crate::error::ApiError;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use chrono::Duration;
use opsdeck_core::Entity;
use opsdeck_core::alert::AlertStatus;
use opsdeck_core::incident::{self, ActionItemSpec, Move, PostmortemSpec, Sev, Status};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::{Ref, ServiceFilter, ServiceView};
use opsdeck_store::incident::{AlertFilter, Declare};
use serde::Deserialize;
use uuid::Uuid;

async fn services(state: &AppState) -> Result<Vec<ServiceView>, Response> {
    state
        .db
        .list_services(&ServiceFilter { limit: Some(500), ..Default::default() })
        .await
        .map(|p| p.items)
        .map_err(|e| error_page(&e.into()))
}

async fn users(state: &AppState) -> Result<Vec<(Uuid, String)>, Response> {
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
    let iq = IncidentQuery {
        status: blank(&q.status),
        open: Some(open_f),
        service_id: blank(&q.service),
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
        Ok::<_, ApiError>(
            state
                .db
                .declare_incident(
                    &page.0.actor(),
                    state.now(),
                    Declare { title, description, service_id, severity, impact_start_at: None },
                )
                .await?,
        )
    }
    .await;
    match result {
        Ok(i) => {
            state.events.publish(
                "incident.opened",
                Some(i.id),
                format!("{} declared: {}", incident::display_number(i.number), i.title),
            );
            done(&format!("/incidents/{}", incident::display_number(i.number)), "Incident declared")
        }
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
    deliveries: Vec<crate::api::oncall::DeliveryDto>,
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
        deliveries: try_page!(crate::api::oncall::deliveries(&state, inc.id).await),
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
        let actor = auth.actor();
        let now = state.now();
        Ok(match f.action.as_str() {
            "acknowledge" => {
                do_move(&state, auth, &id, Move::Acknowledge, note).await?;
                "Acknowledged".into()
            }
            "resolve" => {
                do_move(&state, auth, &id, Move::Resolve, note).await?;
                "Resolved".into()
            }
            "reopen" => {
                do_move(&state, auth, &id, Move::Reopen, note).await?;
                "Reopened".into()
            }
            "escalate" => {
                state.db.escalate_incident(&actor, now, inc.id, note).await?;
                "Escalated".into()
            }
            "snooze" => {
                let m: i64 = f.minutes.trim().parse().map_err(|_| ApiError::invalid("minutes", "choose how long"))?;
                if !(1..=10_080).contains(&m) {
                    return Err(ApiError::invalid("minutes", "must be 1 to 10080"));
                }
                state.db.snooze_incident(&actor, now, inc.id, now + Duration::minutes(m)).await?;
                format!("Snoozed for {}", super::human_duration(m * 60))
            }
            "note" | "status_update" => {
                let body = incident::note(&f.note)?;
                state.db.add_incident_note(&actor, now, inc.id, f.action == "status_update", &body).await?;
                if f.action == "note" { "Note added".into() } else { "Status update posted".into() }
            }
            "severity" => {
                let body = EditBody { severity: Some(f.severity.clone()), ..Default::default() };
                state.db.edit_incident(&actor, now, inc.id, body.into_edit()?).await?;
                format!("Severity set to {}", f.severity)
            }
            "assign" => {
                let parse = |s: &str| -> Result<Option<Uuid>, ApiError> {
                    match s.trim() {
                        "" => Ok(None),
                        v => v.parse().map(Some).map_err(|_| ApiError::invalid("assignee_id", "choose a person")),
                    }
                };
                let body = EditBody {
                    assignee_id: Some(parse(&f.assignee_id)?),
                    commander_id: Some(parse(&f.commander_id)?),
                    ..Default::default()
                };
                state.db.edit_incident(&actor, now, inc.id, body.into_edit()?).await?;
                "Assignment saved".into()
            }
            "merge" => {
                let source = find_incident(&state, f.source.trim())
                    .await
                    .map_err(|_| ApiError::invalid("source", format!("no incident {:?}", f.source.trim())))?;
                state.db.merge_incidents(&actor, now, inc.id, source.id).await?;
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

// ---- postmortem ---------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "postmortem.html")]
pub struct PostmortemPage {
    chrome: Chrome,
    i: IncidentDto,
    p: PostmortemDto,
    users: Vec<(Uuid, String)>,
    can_respond: bool,
    resolved: bool,
}

pub async fn postmortem(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let chrome = chrome!(page, state, "incidents", q.notice);
    let inc = try_page!(find_incident(&state, &id).await);
    let p = try_page!(postmortem_of(&state, &inc).await);
    let users = match users(&state).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    PostmortemPage {
        chrome,
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
    let result = async {
        let spec = spec.validate()?;
        Ok::<_, ApiError>(state.db.save_postmortem(&page.0.actor(), state.now(), inc.id, spec).await?)
    }
    .await;
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
        Ok::<_, ApiError>(state.db.create_action_item(&page.0.actor(), state.now(), inc.id, spec).await?)
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
        let cur = state.db.get_action_item(id).await?;
        let spec = ActionItemSpec::new(
            &cur.title,
            cur.owner_id,
            cur.due_date.map(|d| d.to_string()).as_deref(),
            Some(&f.status),
        )?;
        Ok::<_, ApiError>(state.db.update_action_item(&page.0.actor(), state.now(), id, spec).await?)
    }
    .await;
    match result {
        Ok(a) => done(&back, &format!("{} is {}", a.title, a.status.as_str().replace('_', " "))),
        Err(e) if e.status().is_client_error() => done(&back, &format!("Not changed: {}", e.message)),
        Err(e) => error_page(&e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "action_items.html")]
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

// ---- MTTx report --------------------------------------------------------------------------

pub struct StatRow {
    name: &'static str,
    formula: &'static str,
    count: usize,
    mean: String,
    median: String,
    p90: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports.html")]
pub struct ReportsPage {
    chrome: Chrome,
    stats: Vec<StatRow>,
    incidents: usize,
    week_chart: String,
    service_chart: String,
    severity_chart: String,
    noisy: Vec<opsdeck_store::incident::NoisySource>,
    from: String,
    to: String,
    service_f: String,
    services: Vec<ServiceView>,
    csv_href: String,
}

#[derive(Deserialize, Default)]
pub struct ReportForm {
    from: Option<String>,
    to: Option<String>,
    service: Option<String>,
}

pub async fn report(State(state): State<AppState>, page: PageAuth, Query(q): Query<ReportForm>) -> Response {
    let chrome = chrome!(page, state, "reports", None);
    let blank = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
    // The form's "to" is a day shown inclusively; the report's bound is exclusive.
    let to = blank(&q.to).map(|t| match chrono::NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d") {
        Ok(d) => (d + Duration::days(1)).to_string(),
        Err(_) => t,
    });
    let rq = ReportQuery { from: blank(&q.from), to, service_id: blank(&q.service), severity: None };
    let r = try_page!(reports::build(&state, &rq).await);
    let fmt = |v: Option<f64>| v.map(|s| super::human_duration(s.round() as i64)).unwrap_or_else(|| "—".into());
    let m = &r.mttx;
    let stats = [
        ("MTTD", "detected − impact start", &m.mttd),
        ("MTTA", "acknowledged − detected", &m.mtta),
        ("MTTR (respond)", "mitigated − detected", &m.mttr_respond),
        ("MTTR (recover)", "mitigated − impact start", &m.mttr_recover),
        ("MTTR (resolve, from detection)", "resolved − detected", &m.mttr_resolve_from_detect),
        ("MTTR (resolve, from impact)", "resolved − impact start", &m.mttr_resolve_from_start),
    ]
    .into_iter()
    .map(|(name, formula, s)| StatRow {
        name,
        formula,
        count: s.count,
        mean: fmt(s.mean_seconds),
        median: fmt(s.median_seconds),
        p90: fmt(s.p90_seconds),
    })
    .collect();
    let pairs = |c: &[reports::Count]| c.iter().map(|c| (c.label.clone(), c.count)).collect::<Vec<_>>();
    let services = match services(&state).await {
        Ok(s) => s,
        Err(e) => return e,
    };
    let mut params = vec![("from", r.from.format("%Y-%m-%d").to_string()), ("to", r.to.to_rfc3339())];
    if let Some(s) = blank(&q.service) {
        params.push(("service_id", s));
    }
    ReportsPage {
        chrome,
        incidents: r.rows.len(),
        stats,
        week_chart: charts::column_chart(&pairs(&r.by_week), "incidents per week"),
        service_chart: charts::hbar_chart(&pairs(&r.by_service[..r.by_service.len().min(10)])),
        severity_chart: charts::hbar_chart(&pairs(&r.by_severity)),
        noisy: r.noisy,
        from: r.from.format("%Y-%m-%d").to_string(),
        to: (r.to - Duration::seconds(1)).format("%Y-%m-%d").to_string(),
        service_f: q.service.unwrap_or_default(),
        services,
        csv_href: format!("/api/v1/reports/mttx.csv?{}", serde_urlencoded::to_string(params).unwrap_or_default()),
    }
    .into_response()
}
