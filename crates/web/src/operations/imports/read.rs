use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::import::{Bundle, SourceKind, gatus, grafana_oncall, kuma, opsgenie, pagerduty};
use opsdeck_core::role::Permission;
use opsdeck_notify::vendor_api::{FetchError, VendorApi, fetch_grafana_oncall, fetch_opsgenie, fetch_pagerduty};

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

/// Reads an on-call tool's account through its API with `t` (a read-only key is enough):
/// PagerDuty's REST API v2 (`Token token=…`), Opsgenie's v2 (`GenieKey …`; read and
/// configuration access), Grafana OnCall's public API v1 (the token as it is, `api_url` its
/// `…/api/v1` root).
pub async fn vendor(
    state: &AppState,
    auth: &Auth,
    source: SourceKind,
    api_url: &str,
    t: &str,
) -> Result<Bundle, ApiError> {
    auth.require(Permission::Administer)?;
    let t = token(t)?;
    let (label, header) = match source {
        SourceKind::Pagerduty => ("PagerDuty", format!("Token token={t}")),
        SourceKind::Opsgenie => ("Opsgenie", format!("GenieKey {t}")),
        SourceKind::GrafanaOncall => ("Grafana OnCall", t.to_owned()),
        _ => return Err(ApiError::invalid("source", "choose PagerDuty, Opsgenie or Grafana OnCall")),
    };
    let api = VendorApi::new(label, api_url, header, &state.config.egress).map_err(fetch_error)?;
    let now = state.now();
    Ok(match source {
        SourceKind::Opsgenie => opsgenie::map(&fetch_opsgenie(&api, now).await.map_err(fetch_error)?, now),
        SourceKind::GrafanaOncall => {
            grafana_oncall::map(&fetch_grafana_oncall(&api, now).await.map_err(fetch_error)?, now)
        }
        _ => pagerduty::map(&fetch_pagerduty(&api, now).await.map_err(fetch_error)?, now),
    })
}

/// A PagerDuty account as saved JSON (what `opsdeck import pagerduty --from-dir` sends): each
/// list as the API returns its objects, schedules as `GET /schedules/{id}` returns them (with
/// `final_schedule` for the on-call check), overrides by schedule id.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PagerdutyExport {
    #[serde(default)]
    users: Vec<serde_json::Value>,
    #[serde(default)]
    teams: Vec<serde_json::Value>,
    #[serde(default)]
    schedules: Vec<serde_json::Value>,
    #[serde(default)]
    overrides: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
    #[serde(default)]
    escalation_policies: Vec<serde_json::Value>,
    #[serde(default)]
    services: Vec<serde_json::Value>,
    #[serde(default)]
    maintenance_windows: Vec<serde_json::Value>,
}

/// The largest saved PagerDuty export taken.
pub const EXPORT_FILE_MAX: usize = 64 * 1024 * 1024;

/// Reads a PagerDuty account from its saved JSON responses.
pub fn pagerduty_export(state: &AppState, auth: &Auth, body: &[u8]) -> Result<Bundle, ApiError> {
    auth.require(Permission::Administer)?;
    let e: PagerdutyExport = serde_json::from_slice(body).map_err(|err| {
        ApiError::invalid("export", format!("not a PagerDuty export (users, teams, schedules, overrides, …): {err}"))
    })?;
    let overrides: usize = e.overrides.values().map(Vec::len).sum::<usize>().max(e.overrides.len());
    let sizes =
        [e.users.len(), e.teams.len(), e.schedules.len(), e.escalation_policies.len(), e.services.len(), overrides];
    if sizes.iter().any(|n| *n > opsdeck_core::import::OBJECTS_MAX) {
        return Err(ApiError::invalid(
            "export",
            format!("at most {} objects of a kind", opsdeck_core::import::OBJECTS_MAX),
        ));
    }
    let docs = pagerduty::Documents {
        users: e.users,
        teams: e.teams,
        schedules: e.schedules,
        overrides: e.overrides.into_iter().collect(),
        policies: e.escalation_policies,
        services: e.services,
        windows: e.maintenance_windows,
    };
    Ok(pagerduty::map(&docs, state.now()))
}

/// Reads an Uptime Kuma database file (its bytes as uploaded).
pub async fn uptime_kuma(state: &AppState, auth: &Auth, file: &[u8]) -> Result<Bundle, ApiError> {
    auth.require(Permission::Administer)?;
    if !file.starts_with(b"SQLite format 3\0") {
        return Err(ApiError::invalid("db", "not an SQLite database: send Uptime Kuma's data/kuma.db"));
    }
    // SQLite reads files, not bytes: a copy only this user may read, removed (with any side
    // files SQLite makes) when the guard goes, whatever happens.
    let temp = TempFile(std::env::temp_dir().join(format!("opsdeck-kuma-{}.db", uuid::Uuid::now_v7())));
    let (path, bytes) = (temp.0.clone(), file.to_vec());
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path)?.write_all(&bytes)
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(|_| ApiError::internal())?;
    let dump = opsdeck_store::import::read_kuma(temp.0.clone()).await?;
    Ok(kuma::map(&dump, state.now()))
}

struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
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
