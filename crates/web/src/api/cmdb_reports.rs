//! CMDB reports: an incident's blast radius and the asset lifecycle report.

use super::cmdb::{CiDto, ImpactDto, ImpactItemDto};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::operations::cmdb as op;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(blast_radius)).routes(routes!(lifecycle_report))
}

#[derive(Serialize, ToSchema)]
pub struct BlastRadiusDto {
    /// The CIs the incident's alerts are about (their monitors' CIs, or a `ci` label).
    pub failing: Vec<CiDto>,
    /// What their failure reaches together.
    pub items: Vec<ImpactItemDto>,
    pub truncated: bool,
}

/// An incident's blast radius: the CIs its alerts are about and what they impact. Empty lists
/// when no alert is tied to a CI.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/blast-radius",
    tag = "cmdb",
    params(("id" = String, Path, description = "The incident's id or number (INC-12)")),
    responses((status = 200, body = BlastRadiusDto))
)]
async fn blast_radius(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<BlastRadiusDto>, ApiError> {
    auth.require(opsdeck_core::role::Permission::Read)?;
    let inc = crate::operations::incidents::find_incident(&state, &id).await?;
    Ok(Json(match op::blast_radius(&state, &auth, inc.id).await? {
        None => BlastRadiusDto { failing: Vec::new(), items: Vec::new(), truncated: false },
        Some((failing, impact)) => {
            let ImpactDto { items, truncated } = impact.into();
            BlastRadiusDto { failing: failing.into_iter().map(CiDto::from).collect(), items, truncated }
        }
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LifecycleQuery {
    /// How far ahead to look, in days (0–3650, default 90); dates already past are listed too.
    #[param(minimum = 0, maximum = 3650)]
    pub within_days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct LifecycleItemDto {
    pub ci_id: Uuid,
    pub name: String,
    pub class: String,
    pub owner_team_name: Option<String>,
    /// warranty_end, end_of_support or end_of_life.
    pub event: String,
    pub date: String,
    /// Negative when the date has passed.
    pub days_left: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ContractDueDto {
    pub contract_id: Uuid,
    pub name: String,
    pub vendor: String,
    /// notice_deadline, contract_end or contract_renewal.
    pub event: String,
    pub date: String,
    /// Negative when the date has passed.
    pub days_left: i64,
    pub ci_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct LifecycleDto {
    /// CIs' warranty, support and life ends.
    pub items: Vec<LifecycleItemDto>,
    /// Contracts' notice deadlines, ends and renewals.
    pub contracts: Vec<ContractDueDto>,
}

/// The lifecycle report: CIs (not retired) whose warranty, vendor support or life ends within
/// `within_days`, or has ended, and contracts whose notice deadline, end or renewal does; earliest
/// first (at most 1,000 of each).
#[utoipa::path(
    get,
    path = "/api/v1/cmdb/lifecycle",
    tag = "cmdb",
    params(LifecycleQuery),
    responses((status = 200, body = LifecycleDto))
)]
async fn lifecycle_report(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<LifecycleQuery>,
) -> Result<Json<LifecycleDto>, ApiError> {
    let days = op::within_days("within_days", q.within_days)?;
    let today = state.now().date_naive();
    let items = op::lifecycle(&state, &auth, days)
        .await?
        .into_iter()
        .map(|(ci, event, date)| LifecycleItemDto {
            ci_id: ci.id,
            name: ci.name,
            class: ci.class.as_str().into(),
            owner_team_name: ci.owner_team_name,
            event: event.as_str().into(),
            date: date.format("%Y-%m-%d").to_string(),
            days_left: (date - today).num_days(),
        })
        .collect();
    let contracts = crate::operations::contracts::due(&state, &auth, days)
        .await?
        .into_iter()
        .map(|(c, event, date)| ContractDueDto {
            contract_id: c.id,
            name: c.name,
            vendor: c.vendor,
            event: event.as_str().into(),
            date: date.format("%Y-%m-%d").to_string(),
            days_left: (date - today).num_days(),
            ci_count: c.ci_count,
        })
        .collect();
    Ok(Json(LifecycleDto { items, contracts }))
}
