//! Probe agents through the API: registration (admins, token once), the agent's own endpoints
//! (its monitors with their settings in clear, uploads as JSON or gzip, checked), the verdict of
//! several locations with a quorum, revocation at once. The agent process itself is tested with
//! real agents in `crates/opsdeck/tests/it/agents.rs`.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};
use std::io::Write;

backend_tests!(
    agents_are_registered_report_and_are_revoked,
    a_monitor_goes_down_when_its_quorum_agrees,
    a_monitor_no_location_reports_on_is_held_then_down,
);

/// Sends an agent request: `body` as JSON (gzip-compressed when `gzip`), `location` as the
/// agent names itself.
async fn agent_call(
    srv: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    location: &str,
    body: Option<(&Value, bool)>,
) -> (StatusCode, Value) {
    let mut req = srv
        .http
        .request(method, format!("{}{path}", srv.url))
        .bearer_auth(token)
        .header("x-opsdeck-location", location)
        .header("x-opsdeck-agent-version", "9.9.9");
    if let Some((b, gzip)) = body {
        let json = serde_json::to_vec(b).unwrap();
        req = req.header("content-type", "application/json");
        req = if gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&json).unwrap();
            req.header("content-encoding", "gzip").body(enc.finish().unwrap())
        } else {
            req.body(json)
        };
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn results(monitor: &str, at: chrono::DateTime<chrono::Utc>, status: &str) -> Value {
    json!({"results": [{"monitor_id": monitor, "at": at.to_rfc3339(), "status": status, "latency_ms": 12.5,
        "reason": format!("{status} from the agent")}]})
}

async fn agents_are_registered_report_and_are_revoked(srv: &TestServer) {
    let admin = srv.token("root", Role::Admin).await;
    let manager = srv.token("mgr", Role::Manager).await;
    let viewer = srv.token("view", Role::Viewer).await;
    let agent = json!({"name": "eu probe", "location": "eu-west"});
    assert_eq!(srv.post("/api/v1/agents", &manager, agent.clone()).await.0, StatusCode::FORBIDDEN);
    let (s, e) = srv.post("/api/v1/agents", &admin, json!({"name": "x", "location": "server"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["details"]["field"], "location", "{e}");
    let (s, _) = srv.post("/api/v1/agents", &admin, json!({"name": "x", "location": "EU West"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, created) = srv.post("/api/v1/agents", &admin, agent.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("opsa_"));
    assert_eq!(srv.post("/api/v1/agents", &admin, agent).await.0, StatusCode::CONFLICT);
    let (_, list) = srv.get("/api/v1/agents", &viewer).await;
    let listed = &list["items"][0];
    assert_eq!(listed["status"], "never_seen");
    assert!(listed.get("token").is_none() && listed["last_seen_at"].is_null(), "{listed}");
    assert!(!list.to_string().contains(&token), "the token is shown once only");

    // A monitor with a secret: readers see it masked, the agent in clear.
    let (_, m) = srv
        .post(
            "/api/v1/monitors",
            &admin,
            json!({"name": "API", "type": "http", "locations": ["eu-west"], "settings": {
                "url": "http://127.0.0.1:1/health", "auth": {"type": "basic", "username": "u", "password": "s3cret"}}}),
        )
        .await;
    let id = m["id"].as_str().unwrap().to_owned();
    assert_eq!(m["settings"]["auth"]["password"], "(set)");
    assert_eq!(m["locations"][0]["location"], "eu-west");
    assert_eq!(m["locations"][0]["state"], "pending");
    let (s, mine) = agent_call(srv, reqwest::Method::GET, "/api/v1/agent/monitors", &token, "eu-west", None).await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert_eq!(mine["location"], "eu-west");
    assert_eq!(mine["monitors"][0]["id"], id.as_str());
    assert_eq!(mine["monitors"][0]["settings"]["auth"]["password"], "s3cret");
    // A user's token, and an agent started for the wrong location, are refused.
    let (s, _) = agent_call(srv, reqwest::Method::GET, "/api/v1/agent/monitors", &admin, "eu-west", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, e) = agent_call(srv, reqwest::Method::GET, "/api/v1/agent/monitors", &token, "us-east", None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(e["error"]["message"].as_str().unwrap().contains("--location eu-west"), "{e}");

    // Nobody has reported yet: the server holds its verdict (a new monitor raises no alarm).
    srv.clock.advance(Duration::seconds(61));
    srv.run_checks().await;
    let (_, held) = srv.get(&format!("/api/v1/monitors/{id}"), &viewer).await;
    assert_eq!((held["state"].as_str(), held["last_result"].is_null()), (Some("pending"), true), "{held}");

    // Uploads: plain and gzip; results of monitors that do not run here are ignored.
    let now = srv.now();
    let post = reqwest::Method::POST;
    let path = "/api/v1/agent/results";
    let up = results(&id, now, "up");
    let (s, a) = agent_call(srv, post.clone(), path, &token, "eu-west", Some((&up, false))).await;
    assert_eq!((s, a["accepted"].as_i64(), a["ignored"].as_i64()), (StatusCode::OK, Some(1), Some(0)), "{a}");
    let other = results(&uuid::Uuid::now_v7().to_string(), now, "down");
    let (s, a) = agent_call(srv, post.clone(), path, &token, "eu-west", Some((&other, true))).await;
    assert_eq!((s, a["accepted"].as_i64(), a["ignored"].as_i64()), (StatusCode::OK, Some(0), Some(1)), "{a}");
    let mut bad_time = results(&id, now, "up");
    bad_time["results"][0]["at"] = json!("yesterday at noon");
    for (body, field) in [(results(&id, now, "sideways"), "results[0].status"), (bad_time, "results[0].at")] {
        let (s, e) = agent_call(srv, post.clone(), path, &token, "eu-west", Some((&body, true))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["error"]["details"]["field"], field, "{e}");
    }
    let r = srv
        .http
        .post(format!("{}{path}", srv.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body("not gzip at all")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // An agent whose clock is ten minutes slow: its results are shifted by the offset its
    // upload's time shows, so they count as fresh.
    let slow = now - Duration::minutes(10);
    let r = srv
        .http
        .post(format!("{}{path}", srv.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("x-opsdeck-agent-time", slow.to_rfc3339())
        .body(results(&id, slow, "up").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, list) = srv.get("/api/v1/agents", &viewer).await;
    let seen = &list["items"][0];
    assert_eq!((seen["status"].as_str(), seen["version"].as_str()), (Some("online"), Some("9.9.9")), "{seen}");
    assert_eq!(seen["results_total"], 2);
    assert!(seen["lag_ms"].as_i64().unwrap() < 1_000, "{seen}");
    let (_, m) = srv.get(&format!("/api/v1/monitors/{id}"), &viewer).await;
    assert_eq!(m["locations"][0]["state"], "up", "{m}");
    assert_eq!(m["locations"][0]["last_result"]["reason"], "up from the agent");
    assert_eq!(m["locations"][0]["uptime_24h"], 100.0);

    // The page lists it; revoked, the token stops at once.
    let cookie = srv.login("root", "password-root").await.unwrap();
    let (s, html) = srv.page("/agents", &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("eu probe") && html.contains("9.9.9"), "{html}");
    let (s, notice) = srv.form("/agents", &cookie, &[("name", "x"), ("location", "server")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{notice}");
    let agent_id = created["id"].as_str().unwrap();
    assert_eq!(srv.delete(&format!("/api/v1/agents/{agent_id}"), &manager).await.0, StatusCode::FORBIDDEN);
    assert_eq!(srv.delete(&format!("/api/v1/agents/{agent_id}"), &admin).await.0, StatusCode::NO_CONTENT);
    let (s, _) = agent_call(srv, reqwest::Method::GET, "/api/v1/agent/monitors", &token, "eu-west", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, audit) = srv.get("/api/v1/audit?limit=50", &admin).await;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"agent.create") && actions.contains(&"agent.revoke"), "{actions:?}");
    assert!(!audit.to_string().contains(&token));
}

async fn a_monitor_goes_down_when_its_quorum_agrees(srv: &TestServer) {
    let admin = srv.token("root", Role::Admin).await;
    let (_, created) = srv.post("/api/v1/agents", &admin, json!({"name": "eu", "location": "eu"})).await;
    let token = created["token"].as_str().unwrap().to_owned();
    // The nodes cannot reach the target (nothing listens on port 1); the agent can.
    let body = json!({"name": "Shop", "type": "tcp", "interval_seconds": 30,
        "settings": {"host": "127.0.0.1", "port": 1}, "locations": ["server", "eu"], "quorum": 2});
    for (bad, field) in [(json!({"quorum": 3}), "quorum"), (json!({"locations": ["eu", "eu"]}), "locations")] {
        let mut b = body.clone();
        b.as_object_mut().unwrap().extend(bad.as_object().unwrap().clone());
        let (s, e) = srv.post("/api/v1/monitors", &admin, b).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["error"]["details"]["field"], field, "{e}");
    }
    let heartbeat = json!({"name": "Job", "type": "heartbeat", "locations": ["eu"],
        "settings": {"schedule": {"period_seconds": 3600}}});
    let (s, e) = srv.post("/api/v1/monitors", &admin, heartbeat).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("locations")));
    let (s, m) = srv.post("/api/v1/monitors", &admin, body).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let id = m["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/monitors/{id}");

    let report = async |status: &str| {
        let b = results(&id, srv.now(), status);
        let (s, a) =
            agent_call(srv, reqwest::Method::POST, "/api/v1/agent/results", &token, "eu", Some((&b, true))).await;
        assert_eq!((s, a["accepted"].as_i64()), (StatusCode::OK, Some(1)), "{a}");
    };
    // The nodes fail, the agent passes.
    srv.clock.advance(Duration::seconds(31));
    report("up").await;
    assert_eq!(srv.run_checks().await, 1);
    let (_, m) = srv.get(&path, &admin).await;
    assert_eq!(m["state"], "up", "one failing location of two is below the quorum: {m}");
    assert!(m["last_result"]["reason"].as_str().unwrap().contains("below the quorum of 2"), "{m}");
    let server = &m["locations"].as_array().unwrap().iter().find(|l| l["location"] == "server").unwrap().clone();
    assert_eq!(server["state"], "down", "{m}");
    assert_eq!(server["uptime_24h"], 0.0);

    // The agent loses it too: both agree, the monitor is down.
    srv.clock.advance(Duration::seconds(30));
    report("down").await;
    srv.run_checks().await;
    let (_, m) = srv.get(&path, &admin).await;
    assert_eq!(m["state"], "down", "{m}");
    assert!(m["last_result"]["reason"].as_str().unwrap().starts_with("down from 2 of 2 locations"), "{m}");

    // A quorum of 1 with the agent back up: the nodes alone keep it down.
    let (s, _) = srv.patch(&path, &admin, json!({"quorum": 1})).await;
    assert_eq!(s, StatusCode::OK);
    srv.clock.advance(Duration::seconds(30));
    report("up").await;
    srv.run_checks().await;
    let (_, m) = srv.get(&path, &admin).await;
    assert_eq!(m["state"], "down", "{m}");
    // The list shows each monitor's locations too, without the day's figures.
    let (_, list) = srv.get("/api/v1/monitors", &admin).await;
    let listed = &list["items"][0]["locations"];
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{list}");
    assert!(listed[0]["uptime_24h"].is_null());
    // Running from the nodes only again: their result alone decides, the agent's row goes.
    let (s, m) = srv.patch(&path, &admin, json!({"locations": ["server"]})).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["locations"].as_array().map(Vec::len), Some(1));
    assert_eq!(m["quorum"], 1);
}

async fn a_monitor_no_location_reports_on_is_held_then_down(srv: &TestServer) {
    let admin = srv.token("root", Role::Admin).await;
    srv.post("/api/v1/agents", &admin, json!({"name": "eu", "location": "eu"})).await;
    let body = json!({"name": "Quiet", "type": "tcp", "interval_seconds": 30,
        "settings": {"host": "127.0.0.1", "port": 1}, "locations": ["eu"]});
    let (_, m) = srv.post("/api/v1/monitors", &admin, body).await;
    let path = format!("/api/v1/monitors/{}", m["id"].as_str().unwrap());
    // Within the freshness window of its creation the agent may not have fetched it yet.
    srv.clock.advance(Duration::seconds(31));
    srv.run_checks().await;
    assert_eq!(srv.get(&path, &admin).await.1["state"], "pending");
    // Past it, silence is a failure: a monitor nobody checks does not stay green.
    for _ in 0..3 {
        srv.clock.advance(Duration::seconds(30));
        srv.run_checks().await;
    }
    let (_, m) = srv.get(&path, &admin).await;
    assert_eq!(m["state"], "down", "{m}");
    assert_eq!(m["last_result"]["reason"], "no location reported a result recently");
}
