//! Ticket routing end to end: managers keep ordered rules (checked whole; an unknown team or
//! service named); a new ticket that names no team goes to the first rule that takes it, and is
//! handed round robin or to the least loaded of the team's active agents (never a viewer or a
//! disabled account); agents filter the queue by team, theirs and unassigned, and move a ticket
//! to another team. The pages do the same through forms.

use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_sqlite() {
    routing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_postgres() {
    routing(Backend::Postgres).await;
}

fn fields_named(e: &Value) -> Vec<String> {
    e["error"]["details"]["fields"]
        .as_array()
        .map_or_else(Vec::new, |l| l.iter().map(|f| f["field"].as_str().unwrap_or("").to_owned()).collect())
}

async fn raise(srv: &TestServer, token: &str, body: Value) -> Value {
    let (s, t) = srv.post("/api/v1/tickets", token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    t
}

async fn routing(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let admin = srv.token("admin", Role::Admin).await;
    let m = srv.token("mgr", Role::Manager).await;
    let agent = srv.token("agent", Role::Responder).await;
    let ana = srv.token("ana", Role::Viewer).await;
    let (ann, bob, carl) = (
        srv.user("ann", Role::Responder).await,
        srv.user("bob", Role::Responder).await,
        srv.user("carl", Role::Responder).await,
    );
    let vic = srv.user("vic", Role::Viewer).await;
    let team = |name: &'static str| {
        let (srv, m) = (&srv, &m);
        async move {
            let (s, t) = srv.post("/api/v1/teams", m, json!({"name": name})).await;
            assert_eq!(s, StatusCode::CREATED, "{t}");
            t["id"].as_str().unwrap().to_owned()
        }
    };
    let (net, accounts) = (team("Network").await, team("Accounts").await);
    for (t, u) in [(&net, &ann), (&net, &bob), (&net, &vic), (&accounts, &carl)] {
        let (s, e) = srv.put(&format!("/api/v1/teams/{t}/members/{}", u.id), &m, json!({})).await;
        assert!(s.is_success(), "{e}");
    }

    // Rules: managers keep them; every wrong field is named; an unknown team is refused.
    let network =
        json!({"name": "Network trouble", "keywords": ["VPN", "wifi"], "team_id": net, "assign": "round_robin"});
    let (s, rule) = srv.post("/api/v1/ticket-routes", &m, network).await;
    assert_eq!((s, rule["keywords"].clone()), (StatusCode::CREATED, json!(["vpn", "wifi"])), "{rule}");
    let acme = json!({"name": "Acme", "position": 10, "requester": "@Acme.com", "team_id": accounts,
        "assign": "least_loaded"});
    assert_eq!(srv.post("/api/v1/ticket-routes", &m, acme).await.0, StatusCode::CREATED);
    let bad = json!({"name": " ", "assign": "random", "keywords": ["two words"], "requester": "@nodot",
        "team_id": net});
    let (s, e) = srv.post("/api/v1/ticket-routes", &m, bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(fields_named(&e), ["name", "requester", "keywords", "assign"], "{e}");
    let nowhere = json!({"name": "Nowhere", "team_id": uuid::Uuid::now_v7()});
    let (s, e) = srv.post("/api/v1/ticket-routes", &m, nowhere).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("team_id")));
    let nowhere = json!({"name": "Nowhere", "team_id": net});
    assert_eq!(srv.post("/api/v1/ticket-routes", &agent, nowhere.clone()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(srv.post("/api/v1/ticket-routes", &ana, nowhere).await.0, StatusCode::FORBIDDEN);
    assert_eq!(srv.get("/api/v1/ticket-routes", &ana).await.0, StatusCode::FORBIDDEN);
    let (_, list) = srv.get("/api/v1/ticket-routes", &agent).await;
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["Acme", "Network trouble"], "tried by position");

    // Round robin among the team's agents by username; the viewer member never gets one.
    let mut got = Vec::new();
    for title in ["VPN drops", "The wifi is slow", "vpn again"] {
        let t = raise(&srv, &ana, json!({"title": title})).await;
        assert_eq!(t["team_id"].as_str(), Some(net.as_str()), "{t}");
        got.push(t["assignee_id"].as_str().unwrap().to_owned());
    }
    let (a, b) = (ann.id.to_string(), bob.id.to_string());
    assert_eq!(got, [a.clone(), b.clone(), a.clone()]);
    // Whole words only, and a lower position wins: Acme's VPN ticket goes to Accounts.
    let t = raise(&srv, &agent, json!({"title": "vpnclient crashes"})).await;
    assert_eq!((t["team_id"].as_str(), t["assignee_id"].as_str()), (None, None), "no rule takes it: {t}");
    let t = raise(&srv, &agent, json!({"title": "VPN at Acme", "requester_email": "it@acme.com"})).await;
    assert_eq!(t["team_id"].as_str(), Some(accounts.as_str()));
    assert_eq!(t["assignee_id"].as_str(), Some(carl.id.to_string().as_str()));

    // A team named when raising (agents only) skips the rules; a service must exist.
    let t = raise(&srv, &agent, json!({"title": "VPN for the office", "team_id": net, "category": "Network"})).await;
    assert_eq!((t["team_id"].as_str(), t["assignee_id"].as_str()), (Some(net.as_str()), None));
    assert_eq!(t["category"].as_str(), Some("Network"));
    let (s, e) = srv.post("/api/v1/tickets", &ana, json!({"title": "x", "team_id": net})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("team_id")));
    let (s, e) = srv.post("/api/v1/tickets", &ana, json!({"title": "x", "service_id": uuid::Uuid::now_v7()})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("service_id")));

    // Least loaded: Ann has two open tickets, Bob one; then they are equal and take turns.
    let id = rule["id"].as_str().unwrap();
    let edit = json!({"name": "Network trouble", "keywords": ["vpn"], "team_id": net, "assign": "least_loaded",
        "version": rule["version"]});
    let (s, saved) = srv.put(&format!("/api/v1/ticket-routes/{id}"), &m, edit.clone()).await;
    assert_eq!((s, saved["assign"].as_str()), (StatusCode::OK, Some("least_loaded")), "{saved}");
    assert_eq!(srv.put(&format!("/api/v1/ticket-routes/{id}"), &m, edit.clone()).await.0, StatusCode::CONFLICT);
    let t = raise(&srv, &ana, json!({"title": "VPN down"})).await;
    assert_eq!(t["assignee_id"].as_str(), Some(b.as_str()), "Bob had fewer: {t}");
    // A disabled agent is skipped.
    let (s, e) = srv.patch(&format!("/api/v1/users/{}", ann.id), &admin, json!({"disabled": true})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let t = raise(&srv, &ana, json!({"title": "VPN again and again"})).await;
    assert_eq!(t["assignee_id"].as_str(), Some(b.as_str()));

    // The queue by team, unassigned; moving a ticket to another team.
    let (_, q) = srv.get(&format!("/api/v1/tickets?team_id={net}"), &agent).await;
    assert_eq!(q["items"].as_array().unwrap().len(), 6, "{q}");
    let (_, q) = srv.get(&format!("/api/v1/tickets?team_id={net}&unassigned=true"), &agent).await;
    let keys: Vec<&str> = q["items"].as_array().unwrap().iter().filter_map(|t| t["number"].as_str()).collect();
    assert_eq!(keys, ["TKT-6"]);
    let (s, moved) =
        srv.post("/api/v1/tickets/TKT-4/assign", &agent, json!({"assignee_id": null, "team_id": net})).await;
    assert_eq!((s, moved["team_id"].as_str()), (StatusCode::OK, Some(net.as_str())), "{moved}");
    // Only a team given: the ticket changes team and keeps its assignee.
    let (s, kept) = srv.post("/api/v1/tickets/TKT-5/assign", &agent, json!({"team_id": net})).await;
    assert_eq!((s, kept["team_id"].as_str()), (StatusCode::OK, Some(net.as_str())), "{kept}");
    assert_eq!(kept["assignee_id"].as_str(), Some(carl.id.to_string().as_str()));
    let (s, e) = srv.post("/api/v1/tickets/TKT-4/assign", &agent, json!({"team_id": uuid::Uuid::now_v7()})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("team_id")));

    // The pages: a manager adds a rule by form (a wrong one is refused and named), agents read.
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let form =
        [("name", "Everything else"), ("position", "9000"), ("team", &accounts), ("assign", "none"), ("enabled", "on")];
    let (s, note) = srv.form("/tickets/routing", &cookie, &form).await;
    assert_eq!((s, note.as_str()), (StatusCode::SEE_OTHER, "Rule Everything else added"));
    let (s, _) = srv.form("/tickets/routing", &cookie, &[("name", "No team"), ("keywords", "a-b")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a rule without a team is refused on the page too");
    let (s, html) = srv.page("/tickets/routing", &cookie).await;
    assert!(s.is_success() && html.contains("Everything else") && html.contains("every ticket"), "{html}");
    let t = raise(&srv, &ana, json!({"title": "Printer jams"})).await;
    assert_eq!(t["team_id"].as_str(), Some(accounts.as_str()), "the catch-all takes it");
    let (s, html) = srv.page("/tickets?view=unassigned", &cookie).await;
    assert!(s.is_success() && html.contains("Printer jams") && !html.contains("VPN drops"), "{html}");
    assert_eq!(srv.delete(&format!("/api/v1/ticket-routes/{id}"), &m).await.0, StatusCode::NO_CONTENT);
    let (s, e) = srv.get(&format!("/api/v1/ticket-routes/{id}"), &agent).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("routing_rule_not_found")));
}
