//! Ansible dynamic inventory output (`opsdeck inventory --list` / `--host NAME`).
//!
//! [`list`] prints the JSON an inventory script answers `--list` with, which Ansible's script
//! plugin (`ansible-inventory -i script --list`) reads: `_meta.hostvars` (so Ansible skips the
//! per-host `--host` calls), one group per `group:<name>` tag, `class_<class>` and
//! `env_<environment>` groups, and `all` listing every group. Groups are objects with a `hosts`
//! key: the script plugin reads an object with none of `hosts`, `vars` or `children` as a host.
//! Every host is in its class group, so `ungrouped` is always empty.

use super::{Attributes, CiClass};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// A CI as the inventory shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryCi {
    pub host: String,
    pub class: CiClass,
    pub environment: Option<String>,
    pub tags: Vec<String>,
    pub attributes: Attributes,
}

/// Group names the inventory defines itself (or Ansible does), never taken from a tag.
const RESERVED: [&str; 3] = ["all", "ungrouped", "_meta"];

/// The `--list` document. Hosts with a blank name are left out (Ansible cannot address them);
/// when two CIs share a host name, the later one's variables win and both sets of groups apply.
pub fn list(cis: &[InventoryCi]) -> Value {
    let mut hostvars = Map::new();
    let mut groups: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for ci in cis.iter().filter(|ci| !ci.host.trim().is_empty()) {
        hostvars.insert(ci.host.clone(), host(ci));
        for group in groups_of(ci) {
            groups.entry(group).or_default().insert(&ci.host);
        }
    }
    let mut children: Vec<&str> = groups.keys().map(String::as_str).collect();
    children.push("ungrouped");
    let mut doc = Map::new();
    doc.insert("_meta".into(), json!({ "hostvars": hostvars }));
    doc.insert("all".into(), json!({ "children": children }));
    doc.insert("ungrouped".into(), json!({ "hosts": [] }));
    for (name, hosts) in &groups {
        doc.insert(name.clone(), json!({ "hosts": hosts }));
    }
    Value::Object(doc)
}

/// Ansible's own variables an inventory may set: where and as whom to connect. Others
/// (`ansible_ssh_common_args`, `ansible_become_exe`, `ansible_python_interpreter`, …) would let
/// anyone who can write a CI run commands on the Ansible controller, so they are not served.
const ANSIBLE_VARS: &[&str] = &["ansible_host", "ansible_port", "ansible_user"];

/// Whether an attribute is served as a host variable.
pub fn served(key: &str) -> bool {
    !key.starts_with("ansible_") || ANSIBLE_VARS.contains(&key)
}

/// The `--host NAME` document: the host's variables.
pub fn host(ci: &InventoryCi) -> Value {
    Value::Object(ci.attributes.iter().filter(|(k, _)| served(k)).map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// The groups a CI is in: its `group:<name>` tags, its class and its environment.
fn groups_of(ci: &InventoryCi) -> Vec<String> {
    let mut out: Vec<String> = ci
        .tags
        .iter()
        .filter_map(|t| t.strip_prefix("group:"))
        .filter(|g| !g.is_empty() && !RESERVED.contains(g))
        .map(str::to_owned)
        .collect();
    out.push(format!("class_{}", ci.class.as_str()));
    out.extend(ci.environment.as_deref().and_then(env_group));
    out
}

/// `env_<environment>`: lowercased, anything but a-z 0-9 _ replaced by `_` (a valid group name).
fn env_group(environment: &str) -> Option<String> {
    let name: String = environment
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' { c } else { '_' })
        .collect();
    (!name.is_empty()).then(|| format!("env_{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdb::import::ansible;

    fn ci(host: &str, class: CiClass, environment: Option<&str>, tags: &[&str]) -> InventoryCi {
        let mut attributes = Attributes::new();
        attributes.insert("ansible_host".into(), json!(format!("{host}.example.net")));
        attributes.insert("cpu_count".into(), json!(4));
        InventoryCi {
            host: host.into(),
            class,
            environment: environment.map(str::to_owned),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            attributes,
        }
    }

    fn sample() -> Vec<InventoryCi> {
        vec![
            ci("web-2", CiClass::Vm, Some("Prod EU"), &["group:web", "linux"]),
            ci("web-1", CiClass::Vm, Some("Prod EU"), &["group:web", "group:all"]),
            ci("db-1", CiClass::Database, None, &["group:db", "group:"]),
            ci(" ", CiClass::Server, None, &["group:web"]),
        ]
    }

    #[test]
    fn the_list_has_groups_hostvars_and_all() {
        let doc = list(&sample());
        assert_eq!(
            doc["all"],
            json!({"children": ["class_database", "class_vm", "db", "env_prod_eu", "web", "ungrouped"]})
        );
        assert_eq!(doc["web"], json!({"hosts": ["web-1", "web-2"]}));
        assert_eq!(doc["class_vm"], json!({"hosts": ["web-1", "web-2"]}));
        assert_eq!(doc["env_prod_eu"], json!({"hosts": ["web-1", "web-2"]}));
        assert_eq!(doc["db"], json!({"hosts": ["db-1"]}));
        assert_eq!(doc["ungrouped"], json!({"hosts": []}), "an object with hosts, not a host named ungrouped");
        assert_eq!(doc["_meta"]["hostvars"]["db-1"], json!({"ansible_host": "db-1.example.net", "cpu_count": 4}));
        let objects = doc.as_object().map_or(0, |o| o.len());
        assert_eq!(objects, 8, "_meta, all, ungrouped and five groups: no group from a reserved or empty tag");
        assert_eq!(doc["_meta"]["hostvars"].as_object().map(|h| h.len()), Some(3), "blank hosts are left out");
        let empty = list(&[]);
        assert_eq!(empty["all"], json!({"children": ["ungrouped"]}));
        assert_eq!(empty["_meta"], json!({"hostvars": {}}));
    }

    #[test]
    fn host_gives_the_variables() {
        let web = ci("web-1", CiClass::Vm, None, &[]);
        assert_eq!(host(&web), json!({"ansible_host": "web-1.example.net", "cpu_count": 4}));
        assert_eq!(env_group(" Prod-EU/2 "), Some("env_prod_eu_2".into()));
        assert_eq!(env_group("  "), None);
    }

    #[test]
    fn the_ansible_import_reads_the_list_back() {
        let cis = sample();
        let text = list(&cis).to_string();
        let set = ansible::parse(text.as_bytes()).expect("valid");
        let hosts: Vec<&str> = set.items.iter().filter_map(|i| i.input.identity.as_deref()).collect();
        assert_eq!(hosts, ["db-1", "web-1", "web-2"]);
        for original in cis.iter().filter(|c| !c.host.trim().is_empty()) {
            let item = set.items.iter().find(|i| i.input.identity.as_deref() == Some(&original.host)).expect("host");
            assert_eq!(item.input.attributes, original.attributes);
            let group_tags =
                original.tags.iter().filter(|t| t.starts_with("group:") && t.len() > 6 && *t != "group:all");
            for tag in group_tags {
                assert!(item.input.tags.contains(tag), "{tag} kept in {:?}", item.input.tags);
            }
            let class_tag = format!("group:class_{}", original.class.as_str());
            assert!(item.input.tags.contains(&class_tag), "the class group comes back as a tag too");
        }
        set.validate().expect("the round trip is a valid import");
    }

    #[test]
    fn only_connection_variables_of_ansible_are_served() {
        let mut attributes = Attributes::new();
        attributes.insert("ansible_host".into(), json!("10.0.0.5"));
        attributes.insert("ansible_ssh_common_args".into(), json!("-o ProxyCommand=\"sh -c evil\""));
        attributes.insert("ansible_python_interpreter".into(), json!("/tmp/x"));
        attributes.insert("http_port".into(), json!(8080));
        let ci = InventoryCi { host: "h".into(), class: CiClass::Server, environment: None, tags: vec![], attributes };
        assert_eq!(host(&ci), json!({"ansible_host": "10.0.0.5", "http_port": 8080}));
    }
}
