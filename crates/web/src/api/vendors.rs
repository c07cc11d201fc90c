//! Vendors: third-party status pages (statuspage.io JSON or RSS/Atom) that Opsdeck polls and
//! normalises. Reading takes a viewer; adding and removing a manager.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, parse_id};
use crate::operations::vendors as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_core::role::Permission;
use opsdeck_core::vendor::VendorSpec;
use opsdeck_store::vendor::Vendor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_vendors, create_vendor))
        .routes(routes!(get_vendor, update_vendor, delete_vendor))
        .routes(routes!(add_dependent))
        .routes(routes!(remove_dependent))
}

#[derive(Serialize, ToSchema)]
pub struct VendorComponentDto {
    pub id: String,
    pub name: String,
    /// statuspage.io's component status.
    pub status: String,
    pub group: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VendorIncidentDto {
    pub id: String,
    pub name: String,
    pub status: String,
    pub impact: String,
    pub url: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VendorDto {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    /// `statuspage` (statuspage.io JSON) or `feed` (RSS/Atom).
    pub kind: String,
    pub interval_seconds: i32,
    pub timeout_seconds: i32,
    /// `operational`, `under_maintenance`, `degraded_performance`, `partial_outage`,
    /// `major_outage`, or `unknown` (not polled yet, unreachable, or an unreadable answer).
    pub status: String,
    /// Why the status is unknown.
    pub reason: Option<String>,
    /// The vendor's own words for its status.
    pub description: String,
    pub components: Vec<VendorComponentDto>,
    /// Unresolved incidents (statuspage.io), or the feed's latest entries.
    pub incidents: Vec<VendorIncidentDto>,
    pub checked_at: Option<String>,
    pub changed_at: Option<String>,
    pub created_at: String,
    /// Services alerted while the vendor (or the named component) is degraded or worse; only
    /// when one vendor is read.
    pub dependents: Option<Vec<DependentDto>>,
}

#[derive(Serialize, ToSchema)]
pub struct DependentDto {
    pub service_id: Uuid,
    pub service: String,
    /// A component's name, or null for the whole vendor.
    pub component: Option<String>,
}

impl VendorDto {
    async fn with_dependents(state: &AppState, v: Vendor) -> Result<Self, ApiError> {
        let deps = state.db.vendor_dependents(v.id).await?;
        let mut dto = VendorDto::from(v);
        dto.dependents = Some(
            deps.into_iter()
                .map(|(service_id, service, c)| DependentDto {
                    service_id,
                    service,
                    component: (!c.is_empty()).then_some(c),
                })
                .collect(),
        );
        Ok(dto)
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DependentBody {
    pub service_id: Uuid,
    /// A component of the vendor, by name; left out, the whole vendor.
    #[schema(max_length = 255)]
    pub component: Option<String>,
}

impl From<Vendor> for VendorDto {
    fn from(v: Vendor) -> Self {
        VendorDto {
            id: v.id,
            kind: v.kind.as_str().to_owned(),
            status: v.status.as_str().to_owned(),
            components: v
                .components
                .into_iter()
                .map(|c| VendorComponentDto {
                    id: c.id,
                    name: c.name,
                    status: c.status.as_str().to_owned(),
                    group: c.group,
                })
                .collect(),
            incidents: v
                .incidents
                .into_iter()
                .map(|i| VendorIncidentDto {
                    id: i.id,
                    name: i.name,
                    status: i.status,
                    impact: i.impact,
                    url: i.url,
                    updated_at: i.updated_at,
                })
                .collect(),
            name: v.name,
            url: v.url,
            interval_seconds: v.interval_seconds,
            timeout_seconds: v.timeout_seconds,
            reason: v.reason,
            description: v.description,
            checked_at: v.checked_at.map(ts),
            changed_at: v.changed_at.map(ts),
            created_at: ts(v.created_at),
            dependents: None,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VendorBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    /// The vendor's status page (its statuspage.io base URL or `summary.json`), or an RSS/Atom
    /// feed (a URL ending in `.rss`, `.atom`, `.xml`, `/feed`, `/rss` or `/atom`).
    #[schema(schema_with = crate::api::schema::url)]
    pub url: String,
    /// Seconds between polls (30 to 86,400; default 300).
    #[schema(minimum = 30, maximum = 86400)]
    pub interval_seconds: Option<i64>,
    /// Seconds one poll may take in all (1 to 60; default 10).
    #[schema(minimum = 1, maximum = 60)]
    pub timeout_seconds: Option<i64>,
}

/// Every vendor by name, with what its last poll read.
#[utoipa::path(get, path = "/api/v1/vendors", tag = "vendors", responses((status = 200, body = List<VendorDto>)))]
async fn list_vendors(State(state): State<AppState>, auth: Auth) -> Result<Json<List<VendorDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let items = state.db.list_vendors().await?.into_iter().map(Into::into).collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Adds a vendor (managers); its status is `unknown` until the first poll, within seconds.
#[utoipa::path(
    post,
    path = "/api/v1/vendors",
    tag = "vendors",
    request_body = VendorBody,
    responses((status = 201, body = VendorDto))
)]
async fn create_vendor(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<VendorBody>,
) -> Result<(StatusCode, Json<VendorDto>), ApiError> {
    auth.require(Permission::Configure)?;
    let spec = VendorSpec::new(&body.name, &body.url, body.interval_seconds, body.timeout_seconds)?;
    let v = op::create(&state, &auth, spec).await?;
    Ok((StatusCode::CREATED, Json(VendorDto::with_dependents(&state, v).await?)))
}

#[utoipa::path(
    get,
    path = "/api/v1/vendors/{id}",
    tag = "vendors",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = VendorDto))
)]
async fn get_vendor(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<VendorDto>, ApiError> {
    auth.require(Permission::Read)?;
    let v = state.db.get_vendor(parse_id(Entity::Vendor, &id)?).await?;
    Ok(Json(VendorDto::with_dependents(&state, v).await?))
}

/// Changes a vendor (managers): the whole definition, as when adding it. It is read again at
/// once, without an ETag; dependencies and third-party components stay.
#[utoipa::path(
    put,
    path = "/api/v1/vendors/{id}",
    tag = "vendors",
    params(("id" = Uuid, Path)),
    request_body = VendorBody,
    responses((status = 200, body = VendorDto))
)]
async fn update_vendor(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<VendorBody>,
) -> Result<Json<VendorDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let before = state.db.get_vendor(parse_id(Entity::Vendor, &id)?).await?;
    let spec = VendorSpec::new(&body.name, &body.url, body.interval_seconds, body.timeout_seconds)?;
    let v = op::update(&state, &auth, &before, spec).await?;
    Ok(Json(VendorDto::with_dependents(&state, v).await?))
}

/// Makes a service depend on the vendor (or one of its components): while that is degraded or
/// worse, the service has an alert (and so an incident, by its alert settings); it resolves when
/// the vendor recovers. Already degraded when added: alerted at once.
#[utoipa::path(
    post,
    path = "/api/v1/vendors/{id}/dependents",
    tag = "vendors",
    params(("id" = Uuid, Path)),
    request_body = DependentBody,
    responses((status = 201, body = VendorDto))
)]
async fn add_dependent(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DependentBody>,
) -> Result<(StatusCode, Json<VendorDto>), ApiError> {
    auth.require(Permission::Configure)?;
    let v = state.db.get_vendor(parse_id(Entity::Vendor, &id)?).await?;
    op::add_dependent(&state, &auth, &v, body.service_id, body.component.as_deref().unwrap_or("")).await?;
    Ok((StatusCode::CREATED, Json(VendorDto::with_dependents(&state, v).await?)))
}

/// Ends a service's dependencies on the vendor; an alert they raised resolves.
#[utoipa::path(
    delete,
    path = "/api/v1/vendors/{id}/dependents/{service_id}",
    tag = "vendors",
    params(("id" = Uuid, Path), ("service_id" = Uuid, Path)),
    responses((status = 204))
)]
async fn remove_dependent(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, service_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    let v = state.db.get_vendor(parse_id(Entity::Vendor, &id)?).await?;
    let service_id = parse_id(Entity::Service, &service_id)?;
    op::remove_dependent(&state, &auth, &v, service_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/api/v1/vendors/{id}",
    tag = "vendors",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_vendor(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    let v = state.db.get_vendor(parse_id(Entity::Vendor, &id)?).await?;
    op::delete(&state, &auth, &v).await?;
    Ok(StatusCode::NO_CONTENT)
}
