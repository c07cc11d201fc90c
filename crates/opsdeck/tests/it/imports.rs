//! `opsdeck import …` against a real server: PagerDuty through the interface the migration
//! guide gives (`--api-url URL --token KEY`, Opsdeck's token in OPSDECK_TOKEN), an Uptime Kuma
//! database, a Gatus file planned with `--dry-run` and applied by its id, and the runs listed.

use super::{BIN, text};
use opsdeck_core::role::Role;
use opsdeck_testkit::import_fakes::{self as fake, GOOD_KEY};
use opsdeck_testkit::{Backend, TestServer};
use serde_json::Value;
use std::process::{Command, Output};

fn opsdeck(args: &[&str], server: &str, token: &str) -> Output {
    Command::new(BIN)
        .args(args)
        .env("OPSDECK_SERVER", server)
        .env("OPSDECK_TOKEN", token)
        .env_remove("OPSDECK_DATABASE_URL")
        .env_remove("OPSDECK_CONFIG")
        .env_remove("PAGERDUTY_TOKEN")
        .output()
        .expect("run opsdeck")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_through_the_cli() {
    let srv = TestServer::start(Backend::Sqlite).await;
    srv.clock.set(fake::now());
    let admin = srv.token("root", Role::Admin).await;
    let pd = fake::serve(fake::account(0)).await;
    let dir = tempfile::tempdir().unwrap();
    let kuma = dir.path().join("kuma.db");
    fake::kuma_db(&kuma).await;
    let gatus = dir.path().join("config.yaml");
    std::fs::write(&gatus, "endpoints:\n  - name: front\n    url: https://example.org/\n").unwrap();
    let saved = dir.path().join("pd");
    std::fs::create_dir(&saved).unwrap();
    let users =
        r#"{"users": [{"id": "PZ1", "name": "Zed", "email": "zed@example.com", "role": "user"}], "more": false}"#;
    std::fs::write(saved.join("users.json"), users).unwrap();
    let url = srv.url.clone();
    let outs = tokio::task::spawn_blocking(move || {
        let kuma = kuma.to_str().unwrap();
        let gatus = gatus.to_str().unwrap();
        let pd_plan = opsdeck(
            &["import", "pagerduty", "--api-url", &pd, "--token", GOOD_KEY, "--dry-run", "--output", "json"],
            &url,
            &admin,
        );
        let pd_wrong = opsdeck(&["import", "pagerduty", "--api-url", &pd, "--token", "nope"], &url, &admin);
        let kuma_out = opsdeck(&["import", "uptime-kuma", "--db", kuma], &url, &admin);
        let gatus_plan =
            opsdeck(&["import", "gatus", "--config", gatus, "--dry-run", "--output", "json"], &url, &admin);
        let id = serde_json::from_slice::<Value>(&gatus_plan.stdout).unwrap()["id"].as_str().unwrap().to_owned();
        let applied = opsdeck(&["import", "apply", &id], &url, &admin);
        let again = opsdeck(&["import", "apply", &id], &url, &admin);
        let list = opsdeck(&["import", "list"], &url, &admin);
        let from_dir =
            opsdeck(&["import", "pagerduty", "--from-dir", saved.to_str().unwrap(), "--dry-run"], &url, &admin);
        vec![pd_plan, pd_wrong, kuma_out, gatus_plan, applied, again, list, from_dir]
    })
    .await
    .unwrap();
    let [pd_plan, pd_wrong, kuma_out, gatus_plan, applied, again, list, from_dir] = &outs[..] else { unreachable!() };
    for o in [pd_plan, kuma_out, gatus_plan, applied, list, from_dir] {
        assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    }
    let plan: Value = serde_json::from_slice(&pd_plan.stdout).unwrap();
    assert_eq!(plan["status"], "planned");
    assert!(plan["report"]["equivalence"].as_array().unwrap().iter().any(|e| e["same"] == true));
    assert!(!pd_wrong.status.success());
    assert!(text(&pd_wrong.stderr).contains("refused the token"), "{}", text(&pd_wrong.stderr));
    let k = text(&kuma_out.stdout);
    assert!(k.starts_with("Report of import") && k.contains("8 created"), "{k}");
    assert!(k.contains("Not mapped:") && k.contains("docker"), "{k}");
    assert!(text(&applied.stdout).contains("1 created"), "{}", text(&applied.stdout));
    assert!(!again.status.success() && text(&again.stderr).contains("applied already"), "{}", text(&again.stderr));
    let l = text(&list.stdout);
    assert_eq!(l.lines().count(), 4, "{l}");
    assert!(l.contains("uptime-kuma") && l.contains("gatus"), "{l}");
    let d = text(&from_dir.stdout);
    assert!(d.starts_with("Plan of import") && d.contains("1 to create") && d.contains("Zed"), "{d}");
}
