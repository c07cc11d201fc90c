use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::json;

backend_tests!(
    service_crud_round_trip,
    services_page_with_cursor_and_filters,
    dependencies_refuse_cycles,
    team_delete_keeps_services,
    every_mutation_is_audited,
    cached_lists_see_every_write,
);

async fn service_crud_round_trip(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (status, team) = srv.post("/api/v1/teams", &t, json!({"name": "Payments"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(team["slug"], "payments");
    let team_id = team["id"].as_str().unwrap();

    let (status, s) = srv
        .post(
            "/api/v1/services",
            &t,
            json!({"name": "Checkout API", "team_id": team_id, "tier": 1, "tags": ["PCI", "prod", "pci"],
                   "runbook_url": "https://wiki.example.com/checkout", "links": [{"title": "Dash",
                       "url": "https://grafana.example.com/d/1"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    assert_eq!(s["slug"], "checkout-api");
    assert_eq!(s["team_name"], "Payments");
    assert_eq!(s["tags"], json!(["pci", "prod"]));
    let id = s["id"].as_str().unwrap().to_owned();

    // By id and by slug.
    assert_eq!(srv.get(&format!("/api/v1/services/{id}"), &t).await.1["name"], "Checkout API");
    assert_eq!(srv.get("/api/v1/services/checkout-api", &t).await.1["id"], id.as_str());

    // PATCH changes only what is sent; null clears nullable fields.
    let (status, s) = srv
        .patch("/api/v1/services/checkout-api", &t, json!({"description": "Takes payments", "runbook_url": null}))
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["description"], "Takes payments");
    assert_eq!(s["runbook_url"], serde_json::Value::Null);
    assert_eq!(s["tier"], 1);
    assert_eq!(s["team_id"], team_id);
    let (status, s) =
        srv.patch(&format!("/api/v1/services/{id}"), &t, json!({"slug": "checkout", "team_id": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["slug"], "checkout");
    assert_eq!(s["team_id"], serde_json::Value::Null);

    assert_eq!(srv.delete("/api/v1/services/checkout", &t).await.0, StatusCode::NO_CONTENT);
    let (status, err) = srv.get("/api/v1/services/checkout", &t).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"]["code"], "service_not_found");
}

async fn services_page_with_cursor_and_filters(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (_, team) = srv.post("/api/v1/teams", &t, json!({"name": "Core"})).await;
    for i in 0..25 {
        let body = if i % 5 == 0 {
            json!({"name": format!("svc {i:02}"), "team_id": team["id"], "tier": 2})
        } else {
            json!({"name": format!("svc {i:02}")})
        };
        assert_eq!(srv.post("/api/v1/services", &t, body).await.0, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/services?limit=10&cursor={c}"),
            None => "/api/v1/services?limit=10".to_owned(),
        };
        let (status, page) = srv.get(&path, &t).await;
        assert_eq!(status, StatusCode::OK);
        for item in page["items"].as_array().unwrap() {
            seen.push(item["name"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("svc {i:02}")).collect();
    assert_eq!(seen, expected, "pages cover every service once, in name order");

    let (_, by_team) = srv.get(&format!("/api/v1/services?team_id={}", team["id"].as_str().unwrap()), &t).await;
    assert_eq!(by_team["items"].as_array().unwrap().len(), 5);
    let (_, by_tier) = srv.get("/api/v1/services?tier=2", &t).await;
    assert_eq!(by_tier["items"].as_array().unwrap().len(), 5);
    let (_, search) = srv.get("/api/v1/services?q=SVC%2001", &t).await;
    assert_eq!(search["items"].as_array().unwrap().len(), 1);
    let (_, none) = srv.get("/api/v1/services?q=%25", &t).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "LIKE wildcards in the search are literal");
}

async fn dependencies_refuse_cycles(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let mut ids = Vec::new();
    for name in ["web", "api", "db"] {
        let (_, s) = srv.post("/api/v1/services", &t, json!({"name": name})).await;
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    let (status, deps) = srv.post("/api/v1/services/web/dependencies", &t, json!({"depends_on_id": ids[1]})).await;
    assert_eq!(status, StatusCode::CREATED, "{deps}");
    assert_eq!(deps["depends_on"][0]["slug"], "api");
    assert_eq!(
        srv.post("/api/v1/services/api/dependencies", &t, json!({"depends_on_id": ids[2]})).await.0,
        StatusCode::CREATED
    );
    let (status, err) = srv.post("/api/v1/services/db/dependencies", &t, json!({"depends_on_id": ids[0]})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(err["error"]["message"].as_str().unwrap().contains("cycle"));
    let (status, _) = srv.post("/api/v1/services/db/dependencies", &t, json!({"depends_on_id": ids[2]})).await;
    assert_eq!(status, StatusCode::CONFLICT, "self-dependency");
    let (_, deps) = srv.get("/api/v1/services/api/dependencies", &t).await;
    assert_eq!(deps["dependents"][0]["slug"], "web");
    assert_eq!(deps["depends_on"][0]["slug"], "db");
    assert_eq!(
        srv.delete(&format!("/api/v1/services/web/dependencies/{}", ids[1]), &t).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(srv.delete(&format!("/api/v1/services/web/dependencies/{}", ids[1]), &t).await.0, StatusCode::NOT_FOUND);
}

async fn team_delete_keeps_services(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (_, team) = srv.post("/api/v1/teams", &t, json!({"name": "Gone", "description": "temp"})).await;
    srv.post("/api/v1/services", &t, json!({"name": "Orphan", "team_id": team["id"]})).await;
    let (status, team2) = srv.patch("/api/v1/teams/gone", &t, json!({"name": "Gone Soon"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(team2["name"], "Gone Soon");
    assert_eq!(team2["description"], "temp");
    assert_eq!(srv.delete("/api/v1/teams/gone", &t).await.0, StatusCode::NO_CONTENT);
    let (_, s) = srv.get("/api/v1/services/orphan", &t).await;
    assert_eq!(s["team_id"], serde_json::Value::Null);
}

async fn every_mutation_is_audited(srv: &TestServer) {
    let admin = srv.token("root", Role::Admin).await;
    srv.post("/api/v1/teams", &admin, json!({"name": "Audited"})).await;
    srv.post("/api/v1/services", &admin, json!({"name": "Svc"})).await;
    srv.patch("/api/v1/services/svc", &admin, json!({"tier": 1})).await;
    srv.delete("/api/v1/services/svc", &admin).await;
    let (status, log) = srv.get("/api/v1/audit?action=service.", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = log["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["service.delete", "service.update", "service.create"], "newest first");
    let update = &log["items"][1];
    assert_eq!(update["before"]["tier"], 3);
    assert_eq!(update["after"]["tier"], 1);
    assert_eq!(update["actor"], "root (token test)");
    let (_, by_actor) = srv.get("/api/v1/audit?actor=nobody", &admin).await;
    assert!(by_actor["items"].as_array().unwrap().is_empty());
    let (_, teams) = srv.get("/api/v1/audit?entity_type=team", &admin).await;
    assert_eq!(teams["items"].as_array().unwrap().len(), 1);
    // A failed write leaves no trace.
    srv.post("/api/v1/services", &admin, json!({"name": "Dup", "slug": "dup"})).await;
    let (status, _) = srv.post("/api/v1/services", &admin, json!({"name": "Dup 2", "slug": "dup"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, log) = srv.get("/api/v1/audit?action=service.create", &admin).await;
    assert_eq!(log["items"].as_array().unwrap().len(), 2);
}

async fn cached_lists_see_every_write(srv: &TestServer) {
    let t = srv.token("m", Role::Manager).await;
    let (_, team) = srv.post("/api/v1/teams", &t, json!({"name": "Old Name"})).await;
    srv.post("/api/v1/services", &t, json!({"name": "Cached", "team_id": team["id"]})).await;
    let (_, first) = srv.get("/api/v1/services", &t).await;
    assert_eq!(first["items"][0]["team_name"], "Old Name");
    // A team rename changes what the service list shows.
    srv.patch("/api/v1/teams/old-name", &t, json!({"name": "New Name"})).await;
    let (_, second) = srv.get("/api/v1/services", &t).await;
    assert_eq!(second["items"][0]["team_name"], "New Name");
    // A write by another node (straight to the shared database) is seen at once too.
    let id: uuid::Uuid = first["items"][0]["id"].as_str().unwrap().parse().unwrap();
    let current = srv.db.get_service(opsdeck_store::catalogue::Ref::Id(id)).await.unwrap().service;
    let mut spec = opsdeck_core::catalogue::ServiceSpec::from(&current);
    spec.name = "Renamed Elsewhere".into();
    srv.db.update_service(&opsdeck_core::audit::Actor::system("other-node"), srv.now(), id, spec).await.unwrap();
    let (_, third) = srv.get("/api/v1/services", &t).await;
    assert_eq!(third["items"][0]["name"], "Renamed Elsewhere");
}
