//! The CMDB API: configuration items, relations, monitor bindings and impact walks (imports
//! and the inventory are in `cmdb_import`).

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::operations::cmdb as op;
use crate::operations::cursor;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_core::cmdb::{Attributes, CiClass, CiInput, CiStatus, RelationSpec};
use opsdeck_store::cmdb::impact::{Direction, ImpactAnswer};
use opsdeck_store::cmdb::{BoundMonitor, Ci, CiFilter, Relation};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_cis, create_ci))
        .routes(routes!(get_ci, update_ci, delete_ci))
        .routes(routes!(ci_impact))
        .routes(routes!(set_impact))
        .routes(routes!(create_relation))
        .routes(routes!(delete_relation))
        .routes(routes!(bind_monitor, unbind_monitor))
}

#[derive(Serialize, ToSchema)]
pub struct CiDto {
    pub id: Uuid,
    pub name: String,
    #[schema(schema_with = crate::api::schema::ci_class)]
    pub class: String,
    /// planned, in_use, maintenance or retired.
    pub status: String,
    #[schema(value_type = Object)]
    pub attributes: Attributes,
    pub owner_team_id: Option<Uuid>,
    pub owner_team_name: Option<String>,
    pub location: Option<String>,
    pub environment: Option<String>,
    pub tags: Vec<String>,
    /// The natural key imports match on.
    pub identity: Option<String>,
    /// For a business_service CI: the catalogue service it stands for.
    pub service_id: Option<Uuid>,
    pub service_name: Option<String>,
    /// Redundancy: impacted only when fewer than this many of the CIs it relies on are up.
    pub min_up: Option<i32>,
    pub description: String,
    /// `manual`, or the import source that last wrote it (provenance).
    pub source: String,
    /// When its import source last listed it.
    pub last_seen_at: Option<String>,
    /// Its import source no longer lists it.
    pub stale: bool,
    pub created_at: String,
    pub updated_at: String,
    /// Asset lifecycle dates (`YYYY-MM-DD`) and cost.
    pub purchase_date: Option<String>,
    pub cost: Option<f64>,
    pub warranty_end: Option<String>,
    pub end_of_support: Option<String>,
    pub end_of_life: Option<String>,
    /// The first of warranty end, end of support and end of life.
    pub refresh_due: Option<String>,
}

fn day(d: Option<chrono::NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

impl From<Ci> for CiDto {
    fn from(c: Ci) -> Self {
        let l = c.lifecycle;
        CiDto {
            purchase_date: day(l.purchase_date),
            cost: l.cost_cents.map(|c| c as f64 / 100.0),
            warranty_end: day(l.warranty_end),
            end_of_support: day(l.end_of_support),
            end_of_life: day(l.end_of_life),
            refresh_due: day(l.refresh_due()),
            id: c.id,
            name: c.name,
            class: c.class.as_str().into(),
            status: c.status.as_str().into(),
            attributes: c.attributes,
            owner_team_id: c.owner_team_id,
            owner_team_name: c.owner_team_name,
            location: c.location,
            environment: c.environment,
            tags: c.tags,
            identity: c.identity,
            service_id: c.service_id,
            service_name: c.service_name,
            min_up: c.min_up,
            description: c.description,
            source: c.source,
            last_seen_at: c.last_seen_at.map(ts),
            stale: c.stale,
            created_at: ts(c.created_at),
            updated_at: ts(c.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RelationDto {
    pub id: Uuid,
    pub source_id: Uuid,
    pub target_id: Uuid,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::api::schema::relation_type)]
    pub kind: String,
    /// How it reads from the CI asked about: "Depends on" from the source, "Used by" from the target.
    pub label: String,
    /// `manual`, or the import source that discovered it.
    pub origin: String,
    pub last_seen_at: Option<String>,
    pub created_at: String,
    pub other_id: Uuid,
    pub other_name: String,
    pub other_class: String,
    /// True when the CI asked about is the source.
    pub outgoing: bool,
}

impl From<Relation> for RelationDto {
    fn from(r: Relation) -> Self {
        RelationDto {
            label: r.label().into(),
            id: r.id,
            source_id: r.source_id,
            target_id: r.target_id,
            kind: r.kind.as_str().into(),
            origin: r.origin,
            last_seen_at: r.last_seen_at.map(ts),
            created_at: ts(r.created_at),
            other_id: r.other_id,
            other_name: r.other_name,
            other_class: r.other_class.as_str().into(),
            outgoing: r.outgoing,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BoundMonitorDto {
    pub id: Uuid,
    pub name: String,
    pub state: String,
}

#[derive(Serialize, ToSchema)]
pub struct CiDetailDto {
    #[serde(flatten)]
    pub ci: CiDto,
    pub relations: Vec<RelationDto>,
    pub monitors: Vec<BoundMonitorDto>,
    /// The contracts covering it.
    pub contracts: Vec<super::contracts::ContractDto>,
}

impl From<op::CiDetail> for CiDetailDto {
    fn from(d: op::CiDetail) -> Self {
        CiDetailDto {
            ci: d.ci.into(),
            relations: d.relations.into_iter().map(RelationDto::from).collect(),
            monitors: d
                .monitors
                .into_iter()
                .map(|m: BoundMonitor| BoundMonitorDto { id: m.id, name: m.name, state: m.state })
                .collect(),
            contracts: d.contracts.into_iter().map(|c| super::contracts::dto(c, None)).collect(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CiBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    #[schema(schema_with = crate::api::schema::ci_class)]
    pub class: String,
    /// Default in_use.
    #[schema(schema_with = crate::api::schema::ci_status_opt)]
    pub status: Option<String>,
    #[schema(schema_with = crate::api::schema::ci_attributes_opt)]
    pub attributes: Option<Attributes>,
    pub owner_team_id: Option<Uuid>,
    #[schema(schema_with = crate::api::schema::place_opt)]
    pub location: Option<String>,
    #[schema(schema_with = crate::api::schema::place_opt)]
    pub environment: Option<String>,
    #[schema(schema_with = crate::api::schema::tags_opt)]
    pub tags: Option<Vec<String>>,
    /// A natural key, unique among CIs (imports match on it).
    #[schema(schema_with = crate::api::schema::identity_opt)]
    pub identity: Option<String>,
    /// Only for a business_service CI: the catalogue service it stands for.
    pub service_id: Option<Uuid>,
    /// Redundancy, k of n: impacted only when fewer than this many of the CIs it relies on are up.
    #[schema(minimum = 1, maximum = 10000)]
    pub min_up: Option<i64>,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    #[schema(schema_with = crate::api::schema::date_opt)]
    pub purchase_date: Option<String>,
    /// In the instance's currency, at most two decimals kept.
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    pub cost: Option<f64>,
    #[schema(schema_with = crate::api::schema::date_opt)]
    pub warranty_end: Option<String>,
    #[schema(schema_with = crate::api::schema::date_opt)]
    pub end_of_support: Option<String>,
    #[schema(schema_with = crate::api::schema::date_opt)]
    pub end_of_life: Option<String>,
}

impl CiBody {
    fn input(self) -> CiInput {
        CiInput {
            name: self.name,
            class: self.class,
            status: self.status,
            attributes: self.attributes.unwrap_or_default(),
            owner_team_id: self.owner_team_id,
            location: self.location,
            environment: self.environment,
            tags: self.tags.unwrap_or_default(),
            identity: self.identity,
            service_id: self.service_id,
            min_up: self.min_up,
            description: self.description,
            purchase_date: self.purchase_date,
            warranty_end: self.warranty_end,
            end_of_support: self.end_of_support,
            end_of_life: self.end_of_life,
            cost: self.cost,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CiQuery {
    /// Full-text search: every word must match the start of a word of the CI's name, identity,
    /// class, status, location, environment, tags or text attributes.
    pub q: Option<String>,
    #[param(schema_with = crate::api::schema::ci_class_opt)]
    pub class: Option<String>,
    #[param(schema_with = crate::api::schema::ci_status_opt)]
    pub status: Option<String>,
    pub environment: Option<String>,
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
}

/// Lists CIs by name; `q` searches them.
#[utoipa::path(get, path = "/api/v1/cis", tag = "cmdb", params(CiQuery), responses((status = 200, body = List<CiDto>)))]
async fn list_cis(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<CiQuery>,
) -> Result<Json<List<CiDto>>, ApiError> {
    let blank = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
    let filter = CiFilter {
        class: q
            .class
            .map(|c| CiClass::parse(&c).ok_or_else(|| ApiError::bad_request(format!("class: unknown class {c:?}"))))
            .transpose()?,
        status: q
            .status
            .map(|s| CiStatus::parse(&s).ok_or_else(|| ApiError::bad_request(format!("status: unknown status {s:?}"))))
            .transpose()?,
        environment: blank(q.environment),
        q: blank(q.q),
        cursor: cursor(q.cursor.as_deref())?,
        limit: super::limit(q.limit)?,
    };
    let page = op::list(&state, &auth, &filter).await?;
    Ok(Json(List::from_page(page, CiDto::from)))
}

/// Creates a CI (managers and admins).
#[utoipa::path(
    post,
    path = "/api/v1/cis",
    tag = "cmdb",
    request_body = CiBody,
    responses((status = 201, body = CiDto))
)]
async fn create_ci(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CiBody>,
) -> Result<(StatusCode, Json<CiDto>), ApiError> {
    let ci = op::create(&state, &auth, &body.input()).await?;
    Ok((StatusCode::CREATED, Json(ci.into())))
}

/// A CI with its relations (both ways) and the monitors bound to it.
#[utoipa::path(
    get,
    path = "/api/v1/cis/{id}",
    tag = "cmdb",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CiDetailDto))
)]
async fn get_ci(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<CiDetailDto>, ApiError> {
    let d = op::detail(&state, &auth, parse_id(Entity::Ci, &id)?).await?;
    Ok(Json(d.into()))
}

/// Replaces a CI's fields (managers and admins); its source and relations stay.
#[utoipa::path(
    put,
    path = "/api/v1/cis/{id}",
    tag = "cmdb",
    params(("id" = Uuid, Path)),
    request_body = CiBody,
    responses((status = 200, body = CiDto))
)]
async fn update_ci(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CiBody>,
) -> Result<Json<CiDto>, ApiError> {
    let ci = op::update(&state, &auth, parse_id(Entity::Ci, &id)?, &body.input()).await?;
    Ok(Json(ci.into()))
}

/// Deletes a CI and its relations; monitors bound to it are unbound.
#[utoipa::path(delete, path = "/api/v1/cis/{id}", tag = "cmdb", params(("id" = Uuid, Path)), responses((status = 204)))]
async fn delete_ci(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    op::delete(&state, &auth, parse_id(Entity::Ci, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImpactQuery {
    /// How many hops to follow (1–20, default 10).
    #[param(minimum = 1, maximum = 20)]
    pub depth: Option<i64>,
    /// `impact` (default): what a failure of this CI reaches; `depends_on`: what it relies on.
    #[param(pattern = "^(impact|depends_on)$")]
    pub direction: Option<String>,
}

fn direction(raw: Option<&str>) -> Result<Direction, ApiError> {
    match raw {
        None | Some("impact") => Ok(Direction::Impact),
        Some("depends_on") => Ok(Direction::DependsOn),
        Some(_) => Err(ApiError::bad_request("direction: use impact or depends_on")),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ImpactItemDto {
    pub id: Uuid,
    pub name: String,
    pub class: String,
    pub status: String,
    /// Hops from the nearest failed CI.
    pub depth: u32,
    /// CI ids from a failed CI to this one, both included.
    pub path: Vec<Uuid>,
    /// True for a business service (a catalogue service when `service_id` is set).
    pub service: bool,
    pub service_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct ImpactDto {
    pub items: Vec<ImpactItemDto>,
    /// The walk reached 10,000 CIs and stopped.
    pub truncated: bool,
}

impl From<ImpactAnswer> for ImpactDto {
    fn from(a: ImpactAnswer) -> Self {
        ImpactDto {
            truncated: a.truncated,
            items: a
                .items
                .into_iter()
                .map(|i| ImpactItemDto {
                    service: i.ci.class == CiClass::BusinessService,
                    service_id: i.ci.service_id,
                    id: i.ci.id,
                    name: i.ci.name,
                    class: i.ci.class.as_str().into(),
                    status: i.ci.status.as_str().into(),
                    depth: i.depth,
                    path: i.path,
                })
                .collect(),
        }
    }
}

/// What breaks if this CI fails (or, with `direction=depends_on`, what it relies on), with
/// depth, a shortest path and redundancy (k of n) taken into account.
#[utoipa::path(
    get,
    path = "/api/v1/cis/{id}/impact",
    tag = "cmdb",
    params(("id" = Uuid, Path), ImpactQuery),
    responses((status = 200, body = ImpactDto))
)]
async fn ci_impact(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ImpactQuery>,
) -> Result<Json<ImpactDto>, ApiError> {
    let id = parse_id(Entity::Ci, &id)?;
    let depth = op::depth("depth", q.depth)?;
    let answer = op::walk(&state, &auth, &[id], depth, direction(q.direction.as_deref())?).await?;
    Ok(Json(answer.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetImpact {
    /// The CIs that fail together (1 to 500).
    #[schema(min_items = 1, max_items = 500)]
    pub ids: Vec<Uuid>,
    #[schema(minimum = 1, maximum = 20)]
    pub depth: Option<i64>,
}

/// What breaks if all these CIs fail together (redundancy counts them together).
#[utoipa::path(
    post,
    path = "/api/v1/cis/impact",
    tag = "cmdb",
    request_body = SetImpact,
    responses((status = 200, body = ImpactDto))
)]
async fn set_impact(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<SetImpact>,
) -> Result<Json<ImpactDto>, ApiError> {
    if body.ids.is_empty() || body.ids.len() > 500 {
        return Err(ApiError::invalid("ids", "must list 1 to 500 CIs"));
    }
    let depth = op::depth("depth", body.depth)?;
    Ok(Json(op::walk(&state, &auth, &body.ids, depth, Direction::Impact).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationBody {
    pub source_id: Uuid,
    pub target_id: Uuid,
    /// Read "source <type> target": depends_on, runs_on, hosted_on, contains, connects_to, member_of.
    #[serde(rename = "type")]
    #[schema(schema_with = crate::api::schema::relation_type)]
    pub kind: String,
}

/// Relates two CIs (managers and admins); 409 when that relation exists.
#[utoipa::path(
    post,
    path = "/api/v1/ci-relations",
    tag = "cmdb",
    request_body = RelationBody,
    responses((status = 201, body = RelationDto))
)]
async fn create_relation(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<RelationBody>,
) -> Result<(StatusCode, Json<RelationDto>), ApiError> {
    let spec = RelationSpec::new(body.source_id, body.target_id, &body.kind)?;
    let r = op::relate(&state, &auth, spec).await?;
    Ok((StatusCode::CREATED, Json(r.into())))
}

/// Removes a relation.
#[utoipa::path(
    delete,
    path = "/api/v1/ci-relations/{id}",
    tag = "cmdb",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_relation(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::unrelate(&state, &auth, parse_id(Entity::CiRelation, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Binds a monitor to this CI (a monitor has at most one CI; binding moves it).
#[utoipa::path(
    put,
    path = "/api/v1/cis/{id}/monitors/{monitor_id}",
    tag = "cmdb",
    params(("id" = Uuid, Path), ("monitor_id" = Uuid, Path)),
    responses((status = 204))
)]
async fn bind_monitor(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, monitor)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let ci = parse_id(Entity::Ci, &id)?;
    op::bind_monitor(&state, &auth, ci, parse_id(Entity::Monitor, &monitor)?, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unbinds a monitor from this CI (404 `monitor_not_found` when it is not bound to it).
#[utoipa::path(
    delete,
    path = "/api/v1/cis/{id}/monitors/{monitor_id}",
    tag = "cmdb",
    params(("id" = Uuid, Path), ("monitor_id" = Uuid, Path)),
    responses((status = 204))
)]
async fn unbind_monitor(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, monitor)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let ci = parse_id(Entity::Ci, &id)?;
    op::bind_monitor(&state, &auth, ci, parse_id(Entity::Monitor, &monitor)?, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
