//! Standard change templates: the catalogue of pre-approved routine work a standard change is
//! raised from (`template_id` on `POST /api/v1/changes`).

use super::List;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, parse_id};
use crate::operations::change_templates as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_core::change::template::TemplateInput;
use opsdeck_store::change::templates::StoredTemplate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
pub struct ChangeTemplateDto {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub implementation_plan: String,
    pub test_plan: String,
    pub backout_plan: String,
    /// The CIs a change from it touches when it names none.
    pub ci_ids: Vec<Uuid>,
    /// How long the work takes: a change from it planned with a start only ends this much later.
    pub duration_minutes: u32,
    pub outage_expected: bool,
    /// The risk answers it was approved with (question key → option key).
    pub answers: BTreeMap<String, String>,
    /// A retired (inactive) template raises no new changes.
    pub active: bool,
    pub updated_at: String,
}

fn dto(t: StoredTemplate) -> ChangeTemplateDto {
    let s = t.spec;
    ChangeTemplateDto {
        id: t.id,
        name: s.name,
        description: s.description,
        implementation_plan: s.implementation_plan,
        test_plan: s.test_plan,
        backout_plan: s.backout_plan,
        ci_ids: s.ci_ids,
        duration_minutes: s.duration_minutes,
        outage_expected: s.outage_expected,
        answers: s.answers,
        active: s.active,
        updated_at: super::ts(t.updated_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeTemplateBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    #[schema(schema_with = crate::api::change_schema::plan_opt)]
    pub implementation_plan: Option<String>,
    #[schema(schema_with = crate::api::change_schema::plan_opt)]
    pub test_plan: Option<String>,
    #[schema(schema_with = crate::api::change_schema::plan_opt)]
    pub backout_plan: Option<String>,
    #[schema(max_items = 100)]
    pub ci_ids: Option<Vec<Uuid>>,
    /// 1 minute to 31 days.
    #[schema(minimum = 1, maximum = 44640)]
    pub duration_minutes: i64,
    pub outage_expected: Option<bool>,
    /// Question key → option key (`GET /api/v1/change-questionnaire`).
    pub answers: Option<BTreeMap<String, String>>,
    /// Default true; false retires it.
    pub active: Option<bool>,
}

impl ChangeTemplateBody {
    fn input(self) -> TemplateInput {
        TemplateInput {
            name: self.name,
            description: self.description,
            implementation_plan: self.implementation_plan,
            test_plan: self.test_plan,
            backout_plan: self.backout_plan,
            ci_ids: self.ci_ids.unwrap_or_default(),
            duration_minutes: self.duration_minutes,
            outage_expected: self.outage_expected.unwrap_or(false),
            answers: self.answers.unwrap_or_default(),
            active: self.active.unwrap_or(true),
        }
    }
}

/// The standard change templates, by name.
#[utoipa::path(get, path = "/api/v1/change-templates", tag = "changes",
    responses((status = 200, body = List<ChangeTemplateDto>)))]
async fn list_templates(State(state): State<AppState>, auth: Auth) -> Result<Json<List<ChangeTemplateDto>>, ApiError> {
    let items = op::list(&state, &auth).await?.into_iter().map(dto).collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Adds a standard change template (managers and admins): routine work approved once, so the
/// changes raised from it skip assessment and approval. 409 when the name is taken.
#[utoipa::path(post, path = "/api/v1/change-templates", tag = "changes", request_body = ChangeTemplateBody,
    responses((status = 201, body = ChangeTemplateDto)))]
async fn create_template(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ChangeTemplateBody>,
) -> Result<(StatusCode, Json<ChangeTemplateDto>), ApiError> {
    let t = op::save(&state, &auth, None, &body.input()).await?;
    Ok((StatusCode::CREATED, Json(dto(t))))
}

#[utoipa::path(get, path = "/api/v1/change-templates/{id}", tag = "changes", params(("id" = Uuid, Path)),
    responses((status = 200, body = ChangeTemplateDto)))]
async fn get_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<ChangeTemplateDto>, ApiError> {
    Ok(Json(dto(op::get(&state, &auth, parse_id(Entity::ChangeTemplate, &id)?).await?)))
}

/// Replaces a template (managers and admins); changes already raised from it keep their fields.
#[utoipa::path(put, path = "/api/v1/change-templates/{id}", tag = "changes", params(("id" = Uuid, Path)),
    request_body = ChangeTemplateBody, responses((status = 200, body = ChangeTemplateDto)))]
async fn update_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChangeTemplateBody>,
) -> Result<Json<ChangeTemplateDto>, ApiError> {
    let id = parse_id(Entity::ChangeTemplate, &id)?;
    Ok(Json(dto(op::save(&state, &auth, Some(id), &body.input()).await?)))
}

/// Deletes a template (managers and admins); the changes raised from it keep their fields.
#[utoipa::path(delete, path = "/api/v1/change-templates/{id}", tag = "changes", params(("id" = Uuid, Path)),
    responses((status = 204)))]
async fn delete_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete(&state, &auth, parse_id(Entity::ChangeTemplate, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
