//! Instance settings: the name shown in the UI and the public URL used in links.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use axum::Json;
use axum::extract::State;
use opsdeck_core::role::Permission;
use opsdeck_core::validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, put_settings))
}

#[derive(Serialize, Deserialize, ToSchema, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Shown in the page title and header.
    pub instance_name: String,
    /// The address people use to reach Opsdeck, for links in notifications.
    pub public_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { instance_name: "Opsdeck".into(), public_url: None }
    }
}

const KEY: &str = "instance";

pub async fn load(state: &AppState) -> Result<Settings, ApiError> {
    Ok(state.db.get_setting(KEY).await?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default())
}

pub async fn save(state: &AppState, auth: &Auth, s: Settings) -> Result<Settings, ApiError> {
    auth.require(Permission::Administer)?;
    let s = Settings {
        instance_name: validate::name("instance_name", &s.instance_name)?,
        public_url: validate::optional_url("public_url", s.public_url.as_deref())?,
    };
    let value = serde_json::to_value(&s).map_err(|_| ApiError::internal())?;
    state.db.put_setting(&auth.actor(), state.now(), KEY, &value).await?;
    Ok(s)
}

/// Current settings.
#[utoipa::path(get, path = "/api/v1/settings", tag = "settings", responses((status = 200, body = Settings)))]
async fn get_settings(State(state): State<AppState>, auth: Auth) -> Result<Json<Settings>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(Json(load(&state).await?))
}

/// Replaces the settings (admin).
#[utoipa::path(put, path = "/api/v1/settings", tag = "settings", request_body = Settings, responses((status = 200, body = Settings)))]
async fn put_settings(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(s): ApiJson<Settings>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(save(&state, &auth, s).await?))
}
