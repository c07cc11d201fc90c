//! One error shape for the API (`{"error": {"code", "message", "details"}}`) with a stable code
//! table; the HTML pages reuse the same codes and messages.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use opsdeck_store::StoreError;
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError { status, code: code.into(), message: message.into(), details: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed".into(),
            message: format!("{field}: {message}"),
            details: Some(json!({ "field": field })),
        }
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in, or send an API token as \"Authorization: Bearer TOKEN\"",
        )
    }

    pub fn forbidden(needed: opsdeck_core::role::Role) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", format!("this needs the {needed} role or higher"))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("{}_not_found", what.replace(' ', "_").to_lowercase()),
            format!("{what} not found"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle this request; it has been logged",
        )
    }

    pub fn body(&self) -> Value {
        let mut e = json!({ "code": self.code, "message": self.message });
        if let Some(d) = &self.details {
            e["details"] = d.clone();
        }
        json!({ "error": e })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
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
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
            e @ (StoreError::Db(_) | StoreError::Migrate(_)) => {
                tracing::error!(error = %e, "database error");
                if e.is_unavailable() {
                    return ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "the database is not reachable; try again shortly",
                    );
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
            opsdeck_core::Error::Conflict(m) => ApiError::conflict(m),
            opsdeck_core::Error::Hash(m) => {
                tracing::error!(error = %m, "password hashing failed");
                ApiError::internal()
            }
        }
    }
}

pub async fn not_found_fallback(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::new(StatusCode::NOT_FOUND, "route_not_found", format!("no API endpoint at {}", uri.path()))
            .into_response()
    } else {
        crate::ui::error_page(&ApiError::new(
            StatusCode::NOT_FOUND,
            "page_not_found",
            "There is no page at this address.",
        ))
    }
}

pub fn csrf_rejection(_: tower_http::csrf::ProtectionError) -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_rejected",
        "cross-site request refused: submit forms from Opsdeck's own pages, or call the API without browser cookies",
    )
    .into_response()
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal().into_response()
}
