//! Field schemas for request bodies and query parameters, built from the same constants the
//! validators in `core` use, so the document states exactly the rules the server enforces
//! (`#[schema(schema_with = schema::name)]`). `…_opt` variants also accept `null`, as the
//! `Option` fields they describe do.
//!
//! The server trims surrounding whitespace before it checks names, slugs, usernames and tags, so
//! the patterns allow it too.

use opsdeck_core::user::{PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX};
use opsdeck_core::validate::{DESCRIPTION_MAX, EMAIL_MAX, NAME_MAX, SLUG_MAX, TAG_MAX, TAGS_MAX, URL_MAX};
use serde_json::Value;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{Array, KnownFormat};

/// Characters Rust's `trim` removes (Unicode White_Space), as a regex class body.
pub(super) const WS: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters (`char::is_control`).
const CC: &str = r"\x00-\x1f\x7f-\x9f";

/// Trimmed text of 1 to `max` characters without control characters.
pub(super) fn text_pattern(max: usize) -> String {
    let inner = max.saturating_sub(2);
    format!("^[{WS}]*[^{CC}{WS}]([^{CC}]{{0,{inner}}}[^{CC}{WS}])?[{WS}]*$")
}

/// As [`text_pattern`], or blank (which means "use the default").
fn text_or_blank_pattern(max: usize) -> String {
    let inner = max.saturating_sub(2);
    format!("^[{WS}]*([^{CC}{WS}]([^{CC}]{{0,{inner}}}[^{CC}{WS}])?)?[{WS}]*$")
}

/// `body` surrounded by trimmable whitespace; `optional` also accepts blank input.
pub(super) fn trimmed(body: &str, optional: bool) -> String {
    let q = if optional { "?" } else { "" };
    format!("^[{WS}]*({body}){q}[{WS}]*$")
}

fn slug_body() -> String {
    format!("(?=[a-z0-9-]{{1,{SLUG_MAX}}}[{WS}]*$)[a-z0-9]+(-[a-z0-9]+)*")
}

fn url_body() -> String {
    format!("(?=[^{WS}]{{1,{URL_MAX}}}[{WS}]*$)https?://[^/?#{WS}{CC}]+[^{WS}{CC}]*")
}

pub(super) fn email_body() -> String {
    format!("(?=[^{WS}]{{1,{EMAIL_MAX}}}[{WS}]*$)[^@{WS}{CC}]+@[^@.{WS}{CC}][^@{WS}{CC}]*\\.[^@{WS}{CC}]*")
}

pub(super) fn ty(nullable: bool, t: Type) -> SchemaType {
    if nullable { SchemaType::from_iter([t, Type::Null]) } else { SchemaType::new(t) }
}

pub(super) fn string(nullable: bool, min: Option<usize>, max: Option<usize>, pattern: Option<String>) -> Object {
    ObjectBuilder::new()
        .schema_type(ty(nullable, Type::String))
        .min_length(min)
        .max_length(max)
        .pattern(pattern)
        .build()
}

fn one_of(nullable: bool, values: &[&str]) -> Object {
    let mut v: Vec<Value> = values.iter().map(|s| Value::from(*s)).collect();
    if nullable {
        v.push(Value::Null);
    }
    ObjectBuilder::new().schema_type(ty(nullable, Type::String)).enum_values(Some(v)).build()
}

fn formatted(nullable: bool, format: KnownFormat) -> Object {
    ObjectBuilder::new().schema_type(ty(nullable, Type::String)).format(Some(SchemaFormat::KnownFormat(format))).build()
}

/// A display name (`validate::name`).
pub fn name() -> Object {
    string(false, None, None, Some(text_pattern(NAME_MAX)))
}
pub fn name_opt() -> Object {
    string(true, None, None, Some(text_pattern(NAME_MAX)))
}
/// A name where blank means "use the default".
pub fn name_or_blank_opt() -> Object {
    string(true, None, None, Some(text_or_blank_pattern(NAME_MAX)))
}
/// An API token's name.
pub fn token_name() -> Object {
    string(false, None, None, Some(text_pattern(opsdeck_core::user::TOKEN_NAME_MAX)))
}
/// A title: as a name, up to 255 characters.
pub fn title() -> Object {
    string(false, None, None, Some(text_pattern(255)))
}
pub fn title_opt() -> Object {
    string(true, None, None, Some(text_pattern(255)))
}
/// As [`title_opt`], or blank (which keeps the incident's title).
pub fn title_or_blank_opt() -> Object {
    string(true, None, None, Some(text_or_blank_pattern(255)))
}
/// A slug (`validate::slug`), required.
pub fn slug() -> Object {
    string(false, None, None, Some(trimmed(&slug_body(), false)))
}
pub fn slug_opt() -> Object {
    string(true, None, None, Some(trimmed(&slug_body(), true)))
}
pub fn description() -> Object {
    string(false, None, Some(DESCRIPTION_MAX), None)
}
pub fn description_opt() -> Object {
    string(true, None, Some(DESCRIPTION_MAX), None)
}
pub fn url() -> Object {
    string(false, None, None, Some(trimmed(&url_body(), false)))
}
/// An optional URL: `null` or empty means none.
pub fn url_opt() -> Object {
    string(true, None, None, Some(trimmed(&url_body(), true)))
}
pub fn username() -> Object {
    string(false, None, None, Some(trimmed(&format!("[a-z0-9._-]{{1,{USERNAME_MAX}}}"), false)))
}
pub fn password() -> Object {
    string(false, Some(PASSWORD_MIN), Some(PASSWORD_MAX), None)
}
/// An e-mail address; empty or `null` means none.
pub fn email_opt() -> Object {
    string(true, None, None, Some(trimmed(&email_body(), true)))
}
/// A colour `#rrggbb`; empty or `null` means the default.
pub fn color_opt() -> Object {
    string(true, None, None, Some(trimmed("#[0-9a-fA-F]{6}", true)))
}
/// A status page component's status, as statuspage.io names it; `null` clears a manual status.
pub fn component_status_opt() -> Object {
    let all: Vec<&str> = opsdeck_core::status_page::ComponentStatus::ALL.iter().map(|c| c.as_str()).collect();
    one_of(true, &all)
}
/// A public incident's status.
pub fn public_incident_status() -> Object {
    let all: Vec<&str> = opsdeck_core::status_page::IncidentStatus::ALL.iter().map(|c| c.as_str()).collect();
    one_of(false, &all)
}
/// A public incident's status, or `null`.
pub fn public_incident_status_opt() -> Object {
    let all: Vec<&str> = opsdeck_core::status_page::IncidentStatus::ALL.iter().map(|c| c.as_str()).collect();
    one_of(true, &all)
}
/// An IANA time zone such as `Europe/Berlin` (unknown names are refused with 422).
pub fn timezone() -> Object {
    string(false, Some(1), Some(64), Some(r"^[A-Za-z0-9_+/-]+$".into()))
}
pub fn timezone_opt() -> Object {
    string(true, Some(1), Some(64), Some(r"^[A-Za-z0-9_+/-]+$".into()))
}

pub fn tags_opt() -> Array {
    ArrayBuilder::new()
        .schema_type(ty(true, Type::Array))
        .items(string(false, None, None, Some(trimmed(&format!("[A-Za-z0-9_.:/-]{{0,{TAG_MAX}}}"), false))))
        .max_items(Some(TAGS_MAX))
        .build()
}

fn location_body() -> String {
    format!("(?=[a-z0-9-]{{1,{}}}[{WS}]*$)[a-z0-9]+(-[a-z0-9]+)*", opsdeck_core::agent::LOCATION_MAX)
}

/// A location name: lowercase letters, digits and single dashes (the length is counted after
/// trimming, so it is in the pattern).
pub fn location() -> Object {
    string(false, None, None, Some(trimmed(&location_body(), false)))
}

/// A monitor's locations: location names (`server` for the nodes), each once.
pub fn locations_opt() -> Array {
    ArrayBuilder::new()
        .schema_type(ty(true, Type::Array))
        .items(location())
        .max_items(Some(opsdeck_core::agent::LOCATIONS_MAX))
        .unique_items(true)
        .build()
}

/// An RFC 3339 time such as `2026-11-22T09:00:00Z`.
pub fn date_time() -> Object {
    formatted(false, KnownFormat::DateTime)
}
pub fn date_time_opt() -> Object {
    formatted(true, KnownFormat::DateTime)
}
/// A calendar date such as `2026-12-31`.
pub fn date() -> Object {
    formatted(false, KnownFormat::Date)
}
/// A calendar date such as `2026-12-31`.
pub fn date_opt() -> Object {
    formatted(true, KnownFormat::Date)
}

pub fn role() -> Object {
    one_of(false, &["viewer", "responder", "manager", "admin"])
}
pub fn role_opt() -> Object {
    one_of(true, &["viewer", "responder", "manager", "admin"])
}
pub fn monitor_type() -> Object {
    one_of(false, &["http", "tcp", "dns", "icmp", "tls", "heartbeat", "command"])
}
pub fn monitor_type_opt() -> Object {
    one_of(true, &["http", "tcp", "dns", "icmp", "tls", "heartbeat", "command"])
}
pub fn monitor_state_opt() -> Object {
    one_of(true, &["pending", "up", "degraded", "down", "paused", "maintenance"])
}
pub fn channel_kind() -> Object {
    one_of(false, &["email", "slack", "teams", "discord", "webhook", "pagerduty"])
}
pub fn contact_kind() -> Object {
    one_of(false, &["email", "slack", "teams", "discord", "webhook"])
}
pub fn integration_type() -> Object {
    one_of(false, &["pagerduty", "alertmanager", "grafana", "webhook"])
}
pub fn note_kind_opt() -> Object {
    one_of(true, &["note", "status_update"])
}
pub fn severity_opt() -> Object {
    one_of(true, &["SEV1", "SEV2", "SEV3", "SEV4"])
}
pub fn incident_status_opt() -> Object {
    one_of(true, &["triggered", "acknowledged", "resolved"])
}
pub fn alert_status_opt() -> Object {
    one_of(true, &["firing", "acknowledged", "resolved"])
}
pub fn action_status_opt() -> Object {
    one_of(true, &["open", "in_progress", "done"])
}
pub fn bulk_action() -> Object {
    one_of(false, &["pause", "resume", "delete"])
}
pub fn grouping() -> Object {
    one_of(false, &["time", "key", "none"])
}
/// A comma-separated list of severities (`SEV1,SEV2`); empty means all.
pub fn severity_list_opt() -> Object {
    string(true, None, Some(64), Some(r"^((SEV[1-4])(,SEV[1-4])*)?$".into()))
}
/// A date (`2026-11-01`) or an RFC 3339 time; empty means the default (custom format
/// `date-or-date-time`).
pub fn date_or_time_opt() -> Object {
    ObjectBuilder::new()
        .schema_type(ty(true, Type::String))
        .format(Some(SchemaFormat::Custom("date-or-date-time".into())))
        .build()
}
/// A calendar month `YYYY-MM` in the years 1970 to 9999; empty means none.
pub fn month_opt() -> Object {
    string(true, None, Some(7), Some(r"^((19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2]))?$".into()))
}
/// An opaque `next_cursor` from a previous page (custom format `cursor`; the test's hooks
/// generate only the empty cursor, the first page).
pub fn cursor_opt() -> Object {
    ObjectBuilder::new()
        .schema_type(ty(true, Type::String))
        .format(Some(SchemaFormat::Custom("cursor".into())))
        .description(Some("The `next_cursor` of the previous page, unchanged."))
        .build()
}
/// A note or status update (Markdown).
pub fn note() -> Object {
    string(false, None, Some(opsdeck_core::incident::NOTE_MAX), Some(format!("[^{WS}]")))
}
pub fn note_opt() -> Object {
    string(true, None, Some(opsdeck_core::incident::NOTE_MAX), None)
}
/// A page size, 1–500.
pub fn limit_opt() -> Object {
    ObjectBuilder::new()
        .schema_type(ty(true, Type::Integer))
        .minimum(Some(1))
        .maximum(Some(crate::api::LIMIT_MAX))
        .description(Some("Page size, 1–500 (default 50)."))
        .build()
}

// ---- nested shapes -------------------------------------------------------------------------
// The document's view of nested input the core types parse; never constructed.

use utoipa::ToSchema;

/// One escalation level.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(as = EscalationLevel)]
#[allow(dead_code)]
pub struct LevelSchema {
    /// Minutes to wait for an acknowledgement before the next level.
    #[schema(minimum = 1, maximum = 1440)]
    delay_minutes: u32,
    #[schema(min_items = 1, max_items = 10)]
    targets: Vec<TargetSchema>,
}

/// Whom a level pages.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(as = EscalationTarget)]
#[allow(dead_code)]
pub struct TargetSchema {
    #[serde(rename = "type")]
    #[schema(schema_with = target_kind)]
    kind: String,
    id: uuid::Uuid,
}

fn target_kind() -> Object {
    one_of(false, &["user", "schedule", "team"])
}

/// A rotation layer of a schedule.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(as = ScheduleLayer)]
#[allow(dead_code)]
pub struct LayerSchema {
    #[schema(schema_with = name)]
    name: String,
    /// The rotation, in order (active users).
    #[schema(max_items = 100)]
    users: Vec<uuid::Uuid>,
    /// The first handoff in the schedule's zone, e.g. `2026-11-23T09:00:00`.
    #[schema(schema_with = local_date_time)]
    start: String,
    length: LengthSchema,
    /// Handoffs at the occurrences of an RRULE (`FREQ=WEEKLY;BYDAY=MO,TH`) instead of every `length`.
    #[schema(schema_with = rrule_opt)]
    handoffs: Option<String>,
    #[schema(max_items = 14, nullable = false)]
    restrictions: Option<Vec<RestrictionSchema>>,
}

/// How long each turn lasts.
#[derive(ToSchema, serde::Deserialize)]
#[schema(as = LayerLength)]
#[allow(dead_code)]
pub struct LengthSchema {
    #[schema(schema_with = length_unit)]
    unit: String,
    #[schema(minimum = 1, maximum = 52)]
    count: u32,
}

fn length_unit() -> Object {
    one_of(false, &["hours", "days", "weeks"])
}

/// A local time window a layer is limited to.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(as = LayerRestriction)]
#[allow(dead_code)]
pub struct RestrictionSchema {
    #[schema(schema_with = weekdays)]
    days: Option<Vec<String>>,
    #[schema(schema_with = local_time)]
    start: String,
    #[schema(schema_with = local_time)]
    end: String,
}

fn weekdays() -> Array {
    ArrayBuilder::new()
        .schema_type(ty(false, Type::Array))
        .items(one_of(false, &["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]))
        .max_items(Some(7))
        .build()
}

/// A local date and time without zone, `2026-11-23T09:00:00` (custom format; the test's
/// Schemathesis hooks generate valid ones).
pub fn local_date_time() -> Object {
    ObjectBuilder::new()
        .schema_type(ty(false, Type::String))
        .format(Some(SchemaFormat::Custom("local-date-time".into())))
        .build()
}

/// A local time of day, `09:00:00`.
pub fn local_time() -> Object {
    ObjectBuilder::new()
        .schema_type(ty(false, Type::String))
        .format(Some(SchemaFormat::Custom("local-time".into())))
        .build()
}

/// An RRULE body such as `FREQ=WEEKLY;BYDAY=MO` (custom format `rrule`).
pub fn rrule_opt() -> Object {
    ObjectBuilder::new().schema_type(ty(true, Type::String)).format(Some(SchemaFormat::Custom("rrule".into()))).build()
}

/// A webhook integration's field mapping: JSON pointers into the payload.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookMapping)]
#[allow(dead_code)]
pub struct MappingSchema {
    #[schema(schema_with = pointer)]
    summary: Option<String>,
    #[schema(schema_with = pointer_opt)]
    severity: Option<String>,
    #[schema(schema_with = pointer_opt)]
    dedup_key: Option<String>,
    #[schema(schema_with = pointer_opt)]
    status: Option<String>,
    #[schema(schema_with = pointer_opt)]
    source: Option<String>,
}

/// A JSON pointer such as `/alert/title`; empty means "not mapped".
fn pointer_opt() -> Object {
    string(false, None, Some(200), Some(r"^(/[^/]*)*$".into()))
}

fn pointer() -> Object {
    string(false, Some(1), Some(200), Some(r"^(/[^/]*)+$".into()))
}

/// How a channel sends; which fields matter depends on its `kind`.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(as = ChannelConfig)]
#[allow(dead_code)]
pub struct ChannelConfigSchema {
    /// E-mail recipient (email).
    #[schema(schema_with = email_opt)]
    to: Option<String>,
    /// Endpoint (slack, teams, discord, webhook, pagerduty).
    #[schema(schema_with = url_opt)]
    url: Option<String>,
    /// Webhooks: the HMAC-SHA256 key for `X-Opsdeck-Signature`. Write-only.
    secret: Option<String>,
    /// Webhooks: extra headers (letters, digits and dashes in names).
    #[schema(nullable = false)]
    headers: Option<std::collections::BTreeMap<String, String>>,
    /// PagerDuty: the receiver's 32-character routing key.
    #[schema(min_length = 32, max_length = 32)]
    routing_key: Option<String>,
    #[schema(max_length = 4000)]
    subject_template: Option<String>,
    #[schema(max_length = 4000)]
    body_template: Option<String>,
}

/// An alert rule: when the alert matches (`match`), drop it, change its severity or route it to
/// another service. Other fields are ignored.
#[derive(ToSchema, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[schema(as = AlertRule)]
#[allow(dead_code)]
pub enum RuleSchema {
    Drop {
        #[serde(rename = "match")]
        #[schema(nullable = false)]
        when: Option<MatchSchema>,
    },
    SetSeverity {
        #[serde(rename = "match")]
        #[schema(nullable = false)]
        when: Option<MatchSchema>,
        #[schema(schema_with = alert_severity)]
        severity: String,
    },
    Route {
        #[serde(rename = "match")]
        #[schema(nullable = false)]
        when: Option<MatchSchema>,
        /// Another service (its own rules are not applied).
        service_id: uuid::Uuid,
    },
}

/// Which alerts a rule applies to; every given condition must hold.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(as = AlertMatch)]
#[allow(dead_code)]
pub struct MatchSchema {
    #[schema(nullable = false)]
    labels: Option<std::collections::BTreeMap<String, String>>,
    #[schema(schema_with = alert_severities)]
    severity: Option<Vec<String>>,
    summary_contains: Option<String>,
}

fn alert_severity() -> Object {
    one_of(false, &["critical", "error", "warning", "info"])
}

fn alert_severities() -> Array {
    ArrayBuilder::new()
        .schema_type(ty(false, Type::Array))
        .items(one_of(false, &["critical", "error", "warning", "info"]))
        .build()
}

/// A postmortem's text (Markdown); absent fields are empty.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(as = PostmortemText)]
#[allow(dead_code)]
pub struct PostmortemSchema {
    #[schema(nullable = false, max_length = 20000)]
    summary: Option<String>,
    #[schema(nullable = false, max_length = 20000)]
    impact: Option<String>,
    #[schema(nullable = false, max_length = 20000)]
    root_cause: Option<String>,
    #[schema(nullable = false, max_length = 20000)]
    contributing_factors: Option<String>,
    #[schema(nullable = false, max_length = 20000)]
    timeline: Option<String>,
    #[schema(nullable = false, max_length = 20000)]
    lessons: Option<String>,
}

pub(super) fn enum_of(nullable: bool, values: Vec<&'static str>) -> Object {
    one_of(nullable, &values)
}
/// A CI class (`opsdeck_core::cmdb::CiClass`).
pub fn ci_class() -> Object {
    enum_of(false, opsdeck_core::cmdb::CiClass::ALL.iter().map(|c| c.as_str()).collect())
}
pub fn ci_class_opt() -> Object {
    enum_of(true, opsdeck_core::cmdb::CiClass::ALL.iter().map(|c| c.as_str()).collect())
}
/// A CI's lifecycle status.
pub fn ci_status_opt() -> Object {
    enum_of(true, opsdeck_core::cmdb::CiStatus::ALL.iter().map(|c| c.as_str()).collect())
}
/// A relation type.
pub fn relation_type() -> Object {
    enum_of(false, opsdeck_core::cmdb::RelationType::ALL.iter().map(|c| c.as_str()).collect())
}
/// A custom attribute's type.
pub fn attr_kind() -> Object {
    enum_of(false, opsdeck_core::cmdb::attr_def::AttrKind::ALL.iter().map(|c| c.as_str()).collect())
}
/// What a contract buys.
pub fn contract_kind_opt() -> Object {
    enum_of(true, opsdeck_core::cmdb::contract::ContractKind::ALL.iter().map(|c| c.as_str()).collect())
}
/// A contract number: trimmed text of at most 100 characters, or blank.
pub fn contract_number_opt() -> Object {
    string(true, None, None, Some(text_or_blank_pattern(opsdeck_core::cmdb::contract::NUMBER_MAX)))
}
/// A location or environment: trimmed text of at most 80 characters, or blank.
pub fn place_opt() -> Object {
    string(true, None, None, Some(text_or_blank_pattern(opsdeck_core::cmdb::PLACE_MAX)))
}
/// An identity (natural key): trimmed text of at most 300 characters, or blank.
pub fn identity_opt() -> Object {
    string(true, None, None, Some(text_or_blank_pattern(opsdeck_core::cmdb::IDENTITY_MAX)))
}
/// CI attributes: names of `a-z 0-9 _ . -`, values text (no control characters but tab and
/// newline), numbers, true/false or null (dropped).
pub fn ci_attributes_opt() -> Object {
    use opsdeck_core::cmdb::{ATTRIBUTE_KEY_MAX, ATTRIBUTE_TEXT_MAX, ATTRIBUTES_MAX};
    use utoipa::openapi::schema::{AdditionalProperties, OneOfBuilder, Schema};
    let text = string(false, None, Some(ATTRIBUTE_TEXT_MAX), Some(r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$".into()));
    let value = OneOfBuilder::new()
        .item(text)
        .item(ObjectBuilder::new().schema_type(SchemaType::new(Type::Number)).build())
        .item(ObjectBuilder::new().schema_type(SchemaType::new(Type::Boolean)).build())
        .item(ObjectBuilder::new().schema_type(SchemaType::new(Type::Null)).build())
        .build();
    let names = string(false, Some(1), Some(ATTRIBUTE_KEY_MAX), Some("^[a-z0-9_.-]+$".into()));
    ObjectBuilder::new()
        .schema_type(ty(true, Type::Object))
        .additional_properties(Some(AdditionalProperties::RefOr(Schema::OneOf(value).into())))
        .property_names(Some(names))
        .max_properties(Some(ATTRIBUTES_MAX))
        .build()
}
