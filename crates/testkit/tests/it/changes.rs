//! Change management end to end: a normal change on a tier-1 service is assessed as risky,
//! needs two of three CAB members, is scheduled by the approval that completes them and
//! silences its CI's monitor for its window; a change on a related CI collides with it until
//! the conflict is accepted; a freeze stops everything but an emergency change; stale edits,
//! strangers' approvals, past dates and inverted windows are refused by name; an incident
//! lists the change before it, and marking the change as its cause counts it as failed.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_sqlite() {
    changes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_postgres() {
    changes(Backend::Postgres).await;
}

fn at(srv: &TestServer, minutes: i64) -> String {
    (srv.now() + Duration::minutes(minutes)).to_rfc3339()
}

async fn created(srv: &TestServer, path: &str, token: &str, body: Value) -> Value {
    let (s, v) = srv.post(path, token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{path}: {v}");
    v
}

async fn act(srv: &TestServer, token: &str, id: &str, action: &str, body: Value) -> (StatusCode, Value) {
    srv.post(&format!("/api/v1/changes/{id}/{action}"), token, body).await
}

fn field(e: &Value) -> &str {
    e["error"]["details"]["field"].as_str().unwrap_or_default()
}

async fn changes(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let m = srv.token("mgr", Role::Manager).await;
    let r = srv.token("resp", Role::Responder).await;
    let viewer = srv.token("viewer", Role::Viewer).await;
    let mut cab = Vec::new();
    let mut cab_ids = Vec::new();
    for name in ["cab-a", "cab-b", "cab-c"] {
        let u = srv.user(name, Role::Viewer).await;
        cab_ids.push(u.id.to_string());
        cab.push(srv.token_for(&u, None).await);
    }

    let svc = created(&srv, "/api/v1/services", &m, json!({"name": "Payments", "tier": 1})).await;
    let service_ci = json!({"name": "Payments", "class": "business_service", "service_id": svc["id"]});
    let service_ci = created(&srv, "/api/v1/cis", &m, service_ci).await;
    let db = created(&srv, "/api/v1/cis", &m, json!({"name": "pay-db", "class": "server"})).await;
    let app = created(&srv, "/api/v1/cis", &m, json!({"name": "pay-app", "class": "server"})).await;
    for user in [&service_ci, &app] {
        let rel = json!({"source_id": user["id"], "target_id": db["id"], "type": "depends_on"});
        created(&srv, "/api/v1/ci-relations", &m, rel).await;
    }
    let mon = json!({"name": "pay-db port", "type": "tcp", "interval_seconds": 60,
        "settings": {"host": "127.0.0.1", "port": 1}});
    let mon = created(&srv, "/api/v1/monitors", &m, mon).await;
    let mon_id = mon["id"].as_str().unwrap();
    let bind = format!("/api/v1/cis/{}/monitors/{mon_id}", db["id"].as_str().unwrap());
    assert_eq!(srv.put(&bind, &m, json!({})).await.0, StatusCode::NO_CONTENT);
    let rule = json!({"name": "CAB", "min_risk": "moderate", "approvers": cab_ids, "required": 2});
    let (s, e) = srv.post("/api/v1/change-rules", &r, rule.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    created(&srv, "/api/v1/change-rules", &m, rule).await;

    // A normal change on the tier-1 service's database: its service is filled in from the
    // CMDB, and its risk explains itself.
    let body = json!({"title": "Upgrade Postgres 15 → 16", "type": "normal", "ci_ids": [db["id"]],
        "planned_start": at(&srv, 120), "planned_end": at(&srv, 180), "answers": {"tested": "partly"}});
    let (s, e) = srv.post("/api/v1/changes", &viewer, body.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let a = created(&srv, "/api/v1/changes", &r, body.clone()).await;
    let id = a["id"].as_str().unwrap().to_owned();
    assert_eq!((a["number"].as_str(), a["state"].as_str()), (Some("CHG-1"), Some("new")), "{a}");
    assert_eq!(a["services"][0]["name"], "Payments", "{a}");
    assert_eq!(a["risk"]["level"], "moderate", "{a}");
    let reasons = a["risk"]["reasons"].to_string();
    assert!(reasons.contains("tier-1") && reasons.contains("Partly"), "{reasons}");
    assert_eq!(a["conflicts"], json!([]));

    // Bad input is named.
    for (patch, want) in [
        (json!({"planned_start": at(&srv, -60), "planned_end": at(&srv, 60)}), "planned_start"),
        (json!({"planned_end": at(&srv, 100)}), "planned_end"),
        (json!({"type": "urgent"}), "type"),
        (json!({"answers": {"tested": "maybe"}}), "answers"),
        (json!({"ci_ids": [uuid::Uuid::now_v7()]}), "ci_ids"),
    ] {
        let mut b = body.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let (s, e) = srv.post("/api/v1/changes", &r, b).await;
        assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, want), "{e}");
    }

    // Through assessment to authorisation; scheduling waits for two CAB approvals.
    assert_eq!(act(&srv, &r, &id, "submit", json!({})).await.1["state"], "assess");
    assert_eq!(act(&srv, &r, "CHG-1", "submit", json!({})).await.1["state"], "authorize");
    let (s, e) = act(&srv, &r, &id, "schedule", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("CAB: 0 of 2 approvals"), "{e}");
    let (s, e) = act(&srv, &r, &id, "implement", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, e) = act(&srv, &viewer, &id, "approve", json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "someone outside the rule: {e}");
    let (_, inbox) = srv.get("/api/v1/changes/approvals", &cab[0]).await;
    assert_eq!(inbox["items"][0]["number"], "CHG-1", "{inbox}");
    let (s, c) = act(&srv, &cab[0], &id, "approve", json!({"comment": "fine"})).await;
    assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("authorize")), "{c}");
    assert_eq!(c["approvals_missing"], "CAB: 1 of 2 approvals");
    let (s, e) = act(&srv, &cab[0], &id, "approve", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "one vote per person: {e}");
    let (_, inbox) = srv.get("/api/v1/changes/approvals", &cab[0]).await;
    assert_eq!(inbox["items"], json!([]), "already decided: {inbox}");
    let (s, c) = act(&srv, &cab[1], &id, "approve", json!({})).await;
    assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("scheduled")), "the last approval schedules: {c}");
    assert!(c["maintenance_window_id"].is_string(), "{c}");

    // A stale edit is refused; an edit of the window withdraws the approvals.
    let mut edit = body.clone();
    edit["version"] = json!(1);
    edit["planned_end"] = json!(at(&srv, 200));
    let (s, e) = srv.put(&format!("/api/v1/changes/{id}"), &r, edit.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("reload"), "{e}");

    // A change on the application, which depends on the database, collides with it.
    let b_body = json!({"title": "Deploy pay-app 2.4", "ci_ids": [app["id"]],
        "planned_start": at(&srv, 150), "planned_end": at(&srv, 170)});
    let b = created(&srv, "/api/v1/changes", &r, b_body).await;
    let b_id = b["id"].as_str().unwrap().to_owned();
    let conflict = &b["conflicts"][0];
    assert_eq!((conflict["kind"].as_str(), conflict["change_id"].as_str()), (Some("related_ci"), Some(id.as_str())));
    assert!(conflict["message"].as_str().unwrap().contains("CHG-1"), "{conflict}");
    assert!(b["risk"]["reasons"].to_string().contains("conflict"), "{b}");
    act(&srv, &r, &b_id, "submit", json!({})).await;
    act(&srv, &r, &b_id, "submit", json!({})).await;
    let (s, e) = act(&srv, &r, &b_id, "schedule", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("1 conflict"), "{e}");
    let accept = json!({"key": conflict["key"], "reason": "app deploy is read-only against the db"});
    let (s, c) = srv.post(&format!("/api/v1/changes/{b_id}/conflicts"), &r, accept).await;
    assert_eq!((s, c["conflicts"][0]["accepted_reason"].is_string()), (StatusCode::OK, true), "{c}");
    assert_eq!(act(&srv, &r, &b_id, "schedule", json!({})).await.1["state"], "scheduled");
    let (s, e) = act(&srv, &r, &b_id, "implement", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "work starts in its window: {e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("in its window"), "{e}");

    // A standard change is low-risk routine work: one on the tier-1 database is not.
    // It comes from a template, which fills in what it leaves out.
    let no_template = json!({"title": "Rotate pay-db logs", "type": "standard", "ci_ids": [db["id"]]});
    let (s, e) = srv.post("/api/v1/changes", &r, no_template).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, "template_id"), "{e}");
    let tpl = json!({"name": "Rotate database logs", "duration_minutes": 10, "backout_plan": "Nothing to undo"});
    let (s, e) = srv.post("/api/v1/change-templates", &r, tpl.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "managers keep the catalogue: {e}");
    let tpl = created(&srv, "/api/v1/change-templates", &m, tpl).await;
    let taken = json!({"name": "Rotate database logs", "duration_minutes": 5});
    let (s, e) = srv.post("/api/v1/change-templates", &m, taken).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let std_body = json!({"title": "Rotate pay-db logs", "template_id": tpl["id"], "ci_ids": [db["id"]],
        "service_ids": [], "planned_start": at(&srv, 300)});
    let std = created(&srv, "/api/v1/changes", &r, std_body).await;
    assert_eq!((std["type"].as_str(), std["template"].as_str()), (Some("standard"), Some("Rotate database logs")));
    assert_eq!(std["backout_plan"], "Nothing to undo", "{std}");
    let t = |k: &str| chrono::DateTime::parse_from_rfc3339(std[k].as_str().unwrap()).unwrap();
    assert_eq!(t("planned_end") - t("planned_start"), Duration::minutes(10), "the template's duration: {std}");
    assert_eq!(std["services"][0]["name"], "Payments", "impacted services are always added: {std}");
    let (s, e) = act(&srv, &r, std["id"].as_str().unwrap(), "submit", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("must be low risk"), "{e}");

    // A freeze stops a normal change but not an emergency one.
    let freeze = json!({"name": "Year-end freeze", "kind": "freeze", "starts_at": at(&srv, 60 * 24 * 10),
        "ends_at": at(&srv, 60 * 24 * 12)});
    created(&srv, "/api/v1/change-windows", &m, freeze).await;
    let bad = json!({"name": "x", "kind": "freeze", "starts_at": at(&srv, 60), "ends_at": at(&srv, 30)});
    let (s, e) = srv.post("/api/v1/change-windows", &m, bad).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, "ends_at"), "{e}");
    for (kind, want) in [("normal", StatusCode::CONFLICT), ("emergency", StatusCode::OK)] {
        let c = json!({"title": format!("{kind} fix"), "type": kind,
            "planned_start": at(&srv, 60 * 24 * 11), "planned_end": at(&srv, 60 * 24 * 11 + 30)});
        let c = created(&srv, "/api/v1/changes", &r, c).await;
        let cid = c["id"].as_str().unwrap();
        loop {
            let (_, now) = srv.get(&format!("/api/v1/changes/{cid}"), &r).await;
            if now["state"] == "authorize" {
                break;
            }
            act(&srv, &r, cid, "submit", json!({})).await;
        }
        let (s, e) = act(&srv, &r, cid, "schedule", json!({})).await;
        assert_eq!(s, want, "{kind}: {e}");
        if s == StatusCode::CONFLICT {
            assert!(e["error"]["message"].as_str().unwrap().contains("freeze"), "{e}");
        }
    }

    // The window comes: the database's monitor is in maintenance, not down.
    srv.clock.advance(Duration::minutes(121));
    assert_eq!(srv.run_checks().await, 1);
    let (_, mon) = srv.get(&format!("/api/v1/monitors/{mon_id}"), &m).await;
    assert_eq!(mon["state"], "maintenance", "{mon}");

    // Work, review, close: a close needs a code.
    let (s, c) = act(&srv, &r, &id, "implement", json!({})).await;
    assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("implement")), "{c}");
    assert!(c["actual_start"].is_string());
    let (s, e) = act(&srv, &r, &id, "cancel", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    act(&srv, &r, &id, "review", json!({})).await;
    let (s, e) = act(&srv, &r, &id, "close", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, e) = act(&srv, &r, &id, "close", json!({"close_code": "fine"})).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, "close_code"), "{e}");
    let (s, c) = act(&srv, &r, &id, "close", json!({"close_code": "successful", "comment": "done"})).await;
    assert_eq!((s, c["close_code"].as_str()), (StatusCode::OK, Some("successful")), "{c}");

    // An incident on the payments service lists the change; marking it as the cause makes it
    // a failure.
    let inc = json!({"title": "Payments errors", "service_id": svc["id"], "severity": "SEV2"});
    let inc = created(&srv, "/api/v1/incidents", &r, inc).await;
    let inc_id = inc["id"].as_str().unwrap();
    let (_, before) = srv.get(&format!("/api/v1/incidents/{inc_id}/changes"), &viewer).await;
    assert_eq!(before["items"][0]["number"], "CHG-1", "{before}");
    let (s, c) = srv.post(&format!("/api/v1/changes/{id}/cause"), &r, json!({"incident_id": inc_id})).await;
    assert_eq!((s, c["close_code"].as_str()), (StatusCode::OK, Some("unsuccessful")), "{c}");
    assert_eq!(c["caused_incident_id"], inc["id"]);

    // The list filters by state; an audit trail names each move.
    let (_, closed) = srv.get("/api/v1/changes?state=closed", &viewer).await;
    assert_eq!(closed["items"].as_array().unwrap().len(), 1, "{closed}");
    let (s, e) = srv.get("/api/v1/changes?state=done", &viewer).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, "state"), "{e}");
    let (_, cal) = srv.get("/api/v1/changes/calendar", &viewer).await;
    assert!(cal["windows"].as_array().unwrap().len() == 1, "{cal}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_from_ci_sqlite() {
    deploys_from_ci(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_from_ci_postgres() {
    deploys_from_ci(Backend::Postgres).await;
}

/// Runs `examples/ci/opsdeck-deploy.sh` with `env` as a GitHub Actions step would; its output.
async fn github_step(srv: &TestServer, key: &str, status: &str) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/ci/opsdeck-deploy.sh");
    let (url, key, status) = (srv.url.clone(), key.to_owned(), status.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs([
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_SERVER_URL", "https://github.com"),
                ("GITHUB_REPOSITORY", "acme/orders"),
                ("GITHUB_RUN_ID", "4242"),
                ("GITHUB_RUN_ATTEMPT", "1"),
                ("GITHUB_SHA", "0123456789abcdef0123"),
                ("GITHUB_ACTOR", "octocat"),
                ("GITHUB_REF_NAME", "main"),
                ("DEPLOY_CIS", "orders-api, ghost-ci"),
            ])
            .env("OPSDECK_URL", url)
            .env("OPSDECK_KEY", key)
            .env("DEPLOY_STATUS", status)
            .output()
            .expect("bash runs")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON answer")
}

/// A deploy posted exactly as the documented GitHub Actions step posts it becomes a standard
/// change on the service and its CI, closed by its status, once however often it is retried,
/// and shows on the next incident there; the change KPIs count it.
async fn deploys_from_ci(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let m = srv.token("mgr", Role::Manager).await;
    let svc = created(&srv, "/api/v1/services", &m, json!({"name": "Orders"})).await;
    let sid = svc["id"].as_str().unwrap();
    let it = created(&srv, &format!("/api/v1/services/{sid}/integrations"), &m, json!({"type": "alertmanager"})).await;
    let key = it["key"].as_str().unwrap();
    created(&srv, "/api/v1/cis", &m, json!({"name": "orders-api", "class": "application", "identity": "orders-api"}))
        .await;

    let out = github_step(&srv, key, "failure").await;
    assert_eq!((out["change"].as_str(), out["close_code"].as_str()), (Some("CHG-1"), Some("unsuccessful")), "{out}");
    assert_eq!(out["unknown_cis"], json!(["ghost-ci"]), "an unknown CI is reported, not refused");
    let again = github_step(&srv, key, "failure").await;
    assert_eq!(again["change"], "CHG-1", "a retried run records nothing new");
    let (_, c) = srv.get("/api/v1/changes/CHG-1", &m).await;
    assert_eq!(
        (c["type"].as_str(), c["state"].as_str(), c["source"].as_str()),
        (Some("standard"), Some("closed"), Some("deploy"))
    );
    assert_eq!(c["cis"][0]["name"], "orders-api");
    assert!(c["description"].as_str().unwrap().contains("https://github.com/acme/orders/actions/runs/4242"), "{c}");

    let bad = r#"{"summary": "x", "status": "meh"}"#;
    let (s, e) = srv.post_raw(&format!("/integrations/{key}/deploy"), bad, None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["message"].as_str().unwrap().contains("status"), "{e}");
    let (s, _) = srv.post_raw("/integrations/nope/deploy", r#"{"summary": "x"}"#, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The next incident on the service shows the deploy on its timeline and among its changes.
    srv.clock.advance(Duration::minutes(10));
    let inc = created(&srv, "/api/v1/incidents", &m, json!({"title": "Orders failing", "service_id": sid})).await;
    let inc_id = inc["id"].as_str().unwrap();
    let (_, tl) = srv.get(&format!("/api/v1/incidents/{inc_id}/timeline"), &m).await;
    let first = &tl["items"][0];
    assert_eq!(first["kind"], "change", "{tl}");
    assert!(first["body"].as_str().unwrap().contains("Deploy orders 0123456789ab"), "{tl}");
    let (_, changes) = srv.get(&format!("/api/v1/incidents/{inc_id}/changes"), &m).await;
    assert_eq!(changes["items"][0]["number"], "CHG-1", "{changes}");
    let (_, kpi) = srv.get("/api/v1/reports/kpi", &m).await;
    let k = &kpi["changes"];
    assert_eq!((k["closed"].as_u64(), k["failure_rate"].as_f64()), (Some(1), Some(1.0)), "{kpi}");
    assert_eq!(k["by_type"]["standard"], 1);
    let r = srv.http.get(format!("{}/api/v1/reports/kpi.csv", srv.url)).bearer_auth(&m).send().await.unwrap();
    let csv = r.text().await.unwrap();
    for line in ["changes_closed,all,1,0", "change_failure_rate,all,1,", "changes_closed,type:standard,1,0"] {
        assert!(csv.lines().any(|l| l == line), "{line} in the KPI CSV: {csv}");
    }
    srv.stop().await;
}
