//! Alerts from a series' forecast: a capacity reached within a number of days, and anomalies of
//! the newest hour, each raised as a warning on a service.

use super::series::{SeriesDto, dto};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::operations::series_alerts as op;
use axum::Json;
use axum::extract::{Path, State};
use opsdeck_core::role::Permission;
use opsdeck_core::series::Method;
use opsdeck_core::series_alert::SeriesAlertSpec;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(set_alert, clear_alert))
}

/// What a series' forecast alerts on: `capacity` reached within `within_days` (give both), and/or
/// `anomalies` (the newest hour outside the range its hour of the week expects).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesAlertBody {
    /// The service the alerts are raised on.
    pub service_id: Uuid,
    /// The model: `linear` (default) or `holt`.
    #[schema(pattern = "^(linear|holt)$")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Days of history the forecast learns from (default 30).
    #[schema(minimum = 1, maximum = 730)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_days: Option<i64>,
    #[schema(minimum = -1e18, maximum = 1e18)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<f64>,
    #[schema(minimum = 1, maximum = 365)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<i64>,
    #[serde(default)]
    pub anomalies: bool,
}

impl SeriesAlertBody {
    pub(crate) fn of(a: &SeriesAlertSpec) -> SeriesAlertBody {
        SeriesAlertBody {
            service_id: a.service_id,
            method: Some(a.method.as_str().to_owned()),
            training_days: Some(i64::from(a.training_days)),
            capacity: a.capacity,
            within_days: a.within_days.map(i64::from),
            anomalies: a.anomalies,
        }
    }

    pub(crate) fn spec(self) -> Result<SeriesAlertSpec, ApiError> {
        let method = match self.method.as_deref() {
            None | Some("linear") => Method::Linear,
            Some("holt") => Method::Holt,
            Some(_) => return Err(ApiError::invalid("method", "must be linear or holt")),
        };
        Ok(SeriesAlertSpec::new(
            self.service_id,
            method,
            self.training_days,
            self.capacity,
            self.within_days,
            self.anomalies,
        )?)
    }
}

/// Makes a series' forecast alert on a service (managers). Raised as warnings with dedup keys
/// `series:{id}:exhaustion` and `series:{id}:anomaly`, resolved when the condition clears.
#[utoipa::path(
    put,
    path = "/api/v1/series/{name}/alert",
    tag = "series",
    params(("name" = String, Path, pattern = r"^[A-Za-z_:][A-Za-z0-9_:.\-]{0,199}$")),
    request_body = SeriesAlertBody,
    responses((status = 200, body = SeriesDto))
)]
async fn set_alert(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<SeriesAlertBody>,
) -> Result<Json<SeriesDto>, ApiError> {
    auth.require(Permission::Configure)?;
    let spec = body.spec()?;
    Ok(Json(dto(&op::set(&state, &auth, &name, Some(spec)).await?)))
}

/// Stops a series alerting (managers); alerts that fire resolve.
#[utoipa::path(
    delete,
    path = "/api/v1/series/{name}/alert",
    tag = "series",
    params(("name" = String, Path, pattern = r"^[A-Za-z_:][A-Za-z0-9_:.\-]{0,199}$")),
    responses((status = 200, body = SeriesDto))
)]
async fn clear_alert(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<Json<SeriesDto>, ApiError> {
    auth.require(Permission::Configure)?;
    Ok(Json(dto(&op::set(&state, &auth, &name, None).await?)))
}
