//! The CMDB through the CLI with real peers: `ansible-inventory` (ansible-core) writes the
//! inventory `opsdeck cmdb import` reads, and reads back what `opsdeck inventory` prints as an
//! inventory script; a `terraform show -json` document with modules and `depends_on` is imported
//! and its impact walked.

use super::{BIN, run, text};
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, TestServer};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const INI: &str = "\
[web]
web1.example.com ansible_host=10.0.0.11 http_port=8080
web2.example.com ansible_host=10.0.0.12 http_port=8080 ansible_password=hunter2

[db]
db1.example.com ansible_host=10.0.0.21 pg_version=16

[prod:children]
web
db

[prod:vars]
env=production
";

fn ansible_inventory(inventory: &str) -> Value {
    let out = Command::new("ansible-inventory")
        .args(["-i", inventory, "--list"])
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "False")
        .env("ANSIBLE_LOCALHOST_WARNING", "False")
        .output()
        .expect("ansible-inventory runs (scripts/test.sh installs ansible-core)");
    assert!(out.status.success(), "ansible-inventory -i {inventory}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("ansible-inventory prints JSON")
}

/// Each group's hosts, directly or through its children (Ansible's meaning of membership),
/// without `all` and `ungrouped`.
fn members(inv: &Value) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(inv: &Value, group: &str, seen: &mut BTreeSet<String>, out: &mut BTreeSet<String>) {
        if !seen.insert(group.to_owned()) {
            return;
        }
        for h in inv[group]["hosts"].as_array().into_iter().flatten() {
            out.insert(h.as_str().unwrap().to_owned());
        }
        for c in inv[group]["children"].as_array().into_iter().flatten() {
            walk(inv, c.as_str().unwrap(), seen, out);
        }
    }
    let mut groups = BTreeMap::new();
    for g in inv.as_object().unwrap().keys().filter(|g| !matches!(g.as_str(), "_meta" | "all" | "ungrouped")) {
        let mut hosts = BTreeSet::new();
        walk(inv, g, &mut BTreeSet::new(), &mut hosts);
        groups.insert(g.clone(), hosts);
    }
    groups
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ansible_and_terraform_inventories_round_trip_through_the_cmdb() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let token = srv.token("cli", Role::Manager).await;
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("hosts.ini");
    std::fs::write(&ini, INI).unwrap();
    let listed = ansible_inventory(ini.to_str().unwrap());
    let listed_file = dir.path().join("inventory.json");
    std::fs::write(&listed_file, serde_json::to_vec(&listed).unwrap()).unwrap();
    let script = dir.path().join("opsdeck-inventory.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec '{BIN}' inventory --server '{}' --token '{token}' \"$@\"\n", srv.url),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    let tf = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/terraform-show.json");

    let url = srv.url.clone();
    let (dry, done, tf_import, tf_again, impact, back) = tokio::task::spawn_blocking(move || {
        let common = ["--server", url.as_str(), "--token", token.as_str()];
        let with = |args: &[&str]| -> Vec<String> { args.iter().chain(common.iter()).map(|s| s.to_string()).collect() };
        let file = listed_file.to_str().unwrap();
        let dry = run(&with(&["cmdb", "import", "--format", "ansible", file, "--dry-run"]), None);
        let done = run(&with(&["cmdb", "import", "--format", "ansible", file]), None);
        let tf_import = run(&with(&["cmdb", "import", "--format", "terraform", tf]), None);
        let tf_again = run(&with(&["cmdb", "import", "--format", "terraform", tf, "--dry-run"]), None);
        let impact = run(&with(&["cmdb", "impact", "shop-db", "--output", "json"]), None);
        let back = ansible_inventory(script.to_str().unwrap());
        (dry, done, tf_import, tf_again, impact, back)
    })
    .await
    .unwrap();

    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(text(&dry.stdout).contains("create  web1.example.com"), "{}", text(&dry.stdout));
    assert!(text(&dry.stderr).contains("dry run"), "{}", text(&dry.stderr));
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(text(&done.stderr).starts_with("3 CIs were created"), "{}", text(&done.stderr));

    // What Ansible reads back: the same hosts, the same group membership, the same variables
    // without the password.
    let original = members(&listed);
    let round = members(&back);
    for (group, hosts) in &original {
        assert_eq!(round.get(group), Some(hosts), "group {group}: {back}");
    }
    let (want, got) = (&listed["_meta"]["hostvars"], &back["_meta"]["hostvars"]);
    assert_eq!(want.as_object().unwrap().len(), 3, "{listed}");
    for (host, vars) in want.as_object().unwrap() {
        let mut vars = vars.as_object().unwrap().clone();
        assert_eq!(vars.remove("ansible_password").is_some(), host == "web2.example.com");
        for (k, v) in &vars {
            assert_eq!(got[host][k].to_string(), v.to_string(), "{host} {k}: {back}");
        }
        assert!(got[host].get("ansible_password").is_none(), "secrets never leave: {back}");
    }

    // Terraform: managed resources and modules, not data sources; depends_on followed to every
    // instance of a counted resource; sensitive values kept out.
    assert!(tf_import.status.success(), "{}", text(&tf_import.stderr));
    let out = text(&tf_import.stdout);
    for id in
        ["aws_vpc.main", "aws_lb.shop", "module.app.aws_instance.web[0]", "module.app.module.db.aws_db_instance.main"]
    {
        assert!(out.contains(id), "{id} imported: {out}");
    }
    assert!(!out.contains("data.aws_ami"), "data sources are not CIs: {out}");
    assert!(text(&tf_again.stderr).contains("0 CIs would be created"), "{}", text(&tf_again.stderr));
    assert!(impact.status.success(), "{}", text(&impact.stderr));
    let impact: Value = serde_json::from_slice(&impact.stdout).unwrap();
    let hit: BTreeSet<&str> = impact["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert!(hit.contains("shop-web-1") && hit.contains("shop-web-2"), "the web instances depend on the db: {impact}");
    let (_, db) = srv.get("/api/v1/cis?q=shop-db", &srv.token("view", Role::Viewer).await).await;
    let attrs = &db["items"][0]["attributes"];
    assert_eq!(attrs["engine"], "postgres", "{db}");
    assert!(attrs.get("password").is_none(), "sensitive values are dropped: {db}");
    srv.stop().await;
}
