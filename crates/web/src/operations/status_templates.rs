//! Incident templates: managers keep a page's prepared public updates; responders start an
//! update from one (the API's `template_id`, the incident page's "Use template").

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::role::Permission;
use opsdeck_core::status_page::UpdateSpec;
use opsdeck_core::status_template::TemplateSpec;
use opsdeck_store::status_page::StatusPage;
use opsdeck_store::status_template::Template;
use uuid::Uuid;

/// Unvalidated template fields (components: id → status).
pub struct TemplateInput {
    pub name: String,
    pub title: String,
    pub status: String,
    pub body: String,
    pub components: Vec<(Uuid, String)>,
}

fn checked(page: &StatusPage, input: TemplateInput) -> Result<TemplateSpec, ApiError> {
    let spec = TemplateSpec::new(&input.name, &input.title, &input.status, &input.body, input.components)?;
    if let Some((id, _)) =
        spec.components.iter().find(|(id, _)| !page.components.iter().any(|c| c.id == *id && !c.is_group))
    {
        return Err(ApiError::invalid("components", format!("page {} has no component {id}", page.slug)));
    }
    Ok(spec)
}

pub async fn list(state: &AppState, auth: &Auth, page: &StatusPage) -> Result<Vec<Template>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.templates(page.id).await?)
}

pub async fn get(state: &AppState, auth: &Auth, page: &StatusPage, id: Uuid) -> Result<Template, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.get_template(page.id, id).await?)
}

pub async fn create(
    state: &AppState,
    auth: &Auth,
    page: &StatusPage,
    input: TemplateInput,
) -> Result<Template, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = checked(page, input)?;
    Ok(state.db.create_template(&auth.actor(), state.now(), page.id, &spec).await?)
}

/// Replaces every field of `current`.
pub async fn update(
    state: &AppState,
    auth: &Auth,
    page: &StatusPage,
    current: &Template,
    input: TemplateInput,
) -> Result<Template, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = checked(page, input)?;
    Ok(state.db.update_template(&auth.actor(), state.now(), current, &spec).await?)
}

pub async fn delete(state: &AppState, auth: &Auth, current: &Template) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    Ok(state.db.delete_template(&auth.actor(), state.now(), current).await?)
}

/// What a responder posts: each field given wins; a field left out comes from the template
/// named (if any). Components the template names that the page no longer has are dropped.
pub struct Draft {
    pub page_id: Uuid,
    pub template_id: Option<Uuid>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub body: Option<String>,
    pub components: Option<Vec<(Uuid, String)>>,
}

/// The update a draft makes: its fields, filled from its template.
pub async fn update_spec(state: &AppState, draft: Draft) -> Result<UpdateSpec, ApiError> {
    let template = match draft.template_id {
        None => None,
        Some(t) => match state.db.get_template(draft.page_id, t).await {
            Ok(t) => Some(t),
            Err(opsdeck_store::StoreError::NotFound(_)) => {
                return Err(ApiError::invalid("template_id", format!("the status page has no template {t}")));
            }
            Err(e) => return Err(e.into()),
        },
    };
    let from = template.as_ref().map(|t| &t.spec);
    let name =
        draft.name.filter(|n| !n.trim().is_empty()).or_else(|| from.map(|t| t.title.clone()).filter(|t| !t.is_empty()));
    let status = draft.status.or_else(|| from.map(|t| t.status.as_str().to_owned())).unwrap_or_default();
    let body = draft.body.or_else(|| from.map(|t| t.body.clone())).unwrap_or_default();
    let components = match (draft.components, from) {
        (Some(c), _) => Some(c),
        (None, Some(t)) if !t.components.is_empty() => {
            let page = state.db.get_status_page(draft.page_id).await?;
            Some(
                t.components
                    .iter()
                    .filter(|(id, _)| page.components.iter().any(|c| c.id == *id))
                    .map(|(id, s)| (*id, s.as_str().to_owned()))
                    .collect(),
            )
        }
        (None, _) => None,
    };
    Ok(UpdateSpec::new(draft.page_id, name.as_deref(), &status, &body, components)?)
}
