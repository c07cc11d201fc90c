//! Custom attribute definitions: an admin declares, per CI class, attributes with a type (text,
//! number, date, a choice from a list, or a reference to another CI), a label and whether they
//! are required. CIs of that class, made by hand or imported, must conform; values are typed on
//! the way in (numbers from numeric text, dates normalised). Attributes nobody defined stay
//! free-form.

use super::{ATTRIBUTE_KEY_MAX, ATTRIBUTE_TEXT_MAX, Attributes, CiClass, attribute_key_ok};
use crate::{Error, Problems, Result, validate};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Definitions per class, at most.
pub const PER_CLASS_MAX: usize = 50;
/// Choices of an enum attribute, at most.
pub const CHOICES_MAX: usize = 50;
/// A choice's length limit, in characters.
pub const CHOICE_MAX: usize = 80;

str_enum! {
    /// What values an attribute takes.
    AttrKind {
        Text = "text",
        Number = "number",
        Date = "date",
        Enum = "enum",
        Reference = "reference",
    }
}

impl AttrKind {
    pub fn label(self) -> &'static str {
        match self {
            AttrKind::Text => "Text",
            AttrKind::Number => "Number",
            AttrKind::Date => "Date",
            AttrKind::Enum => "One of a list",
            AttrKind::Reference => "Another CI",
        }
    }
}

/// A definition as the API and the form send it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AttrDefInput {
    pub class: String,
    pub key: String,
    pub label: Option<String>,
    pub kind: String,
    pub required: bool,
    /// For `enum`: the values allowed.
    pub choices: Vec<String>,
    /// For `reference`: the class the CI referred to must have (any when absent).
    pub ref_class: Option<String>,
}

/// A validated definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttrDefSpec {
    pub class: CiClass,
    pub key: String,
    pub label: String,
    pub kind: AttrKind,
    pub required: bool,
    pub choices: Vec<String>,
    pub ref_class: Option<CiClass>,
}

impl AttrDefSpec {
    pub fn new(input: &AttrDefInput) -> Result<Self> {
        let mut p = Problems::default();
        let class = p.check(super::class("class", &input.class));
        let key = input.key.trim();
        if !attribute_key_ok(key) {
            p.push("key", format!("must be 1 to {ATTRIBUTE_KEY_MAX} of a-z 0-9 _ . -"));
        }
        let label = match input.label.as_deref().map(str::trim) {
            None | Some("") => Some(key.to_owned()),
            Some(l) => p.check(validate::name("label", l)),
        };
        let kind = p.check(
            AttrKind::parse(input.kind.trim())
                .ok_or_else(|| Error::invalid("kind", format!("must be {}", AttrKind::choices()))),
        );
        let mut choices: Vec<String> = Vec::new();
        for c in input.choices.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
            if choices.len() > CHOICES_MAX {
                break;
            }
            if c.chars().count() > CHOICE_MAX || c.chars().any(char::is_control) {
                p.push("choices", format!("each must be at most {CHOICE_MAX} characters on one line"));
            } else if !choices.iter().any(|x| x == c) {
                choices.push(c.to_owned());
            }
        }
        match kind {
            Some(AttrKind::Enum) if choices.is_empty() || choices.len() > CHOICES_MAX => {
                p.push("choices", format!("give 1 to {CHOICES_MAX} values to choose from"));
            }
            Some(k) if k != AttrKind::Enum && !choices.is_empty() => {
                p.push("choices", "only an enum attribute has choices");
            }
            _ => {}
        }
        let ref_class = match input.ref_class.as_deref().map(str::trim) {
            None | Some("") => Some(None),
            Some(_) if kind.is_some_and(|k| k != AttrKind::Reference) => {
                p.push("ref_class", "only a reference attribute names a class");
                None
            }
            Some(c) => p.check(super::class("ref_class", c)).map(Some),
        };
        p.finish()?;
        match (class, label, kind, ref_class) {
            (Some(class), Some(label), Some(kind), Some(ref_class)) => Ok(AttrDefSpec {
                class,
                key: key.to_owned(),
                label,
                kind,
                required: input.required,
                choices,
                ref_class,
            }),
            _ => Err(Error::invalid("key", "is invalid")),
        }
    }
}

/// A reference attribute's value, for the caller to resolve to a CI's id (by id, identity or
/// name) and write back into the attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReference {
    pub key: String,
    pub reference: String,
    pub class: Option<CiClass>,
}

/// Makes `attrs` conform to the definitions of its class: each defined value typed (numbers
/// from numeric text, dates normalised, text from numbers), required ones present, choices
/// respected. Returns the references left to resolve, or every problem in one sentence.
pub fn conform(defs: &[AttrDefSpec], attrs: &mut Attributes) -> std::result::Result<Vec<PendingReference>, String> {
    let mut problems: Vec<String> = Vec::new();
    let mut refs = Vec::new();
    for d in defs {
        let blank = match attrs.get(&d.key) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        };
        if blank {
            attrs.remove(&d.key);
            if d.required {
                problems.push(format!("{} ({}) is required", d.key, d.label));
            }
            continue;
        }
        let Some(v) = attrs.get(&d.key).cloned() else { continue };
        let text = match &v {
            Value::String(s) => s.trim().to_owned(),
            other => other.to_string(),
        };
        let typed = match d.kind {
            AttrKind::Text if text.chars().count() <= ATTRIBUTE_TEXT_MAX => Ok(Value::String(text)),
            AttrKind::Text => Err(format!("{} must be at most {ATTRIBUTE_TEXT_MAX} characters", d.key)),
            AttrKind::Number => match &v {
                Value::Number(_) => Ok(v.clone()),
                _ => text
                    .parse::<i64>()
                    .map(Value::from)
                    .ok()
                    .or_else(|| text.parse::<f64>().ok().filter(|f| f.is_finite()).map(Value::from))
                    .ok_or_else(|| format!("{} must be a number", d.key)),
            },
            AttrKind::Date => crate::time::parse_date("attributes", &text)
                .map(|day| Value::String(day.format("%Y-%m-%d").to_string()))
                .map_err(|_| format!("{} must be a date such as 2026-11-01", d.key)),
            AttrKind::Enum if d.choices.contains(&text) => Ok(Value::String(text)),
            AttrKind::Enum => Err(format!("{} must be one of {}", d.key, d.choices.join(", "))),
            AttrKind::Reference => {
                refs.push(PendingReference { key: d.key.clone(), reference: text.clone(), class: d.ref_class });
                Ok(Value::String(text))
            }
        };
        match typed {
            Ok(t) => {
                attrs.insert(d.key.clone(), t);
            }
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() { Ok(refs) } else { Err(problems.join("; ")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(key: &str, kind: &str, required: bool, choices: &[&str]) -> AttrDefSpec {
        AttrDefSpec::new(&AttrDefInput {
            class: "server".into(),
            key: key.into(),
            kind: kind.into(),
            required,
            choices: choices.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        })
        .unwrap()
    }

    fn attrs(v: Value) -> Attributes {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn definitions_are_checked() {
        let d = def("tier", "enum", true, &["gold", "silver", "gold"]);
        assert_eq!((d.label.as_str(), d.choices.len()), ("tier", 2));
        let bad = AttrDefInput {
            class: "spaceship".into(),
            key: "Bad Key".into(),
            kind: "colour".into(),
            ..Default::default()
        };
        let e = AttrDefSpec::new(&bad).unwrap_err().to_string();
        for field in ["class", "key", "kind"] {
            assert!(e.contains(field), "{field} in {e}");
        }
        let no_choices =
            AttrDefInput { class: "server".into(), key: "tier".into(), kind: "enum".into(), ..Default::default() };
        assert!(AttrDefSpec::new(&no_choices).unwrap_err().to_string().contains("choices"));
        let stray = AttrDefInput {
            class: "server".into(),
            key: "os".into(),
            kind: "text".into(),
            choices: vec!["a".into()],
            ref_class: Some("vm".into()),
            ..Default::default()
        };
        let e = AttrDefSpec::new(&stray).unwrap_err().to_string();
        assert!(e.contains("choices") && e.contains("ref_class"), "{e}");
    }

    #[test]
    fn values_are_typed_and_required_ones_present() {
        let defs = [
            def("cpus", "number", false, &[]),
            def("bought", "date", false, &[]),
            def("tier", "enum", true, &["gold", "silver"]),
            def("serial", "text", false, &[]),
            def("rack", "reference", false, &[]),
        ];
        let mut a = attrs(json!({"cpus": "8", "bought": " 2026-01-05 ", "tier": "gold", "serial": 1234,
            "rack": "rack-7", "free": "kept"}));
        let refs = conform(&defs, &mut a).unwrap();
        assert_eq!(a["cpus"], json!(8));
        assert_eq!(a["bought"], json!("2026-01-05"));
        assert_eq!(a["serial"], json!("1234"));
        assert_eq!(a["free"], json!("kept"), "undefined attributes stay");
        assert_eq!(refs, vec![PendingReference { key: "rack".into(), reference: "rack-7".into(), class: None }]);

        let mut a = attrs(json!({"cpus": "eight", "bought": "2026-02-30", "tier": "bronze", "serial": ""}));
        let e = conform(&defs, &mut a).unwrap_err();
        for part in ["cpus must be a number", "bought must be a date", "tier must be one of gold, silver"] {
            assert!(e.contains(part), "{part} in {e}");
        }
        assert!(!a.contains_key("serial"), "a blank optional value is dropped");
        let mut a = attrs(json!({}));
        assert_eq!(conform(&defs, &mut a).unwrap_err(), "tier (tier) is required");
    }
}
