//! Instance settings: the name shown in the UI and the public URL used in links.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::operations::settings as op;
use axum::Json;
use axum::extract::State;
use opsdeck_core::role::Permission;
use opsdeck_core::settings::InstanceSettings;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, put_settings))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Shown in the page title and header.
    #[schema(schema_with = crate::api::schema::name)]
    pub instance_name: String,
    /// The address people use to reach Opsdeck, for links in notifications.
    #[schema(schema_with = crate::api::schema::url_opt)]
    pub public_url: Option<String>,
}

impl From<InstanceSettings> for Settings {
    fn from(s: InstanceSettings) -> Self {
        Settings { instance_name: s.instance_name, public_url: s.public_url }
    }
}

/// Current settings.
#[utoipa::path(get, path = "/api/v1/settings", tag = "settings", responses((status = 200, body = Settings)))]
async fn get_settings(State(state): State<AppState>, auth: Auth) -> Result<Json<Settings>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(op::load(&state).await?.into()))
}

/// Replaces the settings (admin).
#[utoipa::path(
    put,
    path = "/api/v1/settings",
    tag = "settings",
    request_body = Settings,
    responses((status = 200, body = Settings))
)]
async fn put_settings(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(s): ApiJson<Settings>,
) -> Result<Json<Settings>, ApiError> {
    let wanted = InstanceSettings::new(&s.instance_name, s.public_url.as_deref())?;
    Ok(Json(op::save(&state, &auth, wanted).await?.into()))
}
