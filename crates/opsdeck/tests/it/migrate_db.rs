//! `opsdeck migrate-db`: the demo organisation, moved from SQLite to PostgreSQL, answers the API
//! and serves its pages as it did on SQLite.

use super::{BIN, run, text, wait_ready};
use serde_json::Value;
use std::process::{Child, Command, Stdio};

/// `opsdeck serve` on `port`: every server of this test listens on the same address, so the
/// links they build (calendar feeds) are the same.
/// A server that never outlives its test, even a failing one.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(port: u16, args: &[&str]) -> (Served, String) {
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .args(["--listen", &listen, "--log", "warn"])
        .env_remove("OPSDECK_DATABASE_URL")
        .env_remove("OPSDECK_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start opsdeck serve");
    (Served(child), format!("http://{listen}"))
}

/// Stops a server as an operator would (SIGTERM), and waits for it.
fn stop(mut served: Served) {
    let _ = Command::new("kill").args(["-TERM", &served.0.id().to_string()]).status();
    let _ = served.0.wait();
}

/// What the API answers for the organisation's configuration and history, read the same way
/// from either server.
const READS: &[&str] = &[
    "/api/v1/services?limit=200",
    "/api/v1/teams?limit=200",
    "/api/v1/users?limit=200",
    "/api/v1/escalation-policies?limit=200",
    "/api/v1/schedules?limit=200",
    "/api/v1/channels?limit=200",
    "/api/v1/monitors?limit=200",
    "/api/v1/incidents?limit=200",
    "/api/v1/status-pages?limit=200",
    "/api/v1/slos",
    "/api/v1/maintenance?limit=200",
    "/api/v1/vendors?limit=200",
    "/api/v1/audit?limit=200",
];

async fn read_all(http: &reqwest::Client, url: &str, token: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for path in READS {
        let r = http.get(format!("{url}{path}")).bearer_auth(token).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        out.push((path.to_string(), r.json().await.unwrap()));
    }
    out
}

/// The services page as the demo admin sees it, signed in through the form.
async fn services_page(url: &str) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http
        .post(format!("{url}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=admin&password=opsdeck-demo")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "signed in: {}", r.status());
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let page = http.get(format!("{url}/services")).header("cookie", cookies.join("; ")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    page.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_database_moved_to_postgres_serves_the_same_answers() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let http = reqwest::Client::new();

    // The demo on SQLite; its monitors are paused so that nothing changes between the readings.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (child, url) = serve(port, &["--demo", "--data-dir", &d]);
    wait_ready(&http, &url).await;
    let out = run(&["token", "create", "--user", "admin", "--name", "move", "--data-dir", &d], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).lines().last().unwrap().to_owned();
    let monitors: Value = http
        .get(format!("{url}/api/v1/monitors?limit=200"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A status page whose components sit in a group: the one table that references itself.
    let services: Value = http
        .get(format!("{url}/api/v1/services?limit=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page = serde_json::json!({"slug": "acme", "title": "Acme status", "components": [
        {"name": "Checkout", "group": "Shop", "service_id": services["items"][0]["id"]},
        {"name": "Search", "group": "Shop", "monitor_ids": [monitors["items"][0]["id"]]},
        {"name": "API"}]});
    let r = http.post(format!("{url}/api/v1/status-pages")).bearer_auth(&token).json(&page).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    for m in monitors["items"].as_array().unwrap() {
        let r = http.post(format!("{url}/api/v1/monitors/{}/pause", m["id"].as_str().unwrap())).bearer_auth(&token);
        assert!(r.send().await.unwrap().status().is_success());
    }
    stop(child);

    // Read it on SQLite, stop, move it, read it on PostgreSQL.
    let (child, url) = serve(port, &["--data-dir", &d]);
    wait_ready(&http, &url).await;
    // (Signing in writes to the audit log: before the reading.)
    let page_before = services_page(&url).await;
    let before = read_all(&http, &url, &token).await;
    stop(child);

    let pg = opsdeck_testkit::fresh_postgres_database().await;
    let from = format!("sqlite://{d}/opsdeck.db");
    let out = run(&["migrate-db", "--from", &from, "--to", &pg], None);
    assert!(out.status.success(), "migrate-db: {}{}", text(&out.stdout), text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("moved ") && said.contains("services"), "{said}");
    assert!(!said.contains("postgres@"), "the URL's user is not echoed: {said}");

    // Moving again into the same database is refused, and changes nothing.
    let again = run(&["migrate-db", "--from", &from, "--to", &pg], None);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already has accounts"), "{}", text(&again.stderr));
    let missing = run(&["migrate-db", "--from", "sqlite:///nonexistent/opsdeck.db", "--to", &pg], None);
    assert!(text(&missing.stderr).contains("no SQLite database"), "{}", text(&missing.stderr));

    let (child, url) = serve(port, &["--database-url", &pg, "--data-dir", &d]);
    wait_ready(&http, &url).await;
    let after = read_all(&http, &url, &token).await;
    for ((path, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(a, b, "{path} answers the same after the move");
    }
    let filled =
        |path: &str| before.iter().any(|(p, v)| p.starts_with(path) && !v["items"].as_array().unwrap().is_empty());
    assert!(filled("/api/v1/incidents") && filled("/api/v1/status-pages"), "the comparison covers real data");
    // The pages too: the signed-in services page lists the same services, in the same order.
    let page_after = services_page(&url).await;
    let names: Vec<String> =
        before[0].1["items"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect();
    let order = |html: &str| {
        let mut found: Vec<(usize, &String)> =
            names.iter().map(|n| (html.find(&n.replace('&', "&amp;")).unwrap_or(usize::MAX), n)).collect();
        found.sort();
        found.into_iter().map(|(at, n)| (at != usize::MAX, n.clone())).collect::<Vec<_>>()
    };
    let listed = order(&page_before);
    assert!(listed.iter().all(|(found, _)| *found), "the services page lists every service: {listed:?}");
    assert_eq!(listed, order(&page_after), "the same services in the same order");
    stop(child);
}
