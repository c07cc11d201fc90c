//! A ticket's links end to end: parent and children one level deep (every wrong link refused
//! and named), a parent resolved resolving its open children in one move, promotion to an
//! incident linked in the same transaction (and noted on its timeline), attaching to an
//! incident, and the configuration items it concerns; the page's forms do the same.

use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_links_sqlite() {
    ticket_links(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_links_postgres() {
    ticket_links(Backend::Postgres).await;
}

fn field(e: &Value) -> Option<&str> {
    e["error"]["details"]["field"].as_str()
}

async fn ticket_links(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let m = srv.token("mgr", Role::Manager).await;
    let agent = srv.token("agent", Role::Responder).await;
    let ana = srv.token("ana", Role::Viewer).await;
    for title in ["Nobody can reach the VPN", "VPN down for me", "VPN drops", "Mail is slow", "Mail bounces"] {
        let body = json!({"title": title, "description": "my password is hunter2"});
        assert_eq!(srv.post("/api/v1/tickets", &ana, body).await.0, StatusCode::CREATED);
    }
    let get = |key: &'static str| {
        let (srv, agent) = (&srv, &agent);
        async move { srv.get(&format!("/api/v1/tickets/{key}"), agent).await.1 }
    };
    let parent = |key: &'static str, body: Value| {
        let (srv, agent) = (&srv, &agent);
        async move { srv.put(&format!("/api/v1/tickets/{key}/parent"), agent, body).await }
    };

    // Children one level deep; every wrong link is named.
    let (s, t2) = parent("TKT-2", json!({"parent": "TKT-1"})).await;
    assert_eq!((s, &t2["parent_id"]), (StatusCode::OK, &get("TKT-1").await["id"]), "{t2}");
    assert_eq!(parent("TKT-3", json!({"parent": "tkt-1"})).await.0, StatusCode::OK);
    for (key, to, why) in [
        ("TKT-1", "TKT-2", "is itself a child of TKT-1"),
        ("TKT-4", "TKT-4", "not its own parent"),
        ("TKT-1", "TKT-4", "has children of its own"),
        ("TKT-4", "TKT-99", "names no ticket"),
    ] {
        let (s, e) = parent(key, json!({"parent": to})).await;
        assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("parent")), "{key} → {to}: {e}");
        assert!(e["error"]["message"].as_str().unwrap_or("").contains(why), "{e}");
    }
    let (s, _) = srv.put("/api/v1/tickets/TKT-4/parent", &ana, json!({"parent": "TKT-1"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = parent("TKT-2", json!({"parent": null, "version": 1})).await;
    assert_eq!(s, StatusCode::CONFLICT, "a stale version");
    let (_, kids) = srv.get("/api/v1/tickets/TKT-1/children", &agent).await;
    assert_eq!(kids["items"].as_array().unwrap().len(), 2, "{kids}");

    // Resolving the parent resolves its open children (a pending one too) in the same move.
    let (s, _) = srv.post("/api/v1/tickets/TKT-3/pend", &agent, json!({"reason": "the user"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(srv.post("/api/v1/tickets/TKT-1/resolve", &agent, json!({})).await.0, StatusCode::OK);
    for key in ["TKT-1", "TKT-2", "TKT-3"] {
        assert_eq!(get(key).await["state"].as_str(), Some("resolved"), "{key}");
    }
    assert_eq!(get("TKT-4").await["state"].as_str(), Some("new"));

    // Promotion: the incident needs a service; it is linked once; its timeline says where from.
    let (s, e) = srv.post("/api/v1/tickets/TKT-4/promote", &agent, json!({})).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("service_id")), "{e}");
    assert_eq!(srv.post("/api/v1/services", &m, json!({"name": "Mail"})).await.0, StatusCode::CREATED);
    let body = json!({"severity": "SEV2", "service_id": "mail"});
    let (s, inc) = srv.post("/api/v1/tickets/TKT-4/promote", &agent, body.clone()).await;
    assert_eq!((s, inc["severity"].as_str()), (StatusCode::CREATED, Some("SEV2")), "{inc}");
    // Incidents are read by every viewer: the requester's description stays on the ticket.
    assert_eq!(inc["description"].as_str(), Some("Raised from ticket TKT-4."));
    assert_eq!(get("TKT-4").await["incident_id"], inc["id"]);
    assert_eq!(srv.post("/api/v1/tickets/TKT-4/promote", &agent, body).await.0, StatusCode::CONFLICT);
    let (_, tl) = srv.get(&format!("/api/v1/incidents/{}/timeline", inc["id"].as_str().unwrap()), &agent).await;
    assert!(tl.to_string().contains("raised from ticket TKT-4"), "{tl}");
    assert_eq!(srv.post("/api/v1/tickets/TKT-5/promote", &ana, json!({})).await.0, StatusCode::FORBIDDEN);

    // Attaching another report of the same outage, and detaching it.
    let number = inc["number"].as_str().unwrap().to_owned();
    let (s, t5) = srv.put("/api/v1/tickets/TKT-5/incident", &agent, json!({"incident": number})).await;
    assert_eq!((s, &t5["incident_id"]), (StatusCode::OK, &inc["id"]), "{t5}");
    let (s, e) = srv.put("/api/v1/tickets/TKT-5/incident", &agent, json!({"incident": "INC-999"})).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("incident")));
    let (s, t5) = srv.put("/api/v1/tickets/TKT-5/incident", &agent, json!({"incident": null})).await;
    assert_eq!((s, t5["incident_id"].is_null()), (StatusCode::OK, true));

    // Configuration items: each must exist; the list is replaced.
    let (_, ci) = srv.post("/api/v1/cis", &m, json!({"name": "mx-01", "class": "server"})).await;
    let (s, cis) = srv.put("/api/v1/tickets/TKT-5/cis", &agent, json!({"ci_ids": [ci["id"]]})).await;
    assert_eq!((s, cis["items"][0]["name"].as_str()), (StatusCode::OK, Some("mx-01")), "{cis}");
    let (s, e) = srv.put("/api/v1/tickets/TKT-5/cis", &agent, json!({"ci_ids": [uuid::Uuid::now_v7()]})).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("ci_ids")));
    assert_eq!(srv.get("/api/v1/tickets/TKT-5/cis", &agent).await.1["items"].as_array().unwrap().len(), 1);
    assert_eq!(srv.get("/api/v1/tickets/TKT-5/cis", &ana).await.0, StatusCode::FORBIDDEN);

    // The page's forms.
    let cookie = srv.login("agent", "password-agent").await.unwrap();
    let (_, note) = srv.form("/tickets/5/cis", &cookie, &[("ci", "mx-01"), ("remove", "1")]).await;
    assert_eq!(note, "TKT-5 CI removed");
    let (_, note) = srv.form("/tickets/5/cis", &cookie, &[("ci", "mx-01")]).await;
    assert_eq!(note, "TKT-5 CI added");
    let (_, note) = srv.form("/tickets/5/parent", &cookie, &[("parent", "TKT-5")]).await;
    assert!(note.starts_with("Not done: ") && note.contains("own parent"), "{note}");
    let (_, note) = srv.form("/tickets/5/parent", &cookie, &[("parent", "TKT-4")]).await;
    assert_eq!(note, "TKT-5 is a child of TKT-4");
    let (s, html) = srv.page("/tickets/4", &cookie).await;
    assert!(s.is_success() && html.contains("id=\"ticket-children\"") && html.contains(&number), "{html}");
    let (s, html) = srv.page(&format!("/incidents/{}", inc["seq"]), &cookie).await;
    assert!(
        s.is_success() && html.contains("id=\"incident-tickets\"") && html.contains("TKT-4 Mail is slow"),
        "{html}"
    );
}
