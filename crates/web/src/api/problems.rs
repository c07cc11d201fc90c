//! Problems and known errors.

use super::incidents::OptionalJson;
use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::operations::cursor;
use crate::operations::problems as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::desk::problem::{ProblemAction, ProblemInput, ProblemSpec, ProblemState};
use opsdeck_store::desk::problems::{Problem, ProblemFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_problems, create_problem))
        .routes(routes!(get_problem, update_problem))
        .routes(routes!(act_on_problem))
}

#[derive(Serialize, ToSchema)]
pub struct ProblemDto {
    pub id: Uuid,
    /// PRB-12.
    pub number: String,
    pub title: String,
    pub description: String,
    pub root_cause: String,
    pub workaround: String,
    /// open, known_error, resolved or closed.
    pub state: String,
    /// A known error: the workaround is written down and the problem is not resolved.
    pub known_error: bool,
    /// The change that ships the fix.
    pub fix_change_id: Option<Uuid>,
    pub incident_ids: Vec<Uuid>,
    pub ticket_ids: Vec<Uuid>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
}

pub fn dto(p: Problem) -> ProblemDto {
    ProblemDto {
        id: p.id,
        number: p.key(),
        known_error: p.state == ProblemState::KnownError,
        title: p.title,
        description: p.description,
        root_cause: p.root_cause,
        workaround: p.workaround,
        state: p.state.as_str().into(),
        fix_change_id: p.fix_change_id,
        incident_ids: p.incident_ids,
        ticket_ids: p.ticket_ids,
        version: p.version,
        created_at: ts(p.created_at),
        updated_at: ts(p.updated_at),
        resolved_at: p.resolved_at.map(ts),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProblemBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub title: String,
    #[schema(schema_with = crate::api::schema::description_opt)]
    pub description: Option<String>,
    #[schema(schema_with = crate::api::ticket_schema::problem_text_opt)]
    pub root_cause: Option<String>,
    /// How people get going again until the fix ships; a known error needs one.
    #[schema(schema_with = crate::api::ticket_schema::problem_text_opt)]
    pub workaround: Option<String>,
    /// Incidents this problem causes (at most 500).
    #[schema(max_items = 500)]
    pub incident_ids: Option<Vec<Uuid>>,
    /// Tickets this problem causes (at most 500).
    #[schema(max_items = 500)]
    pub ticket_ids: Option<Vec<Uuid>>,
    /// The change that ships the fix.
    pub fix_change_id: Option<Uuid>,
    /// For an edit: the version you loaded (required; an older one is refused with 409).
    pub version: Option<i64>,
}

fn spec(b: ProblemBody) -> Result<ProblemSpec, ApiError> {
    Ok(ProblemSpec::new(&ProblemInput {
        title: b.title,
        description: b.description,
        root_cause: b.root_cause,
        workaround: b.workaround,
        incident_ids: b.incident_ids.unwrap_or_default(),
        ticket_ids: b.ticket_ids.unwrap_or_default(),
        fix_change_id: b.fix_change_id,
    })?)
}

/// Opens a problem over incidents and tickets (responders and up). A linked id that does not
/// exist is refused (422) and nothing is written.
#[utoipa::path(post, path = "/api/v1/problems", tag = "problems", request_body = ProblemBody,
    responses((status = 201, body = ProblemDto)))]
async fn create_problem(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<ProblemBody>,
) -> Result<(StatusCode, Json<ProblemDto>), ApiError> {
    let p = op::create(&state, &auth, &spec(b)?).await?;
    Ok((StatusCode::CREATED, Json(dto(p))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProblemQuery {
    /// Only problems in these states, comma-separated (`known_error` lists the known errors).
    #[param(pattern = "^((open|known_error|resolved|closed)(,(open|known_error|resolved|closed))*)?$")]
    pub state: Option<String>,
    /// Words the title, root cause or workaround hold (every word; the last also as a prefix).
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Only problems linked to this incident.
    pub incident_id: Option<Uuid>,
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
}

/// Problems, newest first (responders and up); `state=known_error&q=…` searches known errors.
#[utoipa::path(get, path = "/api/v1/problems", tag = "problems", params(ProblemQuery),
    responses((status = 200, body = List<ProblemDto>)))]
async fn list_problems(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ProblemQuery>,
) -> Result<Json<List<ProblemDto>>, ApiError> {
    if q.q.as_deref().is_some_and(|s| s.chars().count() > 200) {
        return Err(ApiError::invalid("q", "must be at most 200 characters"));
    }
    let states = q
        .state
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            ProblemState::parse(s)
                .ok_or_else(|| ApiError::invalid("state", format!("must be {}", ProblemState::choices())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let f = ProblemFilter {
        states,
        words: Vec::new(),
        incident_id: q.incident_id,
        cursor: cursor(q.cursor.as_deref())?,
        limit: super::limit(q.limit)?,
    };
    Ok(Json(List::from_page(op::list(&state, &auth, q.q.as_deref(), &f).await?, dto)))
}

/// A problem with its links (responders and up).
#[utoipa::path(get, path = "/api/v1/problems/{id}", tag = "problems",
    params(("id" = String, Path, description = "The problem's id or number (PRB-12)")),
    responses((status = 200, body = ProblemDto)))]
async fn get_problem(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<ProblemDto>, ApiError> {
    Ok(Json(dto(op::find(&state, &auth, &id).await?)))
}

/// Replaces a problem's text, links and fix at the version you loaded.
#[utoipa::path(put, path = "/api/v1/problems/{id}", tag = "problems",
    params(("id" = String, Path, description = "The problem's id or number")), request_body = ProblemBody,
    responses((status = 200, body = ProblemDto)))]
async fn update_problem(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ProblemBody>,
) -> Result<Json<ProblemDto>, ApiError> {
    let version = b.version.ok_or_else(|| ApiError::invalid("version", "give the version you loaded"))?;
    let spec = spec(b)?;
    Ok(Json(dto(op::update(&state, &auth, &id, version, &spec).await?)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ProblemActBody {
    /// The version you loaded; a move on an older one is refused (409).
    pub version: Option<i64>,
    /// With resolve: also resolve every linked incident still open (noted on its timeline).
    pub resolve_incidents: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct ProblemMovedDto {
    pub problem: ProblemDto,
    /// The incidents resolved with the problem.
    pub resolved_incident_ids: Vec<Uuid>,
}

/// Moves a problem: known_error (needs a workaround), resolve (optionally resolving its
/// incidents), close (a resolved problem) or reopen. A move the state forbids answers 409.
#[utoipa::path(post, path = "/api/v1/problems/{id}/{action}", tag = "problems",
    params(
        ("id" = String, Path, description = "The problem's id or number"),
        ("action" = String, Path, description = "known_error, resolve, close or reopen",
            pattern = "^(known_error|resolve|close|reopen)$"),
    ),
    request_body(content = Option<ProblemActBody>, description = "optional"),
    responses((status = 200, body = ProblemMovedDto)))]
async fn act_on_problem(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, action)): Path<(String, String)>,
    OptionalJson(b): OptionalJson<ProblemActBody>,
) -> Result<Json<ProblemMovedDto>, ApiError> {
    let action = ProblemAction::parse(&action)
        .ok_or_else(|| ApiError::invalid("action", format!("must be {}", ProblemAction::choices())))?;
    let m = op::act(&state, &auth, &id, action, b.version, b.resolve_incidents.unwrap_or(false)).await?;
    Ok(Json(ProblemMovedDto { problem: dto(m.problem), resolved_incident_ids: m.resolved_incidents }))
}
