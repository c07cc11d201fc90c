//! Integration operations (a service's inbound alert sources: add, rename or remap, rotate the
//! key, delete), a service's alert settings, and the payload preview the API and the
//! integrations page share. Every change to an integration clears the ingest route cache.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::alert::rules::{AlertSettings, Grouping, Rule, RuleAction};
use opsdeck_core::alert::webhook::Mapping;
use opsdeck_core::alert::{IntegrationType, MAX_PAYLOAD_BYTES, Signal, webhook};
use opsdeck_core::role::Permission;
use opsdeck_store::catalogue::Ref;
use opsdeck_store::integration::Integration;
use uuid::Uuid;

/// Where an integration's sender posts; `key` fills the key into URLs that carry it.
pub fn ingest_url(base: &str, kind: IntegrationType, key: &str) -> String {
    match kind {
        IntegrationType::Pagerduty => format!("{base}/v2/enqueue"),
        other => format!("{base}/integrations/{key}/{}", other.as_str()),
    }
}

/// The name as given, or the type's label when blank.
fn name_or_label(name: Option<&str>, kind: IntegrationType) -> Result<String, ApiError> {
    Ok(match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => opsdeck_core::validate::name("name", n)?,
        None => kind.label().to_owned(),
    })
}

fn check_mapping_kind(mapping: &Option<Mapping>, kind: IntegrationType) -> Result<(), ApiError> {
    if mapping.is_some() && kind != IntegrationType::Webhook {
        return Err(ApiError::invalid("mapping", "only webhook integrations have a field mapping"));
    }
    Ok(())
}

/// Adds an integration to the service `service_id` (manager or admin); returns it with its key,
/// which is shown this once.
pub async fn create_integration(
    state: &AppState,
    auth: &Auth,
    service_id: Uuid,
    kind: IntegrationType,
    name: Option<&str>,
    mapping: Option<Mapping>,
) -> Result<(Integration, String), ApiError> {
    auth.require(Permission::Configure)?;
    let name = name_or_label(name, kind)?;
    check_mapping_kind(&mapping, kind)?;
    let mapping = mapping.unwrap_or_default().validate()?;
    let created = state.db.create_integration(&auth.actor(), state.now(), service_id, kind, &name, mapping).await?;
    state.routes.clear();
    Ok(created)
}

/// Renames an integration or changes its webhook mapping; `None` keeps what it has.
pub async fn update_integration(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    name: Option<&str>,
    mapping: Option<Mapping>,
) -> Result<Integration, ApiError> {
    auth.require(Permission::Configure)?;
    let cur = state.db.get_integration(id).await?;
    let name = match name {
        Some(n) => opsdeck_core::validate::name("name", n)?,
        None => cur.name.clone(),
    };
    check_mapping_kind(&mapping, cur.kind)?;
    let mapping = match mapping {
        Some(m) => m.validate()?,
        None => cur.mapping.clone(),
    };
    let it = state.db.update_integration(&auth.actor(), state.now(), cur.id, &name, mapping).await?;
    state.routes.clear();
    Ok(it)
}

/// Deletes an integration; its key stops working at once.
pub async fn delete_integration(state: &AppState, auth: &Auth, id: Uuid) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    state.db.delete_integration(&auth.actor(), state.now(), id).await?;
    state.routes.clear();
    Ok(())
}

/// Replaces the key: the old one stops working at once, the new one is returned this once.
pub async fn rotate_key(state: &AppState, auth: &Auth, id: Uuid) -> Result<(Integration, String), ApiError> {
    auth.require(Permission::Configure)?;
    let rotated = state.db.rotate_integration_key(&auth.actor(), state.now(), id).await?;
    state.routes.clear();
    Ok(rotated)
}

/// What a payload would become.
#[derive(Debug, Clone)]
pub struct Preview {
    pub ok: bool,
    /// Why the payload would be refused.
    pub error: Option<String>,
    /// The alerts it would make: action, dedup_key, summary, severity, source.
    pub alert: Option<serde_json::Value>,
}

/// What `payload` would become through `it` (with `mapping` instead of the saved one), without
/// storing anything.
pub fn preview_payload(
    it: &Integration,
    mapping: Option<Mapping>,
    payload: &serde_json::Value,
) -> Result<Preview, ApiError> {
    let bytes = serde_json::to_vec(payload).map_err(|_| ApiError::bad_request("payload: not serialisable"))?;
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(ApiError::invalid("payload", format!("is larger than {MAX_PAYLOAD_BYTES} bytes")));
    }
    let now = chrono::Utc::now();
    let result: Result<Vec<Signal>, String> = match it.kind {
        IntegrationType::Webhook => {
            let m = mapping.unwrap_or_else(|| it.mapping.clone()).validate()?;
            webhook::parse(&bytes, &m).map(|s| vec![s])
        }
        IntegrationType::Alertmanager | IntegrationType::Grafana => {
            opsdeck_core::alert::alertmanager::parse_webhook(&bytes, now)
        }
        IntegrationType::Pagerduty => opsdeck_core::alert::pagerduty::parse_event(&bytes, || "(generated)".into())
            .map(|e| vec![e.signal])
            .map_err(|e| e.join("; ")),
    };
    Ok(match result {
        Ok(signals) => Preview {
            ok: true,
            error: None,
            alert: Some(serde_json::json!(
                signals
                    .iter()
                    .map(|s| serde_json::json!({
                        "action": s.action.as_str(), "dedup_key": s.dedup_key, "summary": s.summary,
                        "severity": s.severity.as_str(), "source": s.source,
                    }))
                    .collect::<Vec<_>>()
            )),
        },
        Err(e) => Preview { ok: false, error: Some(e), alert: None },
    })
}

/// A service's alert settings as given; [`validated_settings`] checks them.
#[derive(Debug, Clone)]
pub struct SettingsInput {
    /// time, key or none.
    pub grouping: String,
    pub group_window_seconds: i32,
    pub auto_resolve: bool,
    pub reopen_window_seconds: i32,
    pub rules: Vec<Rule>,
}

/// Checks alert settings for the service `sid`, including that routed-to services exist.
async fn validated_settings(state: &AppState, sid: Uuid, s: SettingsInput) -> Result<AlertSettings, ApiError> {
    let grouping =
        Grouping::parse(s.grouping.trim()).ok_or_else(|| ApiError::invalid("grouping", "must be time, key or none"))?;
    let settings = AlertSettings {
        grouping,
        group_window_seconds: s.group_window_seconds,
        auto_resolve: s.auto_resolve,
        reopen_window_seconds: s.reopen_window_seconds,
        rules: s.rules,
    }
    .validate(sid)?;
    for r in &settings.rules {
        if let RuleAction::Route { service_id } = r.then
            && let Err(opsdeck_store::StoreError::NotFound(_)) = state.db.get_service(Ref::Id(service_id)).await
        {
            return Err(ApiError::invalid("rules", format!("no service has id {service_id}")));
        }
    }
    Ok(settings)
}

/// Replaces the alert settings of the service `sid` (manager or admin).
pub async fn set_alert_settings(
    state: &AppState,
    auth: &Auth,
    sid: Uuid,
    s: SettingsInput,
) -> Result<AlertSettings, ApiError> {
    auth.require(Permission::Configure)?;
    let settings = validated_settings(state, sid, s).await?;
    state.db.set_alert_settings(&auth.actor(), state.now(), sid, &settings).await?;
    Ok(settings)
}
