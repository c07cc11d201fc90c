//! The JSON import: `{"items": [...], "relations": [...]}` or a bare array of items.
//!
//! The document is read into typed structs, so a wrong type or a missing key is reported with its
//! line and column; field rules are left to [`ImportSet::validate`](super::ImportSet::validate).
//! Keys this format does not know (e.g. `id` in an export of the API) are ignored, so an export
//! can be imported back. The helpers at the end are shared by the other JSON-based parsers
//! (Terraform, Ansible), which turn foreign data into CI fields that pass validation.

use super::{ImportItem, ImportRelation, ImportSet, RowError, RowErrors};
use crate::cmdb::{ATTRIBUTE_KEY_MAX, ATTRIBUTE_TEXT_MAX, Attributes, CiInput, PLACE_MAX, RelationType};
use crate::validate::{NAME_MAX, TAG_MAX};
use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::error::Category;
use std::fmt;

const SHAPE: &str = "expected {\"items\": [...], \"relations\": [...]} or an array of items";

/// One CI as the file gives it; everything is optional so validation can name what is missing.
#[derive(Debug, Default, Deserialize)]
struct Item {
    identity: Option<String>,
    name: Option<String>,
    class: Option<String>,
    status: Option<String>,
    environment: Option<String>,
    location: Option<String>,
    owner_team: Option<String>,
    service: Option<String>,
    tags: Option<Vec<String>>,
    attributes: Option<Attributes>,
    description: Option<String>,
    min_up: Option<i64>,
    purchase_date: Option<String>,
    warranty_end: Option<String>,
    end_of_support: Option<String>,
    end_of_life: Option<String>,
    cost: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Relation {
    source: Option<String>,
    target: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Object {
    items: Option<Vec<Item>>,
    relations: Option<Vec<Relation>>,
}

/// Either document shape; a visitor (not an untagged enum) keeps serde's line and column.
#[derive(Debug)]
struct Document(Object);

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with \"items\" and \"relations\", or an array of items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Document, A::Error> {
        let items = Vec::<Item>::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(Document(Object { items: Some(items), relations: None }))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Document, A::Error> {
        Object::deserialize(MapAccessDeserializer::new(map)).map(Document)
    }
}

/// Parses an Opsdeck JSON import.
pub fn parse(bytes: &[u8]) -> Result<ImportSet, RowErrors> {
    let bytes = document(bytes)?;
    let Document(doc) = serde_json::from_slice(bytes).map_err(|e| error(&e, SHAPE))?;
    if doc.items.is_none() && doc.relations.is_none() {
        return Err(RowErrors::one(RowError::file("the object has neither \"items\" nor \"relations\"")));
    }
    let items = doc.items.unwrap_or_default().into_iter().enumerate().map(|(i, it)| item(i + 1, it)).collect();
    let mut errors = RowErrors::default();
    let mut relations = Vec::new();
    for (i, r) in doc.relations.unwrap_or_default().into_iter().enumerate() {
        match relation(i + 1, r) {
            Ok(r) => relations.push(r),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(ImportSet { items, relations }) } else { Err(errors) }
}

fn item(row: usize, it: Item) -> ImportItem {
    let name = match it.name {
        Some(n) if !n.trim().is_empty() => n,
        _ => it.identity.clone().unwrap_or_default(),
    };
    let input = CiInput {
        name,
        class: it.class.unwrap_or_default(),
        status: it.status,
        attributes: it.attributes.unwrap_or_default(),
        location: it.location,
        environment: it.environment,
        tags: it.tags.unwrap_or_default(),
        identity: it.identity,
        min_up: it.min_up,
        description: it.description,
        purchase_date: it.purchase_date,
        warranty_end: it.warranty_end,
        end_of_support: it.end_of_support,
        end_of_life: it.end_of_life,
        cost: it.cost,
        ..CiInput::default()
    };
    ImportItem { row, input, owner_team: it.owner_team, service: it.service }
}

fn relation(row: usize, r: Relation) -> Result<ImportRelation, RowError> {
    let source = r.source.unwrap_or_default();
    let kind = r.kind.as_deref().map(str::trim).and_then(RelationType::parse).ok_or_else(|| {
        let shown = (!source.is_empty()).then_some(source.as_str());
        RowError::at(row, shown, format!("relation type: must be {}", RelationType::choices()))
    })?;
    Ok(ImportRelation { row, source, target: r.target.unwrap_or_default(), kind })
}

// Shared by the JSON-based parsers.

/// `bytes` without a UTF-8 byte-order mark (Windows editors add one, serde rejects it); a blank
/// file is an error of its own rather than a puzzling "EOF while parsing".
pub(super) fn document(bytes: &[u8]) -> Result<&[u8], RowErrors> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RowErrors::one(RowError::file("the file is empty")));
    }
    Ok(bytes)
}

/// A serde_json error as a file error with its line and column; `shape` says what a document of
/// the right syntax but the wrong structure should have been.
pub(super) fn error(e: &serde_json::Error, shape: &str) -> RowErrors {
    let message = match e.classify() {
        Category::Syntax => format!("malformed JSON: {e}"),
        Category::Eof => format!("malformed JSON (the file ends too early): {e}"),
        Category::Data | Category::Io => format!("{shape}: {e}"),
    };
    RowErrors::one(RowError::file(message))
}

/// Whether `key` is a valid attribute name (see [`crate::cmdb::attributes`]).
pub(super) fn attribute_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= ATTRIBUTE_KEY_MAX
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'))
}

/// A foreign value as an attribute value when it would pass validation: true/false, a number,
/// or text of at most [`ATTRIBUTE_TEXT_MAX`] characters without control characters.
pub(super) fn attribute_value(v: &Value) -> Option<Value> {
    match v {
        Value::Bool(_) | Value::Number(_) => Some(v.clone()),
        Value::String(s)
            if s.chars().count() <= ATTRIBUTE_TEXT_MAX
                && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') =>
        {
            Some(v.clone())
        }
        _ => None,
    }
}

/// `raw` lowercased as a CI tag, when it fits the tag rules (see [`crate::validate::tags`]).
pub(super) fn tag(raw: &str) -> Option<String> {
    let t = raw.trim().to_lowercase();
    let ok = !t.is_empty()
        && t.len() <= TAG_MAX
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'));
    ok.then_some(t)
}

/// A display name from foreign data: trimmed and cut to [`NAME_MAX`] characters, so a long
/// resource address does not fail the import; `None` when blank or holding control characters.
pub(super) fn name(raw: &str) -> Option<String> {
    let v = raw.trim();
    (!v.is_empty() && !v.chars().any(char::is_control)).then(|| v.chars().take(NAME_MAX).collect())
}

/// An environment or location from foreign data, when it fits [`crate::cmdb::place`].
pub(super) fn place(raw: &str) -> Option<String> {
    let v = raw.trim();
    let ok = !v.is_empty() && v.chars().count() <= PLACE_MAX && !v.chars().any(char::is_control);
    ok.then(|| v.to_owned())
}

/// Whether a variable's name suggests it holds a secret (any of `words`, case-insensitive).
pub(super) fn secret(key: &str, words: &[&str]) -> bool {
    let k = key.to_ascii_lowercase();
    words.iter().any(|w| k.contains(w))
}

/// A bound on what a parser may build beyond its input (group variables copied to many hosts,
/// addresses copied into many relations): four times the input plus 16 MiB.
pub(super) struct Budget {
    left: usize,
}

impl Budget {
    pub(super) fn for_input(len: usize) -> Budget {
        Budget { left: len.saturating_mul(4).saturating_add(16 << 20) }
    }

    /// Takes `n` bytes of the budget; `false` once it is spent.
    pub(super) fn spend(&mut self, n: usize) -> bool {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(text: &str) -> ImportSet {
        parse(text.as_bytes()).expect("valid")
    }

    fn err(text: &str) -> RowErrors {
        parse(text.as_bytes()).expect_err("invalid")
    }

    #[test]
    fn items_and_relations_are_read() {
        let set = ok(r#"{
            "items": [
                {"identity": "web-01", "name": "Web 1", "class": "server", "status": "in_use",
                 "environment": "prod", "location": "fra1", "owner_team": "ops", "tags": ["web"],
                 "attributes": {"cpu": 4, "os": "debian"}, "description": "front", "min_up": 1, "id": 7},
                {"identity": "pay", "class": "business_service", "service": "payments"}
            ],
            "relations": [{"source": "web-01", "target": "pay", "type": "depends_on"}]
        }"#);
        assert_eq!(set.items.len(), 2);
        let web = &set.items[0];
        assert_eq!((web.row, web.input.identity.as_deref(), web.input.name.as_str()), (1, Some("web-01"), "Web 1"));
        assert_eq!(web.input.attributes.get("cpu"), Some(&json!(4)));
        assert_eq!((web.owner_team.as_deref(), web.input.min_up), (Some("ops"), Some(1)));
        assert_eq!(web.input.tags, ["web"]);
        let pay = &set.items[1];
        assert_eq!((pay.row, pay.input.name.as_str(), pay.service.as_deref()), (2, "pay", Some("payments")));
        assert_eq!(set.relations[0].kind, RelationType::DependsOn);
        assert_eq!((set.relations[0].row, set.relations[0].target.as_str()), (1, "pay"));
        set.validate().expect("the parsed set is valid");
    }

    #[test]
    fn a_bare_array_is_a_list_of_items() {
        let set = ok(r#"[{"identity": "a", "class": "vm"}, {"identity": "b", "class": "vm", "tags": null}]"#);
        assert_eq!(set.items.len(), 2);
        assert!(set.relations.is_empty());
        assert_eq!(ok("\u{feff}[]").items.len(), 0, "a byte-order mark is tolerated");
    }

    #[test]
    fn an_unknown_relation_type_lists_the_valid_ones() {
        let e = err(r#"{"relations": [{"source": "a", "target": "b", "type": "depends_on"},
                                      {"source": "a", "target": "c", "type": "likes"}]}"#);
        assert_eq!((e.total, e.errors[0].row, e.errors[0].identity.as_deref()), (1, 2, Some("a")));
        assert!(e.errors[0].message.contains("\"member_of\""), "{:?}", e.errors[0]);
        let missing = err(r#"{"relations": [{"source": "a", "target": "b"}]}"#);
        assert!(missing.errors[0].message.contains("relation type"), "{missing:?}");
    }

    #[test]
    fn syntax_and_shape_errors_name_line_and_column() {
        let e = err("{\"items\": [\n  {\"identity\": \"a\",}\n]}");
        assert_eq!(e.errors[0].row, 0);
        assert!(e.errors[0].message.starts_with("malformed JSON"), "{e:?}");
        assert!(e.errors[0].message.contains("line 2"), "{e:?}");

        let truncated = err("{\"items\": [{\"identity\": \"a\"");
        assert!(truncated.errors[0].message.contains("ends too early"), "{truncated:?}");

        let wrong_type = err("{\"items\": [\n {\"identity\": \"a\", \"min_up\": \"two\"}]}");
        assert!(wrong_type.errors[0].message.contains("line 2 column"), "{wrong_type:?}");
        assert!(wrong_type.errors[0].message.contains("expected {\"items\""), "{wrong_type:?}");

        assert!(err("\"hello\"").errors[0].message.contains("an array of items"));
        assert!(err("{\"things\": []}").errors[0].message.contains("neither"));
        assert_eq!(err("  \n").errors[0].message, "the file is empty");
    }

    #[test]
    fn invalid_fields_are_left_to_validation() {
        let set = ok(r#"[{"identity": "a", "class": "toaster", "attributes": {"x": [1]}}, {"class": "vm"}]"#);
        let e = set.validate().expect_err("invalid");
        let messages: Vec<&str> = e.errors.iter().map(|e| e.message.as_str()).collect();
        assert!(messages.iter().any(|m| m.starts_with("class:")), "{messages:?}");
        assert!(messages.iter().any(|m| m.starts_with("attributes:")), "{messages:?}");
        assert!(e.errors.iter().any(|e| e.row == 2 && e.message.starts_with("identity")), "{e:?}");
    }

    #[test]
    fn shared_helpers_keep_only_what_validation_accepts() {
        assert!(attribute_key("os.version-1_x") && !attribute_key("OS") && !attribute_key(&"a".repeat(65)));
        assert_eq!(attribute_value(&json!("a\tb")), Some(json!("a\tb")));
        assert_eq!(attribute_value(&json!("a\u{7}")), None);
        assert_eq!(attribute_value(&json!("x".repeat(ATTRIBUTE_TEXT_MAX + 1))), None);
        assert_eq!(attribute_value(&json!([1])), None);
        assert_eq!(attribute_value(&Value::Null), None);
        assert_eq!(tag("Team:Ops").as_deref(), Some("team:ops"));
        assert_eq!(tag("has space"), None);
        assert_eq!(tag(&"t".repeat(TAG_MAX + 1)), None);
        assert_eq!(name(&"n".repeat(200)).map(|n| n.chars().count()), Some(NAME_MAX));
        assert_eq!(name("  "), None);
        assert_eq!(place(&"p".repeat(PLACE_MAX + 1)), None);
        assert!(secret("DB_Password", &["password"]) && !secret("user", &["password"]));
        let mut budget = Budget::for_input(0);
        assert!(budget.spend(16 << 20) && !budget.spend(1));
    }
}
