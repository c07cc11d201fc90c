//! Custom attribute definitions per CI class.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::operations::cmdb_attributes as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_core::cmdb::CiClass;
use opsdeck_core::cmdb::attr_def::AttrDefInput;
use opsdeck_store::cmdb::attr_defs::AttrDef;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_defs, create_def)).routes(routes!(update_def, delete_def))
}

#[derive(Serialize, ToSchema)]
pub struct AttrDefDto {
    pub id: Uuid,
    #[schema(schema_with = crate::api::schema::ci_class)]
    pub class: String,
    pub key: String,
    pub label: String,
    /// text, number, date, enum or reference.
    pub kind: String,
    pub required: bool,
    /// For an enum: the values allowed.
    pub choices: Vec<String>,
    /// For a reference: the class the referred CI must have (any when absent).
    pub ref_class: Option<String>,
}

fn dto(d: AttrDef) -> AttrDefDto {
    AttrDefDto {
        id: d.id,
        class: d.spec.class.as_str().into(),
        key: d.spec.key,
        label: d.spec.label,
        kind: d.spec.kind.as_str().into(),
        required: d.spec.required,
        choices: d.spec.choices,
        ref_class: d.spec.ref_class.map(|c| c.as_str().into()),
    }
}

#[derive(Serialize, ToSchema)]
pub struct AttrDefsDto {
    pub items: Vec<AttrDefDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttrDefBody {
    #[schema(schema_with = crate::api::schema::ci_class)]
    pub class: String,
    /// The attribute's name on CIs: 1 to 64 of `a-z 0-9 _ . -`.
    #[schema(pattern = r"^[\t\n\x0b\x0c\r ]*[a-z0-9_.-]{1,64}[\t\n\x0b\x0c\r ]*$")]
    pub key: String,
    /// What pages show (default the key).
    #[schema(schema_with = crate::api::schema::name_or_blank_opt)]
    pub label: Option<String>,
    #[schema(schema_with = crate::api::schema::attr_kind)]
    pub kind: String,
    /// CIs of the class must have it (default false).
    pub required: Option<bool>,
    /// For an enum only: 1 to 50 values.
    #[schema(max_items = 50)]
    pub choices: Option<Vec<String>>,
    /// For a reference only: the class the referred CI must have.
    #[schema(schema_with = crate::api::schema::ci_class_opt)]
    pub ref_class: Option<String>,
}

impl AttrDefBody {
    fn input(self) -> AttrDefInput {
        AttrDefInput {
            class: self.class,
            key: self.key,
            label: self.label,
            kind: self.kind,
            required: self.required.unwrap_or(false),
            choices: self.choices.unwrap_or_default(),
            ref_class: self.ref_class,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AttrDefQuery {
    /// Only this class's definitions.
    #[param(schema_with = crate::api::schema::ci_class_opt)]
    pub class: Option<String>,
}

/// The custom attribute definitions, by class.
#[utoipa::path(
    get,
    path = "/api/v1/ci-attributes",
    tag = "cmdb",
    params(AttrDefQuery),
    responses((status = 200, body = AttrDefsDto))
)]
async fn list_defs(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AttrDefQuery>,
) -> Result<Json<AttrDefsDto>, ApiError> {
    let class = q
        .class
        .map(|c| CiClass::parse(&c).ok_or_else(|| ApiError::bad_request(format!("class: unknown class {c:?}"))))
        .transpose()?;
    let items = op::list(&state, &auth, class).await?.into_iter().map(dto).collect();
    Ok(Json(AttrDefsDto { items }))
}

/// Defines an attribute for a class (admins). CIs of the class saved or imported from now on
/// must conform.
#[utoipa::path(
    post,
    path = "/api/v1/ci-attributes",
    tag = "cmdb",
    request_body = AttrDefBody,
    responses((status = 201, body = AttrDefDto))
)]
async fn create_def(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<AttrDefBody>,
) -> Result<(StatusCode, Json<AttrDefDto>), ApiError> {
    let d = op::create(&state, &auth, &body.input()).await?;
    Ok((StatusCode::CREATED, Json(dto(d))))
}

/// Replaces a definition (admins).
#[utoipa::path(
    put,
    path = "/api/v1/ci-attributes/{id}",
    tag = "cmdb",
    params(("id" = Uuid, Path)),
    request_body = AttrDefBody,
    responses((status = 200, body = AttrDefDto))
)]
async fn update_def(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AttrDefBody>,
) -> Result<Json<AttrDefDto>, ApiError> {
    let d = op::update(&state, &auth, parse_id(Entity::CiAttribute, &id)?, &body.input()).await?;
    Ok(Json(dto(d)))
}

/// Deletes a definition (admins); CIs keep their values, free-form.
#[utoipa::path(
    delete,
    path = "/api/v1/ci-attributes/{id}",
    tag = "cmdb",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_def(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    op::delete(&state, &auth, parse_id(Entity::CiAttribute, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
