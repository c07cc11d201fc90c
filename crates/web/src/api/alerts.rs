//! Alerts: what senders reported, grouped into incidents.

use super::{List, cursor, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::operations::incidents::find_incident;
use crate::operations::service_ref;
use axum::Json;
use axum::extract::{Path, State};
use opsdeck_core::Entity;
use opsdeck_core::alert::AlertStatus;
use opsdeck_core::role::Permission;
use opsdeck_store::incident::{Alert, AlertFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_alerts)).routes(routes!(get_alert))
}

#[derive(Serialize, ToSchema)]
pub struct AlertDto {
    pub id: Uuid,
    pub dedup_key: String,
    /// firing, acknowledged or resolved.
    pub status: String,
    pub count: i64,
    pub incident_id: Option<Uuid>,
    pub service_id: Option<Uuid>,
    pub integration_id: Option<Uuid>,
    /// pagerduty, alertmanager, prometheus, grafana, webhook or monitor.
    pub source_type: String,
    pub source: String,
    /// critical, error, warning or info.
    pub severity: String,
    pub summary: String,
    pub group_key: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub links: serde_json::Value,
    #[schema(value_type = Object)]
    pub labels: serde_json::Value,
    pub first_seen: String,
    pub last_seen: String,
    pub started_at: Option<String>,
    pub acknowledged_at: Option<String>,
    pub resolved_at: Option<String>,
    pub expires_at: Option<String>,
}

impl From<Alert> for AlertDto {
    fn from(a: Alert) -> Self {
        AlertDto {
            id: a.id,
            dedup_key: a.dedup_key,
            status: a.status.as_str().into(),
            count: a.count,
            incident_id: a.incident_id,
            service_id: a.service_id,
            integration_id: a.integration_id,
            source_type: a.source_type,
            source: a.source,
            severity: a.severity.as_str().into(),
            summary: a.summary,
            group_key: a.group_key,
            details: a.details,
            links: serde_json::to_value(&a.links).unwrap_or_default(),
            labels: serde_json::to_value(&a.labels).unwrap_or_default(),
            first_seen: ts(a.first_seen),
            last_seen: ts(a.last_seen),
            started_at: a.started_at.map(ts),
            acknowledged_at: a.acknowledged_at.map(ts),
            resolved_at: a.resolved_at.map(ts),
            expires_at: a.expires_at.map(ts),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    pub incident_id: Option<String>,
    pub service_id: Option<String>,
    /// firing, acknowledged or resolved.
    #[param(schema_with = crate::api::schema::alert_status_opt)]
    pub status: Option<String>,
    /// Text in the summary, or an exact dedup key.
    pub q: Option<String>,
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
}

pub async fn alert_filter(state: &AppState, q: &AlertQuery) -> Result<AlertFilter, ApiError> {
    let incident_id = match q.incident_id.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => Some(find_incident(state, raw).await?.id),
        None => None,
    };
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            AlertStatus::parse(s).ok_or_else(|| ApiError::bad_request("status: use firing, acknowledged or resolved"))
        })
        .transpose()?;
    Ok(AlertFilter {
        incident_id,
        service_id: service_ref(state, q.service_id.as_deref(), "service_id").await?,
        status,
        q: q.q.clone(),
        cursor: cursor(q.cursor.as_deref())?,
        limit: crate::api::limit(q.limit)?,
    })
}

/// Alerts, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    params(AlertQuery),
    responses((status = 200, body = List<AlertDto>))
)]
async fn list_alerts(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Json<List<AlertDto>>, ApiError> {
    auth.require(Permission::Read)?;
    let page = state.db.list_alerts(&alert_filter(&state, &q).await?).await?;
    Ok(Json(List::from_page(page, AlertDto::from)))
}

/// One alert.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    tag = "alerts",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AlertDto))
)]
async fn get_alert(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<AlertDto>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(state.db.get_alert(crate::extract::parse_id(Entity::Alert, &id)?).await?.into()))
}
