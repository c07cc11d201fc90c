//! The `opsdeck` binary as a user runs it: administration on the database, client commands
//! against a running server (the testkit's, on SQLite).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly on purpose

mod agents;
mod cmdb;
mod db_restart;
mod desk;
mod ha;
mod imports;
mod migrate_db;

use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, TestServer};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_opsdeck");

fn run<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("OPSDECK_TOKEN")
        .env_remove("OPSDECK_SERVER")
        .env_remove("OPSDECK_DATABASE_URL")
        .env_remove("OPSDECK_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run opsdeck");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn administration_works_on_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = run(
        &["user", "add", "--username", "alice", "--role", "admin", "--password-stdin", "--data-dir", d],
        Some("a long password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("created user alice with role admin"));

    // A weak password, an unknown role and a duplicate each fail with a message.
    let out = run(&["user", "add", "--username", "bob", "--password-stdin", "--data-dir", d], Some("short\n"));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("at least 8"), "{}", text(&out.stderr));
    let out = run(
        &["user", "add", "--username", "bob", "--role", "root", "--password-stdin", "--data-dir", d],
        Some("long enough\n"),
    );
    assert!(text(&out.stderr).contains("unknown role"));
    let out = run(&["user", "add", "--username", "alice", "--password-stdin", "--data-dir", d], Some("long enough\n"));
    assert!(text(&out.stderr).contains("already exists"));

    let out = run(&["token", "create", "--user", "alice", "--name", "ci", "--data-dir", d], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).lines().last().unwrap().to_owned();
    assert!(token.starts_with("opsd_") && token.len() == 69, "the token alone on the last line: {token:?}");

    let out = run(&["user", "list", "--output", "json", "--data-dir", d], None);
    let users: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(users["items"][0]["username"], "alice");
    let out = run(&["token", "list", "--output", "json", "--data-dir", d], None);
    let tokens: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!text(&out.stdout).contains(&token), "token list never shows secrets");
    let id = tokens["items"][0]["id"].as_str().unwrap().to_owned();
    assert!(run(&["token", "revoke", &id, "--data-dir", d], None).status.success());

    let backup = dir.path().join("copy.db");
    let out = run(&["backup", "--to", backup.to_str().unwrap(), "--data-dir", d], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let meta = std::fs::metadata(&backup).unwrap();
    assert!(meta.len() > 0);
    #[cfg(unix)]
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o600, "owner-only");
    let out = run(&["backup", "--to", backup.to_str().unwrap(), "--data-dir", d], None);
    assert!(text(&out.stderr).contains("already exists"));
    // A data directory without a database has nothing to back up, and gets no new database.
    let empty = dir.path().join("empty");
    let out = run(
        &["backup", "--to", dir.path().join("none.db").to_str().unwrap(), "--data-dir", empty.to_str().unwrap()],
        None,
    );
    assert!(text(&out.stderr).contains("nothing to back up"), "{}", text(&out.stderr));
    assert!(!empty.join("opsdeck.db").exists() && !dir.path().join("none.db").exists());
}

#[test]
fn configuration_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("from-file");
    let from_flag = dir.path().join("from-flag");
    let cfg = dir.path().join("opsdeck.toml");
    std::fs::write(&cfg, format!("data_dir = {:?}\n", from_file.to_str().unwrap())).unwrap();
    let c = cfg.to_str().unwrap();
    let out = run(&["user", "add", "--username", "f", "--password-stdin", "--config", c], Some("long enough\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(from_file.join("opsdeck.db").exists(), "the file's data_dir is used");
    let out = run(
        &[
            "user",
            "add",
            "--username",
            "g",
            "--password-stdin",
            "--config",
            c,
            "--data-dir",
            from_flag.to_str().unwrap(),
        ],
        Some("long enough\n"),
    );
    assert!(out.status.success());
    assert!(from_flag.join("opsdeck.db").exists(), "a flag beats the file");
    let env_dir = dir.path().join("from-env");
    let out =
        Command::new(BIN).args(["user", "list", "--config", c]).env("OPSDECK_DATA_DIR", &env_dir).output().unwrap();
    assert!(out.status.success());
    assert!(env_dir.join("opsdeck.db").exists(), "the environment beats the file");
    std::fs::write(&cfg, "colour = \"red\"\n").unwrap();
    let out = run(&["user", "list", "--config", c], None);
    assert!(text(&out.stderr).contains("invalid configuration file"), "{}", text(&out.stderr));
}

#[test]
fn bad_database_urls_fail_in_one_line() {
    let out = run(&["migrate", "--database-url", "mysql://x/y"], None);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("use sqlite://PATH"), "{err}");
    let out = run(&["migrate", "--database-url", "postgres://nobody@127.0.0.1:1/x"], None);
    assert!(text(&out.stderr).contains("cannot connect to PostgreSQL at 127.0.0.1:1"));
    let out = run(&["version"], None);
    assert!(text(&out.stdout).starts_with("opsdeck "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_commands_are_api_clients() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let token = srv.token("cli", Role::Manager).await;
    let url = srv.url.clone();
    let t = token.clone();
    let (add, list, show, missing, no_token) = tokio::task::spawn_blocking(move || {
        let common = ["--server", url.as_str(), "--token", t.as_str()];
        let with = |args: &[&str]| -> Vec<String> { args.iter().chain(common.iter()).map(|s| s.to_string()).collect() };
        (
            run(
                &with(&[
                    "service",
                    "add",
                    "--name",
                    "Checkout API",
                    "--tier",
                    "1",
                    "--tags",
                    "pci,prod",
                    "--output",
                    "json",
                ]),
                None,
            ),
            run(&with(&["service", "list"]), None),
            run(&with(&["service", "show", "checkout-api", "--output", "json"]), None),
            run(&with(&["service", "show", "nope"]), None),
            run(&["service", "list", "--server", url.as_str()], None),
        )
    })
    .await
    .unwrap();
    assert!(add.status.success(), "{}", text(&add.stderr));
    let created: Value = serde_json::from_slice(&add.stdout).unwrap();
    assert_eq!(created["slug"], "checkout-api");
    assert_eq!(created["tags"], serde_json::json!(["pci", "prod"]));
    assert!(text(&list.stdout).contains("checkout-api"), "{}", text(&list.stdout));
    assert!(text(&list.stdout).starts_with("SLUG"));
    let shown: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["tier"], 1);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("service_not_found"), "{}", text(&missing.stderr));
    assert!(text(&no_token.stderr).contains("no API token"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_and_export_are_idempotent() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let token = srv.token("ops", Role::Manager).await;
    srv.post("/api/v1/teams", &token, serde_json::json!({"name": "Payments"})).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opsdeck.yaml");
    let write = |text: &str| std::fs::write(&file, text).unwrap();
    let (url, tok) = (srv.url.clone(), token.clone());
    let f = file.to_str().unwrap().to_owned();
    let cli = move |extra: &[&str]| {
        let mut args = vec!["apply", "-f", f.as_str(), "--server", url.as_str(), "--token", tok.as_str()];
        args.extend_from_slice(extra);
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move { tokio::task::spawn_blocking(move || run(&args, None)).await.unwrap() }
    };

    write(
        r#"
services:
  - slug: checkout-api
    name: Checkout API
    team: payments
    tier: 1
    tags: [pci]
monitors:
  - name: checkout health
    service: checkout-api
    type: http
    interval_seconds: 30
    settings: {url: "http://127.0.0.1:9/health"}
  - name: old one
    type: tcp
    settings: {host: 127.0.0.1, port: 9}
vendors:
  - {name: Forge, url: "http://127.0.0.1:9/status", interval_seconds: 60}
status_pages:
  - slug: shop
    title: Shop Status
    components:
      - {name: Checkout, service: checkout-api, monitors: [checkout health]}
      - {name: Git, vendor: Forge, vendor_component: Git, group: Third parties}
      - {name: TCP, monitors: [old one], only_show_if_degraded: true}
"#,
    );
    let out = cli(&["--dry-run"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("+ service checkout-api"));
    assert!(text(&out.stdout).contains("dry run"));
    assert!(text(&out.stdout).contains("+ vendor Forge") && text(&out.stdout).contains("+ status page shop"));
    let (_, list) = srv.get("/api/v1/services", &token).await;
    assert!(list["items"].as_array().unwrap().is_empty(), "a dry run changes nothing");

    let out = cli(&[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (_, m) = srv.get("/api/v1/monitors?q=checkout", &token).await;
    assert_eq!(m["items"][0]["service_name"], "Checkout API");
    let (_, pages) = srv.get("/api/v1/status-pages", &token).await;
    let comps = pages["items"][0]["components"].as_array().unwrap().clone();
    let names: Vec<&str> = comps.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Checkout", "Git", "TCP"], "in the file's order, the group where its first member is");
    assert_eq!(comps[0]["monitor_ids"][0], m["items"][0]["id"]);
    assert_eq!(
        (comps[1]["group"].as_str(), comps[1]["vendor_component"].as_str()),
        (Some("Third parties"), Some("Git"))
    );
    let out = cli(&[]).await;
    assert!(text(&out.stdout).contains("nothing to change"), "{}", text(&out.stdout));

    // Export, then apply the export: nothing to change.
    let (url, tok) = (srv.url.clone(), token.clone());
    let export =
        tokio::task::spawn_blocking(move || run(&["export", "--server", url.as_str(), "--token", tok.as_str()], None))
            .await
            .unwrap();
    assert!(export.status.success(), "{}", text(&export.stderr));
    std::fs::write(&file, &export.stdout).unwrap();
    let out = cli(&[]).await;
    assert!(text(&out.stdout).contains("nothing to change"), "export round-trips: {}", text(&out.stdout));
    assert!(text(&export.stdout).contains("status_pages:") && text(&export.stdout).contains("vendor: Forge"));

    // Change one monitor, drop another, prune.
    write(
        r#"
services:
  - {slug: checkout-api, name: Checkout API, team: payments, tier: 1, tags: [pci]}
monitors:
  - {name: checkout health, service: checkout-api, type: http, interval_seconds: 60,
      settings: {url: "http://127.0.0.1:9/health"}}
"#,
    );
    let out = cli(&["--prune"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("~ monitor checkout health (interval_seconds)"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("- monitor old one"));
    let (_, all) = srv.get("/api/v1/monitors", &token).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    assert_eq!(all["items"][0]["interval_seconds"], 60);

    // Every mistake in the file is reported, and nothing changes.
    write(
        r#"
services:
  - {slug: Bad Slug, name: x}
  - {slug: billing, name: Billing, tier: 9, team: nobody}
monitors:
  - {name: checkout health, type: http, interval_seconds: 0, settings: {url: "http://127.0.0.1:9/health"}}
  - {name: dns, type: dns, service: ghost, settings: {name: example.com, resolver: "dns.google"}}
vendors:
  - {name: Forge, url: "ftp://x"}
status_pages:
  - slug: shop
    title: Shop Status
    components:
      - {name: A, service: ghost, monitors: [nope]}
      - {name: B, vendor: Nobody}
      - {name: C, vendor_component: Git}
"#,
    );
    let out = cli(&[]).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    for needle in [
        "services[0] (Bad Slug): slug",
        "services[1] (billing): team",
        "services[1] (billing): tier",
        "monitors[0] (checkout health): interval_seconds",
        "monitors[1] (dns): service",
        "monitors[1] (dns): settings.resolver",
        "vendors[0] (Forge): url",
        "status_pages[0] (shop): component \"A\": service",
        "status_pages[0] (shop): component \"A\": monitors: no monitor named \"nope\"",
        "status_pages[0] (shop): component \"B\": vendor: no vendor named \"Nobody\"",
        "component 3: vendor_component: needs vendor_id",
        "nothing was changed",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    let (_, all) = srv.get("/api/v1/monitors", &token).await;
    assert_eq!(all["items"][0]["interval_seconds"], 60, "unchanged");

    // A page's title changes and a component goes; the others keep their ids.
    let (_, before) = srv.get("/api/v1/status-pages", &token).await;
    let checkout_id = before["items"][0]["components"][0]["id"].clone();
    write(
        r#"
status_pages:
  - slug: shop
    title: The Shop
    components:
      - {name: Checkout, service: checkout-api, monitors: [checkout health]}
"#,
    );
    let out = cli(&[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("~ status page shop"), "{}", text(&out.stdout));
    let (_, after) = srv.get("/api/v1/status-pages", &token).await;
    assert_eq!(after["items"][0]["title"], "The Shop");
    assert_eq!(after["items"][0]["components"].as_array().unwrap().len(), 1);
    assert_eq!(after["items"][0]["components"][0]["id"], checkout_id, "matched by name, kept");
    let (_, vendors) = srv.get("/api/v1/vendors", &token).await;
    assert_eq!(vendors["items"].as_array().unwrap().len(), 1, "no vendors section: vendors left alone");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_and_event_commands() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let token = srv.token("cli", Role::Manager).await;
    let (_, svc) = srv.post("/api/v1/services", &token, serde_json::json!({"name": "Payments"})).await;
    let (_, it) = srv
        .post(
            &format!("/api/v1/services/{}/integrations", svc["id"].as_str().unwrap()),
            &token,
            serde_json::json!({"type": "pagerduty"}),
        )
        .await;
    let key = it["key"].as_str().unwrap().to_owned();
    let url = srv.url.clone();
    let t = token.clone();
    let outs = tokio::task::spawn_blocking(move || {
        let common = ["--server", url.as_str(), "--token", t.as_str()];
        let with = |args: &[&str]| -> Vec<String> { args.iter().chain(common.iter()).map(|s| s.to_string()).collect() };
        vec![
            run(
                &with(&[
                    "event",
                    "send",
                    "--routing-key",
                    &key,
                    "--summary",
                    "Disk full on db1",
                    "--severity",
                    "critical",
                    "--dedup-key",
                    "db1/disk",
                ]),
                None,
            ),
            run(&with(&["incident", "list"]), None),
            run(&with(&["incident", "ack", "INC-1", "--note", "on it"]), None),
            run(&with(&["incident", "note", "INC-1", "cleaning up old logs"]), None),
            run(&with(&["incident", "resolve", "INC-1"]), None),
            run(&with(&["incident", "show", "INC-1", "--output", "json"]), None),
            run(
                &with(&[
                    "incident",
                    "declare",
                    "--title",
                    "Card payments slow",
                    "--service",
                    "payments",
                    "--severity",
                    "SEV2",
                ]),
                None,
            ),
            run(&with(&["incident", "ack", "INC-999"]), None),
            run(&with(&["event", "send", "--routing-key", "short", "--summary", "x"]), None),
            run(
                &with(&["event", "send", "--routing-key", &key, "--action", "resolve", "--dedup-key", "db1/disk"]),
                None,
            ),
        ]
    })
    .await
    .unwrap();
    for (i, o) in outs.iter().enumerate().take(7) {
        assert!(o.status.success(), "step {i}: {}", text(&o.stderr));
    }
    assert!(text(&outs[0].stdout).contains("Event processed (dedup_key db1/disk)"), "{}", text(&outs[0].stdout));
    let list = text(&outs[1].stdout);
    assert!(list.starts_with("NUMBER") && list.contains("INC-1") && list.contains("SEV1"), "{list}");
    assert!(text(&outs[2].stdout).contains("INC-1 is acknowledged"));
    assert!(text(&outs[4].stdout).contains("INC-1 is resolved"));
    let shown: Value = serde_json::from_slice(&outs[5].stdout).unwrap();
    assert_eq!(shown["incident"]["status"], "resolved");
    let bodies: Vec<&str> = shown["timeline"].as_array().unwrap().iter().filter_map(|e| e["body"].as_str()).collect();
    assert!(bodies.iter().any(|b| b.contains("cleaning up old logs")), "{bodies:?}");
    assert!(text(&outs[6].stdout).contains("declared INC-2: Card payments slow"));
    assert!(text(&outs[7].stderr).contains("incident not found"), "{}", text(&outs[7].stderr));
    assert!(text(&outs[8].stderr).contains("Length of 'routing_key' is incorrect"), "{}", text(&outs[8].stderr));
    assert!(outs[9].status.success(), "resolving a resolved key is accepted and ignored");
    srv.stop().await;
}

/// Starts `opsdeck serve` on a free port over the SQLite database in `dir`.
fn start_server(dir: &str) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .args(["serve", "--data-dir", dir, "--listen", &listen, "--log", "warn"])
        .env_remove("OPSDECK_DATABASE_URL")
        .env_remove("OPSDECK_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start opsdeck serve");
    (child, format!("http://{listen}"))
}

async fn wait_ready(http: &reqwest::Client, url: &str) {
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{url}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("the server at {url} did not become ready");
}

/// An answered 202 means committed: SIGKILL the server while a load generator sends events,
/// restart it, and find every acknowledged event in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_sigkill() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    assert!(
        run(
            &["user", "add", "--username", "admin", "--role", "admin", "--password-stdin", "--data-dir", &d],
            Some("a long password\n")
        )
        .status
        .success()
    );
    let out = run(&["token", "create", "--user", "admin", "--name", "t", "--data-dir", &d], None);
    let token = text(&out.stdout).lines().last().unwrap().to_owned();
    let (mut child, url) = start_server(&d);
    let http = reqwest::Client::new();
    wait_ready(&http, &url).await;
    let svc: Value = http
        .post(format!("{url}/api/v1/services"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "Durable"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let it: Value = http
        .post(format!("{url}/api/v1/services/{}/integrations", svc["id"].as_str().unwrap()))
        .bearer_auth(&token)
        .json(&serde_json::json!({"type": "pagerduty"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = it["key"].as_str().unwrap().to_owned();

    // 16 senders, each with its own keys, until the server dies under them.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut senders = tokio::task::JoinSet::new();
    for c in 0..16 {
        let (http, url, key, acked) = (http.clone(), url.clone(), key.clone(), acked.clone());
        senders.spawn(async move {
            for i in 0.. {
                let dedup = format!("k-{c}-{i}");
                let body = serde_json::json!({"routing_key": key, "event_action": "trigger", "dedup_key": dedup,
                    "payload": {"summary": format!("event {c}/{i}"), "source": "load", "severity": "warning"}});
                match http.post(format!("{url}/v2/enqueue")).json(&body).send().await {
                    Ok(r) if r.status() == reqwest::StatusCode::ACCEPTED => acked.lock().unwrap().push(dedup),
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
    }
    // Kill once a good number of events were acknowledged.
    while acked.lock().unwrap().len() < 2_000 {
        tokio::task::yield_now().await;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL the server");
    let _ = child.wait();
    while senders.join_next().await.is_some() {}
    let acked = acked.lock().unwrap().clone();

    let (mut child, url) = start_server(&d);
    wait_ready(&http, &url).await;
    let db = opsdeck_store::Db::connect(&opsdeck_store::ConnectOptions::new(format!("sqlite://{d}/opsdeck.db")))
        .await
        .unwrap();
    let stored: std::collections::HashSet<String> = match &db {
        opsdeck_store::Db::Sqlite(sqlite) => {
            sqlx::query_scalar("SELECT dedup_key FROM alerts").fetch_all(&sqlite.pool).await.unwrap()
        }
        opsdeck_store::Db::Postgres(_) => unreachable!(),
    }
    .into_iter()
    .collect();
    let missing: Vec<&String> = acked.iter().filter(|k| !stored.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events were lost, e.g. {:?}",
        missing.len(),
        acked.len(),
        missing.first()
    );
    db.close().await;
    child.kill().unwrap();
    let _ = child.wait();
}

/// The server is killed with SIGKILL mid-escalation and restarted: the next level fires on time
/// (within 2 s of its due time) and nothing is sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_resumes_on_time_after_sigkill() {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    for (name, role) in [("admin", "admin"), ("alice", "responder"), ("bob", "responder")] {
        let out = run(
            &["user", "add", "--username", name, "--role", role, "--password-stdin", "--data-dir", &d],
            Some("a long password\n"),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let token = text(&run(&["token", "create", "--user", "admin", "--name", "t", "--data-dir", &d], None).stdout)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let users: Value =
        serde_json::from_slice(&run(&["user", "list", "--output", "json", "--data-dir", &d], None).stdout).unwrap();
    let id_of = |n: &str| {
        users["items"].as_array().unwrap().iter().find(|u| u["username"] == n).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // A webhook receiver that records when each person's message arrives.
    let got: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let g = g.clone();
        async move {
            g.lock().unwrap().push((uri.path().to_owned(), Instant::now()));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rx = format!("http://{}", listener.local_addr().unwrap());
    let rx_task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let (mut child, url) = start_server(&d);
    let http = reqwest::Client::new();
    wait_ready(&http, &url).await;
    let api = |method: reqwest::Method, path: String, body: Value| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let r = http.request(method, format!("{url}{path}")).bearer_auth(token).json(&body).send().await.unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json::<Value>().await.unwrap_or(Value::Null)
        }
    };
    for n in ["alice", "bob"] {
        api(
            reqwest::Method::POST,
            format!("/api/v1/users/{}/contact-methods", id_of(n)),
            serde_json::json!({"kind": "webhook", "address": format!("{rx}/{n}")}),
        )
        .await;
    }
    let pol = api(
        reqwest::Method::POST,
        "/api/v1/escalation-policies".into(),
        serde_json::json!({"name": "P", "levels": [
        {"delay_minutes": 1, "targets": [{"type": "user", "id": id_of("alice")}]},
        {"delay_minutes": 1, "targets": [{"type": "user", "id": id_of("bob")}]}]}),
    )
    .await;
    let svc = api(reqwest::Method::POST, "/api/v1/services".into(), serde_json::json!({"name": "Core"})).await;
    let sid = svc["id"].as_str().unwrap().to_owned();
    api(
        reqwest::Method::PUT,
        format!("/api/v1/services/{sid}/escalation-policy"),
        serde_json::json!({"policy_id": pol["id"]}),
    )
    .await;
    api(
        reqwest::Method::POST,
        "/api/v1/incidents".into(),
        serde_json::json!({"title": "Core down", "service_id": sid}),
    )
    .await;

    let count = |who: &str| got.lock().unwrap().iter().filter(|g| g.0 == format!("/{who}")).count();
    let deadline = Instant::now() + Duration::from_secs(10);
    while count("alice") == 0 {
        assert!(Instant::now() < deadline, "level 1 never fired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Mid-escalation: level 2 is pending. Kill the server, make level 2 due 3 s from now, restart.
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let db = opsdeck_store::Db::connect(&opsdeck_store::ConnectOptions::new(format!("sqlite://{d}/opsdeck.db")))
        .await
        .unwrap();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let due_ms = now_ms + 3_000;
    let due = Instant::now() + Duration::from_millis(3_000);
    match &db {
        opsdeck_store::Db::Sqlite(sqlite) => {
            let n = sqlx::query("UPDATE escalations SET next_at = $1")
                .bind(due_ms)
                .execute(&sqlite.pool)
                .await
                .unwrap()
                .rows_affected();
            assert_eq!(n, 1, "one escalation is pending");
        }
        opsdeck_store::Db::Postgres(_) => unreachable!(),
    }
    db.close().await;
    let (mut child, url) = start_server(&d);
    wait_ready(&http, &url).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while count("bob") == 0 {
        assert!(Instant::now() < deadline, "level 2 never fired after the restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at = got.lock().unwrap().iter().find(|g| g.0 == "/bob").unwrap().1;
    assert!(at + Duration::from_millis(100) >= due, "level 2 fired {:?} early", due - at);
    assert!(at <= due + Duration::from_secs(2), "level 2 fired {:?} late", at - due);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!((count("alice"), count("bob")), (1, 1), "nothing is sent twice");
    child.kill().unwrap();
    let _ = child.wait();
    rx_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oncall_and_schedule_commands() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let token = srv.token("cli", Role::Manager).await;
    let alice = srv.user("alice", Role::Responder).await;
    let start = (srv.now() - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%S").to_string();
    let (_, s) = srv
        .post(
            "/api/v1/schedules",
            &token,
            serde_json::json!({"name": "Primary", "timezone": "UTC", "layers": [
            {"name": "Daily", "users": [alice.id], "start": start, "length": {"unit": "days", "count": 1}}]}),
        )
        .await;
    let sid = s["id"].as_str().unwrap().to_owned();
    let url = srv.url.clone();
    let t = token.clone();
    let outs = tokio::task::spawn_blocking(move || {
        let common = ["--server", url.as_str(), "--token", t.as_str()];
        let with = |args: &[&str]| -> Vec<String> { args.iter().chain(common.iter()).map(|s| s.to_string()).collect() };
        vec![
            run(&with(&["oncall", "now", "--schedule", &sid]), None),
            run(&with(&["schedule", "list"]), None),
            run(&with(&["schedule", "show", &sid, "--days", "2"]), None),
            run(&with(&["oncall", "now", "--service", "nope"]), None),
        ]
    })
    .await
    .unwrap();
    for o in &outs[..3] {
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    assert!(text(&outs[0].stdout).contains("alice"), "{}", text(&outs[0].stdout));
    assert!(text(&outs[1].stdout).contains("Primary") && text(&outs[1].stdout).contains("alice"));
    let shown = text(&outs[2].stdout);
    assert!(shown.starts_with("Primary (UTC), on call now: alice") && shown.contains("layer Daily"), "{shown}");
    assert!(!outs[3].status.success() && text(&outs[3].stderr).contains("service_id"), "{}", text(&outs[3].stderr));
    srv.stop().await;
}

/// SIGTERM with fifty browser tabs' live-update streams open: the streams end, in-flight work
/// finishes, and the process exits within five seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_open_event_streams_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let added = run(
        &["user", "add", "--username", "admin", "--role", "admin", "--password-stdin", "--data-dir", &d],
        Some("a long password\n"),
    );
    assert!(added.status.success());
    let out = run(&["token", "create", "--user", "admin", "--name", "t", "--data-dir", &d], None);
    let token = text(&out.stdout).lines().last().unwrap().to_owned();
    let (child, url) = start_server(&d);
    let http = reqwest::Client::new();
    wait_ready(&http, &url).await;
    let mut streams = Vec::new();
    for _ in 0..50 {
        let r = http.get(format!("{url}/api/v1/events")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        streams.push(r);
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = std::time::Instant::now();
    let mut child = child;
    let exited =
        tokio::time::timeout(std::time::Duration::from_secs(5), tokio::task::spawn_blocking(move || child.wait()))
            .await;
    let status = exited.expect("the server exits within 5 s of SIGTERM").unwrap().unwrap();
    assert!(status.success(), "a clean exit: {status:?} after {:?}", started.elapsed());
    // Every stream was ended by the server, not cut by the test.
    for mut s in streams {
        while let Ok(Some(_)) = s.chunk().await {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_commands() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let token = srv.token("ops", Role::Manager).await;
    let (_, team) = srv.post("/api/v1/teams", &token, serde_json::json!({"name": "Payments"})).await;
    srv.post("/api/v1/services", &token, serde_json::json!({"name": "Card API", "team_id": team["id"]})).await;
    let (url, t) = (srv.url.clone(), token.clone());
    let team_id = team["id"].as_str().unwrap().to_owned();
    let (create, list, set, show, bad, clear, delete) = tokio::task::spawn_blocking(move || {
        let common = ["--server", url.as_str(), "--token", t.as_str()];
        let with = |args: &[&str]| -> Vec<String> { args.iter().chain(common.iter()).map(|s| s.to_string()).collect() };
        (
            run(&with(&["status-page", "create", "--title", "Payments Status", "--team", &team_id]), None),
            run(&with(&["status-page", "list"]), None),
            run(&with(&["status-page", "set", "payments-status", "Card API", "major_outage", "--minutes", "30"]), None),
            run(&with(&["status-page", "show", "payments-status", "--output", "json"]), None),
            run(&with(&["status-page", "set", "payments-status", "Card API", "broken"]), None),
            run(&with(&["status-page", "set", "payments-status", "Card API", "--clear"]), None),
            run(&with(&["status-page", "delete", "payments-status"]), None),
        )
    })
    .await
    .unwrap();
    assert!(create.status.success(), "{}", text(&create.stderr));
    assert!(text(&create.stdout).contains("Card API"), "{}", text(&create.stdout));
    assert!(text(&list.stdout).starts_with("SLUG") && text(&list.stdout).contains("payments-status"));
    assert!(set.status.success(), "{}", text(&set.stderr));
    assert!(
        text(&set.stdout).contains("major_outage") && text(&set.stdout).contains("by hand"),
        "{}",
        text(&set.stdout)
    );
    let shown: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["indicator"], "critical");
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("status"), "{}", text(&bad.stderr));
    assert!(clear.status.success(), "{}", text(&clear.stderr));
    assert!(text(&clear.stdout).contains("operational"));
    assert!(delete.status.success(), "{}", text(&delete.stderr));
    let (_, list) = srv.get("/api/v1/status-pages", &token).await;
    assert!(list["items"].as_array().unwrap().is_empty());

    // Subscribers from the terminal: a manager subscribes, an admin lists.
    let admin = srv.token("root", Role::Admin).await;
    srv.post(
        "/api/v1/status-pages",
        &token,
        serde_json::json!({"title": "Shop", "slug": "shop",
        "components": [{"name": "Cart"}]}),
    )
    .await;
    let (url, t, a) = (srv.url.clone(), token.clone(), admin.clone());
    let (sub, hook, bad, listed) = tokio::task::spawn_blocking(move || {
        let with = |tok: &str, args: &[&str]| -> Vec<String> {
            args.iter()
                .map(|s| s.to_string())
                .chain(["--server".into(), url.clone(), "--token".into(), tok.into()])
                .collect()
        };
        (
            run(
                &with(&t, &["status-page", "subscribe", "shop", "--email", "ops@example.com", "--component", "Cart"]),
                None,
            ),
            run(
                &with(&t, &["status-page", "subscribe", "shop", "--webhook", "https://hooks.example.com/s3cret"]),
                None,
            ),
            run(&with(&t, &["status-page", "subscribe", "shop", "--email", "nope"]), None),
            run(&with(&a, &["status-page", "subscribers", "shop"]), None),
        )
    })
    .await
    .unwrap();
    assert!(sub.status.success(), "{}", text(&sub.stderr));
    assert!(
        text(&sub.stdout).contains("subscribed email ops@example.com (a confirmation message"),
        "{}",
        text(&sub.stdout)
    );
    assert!(text(&hook.stdout).contains("subscribed webhook https://hooks.example.com/…"), "{}", text(&hook.stdout));
    assert!(!bad.status.success() && text(&bad.stderr).contains("email"), "{}", text(&bad.stderr));
    let out = text(&listed.stdout);
    assert!(out.contains("ops@example.com") && out.contains("Cart") && out.contains("waiting"), "{out}");
    assert!(!out.contains("s3cret"), "{out}");

    // Vendors from the terminal.
    let (url, t) = (srv.url.clone(), token.clone());
    let page_url = format!("{url}/status/shop");
    let (added, bad, listed, shown, deleted) = tokio::task::spawn_blocking(move || {
        let with = |args: &[&str]| -> Vec<String> {
            args.iter()
                .map(|s| s.to_string())
                .chain(["--server".into(), url.clone(), "--token".into(), t.clone()])
                .collect()
        };
        (
            run(&with(&["vendor", "add", "Shop", &page_url, "--interval", "60"]), None),
            run(&with(&["vendor", "add", "Bad", "nope"]), None),
            run(&with(&["vendor", "list"]), None),
            run(&with(&["vendor", "show", "Shop", "--output", "json"]), None),
            run(&with(&["vendor", "delete", "Shop"]), None),
        )
    })
    .await
    .unwrap();
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert!(text(&added.stdout).contains("Shop") && text(&added.stdout).contains("unknown"), "{}", text(&added.stdout));
    assert!(!bad.status.success() && text(&bad.stderr).contains("url"), "{}", text(&bad.stderr));
    assert!(text(&listed.stdout).starts_with("VENDOR"), "{}", text(&listed.stdout));
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["interval_seconds"], 60);
    assert!(deleted.status.success(), "{}", text(&deleted.stderr));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn report_command_prints_what_the_api_reports() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let token = srv.token("ops", Role::Manager).await;
    let (_, svc) = srv.post("/api/v1/services", &token, serde_json::json!({"name": "Card API"})).await;
    let (s, _) = srv
        .post(
            "/api/v1/incidents",
            &token,
            serde_json::json!({"title": "Card API slow", "service_id": svc["id"], "severity": "SEV3"}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED);
    let month = srv.now().format("%Y-%m").to_string();
    let (_, api) = srv.get(&format!("/api/v1/reports/kpi?period={month}"), &token).await;
    let dir = tempfile::tempdir().unwrap();
    let html_path = dir.path().join("report.html");
    let (url, t, m, h) = (srv.url.clone(), token.clone(), month.clone(), html_path.clone());
    let (json, csv, html, table, bad) = tokio::task::spawn_blocking(move || {
        let common = ["--server", url.as_str(), "--token", t.as_str()];
        let with = |args: &[&str]| -> Vec<String> { args.iter().chain(common.iter()).map(|s| s.to_string()).collect() };
        (
            run(&with(&["report", "--period", &m, "--format", "json"]), None),
            run(&with(&["report", "--period", &m, "--format", "csv"]), None),
            run(&with(&["report", "--period", &m, "--format", "html", "-o", h.to_str().unwrap()]), None),
            run(&with(&["report", "--period", &m]), None),
            run(&with(&["report", "--period", "2026-13"]), None),
        )
    })
    .await
    .unwrap();
    assert!(json.status.success(), "{}", text(&json.stderr));
    let printed: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(printed, api, "the CLI prints the API's object");
    assert_eq!(printed["incidents_by_severity"]["SEV3"], 1);
    assert!(text(&csv.stdout).starts_with("metric,scope,current,previous\n"), "{}", text(&csv.stdout));
    assert!(text(&csv.stdout).contains("incidents,severity:SEV3,1,0"), "{}", text(&csv.stdout));
    assert!(html.status.success(), "{}", text(&html.stderr));
    let page = std::fs::read_to_string(&html_path).unwrap();
    assert!(page.contains(&format!("Operations report: {month}")), "{page}");
    assert!(
        text(&table.stdout).contains("incidents") && text(&table.stdout).contains("MTTA"),
        "{}",
        text(&table.stdout)
    );
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("period") && text(&bad.stderr).contains("HTTP 422"), "{}", text(&bad.stderr));
}

fn yaml_docs(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn openslo_apply_then_export_gives_the_same_documents() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let token = srv.token("ops", Role::Manager).await;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    // The monitor the SLIs name; the service comes from the file.
    let (s, m) = srv
        .post(
            "/api/v1/monitors",
            &token,
            serde_json::json!({"name": "Checkout health", "type": "http", "paused": true,
                               "settings": {"url": "http://127.0.0.1:9/health"}}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{m}");
    let (url, t) = (srv.url.clone(), token.clone());
    let (dry, applied, again, exported, spec_example, sloth, imports) = tokio::task::spawn_blocking(move || {
        let common = ["--server", url.as_str(), "--token", t.as_str()];
        let with = |args: &[&str]| -> Vec<String> { args.iter().chain(common.iter()).map(|s| s.to_string()).collect() };
        let file = format!("{fixtures}/openslo-checkout.yaml");
        (
            run(&with(&["apply", "-f", &file, "--dry-run"]), None),
            run(&with(&["apply", "-f", &file]), None),
            run(&with(&["apply", "-f", &file]), None),
            run(&with(&["export", "--openslo"]), None),
            run(&with(&["apply", "-f", &format!("{fixtures}/openslo-spec-example.yaml")]), None),
            run(&with(&["apply", "-f", &format!("{fixtures}/sloth-getting-started.yaml")]), None),
            ["sloth-getting-started.yaml", "pyrra-examples.yaml"].map(|f| {
                let f = format!("{fixtures}/{f}");
                run(&with(&["apply", "-f", &f, "--prometheus-url", "http://127.0.0.1:9"]), None)
            }),
        )
    })
    .await
    .unwrap();
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(text(&dry.stdout).contains("create SLO Checkout availability") && text(&dry.stdout).contains("dry run"));
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    assert!(text(&applied.stdout).contains("create service checkout"), "{}", text(&applied.stdout));
    assert!(
        again.status.success() && !text(&again.stdout).contains("create") && !text(&again.stdout).contains("update")
    );
    let (_, slos) = srv.get("/api/v1/slos", &token).await;
    // The imports below ran after the export, and add three of their own.
    let items: Vec<&Value> = slos["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"].as_str().is_some_and(|n| n.to_lowercase().starts_with("checkout")))
        .collect();
    assert_eq!(items.len(), 5, "{slos}");
    let monthly = items.iter().find(|s| s["name"] == "checkout-monthly").unwrap();
    assert_eq!(monthly["window"]["time_zone"], "Europe/Berlin");
    assert_eq!(monthly["exclude_maintenance"], false);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let want = yaml_docs(&std::fs::read_to_string(format!("{fixtures}/openslo-checkout.yaml")).unwrap());
    assert_eq!(yaml_docs(&text(&exported.stdout)), want, "{}", text(&exported.stdout));

    // The specification's own example: every part Opsdeck cannot do is named, nothing changes.
    assert!(!spec_example.status.success());
    let err = text(&spec_example.stderr);
    for part in [
        "spec.query must hold {{.window}}",
        "budgetingMethod Timeslices is not supported",
        "timeSliceTarget is not supported",
        "a calendar window must be one month",
        "metadata.labels are not kept",
        "nothing was changed",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
    // Sloth and Pyrra files need a Prometheus server to read; given one, they import unchanged.
    assert!(!sloth.status.success());
    assert!(text(&sloth.stderr).contains("give --prometheus-url"), "{}", text(&sloth.stderr));
    for out in &imports {
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert!(text(&imports[0].stdout).contains("create service myservice"), "{}", text(&imports[0].stdout));
    assert!(text(&imports[0].stderr).contains("note: slos[0] (requests-availability): alerting"));
    let (_, after) = srv.get("/api/v1/slos", &token).await;
    let after = after["items"].as_array().unwrap().clone();
    assert_eq!(after.len(), 8, "5 + 1 Sloth + 2 Pyrra");
    let sloth = after.iter().find(|s| s["name"] == "requests-availability").unwrap();
    assert_eq!(sloth["sli"]["type"], "prometheus");
    assert_eq!(sloth["target"], 0.999);
    assert_eq!(sloth["window"]["rolling_days"], 30);
    assert!(sloth["sli"]["bad_query"].as_str().unwrap().contains("[{{.window}}]"));
    // The server cannot be reached: the SLO says why, and knows nothing.
    assert!(sloth["sli_value"].is_null() && sloth["source_error"].is_string(), "{sloth}");
    let pyrra = after.iter().find(|s| s["name"] == "apiserver-read-resource-request-latency").unwrap();
    assert_eq!((pyrra["target"].as_f64(), pyrra["window"]["rolling_days"].as_i64()), (Some(0.99), Some(14)));
    assert!(pyrra["sli"]["good_query"].as_str().unwrap().starts_with("sum(rate(apiserver_request_duration"));
}
