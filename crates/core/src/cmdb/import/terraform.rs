//! The Terraform import: `terraform show -json` output (format 1.x, HashiCorp's stable contract)
//! or a raw state file (version 4: internal to Terraform, but what most people have at hand).
//!
//! Both become one list of managed resource instances (data sources and deposed objects are
//! skipped), then CIs keyed by the instance address (`module.app.aws_instance.web[0]`). Values
//! Terraform marks sensitive, and keys that look secret, never become attributes or tags.
//! `depends_on` / `dependencies` name resources without instance keys, so each becomes a
//! `depends_on` relation to every instance of that resource in the file. Each module becomes an
//! `application` CI that `contains` its resources and its child modules.

mod read;

use super::json::{self, Budget, attribute_key, attribute_value};
use super::{ImportItem, ImportRelation, ImportSet, RELATIONS_MAX, RowError, RowErrors};
use crate::cmdb::{Attributes, CiClass, CiInput, RelationType};
use crate::validate::TAGS_MAX;
use read::{Instance, config_address, module_chain, show_instances, state_instances};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::error::Category;
use std::collections::{BTreeMap, BTreeSet, HashMap};

const SHAPE: &str = "not terraform show -json output or a version 4 state file";
/// Resource values kept as attributes (besides `terraform_type` and `terraform_provider`).
const VALUES_MAX: usize = 48;
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "private",
    "passphrase",
    "access_key",
    "api_key",
    "apikey",
    "client_key",
    "credential",
    "connection_string",
    "kube_config",
    "kubeconfig",
    "user_data",
];
/// Tags an environment is read from, in order.
const ENVIRONMENT_TAGS: [&str; 3] = ["Environment", "environment", "env"];

/// Just enough of the top level to tell the two formats (and their versions) apart.
#[derive(Deserialize)]
struct Probe {
    format_version: Option<Value>,
    version: Option<Value>,
    values: Option<IgnoredAny>,
    planned_values: Option<IgnoredAny>,
}

enum Kind {
    Show,
    State,
}

/// Parses `terraform show -json` output or a version 4 state file.
pub fn parse(bytes: &[u8]) -> Result<ImportSet, RowErrors> {
    let bytes = json::document(bytes)?;
    let instances = match kind(bytes)? {
        Kind::Show => show_instances(bytes)?,
        Kind::State => state_instances(bytes)?,
    };
    build(instances, Budget::for_input(bytes.len()))
}

fn file(message: impl Into<String>) -> RowErrors {
    RowErrors::one(RowError::file(message))
}

fn kind(bytes: &[u8]) -> Result<Kind, RowErrors> {
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        Category::Data => file(SHAPE),
        _ => json::error(&e, SHAPE),
    })?;
    match (probe.format_version, probe.version) {
        (Some(Value::String(v)), _) if v.split('.').next() != Some("1") => {
            Err(file(format!("format_version {v:?} is not supported: this reads terraform show -json format 1.x")))
        }
        (Some(Value::String(_)), _) if probe.values.is_none() && probe.planned_values.is_some() => {
            Err(file("this is a plan: run terraform show -json without a plan file to export the state"))
        }
        (Some(Value::String(_)), _) => Ok(Kind::Show),
        (Some(_), _) => Err(file("format_version must be text such as \"1.0\"")),
        (None, Some(v)) if v.as_u64() == Some(4) => Ok(Kind::State),
        (None, Some(Value::Number(n))) => {
            Err(file(format!("state file version {n} is not supported: only version 4 (Terraform 0.12 and later) is")))
        }
        _ => Err(file(SHAPE)),
    }
}

/// The CI class of a resource type.
fn class(kind: &str) -> CiClass {
    match kind {
        "aws_instance"
        | "google_compute_instance"
        | "azurerm_linux_virtual_machine"
        | "azurerm_windows_virtual_machine"
        | "azurerm_virtual_machine"
        | "digitalocean_droplet"
        | "hcloud_server"
        | "vsphere_virtual_machine"
        | "libvirt_domain" => CiClass::Vm,
        "aws_db_instance"
        | "aws_rds_cluster"
        | "google_sql_database_instance"
        | "azurerm_postgresql_server"
        | "azurerm_postgresql_flexible_server"
        | "azurerm_mssql_database"
        | "aws_dynamodb_table"
        | "aws_elasticache_cluster" => CiClass::Database,
        "aws_s3_bucket"
        | "google_storage_bucket"
        | "azurerm_storage_account"
        | "aws_ebs_volume"
        | "aws_efs_file_system" => CiClass::Storage,
        "aws_eks_cluster"
        | "google_container_cluster"
        | "azurerm_kubernetes_cluster"
        | "aws_ecs_cluster"
        | "aws_ecs_service"
        | "kubernetes_deployment" => CiClass::Container,
        "aws_lb" | "aws_alb" | "aws_elb" | "google_compute_forwarding_rule" | "azurerm_lb" => CiClass::NetworkDevice,
        "null_resource" | "terraform_data" | "local_file" => CiClass::Other,
        k if k.starts_with("random_") => CiClass::Other,
        _ => CiClass::CloudResource,
    }
}

/// Turns the instances into CIs and relations.
fn build(instances: Vec<Instance>, mut budget: Budget) -> Result<ImportSet, RowErrors> {
    let mut by_config: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, inst) in instances.iter().enumerate() {
        by_config.entry(config_address(&inst.address)).or_default().push(i);
    }
    let mut set = ImportSet::default();
    // Module address -> the row of its first resource, and (parent, child) module pairs.
    let mut modules: BTreeMap<String, usize> = BTreeMap::new();
    let mut nesting: BTreeSet<(String, String)> = BTreeSet::new();
    for inst in &instances {
        let deps: BTreeSet<String> = inst.depends_on.iter().map(|d| config_address(d)).collect();
        for dep in &deps {
            let targets = by_config.get(dep).into_iter().flatten().filter_map(|&t| instances.get(t));
            for target in targets.filter(|t| t.address != inst.address) {
                relate(&mut set, &mut budget, inst.row, &inst.address, &target.address, RelationType::DependsOn)?;
            }
        }
        if let Some(module) = &inst.module {
            let chain = module_chain(module);
            for (i, m) in chain.iter().enumerate() {
                modules.entry((*m).to_owned()).or_insert(inst.row);
                if let Some(parent) = i.checked_sub(1).and_then(|p| chain.get(p)) {
                    nesting.insert(((*parent).to_owned(), (*m).to_owned()));
                }
            }
            relate(&mut set, &mut budget, inst.row, module, &inst.address, RelationType::Contains)?;
        }
    }
    for (parent, child) in &nesting {
        let row = modules.get(child).copied().unwrap_or_default();
        relate(&mut set, &mut budget, row, parent, child, RelationType::Contains)?;
    }
    set.items = instances.into_iter().map(item).collect();
    set.items.extend(modules.into_iter().map(|(address, row)| module_item(address, row)));
    Ok(set)
}

fn relate(
    set: &mut ImportSet,
    budget: &mut Budget,
    row: usize,
    source: &str,
    target: &str,
    kind: RelationType,
) -> Result<(), RowErrors> {
    if set.relations.len() >= RELATIONS_MAX || !budget.spend(source.len() + target.len()) {
        return Err(file(format!("the dependencies make too many relations (at most {RELATIONS_MAX})")));
    }
    set.relations.push(ImportRelation { row, source: source.to_owned(), target: target.to_owned(), kind });
    Ok(())
}

/// A resource instance's CI.
fn item(inst: Instance) -> ImportItem {
    let tags = tag_map(&inst);
    let name = tags
        .get("Name")
        .and_then(|n| json::name(n))
        .or_else(|| {
            inst.values.get("name").filter(|_| !inst.sensitive.key("name")).and_then(Value::as_str).and_then(json::name)
        })
        .or_else(|| json::name(&inst.address))
        .unwrap_or_else(|| inst.address.clone());
    let environment = ENVIRONMENT_TAGS.iter().find_map(|k| tags.get(k).and_then(|v| json::place(v)));
    let ci_tags: BTreeSet<String> = tags.iter().filter_map(|(k, v)| json::tag(&format!("{k}:{v}"))).collect();
    let mut attributes: Attributes = inst
        .values
        .iter()
        .filter(|(k, _)| attribute_key(k) && !json::secret(k, SECRET_WORDS) && !inst.sensitive.key(k))
        .filter_map(|(k, v)| attribute_value(v).map(|v| (k.clone(), v)))
        .collect::<Attributes>()
        .into_iter()
        .take(VALUES_MAX)
        .collect();
    attributes.insert("terraform_type".into(), Value::String(inst.kind.clone()));
    if !inst.provider.is_empty() {
        attributes.insert("terraform_provider".into(), Value::String(inst.provider.clone()));
    }
    let input = CiInput {
        name,
        class: class(&inst.kind).as_str().to_owned(),
        attributes,
        environment,
        tags: ci_tags.into_iter().take(TAGS_MAX).collect(),
        identity: Some(inst.address),
        ..CiInput::default()
    };
    ImportItem { row: inst.row, input, owner_team: None, service: None }
}

/// The resource's `tags` that are text and not sensitive, by key.
fn tag_map(inst: &Instance) -> BTreeMap<&str, &str> {
    let Some(Value::Object(tags)) = inst.values.get("tags") else {
        return BTreeMap::new();
    };
    tags.iter()
        .filter(|(k, _)| !inst.sensitive.tag(k) && !json::secret(k, SECRET_WORDS))
        .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
        .collect()
}

fn module_item(address: String, row: usize) -> ImportItem {
    let mut attributes = Attributes::new();
    attributes.insert("terraform_module".into(), Value::Bool(true));
    let input = CiInput {
        name: json::name(&address).unwrap_or_else(|| address.clone()),
        class: CiClass::Application.as_str().to_owned(),
        attributes,
        identity: Some(address),
        ..CiInput::default()
    };
    ImportItem { row, input, owner_team: None, service: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AWS: &str = "registry.terraform.io/hashicorp/aws";

    fn show() -> String {
        json!({"format_version": "1.0", "terraform_version": "1.9.0", "values": {"outputs": {}, "root_module": {
            "resources": [
                {"address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main", "provider_name": AWS,
                 "values": {"id": "vpc-1", "cidr_block": "10.0.0.0/16", "enable_dns": true, "ipv6": null,
                            "tags": {"Name": "main-vpc", "Environment": "Prod", "Team": "Ops", "Note": "has space"}},
                 "sensitive_values": {"tags": {}}},
                {"address": "aws_instance.web[0]", "mode": "managed", "type": "aws_instance", "name": "web",
                 "index": 0, "provider_name": AWS,
                 "values": {"id": "i-0", "user_data": "#!/bin/sh", "api_token": "t", "Upper": "x", "cpu": 2,
                            "tags": {"Name": "web-0", "Owner": "alice"}, "root_block_device": [{"size": 8}]},
                 "sensitive_values": {"user_data": true, "tags": {"Owner": true}, "root_block_device": [{}]},
                 "depends_on": ["aws_vpc.main", "data.aws_ami.ubuntu"]},
                {"address": "aws_instance.web[1]", "mode": "managed", "type": "aws_instance", "name": "web",
                 "index": 1, "provider_name": AWS, "values": {"id": "i-1"}, "depends_on": ["aws_vpc.main"]},
                {"address": "data.aws_ami.ubuntu", "mode": "data", "type": "aws_ami", "name": "ubuntu",
                 "provider_name": AWS, "values": {"id": "ami-1"}},
                {"address": "aws_lb.front", "mode": "managed", "type": "aws_lb", "name": "front", "provider_name": AWS,
                 "values": {"name": "front-lb"}, "depends_on": ["aws_instance.web"]}
            ],
            "child_modules": [{"address": "module.db", "resources": [
                {"address": "module.db.aws_db_instance.main", "mode": "managed", "type": "aws_db_instance",
                 "name": "main", "provider_name": AWS, "values": {"password": "hunter2", "engine": "postgres"},
                 "sensitive_values": {"password": true}, "depends_on": ["aws_vpc.main"]}
            ], "child_modules": [{"address": "module.db.module.backup", "resources": [
                {"address": "module.db.module.backup.aws_s3_bucket.b[\"eu\"]", "mode": "managed",
                 "type": "aws_s3_bucket", "name": "b", "index": "eu", "values": {"bucket": "bk"},
                 "depends_on": ["module.db.aws_db_instance.main"]}
            ]}]}]
        }}})
        .to_string()
    }

    fn ok(text: &str) -> ImportSet {
        parse(text.as_bytes()).expect("valid")
    }

    fn message(text: &str) -> String {
        let e = parse(text.as_bytes()).expect_err("invalid");
        assert_eq!(e.errors[0].row, 0, "{e:?}");
        e.errors[0].message.clone()
    }

    fn find<'a>(set: &'a ImportSet, identity: &str) -> &'a ImportItem {
        set.items.iter().find(|i| i.input.identity.as_deref() == Some(identity)).expect(identity)
    }

    fn relations(set: &ImportSet, kind: RelationType) -> Vec<(&str, &str)> {
        set.relations.iter().filter(|r| r.kind == kind).map(|r| (r.source.as_str(), r.target.as_str())).collect()
    }

    #[test]
    fn show_json_becomes_cis() {
        let set = ok(&show());
        let rows: Vec<(usize, &str, &str)> = set
            .items
            .iter()
            .map(|i| (i.row, i.input.identity.as_deref().unwrap_or(""), i.input.class.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                (1, "aws_vpc.main", "cloud_resource"),
                (2, "aws_instance.web[0]", "vm"),
                (3, "aws_instance.web[1]", "vm"),
                (5, "aws_lb.front", "network_device"),
                (6, "module.db.aws_db_instance.main", "database"),
                (7, "module.db.module.backup.aws_s3_bucket.b[\"eu\"]", "storage"),
                (6, "module.db", "application"),
                (7, "module.db.module.backup", "application"),
            ]
        );
        let vpc = find(&set, "aws_vpc.main");
        assert_eq!((vpc.input.name.as_str(), vpc.input.environment.as_deref()), ("main-vpc", Some("Prod")));
        assert_eq!(vpc.input.tags, ["environment:prod", "name:main-vpc", "team:ops"]);
        assert_eq!(vpc.input.attributes.get("enable_dns"), Some(&json!(true)));
        assert_eq!(vpc.input.attributes.get("terraform_provider"), Some(&json!(AWS)));
        assert!(!vpc.input.attributes.contains_key("ipv6"), "nulls are dropped");

        let web = find(&set, "aws_instance.web[0]");
        let keys: Vec<&str> = web.input.attributes.keys().map(String::as_str).collect();
        assert_eq!(keys, ["cpu", "id", "terraform_provider", "terraform_type"], "no sensitive, secret or bad keys");
        assert_eq!((web.input.name.as_str(), web.input.tags.clone()), ("web-0", vec!["name:web-0".to_owned()]));
        assert_eq!(find(&set, "aws_lb.front").input.name, "front-lb");
        let db = find(&set, "module.db.aws_db_instance.main");
        assert!(!db.input.attributes.contains_key("password") && db.input.attributes.contains_key("engine"));
        assert_eq!(find(&set, "module.db").input.attributes.get("terraform_module"), Some(&json!(true)));
        set.validate().expect("the parsed set is valid");
    }

    #[test]
    fn dependencies_and_modules_become_relations() {
        let set = ok(&show());
        assert_eq!(
            relations(&set, RelationType::DependsOn),
            [
                ("aws_instance.web[0]", "aws_vpc.main"),
                ("aws_instance.web[1]", "aws_vpc.main"),
                ("aws_lb.front", "aws_instance.web[0]"),
                ("aws_lb.front", "aws_instance.web[1]"),
                ("module.db.aws_db_instance.main", "aws_vpc.main"),
                ("module.db.module.backup.aws_s3_bucket.b[\"eu\"]", "module.db.aws_db_instance.main"),
            ]
        );
        assert_eq!(
            relations(&set, RelationType::Contains),
            [
                ("module.db", "module.db.aws_db_instance.main"),
                ("module.db.module.backup", "module.db.module.backup.aws_s3_bucket.b[\"eu\"]"),
                ("module.db", "module.db.module.backup"),
            ]
        );
    }

    #[test]
    fn a_version_4_state_is_read_like_show_json() {
        let hcloud = "provider[\"registry.terraform.io/hetznercloud/hcloud\"]";
        let state = json!({"version": 4, "terraform_version": "1.9.0", "serial": 1, "lineage": "l", "resources": [
            {"mode": "managed", "type": "hcloud_server", "name": "web", "provider": hcloud,
             "instances": [
                {"index_key": 0, "schema_version": 0, "dependencies": ["module.net.hcloud_network.main"],
                 "attributes": {"id": "1", "name": "web-a", "root_password": "x", "user_data": "u",
                                "tags": {"Owner": "bob", "env": "staging"}},
                 "sensitive_attributes": [[{"type": "get_attr", "value": "user_data"}],
                     [{"type": "get_attr", "value": "tags"},
                      {"type": "index", "value": {"value": "Owner", "type": "string"}}]]},
                {"index_key": 1, "attributes": {"id": "2"}},
                {"index_key": 1, "deposed": "00000001", "attributes": {"id": "old"}}
             ]},
            {"mode": "data", "type": "hcloud_image", "name": "debian", "provider": "provider[\"x\"]",
             "instances": [{"attributes": {"id": "7"}}]},
            {"module": "module.net[\"eu\"]", "mode": "managed", "type": "hcloud_network", "name": "main",
             "provider": hcloud, "instances": [{"attributes": {}}]}
        ]});
        let set = ok(&state.to_string());
        let ids: Vec<(usize, &str)> =
            set.items.iter().map(|i| (i.row, i.input.identity.as_deref().unwrap_or(""))).collect();
        assert_eq!(
            ids,
            [
                (1, "hcloud_server.web[0]"),
                (2, "hcloud_server.web[1]"),
                (5, "module.net[\"eu\"].hcloud_network.main"),
                (5, "module.net[\"eu\"]"),
            ]
        );
        let web = &set.items[0];
        assert_eq!((web.input.name.as_str(), web.input.environment.as_deref()), ("web-a", Some("staging")));
        assert_eq!(web.input.tags, ["env:staging"], "the sensitive tag is dropped");
        let keys: Vec<&str> = web.input.attributes.keys().map(String::as_str).collect();
        assert_eq!(keys, ["id", "name", "terraform_provider", "terraform_type"]);
        assert_eq!(
            web.input.attributes.get("terraform_provider"),
            Some(&json!("registry.terraform.io/hetznercloud/hcloud"))
        );
        assert_eq!(
            relations(&set, RelationType::DependsOn),
            [("hcloud_server.web[0]", "module.net[\"eu\"].hcloud_network.main")]
        );
        set.validate().expect("the parsed set is valid");
    }

    #[test]
    fn attributes_and_tags_are_capped_deterministically() {
        let mut values = serde_json::Map::new();
        let mut tags = serde_json::Map::new();
        for i in 0..60 {
            values.insert(format!("k{i:02}"), json!(i));
            tags.insert(format!("t{i:02}"), json!("v"));
        }
        values.insert("tags".into(), Value::Object(tags));
        let doc = json!({"format_version": "1.1", "values": {"root_module": {"resources": [
            {"address": "random_pet.p", "mode": "managed", "type": "random_pet", "values": values}]}}});
        let set = ok(&doc.to_string());
        let pet = &set.items[0].input;
        assert_eq!((pet.class.as_str(), pet.attributes.len(), pet.tags.len()), ("other", VALUES_MAX + 1, TAGS_MAX));
        assert!(pet.attributes.contains_key("k47") && !pet.attributes.contains_key("k48"));
        assert_eq!(pet.tags.last().map(String::as_str), Some("t19:v"));
    }

    #[test]
    fn unsupported_or_broken_files_are_refused() {
        assert!(message("{\"format_version\": \"1.0\",").contains("ends too early"));
        assert!(message("{\"format_version\": \"1.0\" \"values\": {}}").starts_with("malformed JSON"));
        assert!(message(r#"{"format_version": "2.0"}"#).contains("\"2.0\" is not supported"));
        assert!(message(r#"{"format_version": 1}"#).contains("must be text"));
        assert!(message(r#"{"version": 3, "modules": []}"#).contains("version 3 is not supported"));
        assert!(message(r#"{"format_version": "1.2", "planned_values": {}}"#).contains("this is a plan"));
        assert_eq!(message("[1, 2]"), SHAPE);
        assert_eq!(message(r#"{"hello": "world"}"#), SHAPE);
        let missing = message(concat!(
            r#"{"format_version": "1.0", "values": {"root_module": {"resources": ["#,
            "\n",
            r#"{"address": "a.b", "mode": "managed"}]}}}"#
        ));
        assert!(missing.contains("missing field `type`") && missing.contains("line 2"), "{missing}");
        let no_address = message(r#"{"format_version": "1.0", "values": {"root_module": {"child_modules": [{}]}}}"#);
        assert!(no_address.contains("no \"address\""), "{no_address}");
        let paths = message(concat!(
            r#"{"version": 4, "resources": [{"mode": "managed", "type": "a", "name": "b", "provider": "p", "#,
            r#""instances": [{"sensitive_attributes": ["password"]}]}]}"#
        ));
        assert!(paths.contains("terraform state") && paths.contains("line 1"), "{paths}");
        assert!(ok(r#"{"format_version": "1.0"}"#).items.is_empty(), "an empty state has no resources");
    }

    #[test]
    fn a_bad_instance_key_is_a_row_error() {
        let e = parse(
            br#"{"version": 4, "resources": [{"mode": "managed", "type": "a", "name": "b", "provider": "p",
            "instances": [{"attributes": {}}, {"index_key": true}]}]}"#,
        )
        .expect_err("invalid");
        assert_eq!((e.errors[0].row, e.errors[0].identity.as_deref()), (2, Some("a.b")));
    }
}
