//! The knowledge base and problems end to end: articles written by agents and read by
//! requesters as their visibility allows, full-text search (stemming, prefixes, title first,
//! suggestions from a ticket's title), Markdown rendered without scripts, stale edits refused;
//! problems linking incidents and tickets, known errors found by their workaround, and resolving
//! a problem resolving its open incidents. Bad input is named and writes nothing.

use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowledge_sqlite() {
    knowledge(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowledge_postgres() {
    knowledge(Backend::Postgres).await;
}

fn numbers(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|a| a["number"].as_str().unwrap().to_owned()).collect()
}

async fn knowledge(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let m = srv.token("mgr", Role::Manager).await;
    let agent = srv.token("agent", Role::Responder).await;
    let u = srv.user("requester", Role::Viewer).await;
    let requester = srv.token_for(&u, None).await;
    articles(&srv, &m, &agent, &requester).await;
    problems(&srv, &m, &agent, &requester).await;
}

async fn articles(srv: &TestServer, m: &str, agent: &str, requester: &str) {
    let vpn = json!({"title": "Reset your VPN token", "category": "Access", "visibility": "public",
        "body": "## Steps\n\n1. Open **Settings**\n2. Choose *Resetting the token*\n\n<script>alert(1)</script>"});
    let (s, a) = srv.post("/api/v1/kb/articles", agent, vpn).await;
    assert_eq!((s, a["number"].as_str()), (StatusCode::CREATED, Some("KB-1")), "{a}");
    let ca = json!({"title": "Rotate the VPN certificate authority", "category": "Network",
        "body": "Agents only: the token server trusts the old CA until the rotation ends."});
    let (s, b) = srv.post("/api/v1/kb/articles", agent, ca).await;
    assert_eq!((s, b["visibility"].as_str()), (StatusCode::CREATED, Some("agents")), "{b}");
    let printer = json!({"title": "Printer on floor 3 jams", "visibility": "public", "body": "Use tray 2."});
    assert_eq!(srv.post("/api/v1/kb/articles", agent, printer).await.0, StatusCode::CREATED);
    let (s, _) = srv.post("/api/v1/kb/articles", requester, json!({"title": "x", "body": "y"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "requesters read, agents write");

    // Search: every word, the last as a prefix, stems matched, the title hit first.
    let (s, r) = srv.get("/api/v1/kb/search?q=token", agent).await;
    assert_eq!((s, numbers(&r)), (StatusCode::OK, vec!["KB-1".to_owned(), "KB-2".to_owned()]), "{r}");
    assert_eq!(numbers(&srv.get("/api/v1/kb/search?q=vpn", requester).await.1), ["KB-1"], "public only");
    assert_eq!(numbers(&srv.get("/api/v1/kb/search?q=token%20rotat", agent).await.1), ["KB-2"]);
    assert_eq!(numbers(&srv.get("/api/v1/kb/search?q=resets", agent).await.1), ["KB-1"], "stemmed");
    assert_eq!(numbers(&srv.get("/api/v1/kb/search?q=vpn%20printer", agent).await.1), Vec::<String>::new());
    let (_, any) = srv.get("/api/v1/kb/search?q=my%20printer%20keeps%20jamming&match=any", requester).await;
    assert_eq!(numbers(&any), ["KB-3"], "{any}");
    assert!(any["items"][0]["excerpt"].as_str().unwrap().contains("tray 2"), "{any}");
    for bad in ["/api/v1/kb/search?q=vpn&match=some", "/api/v1/kb/search?q=vpn&limit=99", "/api/v1/kb/search"] {
        let (s, e) = srv.get(bad, agent).await;
        assert!(s.is_client_error(), "{bad}: {s} {e}");
    }
    // Query syntax in the words is not syntax.
    assert_eq!(srv.get("/api/v1/kb/search?q=%22vpn%22%20OR%20*%20NEAR(", agent).await.0, StatusCode::OK);

    // "Did this answer your question?": a requester's latest answer stands; the yeses are the
    // desk's self-service deflection, against the tickets raised. An agent's is not counted.
    for (token, article, helpful, status) in [
        (requester, "KB-1", false, StatusCode::NO_CONTENT),
        (requester, "KB-1", true, StatusCode::NO_CONTENT),
        (requester, "KB-2", true, StatusCode::NOT_FOUND),
        (agent, "KB-3", true, StatusCode::NO_CONTENT),
    ] {
        let path = format!("/api/v1/kb/articles/{article}/answer");
        let (s, e) = srv.post(&path, token, json!({"helpful": helpful})).await;
        assert_eq!(s, status, "{article}: {e}");
    }
    let (s, _) = srv.post("/api/v1/tickets", requester, json!({"title": "Still broken"})).await;
    assert_eq!(s, StatusCode::CREATED);
    srv.clock.set(srv.now() + chrono::Duration::hours(1));
    let (_, k) = srv.get("/api/v1/reports/kpi", m).await;
    let d = &k["service_desk"];
    assert_eq!(d["self_service_answers"].as_u64(), Some(1), "{d}");
    assert_eq!(d["deflection_rate"].as_f64(), Some(0.5), "1 answered of 1 + 1 raised: {d}");

    // Visibility on reads.
    assert_eq!(srv.get("/api/v1/kb/articles/KB-2", requester).await.0, StatusCode::NOT_FOUND);
    assert_eq!(srv.get("/api/v1/kb/articles/KB-2", agent).await.0, StatusCode::OK);
    assert_eq!(numbers(&srv.get("/api/v1/kb/articles", requester).await.1), ["KB-3", "KB-1"]);
    let (_, access) = srv.get("/api/v1/kb/articles?category=Access", agent).await;
    assert_eq!(numbers(&access), ["KB-1"]);

    // Edits need the version loaded; the index follows the new words.
    let edit = |v: i64| {
        json!({"title": "Reset your VPN token", "category": "Access", "visibility": "public",
        "body": "Open the self-service portal and press Renew.", "version": v})
    };
    let (s, e) = srv.put("/api/v1/kb/articles/KB-1", agent, edit(7)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, e) = srv.put("/api/v1/kb/articles/KB-1", agent, edit(1)).await;
    assert_eq!((s, e["version"].as_i64()), (StatusCode::OK, Some(2)), "{e}");
    assert_eq!(numbers(&srv.get("/api/v1/kb/search?q=renew", requester).await.1), ["KB-1"]);
    assert!(numbers(&srv.get("/api/v1/kb/search?q=settings", agent).await.1).is_empty(), "old words gone");

    // Bad input is named, nothing is written.
    let (s, e) = srv.post("/api/v1/kb/articles", agent, json!({"title": "x", "body": "  ", "visibility": "all"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let text = e.to_string();
    assert!(text.contains("body") && text.contains("visibility"), "{text}");
    assert_eq!(numbers(&srv.get("/api/v1/kb/articles", agent).await.1).len(), 3);

    // Pages: rendered Markdown without the script, search, suggestions on the ticket form.
    let cookie = srv.login("requester", "password-requester").await.unwrap();
    let (s, html) = srv.page("/kb/1", &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("self-service portal") && !html.contains("<script>alert"), "{html}");
    let (_, html) = srv.page("/kb?q=vpn", &cookie).await;
    assert!(html.contains("Reset your VPN token") && !html.contains("certificate authority"));
    let title = "Hi,%20can%20you%20help%20me,%20I%20am%20not%20able%20to%20use%20the%20printer";
    let (_, html) = srv.page(&format!("/tickets/new?title={title}"), &cookie).await;
    assert!(html.contains("kb-suggestions") && html.contains("Printer on floor 3 jams"), "{html}");
    assert_eq!(srv.page("/kb/2", &cookie).await.0, StatusCode::NOT_FOUND);
    let (s, _) = srv.form("/kb", &cookie, &[("title", "mine"), ("body", "text")]).await;
    assert!(s.is_client_error(), "{s}");

    // Deleting is for managers.
    assert_eq!(srv.delete("/api/v1/kb/articles/KB-3", agent).await.0, StatusCode::FORBIDDEN);
    assert_eq!(srv.delete("/api/v1/kb/articles/KB-3", m).await.0, StatusCode::NO_CONTENT);
    assert!(numbers(&srv.get("/api/v1/kb/search?q=printer", agent).await.1).is_empty());
}

async fn problems(srv: &TestServer, m: &str, agent: &str, requester: &str) {
    let (_, svc) = srv.post("/api/v1/services", m, json!({"name": "Checkout"})).await;
    let sid = svc["id"].as_str().unwrap();
    let mut incidents = Vec::new();
    for title in ["Checkout times out", "Checkout times out again"] {
        let (s, inc) = srv.post("/api/v1/incidents", agent, json!({"title": title, "service_id": sid})).await;
        assert_eq!(s, StatusCode::CREATED, "{inc}");
        incidents.push(inc["id"].as_str().unwrap().to_owned());
    }
    let (_, t) = srv.post("/api/v1/tickets", requester, json!({"title": "Cannot pay"})).await;
    let tid = t["id"].as_str().unwrap().to_owned();

    // A linked id that does not exist is named, and nothing is written.
    let ghost = "0190f7a0-0000-7000-8000-000000000000";
    let (s, e) =
        srv.post("/api/v1/problems", agent, json!({"title": "Pool", "incident_ids": [incidents[0], ghost]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e.to_string().contains("incident_ids") && e.to_string().contains(ghost), "{e}");
    let body = json!({"title": "Checkout connection pool runs dry", "incident_ids": incidents, "ticket_ids": [tid]});
    let (s, p) = srv.post("/api/v1/problems", agent, body).await;
    assert_eq!(
        (s, p["number"].as_str(), p["state"].as_str()),
        (StatusCode::CREATED, Some("PRB-1"), Some("open")),
        "{p}"
    );
    assert_eq!(p["incident_ids"].as_array().unwrap().len(), 2);
    assert_eq!(srv.get("/api/v1/problems", requester).await.0, StatusCode::FORBIDDEN, "agents only");
    let (_, listed) = srv.get(&format!("/api/v1/problems?incident_id={}", incidents[1]), agent).await;
    assert_eq!(numbers(&listed), ["PRB-1"]);

    // A known error needs its workaround.
    let (s, e) = srv.post("/api/v1/problems/PRB-1/known_error", agent, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(e["error"]["message"].as_str().unwrap().contains("workaround"), "{e}");
    let edit = json!({"title": "Checkout connection pool runs dry", "incident_ids": incidents, "ticket_ids": [tid],
        "root_cause": "The pool holds 10 connections; retries hold them for 30 s.",
        "workaround": "Restart the checkout pods to free the pool.", "version": 1});
    let (s, p) = srv.put("/api/v1/problems/PRB-1", agent, edit).await;
    assert_eq!((s, p["version"].as_i64()), (StatusCode::OK, Some(2)), "{p}");
    let (s, mv) = srv.post("/api/v1/problems/PRB-1/known_error", agent, json!({"version": 2})).await;
    assert_eq!((s, mv["problem"]["known_error"].as_bool()), (StatusCode::OK, Some(true)), "{mv}");
    let (_, found) = srv.get("/api/v1/problems?state=known_error&q=restarting%20pod", agent).await;
    assert_eq!(numbers(&found), ["PRB-1"], "{found}");
    assert!(numbers(&srv.get("/api/v1/problems?state=known_error&q=database", agent).await.1).is_empty());

    // Resolving resolves the incidents still open, noting the problem on their timelines.
    let (s, _) = srv.post(&format!("/api/v1/incidents/{}/resolve", incidents[1]), agent, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, mv) = srv.post("/api/v1/problems/PRB-1/resolve", agent, json!({"resolve_incidents": true})).await;
    assert_eq!((s, mv["problem"]["state"].as_str()), (StatusCode::OK, Some("resolved")), "{mv}");
    assert_eq!(mv["resolved_incident_ids"], json!([incidents[0]]), "the other was resolved already");
    let (_, inc) = srv.get(&format!("/api/v1/incidents/{}", incidents[0]), agent).await;
    assert_eq!(inc["status"], "resolved", "{inc}");
    assert_eq!(srv.post("/api/v1/problems/PRB-1/close", agent, json!({"version": 1})).await.0, StatusCode::CONFLICT);
    assert_eq!(srv.post("/api/v1/problems/PRB-1/close", agent, json!({})).await.0, StatusCode::OK);
    assert_eq!(srv.post("/api/v1/problems/PRB-1/reopen", agent, json!({})).await.0, StatusCode::CONFLICT);
    let late = json!({"title": "x", "version": 4});
    assert_eq!(srv.put("/api/v1/problems/PRB-1", agent, late).await.0, StatusCode::CONFLICT);

    // A problem whose fix ships through a change: closing the change successfully resolves it
    // and its incidents.
    let (_, inc) = srv.post("/api/v1/incidents", agent, json!({"title": "Disk full on db-1", "service_id": sid})).await;
    let inc_id = inc["id"].as_str().unwrap().to_owned();
    let at = |mins: i64| (srv.now() + chrono::Duration::minutes(mins)).to_rfc3339();
    let change =
        json!({"title": "Grow the db-1 volume", "type": "emergency", "planned_start": at(1), "planned_end": at(60)});
    let (s, c) = srv.post("/api/v1/changes", agent, change).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let cid = c["id"].as_str().unwrap().to_owned();
    let body = json!({"title": "db-1 volume too small", "incident_ids": [inc_id], "fix_change_id": cid});
    let (s, p3) = srv.post("/api/v1/problems", agent, body).await;
    assert_eq!((s, p3["fix_change_id"].as_str()), (StatusCode::CREATED, Some(cid.as_str())), "{p3}");
    for _ in 0..5 {
        let (_, now) = srv.get(&format!("/api/v1/changes/{cid}"), agent).await;
        if now["state"] == "authorize" {
            break;
        }
        srv.post(&format!("/api/v1/changes/{cid}/submit"), agent, json!({})).await;
    }
    for (action, body) in [("schedule", json!({})), ("implement", json!({})), ("review", json!({}))] {
        let (s, e) = srv.post(&format!("/api/v1/changes/{cid}/{action}"), agent, body).await;
        assert_eq!(s, StatusCode::OK, "{action}: {e}");
    }
    let (_, still) = srv.get(&format!("/api/v1/problems/{}", p3["number"].as_str().unwrap()), agent).await;
    assert_eq!(still["state"], "open", "not before the change closes");
    let (s, e) = srv.post(&format!("/api/v1/changes/{cid}/close"), agent, json!({"close_code": "successful"})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (_, p3) = srv.get(&format!("/api/v1/problems/{}", p3["number"].as_str().unwrap()), agent).await;
    assert_eq!(p3["state"], "resolved", "{p3}");
    let (_, inc) = srv.get(&format!("/api/v1/incidents/{inc_id}"), agent).await;
    assert_eq!(inc["status"], "resolved", "{inc}");

    // The page form turns numbers into links and names the one that does not exist.
    let cookie = srv.login("agent", "password-agent").await.unwrap();
    let (s, _) = srv.form("/problems", &cookie, &[("title", "Again"), ("incidents", "INC-1, INC-99")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, notice) =
        srv.form("/problems", &cookie, &[("title", "Disk fills"), ("incidents", "INC-1"), ("tickets", "TKT-1")]).await;
    assert_eq!((s, notice.as_str()), (StatusCode::SEE_OTHER, "PRB-3 opened"));
    let (s, html) = srv.page("/problems/3", &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("INC-1") && html.contains("TKT-1"), "{html}");
    let (_, html) = srv.page("/problems?view=all&q=pool", &cookie).await;
    assert!(html.contains("PRB-1") && !html.contains("PRB-3 "), "{html}");
}
