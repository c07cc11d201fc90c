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

/// A reply: 1 to 50,000 characters, not blank.
pub fn reply_body() -> Object {
    string(false, None, Some(50_000), Some(format!("[^{WS}]")))
}
