//! The Model Context Protocol server at `/mcp` (Streamable HTTP, through the official `rmcp`
//! SDK): AI assistants list and work incidents, see who is on call and search services with
//! an API token, as its user. Stateless (no session held in a node: any node answers any
//! request) and JSON answers; a request without a valid token is a 401 before it reaches the
//! protocol. Tools are in [`tools`]; incidents and services are also resources, and two prompts
//! draft a stakeholder summary and a postmortem.

mod monitoring;
mod prompts;
mod tools;

use crate::AppState;
use crate::auth::{Auth, Via, authenticate};
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams, GetPromptResponse,
    Implementation, ListPromptsResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource, ResourceContents,
    ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler};
use std::sync::Arc;

/// A request's body, at most (a tool call's arguments are small).
const BODY_MAX: usize = 1024 * 1024;

/// The `/mcp` route: the token check, then the protocol.
pub fn router(state: AppState) -> axum::Router<AppState> {
    let handler_state = state.clone();
    // Any host: every request carries a bearer token (a rebound browser page has none).
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .disable_allowed_hosts()
        .with_max_request_body_bytes(BODY_MAX);
    let service = StreamableHttpService::new(
        move || Ok(McpServer { state: handler_state.clone() }),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    axum::Router::new().nest_service("/mcp", service).layer(axum::middleware::from_fn_with_state(state, require_token))
}

/// A valid API token or a 401 naming what to send (a browser session is not enough: an
/// assistant acts with a token whose role caps it); the caller's [`Auth`] travels in the
/// request's extensions, which the SDK hands to every handler.
async fn require_token(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let (challenge, refusal) = match authenticate(&state, req.headers()).await {
        Ok(Some(auth)) if matches!(auth.via, Via::Token(_)) => {
            req.extensions_mut().insert(auth);
            return next.run(req).await;
        }
        Ok(_) => ("Bearer", ApiError::unauthenticated()),
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => ("Bearer error=\"invalid_token\"", e),
        Err(e) => return e.into_response(),
    };
    let mut r = refusal.into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static(challenge));
    r
}

#[derive(Clone)]
struct McpServer {
    state: AppState,
}

/// The caller, as the token check left it.
fn caller(context: &RequestContext<RoleServer>) -> Result<Auth, ErrorData> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<Auth>())
        .cloned()
        .ok_or_else(|| ErrorData::invalid_request("send an API token as \"Authorization: Bearer TOKEN\"", None))
}

/// An error a caller reads: its code and message as the API gives them.
fn told(e: &ApiError) -> String {
    format!("{}: {}", e.code.as_str(), e.message)
}

/// An error outside a tool's result, by kind: the caller's mistake, or the server's.
fn protocol_error(e: &ApiError) -> ErrorData {
    if e.status().is_client_error() {
        ErrorData::invalid_params(told(e), None)
    } else {
        ErrorData::internal_error(told(e), None)
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder().enable_tools().enable_resources().enable_prompts().build();
        let mut info = ServerConfig::new(capabilities);
        info.server_info = Implementation::new("opsdeck", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(
            "Opsdeck runs this organisation's on-call, incidents and service catalogue. Incidents are INC-n. \
             Read before you act; acknowledging and resolving page people less or close the incident for \
             everyone, so confirm with the user first."
                .into(),
        );
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = tools::all()
            .into_iter()
            .map(|t| {
                let schema = match t.schema {
                    serde_json::Value::Object(m) => m,
                    _ => serde_json::Map::new(),
                };
                let hints = ToolAnnotations::new().read_only(t.read_only);
                Tool::new(t.name, t.description, Arc::new(schema)).with_annotations(hints)
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let auth = caller(&context)?;
        if !tools::all().iter().any(|t| t.name == request.name) {
            let why = format!("no tool {:?}; tools/list names them", request.name);
            return Err(ErrorData::invalid_params(why, None));
        }
        let args = request.arguments.unwrap_or_default();
        let result = match tools::call(&self.state, &auth, &request.name, args).await {
            Ok(v) => {
                let text = serde_json::to_string_pretty(&v).unwrap_or_default();
                let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
                r.structured_content = Some(v);
                r
            }
            Err(e) => CallToolResult::error(vec![ContentBlock::text(told(&e))]),
        };
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let auth = caller(&context)?;
        let items = prompts::resources(&self.state, &auth).await.map_err(|e| protocol_error(&e))?;
        Ok(ListResourcesResult::with_all_items(items))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let auth = caller(&context)?;
        let text = prompts::read(&self.state, &auth, &request.uri).await.map_err(|e| match e.status() {
            StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY => ErrorData::resource_not_found(told(&e), None),
            _ => protocol_error(&e),
        })?;
        let contents = ResourceContents::text(text, request.uri.clone()).with_mime_type("application/json");
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(prompts::all()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let auth = caller(&context)?;
        let args = request.arguments.unwrap_or_default();
        prompts::get(&self.state, &auth, &request.name, &args).await.map(Into::into).map_err(|e| protocol_error(&e))
    }
}

/// A resource as `resources/list` names it.
fn resource(uri: String, name: String, description: String) -> Resource {
    Resource::new(uri, name).with_description(description).with_mime_type("application/json")
}
