//! Contact methods and rules.

use super::*;

/// `me` or a user id; people manage their own, admins anyone's.
pub(super) fn user_scope(auth: &Auth, raw: &str) -> Result<Uuid, ApiError> {
    let id = if raw == "me" { auth.user.id } else { parse_id(Entity::User, raw)? };
    if id != auth.user.id {
        auth.require(Permission::Administer)?;
    }
    Ok(id)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    /// email, slack, teams, discord or webhook.
    #[schema(schema_with = crate::api::schema::contact_kind)]
    pub kind: String,
    /// An e-mail address or a webhook URL.
    #[schema(min_length = 1, max_length = 2048)]
    pub address: String,
    #[serde(default)]
    #[schema(schema_with = crate::api::schema::description)]
    pub label: String,
}

/// A way to reach a person.
#[derive(Serialize, ToSchema)]
pub struct ContactMethodDto {
    pub id: Uuid,
    pub user_id: Uuid,
    /// email, slack, teams, discord or webhook.
    pub kind: String,
    pub address: String,
    pub label: String,
}

impl From<opsdeck_store::oncall::ContactMethod> for ContactMethodDto {
    fn from(c: opsdeck_store::oncall::ContactMethod) -> Self {
        ContactMethodDto { id: c.id, user_id: c.user_id, kind: c.kind, address: c.address, label: c.label }
    }
}

/// Notify a person through one of their contact methods, some minutes after they are paged.
#[derive(Serialize, ToSchema)]
pub struct NotificationRuleDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub contact_method_id: Uuid,
    pub delay_minutes: i32,
}

impl From<opsdeck_store::oncall::NotificationRule> for NotificationRuleDto {
    fn from(r: opsdeck_store::oncall::NotificationRule) -> Self {
        NotificationRuleDto {
            id: r.id,
            user_id: r.user_id,
            contact_method_id: r.contact_method_id,
            delay_minutes: r.delay_minutes,
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/contact-methods",
    tag = "oncall",
    params(("id" = String, Path)),
    responses((status = 200, body = List<ContactMethodDto>))
)]
pub(super) async fn list_contacts(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<ContactMethodDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let uid = user_scope(&auth, &id)?;
    let items = state.db.contact_methods(uid).await?.into_iter().map(ContactMethodDto::from).collect();
    Ok(Json(List { items, next_cursor: None }))
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/contact-methods",
    tag = "oncall",
    params(("id" = String, Path)),
    request_body = ContactBody,
    responses((status = 201, body = ContactMethodDto))
)]
pub(super) async fn add_contact(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ContactBody>,
) -> Result<(StatusCode, Json<ContactMethodDto>), ApiError> {
    auth.require(Permission::Read)?;
    let uid = user_scope(&auth, &id)?;
    let c = op::add_contact_method(&state, &auth, uid, ContactSpec::new(&b.kind, &b.address, &b.label)?).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}/contact-methods/{contact_id}",
    tag = "oncall",
    params(("id" = String, Path), ("contact_id" = Uuid, Path)),
    responses((status = 204))
)]
pub(super) async fn delete_contact(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, cid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Read)?;
    let uid = user_scope(&auth, &id)?;
    op::delete_contact_method(&state, &auth, uid, parse_id(Entity::ContactMethod, &cid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    pub contact_method_id: Uuid,
    /// Minutes after the escalation reaches this person (0 = at once).
    #[schema(minimum = 0, maximum = 1440)]
    pub delay_minutes: i32,
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/notification-rules",
    tag = "oncall",
    params(("id" = String, Path)),
    responses((status = 200, body = List<NotificationRuleDto>))
)]
pub(super) async fn list_rules(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<NotificationRuleDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let uid = user_scope(&auth, &id)?;
    let items = state.db.notification_rules(uid).await?.into_iter().map(NotificationRuleDto::from).collect();
    Ok(Json(List { items, next_cursor: None }))
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/notification-rules",
    tag = "oncall",
    params(("id" = String, Path)),
    request_body = RuleBody,
    responses((status = 201, body = NotificationRuleDto))
)]
pub(super) async fn add_rule(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RuleBody>,
) -> Result<(StatusCode, Json<NotificationRuleDto>), ApiError> {
    auth.require(Permission::Read)?;
    let uid = user_scope(&auth, &id)?;
    let r =
        op::add_notification_rule(&state, &auth, uid, RuleSpec::new(b.contact_method_id, i64::from(b.delay_minutes))?)
            .await?;
    Ok((StatusCode::CREATED, Json(r.into())))
}

#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}/notification-rules/{rule_id}",
    tag = "oncall",
    params(("id" = String, Path), ("rule_id" = Uuid, Path)),
    responses((status = 204))
)]
pub(super) async fn delete_rule(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, rid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Read)?;
    let uid = user_scope(&auth, &id)?;
    op::delete_notification_rule(&state, &auth, uid, parse_id(Entity::NotificationRule, &rid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
