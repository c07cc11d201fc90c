//! The MCP server through the official Python MCP SDK (PyPI `mcp`) as the client: it lists the
//! tools, resources and prompts, calls every read tool, acknowledges an incident and adds a
//! note with a responder's token (audited as that person), and gets a permission error for the
//! same acknowledgement with a viewer's token. Without a token, /mcp is a 401.

use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_sqlite() {
    mcp(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_postgres() {
    mcp(Backend::Postgres).await;
}

async fn mcp(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let m = srv.token("mgr", Role::Manager).await;
    let admin = srv.token("ada", Role::Admin).await;
    let responder = srv.token("rita", Role::Responder).await;
    let viewer = srv.token("vic", Role::Viewer).await;
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Checkout"})).await;
    let body = json!({"title": "Checkout errors", "service_id": svc["id"], "severity": "SEV2"});
    let (s, inc) = srv.post("/api/v1/incidents", &m, body).await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let number = inc["number"].as_str().unwrap().to_owned();
    let page =
        json!({"slug": "shop", "title": "Shop Status", "components": [{"name": "Checkout", "service_id": svc["id"]}]});
    let (s, page) = srv.post("/api/v1/status-pages", &m, page).await;
    assert_eq!(s, StatusCode::CREATED, "{page}");
    let page_id = page["id"].as_str().unwrap().to_owned();
    let component = page["components"][0]["id"].as_str().unwrap().to_owned();
    let monitor = json!({"name": "Checkout health", "type": "http", "service_id": svc["id"],
        "settings": {"url": "http://127.0.0.1:9/health"}, "interval_seconds": 60});
    let (s, mon) = srv.post("/api/v1/monitors", &m, monitor).await;
    assert_eq!(s, StatusCode::CREATED, "{mon}");

    // No token: refused before the protocol, saying what to send.
    let resp = srv
        .http
        .post(format!("{}/mcp", srv.url))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let post = |auth: (&'static str, String)| {
        srv.http
            .post(format!("{}/mcp", srv.url))
            .header(auth.0, auth.1)
            .header("origin", &srv.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
            .send()
    };
    // A wrong token is told so; a browser session is not a token.
    let resp = post(("authorization", "Bearer opsd_nonsense".into())).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
    let cookie = srv.login("rita", "password-rita").await.unwrap();
    assert_eq!(post(("cookie", cookie)).await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client.py");
    let args = [
        script.to_owned(),
        format!("{}/mcp", srv.url),
        responder,
        viewer,
        number.clone(),
        page_id.clone(),
        component.clone(),
        mon["id"].as_str().unwrap().to_owned(),
    ];
    let out = tokio::task::spawn_blocking(move || std::process::Command::new("python3").args(&args).output())
        .await
        .unwrap()
        .expect("run python3");
    assert!(out.status.success(), "the MCP client failed (pip install mcp): {}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).expect("the client's JSON");

    for tool in ["list_incidents", "get_incident", "acknowledge_incident", "resolve_incident", "add_incident_note"] {
        assert!(got["tools"].as_array().unwrap().iter().any(|t| t == tool), "{tool}: {}", got["tools"]);
    }
    assert!(got["tools"].as_array().unwrap().iter().any(|t| t == "who_is_on_call"));
    assert!(!got["read_only"].as_array().unwrap().iter().any(|t| t == "acknowledge_incident"));
    for (name, read) in got["reads"].as_object().unwrap() {
        assert_eq!(read["error"], false, "{name}: {read}");
    }
    let listed = &got["reads"]["list_incidents"]["data"]["incidents"];
    assert_eq!(listed[0]["number"].as_str(), Some(number.as_str()), "{listed}");
    let one = &got["reads"]["get_incident"]["data"];
    assert_eq!(one["incident"]["title"], "Checkout errors");
    assert!(one["timeline"].as_array().is_some_and(|t| !t.is_empty()), "{one}");
    let services = &got["reads"]["search_services"]["data"]["services"];
    assert_eq!(services[0]["name"], "Checkout", "{services}");
    assert_eq!(got["blank_note"]["error"], true, "{}", got["blank_note"]);
    assert!(got["blank_note"]["text"].as_str().unwrap().contains("body"), "{}", got["blank_note"]);
    assert!(got["unknown_tool"].as_str().unwrap().contains("no_such_tool"), "{}", got["unknown_tool"]);
    assert_eq!(got["bad_arguments"]["error"], true);
    assert!(got["bad_arguments"]["text"].as_str().unwrap().contains("extra"), "{}", got["bad_arguments"]);

    // Acknowledged as the responder, with a note, both on the incident's timeline.
    assert_eq!(got["acknowledge"]["error"], false, "{}", got["acknowledge"]);
    assert_eq!(got["acknowledge"]["data"]["status"], "acknowledged");
    assert_eq!(got["note"]["error"], false, "{}", got["note"]);
    let (_, now) = srv.get(&format!("/api/v1/incidents/{number}"), &m).await;
    assert_eq!(now["status"], "acknowledged");
    let (_, timeline) = srv.get(&format!("/api/v1/incidents/{number}/timeline"), &m).await;
    assert!(timeline.to_string().contains("Rolled back the deploy."), "{timeline}");
    let (_, audit) = srv.get("/api/v1/audit?limit=50", &admin).await;
    let by_rita =
        audit["items"].as_array().unwrap().iter().any(|e| e["actor"].as_str().is_some_and(|a| a.contains("rita")));
    assert!(by_rita, "audited as the token's user: {audit}");

    // Monitors, the public page, and maintenance (a manager's: the responder is refused).
    let mons = &got["reads"]["monitor_status"]["data"]["monitors"];
    assert_eq!(mons[0]["name"], "Checkout health", "{mons}");
    assert!(got["reads"]["monitor_one"]["data"]["recent_results"].is_array(), "{}", got["reads"]["monitor_one"]);
    assert_eq!(got["status_update"]["error"], false, "{}", got["status_update"]);
    let public = srv.http.get(format!("{}/status/shop/api/v2/incidents/unresolved.json", srv.url)).send().await;
    let live = public.unwrap().text().await.unwrap();
    assert!(live.contains("Payments are failing"), "{live}");
    assert_eq!(got["maintenance"]["error"], true, "{}", got["maintenance"]);
    assert!(got["maintenance"]["text"].as_str().unwrap().starts_with("forbidden:"), "{}", got["maintenance"]);

    // Resources and prompts.
    let resources: Vec<&str> = got["resources"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(resources.contains(&format!("opsdeck://incidents/{number}").as_str()), "{resources:?}");
    assert!(resources.contains(&"opsdeck://services/checkout"), "{resources:?}");
    assert!(got["resource_text"].as_str().unwrap().contains("Checkout"));
    assert_eq!(got["prompts"], json!(["draft_postmortem", "summarise_incident"]));
    assert!(got["prompt_text"].as_str().unwrap().contains("Checkout errors"));

    // A viewer reads, but may not acknowledge: the role caps the tool, as in the API.
    let v = &got["viewer"];
    assert_eq!((v["error"].as_bool(), v["list_error"].as_bool()), (Some(true), Some(false)), "{v}");
    assert!(v["text"].as_str().unwrap().starts_with("forbidden:"), "{v}");
}
