//! Request items: what the self-service portal offers ("New laptop", "Access to application
//! X"). Each has a form of typed fields, an optional approver and the fulfilment tasks a request
//! for it gets. [`ItemSpec::new`] checks an item; [`check_answers`] checks a requester's answers
//! against its form, naming every wrong field at once.

use super::ticket::Level;
use crate::{Error, Problems, Result, validate};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

pub const FIELDS_MAX: usize = 30;
pub const OPTIONS_MAX: usize = 50;
pub const TASKS_MAX: usize = 20;
/// A label, an option or a task title, at most.
pub const LABEL_MAX: usize = 200;
pub const HELP_MAX: usize = 500;
/// A field key: a lowercase letter, then lowercase letters, digits and `_`.
pub const KEY_MAX: usize = 40;
/// One text answer, at most (a textarea's too).
pub const ANSWER_MAX: usize = 4000;

str_enum! {
    /// What a form field takes.
    FieldKind {
        Text = "text",
        Textarea = "textarea",
        Number = "number",
        Select = "select",
        Checkbox = "checkbox",
        Email = "email",
        Date = "date",
    }
}

str_enum! {
    /// Where a request's approval stands.
    Approval { None = "none", Pending = "pending", Approved = "approved", Rejected = "rejected" }
}

/// A fulfilment task on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub title: String,
    /// Epoch ms when ticked off.
    pub done_at: Option<i64>,
    pub done_by: Option<String>,
}

/// One field of an item's form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    /// The choices of a `select` (and nothing else).
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub help: String,
}

/// A request item, unvalidated.
#[derive(Debug, Clone, Default)]
pub struct ItemInput {
    pub slug: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub fields: Vec<Field>,
    pub approver_id: Option<Uuid>,
    pub tasks: Vec<String>,
    pub impact: Option<i64>,
    pub urgency: Option<i64>,
    pub active: Option<bool>,
}

/// A validated request item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemSpec {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub fields: Vec<Field>,
    /// Who approves a request before work starts (any admin may too); none: no approval.
    pub approver_id: Option<Uuid>,
    /// The fulfilment tasks each request gets, in order.
    pub tasks: Vec<String>,
    pub impact: Level,
    pub urgency: Level,
    /// Offered on the portal.
    pub active: bool,
}

fn short(field: &'static str, what: &str, v: &str, max: usize) -> Result<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(Error::invalid(field, format!("each {what} is 1 to {max} characters, on one line")));
    }
    Ok(v.to_owned())
}

fn check_field(f: &Field) -> Result<Field> {
    let key_ok = f.key.len() <= KEY_MAX
        && f.key.starts_with(|c: char| c.is_ascii_lowercase())
        && f.key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !key_ok {
        return Err(Error::invalid(
            "fields",
            format!("key {:?}: use a lowercase letter, then letters, digits and _ (at most {KEY_MAX})", f.key),
        ));
    }
    let label = short("fields", "label", &f.label, LABEL_MAX)?;
    if f.help.chars().count() > HELP_MAX {
        return Err(Error::invalid("fields", format!("{}: help is at most {HELP_MAX} characters", f.key)));
    }
    let options = match (f.kind, f.options.len()) {
        (FieldKind::Select, 0) => return Err(Error::invalid("fields", format!("{}: a select needs options", f.key))),
        (FieldKind::Select, n) if n > OPTIONS_MAX => {
            return Err(Error::invalid("fields", format!("{}: at most {OPTIONS_MAX} options", f.key)));
        }
        (FieldKind::Select, _) => {
            let opts = f.options.iter().map(|o| short("fields", "option", o, LABEL_MAX)).collect::<Result<Vec<_>>>()?;
            let mut seen = std::collections::BTreeSet::new();
            if let Some(dup) = opts.iter().find(|o| !seen.insert(o.as_str())) {
                return Err(Error::invalid("fields", format!("{}: option {dup:?} is listed twice", f.key)));
            }
            opts
        }
        (_, 0) => Vec::new(),
        (_, _) => return Err(Error::invalid("fields", format!("{}: only a select has options", f.key))),
    };
    Ok(Field { key: f.key.clone(), label, kind: f.kind, required: f.required, options, help: f.help.trim().into() })
}

impl ItemSpec {
    pub fn new(input: &ItemInput) -> Result<ItemSpec> {
        let mut p = Problems::default();
        let title = p.check(validate::name("title", &input.title));
        let slug = match input.slug.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => p.check(validate::slug("slug", s)),
            None => title.as_deref().map(validate::slugify),
        };
        let description = p.check(validate::description("description", input.description.as_deref().unwrap_or("")));
        let category = match input.category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => Some("General".to_owned()),
            Some(c) => p.check(validate::name("category", c)),
        };
        if input.fields.len() > FIELDS_MAX {
            p.push("fields", format!("at most {FIELDS_MAX} fields"));
        }
        let mut fields = Vec::with_capacity(input.fields.len());
        for f in input.fields.iter().take(FIELDS_MAX) {
            if let Some(f) = p.check(check_field(f)) {
                if fields.iter().any(|g: &Field| g.key == f.key) {
                    p.push("fields", format!("key {:?} is used twice", f.key));
                }
                fields.push(f);
            }
        }
        if input.tasks.len() > TASKS_MAX {
            p.push("tasks", format!("at most {TASKS_MAX} tasks"));
        }
        let tasks: Vec<String> =
            input.tasks.iter().take(TASKS_MAX).filter_map(|t| p.check(short("tasks", "task", t, LABEL_MAX))).collect();
        let impact = p.check(Level::new("impact", input.impact.unwrap_or(3)));
        let urgency = p.check(Level::new("urgency", input.urgency.unwrap_or(3)));
        p.finish()?;
        match (slug, title, description, category, impact, urgency) {
            (Some(slug), Some(title), Some(description), Some(category), Some(impact), Some(urgency)) => Ok(ItemSpec {
                slug,
                title,
                description,
                category,
                fields,
                approver_id: input.approver_id,
                tasks,
                impact,
                urgency,
                active: input.active.unwrap_or(true),
            }),
            _ => Err(Error::invalid("title", "is invalid")),
        }
    }
}

/// One checked answer, as the ticket keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub key: String,
    pub label: String,
    pub value: String,
}

/// What is wrong with each answer, by field key, in form order.
pub type AnswerProblems = Vec<(String, String)>;

fn check_one(f: &Field, raw: &str) -> std::result::Result<String, String> {
    let v = raw.trim();
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') || v.contains('\0') {
        return Err("must not contain control characters".into());
    }
    match f.kind {
        FieldKind::Text | FieldKind::Email | FieldKind::Date | FieldKind::Number | FieldKind::Select
            if v.contains('\n') =>
        {
            Err("must be on one line".into())
        }
        _ if v.chars().count() > ANSWER_MAX => Err(format!("must be at most {ANSWER_MAX} characters")),
        FieldKind::Text | FieldKind::Textarea => Ok(v.to_owned()),
        FieldKind::Number => match v.parse::<f64>() {
            Ok(n) if n.is_finite() && n.abs() < 1e15 => Ok(v.to_owned()),
            _ => Err("must be a number".into()),
        },
        FieldKind::Select => match f.options.iter().find(|o| o.as_str() == v) {
            Some(o) => Ok(o.clone()),
            None => Err(format!("choose one of: {}", f.options.join(", "))),
        },
        FieldKind::Checkbox => match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok("yes".into()),
            "false" | "no" | "off" | "0" => Ok("no".into()),
            _ => Err("must be yes or no".into()),
        },
        FieldKind::Email => validate::email("x", v).map_err(|_| "must be an e-mail address".to_owned()),
        FieldKind::Date => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(|d| d.format("%Y-%m-%d").to_string())
            .map_err(|_| "must be a date (YYYY-MM-DD)".to_owned()),
    }
}

/// The answers to `fields` from `given` (key → text, as a form or a JSON body sends them).
/// A missing required field, a value of the wrong kind or a key the form does not have is named;
/// an unticked checkbox is "no"; optional fields left empty are left out.
pub fn check_answers(
    fields: &[Field],
    given: &BTreeMap<String, String>,
) -> std::result::Result<Vec<Answer>, AnswerProblems> {
    let mut problems = AnswerProblems::new();
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let raw = given.get(&f.key).map(String::as_str).unwrap_or("");
        if raw.trim().is_empty() {
            if f.kind == FieldKind::Checkbox && !f.required {
                out.push(Answer { key: f.key.clone(), label: f.label.clone(), value: "no".into() });
            } else if f.required {
                problems.push((f.key.clone(), "is required".into()));
            }
            continue;
        }
        match check_one(f, raw) {
            Ok(value) if f.kind == FieldKind::Checkbox && f.required && value == "no" => {
                problems.push((f.key.clone(), "must be ticked".into()));
            }
            Ok(value) => out.push(Answer { key: f.key.clone(), label: f.label.clone(), value }),
            Err(m) => problems.push((f.key.clone(), m)),
        }
    }
    for k in given.keys().filter(|k| !fields.iter().any(|f| &f.key == *k)).take(5) {
        let k: String = k.chars().take(KEY_MAX).collect();
        problems.push((k, "is not a field of this form".into()));
    }
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

/// The problems as one message naming each field by its label: "Laptop model: is required; …".
pub fn describe(fields: &[Field], problems: &AnswerProblems) -> String {
    let parts: Vec<String> = problems
        .iter()
        .map(|(k, m)| {
            let label = fields.iter().find(|f| &f.key == k).map_or(k.as_str(), |f| f.label.as_str());
            format!("{label} ({k}): {m}")
        })
        .collect();
    parts.join("; ")
}

/// A request's description: its answers, one per line.
pub fn summary(answers: &[Answer]) -> String {
    let lines: Vec<String> = answers.iter().map(|a| format!("{}: {}", a.label, a.value)).collect();
    let mut s = lines.join("\n");
    if s.chars().count() > validate::DESCRIPTION_MAX {
        s = s.chars().take(validate::DESCRIPTION_MAX - 1).collect();
        s.push('…');
    }
    s
}

/// Answers as the API and the portal send them: strings, numbers and booleans become text.
pub fn texts(given: &BTreeMap<String, serde_json::Value>) -> BTreeMap<String, String> {
    given
        .iter()
        .map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(key: &str, kind: FieldKind, required: bool, options: &[&str]) -> Field {
        Field {
            key: key.into(),
            label: key.replace('_', " "),
            kind,
            required,
            options: options.iter().map(|o| o.to_string()).collect(),
            help: String::new(),
        }
    }

    #[test]
    fn items_are_checked() {
        let ok = ItemSpec::new(&ItemInput {
            title: "New laptop".into(),
            fields: vec![field("model", FieldKind::Select, true, &["13\"", "15\""])],
            tasks: vec!["Order it".into()],
            ..ItemInput::default()
        })
        .unwrap();
        assert_eq!((ok.slug.as_str(), ok.category.as_str(), ok.active), ("new-laptop", "General", true));
        let dup = ItemSpec::new(&ItemInput {
            title: "X".into(),
            fields: vec![field("a", FieldKind::Text, false, &[]), field("a", FieldKind::Text, false, &[])],
            ..ItemInput::default()
        });
        assert!(dup.unwrap_err().to_string().contains("used twice"));
        for bad in [field("A b", FieldKind::Text, false, &[]), field("s", FieldKind::Select, false, &[])] {
            let e = ItemSpec::new(&ItemInput { title: "X".into(), fields: vec![bad], ..ItemInput::default() });
            assert!(e.is_err());
        }
        let many = ItemSpec::new(&ItemInput { title: "X".into(), tasks: vec!["t".into(); 21], ..ItemInput::default() });
        assert!(many.unwrap_err().to_string().contains("at most 20 tasks"));
    }

    #[test]
    fn answers_are_checked_and_every_problem_named() {
        let fields = vec![
            field("model", FieldKind::Select, true, &["13 inch", "15 inch"]),
            field("needed_by", FieldKind::Date, false, &[]),
            field("count", FieldKind::Number, false, &[]),
            field("manager", FieldKind::Email, true, &[]),
            field("agree", FieldKind::Checkbox, true, &[]),
            field("remote", FieldKind::Checkbox, false, &[]),
        ];
        let given: BTreeMap<String, String> = [
            ("model", "17 inch"),
            ("needed_by", "2026-02-30"),
            ("count", "NaN"),
            ("manager", ""),
            ("agree", "no"),
            ("other", "x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let p = check_answers(&fields, &given).unwrap_err();
        let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["model", "needed_by", "count", "manager", "agree", "other"]);
        assert!(describe(&fields, &p).starts_with("model (model): choose one of: 13 inch, 15 inch"));
        let good: BTreeMap<String, String> =
            [("model", " 15 inch "), ("manager", "boss@example.com"), ("agree", "on"), ("count", "2")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let a = check_answers(&fields, &good).unwrap();
        let values: Vec<&str> = a.iter().map(|a| a.value.as_str()).collect();
        assert_eq!(values, ["15 inch", "2", "boss@example.com", "yes", "no"]);
        assert_eq!(summary(&a).lines().next(), Some("model: 15 inch"));
    }
}
