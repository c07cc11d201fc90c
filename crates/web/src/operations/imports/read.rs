use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::import::{Bundle, gatus, kuma, pagerduty};
use opsdeck_core::role::Permission;
use opsdeck_notify::vendor_api::{FetchError, VendorApi, fetch_pagerduty};

/// The largest `kuma.db` taken (a file over it is refused before it is read).
pub const KUMA_FILE_MAX: usize = 256 * 1024 * 1024;
/// The largest Gatus configuration taken.
pub const GATUS_FILE_MAX: usize = 4 * 1024 * 1024;
/// The longest API token taken.
pub const TOKEN_MAX: usize = 500;

fn fetch_error(e: FetchError) -> ApiError {
    let field = if matches!(e, FetchError::Refused(ref m) if m.contains("token")) { "token" } else { "api_url" };
    ApiError::invalid(field, e.to_string())
}

fn token(t: &str) -> Result<&str, ApiError> {
    let t = t.trim();
    if t.is_empty() || t.len() > TOKEN_MAX || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid("token", format!("give the API token: 1 to {TOKEN_MAX} printable characters")));
    }
    Ok(t)
}

/// Reads a PagerDuty account through its REST API v2 with `token` (a read-only key is enough).
pub async fn pagerduty(state: &AppState, auth: &Auth, api_url: &str, t: &str) -> Result<Bundle, ApiError> {
    auth.require(Permission::Administer)?;
    let auth_header = format!("Token token={}", token(t)?);
    let api = VendorApi::new("PagerDuty", api_url, auth_header, &state.config.egress).map_err(fetch_error)?;
    let docs = fetch_pagerduty(&api, state.now()).await.map_err(fetch_error)?;
    Ok(pagerduty::map(&docs, state.now()))
}

/// Reads an Uptime Kuma database file (its bytes as uploaded).
pub async fn uptime_kuma(state: &AppState, auth: &Auth, file: &[u8]) -> Result<Bundle, ApiError> {
    auth.require(Permission::Administer)?;
    if !file.starts_with(b"SQLite format 3\0") {
        return Err(ApiError::invalid("db", "not an SQLite database: send Uptime Kuma's data/kuma.db"));
    }
    // SQLite reads files, not bytes: a private temporary copy, removed whatever happens.
    let path = std::env::temp_dir().join(format!("opsdeck-kuma-{}.db", uuid::Uuid::now_v7()));
    tokio::fs::write(&path, file).await.map_err(|_| ApiError::internal())?;
    let dump = opsdeck_store::import::read_kuma(path.clone()).await;
    let _ = tokio::fs::remove_file(&path).await;
    Ok(kuma::map(&dump?, state.now()))
}

/// Reads a Gatus configuration file.
pub fn gatus(auth: &Auth, text: &[u8]) -> Result<Bundle, ApiError> {
    auth.require(Permission::Administer)?;
    let text = std::str::from_utf8(text).map_err(|_| ApiError::invalid("config", "the file is not UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(ApiError::invalid("config", "the file is empty: send Gatus's config.yaml"));
    }
    gatus::map(text).map_err(|e| ApiError::invalid("config", e))
}
