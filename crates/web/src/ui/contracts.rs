//! Contract pages: the list with a new-contract form, and a contract's page (its dates, the CIs
//! it covers, edit and delete).

use super::cmdb::{Choice, day, teams};
use super::{Chrome, PageAuth, done, error_page, form_error, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::contracts as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::cmdb::contract::{self, ContractInput, ContractKind};
use opsdeck_store::cmdb::contracts::{Contract, ContractFilter, CoveredCi};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ContractForm {
    name: String,
    vendor: String,
    kind: String,
    number: String,
    start_date: String,
    end_date: String,
    /// A checkbox: present when ticked.
    auto_renew: Option<String>,
    notice_days: String,
    cost: String,
    owner_team_id: String,
    notes: String,
    /// The CIs it covers: a name, identity or id per line.
    cis: String,
}

impl ContractForm {
    fn from_contract(c: &Contract, cis: &[CoveredCi]) -> ContractForm {
        ContractForm {
            name: c.name.clone(),
            vendor: c.vendor.clone(),
            kind: c.kind.as_str().into(),
            number: c.number.clone().unwrap_or_default(),
            start_date: day(c.start_date),
            end_date: day(Some(c.end_date)),
            auto_renew: c.auto_renew.then(|| "on".to_owned()),
            notice_days: c.notice_days.to_string(),
            cost: c.cost_cents.map(|c| format!("{:.2}", c as f64 / 100.0)).unwrap_or_default(),
            owner_team_id: c.owner_team_id.map(|t| t.to_string()).unwrap_or_default(),
            notes: c.notes.clone(),
            cis: cis.iter().map(|c| c.id.to_string()).collect::<Vec<_>>().join("\n"),
        }
    }

    /// The form as a contract input; each CI line is resolved by id, identity or name, and one
    /// that names no CI, or several, is refused with its line number.
    async fn input(&self, state: &AppState, auth: &crate::auth::Auth) -> Result<ContractInput, ApiError> {
        // Resolving up to a thousand lines costs queries: only for those who may save.
        auth.require(opsdeck_core::role::Permission::Configure)?;
        let ci_ids = super::ci_lines::resolve(state, &self.cis, contract::CIS_MAX, "a contract covers").await?;
        let opt = |s: &str| Some(s.trim().to_owned()).filter(|v| !v.is_empty());
        let notice_days = match self.notice_days.trim() {
            "" => None,
            d => Some(d.parse::<i64>().map_err(|_| ApiError::invalid("notice_days", "write a whole number of days"))?),
        };
        let cost = match self.cost.trim() {
            "" => None,
            c => Some(c.parse::<f64>().map_err(|_| ApiError::invalid("cost", "write a number such as 1250.00"))?),
        };
        let owner = match self.owner_team_id.trim() {
            "" => None,
            t => Some(t.parse::<Uuid>().map_err(|_| ApiError::invalid("owner_team_id", "choose a team"))?),
        };
        Ok(ContractInput {
            name: self.name.clone(),
            vendor: self.vendor.clone(),
            kind: opt(&self.kind),
            number: opt(&self.number),
            start_date: opt(&self.start_date),
            end_date: self.end_date.clone(),
            auto_renew: self.auto_renew.is_some(),
            notice_days,
            cost,
            owner_team_id: owner,
            notes: opt(&self.notes),
            ci_ids,
        })
    }
}

fn kinds() -> Vec<Choice> {
    ContractKind::ALL.iter().map(|k| Choice { value: k.as_str().into(), label: k.label().into() }).collect()
}

/// A contract's next date, as the list shows it.
pub struct Row {
    c: Contract,
    next: String,
}

fn next_date(c: &Contract, today: chrono::NaiveDate) -> String {
    match c.events().into_iter().find(|(_, d)| *d >= today) {
        Some((e, d)) => format!("{}: {d}", e.label()),
        None if c.auto_renew => format!("Renewed {}: set the new term's end", c.end_date),
        None => format!("Ended {}", c.end_date),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    vendor: String,
    cursor: String,
    notice: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "cmdb/contracts.html")]
pub struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    vendor: String,
    next: Option<String>,
    kinds: Vec<Choice>,
    teams: Vec<Choice>,
    form: ContractForm,
    error: Option<String>,
}

impl ListPage {
    /// The contract the shared form edits: none, it records a new one.
    fn form_id(&self) -> Option<Uuid> {
        None
    }
}

async fn list_page(
    state: &AppState,
    auth: &PageAuth,
    q: ListQuery,
    form: ContractForm,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "cmdb", q.notice.clone()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let filter = ContractFilter {
        vendor: Some(q.vendor.trim().to_owned()).filter(|v| !v.is_empty()),
        cursor: opsdeck_store::Cursor::decode(&q.cursor),
        limit: Some(50),
        ..ContractFilter::default()
    };
    let page = match op::list(state, &auth.0, &filter).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let today = state.now().date_naive();
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = ListPage {
        chrome,
        rows: page.items.into_iter().map(|c| Row { next: next_date(&c, today), c }).collect(),
        next: page.next_cursor,
        vendor: q.vendor,
        kinds: kinds(),
        teams: teams(state).await,
        form,
        error,
    };
    (code, page).into_response()
}

pub async fn list(State(state): State<AppState>, auth: PageAuth, Query(q): Query<ListQuery>) -> Response {
    let form = ContractForm { kind: "support".into(), notice_days: "0".into(), ..ContractForm::default() };
    list_page(&state, &auth, q, form, None).await
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<ContractForm>) -> Response {
    let result = async { op::create(&state, &auth.0, &f.input(&state, &auth.0).await?).await }.await;
    match result {
        Ok(c) => done(&format!("/cmdb/contracts/{}", c.id), &format!("Contract {} recorded", c.name)),
        Err(e) => match form_error(e) {
            Ok(msg) => list_page(&state, &auth, ListQuery::default(), f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "cmdb/contract.html")]
pub struct DetailPage {
    chrome: Chrome,
    c: Contract,
    cis: Vec<CoveredCi>,
    /// Its dates with "in 12 days" or "3 days ago".
    dates: Vec<(&'static str, String, String)>,
    kinds: Vec<Choice>,
    teams: Vec<Choice>,
    form: ContractForm,
    error: Option<String>,
}

impl DetailPage {
    /// The contract the shared form edits.
    fn form_id(&self) -> Option<Uuid> {
        Some(self.c.id)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DetailQuery {
    notice: Option<String>,
}

async fn detail_page(
    state: &AppState,
    auth: &PageAuth,
    id: Uuid,
    notice: Option<String>,
    form: Option<ContractForm>,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "cmdb", notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (c, cis) = match op::get(state, &auth.0, id).await {
        Ok(v) => v,
        Err(e) => return error_page(&e),
    };
    let today = state.now().date_naive();
    let dates = c
        .events()
        .into_iter()
        .map(|(e, d)| (e.label(), d.to_string(), super::cmdb_lifecycle::when(d, today)))
        .collect();
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = DetailPage {
        chrome,
        form: form.unwrap_or_else(|| ContractForm::from_contract(&c, &cis)),
        c,
        cis,
        dates,
        kinds: kinds(),
        teams: teams(state).await,
        error,
    };
    (code, page).into_response()
}

fn contract_id(raw: &str) -> Result<Uuid, ApiError> {
    crate::extract::parse_id(Entity::Contract, raw)
}

pub async fn detail(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    match contract_id(&id) {
        Ok(id) => detail_page(&state, &auth, id, q.notice, None, None).await,
        Err(e) => error_page(&e),
    }
}

pub async fn update(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<ContractForm>,
) -> Response {
    let id = match contract_id(&id) {
        Ok(id) => id,
        Err(e) => return error_page(&e),
    };
    let result = async { op::update(&state, &auth.0, id, &f.input(&state, &auth.0).await?).await }.await;
    match result {
        Ok(c) => done(&format!("/cmdb/contracts/{}", c.id), "Contract saved"),
        Err(e) => match form_error(e) {
            Ok(msg) => detail_page(&state, &auth, id, None, Some(f), Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn delete(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    let result = async {
        let c = op::delete(&state, &auth.0, contract_id(&id)?).await?;
        Ok(format!("Contract {} deleted", c.name))
    }
    .await;
    outcome("/cmdb/contracts", result)
}
