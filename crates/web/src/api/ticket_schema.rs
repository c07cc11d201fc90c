//! Field schemas of the service desk's bodies (see `schema.rs` for the shared rules).

use super::schema::{WS, enum_of, string};
use utoipa::openapi::schema::Object;

/// A ticket type.
pub fn ticket_type_opt() -> Object {
    enum_of(true, opsdeck_core::desk::ticket::TicketType::ALL.iter().map(|c| c.as_str()).collect())
}

/// What a pending ticket waits for: up to 500 characters.
pub fn reason_opt() -> Object {
    string(true, None, Some(500), None)
}

/// A reply: 1 to 50,000 characters, not blank, no NUL (PostgreSQL text cannot hold one).
pub fn reply_body() -> Object {
    string(false, None, Some(50_000), Some(format!(r"^[^\x00]*[^\x00{WS}][^\x00]*$")))
}

/// An article body: 1 to 100,000 characters of Markdown, not blank, no NUL.
pub fn article_body() -> Object {
    string(false, None, Some(opsdeck_core::desk::kb::BODY_MAX), Some(format!(r"^[^\x00]*[^\x00{WS}][^\x00]*$")))
}

/// A knowledge-base category: up to 60 characters, no control characters.
pub fn category_opt() -> Object {
    string(true, None, Some(opsdeck_core::desk::kb::CATEGORY_MAX), Some(r"^[^\x00-\x1f\x7f-\x9f]*$".into()))
}

/// Who reads an article.
pub fn visibility_opt() -> Object {
    enum_of(true, opsdeck_core::desk::kb::Visibility::ALL.iter().map(|c| c.as_str()).collect())
}

/// A root cause or workaround: up to 20,000 characters, no NUL.
pub fn problem_text_opt() -> Object {
    string(true, None, Some(opsdeck_core::desk::problem::TEXT_MAX), Some(r"^[^\x00]*$".into()))
}
