//! Delivery log.

use super::*;

#[derive(Serialize, ToSchema)]
pub struct DeliveryDto {
    pub id: Uuid,
    /// 1-based escalation level.
    pub level: i32,
    /// email, slack, teams, discord, webhook or pagerduty.
    pub channel: String,
    pub target: String,
    /// pending, sent, failed or cancelled.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<String>,
    pub sent_at: Option<String>,
    pub created_at: String,
}

impl From<Delivery> for DeliveryDto {
    fn from(d: Delivery) -> Self {
        DeliveryDto {
            id: d.id,
            level: d.level + 1,
            channel: d.channel,
            target: d.target,
            next_attempt_at: (d.status == "pending").then(|| ts(opsdeck_core::clock::from_millis(d.next_attempt_at))),
            status: d.status,
            attempts: d.attempts,
            last_error: d.last_error,
            sent_at: d.sent_at.map(|t| ts(opsdeck_core::clock::from_millis(t))),
            created_at: ts(opsdeck_core::clock::from_millis(d.created_at)),
        }
    }
}

/// The incident's delivery log: every notification with its status and attempts.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/notifications",
    tag = "oncall",
    params(("id" = String, Path)),
    responses((status = 200, body = List<DeliveryDto>))
)]
pub(super) async fn incident_notifications(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<DeliveryDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let inc = find_incident(&state, &id).await?;
    let items = state.db.deliveries(inc.id).await?.into_iter().map(DeliveryDto::from).collect();
    Ok(Json(List { items, next_cursor: None }))
}
