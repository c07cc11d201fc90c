//! Field schemas of the service desk's bodies (see `schema.rs` for the shared rules).

use super::schema::{enum_of, string, text_pattern};
use utoipa::openapi::schema::Object;

/// A ticket type.
pub fn ticket_type_opt() -> Object {
    enum_of(true, opsdeck_core::desk::ticket::TicketType::ALL.iter().map(|c| c.as_str()).collect())
}

/// What a pending ticket waits for: up to 500 characters, not blank.
pub fn reason_opt() -> Object {
    string(true, None, None, Some(text_pattern(500)))
}
