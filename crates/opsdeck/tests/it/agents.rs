//! Probe agents: two `opsdeck agent` processes on loopback with different locations check one
//! target that only one of them reaches. Loopback reaches everything, so each agent's Nagios
//! plugin finds the target through its own environment (`PROBE_PORT`), as a split-horizon
//! network would give two sites different answers. The per-location split shows, the quorum
//! decides, and the server stopped for 30 s loses none of the agents' results.

use super::{BIN, run, text, wait_ready};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A process that never outlives its test, even a failing one.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &str, port: u16) -> Proc {
    let child = Command::new(BIN)
        .args(["serve", "--data-dir", dir, "--listen", &format!("127.0.0.1:{port}"), "--log", "warn"])
        .env_remove("OPSDECK_DATABASE_URL")
        .env_remove("OPSDECK_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start opsdeck serve");
    Proc(child)
}

fn agent(url: &str, token: &str, location: &str, buffer: &str, probe_port: u16) -> Proc {
    let child = Command::new(BIN)
        .args(["agent", "--server", url, "--location", location, "--buffer-dir", buffer, "--log", "warn"])
        .env("OPSDECK_TOKEN", token)
        .env("PROBE_PORT", probe_port.to_string())
        .env_remove("OPSDECK_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start opsdeck agent");
    Proc(child)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn get(http: &reqwest::Client, url: &str, token: &str) -> Value {
    let r = http.get(url).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}

/// Polls `ok` every 100 ms for up to `secs` seconds.
async fn wait_for(what: &str, secs: u64, mut ok: impl AsyncFnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if ok().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn location<'a>(m: &'a Value, name: &str) -> &'a Value {
    m["locations"].as_array().unwrap().iter().find(|l| l["location"] == name).unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_split_by_location_respect_the_quorum_and_lose_nothing_while_the_server_is_away() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let add = ["user", "add", "--username", "admin", "--role", "admin", "--password-stdin", "--data-dir", &d];
    assert!(run(&add, Some("a long password\n")).status.success());
    let out = run(&["token", "create", "--user", "admin", "--name", "t", "--data-dir", &d], None);
    let token = text(&out.stdout).lines().last().unwrap().to_owned();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = serve(&d, port);
    let http = reqwest::Client::new();
    wait_ready(&http, &url).await;

    // The target: a TCP port that accepts. The plugin connects to `$PROBE_PORT`: the eu agent
    // is given the target's port, the us agent a port where nothing listens.
    let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target_port = target.local_addr().unwrap().port();
    let closed_port = free_port();
    let plugin = dir.path().join("check_target.sh");
    std::fs::write(
        &plugin,
        "#!/bin/bash\nif exec 3<>/dev/tcp/127.0.0.1/\"$PROBE_PORT\"; then echo \"TCP OK - port $PROBE_PORT\"; \
         else echo \"TCP CRITICAL - port $PROBE_PORT refused\"; exit 2; fi\n",
    )
    .unwrap();
    std::process::Command::new("chmod").args(["+x", plugin.to_str().unwrap()]).status().unwrap();

    // One agent registered through the API, one with the CLI (which prints the token alone on
    // stdout, so scripts can capture it).
    let r = http.post(format!("{url}/api/v1/agents")).bearer_auth(&token);
    let r = r.json(&json!({"name": "eu probe", "location": "eu"})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let mut tokens = vec![r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()];
    let out = run(&["agents", "add", "us probe", "--location", "us", "--server", &url, "--token", &token], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    tokens.push(text(&out.stdout).trim().to_owned());
    assert!(tokens[1].starts_with("opsa_"), "{}", text(&out.stdout));
    let monitor = json!({"name": "Target", "type": "command", "interval_seconds": 1, "timeout_seconds": 1,
        "settings": {"command": plugin.to_str().unwrap()}, "locations": ["eu", "us"], "quorum": 2});
    let r = http.post(format!("{url}/api/v1/monitors")).bearer_auth(&token).json(&monitor).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let monitor_url = format!("{url}/api/v1/monitors/{id}");

    let (eu_buf, us_buf) = (dir.path().join("eu"), dir.path().join("us"));
    let _eu = agent(&url, &tokens[0], "eu", eu_buf.to_str().unwrap(), target_port);
    let _us = agent(&url, &tokens[1], "us", us_buf.to_str().unwrap(), closed_port);

    // The split: eu up, us down; with a quorum of 2 one failing location is not an outage.
    wait_for("both locations to report", 30, async || {
        let m = get(&http, &monitor_url, &token).await;
        location(&m, "eu")["state"] == "up" && location(&m, "us")["state"] == "down" && m["state"] == "up"
    })
    .await;
    let m = get(&http, &monitor_url, &token).await;
    assert!(location(&m, "us")["last_result"]["reason"].as_str().unwrap().contains("refused"), "{m}");
    let out = run(&["monitor", "show", &id, "--server", &url, "--token", &token], None);
    let shown = text(&out.stdout);
    assert!(shown.contains("down when 2 of 2 locations fail:") && shown.contains("TCP CRITICAL"), "{shown}");
    let out = run(&["agents", "list", "--server", &url, "--token", &token], None);
    let listed = text(&out.stdout);
    assert!(listed.contains("us probe") && listed.contains("online"), "{listed}");
    assert!(m["last_result"]["reason"].as_str().unwrap().contains("below the quorum of 2"), "{m}");
    assert!(location(&m, "eu")["checks_24h"].as_i64().unwrap() > 0);
    let agents = get(&http, &format!("{url}/api/v1/agents"), &token).await;
    for a in agents["items"].as_array().unwrap() {
        assert_eq!(a["status"], "online", "{a}");
        assert_eq!(a["version"], env!("CARGO_PKG_VERSION"));
        assert!(a["last_seen_at"].is_string() && a["lag_ms"].is_i64(), "{a}");
    }

    // A quorum of 1: the failing location alone takes the monitor down.
    let r = http.patch(&monitor_url).bearer_auth(&token).json(&json!({"quorum": 1})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    wait_for("the monitor to go down on one location", 20, async || {
        get(&http, &monitor_url, &token).await["state"] == "down"
    })
    .await;
    let m = get(&http, &monitor_url, &token).await;
    assert!(m["last_result"]["reason"].as_str().unwrap().starts_with("down from 1 of 2 locations (us:"), "{m}");

    // The server goes away for 30 s; the agents check on and buffer on disk.
    let stopped_at = chrono::Utc::now();
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let restarted_at = chrono::Utc::now();
    assert!(std::fs::read_dir(&eu_buf).unwrap().count() > 10, "the eu agent buffered on disk");
    let _server = serve(&d, port);
    wait_ready(&http, &url).await;
    wait_for("the buffers to drain", 30, async || {
        std::fs::read_dir(&eu_buf).unwrap().count() == 0 && std::fs::read_dir(&us_buf).unwrap().count() == 0
    })
    .await;

    // Every second of the outage has each location's result: nothing was lost.
    let db = opsdeck_store::Db::connect(&opsdeck_store::ConnectOptions::new(format!("sqlite://{d}/opsdeck.db")))
        .await
        .unwrap();
    let opsdeck_store::Db::Sqlite(sqlite) = &db else { unreachable!() };
    for loc in ["eu", "us"] {
        let at: Vec<i64> = sqlx::query_scalar("SELECT at FROM location_results WHERE location = $1 ORDER BY at")
            .bind(loc)
            .fetch_all(&sqlite.pool)
            .await
            .unwrap();
        let window: Vec<i64> = at
            .iter()
            .copied()
            .filter(|t| *t >= stopped_at.timestamp_millis() - 2_000 && *t <= restarted_at.timestamp_millis() + 2_000)
            .collect();
        assert!(window.len() >= 30, "{loc}: {} results while the server was away", window.len());
        let gap = window.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        assert!(gap <= 2_500, "{loc}: a gap of {gap} ms in the results while the server was away");
    }
    db.close().await;
    let agents = get(&http, &format!("{url}/api/v1/agents"), &token).await;
    for a in agents["items"].as_array().unwrap() {
        assert_eq!(a["dropped_total"], 0, "{a}");
    }

    // Revoked at once: the agent is refused and stops.
    let eu_id = agents["items"].as_array().unwrap().iter().find(|a| a["location"] == "eu").unwrap()["id"].clone();
    let r = http.delete(format!("{url}/api/v1/agents/{}", eu_id.as_str().unwrap())).bearer_auth(&token);
    assert_eq!(r.send().await.unwrap().status().as_u16(), 204);
    let r = http.get(format!("{url}/api/v1/agent/monitors")).bearer_auth(&tokens[0]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let mut eu = _eu;
    let exited = async {
        loop {
            if let Some(status) = eu.0.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let status = tokio::time::timeout(Duration::from_secs(20), exited).await.expect("the revoked agent stops");
    assert!(!status.success());
    drop(target);
}
