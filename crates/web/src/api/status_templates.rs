//! Incident templates of a status page: anyone signed in reads them (responders start updates
//! from them); managers keep them.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, parse_id};
use crate::operations::status_templates::{self as op, TemplateInput};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_store::status_page::StatusPage;
use opsdeck_store::status_template::Template;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_templates, create_template)).routes(routes!(
        get_template,
        update_template,
        delete_template
    ))
}

#[derive(Serialize, ToSchema)]
pub struct TemplateDto {
    pub id: Uuid,
    pub status_page_id: Uuid,
    pub name: String,
    /// The public incident's title it sets; empty keeps the incident's.
    pub title: String,
    /// `investigating`, `identified`, `monitoring` or `resolved`.
    pub status: String,
    pub body: String,
    /// Component id → the status the update gives it.
    pub components: HashMap<String, String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Template> for TemplateDto {
    fn from(t: Template) -> Self {
        TemplateDto {
            id: t.id,
            status_page_id: t.page_id,
            name: t.spec.name,
            title: t.spec.title,
            status: t.spec.status.as_str().to_owned(),
            body: t.spec.body,
            components: t.spec.components.iter().map(|(id, s)| (id.to_string(), s.as_str().to_owned())).collect(),
            created_at: ts(t.created_at),
            updated_at: ts(t.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// What responders pick it by; unique on the page.
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    /// The public incident's title; left out or blank keeps the incident's own.
    #[schema(schema_with = crate::api::schema::title_or_blank_opt)]
    pub title: Option<String>,
    /// `investigating`, `identified`, `monitoring` or `resolved`.
    #[schema(schema_with = crate::api::schema::public_incident_status)]
    pub status: String,
    /// What visitors read.
    #[schema(schema_with = crate::api::schema::note)]
    pub body: String,
    /// Component id (of this page) → status.
    pub components: Option<HashMap<String, String>>,
}

impl TemplateBody {
    fn input(self) -> Result<TemplateInput, ApiError> {
        let mut components = Vec::new();
        for (id, status) in self.components.unwrap_or_default() {
            let id = Uuid::parse_str(id.trim())
                .map_err(|_| ApiError::invalid("components", format!("{id:?} is not a component id")))?;
            components.push((id, status));
        }
        Ok(TemplateInput {
            name: self.name,
            title: self.title.unwrap_or_default(),
            status: self.status,
            body: self.body,
            components,
        })
    }
}

async fn page_of(state: &AppState, id: &str) -> Result<StatusPage, ApiError> {
    Ok(state.db.get_status_page(parse_id(Entity::StatusPage, id)?).await?)
}

/// A page's incident templates by name (at most 100).
#[utoipa::path(
    get,
    path = "/api/v1/status-pages/{id}/templates",
    tag = "status pages",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = List<TemplateDto>))
)]
async fn list_templates(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<TemplateDto>>, ApiError> {
    let page = page_of(&state, &id).await?;
    let items = op::list(&state, &auth, &page).await?;
    Ok(Json(List { items: items.into_iter().map(Into::into).collect(), next_cursor: None }))
}

/// Adds an incident template (managers).
#[utoipa::path(
    post,
    path = "/api/v1/status-pages/{id}/templates",
    tag = "status pages",
    params(("id" = Uuid, Path)),
    request_body = TemplateBody,
    responses((status = 201, body = TemplateDto))
)]
async fn create_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TemplateBody>,
) -> Result<(StatusCode, Json<TemplateDto>), ApiError> {
    auth.require(opsdeck_core::role::Permission::Configure)?;
    let page = page_of(&state, &id).await?;
    let t = op::create(&state, &auth, &page, body.input()?).await?;
    Ok((StatusCode::CREATED, Json(t.into())))
}

#[utoipa::path(
    get,
    path = "/api/v1/status-pages/{id}/templates/{template_id}",
    tag = "status pages",
    params(("id" = Uuid, Path), ("template_id" = Uuid, Path)),
    responses((status = 200, body = TemplateDto))
)]
async fn get_template(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, template_id)): Path<(String, String)>,
) -> Result<Json<TemplateDto>, ApiError> {
    let page = page_of(&state, &id).await?;
    let t = op::get(&state, &auth, &page, parse_id(Entity::IncidentTemplate, &template_id)?).await?;
    Ok(Json(t.into()))
}

/// Replaces a template (managers).
#[utoipa::path(
    put,
    path = "/api/v1/status-pages/{id}/templates/{template_id}",
    tag = "status pages",
    params(("id" = Uuid, Path), ("template_id" = Uuid, Path)),
    request_body = TemplateBody,
    responses((status = 200, body = TemplateDto))
)]
async fn update_template(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, template_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<TemplateBody>,
) -> Result<Json<TemplateDto>, ApiError> {
    auth.require(opsdeck_core::role::Permission::Configure)?;
    let page = page_of(&state, &id).await?;
    let current = op::get(&state, &auth, &page, parse_id(Entity::IncidentTemplate, &template_id)?).await?;
    Ok(Json(op::update(&state, &auth, &page, &current, body.input()?).await?.into()))
}

/// Deletes a template (managers).
#[utoipa::path(
    delete,
    path = "/api/v1/status-pages/{id}/templates/{template_id}",
    tag = "status pages",
    params(("id" = Uuid, Path), ("template_id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_template(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, template_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require(opsdeck_core::role::Permission::Configure)?;
    let page = page_of(&state, &id).await?;
    let current = op::get(&state, &auth, &page, parse_id(Entity::IncidentTemplate, &template_id)?).await?;
    op::delete(&state, &auth, &current).await?;
    Ok(StatusCode::NO_CONTENT)
}
