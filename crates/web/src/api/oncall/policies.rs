//! Escalation policies.

use super::*;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = crate::api::schema::description)]
    pub description: String,
    /// How many times the policy runs through its levels (1 = once).
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 9)]
    pub loops: u32,
    /// `[{"delay_minutes": 15, "targets": [{"type": "schedule" | "user" | "team", "id": "…"}]}]`.
    #[schema(value_type = Vec<crate::api::schema::LevelSchema>, min_items = 1, max_items = 10)]
    pub levels: Vec<Level>,
}

pub(super) fn one() -> u32 {
    1
}

#[derive(Serialize, ToSchema)]
pub struct PolicyDto {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub loops: u32,
    #[schema(value_type = Vec<Object>)]
    pub levels: Vec<Level>,
}

impl From<Policy> for PolicyDto {
    fn from(p: Policy) -> Self {
        PolicyDto {
            id: p.id,
            name: p.spec.name,
            description: p.spec.description,
            loops: p.spec.loops,
            levels: p.spec.levels,
        }
    }
}

pub(super) fn policy_spec(b: PolicyBody) -> PolicySpec {
    PolicySpec { name: b.name, description: b.description, loops: b.loops, levels: b.levels }
}

#[utoipa::path(
    get,
    path = "/api/v1/escalation-policies",
    tag = "oncall",
    responses((status = 200, body = List<PolicyDto>))
)]
pub(super) async fn list_policies(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<List<PolicyDto>>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(List {
        items: state.db.list_policies().await?.into_iter().map(PolicyDto::from).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/escalation-policies",
    tag = "oncall",
    request_body = PolicyBody,
    responses((status = 201, body = PolicyDto))
)]
pub(super) async fn create_policy(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<PolicyBody>,
) -> Result<(StatusCode, Json<PolicyDto>), ApiError> {
    Ok((StatusCode::CREATED, Json(op::create_policy(&state, &auth, policy_spec(b)).await?.into())))
}

#[utoipa::path(
    get,
    path = "/api/v1/escalation-policies/{id}",
    tag = "oncall",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PolicyDto))
)]
pub(super) async fn get_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<PolicyDto>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(state.db.get_policy(parse_id(Entity::EscalationPolicy, &id)?).await?.into()))
}

#[utoipa::path(
    put,
    path = "/api/v1/escalation-policies/{id}",
    tag = "oncall",
    params(("id" = Uuid, Path)),
    request_body = PolicyBody,
    responses((status = 200, body = PolicyDto))
)]
pub(super) async fn put_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PolicyBody>,
) -> Result<Json<PolicyDto>, ApiError> {
    let id = parse_id(Entity::EscalationPolicy, &id)?;
    Ok(Json(op::update_policy(&state, &auth, id, policy_spec(b)).await?.into()))
}

#[utoipa::path(
    delete,
    path = "/api/v1/escalation-policies/{id}",
    tag = "oncall",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
pub(super) async fn delete_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete_policy(&state, &auth, parse_id(Entity::EscalationPolicy, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePolicyBody {
    /// Null clears it.
    pub policy_id: Option<Uuid>,
}

/// Sets the escalation policy of a service.
#[utoipa::path(
    put,
    path = "/api/v1/services/{id}/escalation-policy",
    tag = "oncall",
    params(("id" = String, Path)),
    request_body = ServicePolicyBody,
    responses((status = 204))
)]
pub(super) async fn set_service_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ServicePolicyBody>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Configure)?;
    let sid =
        service_ref(&state, Some(&id), "service_id").await?.ok_or_else(|| ApiError::not_found(Entity::Service))?;
    op::set_service_policy(&state, &auth, sid, b.policy_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
