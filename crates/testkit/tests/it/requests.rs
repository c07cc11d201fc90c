//! The request catalogue and portal end to end, with a real SMTP sink: managers keep request
//! items (a checked form, an approver, fulfilment tasks); a requester's answers are checked
//! field by field and a wrong one writes nothing; a request waits for its approver with the
//! resolution clock paused, nothing moves it meanwhile, the approver hears of it and the
//! requester of the decision; it is resolved only once its tasks are done, then rated by its
//! requester, and the ratings reach the desk's KPIs. The portal pages do the same through forms.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, SmtpSink, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_sqlite() {
    requests(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_postgres() {
    requests(Backend::Postgres).await;
}

fn laptop(approver: &str) -> Value {
    json!({"title": "New laptop", "category": "Hardware", "description": "A **standard** laptop.",
    "approver_id": approver, "tasks": ["Order it", "Enrol and hand over"], "impact": 4, "urgency": 3,
    "fields": [
        {"key": "model", "label": "Model", "kind": "select", "required": true, "options": ["13 inch", "15 inch"]},
        {"key": "needed_by", "label": "Needed by", "kind": "date"},
        {"key": "reason", "label": "Why", "kind": "textarea", "required": true},
        {"key": "dock", "label": "With a dock", "kind": "checkbox"}
    ]})
}

fn fields_named(e: &Value) -> Vec<String> {
    e["error"]["details"]["fields"]
        .as_array()
        .map_or_else(Vec::new, |l| l.iter().map(|f| f["field"].as_str().unwrap_or("").to_owned()).collect())
}

async fn requests(backend: Backend) {
    let mut smtp = SmtpSink::new();
    smtp.start().await;
    let srv = TestServer::start_with(backend, Some(smtp.config())).await;
    let admin = srv.token("admin", Role::Admin).await;
    let m = srv.token("mgr", Role::Manager).await;
    let agent = srv.token("agent", Role::Responder).await;
    let boss_user = srv.user("boss", Role::Viewer).await;
    let boss = srv.token_for(&boss_user, None).await;
    let ana_user = srv.user("ana", Role::Viewer).await;
    let ana = srv.token_for(&ana_user, None).await;
    for (u, email) in [(&boss_user, "boss@example.com"), (&ana_user, "ana@example.com")] {
        let (s, e) = srv.patch(&format!("/api/v1/users/{}", u.id), &admin, json!({"email": email})).await;
        assert_eq!(s, StatusCode::OK, "{e}");
    }
    let approver = boss_user.id.to_string();

    // Items: managers keep them; a broken form is named and nothing is written.
    let (s, item) = srv.post("/api/v1/request-items", &m, laptop(&approver)).await;
    assert_eq!((s, item["slug"].as_str()), (StatusCode::CREATED, Some("new-laptop")), "{item}");
    assert_eq!(srv.post("/api/v1/request-items", &m, laptop(&approver)).await.0, StatusCode::CONFLICT, "slug taken");
    assert_eq!(srv.post("/api/v1/request-items", &ana, laptop(&approver)).await.0, StatusCode::FORBIDDEN);
    let mut bad = laptop(&approver);
    bad["slug"] = json!("laptop-2");
    bad["fields"][1]["key"] = json!("model");
    bad["fields"][2]["options"] = json!(["x"]);
    let (s, e) = srv.post("/api/v1/request-items", &m, bad).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("fields")), "{e}");
    let mut nobody = laptop(&uuid::Uuid::now_v7().to_string());
    nobody["slug"] = json!("laptop-3");
    let (s, e) = srv.post("/api/v1/request-items", &m, nobody).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("approver_id")));
    let phone = json!({"title": "Old phone", "active": false, "tasks": ["Ship it"]});
    assert_eq!(srv.post("/api/v1/request-items", &m, phone).await.0, StatusCode::CREATED);
    let (_, listed) = srv.get("/api/v1/request-items", &ana).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "inactive items are not offered: {listed}");
    assert_eq!(srv.get("/api/v1/request-items/old-phone", &ana).await.0, StatusCode::NOT_FOUND);
    assert_eq!(srv.get("/api/v1/request-items?all=true", &m).await.1["items"].as_array().unwrap().len(), 2);
    assert_eq!(srv.post("/api/v1/request-items/old-phone/requests", &ana, json!({})).await.0, StatusCode::NOT_FOUND);

    // Answers: every wrong one named at once, and no ticket written.
    let wrong = json!({"answers": {"model": "17 inch", "needed_by": "2026-02-30", "colour": "red"}});
    let (s, e) = srv.post("/api/v1/request-items/new-laptop/requests", &ana, wrong).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(fields_named(&e), ["answers.model", "answers.needed_by", "answers.reason", "answers.colour"], "{e}");
    assert_eq!(srv.get("/api/v1/tickets", &agent).await.1["items"].as_array().unwrap().len(), 0);

    // A good request waits for its approver, its resolution clock paused.
    let t0 = srv.now();
    let answers = json!({"answers": {"model": "15 inch", "reason": "Mine is 7 years old", "dock": true}});
    let (s, r) = srv.post("/api/v1/request-items/new-laptop/requests", &ana, answers.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(
        (r["number"].as_str(), r["type"].as_str(), r["state"].as_str(), r["approval"].as_str()),
        (Some("REQ-1"), Some("service_request"), Some("pending"), Some("pending")),
        "{r}"
    );
    assert_eq!(r["sla"]["resolution"]["stage"].as_str(), Some("paused"), "{r}");
    assert_eq!((r["priority"].as_u64(), r["tasks"].as_array().unwrap().len()), (Some(4), 2));
    let values: Vec<&str> = r["answers"].as_array().unwrap().iter().map(|a| a["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["15 inch", "Mine is 7 years old", "yes"], "{r}");
    assert!(r["description"].as_str().unwrap().contains("Model: 15 inch"), "{r}");

    // Nothing moves it until the approver decides; only they (or an admin) may.
    let (s, e) = srv.post("/api/v1/tickets/REQ-1/start", &agent, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("awaits approval"), "{e}");
    assert_eq!(srv.post("/api/v1/tickets/REQ-1/approve", &agent, json!({})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(srv.get("/api/v1/tickets/REQ-1", &boss).await.0, StatusCode::OK, "the approver reads it");
    let (s, _) = srv.post("/api/v1/tickets/REQ-1/replies", &boss, json!({"body": "Why 15 inch?"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "an approver decides; only the requester and agents converse");
    let (s, e) = srv.post("/api/v1/tickets/REQ-1/reject", &boss, json!({"comment": " "})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, _) = srv.post("/api/v1/tickets/REQ-1/approve", &boss, json!({"version": 9})).await;
    assert_eq!(s, StatusCode::CONFLICT, "stale");
    srv.clock.set(t0 + Duration::minutes(30));
    let (s, r) = srv.post("/api/v1/tickets/REQ-1/approve", &boss, json!({"comment": "Go ahead"})).await;
    assert_eq!(
        (s, r["state"].as_str(), r["approval"].as_str()),
        (StatusCode::OK, Some("new"), Some("approved")),
        "{r}"
    );
    assert_eq!(r["sla"]["resolution"]["stage"].as_str(), Some("running"));
    assert_eq!(r["sla"]["resolution"]["elapsed_minutes"].as_i64(), Some(0), "paused while awaiting approval");
    assert!(r["first_response_at"].is_string(), "the decision answers the requester: {r}");
    assert_eq!(srv.post("/api/v1/tickets/REQ-1/approve", &boss, json!({})).await.0, StatusCode::CONFLICT);
    srv.run_notifier().await;
    let to_boss = smtp.to("boss@example.com");
    assert!(to_boss.len() == 1 && to_boss[0].contains("[REQ-1] Your approval is needed"), "{to_boss:?}");
    let to_ana = smtp.to("ana@example.com");
    assert!(to_ana.len() == 1 && to_ana[0].contains("Approved by boss: Go ahead"), "{to_ana:?}");

    // Fulfilment: resolved only once every task is done.
    assert_eq!(srv.post("/api/v1/tickets/REQ-1/start", &agent, json!({})).await.0, StatusCode::OK);
    let (s, e) = srv.post("/api/v1/tickets/REQ-1/resolve", &agent, json!({})).await;
    assert!(s == StatusCode::CONFLICT && e["error"]["message"].as_str().unwrap().contains("Order it"), "{e}");
    assert_eq!(srv.put("/api/v1/tickets/REQ-1/tasks/0", &ana, json!({"done": true})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        srv.put("/api/v1/tickets/REQ-1/tasks/5", &agent, json!({"done": true})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    for i in 0..2 {
        let (s, r) = srv.put(&format!("/api/v1/tickets/REQ-1/tasks/{i}"), &agent, json!({"done": true})).await;
        assert_eq!((s, r["tasks"][i]["done"].as_bool()), (StatusCode::OK, Some(true)), "{r}");
    }
    let (s, r) = srv.post("/api/v1/tickets/REQ-1/resolve", &agent, json!({})).await;
    assert_eq!((s, r["state"].as_str()), (StatusCode::OK, Some("resolved")), "{r}");

    // The requester rates it; nobody else may.
    assert_eq!(srv.post("/api/v1/tickets/REQ-1/rating", &agent, json!({"rating": 5})).await.0, StatusCode::CONFLICT);
    assert_eq!(
        srv.post("/api/v1/tickets/REQ-1/rating", &ana, json!({"rating": 6})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (s, r) = srv.post("/api/v1/tickets/REQ-1/rating", &ana, json!({"rating": 4, "comment": "Quick"})).await;
    assert_eq!((s, r["satisfaction"]["rating"].as_u64()), (StatusCode::OK, Some(4)), "{r}");

    // A rejection resolves the request and tells the requester why.
    assert_eq!(srv.post("/api/v1/request-items/new-laptop/requests", &ana, answers).await.0, StatusCode::CREATED);
    let (s, r2) = srv.post("/api/v1/tickets/REQ-2/reject", &admin, json!({"comment": "Budget is frozen"})).await;
    assert_eq!(
        (s, r2["state"].as_str(), r2["approval"].as_str()),
        (StatusCode::OK, Some("resolved"), Some("rejected"))
    );
    srv.run_notifier().await;
    assert!(smtp.to("ana@example.com").iter().any(|m| m.contains("Rejected by admin: Budget is frozen")));
    let (s, e) = srv.post("/api/v1/tickets/REQ-2/reopen", &agent, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "a rejected request stays decided: {e}");
    // Nobody approves their own request: the admin raising one waits for its approver.
    let mine = json!({"answers": {"model": "13 inch", "reason": "Spare"}});
    let (_, own) = srv.post("/api/v1/request-items/new-laptop/requests", &admin, mine).await;
    let key = own["number"].as_str().unwrap().to_owned();
    let (s, e) = srv.post(&format!("/api/v1/tickets/{key}/approve"), &admin, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(srv.post(&format!("/api/v1/tickets/{key}/approve"), &boss, json!({})).await.0, StatusCode::OK);
    let (_, audit) = srv.get("/api/v1/audit?limit=100", &admin).await;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|a| a["action"].as_str()).collect();
    for a in ["request_item.create", "ticket.approval", "ticket.task", "ticket.rate"] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }

    // The ratings reach the KPIs.
    srv.clock.set(t0 + Duration::hours(2));
    let (_, k) = srv.get("/api/v1/reports/kpi", &m).await;
    let d = &k["service_desk"];
    assert_eq!((d["ratings"].as_u64(), d["mean_satisfaction"].as_f64()), (Some(1), Some(4.0)), "{d}");

    portal_pages(&srv, &m).await;
}

/// The portal through its forms, as a requester and a manager use it.
async fn portal_pages(srv: &TestServer, m: &str) {
    srv.user("carl", Role::Viewer).await;
    let carl = srv.login("carl", "password-carl").await.unwrap();
    let (s, html) = srv.page("/portal", &carl).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("New laptop") && !html.contains("Old phone") && html.contains("no-mine"), "portal");
    let (s, html) = srv.page("/portal/items/new-laptop", &carl).await;
    assert!(s == StatusCode::OK && html.contains("boss approves this request"), "{html}");
    let (s, _) = srv.form("/portal/items/new-laptop", &carl, &[("model", "17 inch"), ("reason", "")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "the form comes back marked");
    let (s, note) = srv.form("/portal/items/new-laptop", &carl, &[("model", "13 inch"), ("reason", "New hire")]).await;
    assert_eq!((s, note.as_str()), (StatusCode::SEE_OTHER, "REQ-4 raised; it waits for approval"));
    let (_, html) = srv.page("/portal", &carl).await;
    assert!(html.contains("REQ-4 New laptop") && html.contains("awaiting approval"), "own requests listed");
    let (_, html) = srv.page("/tickets/4", &carl).await;
    assert!(html.contains("id=\"approval\"") && !html.contains("id=\"approve-form\""), "a requester cannot approve");

    let mgr = srv.login("mgr", "password-mgr").await.unwrap();
    let bad = [("title", "Access to Grafana"), ("fields", "team | Team | colour"), ("impact", "3"), ("urgency", "3")];
    let (s, _) = srv.form("/request-items", &mgr, &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let good = [
        ("title", "Access to Grafana"),
        ("fields", "team | Team | select | required | SRE; Payments\nwhy | Why | text"),
        ("tasks", "Add to the group"),
        ("impact", "3"),
        ("urgency", "3"),
        ("active", "on"),
    ];
    let (s, note) = srv.form("/request-items", &mgr, &good).await;
    assert_eq!((s, note.as_str()), (StatusCode::SEE_OTHER, "Access to Grafana added to the portal"));
    let (_, item) = srv.get("/api/v1/request-items/access-to-grafana", m).await;
    assert_eq!(item["fields"][0]["options"], json!(["SRE", "Payments"]), "{item}");
    assert_eq!(item["approver_id"], Value::Null);
    let (s, note) = srv.form("/portal/items/access-to-grafana", &carl, &[("team", "SRE")]).await;
    assert_eq!((s, note.as_str()), (StatusCode::SEE_OTHER, "REQ-5 raised"), "no approval: straight to the queue");
}
