//! SLA agreements end to end: a manager's agreement for a service gives that service's tickets
//! its targets at once (open ones included), one for a requester domain tried first by position
//! wins over it, the SLA watcher warns and breaches under them on the fake clock, disabling or
//! deleting one hands its tickets back to their priority's policy; bad input names its field,
//! roles hold; the settings page and its form do the same.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_agreements_sqlite() {
    sla_agreements(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_agreements_postgres() {
    sla_agreements(Backend::Postgres).await;
}

fn field(e: &Value) -> Option<&str> {
    e["error"]["details"]["field"].as_str()
}

/// An agreement body: P1–P4 first response `5·p` and resolution `60·p` minutes, round the clock.
fn body(name: &str, services: Value, requesters: Value, position: i64) -> Value {
    let targets: Vec<Value> = (1..=4)
        .map(|p| json!({"priority": p, "first_response_minutes": 5 * p, "resolution_minutes": 60 * p}))
        .collect();
    let day = json!(["00:00-24:00"]);
    json!({"name": name, "position": position, "service_ids": services, "requesters": requesters,
        "targets": targets, "timezone": "UTC", "week": [day, day, day, day, day, day, day], "holidays": [],
        "escalation_email": "account-manager@example.com"})
}

fn target(t: &Value) -> (Option<i64>, Option<&str>) {
    (t["sla"]["first_response"]["target_minutes"].as_i64(), t["sla"]["agreement_name"].as_str())
}

async fn sla_agreements(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let m = srv.token("mgr", Role::Manager).await;
    let agent = srv.token("agent", Role::Responder).await;
    let ana = srv.token("ana", Role::Viewer).await;
    let (_, payroll) = srv.post("/api/v1/services", &m, json!({"name": "Payroll"})).await;
    let (_, mail) = srv.post("/api/v1/services", &m, json!({"name": "Mail"})).await;
    let (payroll, mail) = (payroll["id"].clone(), mail["id"].clone());

    // Before any agreement: P3 (impact 3 × urgency 3) counts under its policy, 4 h to respond.
    let raise = json!({"title": "Payslip missing", "impact": 3, "urgency": 3, "service_id": payroll});
    let (s, t1) = srv.post("/api/v1/tickets", &ana, raise).await;
    assert_eq!((s, t1["priority"].as_u64()), (StatusCode::CREATED, Some(3)), "{t1}");
    assert_eq!(target(&t1), (Some(240), None));
    let t0 = srv.now();

    // Roles and bad input.
    let gold = body("Payroll gold", json!([payroll]), json!([]), 100);
    assert_eq!(srv.post("/api/v1/sla-agreements", &agent, gold.clone()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(srv.get("/api/v1/sla-agreements", &ana).await.0, StatusCode::FORBIDDEN);
    let mut bad = gold.clone();
    bad["targets"].as_array_mut().unwrap().pop();
    let (s, e) = srv.post("/api/v1/sla-agreements", &m, bad).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("targets")), "{e}");
    let mut bad = gold.clone();
    bad["service_ids"] = json!([uuid::Uuid::now_v7()]);
    let (s, e) = srv.post("/api/v1/sla-agreements", &m, bad).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("service_ids")), "{e}");
    let mut bad = gold.clone();
    bad["requesters"] = json!(["@nodot"]);
    let (s, e) = srv.post("/api/v1/sla-agreements", &m, bad).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("requesters")), "{e}");
    let mut bad = gold.clone();
    bad["week"] = json!([["09:00-17:00"]]);
    let (s, e) = srv.post("/api/v1/sla-agreements", &m, bad).await;
    assert_eq!((s, field(&e)), (StatusCode::UNPROCESSABLE_ENTITY, Some("week")), "{e}");

    // The service's agreement takes the open ticket at once; another service's ticket keeps
    // its policy.
    let (s, a) = srv.post("/api/v1/sla-agreements", &m, gold.clone()).await;
    assert_eq!((s, a["version"].as_i64()), (StatusCode::CREATED, Some(1)), "{a}");
    let gold_id = a["id"].as_str().unwrap().to_owned();
    let (_, t1) = srv.get("/api/v1/tickets/TKT-1", &agent).await;
    assert_eq!(target(&t1), (Some(15), Some("Payroll gold")), "{t1}");
    // The requester's clock follows it too; which agreement covers them is the agents'.
    let (_, mine) = srv.get("/api/v1/tickets/TKT-1", &ana).await;
    assert_eq!(target(&mine), (Some(15), None), "{mine}");
    assert_eq!(mine["sla"]["agreement_id"], Value::Null);
    let raise = json!({"title": "Mailbox full", "impact": 3, "urgency": 3, "service_id": mail});
    let (_, t2) = srv.post("/api/v1/tickets", &agent, raise).await;
    assert_eq!(target(&t2), (Some(240), None));

    // A VIP domain's agreement, tried first, wins over the service's.
    let (s, vip) = srv.post("/api/v1/sla-agreements", &m, body("VIP", json!([]), json!(["@VIP.example"]), 10)).await;
    assert_eq!(s, StatusCode::CREATED, "{vip}");
    let raise = json!({"title": "Payroll down for the board", "impact": 3, "urgency": 3, "service_id": payroll,
        "requester_email": "Boss@vip.example"});
    let (_, t3) = srv.post("/api/v1/tickets", &agent, raise).await;
    assert_eq!(target(&t3).1, Some("VIP"), "{t3}");
    let (_, list) = srv.get("/api/v1/sla-agreements", &agent).await;
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["VIP", "Payroll gold"], "by position");

    // The watcher judges under the agreement: TKT-1's 15 minutes, not its policy's 4 hours.
    srv.clock.set(t0 + Duration::minutes(10));
    srv.run_sla_watch().await;
    srv.clock.set(t0 + Duration::minutes(16));
    assert!(srv.run_sla_watch().await >= 1, "the first response breached under the agreement");
    let (_, t1) = srv.get("/api/v1/tickets/TKT-1", &agent).await;
    assert_eq!(t1["sla"]["first_response"]["breached"].as_bool(), Some(true), "{t1}");

    // Edits: a stale version is refused; disabled, the ticket goes back to its policy.
    let mut off = gold.clone();
    off["enabled"] = json!(false);
    off["version"] = json!(7);
    let (s, _) = srv.put(&format!("/api/v1/sla-agreements/{gold_id}"), &m, off.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT);
    off["version"] = json!(1);
    let (s, a) = srv.put(&format!("/api/v1/sla-agreements/{gold_id}"), &m, off).await;
    assert_eq!((s, a["enabled"].as_bool(), a["version"].as_i64()), (StatusCode::OK, Some(false), Some(2)), "{a}");
    let (_, t1) = srv.get("/api/v1/tickets/TKT-1", &agent).await;
    assert_eq!(target(&t1), (Some(240), None));

    // Deleted: gone, named as such.
    assert_eq!(srv.delete(&format!("/api/v1/sla-agreements/{gold_id}"), &m).await.0, StatusCode::NO_CONTENT);
    let (s, e) = srv.get(&format!("/api/v1/sla-agreements/{gold_id}"), &agent).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("sla_agreement_not_found")));

    // The page: a form adds one (services ticked, requesters one per line); a wrong one says why.
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let (s, html) = srv.page("/tickets/settings/agreements/new", &cookie).await;
    assert!(s.is_success() && html.contains("Payroll") && html.contains("name=\"p4_res\""), "{html}");
    let payroll_id = payroll.as_str().unwrap();
    let mut fields = vec![
        ("name", "Mail silver"),
        ("position", "50"),
        ("services", payroll_id),
        ("requesters", "@example.com\nceo@other.example"),
        ("timezone", "Europe/Berlin"),
        ("mon", "09:00-17:00"),
        ("enabled", "on"),
    ];
    let mins = [("p1_fr", "10"), ("p1_res", "120"), ("p2_fr", "20"), ("p2_res", "240")];
    fields.extend(mins);
    fields.extend([("p3_fr", "30"), ("p3_res", "480"), ("p4_fr", "40"), ("p4_res", "960")]);
    let (s, note) = srv.form("/tickets/settings/agreements", &cookie, &fields).await;
    assert_eq!((s, note.as_str()), (StatusCode::SEE_OTHER, "SLA agreement Mail silver added"));
    let (_, list) = srv.get("/api/v1/sla-agreements", &agent).await;
    let silver = &list["items"][1];
    assert_eq!(silver["requesters"], json!(["@example.com", "ceo@other.example"]), "{silver}");
    assert_eq!((silver["week"][0].clone(), silver["week"][1].clone()), (json!(["09:00-17:00"]), json!([])));
    let (s, html) = srv.page("/tickets/settings", &cookie).await;
    assert!(s.is_success() && html.contains("Mail silver") && html.contains("@example.com"), "{html}");
    let mut wrong = fields.clone();
    wrong.retain(|(k, _)| *k != "p2_fr");
    wrong.push(("p2_fr", "soon"));
    let (s, _) = srv.form("/tickets/settings/agreements", &cookie, &wrong).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, list) = srv.get("/api/v1/sla-agreements", &agent).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "nothing half-written");
}
