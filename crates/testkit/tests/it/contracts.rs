//! Contracts and lifecycle reminders end to end, with a real SMTP server (aiosmtpd): contracts
//! cover CIs and show on their pages and in the lifecycle report; reminders announce each date
//! once per lead time in one digest, however many passes run; bad input is named; roles hold.

use chrono::{Days, NaiveDate};
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, SmtpSink, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_and_reminders_sqlite() {
    contracts_and_reminders(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_and_reminders_postgres() {
    contracts_and_reminders(Backend::Postgres).await;
}

fn day(today: NaiveDate, ahead: u64) -> String {
    today.checked_add_days(Days::new(ahead)).unwrap().format("%Y-%m-%d").to_string()
}

async fn ci(srv: &TestServer, token: &str, body: Value) -> String {
    let (s, c) = srv.post("/api/v1/cis", token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_owned()
}

fn to(smtp: &SmtpSink, address: &str) -> Vec<String> {
    smtp.messages().into_iter().filter(|m| m.lines().any(|l| l.trim() == format!("To: {address}"))).collect()
}

async fn contracts_and_reminders(backend: Backend) {
    let mut smtp = SmtpSink::new();
    smtp.start().await;
    let srv = TestServer::start_with(backend, Some(smtp.config())).await;
    let m = srv.token("mgr", Role::Manager).await;
    let viewer = srv.token("viewer", Role::Viewer).await;
    let today = srv.now().date_naive();
    let db1 = ci(&srv, &m, json!({"name": "db-01", "class": "server", "warranty_end": day(today, 20)})).await;
    let db2 = ci(&srv, &m, json!({"name": "db-02", "class": "server"})).await;
    ci(&srv, &m, json!({"name": "old-01", "class": "server", "status": "retired", "warranty_end": day(today, 3)}))
        .await;

    // A contract covers CIs; its notice deadline comes before its renewal.
    let body = json!({"name": "Dell ProSupport", "vendor": "Dell", "kind": "support", "number": "PS-1",
        "end_date": day(today, 100), "auto_renew": true, "notice_days": 60, "cost": 1200.5, "ci_ids": [db1, db2]});
    let (s, c) = srv.post("/api/v1/contracts", &m, body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!((c["ci_count"].as_i64(), c["cost"].as_f64()), (Some(2), Some(1200.5)), "{c}");
    assert_eq!(c["notice_deadline"], day(today, 40));
    assert_eq!(c["events"][1], json!({"event": "contract_renewal", "date": day(today, 100)}));
    assert_eq!(c["cis"].as_array().unwrap().len(), 2);
    let (_, detail) = srv.get(&format!("/api/v1/cis/{db1}"), &viewer).await;
    assert_eq!(detail["contracts"][0]["name"], "Dell ProSupport", "{detail}");
    let (_, list) = srv.get(&format!("/api/v1/contracts?ci_id={db2}"), &viewer).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let (_, list) = srv.get("/api/v1/contracts?vendor=HPE", &viewer).await;
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");

    // Changing the CIs it covers replaces them.
    let mut changed = body.clone();
    changed["ci_ids"] = json!([db2]);
    let (s, c) = srv.put(&format!("/api/v1/contracts/{id}"), &m, changed).await;
    assert_eq!((s, c["ci_count"].as_i64()), (StatusCode::OK, Some(1)), "{c}");

    // Bad input is named, and nothing is written.
    for (patch, field) in [
        (json!({"start_date": day(today, 200)}), "end_date"),
        (json!({"notice_days": 731}), "notice_days"),
        (json!({"kind": "gift"}), "kind"),
        (json!({"ci_ids": [uuid::Uuid::now_v7()]}), "ci_ids"),
        (json!({"end_date": "2027-02-30"}), "end_date"),
        (json!({"owner_team_id": uuid::Uuid::now_v7()}), "owner_team_id"),
    ] {
        let mut b = body.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let (s, e) = srv.post("/api/v1/contracts", &m, b).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {e}");
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let (_, list) = srv.get("/api/v1/contracts", &viewer).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let (s, _) = srv.post("/api/v1/contracts", &viewer, body.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = srv.get(&format!("/api/v1/contracts/{}", uuid::Uuid::now_v7()), &viewer).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("contract_not_found")), "{e}");

    // The lifecycle report lists CIs' and contracts' dates.
    let (_, report) = srv.get("/api/v1/cmdb/lifecycle?within_days=60", &viewer).await;
    assert_eq!(report["items"][0]["name"], "db-01", "the retired CI is left out: {report}");
    assert_eq!(report["items"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["contracts"][0]["event"], "notice_deadline", "{report}");
    assert_eq!(report["contracts"][0]["days_left"], 40, "{report}");

    // Reminders: off until someone is named; managers only.
    assert_eq!(srv.run_reminders().await, 0, "nobody to remind");
    let (s, _) = srv.get("/api/v1/cmdb/reminders", &viewer).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = srv.put("/api/v1/cmdb/reminders", &m, json!({"recipients": ["nope"], "lead_days": [0]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.to_string().contains("recipients") && e.to_string().contains("lead_days"), "{e}");
    // Saving announces at once what is already within a lead: the warranty (20 days, lead 30)
    // and the notice deadline (40 days, lead 90); the renewal (100 days) is further than any lead.
    let (s, r) = srv.put("/api/v1/cmdb/reminders", &m, json!({"recipients": ["assets@example.com"]})).await;
    assert_eq!((s, r["lead_days"].clone()), (StatusCode::OK, json!([7, 30, 90])), "{r}");
    assert_eq!(srv.run_reminders().await, 0, "already queued, once");
    let pass = srv.run_notifier().await;
    assert_eq!(pass.sent, 1, "{pass:?}");
    let mails = to(&smtp, "assets@example.com");
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.contains("Subject: 2 lifecycle dates coming up"), "{mail}");
    assert!(mail.contains("db-01") && mail.contains("Warranty ends"), "{mail}");
    assert!(mail.contains("Dell ProSupport") && mail.contains("Notice deadline"), "{mail}");
    assert!(!mail.contains("old-01"), "retired CIs are not announced: {mail}");
    let (_, r) = srv.get("/api/v1/cmdb/reminders", &m).await;
    assert_eq!(r["deliveries"][0]["status"], "sent", "{r}");

    // Nodes passing at once announce each date once: one queues, the other finds it taken.
    srv.clock.advance(chrono::Duration::days(1));
    let (again, twice) = tokio::join!(srv.run_reminders(), srv.run_reminders());
    assert_eq!(again + twice, 0, "nothing entered a new lead in a day");

    // Fourteen more days on, each date enters a tighter lead and is announced again, once.
    srv.clock.advance(chrono::Duration::days(14));
    let (a, b) = tokio::join!(srv.run_reminders(), srv.run_reminders());
    assert_eq!((a + b, a * b), (3, 0), "warranty at 5 days (lead 7), notice at 25 (30), renewal at 85 (90), once");
    assert_eq!(srv.run_reminders().await, 0);
    srv.run_notifier().await;
    assert_eq!(to(&smtp, "assets@example.com").len(), 2);

    // Deleting the contract keeps its CIs; the audit has it all.
    let (s, _) = srv.delete(&format!("/api/v1/contracts/{id}"), &m).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = srv.get(&format!("/api/v1/cis/{db2}"), &viewer).await;
    assert_eq!(s, StatusCode::OK);
    let admin = srv.token("admin", Role::Admin).await;
    let (_, audit) = srv.get("/api/v1/audit?action=contract.", &admin).await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 3, "{audit}");
    let (_, audit) = srv.get("/api/v1/audit?action=lifecycle_reminders.", &admin).await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");

    // The page's form takes CI names, one a line, and refuses a line it cannot resolve.
    let cookie = srv.login("mgr", "password-mgr").await.unwrap();
    let end = day(today, 30);
    let mut fields = vec![("name", "Lease"), ("vendor", "Acme"), ("end_date", end.as_str()), ("cis", "db-01\nnope")];
    let (s, _) = srv.form("/cmdb/contracts", &cookie, &fields).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "the form comes back with the line named");
    let (_, list) = srv.get("/api/v1/contracts", &viewer).await;
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
    fields[3] = ("cis", "db-01\n\ndb-02");
    let (_, notice) = srv.form("/cmdb/contracts", &cookie, &fields).await;
    assert!(notice.starts_with("Contract Lease recorded"), "{notice}");
    let (_, list) = srv.get("/api/v1/contracts", &viewer).await;
    assert_eq!(list["items"][0]["ci_count"], 2, "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_of_dates_is_announced_over_passes_sqlite() {
    a_bulk_of_dates_is_announced_over_passes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_of_dates_is_announced_over_passes_postgres() {
    a_bulk_of_dates_is_announced_over_passes(Backend::Postgres).await;
}

/// 2,500 servers bought together share a warranty end: every pass announces up to 1,000 of
/// them that were not announced yet, so all are, each once, in three digests.
async fn a_bulk_of_dates_is_announced_over_passes(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let m = srv.token("mgr", Role::Manager).await;
    let today = srv.now().date_naive();
    let end = day(today, 10);
    let mut csv = String::from("identity,name,class,warranty_end\n");
    for i in 0..2500 {
        csv.push_str(&format!("srv-{i},srv-{i},server,{end}\n"));
    }
    let (s, r) = super::cmdb::import(&srv, &m, "format=csv", &csv).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, _) = srv.put("/api/v1/cmdb/reminders", &m, json!({"recipients": ["assets@example.com"]})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(srv.run_reminders().await, 1000, "the second thousand");
    assert_eq!(srv.run_reminders().await, 500);
    assert_eq!(srv.run_reminders().await, 0);
    let (_, r) = srv.get("/api/v1/cmdb/reminders", &m).await;
    let subjects: Vec<&str> =
        r["deliveries"].as_array().unwrap().iter().map(|d| d["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.len(), 3, "{r}");
    assert!(subjects.iter().all(|s| s.contains("lifecycle dates coming up")), "{subjects:?}");
}
