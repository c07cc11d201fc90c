//! The audit log, for admins.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::operations::audit::{AuditFilterInput, list_audit as op_list_audit};
use axum::Json;
use axum::extract::State;
use opsdeck_core::audit::AuditEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

#[derive(Serialize, ToSchema)]
pub struct AuditDto {
    pub id: Uuid,
    pub at: String,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<Uuid>,
    pub summary: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl From<AuditEntry> for AuditDto {
    fn from(e: AuditEntry) -> Self {
        AuditDto {
            id: e.id,
            at: ts(e.at),
            actor_id: e.actor_id,
            actor: e.actor,
            action: e.action,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            summary: e.summary,
            before: e.before,
            after: e.after,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Action prefix, e.g. `service.` or `user.update`.
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    /// Actor label, e.g. a username.
    pub actor: Option<String>,
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
}

impl From<AuditQuery> for AuditFilterInput {
    fn from(q: AuditQuery) -> Self {
        AuditFilterInput {
            action: q.action,
            entity_type: q.entity_type,
            entity_id: q.entity_id,
            actor: q.actor,
            limit: q.limit,
            cursor: q.cursor,
        }
    }
}

/// Audit entries, newest first (admin).
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditQuery),
    responses((status = 200, body = List<AuditDto>))
)]
async fn list_audit(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<List<AuditDto>>, ApiError> {
    let page = op_list_audit(&state, &auth, q.into()).await?;
    Ok(Json(List::from_page(page, AuditDto::from)))
}
