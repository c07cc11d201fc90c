//! Losing PostgreSQL under load: a node on its own private cluster keeps answering while the
//! database is stopped and started again, says it is not ready, refuses writes with 503 (never a
//! 202 it cannot keep), and recovers by itself; then the database crashes (an immediate stop, no
//! checkpoint, recovery from the WAL on restart) and the node recovers again. Every acknowledged
//! event is in the database.

use super::ha::{Node, start_node};
use super::{run, text, wait_ready};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A private PostgreSQL cluster (`scripts/pg-private.sh`), stopped and deleted on drop.
struct Cluster {
    dir: PathBuf,
    url: String,
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-private.sh");

impl Cluster {
    fn start() -> Cluster {
        // Under /tmp with a short name: the server's socket path must stay short.
        let dir = PathBuf::from(format!("/tmp/opsdeck-pgr.{}", uuid::Uuid::now_v7().simple()));
        // synchronous_commit on: a commit is in the WAL before the 202, so it survives a crash.
        let out = Command::new(SCRIPT)
            .arg("start")
            .arg(&dir)
            .env("PG_PRIVATE_DURABLE", "1")
            .output()
            .expect("run pg-private.sh");
        assert!(out.status.success(), "pg-private.sh start: {}", text(&out.stderr));
        Cluster { dir, url: text(&out.stdout).trim().to_owned() }
    }

    fn script(&self, what: &str) {
        let out = Command::new(SCRIPT).arg(what).arg(&self.dir).output().expect("run pg-private.sh");
        assert!(out.status.success(), "pg-private.sh {what}: {}", text(&out.stderr));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(SCRIPT).arg("stop").arg(&self.dir).output();
    }
}

async fn wait_for(what: &str, secs: u64, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok().await {
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_loses_nothing_acknowledged_and_the_node_recovers() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let out = run(
        &["user", "add", "--username", "admin", "--role", "admin", "--password-stdin", "--database-url", &cluster.url],
        Some("a long password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["token", "create", "--user", "admin", "--name", "t", "--database-url", &cluster.url], None);
    let token = text(&out.stdout).lines().last().unwrap().to_owned();
    let node: Node = start_node(&cluster.url, dir.path(), 0);
    let url = node.url.clone();
    wait_ready(&http, &url).await;
    let post = |path: &str, body: Value| {
        http.post(format!("{url}{path}")).bearer_auth(&token).json(&body).timeout(Duration::from_secs(10)).send()
    };
    let svc: Value = post("/api/v1/services", json!({"name": "Durable"})).await.unwrap().json().await.unwrap();
    let sid = svc["id"].as_str().unwrap().to_owned();
    let int: Value = post(&format!("/api/v1/services/{sid}/integrations"), json!({"type": "pagerduty"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = int["key"].as_str().unwrap().to_owned();
    let event = |dedup: &str| {
        json!({"routing_key": key, "event_action": "trigger", "dedup_key": dedup,
               "payload": {"summary": format!("event {dedup}"), "source": "load", "severity": "warning"}})
    };

    // Eight senders until told to stop; every 202 is remembered, and what else they got.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let refused: Arc<Mutex<Vec<u16>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = tokio::task::JoinSet::new();
    for c in 0..8 {
        let (http, url, acked, refused, stop) =
            (http.clone(), url.clone(), acked.clone(), refused.clone(), stop.clone());
        let body = event("");
        senders.spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let dedup = format!("r-{c}-{i}");
                let mut b = body.clone();
                b["dedup_key"] = json!(dedup);
                match http.post(format!("{url}/v2/enqueue")).json(&b).timeout(Duration::from_secs(10)).send().await {
                    Ok(r) if r.status() == reqwest::StatusCode::ACCEPTED => acked.lock().unwrap().push(dedup),
                    Ok(r) => refused.lock().unwrap().push(r.status().as_u16()),
                    Err(_) => refused.lock().unwrap().push(0),
                }
                i += 1;
            }
        });
    }
    let acks = || acked.lock().unwrap().len();
    wait_for("1,000 events acknowledged", 60, async || acks() >= 1_000).await;

    // The database stops: the node says so, and refuses what it cannot keep.
    cluster.script("halt");
    let ready = |want: u16| {
        let (http, url) = (http.clone(), url.clone());
        async move { http.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status().as_u16() == want) }
    };
    wait_for("/readyz answers 503", 20, async || ready(503).await).await;
    let r = post("/api/v1/services", json!({"name": "While down"})).await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let r = http.post(format!("{url}/v2/enqueue")).json(&event("while-down")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503, "no 202 while the database is away");
    let during = acks();

    // It comes back: the same node recovers without a restart, and the load is acknowledged again.
    cluster.script("resume");
    wait_for("/readyz answers 200 again", 30, async || ready(200).await).await;
    wait_for("events acknowledged again", 30, async || acks() >= during + 500).await;
    let r = post("/api/v1/services", json!({"name": "After"})).await.unwrap();
    assert_eq!(r.status().as_u16(), 201, "writes work again");

    // The database crashes mid-load (SIGQUIT to every backend, no shutdown checkpoint) and
    // recovers from its WAL on restart: the node follows again, and nothing acknowledged is lost.
    cluster.script("crash");
    wait_for("/readyz answers 503 after the crash", 20, async || ready(503).await).await;
    let before_recovery = acks();
    cluster.script("resume");
    wait_for("/readyz answers 200 after recovery", 60, async || ready(200).await).await;
    wait_for("events acknowledged after recovery", 30, async || acks() >= before_recovery + 500).await;
    stop.store(true, Ordering::Relaxed);
    while senders.join_next().await.is_some() {}

    let db = opsdeck_store::Db::connect(&opsdeck_store::ConnectOptions::new(&cluster.url)).await.unwrap();
    let stored: HashSet<String> = match &db {
        opsdeck_store::Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT dedup_key FROM alerts").fetch_all(pool).await.unwrap().into_iter().collect()
        }
        opsdeck_store::Db::Sqlite(_) => unreachable!(),
    };
    db.close().await;
    let acked = acked.lock().unwrap().clone();
    let missing: Vec<_> = acked.iter().filter(|k| !stored.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events lost, e.g. {:?}",
        missing.len(),
        acked.len(),
        missing.first()
    );
    assert!(!stored.contains("while-down"), "the refused event was not stored");
    let refused = refused.lock().unwrap().clone();
    let ok = |s: &u16| matches!(s, 503 | 429 | 0);
    assert!(refused.iter().all(ok), "only 503s, 429s or cut connections while down: {refused:?}");
    drop(node);
}
