//! Status pages: public pages of components that follow services and monitors. Reading them
//! takes a viewer; creating and changing them a manager; a manual component status a responder.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, double_option, parse_id};
use crate::operations::status_pages as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::Entity;
use opsdeck_core::role::Permission;
use opsdeck_core::status_page::{ComponentInput, ComponentStatus, PageInput};
use opsdeck_store::status_page::StatusPage;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pages, create_page))
        .routes(routes!(get_page, update_page, delete_page))
        .routes(routes!(set_override))
        .routes(routes!(set_access))
        .routes(routes!(post_update))
}

#[derive(Serialize, ToSchema)]
pub struct ComponentDto {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// The group it is shown in, if any.
    pub group: Option<String>,
    pub group_id: Option<Uuid>,
    pub service_id: Option<Uuid>,
    pub monitor_ids: Vec<Uuid>,
    pub only_show_if_degraded: bool,
    /// A third-party component: the vendor it follows, and the vendor's component by name (empty:
    /// the whole vendor).
    pub vendor_id: Option<Uuid>,
    pub vendor_component: Option<String>,
    /// `operational`, `under_maintenance`, `degraded_performance`, `partial_outage` or `major_outage`
    /// right now (only when one page is read).
    pub status: Option<String>,
    /// A status set by hand, and until when (null: until cleared).
    pub override_status: Option<String>,
    pub override_until: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct GroupDto {
    pub id: Uuid,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct StatusPageDto {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub time_zone: String,
    pub accent_color: Option<String>,
    /// The host name the page is also served at, from its root.
    pub custom_domain: Option<String>,
    pub logo_url: Option<String>,
    pub footer_links: Vec<FooterLinkBody>,
    /// Visitors need the page's password (never shown) or to sign in as a member of one of
    /// `team_ids` (set with `PUT …/access`).
    pub private: bool,
    /// Teams whose signed-in members (and admins) may read a private page.
    pub team_ids: Vec<Uuid>,
    /// The public page's path (prefix the instance's public URL).
    pub url: String,
    /// statuspage.io's page indicator right now (`none`, `maintenance`, `minor`, `major`,
    /// `critical`); only when one page is read.
    pub indicator: Option<String>,
    pub components: Vec<ComponentDto>,
    pub groups: Vec<GroupDto>,
    pub created_at: String,
    pub updated_at: String,
}

impl StatusPageDto {
    fn new(p: StatusPage, statuses: &HashMap<Uuid, ComponentStatus>, indicator: Option<&str>) -> Self {
        let groups: Vec<GroupDto> =
            p.components.iter().filter(|c| c.is_group).map(|c| GroupDto { id: c.id, name: c.name.clone() }).collect();
        let components = p
            .components
            .iter()
            .filter(|c| !c.is_group)
            .map(|c| ComponentDto {
                id: c.id,
                name: c.name.clone(),
                description: c.description.clone(),
                group: c.group_id.and_then(|g| groups.iter().find(|x| x.id == g)).map(|g| g.name.clone()),
                group_id: c.group_id,
                service_id: c.service_id,
                monitor_ids: c.monitor_ids.clone(),
                only_show_if_degraded: c.only_show_if_degraded,
                vendor_id: c.vendor.as_ref().map(|v| v.vendor_id),
                vendor_component: c.vendor.as_ref().map(|v| v.component.clone()),
                status: statuses.get(&c.id).map(|s| s.as_str().to_owned()),
                override_status: c.override_status.map(|s| s.as_str().to_owned()),
                override_until: c.override_until.map(ts),
            })
            .collect();
        StatusPageDto {
            private: p.password_hash.is_some() || !p.viewer_team_ids.is_empty(),
            team_ids: p.viewer_team_ids.clone(),
            url: format!("/status/{}", p.slug),
            indicator: indicator.map(str::to_owned),
            components,
            groups,
            id: p.id,
            slug: p.slug,
            title: p.title,
            description: p.description,
            time_zone: p.time_zone,
            accent_color: p.accent_color,
            custom_domain: p.custom_domain,
            logo_url: p.logo_url,
            footer_links: p.footer_links.into_iter().map(|l| FooterLinkBody { label: l.label, url: l.url }).collect(),
            created_at: ts(p.created_at),
            updated_at: ts(p.updated_at),
        }
    }

    async fn live(state: &AppState, p: StatusPage) -> Result<Self, ApiError> {
        let live = op::live(state, p).await?;
        let statuses = live.components.iter().map(|c| (c.component.id, c.status)).collect();
        Ok(StatusPageDto::new(live.page, &statuses, Some(live.indicator.as_str())))
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentBody {
    /// Keeps an existing component (its id, manual status and what refers to it).
    pub id: Option<Uuid>,
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    /// A group name; components with the same group are shown together under it.
    #[schema(schema_with = crate::api::schema::name_or_blank_opt)]
    pub group: Option<String>,
    /// The service whose monitors and open incidents decide the status.
    pub service_id: Option<Uuid>,
    /// Monitors that decide the status (besides the service's).
    #[schema(max_items = 50)]
    pub monitor_ids: Option<Vec<Uuid>>,
    /// Hidden from visitors while operational.
    pub only_show_if_degraded: Option<bool>,
    /// A third-party component: it follows this vendor (`/api/v1/vendors`) as Opsdeck's poller
    /// last read it. Its changes do not notify the page's subscribers.
    pub vendor_id: Option<Uuid>,
    /// The vendor's component, by name as the vendor lists it; left out or empty, the whole
    /// vendor. Needs `vendor_id`.
    #[schema(max_length = 255)]
    pub vendor_component: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusPageBody {
    /// Lowercase letters, digits and dashes; blank derives it from the title.
    #[schema(schema_with = crate::api::schema::slug_opt)]
    pub slug: Option<String>,
    /// Required when creating.
    #[schema(schema_with = crate::api::schema::name_opt)]
    pub title: Option<String>,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    #[schema(schema_with = crate::api::schema::timezone_opt)]
    pub time_zone: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = crate::api::schema::color_opt)]
    pub accent_color: Option<Option<String>>,
    /// Another host name the page is served at from its root (point the name's DNS at Opsdeck,
    /// or at the proxy in front of it): `https://status.example.com/` is then this page. `null`
    /// or empty removes it; 409 when another page has it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 253, example = "status.example.com")]
    pub custom_domain: Option<Option<String>>,
    /// An image (http or https URL) shown in the header instead of the title; `null` or empty
    /// removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub logo_url: Option<Option<String>>,
    /// Replaces the footer links (at most 10).
    #[schema(max_items = 10)]
    pub footer_links: Option<Vec<FooterLinkBody>>,
    /// Replaces the page's components when given.
    #[schema(max_items = 200)]
    pub components: Option<Vec<ComponentBody>>,
    /// When creating without `components`: one component per service of this team.
    pub team_id: Option<Uuid>,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FooterLinkBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub label: String,
    #[schema(schema_with = crate::api::schema::url)]
    pub url: String,
}

impl StatusPageBody {
    fn input(self) -> PageInput {
        PageInput {
            slug: self.slug,
            title: self.title,
            description: self.description,
            time_zone: self.time_zone,
            accent_color: self.accent_color,
            custom_domain: self.custom_domain,
            logo_url: self.logo_url,
            footer_links: self.footer_links.map(|ls| ls.into_iter().map(|l| (l.label, l.url)).collect()),
            components: self.components.map(|cs| {
                cs.into_iter()
                    .map(|c| ComponentInput {
                        id: c.id,
                        name: c.name,
                        description: c.description,
                        group: c.group,
                        service_id: c.service_id,
                        monitor_ids: c.monitor_ids.unwrap_or_default(),
                        only_show_if_degraded: c.only_show_if_degraded.unwrap_or(false),
                        vendor_id: c.vendor_id,
                        vendor_component: c.vendor_component,
                    })
                    .collect()
            }),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentOverrideBody {
    /// The status to show; `null` returns the component to its derived status.
    #[schema(schema_with = crate::api::schema::component_status_opt)]
    pub status: Option<String>,
    /// For how long; left out, until cleared.
    #[schema(minimum = 1, maximum = 129600)]
    pub minutes: Option<i64>,
}

/// Every status page, by slug.
#[utoipa::path(
    get,
    path = "/api/v1/status-pages",
    tag = "status pages",
    responses((status = 200, body = List<StatusPageDto>))
)]
async fn list_pages(State(state): State<AppState>, auth: Auth) -> Result<Json<List<StatusPageDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let none = HashMap::new();
    let items = state.db.list_status_pages().await?.into_iter().map(|p| StatusPageDto::new(p, &none, None)).collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Creates a status page (manager or admin).
#[utoipa::path(
    post,
    path = "/api/v1/status-pages",
    tag = "status pages",
    request_body = StatusPageBody,
    responses((status = 201, body = StatusPageDto))
)]
async fn create_page(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<StatusPageBody>,
) -> Result<(StatusCode, Json<StatusPageDto>), ApiError> {
    auth.require(Permission::Configure)?;
    let team = body.team_id;
    let p = op::create(&state, &auth, body.input(), team).await?;
    Ok((StatusCode::CREATED, Json(StatusPageDto::live(&state, p).await?)))
}

/// One page with each component's status right now.
#[utoipa::path(
    get,
    path = "/api/v1/status-pages/{id}",
    tag = "status pages",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = StatusPageDto))
)]
async fn get_page(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<StatusPageDto>, ApiError> {
    auth.require(Permission::Read)?;
    let p = state.db.get_status_page(parse_id(Entity::StatusPage, &id)?).await?;
    Ok(Json(StatusPageDto::live(&state, p).await?))
}

/// Changes a page: fields left out keep their value; `components`, when given, replaces the
/// list (give each kept component its `id`).
#[utoipa::path(
    put,
    path = "/api/v1/status-pages/{id}",
    tag = "status pages",
    params(("id" = Uuid, Path)),
    request_body = StatusPageBody,
    responses((status = 200, body = StatusPageDto))
)]
async fn update_page(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusPageBody>,
) -> Result<Json<StatusPageDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let current = state.db.get_status_page(parse_id(Entity::StatusPage, &id)?).await?;
    if body.team_id.is_some() {
        return Err(ApiError::invalid("team_id", "only when creating a page; give components instead"));
    }
    let p = op::update(&state, &auth, &current, body.input()).await?;
    Ok(Json(StatusPageDto::live(&state, p).await?))
}

/// Deletes a page.
#[utoipa::path(
    delete,
    path = "/api/v1/status-pages/{id}",
    tag = "status pages",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn delete_page(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    let current = state.db.get_status_page(parse_id(Entity::StatusPage, &id)?).await?;
    op::delete(&state, &auth, &current).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a component's status by hand (responder and up), or with `null` returns it to the
/// status its monitors and incidents give.
#[utoipa::path(
    put,
    path = "/api/v1/status-pages/{id}/components/{component_id}/override",
    tag = "status pages",
    params(("id" = Uuid, Path), ("component_id" = Uuid, Path)),
    request_body = ComponentOverrideBody,
    responses((status = 200, body = StatusPageDto))
)]
async fn set_override(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, component_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ComponentOverrideBody>,
) -> Result<Json<StatusPageDto>, ApiError> {
    auth.require(Permission::Respond)?;
    let page = state.db.get_status_page(parse_id(Entity::StatusPage, &id)?).await?;
    let component_id = Uuid::parse_str(component_id.trim())
        .map_err(|_| ApiError::invalid("component_id", "must be a component id (UUID)"))?;
    let status = match body.status.as_deref() {
        None => None,
        Some(s) => Some(ComponentStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "must be operational, under_maintenance, degraded_performance, partial_outage or major_outage",
            )
        })?),
    };
    op::set_override(&state, &auth, &page, component_id, status, body.minutes).await?;
    let p = state.db.get_status_page(page.id).await?;
    Ok(Json(StatusPageDto::live(&state, p).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusPageAccessBody {
    /// Visitors must enter this password (8 to 128 characters); `null` removes it; left out,
    /// it stays as it is.
    #[schema(value_type = Option<String>, min_length = 8, max_length = 128)]
    #[serde(default, deserialize_with = "double_option")]
    pub password: Option<Option<String>>,
    /// Teams whose signed-in members (and admins) may read the page without the password;
    /// `[]` none; left out, they stay as they are.
    #[schema(max_items = 100)]
    pub team_ids: Option<Vec<Uuid>>,
}

/// Sets who may read a page (managers and up): a password, and teams whose signed-in members
/// may. A page with neither is public (`{"password": null, "team_ids": []}`). The password is
/// stored as an argon2id hash and never shown.
#[utoipa::path(
    put,
    path = "/api/v1/status-pages/{id}/access",
    tag = "status pages",
    params(("id" = Uuid, Path)),
    request_body = StatusPageAccessBody,
    responses((status = 200, body = StatusPageDto))
)]
async fn set_access(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusPageAccessBody>,
) -> Result<Json<StatusPageDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let page = state.db.get_status_page(parse_id(Entity::StatusPage, &id)?).await?;
    let password = body.password.as_ref().map(Option::as_deref);
    op::set_access(&state, &auth, &page, password, body.team_ids).await?;
    let p = state.db.get_status_page(page.id).await?;
    Ok(Json(StatusPageDto::live(&state, p).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicUpdateBody {
    pub status_page_id: Uuid,
    /// The public incident's title (visitors see it); left out or blank, the first update uses
    /// the incident's title and later ones keep the current one.
    #[schema(schema_with = crate::api::schema::title_opt)]
    pub name: Option<String>,
    /// `investigating`, `identified`, `monitoring` or `resolved`; required unless the template
    /// gives it.
    #[schema(schema_with = crate::api::schema::public_incident_status_opt)]
    pub status: Option<String>,
    /// What visitors read; required unless the template gives it.
    #[schema(schema_with = crate::api::schema::note_opt)]
    pub body: Option<String>,
    /// Component id → the status this incident gives it until resolved; left out, the
    /// template's (if any) or the previous update's components stay.
    #[schema(value_type = Option<HashMap<String, String>>)]
    pub components: Option<HashMap<Uuid, String>>,
    /// An incident template of the page: fields left out of this body come from it.
    pub template_id: Option<Uuid>,
    /// Whether the page's subscribers are sent this update (default true).
    pub notify_subscribers: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct PublicUpdateDto {
    pub id: Uuid,
    pub status: String,
    pub body: String,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct PublicIncidentDto {
    pub id: Uuid,
    pub status_page_id: Uuid,
    pub incident_id: Option<Uuid>,
    pub name: String,
    pub status: String,
    /// `none`, `minor`, `major` or `critical`.
    pub impact: String,
    /// Component id → status, while unresolved.
    pub components: HashMap<String, String>,
    pub started_at: String,
    pub resolved_at: Option<String>,
    /// Newest first.
    pub updates: Vec<PublicUpdateDto>,
}

/// Posts an update about an incident on a status page (responder and up): the first opens the
/// page's public incident, named after the incident; `components` set the statuses visitors see
/// until it is resolved. The update is also noted on the incident's timeline.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/status-updates",
    tag = "status pages",
    params(("id" = String, Path, description = "incident id or number (`INC-42`)")),
    request_body = PublicUpdateBody,
    responses((status = 201, body = PublicIncidentDto))
)]
async fn post_update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PublicUpdateBody>,
) -> Result<(StatusCode, Json<PublicIncidentDto>), ApiError> {
    auth.require(Permission::Respond)?;
    let incident = crate::operations::incidents::find_incident(&state, &id).await?;
    let draft = crate::operations::status_templates::Draft {
        page_id: body.status_page_id,
        template_id: body.template_id,
        name: body.name,
        status: body.status,
        body: body.body,
        components: body.components.map(|m| m.into_iter().collect()),
    };
    let mut spec = crate::operations::status_templates::update_spec(&state, draft).await?;
    spec.notify = body.notify_subscribers.unwrap_or(true);
    op::post_update(&state, &auth, &incident, spec).await?;
    let posted = state.db.public_incidents_of(incident.id).await?;
    let p = posted.into_iter().find(|p| p.page_id == body.status_page_id).ok_or_else(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(PublicIncidentDto {
            id: p.id,
            status_page_id: p.page_id,
            incident_id: p.incident_id,
            name: p.name,
            status: p.status.as_str().to_owned(),
            impact: p.impact.as_str().to_owned(),
            components: p.components.iter().map(|(id, s)| (id.to_string(), s.as_str().to_owned())).collect(),
            started_at: ts(p.started_at),
            resolved_at: p.resolved_at.map(ts),
            updates: p
                .updates
                .into_iter()
                .map(|u| PublicUpdateDto {
                    id: u.id,
                    status: u.status.as_str().to_owned(),
                    body: u.body,
                    created_at: ts(u.created_at),
                })
                .collect(),
        }),
    ))
}
