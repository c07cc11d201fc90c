//! Reads both Terraform formats into one list of managed resource instances, with what
//! Terraform marks sensitive, and the address arithmetic dependencies and modules need.

use crate::cmdb::import::json;
use crate::cmdb::import::{RowError, RowErrors};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

#[derive(Deserialize)]
struct Show {
    values: Option<ShowValues>,
}

#[derive(Deserialize)]
struct ShowValues {
    root_module: Option<ShowModule>,
}

#[derive(Deserialize)]
struct ShowModule {
    address: Option<String>,
    #[serde(default)]
    resources: Vec<ShowResource>,
    #[serde(default)]
    child_modules: Vec<ShowModule>,
}

#[derive(Deserialize)]
struct ShowResource {
    address: String,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    provider_name: Option<String>,
    values: Option<Map<String, Value>>,
    sensitive_values: Option<Value>,
    #[serde(default)]
    depends_on: Vec<String>,
    deposed_key: Option<String>,
}

#[derive(Deserialize)]
struct State {
    #[serde(default)]
    resources: Vec<StateResource>,
}

#[derive(Deserialize)]
struct StateResource {
    module: Option<String>,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    provider: String,
    #[serde(default)]
    instances: Vec<StateInstance>,
}

#[derive(Deserialize)]
struct StateInstance {
    index_key: Option<Value>,
    deposed: Option<String>,
    attributes: Option<Map<String, Value>>,
    sensitive_attributes: Option<Vec<Vec<PathStep>>>,
    #[serde(default)]
    dependencies: Vec<String>,
}

/// One step of a cty path: `{"type": "get_attr", "value": "password"}` or
/// `{"type": "index", "value": {"value": "key", "type": "string"}}`.
#[derive(Deserialize)]
struct PathStep {
    #[serde(rename = "type")]
    kind: String,
    value: Value,
}

/// A managed resource instance, from either format; `row` counts every instance in the file.
pub(super) struct Instance {
    pub row: usize,
    pub address: String,
    pub module: Option<String>,
    pub kind: String,
    pub provider: String,
    pub values: Map<String, Value>,
    pub sensitive: Sensitive,
    pub depends_on: Vec<String>,
}

/// Which values Terraform marks sensitive: whole top-level keys, and keys inside a top-level
/// map (tags). A mark that cannot be placed marks everything: better no attributes than a secret.
#[derive(Default)]
pub(super) struct Sensitive {
    everything: bool,
    whole: HashSet<String>,
    within: HashMap<String, HashSet<String>>,
}

impl Sensitive {
    /// From `show -json`'s `sensitive_values`, which mirrors `values` with `true` where sensitive.
    fn from_show(marks: Option<&Value>) -> Sensitive {
        let mut s = Sensitive::default();
        match marks {
            None | Some(Value::Null) => {}
            Some(Value::Object(marks)) => {
                for (k, v) in marks {
                    if let Value::Object(inner) = v {
                        let keys: HashSet<String> =
                            inner.iter().filter(|(_, v)| marked(v)).map(|(k, _)| k.clone()).collect();
                        if !keys.is_empty() {
                            s.within.insert(k.clone(), keys);
                        }
                    } else if marked(v) {
                        s.whole.insert(k.clone());
                    }
                }
            }
            Some(other) => s.everything = marked(other),
        }
        s
    }

    /// From a state's `sensitive_attributes`: paths into `attributes`.
    fn from_paths(paths: &[Vec<PathStep>]) -> Sensitive {
        let mut s = Sensitive::default();
        for path in paths {
            let first = path.first().filter(|p| p.kind == "get_attr").and_then(|p| p.value.as_str());
            match (first, path.get(1).and_then(step_key)) {
                (Some(key), Some(inner)) => {
                    s.within.entry(key.to_owned()).or_default().insert(inner.to_owned());
                }
                (Some(key), None) => {
                    s.whole.insert(key.to_owned());
                }
                (None, _) => s.everything = true,
            }
        }
        s
    }

    /// Whether a top-level value is (or holds something) sensitive.
    pub fn key(&self, key: &str) -> bool {
        self.everything || self.whole.contains(key) || self.within.contains_key(key)
    }

    /// Whether the tag `key` is sensitive.
    pub fn tag(&self, key: &str) -> bool {
        self.everything || self.whole.contains("tags") || self.within.get("tags").is_some_and(|t| t.contains(key))
    }
}

/// Whether a `sensitive_values` entry has a `true` anywhere in it.
fn marked(v: &Value) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Bool(true) => return true,
            Value::Array(a) => stack.extend(a),
            Value::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
    false
}

/// The map key a path's second step names, if it names one.
fn step_key(step: &PathStep) -> Option<&str> {
    match step.kind.as_str() {
        "get_attr" => step.value.as_str(),
        "index" => step.value.get("value").and_then(Value::as_str),
        _ => None,
    }
}

fn file(message: impl Into<String>) -> RowErrors {
    RowErrors::one(RowError::file(message))
}

/// The instances of `terraform show -json` output, in file order.
pub(super) fn show_instances(bytes: &[u8]) -> Result<Vec<Instance>, RowErrors> {
    let show: Show = serde_json::from_slice(bytes).map_err(|e| json::error(&e, "terraform show -json output"))?;
    let mut out = Vec::new();
    let mut row = 0;
    if let Some(root) = show.values.and_then(|v| v.root_module) {
        walk(root, None, &mut row, &mut out)?;
    }
    Ok(out)
}

/// Collects a module's resources, then its child modules' (serde bounds the nesting depth).
fn walk(m: ShowModule, module: Option<String>, row: &mut usize, out: &mut Vec<Instance>) -> Result<(), RowErrors> {
    for r in m.resources {
        *row += 1;
        if r.mode != "managed" || r.deposed_key.is_some() {
            continue;
        }
        out.push(Instance {
            row: *row,
            address: r.address,
            module: module.clone(),
            kind: r.kind,
            provider: r.provider_name.unwrap_or_default(),
            values: r.values.unwrap_or_default(),
            sensitive: Sensitive::from_show(r.sensitive_values.as_ref()),
            depends_on: r.depends_on,
        });
    }
    for child in m.child_modules {
        let Some(address) = child.address.clone() else {
            return Err(file("a module in values.root_module.child_modules has no \"address\""));
        };
        walk(child, Some(address), row, out)?;
    }
    Ok(())
}

/// The instances of a version 4 state file, in file order, with addresses built as Terraform
/// builds them.
pub(super) fn state_instances(bytes: &[u8]) -> Result<Vec<Instance>, RowErrors> {
    let state: State = serde_json::from_slice(bytes).map_err(|e| json::error(&e, "terraform state (version 4)"))?;
    let mut out = Vec::new();
    let mut errors = RowErrors::default();
    let mut row = 0;
    for r in state.resources {
        let module = r.module.filter(|m| !m.is_empty());
        let base = match &module {
            Some(m) => format!("{m}.{}.{}", r.kind, r.name),
            None => format!("{}.{}", r.kind, r.name),
        };
        let provider = provider_name(&r.provider);
        for inst in r.instances {
            row += 1;
            if r.mode != "managed" || inst.deposed.as_deref().is_some_and(|d| !d.is_empty()) {
                continue;
            }
            let key = match instance_key(inst.index_key.as_ref()) {
                Ok(key) => key,
                Err(message) => {
                    errors.push(RowError::at(row, Some(&base), message));
                    continue;
                }
            };
            out.push(Instance {
                row,
                address: format!("{base}{key}"),
                module: module.clone(),
                kind: r.kind.clone(),
                provider: provider.to_owned(),
                values: inst.attributes.unwrap_or_default(),
                sensitive: Sensitive::from_paths(inst.sensitive_attributes.as_deref().unwrap_or_default()),
                depends_on: inst.dependencies,
            });
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// `provider["registry.terraform.io/hashicorp/aws"].west` -> the provider's source address, as
/// `show -json` gives it in `provider_name`; anything else stays as it is.
fn provider_name(config: &str) -> &str {
    config.split_once("provider[\"").and_then(|(_, rest)| rest.split_once('"')).map_or(config, |(name, _)| name)
}

/// An instance key as Terraform writes it in addresses: `[0]`, `["a"]`, or nothing.
fn instance_key(key: Option<&Value>) -> Result<String, String> {
    match key {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(format!("[{}]", hcl_quoted(s))),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(format!("[{i}]")),
            None => Err(format!("index_key {n} is not a whole number")),
        },
        Some(_) => Err("index_key must be a number or text".into()),
    }
}

/// A string key quoted the way Terraform's addresses quote it (HCL string syntax).
fn hcl_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' | '%' => {
                out.push(c);
                if chars.peek() == Some(&'{') {
                    out.push(c);
                }
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Tracks whether the characters of an address lie inside an instance key (`[0]`, `["a.b"]`).
#[derive(Default)]
struct Keys {
    depth: usize,
    quoted: bool,
    escaped: bool,
}

impl Keys {
    fn outside(&mut self, c: char) -> bool {
        if self.quoted {
            if self.escaped {
                self.escaped = false;
            } else if c == '\\' {
                self.escaped = true;
            } else if c == '"' {
                self.quoted = false;
            }
            return false;
        }
        match c {
            '[' => self.depth += 1,
            ']' if self.depth > 0 => self.depth -= 1,
            '"' if self.depth > 0 => self.quoted = true,
            _ => return self.depth == 0,
        }
        false
    }
}

/// The address without any instance keys (module ones too), which is how dependencies name it.
pub(super) fn config_address(address: &str) -> String {
    let mut keys = Keys::default();
    address.chars().filter(|c| keys.outside(*c)).collect()
}

/// A module's address and its ancestors', outermost first:
/// `module.a[0].module.b` -> [`module.a[0]`, `module.a[0].module.b`].
pub(super) fn module_chain(address: &str) -> Vec<&str> {
    let mut keys = Keys::default();
    let dots: Vec<usize> =
        address.char_indices().filter(|(_, c)| keys.outside(*c) && *c == '.').map(|(i, _)| i).collect();
    let starts = std::iter::once(0).chain(dots.iter().map(|d| d + 1));
    let well_formed = dots.len() % 2 == 1
        && starts.step_by(2).all(|s| address.get(s..).is_some_and(|rest| rest.starts_with("module.")));
    if !well_formed {
        return vec![address];
    }
    let mut chain: Vec<&str> = dots.iter().skip(1).step_by(2).filter_map(|&d| address.get(..d)).collect();
    chain.push(address);
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_are_built_and_stripped_as_terraform_does() {
        assert_eq!(instance_key(None).as_deref(), Ok(""));
        assert_eq!(instance_key(Some(&json!(2))).as_deref(), Ok("[2]"));
        assert_eq!(instance_key(Some(&json!("a"))).as_deref(), Ok("[\"a\"]"));
        assert!(instance_key(Some(&json!(1.5))).is_err());
        assert!(instance_key(Some(&json!(true))).is_err());
        assert_eq!(hcl_quoted("a\"b\\${x}%{y}$z\n\u{1}"), r#""a\"b\\$${x}%%{y}$z\n\u0001""#);

        assert_eq!(config_address(r#"module.app["x.y"].aws_instance.web["a]b\"c"]"#), "module.app.aws_instance.web");
        assert_eq!(config_address("aws_instance.web[10]"), "aws_instance.web");
        assert_eq!(
            module_chain(r#"module.a["k.1"].module.b[0].module.c"#),
            [r#"module.a["k.1"]"#, r#"module.a["k.1"].module.b[0]"#, r#"module.a["k.1"].module.b[0].module.c"#,]
        );
        assert_eq!(module_chain("weird.path"), ["weird.path"], "an unexpected shape stays one module");
        assert_eq!(
            provider_name(r#"module.x.provider["registry.terraform.io/hashicorp/aws"].west"#),
            "registry.terraform.io/hashicorp/aws"
        );
        assert_eq!(provider_name("provider.aws"), "provider.aws");
    }

    #[test]
    fn sensitive_marks_are_read_from_both_formats() {
        let show = Sensitive::from_show(Some(&json!({"password": true, "tags": {"Owner": true, "Name": false},
                                                       "ebs": [{"kms": true}], "plain": false})));
        assert!(show.key("password") && show.key("ebs") && show.key("tags") && !show.key("plain"));
        assert!(show.tag("Owner") && !show.tag("Name"));
        assert!(Sensitive::from_show(Some(&json!(true))).key("anything"));

        let steps: Vec<Vec<PathStep>> = serde_json::from_value(json!([
            [{"type": "get_attr", "value": "password"}],
            [{"type": "get_attr", "value": "tags"}, {"type": "index", "value": {"value": "Owner", "type": "string"}}],
            [{"type": "get_attr", "value": "disks"}, {"type": "index", "value": {"value": 0, "type": "number"}}],
        ]))
        .expect("paths");
        let state = Sensitive::from_paths(&steps);
        assert!(state.key("password") && state.key("disks") && !state.key("id"));
        assert!(state.tag("Owner") && !state.tag("Name"));
        let odd: Vec<Vec<PathStep>> = serde_json::from_value(json!([[]])).expect("paths");
        assert!(Sensitive::from_paths(&odd).key("id"), "an unplaceable mark hides everything");
    }
}
