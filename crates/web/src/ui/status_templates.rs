//! The incident templates panel of the status page editor: managers add, change and delete a
//! page's prepared public updates; the incident page offers them to responders.

use super::{PageAuth, error_page};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::status_templates::{self as op, TemplateInput};
use axum::extract::{Path, State};
use axum::response::Response;
use axum_extra::extract::Form;
use opsdeck_core::Entity;
use opsdeck_core::status_page::IncidentStatus;
use opsdeck_store::status_page::StatusPage;
use opsdeck_store::status_template::Template;
use uuid::Uuid;

/// One template as the editor shows it.
pub struct Row {
    pub id: Uuid,
    pub name: String,
    pub title: String,
    pub status_label: &'static str,
    /// The status choices: (value, label, this template's).
    pub statuses: Vec<(&'static str, &'static str, bool)>,
    pub body: String,
    /// The status it gives each component of the page (`None`: not affected).
    pub components: Vec<(Uuid, String, Option<&'static str>)>,
}

/// What the editor shows about templates.
pub struct Panel {
    pub rows: Vec<Row>,
    /// Every component of the page, none affected: the new template's form.
    pub blank: Vec<(Uuid, String, Option<&'static str>)>,
    /// The new template's status choices (`investigating` first and chosen).
    pub statuses: Vec<(&'static str, &'static str, bool)>,
}

pub async fn panel(state: &AppState, auth: &PageAuth, page: &StatusPage) -> Result<Panel, ApiError> {
    let leaves: Vec<(Uuid, String)> =
        page.components.iter().filter(|c| !c.is_group).map(|c| (c.id, c.name.clone())).collect();
    let rows = op::list(state, &auth.0, page)
        .await?
        .into_iter()
        .map(|t: Template| Row {
            id: t.id,
            components: leaves
                .iter()
                .map(|(id, name)| {
                    let set = t.spec.components.iter().find(|c| c.0 == *id).map(|c| c.1.as_str());
                    (*id, name.clone(), set)
                })
                .collect(),
            name: t.spec.name,
            title: t.spec.title,
            status_label: t.spec.status.label(),
            statuses: choices(Some(t.spec.status)),
            body: t.spec.body,
        })
        .collect();
    Ok(Panel { rows, blank: leaves.into_iter().map(|(id, name)| (id, name, None)).collect(), statuses: choices(None) })
}

fn choices(chosen: Option<IncidentStatus>) -> Vec<(&'static str, &'static str, bool)> {
    let chosen = chosen.unwrap_or(IncidentStatus::Investigating);
    IncidentStatus::ALL.iter().map(|s| (s.as_str(), s.label(), *s == chosen)).collect()
}

/// The form's fields: `name`, `title`, `status`, `body`, `component:ID` = a status (blank: not
/// affected).
fn input(fields: &[(String, String)]) -> Result<TemplateInput, ApiError> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let mut components = Vec::new();
    for (k, v) in fields {
        if let Some(cid) = k.strip_prefix("component:")
            && !v.trim().is_empty()
        {
            let cid = Uuid::parse_str(cid).map_err(|_| ApiError::invalid("components", "unknown component"))?;
            components.push((cid, v.clone()));
        }
    }
    Ok(TemplateInput {
        name: field("name"),
        title: field("title"),
        status: field("status"),
        body: field("body"),
        components,
    })
}

async fn page(state: &AppState, id: &str) -> Result<StatusPage, ApiError> {
    Ok(state.db.get_status_page(crate::extract::parse_id(Entity::StatusPage, id)?).await?)
}

fn back(page: Uuid, result: Result<String, ApiError>) -> Response {
    super::outcome(&format!("/status-pages/{page}#templates"), result)
}

pub async fn add(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let page = match page(&state, &id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let result = async { op::create(&state, &auth.0, &page, input(&fields)?).await }.await;
    back(page.id, result.map(|t| format!("Template {} added", t.spec.name)))
}

pub async fn save(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, template)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let page = match page(&state, &id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let result = async {
        let tid = crate::extract::parse_id(Entity::IncidentTemplate, &template)?;
        let current = op::get(&state, &auth.0, &page, tid).await?;
        op::update(&state, &auth.0, &page, &current, input(&fields)?).await
    }
    .await;
    back(page.id, result.map(|t| format!("Template {} saved", t.spec.name)))
}

pub async fn remove(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, template)): Path<(String, String)>,
) -> Response {
    let page = match page(&state, &id).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let result = async {
        let tid = crate::extract::parse_id(Entity::IncidentTemplate, &template)?;
        let current = op::get(&state, &auth.0, &page, tid).await?;
        op::delete(&state, &auth.0, &current).await?;
        Ok(format!("Template {} deleted", current.spec.name))
    }
    .await;
    back(page.id, result)
}
