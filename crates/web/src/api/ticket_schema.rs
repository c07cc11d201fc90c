//! Field schemas of the service desk's bodies (see `schema.rs` for the shared rules).

use super::schema::{WS, enum_of, string};
use utoipa::openapi::schema::Object;

/// A ticket type.
pub fn ticket_type_opt() -> Object {
    enum_of(true, opsdeck_core::desk::ticket::TicketType::ALL.iter().map(|c| c.as_str()).collect())
}

/// Why a priority was overridden: 1 to 500 characters on one line, not blank.
pub fn reason() -> Object {
    string(false, None, None, Some(super::schema::text_pattern(500)))
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

/// A form field's key: a lowercase letter, then lowercase letters, digits and `_`.
pub fn field_key() -> Object {
    let max = opsdeck_core::desk::request_item::KEY_MAX;
    string(false, Some(1), Some(max), Some(format!("^[a-z][a-z0-9_]{{0,{}}}$", max - 1)))
}

/// A field label, a select option or a task: 1 to 200 characters on one line, not blank.
pub fn item_label() -> Object {
    string(false, None, None, Some(super::schema::text_pattern(opsdeck_core::desk::request_item::LABEL_MAX)))
}

/// A field's help text: up to 500 characters.
pub fn field_help_opt() -> Object {
    string(true, None, Some(opsdeck_core::desk::request_item::HELP_MAX), None)
}

/// What a form field takes.
pub fn field_kind() -> Object {
    enum_of(false, opsdeck_core::desk::request_item::FieldKind::ALL.iter().map(|c| c.as_str()).collect())
}

/// A decision's or a rating's comment: up to 2,000 characters, no NUL.
pub fn comment_opt() -> Object {
    string(true, None, Some(crate::operations::requests::COMMENT_MAX), Some(r"^[^\x00]*$".into()))
}

/// A rejection's reason: 1 to 2,000 characters, not blank, no NUL.
pub fn comment() -> Object {
    string(false, None, Some(crate::operations::requests::COMMENT_MAX), Some(format!(r"^[^\x00]*[^\x00{WS}][^\x00]*$")))
}

/// A request's answers: field keys to text, numbers or true/false (the form decides which).
pub fn request_answers_opt() -> Object {
    use opsdeck_core::desk::request_item::{ANSWER_MAX, FIELDS_MAX, KEY_MAX};
    use utoipa::openapi::schema::{AdditionalProperties, OneOfBuilder, Schema};
    let text = string(false, None, Some(ANSWER_MAX), Some(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$".into()));
    let value = OneOfBuilder::new()
        .item(text)
        .item(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::new(utoipa::openapi::schema::Type::Number))
                .build(),
        )
        .item(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::new(utoipa::openapi::schema::Type::Boolean))
                .build(),
        )
        .build();
    let names = string(false, Some(1), Some(KEY_MAX), Some("^[a-z][a-z0-9_]*$".into()));
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(super::schema::ty(true, utoipa::openapi::schema::Type::Object))
        .additional_properties(Some(AdditionalProperties::RefOr(Schema::OneOf(value).into())))
        .property_names(Some(names))
        .max_properties(Some(FIELDS_MAX))
        .build()
}

/// Labels in a list (a select's options, an item's tasks): each 1 to 200 characters on one line.
fn labels(max: usize) -> utoipa::openapi::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::new(utoipa::openapi::schema::Type::Array))
        .items(item_label())
        .max_items(Some(max))
        .build()
}

/// A select's options: 1 to 50, each listed once.
pub fn field_options() -> utoipa::openapi::Array {
    let mut a = labels(opsdeck_core::desk::request_item::OPTIONS_MAX);
    a.unique_items = true;
    a
}

/// An item's fulfilment tasks: at most 20.
pub fn item_tasks() -> utoipa::openapi::Array {
    labels(opsdeck_core::desk::request_item::TASKS_MAX)
}

/// A routing rule's requester: an address, or a domain written `@example.com`.
pub fn route_requester_opt() -> Object {
    let domain = "@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+";
    string(
        true,
        None,
        Some(254),
        Some(super::schema::trimmed(&format!("{domain}|{}", super::schema::email_body()), true)),
    )
}

/// A routing rule's keywords: up to 20 words of letters and digits, each up to 40 (a blank one
/// is skipped).
pub fn route_keywords() -> utoipa::openapi::schema::Array {
    let word = string(false, None, None, Some(format!("^[^\\W_]{{0,{}}}$", opsdeck_core::desk::routing::KEYWORD_MAX)));
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(word)
        .max_items(Some(opsdeck_core::desk::routing::KEYWORDS_MAX))
        .build()
}

/// How a routed ticket is assigned.
pub fn route_assign_opt() -> Object {
    enum_of(true, opsdeck_core::desk::routing::Assign::ALL.iter().map(|c| c.as_str()).collect())
}

/// The priority matrix: four rows (impact 1–4) of four priorities (urgency 1–4), each 1 to 4.
pub fn priority_matrix() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let cell = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(4)).build();
    let row = ArrayBuilder::new().items(cell).min_items(Some(4)).max_items(Some(4));
    ArrayBuilder::new().items(row).min_items(Some(4)).max_items(Some(4)).build()
}

/// An SLA agreement's requesters: up to 100 addresses or `@domain`s (a blank one is skipped).
pub fn agreement_requesters() -> utoipa::openapi::schema::Array {
    let domain = "@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+";
    let item = string(
        false,
        None,
        Some(254),
        Some(super::schema::trimmed(&format!("{domain}|{}", super::schema::email_body()), true)),
    );
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(item)
        .max_items(Some(opsdeck_core::desk::agreement::REQUESTERS_MAX))
        .build()
}
