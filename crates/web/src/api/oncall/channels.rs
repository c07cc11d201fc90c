//! Channels.

use super::*;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    /// email, slack, teams, discord, webhook or pagerduty.
    #[schema(schema_with = crate::api::schema::channel_kind)]
    pub kind: String,
    /// `to` (email), `url`, `secret` and `headers` (webhook), `routing_key` (pagerduty),
    /// `subject_template` / `body_template`.
    #[schema(value_type = crate::api::schema::ChannelConfigSchema)]
    pub config: ChannelConfig,
    /// The service whose incidents it announces.
    pub service_id: Option<String>,
    pub team_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct ChannelDto {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub service_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    /// The config with its secrets masked as `(set)`: the signing secret, the routing key,
    /// header values, and the URL's path (chat webhooks carry their secret there).
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

pub(super) fn channel_dto(c: opsdeck_store::oncall::Channel) -> ChannelDto {
    let config = serde_json::to_value(c.config.redacted()).unwrap_or_default();
    ChannelDto {
        id: c.id,
        name: c.name,
        kind: c.kind.as_str().into(),
        service_id: c.service_id,
        team_id: c.team_id,
        config,
    }
}

#[utoipa::path(get, path = "/api/v1/channels", tag = "oncall", responses((status = 200, body = List<ChannelDto>)))]
pub(super) async fn list_channels(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<List<ChannelDto>>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(List {
        items: state.db.list_channels(None).await?.into_iter().map(channel_dto).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/channels",
    tag = "oncall",
    request_body = ChannelBody,
    responses((status = 201, body = ChannelDto))
)]
pub(super) async fn create_channel(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<ChannelBody>,
) -> Result<(StatusCode, Json<ChannelDto>), ApiError> {
    auth.require(Permission::Configure)?;
    let service_id = service_ref(&state, b.service_id.as_deref(), "service_id").await?;
    let spec = ChannelSpec::new(&b.name, &b.kind, b.config, service_id, b.team_id)?;
    let c = op::create_channel(&state, &auth, spec).await?;
    Ok((StatusCode::CREATED, Json(channel_dto(c))))
}

#[utoipa::path(
    delete,
    path = "/api/v1/channels/{id}",
    tag = "oncall",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
pub(super) async fn delete_channel(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete_channel(&state, &auth, parse_id(Entity::Channel, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct TestResult {
    pub ok: bool,
    pub error: Option<String>,
}

/// Sends a test notification through a channel now.
#[utoipa::path(
    post,
    path = "/api/v1/channels/{id}/test",
    tag = "oncall",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TestResult))
)]
pub(super) async fn test_channel(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    Ok(Json(match op::test_channel(&state, &auth, parse_id(Entity::Channel, &id)?).await? {
        Ok(_) => TestResult { ok: true, error: None },
        Err(e) => TestResult { ok: false, error: Some(e) },
    }))
}
