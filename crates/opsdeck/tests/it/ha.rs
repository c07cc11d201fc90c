//! High availability on PostgreSQL: three real nodes on one private database, 2,000 monitors,
//! escalating incidents and an ingest load, while nodes are killed, restarted and paused.
//!
//! Real processes keep real time, so this test waits in phases of wall-clock seconds (the only
//! test that does); it runs beside the others.

use super::{BIN, run, text, wait_ready};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MONITORS: usize = 2_000;
const INTERVAL_S: u64 = 30;
/// How long a dead or paused node's monitors may wait for another node, beyond their interval.
const TAKEOVER_S: u64 = 15;
const INCIDENTS: usize = 12;
const LEVELS: usize = 3;

pub(super) struct Node {
    pub(super) child: Child,
    pub(super) url: String,
    /// Where its log goes, for a failing assertion to point at.
    pub(super) log: std::path::PathBuf,
}

/// A node never outlives its test, even one that fails (a frozen one too: SIGKILL ends it).
impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `opsdeck serve` on `db_url` on a free loopback port, its log in `dir`.
pub(super) fn start_node(db_url: &str, dir: &std::path::Path, n: usize) -> Node {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let log = dir.join(format!("node-{n}-{port}.log"));
    let child = Command::new(BIN)
        .args(["serve", "--database-url", db_url, "--data-dir"])
        .arg(dir.join(format!("node-{n}")))
        .args(["--listen", &listen, "--log", "warn"])
        .env_remove("OPSDECK_DATABASE_URL")
        .env_remove("OPSDECK_CONFIG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start opsdeck serve");
    Node { child, url: format!("http://{listen}"), log }
}

fn signal(node: &Node, sig: &str) {
    let ok = Command::new("kill").args([sig, &node.child.id().to_string()]).status().unwrap().success();
    assert!(ok, "kill {sig}");
}

/// `opsdeck_checks_total` summed over statuses, from a node's `/metrics`.
async fn checks_run(http: &reqwest::Client, url: &str) -> f64 {
    let body = http.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    body.lines()
        .filter(|l| l.starts_with("opsdeck_checks_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_die_pause_and_return_without_losing_or_repeating_work() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db_url = opsdeck_testkit::fresh_postgres_database().await;
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();

    // One loopback server is both the monitors' target and the people's webhook receiver.
    let checks: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
    let hooks: Arc<Mutex<Vec<Value>>> = Arc::default();
    let (c, h) = (checks.clone(), hooks.clone());
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
        let (c, h) = (c.clone(), h.clone());
        async move {
            let path = uri.path().to_owned();
            if path.starts_with("/m/") {
                c.lock().unwrap().entry(path).or_default().push(Instant::now());
            } else if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                h.lock().unwrap().push(v);
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    let target_task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    // Three nodes start at once on the empty database: one migrates, under a lock, the others wait.
    let mut nodes: Vec<Node> = (0..3).map(|n| start_node(&db_url, dir.path(), n)).collect();
    for n in &nodes {
        wait_ready(&http, &n.url).await;
    }
    for (name, role) in [("admin", "admin"), ("alice", "responder"), ("bob", "responder")] {
        let out = run(
            &["user", "add", "--username", name, "--role", role, "--password-stdin", "--database-url", &db_url],
            Some("a long password\n"),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = run(&["token", "create", "--user", "admin", "--name", "t", "--database-url", &db_url], None);
    let token = text(&out.stdout).lines().last().unwrap().to_owned();
    let api = |url: String, method: reqwest::Method, path: &str, body: Value| {
        let req = http.request(method, format!("{url}{path}")).bearer_auth(&token).json(&body);
        let path = path.to_owned();
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{path}: {status} {v}");
            v
        }
    };
    let (a, b, c) = (nodes[0].url.clone(), nodes[1].url.clone(), nodes[2].url.clone());
    let users = api(a.clone(), reqwest::Method::GET, "/api/v1/users", Value::Null).await;
    let id_of = |n: &str| users["items"].as_array().unwrap().iter().find(|u| u["username"] == n).unwrap()["id"].clone();
    for who in ["alice", "bob"] {
        let path = format!("/api/v1/users/{}/contact-methods", id_of(who).as_str().unwrap());
        api(b.clone(), reqwest::Method::POST, &path, json!({"kind": "webhook", "address": format!("{target}/{who}")}))
            .await;
    }
    let level = |who: &str| json!({"delay_minutes": 1, "targets": [{"type": "user", "id": id_of(who)}]});
    let policy = json!({"name": "HA", "levels": [level("alice"), level("bob"), level("alice")]});
    let pol = api(c.clone(), reqwest::Method::POST, "/api/v1/escalation-policies", policy).await;
    let svc = api(a.clone(), reqwest::Method::POST, "/api/v1/services", json!({"name": "Core"})).await;
    let sid = svc["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/services/{sid}/escalation-policy");
    api(a.clone(), reqwest::Method::PUT, &path, json!({"policy_id": pol["id"]})).await;
    let int = api(
        b.clone(),
        reqwest::Method::POST,
        &format!("/api/v1/services/{sid}/integrations"),
        json!({"type": "pagerduty"}),
    )
    .await;
    let routing_key = int["key"].as_str().unwrap().to_owned();

    for chunk in 0..MONITORS / 1_000 {
        let monitors: Vec<Value> = (chunk * 1_000..(chunk + 1) * 1_000)
            .map(|i| {
                json!({"name": format!("m{i}"), "type": "http", "interval_seconds": INTERVAL_S,
                       "timeout_seconds": 5, "settings": {"url": format!("{target}/m/{i}")}})
            })
            .collect();
        api(c.clone(), reqwest::Method::POST, "/api/v1/monitors/batch", json!({"monitors": monitors})).await;
    }
    for i in 0..INCIDENTS {
        let body = json!({"title": format!("Core down {i}"), "service_id": sid});
        api(nodes[i % 3].url.clone(), reqwest::Method::POST, "/api/v1/incidents", body).await;
    }
    let t0 = Instant::now();

    // Ingest beside it all, round-robin over the nodes that answer; every 202 is remembered.
    let live: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(vec![a.clone(), b.clone(), c.clone()]));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop_load = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (http, live, acked, stop) = (http.clone(), live.clone(), acked.clone(), stop_load.clone());
        tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let urls = live.lock().unwrap().clone();
                let url = &urls[i % urls.len()];
                let dedup = format!("ha-{i}");
                let body = json!({"routing_key": routing_key, "event_action": "trigger", "dedup_key": dedup,
                    "payload": {"summary": format!("event {i}"), "source": "load", "severity": "warning"}});
                let sent = http.post(format!("{url}/v2/enqueue")).json(&body).timeout(Duration::from_secs(2)).send();
                if let Ok(r) = sent.await
                    && r.status() == reqwest::StatusCode::ACCEPTED
                {
                    acked.lock().unwrap().push(dedup);
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    };
    let at = |s: u64| tokio::time::sleep_until((t0 + Duration::from_secs(s)).into());

    // Kill two nodes, 20 s apart: the last one carries everything, escalation level 2 included.
    at(35).await;
    live.lock().unwrap().retain(|u| *u != a);
    nodes[0].child.kill().unwrap();
    let _ = nodes[0].child.wait();
    at(55).await;
    live.lock().unwrap().retain(|u| *u != b);
    nodes[1].child.kill().unwrap();
    let _ = nodes[1].child.wait();

    // Bring them back: the work spreads over the three again.
    at(75).await;
    nodes[0] = start_node(&db_url, dir.path(), 3);
    nodes[1] = start_node(&db_url, dir.path(), 4);
    for n in &nodes[..2] {
        wait_ready(&http, &n.url).await;
        live.lock().unwrap().push(n.url.clone());
    }

    // Pause the third past its leases: the others take its monitors over, and when it wakes it
    // completes nothing it no longer owns (no monitor is checked twice in a row too soon).
    at(95).await;
    live.lock().unwrap().retain(|u| *u != c);
    signal(&nodes[2], "-STOP");
    at(115).await;
    signal(&nodes[2], "-CONT");
    live.lock().unwrap().push(c.clone());
    at(150).await;
    stop_load.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = load.await;
    let end = Instant::now();

    let logs = nodes.iter().map(|n| n.log.display().to_string()).collect::<Vec<_>>().join(", ");
    // Every monitor kept its rhythm: never unchecked for longer than interval + 15 s, and never
    // checked twice within half an interval (two nodes never held it at once; the paused node ran
    // nothing of what it had claimed when it woke).
    let checks = checks.lock().unwrap().clone();
    assert_eq!(checks.len(), MONITORS, "every monitor was checked (logs: {logs})");
    let (max_gap, min_gap) = (INTERVAL_S + TAKEOVER_S, INTERVAL_S / 2);
    let mut late = Vec::new();
    let mut twice = Vec::new();
    for (path, times) in &checks {
        for w in times.windows(2) {
            let gap = w[1] - w[0];
            if gap > Duration::from_secs(max_gap) {
                late.push(format!("{path}: {gap:?} at {:?}", w[0] - t0));
            }
            // A check whose node died or froze before storing it is run again by the node that
            // takes the monitor over; anywhere else, a repeat means two nodes held it at once.
            // (The half second after the event: the signal takes a moment to land.)
            let lost = |event: u64| {
                let e = t0 + Duration::from_secs(event);
                w[0] <= e + Duration::from_millis(500) && w[0] + Duration::from_secs(3) > e
            };
            if gap < Duration::from_secs(min_gap) && ![35, 55, 95].into_iter().any(lost) {
                twice.push(format!("{path}: {gap:?} at {:?}", w[0] - t0));
            }
        }
        let last = *times.last().unwrap();
        if end - last > Duration::from_secs(max_gap) {
            late.push(format!("{path}: nothing since {:?}", last - t0));
        }
    }
    assert!(
        late.is_empty(),
        "{} gaps over {max_gap} s, e.g. {:?} (logs: {logs})",
        late.len(),
        &late[..late.len().min(5)]
    );
    assert!(twice.is_empty(), "{} checks repeated too soon, e.g. {:?}", twice.len(), &twice[..twice.len().min(5)]);

    // Every escalation level fired once, through whichever node held it: one message per
    // idempotency key, all of them.
    let hooks = hooks.lock().unwrap().clone();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for h in &hooks {
        *seen.entry(h["idempotency_key"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "notifications sent twice: {repeated:?}");
    assert_eq!(seen.len(), INCIDENTS * LEVELS, "every level of every incident notified (logs: {logs})");

    // Nothing acknowledged was lost.
    let db = opsdeck_store::Db::connect(&opsdeck_store::ConnectOptions::new(&db_url)).await.unwrap();
    let stored: HashSet<String> = match &db {
        opsdeck_store::Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT dedup_key FROM alerts").fetch_all(pool).await.unwrap().into_iter().collect()
        }
        opsdeck_store::Db::Sqlite(_) => unreachable!(),
    };
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 1_000, "the load was acknowledged ({} events)", acked.len());
    let missing: Vec<_> = acked.iter().filter(|k| !stored.contains(*k)).collect();
    assert!(missing.is_empty(), "{} of {} acknowledged events lost", missing.len(), acked.len());
    db.close().await;

    // The restarted nodes took their share of the checks.
    for n in &nodes {
        assert!(checks_run(&http, &n.url).await > 0.0, "{} ran no checks (log: {})", n.url, n.log.display());
    }
    drop(nodes);
    target_task.abort();
}
