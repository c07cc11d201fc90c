//! The service desk through the CLI against a real server: a ticket raised and listed, an
//! article written from standard input and found by search, a problem opened over an incident
//! named by its number, found as a known error, and resolved with its incident; and the MCP
//! stdio bridge.

use super::{run, text};
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_articles_and_problems_through_the_cli() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let m = srv.token("mgr", Role::Manager).await;
    let token = srv.token("agent", Role::Responder).await;
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Checkout"})).await;
    let (s, inc) = srv.post("/api/v1/incidents", &token, json!({"title": "Pool dry", "service_id": svc["id"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");

    let url = srv.url.clone();
    let outs = tokio::task::spawn_blocking(move || {
        let common = ["--server", url.as_str(), "--token", token.as_str()];
        let with = |args: &[&str]| -> Vec<String> { args.iter().chain(common.iter()).map(|s| s.to_string()).collect() };
        vec![
            run(&with(&["ticket", "add", "VPN drops", "--impact", "2", "--urgency", "2"]), None),
            run(&with(&["ticket", "list"]), None),
            run(&with(&["kb", "add", "Reset your VPN token", "--file", "-", "--public"]), Some("Press **Renew**.")),
            run(&with(&["kb", "search", "renewing"]), None),
            run(
                &with(&["problem", "add", "Pool runs dry", "--incident", "INC-1", "--workaround", "Restart pods"]),
                None,
            ),
            run(&with(&["problem", "move", "PRB-1", "known_error"]), None),
            run(&with(&["problem", "list", "--known-errors", "restart"]), None),
            run(&with(&["problem", "move", "PRB-1", "resolve", "--resolve-incidents"]), None),
            run(&with(&["problem", "move", "PRB-1", "frobnicate"]), None),
        ]
    })
    .await
    .unwrap();
    for o in &outs[..8] {
        assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    }
    assert!(text(&outs[0].stderr).contains("raised TKT-1 (P2)"), "{}", text(&outs[0].stderr));
    assert!(text(&outs[1].stdout).contains("TKT-1") && text(&outs[1].stdout).contains("VPN drops"));
    assert!(text(&outs[2].stderr).contains("published KB-1 (public)"), "{}", text(&outs[2].stderr));
    assert!(text(&outs[3].stdout).contains("KB-1  Reset your VPN token"), "{}", text(&outs[3].stdout));
    assert!(text(&outs[4].stderr).contains("opened PRB-1"));
    let listed = text(&outs[6].stdout);
    assert!(listed.contains("known_error") && listed.contains("PRB-1 workaround: Restart pods"), "{listed}");
    assert!(text(&outs[7].stderr).contains("PRB-1 is resolved; 1 incident(s) resolved"), "{}", text(&outs[7].stderr));
    assert!(!outs[8].status.success() && text(&outs[8].stderr).contains("action"), "{}", text(&outs[8].stderr));
    let (_, inc): (_, Value) = srv.get(&format!("/api/v1/incidents/{}", inc["id"].as_str().unwrap()), &m).await;
    assert_eq!(inc["status"], "resolved");
}

/// `opsdeck mcp` relays MCP over stdio: initialize, the tool list, a tool call and its error
/// answers come back as JSON-RPC lines on stdout, nothing else; a bad token is an error answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_over_stdio_through_the_bridge() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let token = srv.token("agent", Role::Responder).await;
    let url = srv.url.clone();
    let hello =
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
    let lines = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello}).to_string(),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string(),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "who_is_on_call"}}).to_string(),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "nope", "arguments": {}}})
            .to_string(),
        "not json".to_owned(),
    ]
    .join("\n");
    let (good, bad) = tokio::task::spawn_blocking(move || {
        let good = run(&["mcp", "--server", url.as_str(), "--token", token.as_str()], Some(&lines));
        let bad = run(
            &["mcp", "--server", url.as_str(), "--token", "opsd_wrong"],
            Some(r#"{"jsonrpc":"2.0","id":9,"method":"tools/list"}"#),
        );
        (good, bad)
    })
    .await
    .unwrap();
    assert!(good.status.success(), "{}", text(&good.stderr));
    let answers: Vec<Value> =
        text(&good.stdout).lines().map(|l| serde_json::from_str(l).expect("only JSON-RPC on stdout")).collect();
    assert_eq!(answers.len(), 5, "{answers:?}");
    assert_eq!(answers[0]["result"]["serverInfo"]["name"], "opsdeck");
    assert!(answers[1]["result"]["tools"].as_array().is_some_and(|t| t.len() >= 6), "{}", answers[1]);
    assert_eq!(answers[2]["result"]["isError"], false, "{}", answers[2]);
    assert!(answers[3]["error"]["message"].as_str().is_some_and(|m| m.contains("nope")), "{}", answers[3]);
    assert_eq!((answers[4]["id"].clone(), answers[4]["error"]["code"].as_i64()), (Value::Null, Some(-32603)));
    let told: Value = serde_json::from_str(text(&bad.stdout).trim()).expect("an error answer");
    assert_eq!(told["id"], 9);
    assert!(told["error"]["message"].as_str().is_some_and(|m| m.contains("401")), "{told}");
}
