//! Instance settings: read by every page's frame and by links in messages, written by admins.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use axum::http::HeaderMap;
use opsdeck_core::role::Permission;
use opsdeck_core::settings::InstanceSettings;

const KEY: &str = "instance";

/// The stored settings, or the defaults before an admin saved any.
pub async fn load(state: &AppState) -> Result<InstanceSettings, ApiError> {
    Ok(state.db.get_setting(KEY).await?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default())
}

/// Replaces the settings (admin).
pub async fn save(state: &AppState, auth: &Auth, s: InstanceSettings) -> Result<InstanceSettings, ApiError> {
    auth.require(Permission::Administer)?;
    let value = serde_json::to_value(&s).map_err(|_| ApiError::internal())?;
    state.db.put_setting(&auth.actor(), state.now(), KEY, &value).await?;
    Ok(s)
}

/// The address links should use: the configured public URL, else the request's `Host`.
pub async fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Ok(s) = load(state).await
        && let Some(u) = s.public_url
    {
        return u.trim_end_matches('/').to_owned();
    }
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
    format!("http://{host}")
}
