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

/// The shared error answers: (status, component name, description).
const ERRORS: [(u16, &str, &str); 11] = [
    (400, "BadRequest", "Malformed JSON or query string (`invalid_request`)"),
    (401, "Unauthenticated", "Not signed in, or the token is unknown or revoked"),
    (403, "Forbidden", "The role is not enough, or a cross-site browser request was refused"),
    (404, "NotFound", "A named object does not exist (`…_not_found`)"),
    (409, "Conflict", "The change conflicts with the current state (`conflict`)"),
    (413, "PayloadTooLarge", "The body is over its limit: 1 MiB for JSON, files their own (`payload_too_large`)"),
    (415, "UnsupportedMediaType", "The body is not sent as `application/json`"),
    (422, "ValidationFailed", "A field or parameter breaks a rule; `details.field` names it"),
    (429, "RateLimited", "Too many sign-in attempts"),
    (500, "Internal", "A bug; it is logged on the server"),
    (503, "Unavailable", "The database cannot be reached"),
];

/// Adds the shared error answers to every operation under `/api/`, as references to one
/// response component per status (the document stays small in memory and on the wire).
pub fn complete(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for (_, name, description) in ERRORS {
        components.responses.insert(
            name.to_owned(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                    )
                    .build(),
            ),
        );
    }
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
    let applies = |status: u16| match status {
        400 => has_body || has_query,
        401 => !public || path == "/api/v1/auth/login",
        404 => has_path || has_query || has_body,
        409 => writes,
        413 | 415 => has_body,
        422 => has_body || has_query || has_path,
        429 => path == "/api/v1/auth/login",
        _ => true,
    };
    for (status, name, _) in ERRORS {
        if applies(status) {
            op.responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
        }
    }
}
