//! One error shape for the API (`{"error": {"code", "message", "details"}}`) and the HTML error
//! pages, with the stable codes as a type: [`ErrorCode`] carries each code's name, HTTP status
//! and description, and is the enum the OpenAPI document publishes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use opsdeck_core::Entity;
use opsdeck_store::StoreError;
use serde_json::{Value, json};

/// Every code an API error can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    Unauthenticated,
    InvalidToken,
    InvalidCredentials,
    Forbidden,
    CsrfRejected,
    NotFound(Entity),
    RouteNotFound,
    PageNotFound,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    RateLimited,
    Internal,
    Unavailable,
}

impl ErrorCode {
    /// Every code, in the order `docs/api.md` lists them.
    pub fn all() -> Vec<ErrorCode> {
        use ErrorCode::*;
        let mut v = vec![InvalidRequest, Unauthenticated, InvalidToken, InvalidCredentials, Forbidden, CsrfRejected];
        v.extend(Entity::ALL.into_iter().map(NotFound));
        v.extend([
            RouteNotFound,
            PageNotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            ValidationFailed,
            RateLimited,
            Internal,
            Unavailable,
        ]);
        v
    }

    /// The code as it appears in responses.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::CsrfRejected => "csrf_rejected",
            ErrorCode::NotFound(e) => e.not_found_code(),
            ErrorCode::RouteNotFound => "route_not_found",
            ErrorCode::PageNotFound => "page_not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated | ErrorCode::InvalidToken | ErrorCode::InvalidCredentials => {
                StatusCode::UNAUTHORIZED
            }
            ErrorCode::Forbidden | ErrorCode::CsrfRejected => StatusCode::FORBIDDEN,
            ErrorCode::NotFound(_) | ErrorCode::RouteNotFound | ErrorCode::PageNotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// What the code means, for the API guide and the OpenAPI document.
    pub fn description(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "malformed JSON, wrong types, unknown fields, bad query parameters or cursor",
            ErrorCode::Unauthenticated => "no credentials",
            ErrorCode::InvalidToken => "unknown or revoked token, or its user is disabled",
            ErrorCode::InvalidCredentials => "wrong username or password",
            ErrorCode::Forbidden => "the role is not enough; the message names the role needed",
            ErrorCode::CsrfRejected => "a cross-site browser request was refused",
            ErrorCode::NotFound(_) => "no such object (the code names its kind)",
            ErrorCode::RouteNotFound => "no API endpoint at this path",
            ErrorCode::PageNotFound => "no page at this address (HTML)",
            ErrorCode::Conflict => {
                "duplicate slug or username, a dependency cycle, the last admin, a move the state does not allow"
            }
            ErrorCode::PayloadTooLarge => "body over its limit (1 MiB for JSON; uploads and imports say theirs)",
            ErrorCode::UnsupportedMediaType => "body not sent as `application/json`",
            ErrorCode::ValidationFailed => {
                "a field or parameter breaks a rule; `details.field` names it (the first, when \
                 several are wrong: `details.fields` then lists every `{field, message}`)"
            }
            ErrorCode::RateLimited => "too many sign-in attempts or status page sign-ups",
            ErrorCode::Internal => "a bug; logged on the server",
            ErrorCode::Unavailable => "the database, or a server a series is read from, cannot be reached",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API or page failure: a code, a message that says what to fix, optional details.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), details: None }
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError {
            code: ErrorCode::ValidationFailed,
            message: format!("{field}: {message}"),
            details: Some(json!({ "field": field })),
        }
    }

    /// Several wrong fields: `details.field` names the first (as for one), `details.fields` lists
    /// every `{field, message}` so a form can mark them all.
    pub fn invalid_fields(problems: &[opsdeck_core::FieldProblem]) -> Self {
        let named: Vec<(String, String)> = problems.iter().map(|p| (p.field.to_owned(), p.message.clone())).collect();
        Self::invalid_named(&named)
    }

    /// As [`ApiError::invalid_fields`] for field paths built at run time (`monitors[3].name`).
    pub fn invalid_named(problems: &[(String, String)]) -> Self {
        let Some((first, _)) = problems.first() else {
            return Self::new(ErrorCode::ValidationFailed, "the request breaks a rule");
        };
        let list: Vec<Value> = problems.iter().map(|(f, m)| json!({ "field": f, "message": m })).collect();
        let message: Vec<String> = problems.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        ApiError {
            code: ErrorCode::ValidationFailed,
            message: message.join("; "),
            details: Some(json!({ "field": first, "fields": list })),
        }
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "sign in, or send an API token as \"Authorization: Bearer TOKEN\"")
    }

    pub fn forbidden(needed: opsdeck_core::role::Role) -> Self {
        Self::new(ErrorCode::Forbidden, format!("this needs the {needed} role or higher"))
    }

    pub fn not_found(what: Entity) -> Self {
        Self::new(ErrorCode::NotFound(what), format!("{what} not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "the server failed to handle this request; it has been logged")
    }

    pub fn body(&self) -> Value {
        let mut e = json!({ "code": self.code.as_str(), "message": self.message });
        if let Some(d) = &self.details {
            e["details"] = d.clone();
        }
        json!({ "error": e })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), axum::Json(self.body())).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict(m) => ApiError::conflict(m),
            StoreError::Invalid(e) => e.into(),
            StoreError::Config(m) => {
                tracing::error!(error = %m, "store configuration error");
                ApiError::new(ErrorCode::Unavailable, m)
            }
            e @ (StoreError::Db(_) | StoreError::Sqlite(_) | StoreError::Migrate(_)) => {
                tracing::error!(error = %e, "database error");
                if e.is_unavailable() {
                    return ApiError::new(ErrorCode::Unavailable, "the database is not reachable; try again shortly");
                }
                ApiError::internal()
            }
        }
    }
}

impl From<opsdeck_core::Error> for ApiError {
    fn from(e: opsdeck_core::Error) -> Self {
        match e {
            opsdeck_core::Error::Invalid { field, message } => ApiError::invalid(field, message),
            opsdeck_core::Error::Fields(problems) => ApiError::invalid_fields(&problems),
            opsdeck_core::Error::Conflict(m) => ApiError::conflict(m),
            opsdeck_core::Error::Hash(m) => {
                tracing::error!(error = %m, "password hashing failed");
                ApiError::internal()
            }
        }
    }
}

pub async fn not_found_fallback(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::new(ErrorCode::RouteNotFound, format!("no API endpoint at {}", uri.path())).into_response()
    } else {
        let e = ApiError::new(ErrorCode::PageNotFound, "There is no page at this address.");
        crate::ui::error_page_for(&state, &headers, &e).await
    }
}

pub fn csrf_rejection(_: tower_http::csrf::ProtectionError) -> Response {
    ApiError::new(
        ErrorCode::CsrfRejected,
        "cross-site request refused: submit forms from Opsdeck's own pages, or call the API without browser cookies",
    )
    .into_response()
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal().into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_client_or_server_errors() {
        let all = ErrorCode::all();
        let mut names: Vec<&str> = all.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert!(all.iter().all(|c| c.status().is_client_error() || c.status().is_server_error()));
    }

    /// The API guide's table lists every code with its status.
    #[test]
    fn api_guide_lists_every_code() {
        let guide = include_str!("../../../docs/api.md");
        for c in ErrorCode::all() {
            let row = format!("| {} | `{}` |", c.status().as_u16(), c.as_str());
            assert!(guide.contains(&row), "docs/api.md is missing the row starting {row:?}");
        }
    }
}
