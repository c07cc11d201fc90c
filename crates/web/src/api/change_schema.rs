//! Field schemas of change management's bodies (see `schema.rs` for the shared rules).

use super::schema::{enum_of, string, text_pattern};
use utoipa::openapi::schema::Object;

/// A change type (`opsdeck_core::change::ChangeType`).
pub fn change_type_opt() -> Object {
    enum_of(true, opsdeck_core::change::ChangeType::ALL.iter().map(|c| c.as_str()).collect())
}
/// A close code of a change.
pub fn close_code_opt() -> Object {
    enum_of(true, opsdeck_core::change::CloseCode::ALL.iter().map(|c| c.as_str()).collect())
}
/// A change window's kind: maintenance or freeze.
pub fn window_kind() -> Object {
    enum_of(false, opsdeck_core::change::conflict::WindowKind::ALL.iter().map(|c| c.as_str()).collect())
}
/// A risk level.
pub fn risk_level_opt() -> Object {
    enum_of(true, opsdeck_core::change::risk::RiskLevel::ALL.iter().map(|c| c.as_str()).collect())
}
/// A change's plan: implementation, test or backout.
pub fn plan_opt() -> Object {
    string(true, None, Some(opsdeck_core::change::spec::PLAN_MAX), None)
}
/// Why a conflict is acceptable: 1 to 1,000 characters, not blank.
pub fn reason() -> Object {
    string(false, None, None, Some(text_pattern(1000)))
}
