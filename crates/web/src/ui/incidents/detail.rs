//! One incident: its page (timeline, grouped alerts, deliveries) and one route per action.

use super::*;

pub struct TlRow {
    t: TimelineDto,
    at: String,
    clock: String,
}

/// Alerts of an incident that look alike (same integration type and summary, from any number of
/// hosts), counted as one row.
pub struct AlertGroup {
    summary: String,
    /// The integration type, and the host when all alerts came from one (else how many).
    source: String,
    source_type: String,
    hosts: Vec<String>,
    severity: String,
    /// Alerts in the group, and how many of them are still firing or acknowledged.
    alerts: usize,
    open: usize,
    /// Events received for the group's alerts (repeats included).
    events: i64,
    /// `firing`, `acknowledged` or `resolved`: the most urgent status in the group.
    status: &'static str,
    last_seen: String,
    last_seen_at: String,
    /// One dedup key, as an example to search by.
    key: String,
}

/// Groups alerts by integration type and summary, groups with open alerts first, then most
/// recent.
fn group_alerts(alerts: Vec<opsdeck_store::incident::Alert>, now: chrono::DateTime<chrono::Utc>) -> Vec<AlertGroup> {
    let mut groups: Vec<(AlertGroup, chrono::DateTime<chrono::Utc>)> = Vec::new();
    for a in alerts {
        let rank = |s: &str| match s {
            "firing" => 0,
            "acknowledged" => 1,
            _ => 2,
        };
        let status: &'static str = match a.status {
            AlertStatus::Firing => "firing",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        };
        let open = usize::from(status != "resolved");
        if let Some((g, last)) =
            groups.iter_mut().find(|(g, _)| g.summary == a.summary && g.source_type == a.source_type)
        {
            if !a.source.is_empty() && !g.hosts.contains(&a.source) {
                g.hosts.push(a.source.clone());
            }
            g.alerts += 1;
            g.open += open;
            g.events = g.events.saturating_add(a.count);
            if rank(status) < rank(g.status) {
                g.status = status;
            }
            if a.last_seen > *last {
                *last = a.last_seen;
                g.last_seen = ago(a.last_seen, now);
                g.last_seen_at = abs(a.last_seen);
            }
        } else {
            groups.push((
                AlertGroup {
                    summary: a.summary.clone(),
                    source: String::new(),
                    source_type: a.source_type.clone(),
                    hosts: if a.source.is_empty() { Vec::new() } else { vec![a.source.clone()] },
                    severity: a.severity.to_string(),
                    alerts: 1,
                    open,
                    events: a.count,
                    status,
                    last_seen: ago(a.last_seen, now),
                    last_seen_at: abs(a.last_seen),
                    key: a.dedup_key.clone(),
                },
                a.last_seen,
            ));
        }
    }
    for (g, _) in &mut groups {
        g.source = match g.hosts.as_slice() {
            [] => g.source_type.clone(),
            [one] => format!("{} · {one}", g.source_type),
            many => format!("{} · {} hosts", g.source_type, many.len()),
        };
    }
    groups.sort_by_key(|(g, last)| (g.open == 0, std::cmp::Reverse(*last)));
    groups.into_iter().map(|(g, _)| g).collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "incidents/incident.html")]
pub struct IncidentPage {
    chrome: Chrome,
    i: IncidentDto,
    timeline: Vec<TlRow>,
    alert_groups: Vec<AlertGroup>,
    /// Alerts loaded for grouping (at most [`ALERTS_GROUPED`]).
    alerts_loaded: usize,
    /// Display names of the assignee and commander.
    assignee: Option<String>,
    commander: Option<String>,
    /// Nobody the incident pages can be reached: (who, why), shown as a warning.
    unreachable: Vec<String>,
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
    /// Status pages an update can be posted to.
    status_pages: Vec<crate::ui::status_pages::UpdateTarget>,
    public_statuses: Vec<(&'static str, &'static str)>,
    component_statuses: Vec<(&'static str, &'static str)>,
    /// The blast radius, when alerts are tied to CIs.
    blast: Option<Blast>,
    /// Changes on its CIs and services in the 24 hours before it: (number, title, when, state).
    recent_changes: Vec<(i64, String, String, &'static str)>,
    /// Service desk tickets linked to it (agents): (number, key, title, state).
    tickets: Vec<(i64, String, String, &'static str)>,
}

/// What the incident's failing CIs reach: services first, then the other CIs (nearest first).
pub struct Blast {
    failing: Vec<(Uuid, String)>,
    services: Vec<(Uuid, String)>,
    cis: Vec<(Uuid, String, u32)>,
    total: usize,
}

/// CIs listed on the incident page; the CI pages have the rest.
const BLAST_LISTED: usize = 20;

impl Blast {
    fn new((failing, impact): (Vec<opsdeck_store::cmdb::Ci>, opsdeck_store::cmdb::impact::ImpactAnswer)) -> Blast {
        let is_service = |c: &opsdeck_store::cmdb::Ci| c.class == opsdeck_core::cmdb::CiClass::BusinessService;
        Blast {
            failing: failing.into_iter().map(|c| (c.id, c.name)).collect(),
            services: impact.items.iter().filter(|i| is_service(&i.ci)).map(|i| (i.ci.id, i.ci.name.clone())).collect(),
            total: impact.items.len(),
            cis: impact
                .items
                .into_iter()
                .filter(|i| !is_service(&i.ci))
                .take(BLAST_LISTED)
                .map(|i| (i.ci.id, i.ci.name, i.depth))
                .collect(),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    notice: Option<String>,
    /// An incident template whose status page form starts from it.
    template: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let template = q.template.as_deref().and_then(|t| Uuid::parse_str(t.trim()).ok());
    let chrome = chrome!(page, state, "incidents", q.notice);
    let inc = try_page!(find_incident(&state, &id).await);
    let now = state.now();
    let tl = try_page!(state.db.incident_timeline(&inc, now).await);
    let alerts = try_page!(
        state
            .db
            .list_alerts(&AlertFilter { incident_id: Some(inc.id), limit: Some(ALERTS_GROUPED), ..Default::default() })
            .await
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
    let people = try_page!(crate::ui::home::display_names(&state).await);
    let responders = try_page!(state.db.incident_responders(inc.id).await)
        .into_iter()
        .map(|(id, n)| people.get(&id).cloned().unwrap_or(n))
        .collect();
    let unreachable =
        if inc.status == Status::Resolved { Vec::new() } else { try_page!(unreachable(&state, &inc).await) };
    let postmortem_saved = try_page!(state.db.get_postmortem(inc.id).await).is_some();
    let dur = |a: chrono::DateTime<chrono::Utc>, b: Option<chrono::DateTime<chrono::Utc>>| {
        b.map(|b| crate::ui::human_duration((b - a).num_seconds())).unwrap_or_else(|| "—".into())
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
    // The incident matters more than its blast radius: a failed walk leaves the card out.
    let blast = match crate::operations::cmdb::blast_radius(&state, &page.0, inc.id).await {
        Ok(b) => b.map(Blast::new),
        Err(e) => {
            tracing::warn!(incident = %inc.id, error = %e.message, "the blast radius could not be computed");
            None
        }
    };
    let recent_changes = match crate::operations::change_calendar::before_incident(&state, &page.0, inc.id).await {
        Ok(list) => list
            .into_iter()
            .map(|c| {
                let at = c.actual_start.or(c.planned_start).map(|t| ago(t, now)).unwrap_or_default();
                (c.number, c.title, at, c.state.as_str())
            })
            .collect(),
        Err(e) => {
            tracing::warn!(incident = %inc.id, error = %e.message, "the changes before an incident could not be read");
            Vec::new()
        }
    };
    let tickets = if page.0.allows(Permission::Respond) {
        try_page!(state.db.tickets_of_incident(inc.id).await)
            .into_iter()
            .map(|t| (t.number, t.key(), t.title.clone(), t.state.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    let alerts_loaded = alerts.items.len();
    let status_pages = try_page!(crate::ui::status_pages::update_targets(&state, inc.id, template).await);
    IncidentPage {
        status_pages,
        public_statuses: opsdeck_core::status_page::IncidentStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        component_statuses: opsdeck_core::status_page::ComponentStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        chrome,
        assignee: inc.assignee_id.and_then(|id| people.get(&id).cloned()),
        commander: inc.commander_id.and_then(|id| people.get(&id).cloned()),
        unreachable,
        alerts_loaded,
        alert_groups: group_alerts(alerts.items, now),
        detected: ago(inc.detected_at, now),
        impact: abs(inc.impact_start_at),
        deliveries: try_page!(state.db.deliveries(inc.id).await).into_iter().map(DeliveryDto::from).collect(),
        i: IncidentDto::from(inc),
        timeline,
        affected,
        depends_on,
        runbook,
        users,
        responders,
        sevs: Sev::ALL,
        can_respond: page.0.allows(Permission::Respond),
        postmortem_saved,
        durations,
        blast,
        recent_changes,
        tickets,
    }
    .into_response()
}

/// Alerts grouped on the incident page; beyond this the page links to the alerts list.
const ALERTS_GROUPED: i64 = 500;

/// The people this incident's service pages now who have no contact method, named for the
/// warning on the incident page.
async fn unreachable(state: &AppState, inc: &Incident) -> Result<Vec<String>, ApiError> {
    let Some(sid) = inc.service_id else { return Ok(Vec::new()) };
    let on_call =
        crate::operations::oncall::who_is_on_call(state, crate::operations::oncall::Scope::Service(sid), state.now())
            .await?;
    let mut seen = std::collections::HashSet::new();
    Ok(on_call.into_iter().filter(|o| o.unreachable && seen.insert(o.user_id)).map(|o| o.display_name).collect())
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

/// Where a row action (acknowledge or resolve from the overview) returns to.
#[derive(Deserialize, Default)]
pub struct BackQuery {
    back: Option<String>,
}

async fn move_page(
    state: AppState,
    page: PageAuth,
    id: String,
    f: NoteForm,
    m: Move,
    done: &str,
    to: Option<String>,
) -> Response {
    let (inc, back) = try_page!(incident_and_back(&state, &id).await);
    let back = match to {
        Some(t) => crate::ui::account::safe_next(Some(&t)),
        None => back,
    };
    let result = op::move_incident(&state, &page.0, &inc, m, f.note()).await.map(|_| done.to_owned());
    finish(&state, &inc, &back, result)
}

pub async fn acknowledge(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Query(b): Query<BackQuery>,
    Form(f): Form<NoteForm>,
) -> Response {
    move_page(state, page, id, f, Move::Acknowledge, "Acknowledged", b.back).await
}

pub async fn resolve(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Query(b): Query<BackQuery>,
    Form(f): Form<NoteForm>,
) -> Response {
    move_page(state, page, id, f, Move::Resolve, "Resolved", b.back).await
}

pub async fn reopen(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Query(b): Query<BackQuery>,
    Form(f): Form<NoteForm>,
) -> Response {
    move_page(state, page, id, f, Move::Reopen, "Reopened", b.back).await
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
        Ok(format!("Snoozed for {}", crate::ui::human_duration(m.saturating_mul(60))))
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

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResponderForm {
    user_id: String,
}

pub async fn responder_add(
    State(state): State<AppState>,
    page: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<ResponderForm>,
) -> Response {
    let (inc, back) = try_page!(incident_and_back(&state, &id).await);
    let result = async {
        let user: Uuid = f.user_id.trim().parse().map_err(|_| ApiError::invalid("user_id", "choose a person"))?;
        op::add_responder(&state, &page.0, &inc, user).await?;
        Ok("Responder added".to_owned())
    };
    finish(&state, &inc, &back, result.await)
}
