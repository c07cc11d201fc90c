//! Completes the OpenAPI document so it says what the server does: the error answers every
//! operation can give (from the extractors and the layers all of them share), the error-code
//! enum, and unique operation ids. Handlers document their own success answers and any error
//! that is specific to them; this adds the rest by rule, so no operation can forget one.

use crate::error::ErrorCode;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Schema};

/// The `ErrorCode` schema: every code as a string enum.
pub fn error_code_schema() -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ErrorCode::all().into_iter().map(|c| c.as_str())))
            .description(Some("Stable machine-readable code; docs/api.md says what each means."))
            .build(),
    )
}

/// Adds the shared error answers to every operation under `/api/`.
pub fn complete(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/api/") {
            continue;
        }
        let ops = [
            (&mut item.get, false),
            (&mut item.post, true),
            (&mut item.put, true),
            (&mut item.patch, true),
            (&mut item.delete, true),
        ];
        for (op, writes) in ops {
            if let Some(op) = op.as_mut() {
                add_errors(path, op, writes);
            }
        }
    }
}

fn add_errors(path: &str, op: &mut Operation, writes: bool) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_path = params.iter().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Path));
    let has_query = params.iter().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
    let has_body = op.request_body.is_some();
    let public = matches!(path, "/api/v1/auth/login" | "/api/v1/setup");
    let mut add = |status: u16, when: bool, what: &str| {
        if when {
            op.responses.responses.entry(status.to_string()).or_insert_with(|| error_response(what));
        }
    };
    add(400, has_body || has_query, "Malformed JSON or query string (`invalid_request`)");
    add(401, !public || path == "/api/v1/auth/login", "Not signed in, or the token is unknown or revoked");
    add(403, true, "The role is not enough, or a cross-site browser request was refused");
    add(404, has_path || has_query || has_body, "A named object does not exist (`…_not_found`)");
    add(409, writes, "The change conflicts with the current state (`conflict`)");
    add(413, has_body, "The body is larger than 1 MiB (`payload_too_large`)");
    add(415, has_body, "The body is not sent as `application/json`");
    add(422, has_body || has_query || has_path, "A field or parameter breaks a rule; `details.field` names it");
    add(429, path == "/api/v1/auth/login", "Too many sign-in attempts");
    add(500, true, "A bug; it is logged on the server");
    add(503, true, "The database cannot be reached");
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build(),
    )
}
