//! Probe agents: registration and revocation (admins), the list (everyone), and the two
//! endpoints agents call with their own token: their monitors, and their results (JSON, gzip
//! allowed).

use super::ts;
use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ApiJson, parse_id};
use crate::operations::agents as op;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use opsdeck_core::Entity;
use opsdeck_core::agent::{AgentSpec, BATCH_MAX, REASON_MAX};
use opsdeck_core::monitor::CheckStatus;
use opsdeck_store::agent::{Agent, LocationResult};
use serde::{Deserialize, Serialize};
use std::io::Read;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// An upload's JSON after gzip is undone; beyond this it is refused (a small gzip body can
/// expand a thousandfold).
const MAX_UPLOAD_JSON: u64 = 8 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agents, register_agent))
        .routes(routes!(revoke_agent))
        .routes(routes!(agent_monitors))
        .routes(routes!(agent_results))
}

#[derive(Serialize, ToSchema)]
pub struct AgentDto {
    pub id: Uuid,
    pub name: String,
    pub location: String,
    /// The token's first characters.
    pub token_hint: String,
    pub created_at: String,
    /// When it last asked for its monitors or uploaded results.
    pub last_seen_at: Option<String>,
    /// The version the agent reported.
    pub version: Option<String>,
    /// How old the oldest result of its last upload was on arrival, in milliseconds.
    pub lag_ms: Option<i64>,
    /// online (seen within a minute), offline, or never_seen.
    #[schema(pattern = "^(online|offline|never_seen)$")]
    pub status: String,
    pub results_total: i64,
    /// Results it could not deliver (its buffer overflowed, or they were over a day old).
    pub dropped_total: i64,
}

impl AgentDto {
    pub fn new(a: Agent, now: chrono::DateTime<chrono::Utc>) -> Self {
        AgentDto {
            status: op::status(&a, now).into(),
            id: a.id,
            name: a.name,
            location: a.location,
            token_hint: a.hint,
            created_at: ts(a.created_at),
            last_seen_at: a.last_seen_at.map(ts),
            version: a.version,
            lag_ms: a.lag_ms,
            results_total: a.results_total,
            dropped_total: a.dropped_total,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AgentList {
    pub items: Vec<AgentDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterAgent {
    #[schema(schema_with = crate::api::schema::name)]
    pub name: String,
    /// Lowercase letters, digits and single dashes; not `server` (the nodes' own location).
    #[schema(schema_with = crate::api::schema::location)]
    pub location: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegisteredAgent {
    #[serde(flatten)]
    pub agent: AgentDto,
    /// The agent's token: shown this once, store it where the agent runs.
    pub token: String,
}

/// Lists the probe agents with when they were last seen, their version and lag.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", responses((status = 200, body = AgentList)))]
async fn list_agents(State(state): State<AppState>, auth: Auth) -> Result<Json<AgentList>, ApiError> {
    let now = state.now();
    let items = op::list(&state, &auth).await?.into_iter().map(|a| AgentDto::new(a, now)).collect();
    Ok(Json(AgentList { items }))
}

/// Registers a probe agent for a location (admins); the answer carries its token, once.
#[utoipa::path(
    post,
    path = "/api/v1/agents",
    tag = "agents",
    request_body = RegisterAgent,
    responses((status = 201, body = RegisteredAgent))
)]
async fn register_agent(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<RegisterAgent>,
) -> Result<(StatusCode, Json<RegisteredAgent>), ApiError> {
    let spec = AgentSpec::new(&req.name, &req.location)?;
    let (agent, token) = op::register(&state, &auth, spec).await?;
    Ok((StatusCode::CREATED, Json(RegisteredAgent { agent: AgentDto::new(agent, state.now()), token })))
}

/// Revokes a probe agent at once (admins): its token stops working; its results stay.
#[utoipa::path(
    delete,
    path = "/api/v1/agents/{id}",
    tag = "agents",
    params(("id" = Uuid, Path)),
    responses((status = 204))
)]
async fn revoke_agent(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::revoke(&state, &auth, parse_id(Entity::Agent, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct AgentMonitorDto {
    pub id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub interval_seconds: i32,
    pub timeout_seconds: i32,
    /// In clear: the agent needs the secrets to check.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct AgentMonitors {
    pub location: String,
    pub monitors: Vec<AgentMonitorDto>,
}

/// The version the agent names, if it does (at most 40 characters).
fn version(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("x-opsdeck-agent-version").and_then(|v| v.to_str().ok())?;
    Some(v.chars().take(40).collect())
}

/// For agents (their own token): the monitors of the agent's location, with their settings.
#[utoipa::path(
    get,
    path = "/api/v1/agent/monitors",
    tag = "agents",
    responses(
        (status = 200, body = AgentMonitors),
        (status = 409, description = "The agent was registered for another location", body = super::ErrorBody)
    )
)]
async fn agent_monitors(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<AgentMonitors>, ApiError> {
    let agent = op::caller(&state, &headers).await?;
    let monitors = op::assignments(&state, &agent, version(&headers).as_deref()).await?;
    Ok(Json(AgentMonitors {
        location: agent.location,
        monitors: monitors
            .into_iter()
            .map(|m| AgentMonitorDto {
                id: m.id,
                name: m.name,
                kind: m.kind.to_string(),
                interval_seconds: m.interval_seconds,
                timeout_seconds: m.timeout_seconds,
                settings: m.settings.to_json(),
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultIn {
    pub monitor_id: Uuid,
    /// When the check started (RFC 3339).
    #[schema(format = DateTime)]
    pub at: String,
    #[schema(pattern = "^(up|degraded|down|unknown)$")]
    pub status: String,
    #[schema(minimum = 0)]
    pub latency_ms: Option<f64>,
    /// Why it passed or failed; cut to 500 characters.
    pub reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultsUpload {
    #[schema(max_items = 5000)]
    pub results: Vec<ResultIn>,
}

#[derive(Serialize, ToSchema)]
pub struct UploadAnswer {
    pub accepted: usize,
    /// Results for monitors that do not run from this location (any more), or over a day old.
    pub ignored: usize,
}

/// For agents (their own token): uploads check results, as JSON or gzip-compressed JSON
/// (`Content-Encoding: gzip`). `X-Opsdeck-Dropped` counts results the agent had to drop;
/// `X-Opsdeck-Agent-Time` (RFC 3339, when it sent the upload) corrects its clock's offset.
#[utoipa::path(
    post,
    path = "/api/v1/agent/results",
    tag = "agents",
    request_body = ResultsUpload,
    responses((status = 200, body = UploadAnswer))
)]
async fn agent_results(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<UploadAnswer>, ApiError> {
    let agent = op::caller(&state, &headers).await?;
    let upload: ResultsUpload = decode(&headers, &body)?;
    if upload.results.len() > BATCH_MAX {
        return Err(ApiError::invalid("results", format!("must hold at most {BATCH_MAX} results; upload in batches")));
    }
    let now = state.now();
    // Results carry the agent's time: shifted by its clock's offset (from the time it says it
    // sent the upload), and never later than now, so a wrong clock neither keeps a silent
    // agent's vote fresh nor makes every vote stale.
    let offset = headers
        .get("x-opsdeck-agent-time")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| opsdeck_core::time::parse_rfc3339("x-opsdeck-agent-time", v).ok())
        .map(|sent| now - sent)
        .unwrap_or_else(chrono::Duration::zero);
    let mut results = Vec::with_capacity(upload.results.len());
    for (i, r) in upload.results.into_iter().enumerate() {
        let at = opsdeck_core::time::parse_rfc3339("at", &r.at)
            .map_err(|e| ApiError::invalid(&format!("results[{i}].at"), e.to_string()))?;
        let at = opsdeck_core::time::add(at, offset).unwrap_or(at).min(now);
        let status = match r.status.as_str() {
            "up" => CheckStatus::Up,
            "degraded" => CheckStatus::Degraded,
            "down" => CheckStatus::Down,
            "unknown" => CheckStatus::Unknown,
            _ => {
                return Err(ApiError::invalid(
                    &format!("results[{i}].status"),
                    "must be up, degraded, down or unknown",
                ));
            }
        };
        let latency_ms = match r.latency_ms {
            Some(l) if !l.is_finite() || l < 0.0 => {
                return Err(ApiError::invalid(&format!("results[{i}].latency_ms"), "must be a number of 0 or more"));
            }
            l => l,
        };
        let reason = r.reason.chars().take(REASON_MAX).collect();
        results.push(LocationResult { monitor_id: r.monitor_id, at, status, latency_ms, reason });
    }
    let dropped = headers
        .get("x-opsdeck-dropped")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0)
        .clamp(0, i64::from(u32::MAX));
    let recorded = op::upload(&state, &agent, version(&headers).as_deref(), dropped, &results).await?;
    Ok(Json(UploadAnswer { accepted: recorded.accepted, ignored: recorded.ignored }))
}

/// The upload's JSON, gunzipped when it says so, bounded either way.
fn decode(headers: &HeaderMap, body: &Bytes) -> Result<ResultsUpload, ApiError> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !json_type {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "send the results as application/json"));
    }
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::trim);
    let raw: std::borrow::Cow<[u8]> = match encoding {
        None | Some("identity") => body.as_ref().into(),
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::new();
            let mut reader = flate2::read::GzDecoder::new(body.as_ref()).take(MAX_UPLOAD_JSON + 1);
            reader.read_to_end(&mut out).map_err(|_| ApiError::bad_request("the body is not valid gzip"))?;
            if out.len() as u64 > MAX_UPLOAD_JSON {
                return Err(ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("the uncompressed results are larger than {} MiB", MAX_UPLOAD_JSON / 1024 / 1024),
                ));
            }
            out.into()
        }
        Some(_) => {
            return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "Content-Encoding must be gzip or absent"));
        }
    };
    serde_json::from_slice(&raw).map_err(|e| ApiError::bad_request(format!("the results are not valid: {e}")))
}
