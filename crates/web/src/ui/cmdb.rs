//! CMDB pages: the CI list (search, filters, a new-CI form and the import with progress) and a
//! CI's page (fields, relations, bound monitors, impact graph and table, what it depends on,
//! history).

use super::cmdb_attributes::{AttrRow, DefField, DefValues, defined_keys};
use super::cmdb_graph::{self, Graph};
use super::{Chrome, PageAuth, ago, done, error_page, form_error, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::cmdb as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::audit::AuditEntry;
use opsdeck_core::cmdb::{Attributes, CiClass, CiInput, CiStatus, RelationSpec, RelationType};
use opsdeck_store::cmdb::attr_defs::AttrDef;
use opsdeck_store::cmdb::impact::{Direction, ImpactAnswer, ImpactItem};
use opsdeck_store::cmdb::{Ci, CiFilter};
use opsdeck_store::monitor::MonitorFilter;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct CiForm {
    name: String,
    class: String,
    status: String,
    environment: String,
    location: String,
    identity: String,
    tags: String,
    description: String,
    owner_team_id: String,
    min_up: String,
    /// `key = value` per line.
    attributes: String,
    purchase_date: String,
    cost: String,
    warranty_end: String,
    end_of_support: String,
    end_of_life: String,
    /// The typed inputs of the class's defined attributes: names and values, in step.
    def_key: Vec<String>,
    def_value: Vec<String>,
    def_shown: Vec<String>,
    def_stored: Vec<String>,
}

pub(super) fn day(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

impl CiForm {
    /// The CI as the form shows it; `defined` attributes have typed inputs of their own.
    fn from_ci(c: &Ci, defined: &[AttrDef]) -> CiForm {
        CiForm {
            name: c.name.clone(),
            class: c.class.as_str().into(),
            status: c.status.as_str().into(),
            environment: c.environment.clone().unwrap_or_default(),
            location: c.location.clone().unwrap_or_default(),
            identity: c.identity.clone().unwrap_or_default(),
            tags: c.tags.join(", "),
            description: c.description.clone(),
            owner_team_id: c.owner_team_id.map(|t| t.to_string()).unwrap_or_default(),
            min_up: c.min_up.map(|k| k.to_string()).unwrap_or_default(),
            purchase_date: day(c.lifecycle.purchase_date),
            cost: c.lifecycle.cost_cents.map(|c| format!("{:.2}", c as f64 / 100.0)).unwrap_or_default(),
            warranty_end: day(c.lifecycle.warranty_end),
            end_of_support: day(c.lifecycle.end_of_support),
            end_of_life: day(c.lifecycle.end_of_life),
            def_key: Vec::new(),
            def_value: Vec::new(),
            def_shown: Vec::new(),
            def_stored: Vec::new(),
            attributes: c
                .attributes
                .iter()
                .filter(|(k, _)| !defined.iter().any(|d| d.spec.key == **k))
                .map(|(k, v)| format!("{k} = {}", shown_value(v)))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// The form as a CI input; attribute lines are `key = value` (numbers and true/false typed).
    fn def_values(&self) -> DefValues<'_> {
        DefValues { keys: &self.def_key, values: &self.def_value, shown: &self.def_shown, stored: &self.def_stored }
    }

    /// The form as a CI input; `defined` attributes (of the form's class) are left as text for
    /// their definitions to type (`007` stays `007` in a text attribute).
    fn input(&self, service_id: Option<Uuid>, defined: &[String]) -> Result<CiInput, ApiError> {
        let mut attributes = Attributes::new();
        for (n, line) in self.attributes.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let Some((k, v)) = line.split_once('=') else {
                return Err(ApiError::invalid("attributes", format!("line {}: write key = value", n + 1)));
            };
            let k = k.trim();
            let value = if defined.iter().any(|d| d == k) {
                serde_json::Value::String(v.trim().to_owned())
            } else {
                typed_value(v.trim())
            };
            attributes.insert(k.to_owned(), value);
        }
        // Typed inputs win over a line of the same name; the class's definitions type them.
        for (k, v) in self.def_values().merged() {
            match v {
                None => attributes.remove(&k),
                Some(v) => attributes.insert(k, serde_json::Value::String(v)),
            };
        }
        let min_up = match self.min_up.trim() {
            "" => None,
            m => Some(m.parse::<i64>().map_err(|_| ApiError::invalid("min_up", "write a whole number"))?),
        };
        let owner = match self.owner_team_id.trim() {
            "" => None,
            t => Some(t.parse::<Uuid>().map_err(|_| ApiError::invalid("owner_team_id", "choose a team"))?),
        };
        let opt = |s: &str| Some(s.to_owned()).filter(|v| !v.trim().is_empty());
        let cost = match self.cost.trim() {
            "" => None,
            c => Some(c.parse::<f64>().map_err(|_| ApiError::invalid("cost", "write a number such as 1250.00"))?),
        };
        Ok(CiInput {
            name: self.name.clone(),
            class: self.class.clone(),
            status: opt(&self.status),
            attributes,
            owner_team_id: owner,
            location: opt(&self.location),
            environment: opt(&self.environment),
            tags: self.tags.split([',', ' ']).map(str::to_owned).collect(),
            identity: opt(&self.identity),
            service_id,
            min_up,
            description: opt(&self.description),
            purchase_date: opt(&self.purchase_date),
            warranty_end: opt(&self.warranty_end),
            end_of_support: opt(&self.end_of_support),
            end_of_life: opt(&self.end_of_life),
            cost,
        })
    }
}

/// An attribute as the form shows it: text plainly, unless it would read back as something else
/// (a number, true/false, several lines, surrounding spaces): then quoted as JSON.
fn shown_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s)
            if typed_value(s) == *v && !s.starts_with('"') && !s.contains(['\n', '\r']) && s.trim() == s =>
        {
            s.clone()
        }
        other => other.to_string(),
    }
}

/// A form value typed: `true`/`false`, a finite number, a JSON-quoted text, or plain text.
fn typed_value(v: &str) -> serde_json::Value {
    match v {
        "true" => serde_json::Value::Bool(true),
        "false" => serde_json::Value::Bool(false),
        _ if v.starts_with('"') => {
            serde_json::from_str::<String>(v).map_or_else(|_| serde_json::Value::String(v.to_owned()), Into::into)
        }
        _ => v
            .parse::<i64>()
            .map(serde_json::Value::from)
            .ok()
            .or_else(|| v.parse::<f64>().ok().filter(|f| f.is_finite()).map(serde_json::Value::from))
            .unwrap_or_else(|| serde_json::Value::String(v.to_owned())),
    }
}

/// A select's option: what is sent and what is shown (the CMDB's pages share it).
pub struct Choice {
    pub(super) value: String,
    pub(super) label: String,
}

fn classes() -> Vec<Choice> {
    CiClass::ALL.iter().map(|c| Choice { value: c.as_str().into(), label: c.label().into() }).collect()
}
fn statuses() -> Vec<Choice> {
    CiStatus::ALL.iter().map(|c| Choice { value: c.as_str().into(), label: c.label().into() }).collect()
}
fn relation_choices() -> Vec<Choice> {
    let mut out = Vec::new();
    for t in RelationType::ALL {
        let (fwd, back) = t.labels();
        out.push(Choice { value: format!("out:{}", t.as_str()), label: fwd.into() });
        out.push(Choice { value: format!("in:{}", t.as_str()), label: back.into() });
    }
    out
}

pub(super) async fn teams(state: &AppState) -> Vec<Choice> {
    state
        .db
        .list_teams(None, None, Some(500))
        .await
        .map(|p| p.items)
        .unwrap_or_default()
        .into_iter()
        .map(|t| Choice { value: t.id.to_string(), label: t.name })
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    class: String,
    cursor: String,
    notice: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "cmdb/list.html")]
pub struct ListPage {
    chrome: Chrome,
    cis: Vec<Ci>,
    q: String,
    class: String,
    next: Option<String>,
    classes: Vec<Choice>,
    statuses: Vec<Choice>,
    teams: Vec<Choice>,
    form: CiForm,
    error: Option<String>,
}

async fn list_page(state: &AppState, auth: &PageAuth, q: ListQuery, form: CiForm, error: Option<String>) -> Response {
    let chrome = match auth.chrome(state, "cmdb", q.notice.clone()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let filter = CiFilter {
        q: Some(q.q.clone()).filter(|s| !s.trim().is_empty()),
        class: CiClass::parse(&q.class),
        cursor: opsdeck_store::Cursor::decode(&q.cursor),
        limit: Some(50),
        ..CiFilter::default()
    };
    let page = match op::list(state, &auth.0, &filter).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = ListPage {
        chrome,
        cis: page.items,
        next: page.next_cursor,
        q: q.q,
        class: q.class,
        classes: classes(),
        statuses: statuses(),
        teams: teams(state).await,
        form,
        error,
    };
    (code, page).into_response()
}

pub async fn list(State(state): State<AppState>, auth: PageAuth, Query(q): Query<ListQuery>) -> Response {
    let form = CiForm { class: "server".into(), status: "in_use".into(), ..CiForm::default() };
    list_page(&state, &auth, q, form, None).await
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<CiForm>) -> Response {
    let defined = defined_keys(&state, &f.class).await;
    let result = async { op::create(&state, &auth.0, &f.input(None, &defined)?).await }.await;
    match result {
        Ok(ci) => done(&format!("/cmdb/{}", ci.id), &format!("CI {} created", ci.name)),
        Err(e) => match form_error(e) {
            Ok(msg) => list_page(&state, &auth, ListQuery::default(), f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub struct Field {
    label: &'static str,
    value: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "cmdb/detail.html")]
pub struct DetailPage {
    chrome: Chrome,
    detail: op::CiDetail,
    fields: Vec<Field>,
    impact: ImpactAnswer,
    depends: ImpactAnswer,
    graph: Graph,
    /// Impacted CIs with the names along their path (between the failed CI and them).
    impact_rows: Vec<(ImpactItem, String)>,
    history: Vec<(String, AuditEntry)>,
    monitors: Vec<Choice>,
    relation_types: Vec<Choice>,
    classes: Vec<Choice>,
    statuses: Vec<Choice>,
    teams: Vec<Choice>,
    form: CiForm,
    error: Option<String>,
    depth: u32,
    /// Attributes by label, defined ones first.
    attr_rows: Vec<AttrRow>,
    /// Typed inputs of the class's defined attributes.
    def_fields: Vec<DefField>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DetailQuery {
    notice: Option<String>,
    depth: Option<i64>,
}

fn fields(c: &Ci) -> Vec<Field> {
    let mut out = vec![
        Field { label: "Class", value: c.class.label().into() },
        Field { label: "Status", value: c.status.label().into() },
    ];
    let mut opt = |label: &'static str, v: &Option<String>| {
        if let Some(v) = v {
            out.push(Field { label, value: v.clone() });
        }
    };
    opt("Environment", &c.environment);
    opt("Location", &c.location);
    opt("Owner team", &c.owner_team_name);
    opt("Identity", &c.identity);
    opt("Service", &c.service_name);
    if let Some(k) = c.min_up {
        out.push(Field { label: "Redundancy", value: format!("{k} must stay up") });
    }
    let l = &c.lifecycle;
    for (label, d) in [("Purchased", l.purchase_date), ("Warranty ends", l.warranty_end)]
        .into_iter()
        .chain([("Vendor support ends", l.end_of_support), ("End of life", l.end_of_life)])
    {
        if let Some(d) = d {
            out.push(Field { label, value: d.format("%Y-%m-%d").to_string() });
        }
    }
    if let Some(cents) = l.cost_cents {
        out.push(Field { label: "Cost", value: format!("{:.2}", cents as f64 / 100.0) });
    }
    let seen = c.last_seen_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string());
    let source = match (&seen, c.stale) {
        (Some(t), true) => format!("{} (stale: last listed {t})", c.source),
        (Some(t), false) => format!("{}, last listed {t}", c.source),
        (None, _) => c.source.clone(),
    };
    out.push(Field { label: "Source", value: source });
    out
}

async fn detail_page(
    state: &AppState,
    auth: &PageAuth,
    id: Uuid,
    q: DetailQuery,
    form: Option<CiForm>,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "cmdb", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let depth = op::depth("depth", q.depth).unwrap_or(opsdeck_core::cmdb::DEPTH_DEFAULT);
    let loaded = async {
        let detail = op::detail(state, &auth.0, id).await?;
        let impact = op::walk(state, &auth.0, &[id], depth, Direction::Impact).await?;
        let depends = op::walk(state, &auth.0, &[id], depth, Direction::DependsOn).await?;
        let history = op::history(state, &auth.0, id).await?;
        let defs = super::cmdb_attributes::load(state, &detail.ci).await?;
        Ok::<_, ApiError>((detail, impact, depends, history, defs))
    }
    .await;
    let (detail, impact, depends, history, (defs, ref_names)) = match loaded {
        Ok(v) => v,
        Err(e) => return error_page(&e),
    };
    let now = state.now();
    let monitors = match state.db.list_monitors(&MonitorFilter { limit: Some(500), ..MonitorFilter::default() }).await {
        Ok(p) => p
            .items
            .into_iter()
            .map(|m| Choice { value: m.monitor.id.to_string(), label: m.monitor.spec.name })
            .collect(),
        Err(e) => return error_page(&e.into()),
    };
    let c = &detail.ci;
    let graph = cmdb_graph::layout((c.id, &c.name, c.class.as_str()), &impact.items);
    let names: std::collections::HashMap<Uuid, String> = std::iter::once((c.id, c.name.clone()))
        .chain(impact.items.iter().map(|i| (i.ci.id, i.ci.name.clone())))
        .collect();
    let impact_rows = impact
        .items
        .iter()
        .map(|i| {
            let between = i.path.get(1..i.path.len().saturating_sub(1)).unwrap_or_default();
            let through: Vec<&str> = between.iter().filter_map(|id| names.get(id).map(String::as_str)).collect();
            (i.clone(), if through.is_empty() { "directly".to_owned() } else { through.join(" → ") })
        })
        .collect();
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let def_fields = match &form {
        Some(f) => super::cmdb_attributes::refill(&defs, &f.def_values()),
        None => super::cmdb_attributes::fields(c, &defs, &ref_names),
    };
    let page = DetailPage {
        attr_rows: super::cmdb_attributes::rows(c, &defs, &ref_names),
        def_fields,
        impact_rows,
        chrome,
        fields: fields(c),
        form: form.unwrap_or_else(|| CiForm::from_ci(c, &defs)),
        history: history.into_iter().map(|h| (ago(h.at, now), h)).collect(),
        detail,
        impact,
        depends,
        graph,
        monitors,
        relation_types: relation_choices(),
        classes: classes(),
        statuses: statuses(),
        teams: teams(state).await,
        error,
        depth,
    };
    (code, page).into_response()
}

fn ci_id(raw: &str) -> Result<Uuid, ApiError> {
    crate::extract::parse_id(Entity::Ci, raw)
}

pub async fn detail(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    match ci_id(&id) {
        Ok(id) => detail_page(&state, &auth, id, q, None, None).await,
        Err(e) => error_page(&e),
    }
}

pub async fn update(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<CiForm>,
) -> Response {
    let id = match ci_id(&id) {
        Ok(id) => id,
        Err(e) => return error_page(&e),
    };
    let result = async {
        // The service a business-service CI stands for is kept (it is set through the API).
        let current = op::get(&state, &auth.0, id).await?;
        let defined = defined_keys(&state, &f.class).await;
        op::update(&state, &auth.0, id, &f.input(current.service_id, &defined)?).await
    }
    .await;
    match result {
        Ok(ci) => done(&format!("/cmdb/{id}"), &format!("CI {} saved", ci.name)),
        Err(e) => match form_error(e) {
            Ok(msg) => detail_page(&state, &auth, id, DetailQuery::default(), Some(f), Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn delete(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let result =
        async { op::delete(&state, &auth.0, ci_id(&id)?).await.map(|c| format!("CI {} deleted", c.name)) }.await;
    match result {
        Ok(n) => done("/cmdb", &n),
        Err(e) => outcome(&format!("/cmdb/{id}"), Err(e)),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RelateForm {
    /// `out:<type>` (this CI is the source) or `in:<type>`.
    relation: String,
    other: String,
}

pub async fn relate(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<RelateForm>,
) -> Response {
    let back = format!("/cmdb/{id}#relations");
    let result = async {
        let me = ci_id(&id)?;
        let (dir, kind) = f.relation.split_once(':').ok_or_else(|| ApiError::invalid("type", "choose a relation"))?;
        let other = op::find(&state, &auth.0, "other", &f.other).await?;
        let (source, target) = if dir == "in" { (other.id, me) } else { (me, other.id) };
        let r = op::relate(&state, &auth.0, RelationSpec::new(source, target, kind)?).await?;
        Ok(format!("Related to {}", if r.source_id == me { r.other_name } else { other.name }))
    }
    .await;
    outcome(&back, result)
}

pub async fn unrelate(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, rel)): Path<(String, String)>,
) -> Response {
    let result = async {
        let rel = crate::extract::parse_id(Entity::CiRelation, &rel)?;
        op::unrelate(&state, &auth.0, rel).await.map(|r| format!("Relation with {} removed", r.other_name))
    }
    .await;
    outcome(&format!("/cmdb/{id}#relations"), result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BindForm {
    monitor_id: String,
}

pub async fn bind(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<BindForm>,
) -> Response {
    let result = async {
        let ci = ci_id(&id)?;
        let monitor = crate::extract::parse_id(Entity::Monitor, f.monitor_id.trim())
            .map_err(|_| ApiError::invalid("monitor_id", "choose a monitor"))?;
        op::bind_monitor(&state, &auth.0, ci, monitor, true).await.map(|()| "Monitor bound".to_owned())
    }
    .await;
    outcome(&format!("/cmdb/{id}#monitors"), result)
}

pub async fn unbind(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, monitor)): Path<(String, String)>,
) -> Response {
    let result = async {
        let monitor = crate::extract::parse_id(Entity::Monitor, &monitor)?;
        op::bind_monitor(&state, &auth.0, ci_id(&id)?, monitor, false).await.map(|()| "Monitor unbound".to_owned())
    }
    .await;
    outcome(&format!("/cmdb/{id}#monitors"), result)
}
