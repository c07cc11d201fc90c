//! The Ansible import: the JSON `ansible-inventory --list` (or a dynamic inventory's `--list`)
//! prints. Groups map to `{"hosts": [...], "vars": {...}, "children": [...]}` or to a bare list
//! of hosts; `_meta.hostvars` maps hosts to their variables.
//!
//! Every host becomes a `server` CI (or the class its `opsdeck_class` variable names), tagged
//! `group:<name>` for each group it is in, directly or through `children`. Its variables become
//! attributes, group `vars` included as Ansible layers them (all, then outer groups, then inner
//! groups, then the host), minus anything that looks secret.

use super::json::{self, Budget, attribute_key, attribute_value};
use super::{ImportItem, ImportSet, RowError, RowErrors};
use crate::cmdb::{ATTRIBUTES_MAX, Attributes, CiClass, CiInput};
use crate::validate::TAGS_MAX;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

const SHAPE: &str = "not ansible-inventory --list output (an object of groups)";
/// Variable names holding any of these are never imported (`ansible_become_pass`, vault ids…).
const SECRET_WORDS: &[&str] = &[
    "password",
    "pass",
    "secret",
    "token",
    "private",
    "vault",
    "access_key",
    "api_key",
    "apikey",
    "credential",
    "connection_string",
];
/// Groups every host is in, which say nothing about it.
const IMPLICIT: [&str; 2] = ["all", "ungrouped"];
/// Groups one host may be in, directly or not; a hierarchy that deep is a mistake.
const GROUPS_PER_HOST_MAX: usize = 1000;
/// Parent links followed over the whole file, so a pathological hierarchy cannot stall a parse.
const WALK_MAX: usize = 50_000_000;

type Vars = Map<String, Value>;

/// The inventory, borrowed from the parsed document.
#[derive(Default)]
struct Inventory<'a> {
    hosts: BTreeSet<&'a str>,
    hostvars: HashMap<&'a str, &'a Vars>,
    group_vars: HashMap<&'a str, &'a Vars>,
    /// Group -> the groups that list it in `children`.
    parents: HashMap<&'a str, BTreeSet<&'a str>>,
    /// Host -> the groups that list it in `hosts`.
    member_of: HashMap<&'a str, BTreeSet<&'a str>>,
}

/// Parses `ansible-inventory --list` output.
pub fn parse(bytes: &[u8]) -> Result<ImportSet, RowErrors> {
    let bytes = json::document(bytes)?;
    let top: Vars = serde_json::from_slice(bytes).map_err(|e| json::error(&e, SHAPE))?;
    let inv = Inventory::read(&top)?;
    let mut budget = Budget::for_input(bytes.len());
    let mut walk = WALK_MAX;
    let mut set = ImportSet::default();
    let mut errors = RowErrors::default();
    for (i, host) in inv.hosts.iter().enumerate() {
        let row = i + 1;
        match inv.groups_of(host, &mut walk) {
            Ok(groups) => set.items.push(inv.item(row, host, &groups, &mut budget)?),
            Err(message) => errors.push(RowError::at(row, Some(host), message)),
        }
    }
    if errors.is_empty() { Ok(set) } else { Err(errors) }
}

/// A JSON value's kind, for error messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl<'a> Inventory<'a> {
    fn read(top: &'a Vars) -> Result<Inventory<'a>, RowErrors> {
        let mut inv = Inventory::default();
        let mut errors = RowErrors::default();
        for (name, value) in top {
            if name == "_meta" {
                inv.meta(value, &mut errors);
            } else {
                inv.group(name, value, &mut errors);
            }
        }
        if errors.is_empty() { Ok(inv) } else { Err(errors) }
    }

    fn meta(&mut self, meta: &'a Value, errors: &mut RowErrors) {
        let hostvars = match meta {
            Value::Object(m) => m.get("hostvars"),
            _ => return errors.push(RowError::file(format!("_meta must be an object, not {}", kind(meta)))),
        };
        let hostvars = match hostvars {
            None | Some(Value::Null) => return,
            Some(Value::Object(h)) => h,
            Some(other) => {
                return errors.push(RowError::file(format!("_meta.hostvars must be an object, not {}", kind(other))));
            }
        };
        for (host, vars) in hostvars {
            self.hosts.insert(host);
            match vars {
                Value::Object(vars) => {
                    self.hostvars.insert(host, vars);
                }
                Value::Null => {}
                other => errors.push(RowError::file(format!(
                    "_meta.hostvars {host:?} must be an object of variables, not {}",
                    kind(other)
                ))),
            }
        }
    }

    fn group(&mut self, name: &'a str, value: &'a Value, errors: &mut RowErrors) {
        let group = match value {
            Value::Array(hosts) => return self.add_hosts(name, hosts, errors),
            Value::Object(group) => group,
            other => {
                let message = format!(
                    "group {name:?} must be an object with \"hosts\", \"vars\" and \"children\", or a list of hosts, \
                     not {}",
                    kind(other)
                );
                return errors.push(RowError::file(message));
            }
        };
        if !["hosts", "vars", "children"].iter().any(|k| group.contains_key(*k)) {
            // Ansible's shorthand: such an object is a host of that name with those variables.
            if !group.is_empty() && !IMPLICIT.contains(&name) {
                self.hosts.insert(name);
                self.member_of.entry(name).or_default().insert(name);
                self.group_vars.insert(name, group);
            }
            return;
        }
        match group.get("hosts") {
            None | Some(Value::Null) => {}
            Some(Value::Array(hosts)) => self.add_hosts(name, hosts, errors),
            Some(other) => errors.push(RowError::file(format!(
                "group {name:?}: \"hosts\" must be a list of host names, not {}",
                kind(other)
            ))),
        }
        match group.get("vars") {
            None | Some(Value::Null) => {}
            Some(Value::Object(vars)) => {
                self.group_vars.insert(name, vars);
            }
            Some(other) => {
                errors.push(RowError::file(format!("group {name:?}: \"vars\" must be an object, not {}", kind(other))))
            }
        }
        match group.get("children") {
            None | Some(Value::Null) => {}
            Some(Value::Array(children)) => {
                for child in children {
                    match child {
                        Value::String(child) => {
                            self.parents.entry(child).or_default().insert(name);
                        }
                        other => errors.push(RowError::file(format!(
                            "group {name:?}: \"children\" must be group names, not {}",
                            kind(other)
                        ))),
                    }
                }
            }
            Some(other) => errors.push(RowError::file(format!(
                "group {name:?}: \"children\" must be a list of group names, not {}",
                kind(other)
            ))),
        }
    }

    fn add_hosts(&mut self, group: &'a str, hosts: &'a [Value], errors: &mut RowErrors) {
        for host in hosts {
            match host {
                Value::String(host) => {
                    self.hosts.insert(host);
                    self.member_of.entry(host).or_default().insert(group);
                }
                other => errors
                    .push(RowError::file(format!("group {group:?}: host names must be text, not {}", kind(other)))),
            }
        }
    }

    /// The groups `host` is in with their distance (1: listed directly), found breadth-first up
    /// the `children` links so cycles end.
    fn groups_of(&self, host: &str, walk: &mut usize) -> Result<Vec<(usize, &'a str)>, String> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<(usize, &'a str)> = VecDeque::new();
        for g in self.member_of.get(host).into_iter().flatten() {
            seen.insert(g);
            queue.push_back((1, g));
        }
        let mut out = Vec::new();
        while let Some((distance, group)) = queue.pop_front() {
            out.push((distance, group));
            for parent in self.parents.get(group).into_iter().flatten() {
                *walk = walk.checked_sub(1).ok_or("the group hierarchy is too large to resolve")?;
                if seen.insert(parent) {
                    queue.push_back((distance + 1, parent));
                }
            }
            if seen.len() > GROUPS_PER_HOST_MAX {
                return Err(format!("the host is in more than {GROUPS_PER_HOST_MAX} groups"));
            }
        }
        Ok(out)
    }

    /// The host's variables as Ansible layers them: `all`, then groups from the farthest to the
    /// nearest (by name within a level, like Ansible), then the host's own.
    fn vars_of(&self, host: &str, groups: &[(usize, &'a str)]) -> BTreeMap<&'a str, &'a Value> {
        let mut order: Vec<(usize, &str)> = groups.iter().copied().filter(|(_, g)| *g != "all").collect();
        order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let layers = std::iter::once("all")
            .chain(order.into_iter().map(|(_, g)| g))
            .filter_map(|g| self.group_vars.get(g).copied())
            .chain(self.hostvars.get(host).copied());
        let mut vars = BTreeMap::new();
        for layer in layers {
            vars.extend(layer.iter().map(|(k, v)| (k.as_str(), v)));
        }
        vars
    }

    fn item(
        &self,
        row: usize,
        host: &str,
        groups: &[(usize, &str)],
        budget: &mut Budget,
    ) -> Result<ImportItem, RowErrors> {
        let vars = self.vars_of(host, groups);
        let text = |k: &str| vars.get(k).and_then(|v| v.as_str());
        let class = text("opsdeck_class").and_then(|c| CiClass::parse(c.trim())).unwrap_or(CiClass::Server);
        let environment =
            ["opsdeck_environment", "env", "environment"].iter().find_map(|k| text(k).and_then(json::place));
        let tags: BTreeSet<String> = groups
            .iter()
            .filter(|(_, g)| !IMPLICIT.contains(g))
            .filter_map(|(_, g)| json::tag(&format!("group:{g}")))
            .collect();
        let attributes: Attributes = vars
            .iter()
            .filter(|(k, _)| attribute(k))
            .filter_map(|(k, v)| attribute_value(v).filter(|v| !vaulted(v)).map(|v| ((*k).to_owned(), v)))
            .take(ATTRIBUTES_MAX)
            .collect();
        let size: usize = attributes.iter().map(|(k, v)| k.len() + v.as_str().map_or(8, str::len)).sum();
        if !budget.spend(size + host.len()) {
            let message = "group variables copied to every host make too much data; export with \
                           `ansible-inventory --list` (without --export), which resolves them per host";
            return Err(RowErrors::one(RowError::file(message)));
        }
        let input = CiInput {
            name: json::name(host).unwrap_or_else(|| host.to_owned()),
            class: class.as_str().to_owned(),
            attributes,
            environment,
            tags: tags.into_iter().take(TAGS_MAX).collect(),
            identity: Some(host.to_owned()),
            ..CiInput::default()
        };
        Ok(ImportItem { row, input, owner_team: None, service: None })
    }
}

/// Whether a variable may become an attribute: a valid name, not Opsdeck's own, not secret.
fn attribute(key: &str) -> bool {
    attribute_key(key) && !matches!(key, "opsdeck_class" | "opsdeck_environment") && !json::secret(key, SECRET_WORDS)
}

/// An Ansible Vault ciphertext, whatever the variable is called.
fn vaulted(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.trim_start().starts_with("$ANSIBLE_VAULT"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(v: Value) -> ImportSet {
        parse(v.to_string().as_bytes()).expect("valid")
    }

    fn messages(text: &str) -> Vec<String> {
        parse(text.as_bytes()).expect_err("invalid").errors.into_iter().map(|e| e.message).collect()
    }

    fn host<'a>(set: &'a ImportSet, name: &str) -> &'a CiInput {
        set.items.iter().map(|i| &i.input).find(|i| i.identity.as_deref() == Some(name)).expect(name)
    }

    #[test]
    fn hosts_groups_and_vars_become_cis() {
        let set = ok(json!({
            "_meta": {"hostvars": {
                "web-1": {"ansible_host": "10.0.0.1", "ansible_become_pass": "x", "db_password": "y",
                          "api_token": "z", "Upper": 1, "opsdeck_class": "vm", "opsdeck_environment": "Prod",
                          "nested": {"a": 1}, "tier": "web", "secret_blob": "$ANSIBLE_VAULT;1.1;AES256"},
                "lonely": {"env": "lab", "opsdeck_class": "toaster"},
                "db-1": null
            }},
            "all": {"children": ["ungrouped", "prod", "db"], "vars": {"tier": "base", "ntp": "pool.ntp.org"}},
            "prod": {"children": ["web"], "vars": {"region": "eu", "tier": "prod"}},
            "web": {"hosts": ["web-1"], "vars": {"port": 80}},
            "db": ["db-1", "db-2"],
            "ungrouped": {"hosts": ["lonely"]}
        }));
        let names: Vec<(usize, &str)> =
            set.items.iter().map(|i| (i.row, i.input.identity.as_deref().unwrap_or(""))).collect();
        assert_eq!(names, [(1, "db-1"), (2, "db-2"), (3, "lonely"), (4, "web-1")]);
        let web = host(&set, "web-1");
        assert_eq!((web.class.as_str(), web.environment.as_deref()), ("vm", Some("Prod")));
        assert_eq!(web.tags, ["group:prod", "group:web"]);
        let vars: Vec<(&str, &Value)> = web.attributes.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(
            vars,
            [
                ("ansible_host", &json!("10.0.0.1")),
                ("ntp", &json!("pool.ntp.org")),
                ("port", &json!(80)),
                ("region", &json!("eu")),
                ("tier", &json!("web")),
            ]
        );
        let lonely = host(&set, "lonely");
        assert_eq!((lonely.class.as_str(), lonely.environment.as_deref()), ("server", Some("lab")));
        assert!(lonely.tags.is_empty(), "all and ungrouped are no tags");
        assert_eq!(host(&set, "db-2").tags, ["group:db"]);
        assert!(set.relations.is_empty());
        set.validate().expect("the parsed set is valid");
    }

    #[test]
    fn nested_groups_are_followed_and_cycles_end() {
        let set = ok(json!({
            "a": {"children": ["b"], "vars": {"level": "a"}},
            "b": {"children": ["a", "c"], "vars": {"level": "b"}},
            "c": {"hosts": ["h"], "vars": {"level": "c"}},
            "Mixed.Case": {"hosts": ["h"]},
            "has space": {"hosts": ["h"]},
            "shorthand-host": {"ansible_host": "10.0.0.9"}
        }));
        let h = host(&set, "h");
        assert_eq!(h.tags, ["group:a", "group:b", "group:c", "group:mixed.case"]);
        assert_eq!(h.attributes.get("level"), Some(&json!("c")), "the nearest group wins");
        let short = host(&set, "shorthand-host");
        assert_eq!(short.attributes.get("ansible_host"), Some(&json!("10.0.0.9")));
        assert_eq!(short.tags, ["group:shorthand-host"]);
    }

    #[test]
    fn tags_and_attributes_are_capped() {
        let mut doc = Map::new();
        let mut vars = Map::new();
        for i in 0..30 {
            doc.insert(format!("g{i:02}"), json!(["h"]));
        }
        for i in 0..70 {
            vars.insert(format!("v{i:02}"), json!(i));
        }
        doc.insert("_meta".into(), json!({"hostvars": {"h": vars}}));
        let set = ok(Value::Object(doc));
        let h = &set.items[0].input;
        assert_eq!((h.tags.len(), h.attributes.len()), (TAGS_MAX, ATTRIBUTES_MAX));
        assert_eq!((h.tags.last().map(String::as_str), h.attributes.contains_key("v63")), (Some("group:g19"), true));
    }

    #[test]
    fn malformed_inventories_are_refused() {
        assert!(messages("{\"web\": [\"a\"").first().is_some_and(|m| m.contains("ends too early")));
        assert!(messages("[\"a\"]").first().is_some_and(|m| m.starts_with(SHAPE)));
        let m = messages(
            r#"{"web": 5, "db": {"hosts": ["a", 7]}, "app": {"hosts": "a"}, "x": {"children": "web"},
                "y": {"vars": []}, "z": {"children": [1]}, "_meta": {"hostvars": {"a": "b"}}}"#,
        );
        let expected = [
            "\"app\": \"hosts\" must be a list",
            "\"db\": host names must be text, not a number",
            "_meta.hostvars \"a\" must be an object",
            "group \"web\" must be an object",
            "\"x\": \"children\" must be a list",
            "\"y\": \"vars\" must be an object",
            "\"z\": \"children\" must be group names",
        ];
        for want in expected {
            assert!(m.iter().any(|m| m.contains(want)), "{want:?} not in {m:?}");
        }
        assert_eq!(m.len(), expected.len());
        assert!(messages(r#"{"_meta": []}"#)[0].contains("_meta must be an object"));
        assert_eq!(messages(" ")[0], "the file is empty");
    }

    #[test]
    fn an_oversized_hierarchy_is_a_row_error() {
        let mut doc = Map::new();
        doc.insert("g0".into(), json!({"hosts": ["h"]}));
        for i in 1..=GROUPS_PER_HOST_MAX + 1 {
            doc.insert(format!("g{i}"), json!({"children": [format!("g{}", i - 1)]}));
        }
        let e = parse(Value::Object(doc).to_string().as_bytes()).expect_err("too deep");
        assert_eq!((e.errors[0].row, e.errors[0].identity.as_deref()), (1, Some("h")));
    }
}
