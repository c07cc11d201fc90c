//! Approving a change from an e-mail, with a real SMTP server (aiosmtpd): a change awaiting
//! authorisation e-mails each approver of its rule once per revision a signed link; the link's
//! page shows the change without deciding anything, and its form approves or rejects as that
//! approver. A forged, stale (edited change) or already used link is refused by name. A change
//! lockdown puts every change but emergencies on hold until it is lifted; an implementer who
//! rotates on call implements inside their shifts.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, SmtpSink, StatusCode, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_mail_sqlite() {
    change_mail(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_mail_postgres() {
    change_mail(Backend::Postgres).await;
}

fn at(srv: &TestServer, minutes: i64) -> String {
    (srv.now() + Duration::minutes(minutes)).to_rfc3339()
}

async fn act(srv: &TestServer, token: &str, id: &str, action: &str) -> (StatusCode, Value) {
    srv.post(&format!("/api/v1/changes/{id}/{action}"), token, json!({})).await
}

/// The approval link in the newest e-mail to `address`.
fn link_to(smtp: &SmtpSink, address: &str) -> Option<String> {
    let mail = smtp.messages().into_iter().rev().find(|m| m.lines().any(|l| l.trim() == format!("To: {address}")))?;
    // Quoted-printable may wrap long lines with "=\r\n"; join them back first.
    let body = mail.replace("=\r\n", "").replace("=\n", "");
    let start = body.find("/c/")?;
    let token: String = body[start + 3..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
    Some(token)
}

async fn post_link(srv: &TestServer, token: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let resp = srv
        .http
        .post(format!("{}/c/{token}", srv.url))
        .header("origin", &srv.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).unwrap())
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap_or_default())
}

async fn get_link(srv: &TestServer, token: &str) -> (StatusCode, String) {
    let resp = srv.http.get(format!("{}/c/{token}", srv.url)).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap_or_default())
}

async fn change_mail(backend: Backend) {
    let mut smtp = SmtpSink::new();
    smtp.start().await;
    let srv = TestServer::start_with(backend, Some(smtp.config())).await;
    let admin = srv.token("admin", Role::Admin).await;
    let m = srv.token("mgr", Role::Manager).await;
    let r = srv.token("resp", Role::Responder).await;
    let mut cab = Vec::new();
    for name in ["cab-a", "cab-b", "cab-c"] {
        let u = srv.user(name, Role::Viewer).await;
        let patch = json!({"email": format!("{name}@example.com")});
        assert_eq!(srv.patch(&format!("/api/v1/users/{}", u.id), &admin, patch).await.0, StatusCode::OK);
        cab.push(u.id.to_string());
    }
    let rule = json!({"name": "CAB", "types": ["normal"], "approvers": cab, "required": 2});
    assert_eq!(srv.post("/api/v1/change-rules", &m, rule).await.0, StatusCode::CREATED);

    let body = json!({"title": "Patch the load balancers", "type": "normal",
        "planned_start": at(&srv, 120), "planned_end": at(&srv, 180), "backout_plan": "Reinstall 1.2"});
    let (_, c) = srv.post("/api/v1/changes", &r, body.clone()).await;
    let id = c["id"].as_str().unwrap().to_owned();
    act(&srv, &r, &id, "submit").await;
    assert_eq!(act(&srv, &r, &id, "submit").await.1["state"], "authorize");
    srv.run_notifier().await;
    assert_eq!(smtp.messages().len(), 3, "one e-mail per CAB member");
    let token_a = link_to(&smtp, "cab-a@example.com").expect("a link for cab-a");
    let token_b = link_to(&smtp, "cab-b@example.com").expect("a link for cab-b");
    let mail = smtp.messages().into_iter().find(|m| m.contains("To: cab-a@example.com")).unwrap();
    assert!(mail.contains("Approval wanted: CHG-1") && mail.contains("CAB: 0 of 2"), "{mail}");

    // Another move does not ask again.
    let (s, _) = srv.post(&format!("/api/v1/changes/{id}/conflicts"), &r, json!({"key": "x", "reason": "y"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    srv.run_notifier().await;
    assert_eq!(smtp.messages().len(), 3);

    // Opening the link shows the change and decides nothing.
    let (s, html) = get_link(&srv, &token_a).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("Patch the load balancers") && html.contains("Reinstall 1.2"), "{html}");
    assert!(html.contains("Deciding as <strong>cab-a</strong>"), "{html}");
    let (_, now) = srv.get(&format!("/api/v1/changes/{id}"), &r).await;
    assert_eq!(now["approvals"], json!([]), "a GET never decides: {now}");

    // A rejection needs a reason; forged links are refused.
    let (s, html) = post_link(&srv, &token_a, &[("decision", "reject")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("why the change is rejected"), "{html}");
    let forged = token_a.replacen(&cab[0].replace('-', ""), &cab[2].replace('-', ""), 1);
    assert_eq!(get_link(&srv, &forged).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(post_link(&srv, &forged, &[("decision", "approve")]).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    // Two approvals by mail schedule the change; a second use of a link is a 409.
    let (s, html) = post_link(&srv, &token_a, &[("decision", "approve"), ("comment", "ok by me")]).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("You approved CHG-1"), "{html}");
    let (s, _) = post_link(&srv, &token_a, &[("decision", "approve")]).await;
    assert_eq!(s, StatusCode::CONFLICT, "one vote per person");
    let (s, html) = post_link(&srv, &token_b, &[("decision", "approve")]).await;
    assert!(s == StatusCode::OK && html.contains("scheduled"), "{html}");
    let (_, now) = srv.get(&format!("/api/v1/changes/{id}"), &r).await;
    assert_eq!(now["state"], "scheduled", "{now}");
    let (_, audit) = srv.get("/api/v1/audit?limit=50", &admin).await;
    assert!(audit.to_string().contains("cab-a (link in an e-mail)"), "the audit names the link: {audit}");

    // An edit of the window needs fresh approvals: old links are stale, new ones are sent.
    let mut edit = body.clone();
    edit["planned_end"] = json!(at(&srv, 200));
    edit["version"] = now["version"].clone();
    let (s, e) = srv.put(&format!("/api/v1/changes/{id}"), &r, edit).await;
    assert_eq!((s, e["state"].as_str()), (StatusCode::OK, Some("authorize")), "{e}");
    let token_c_old = link_to(&smtp, "cab-c@example.com").unwrap();
    let (s, html) = get_link(&srv, &token_c_old).await;
    assert_eq!(s, StatusCode::CONFLICT, "{html}");
    assert!(html.contains("was edited after this link was sent"), "{html}");
    srv.run_notifier().await;
    assert_eq!(smtp.messages().len(), 6, "the three are asked again about the new revision");

    // A routine change scheduled on a monitored CI silences its monitor for its window.
    let ci = json!({"name": "lb-01", "class": "server"});
    let (_, ci) = srv.post("/api/v1/cis", &m, ci).await;
    let mon = json!({"name": "lb-01 port", "type": "tcp", "interval_seconds": 60,
        "settings": {"host": "127.0.0.1", "port": 1}});
    let (_, mon) = srv.post("/api/v1/monitors", &m, mon).await;
    let bind = format!("/api/v1/cis/{}/monitors/{}", ci["id"].as_str().unwrap(), mon["id"].as_str().unwrap());
    assert_eq!(srv.put(&bind, &m, json!({})).await.0, StatusCode::NO_CONTENT);
    let tpl = json!({"name": "Rotate logs", "duration_minutes": 10});
    let (_, tpl) = srv.post("/api/v1/change-templates", &m, tpl).await;
    let routine = json!({"title": "Rotate lb-01 logs", "template_id": tpl["id"], "ci_ids": [ci["id"]],
        "planned_start": at(&srv, 300), "planned_end": at(&srv, 310)});
    let (_, routine) = srv.post("/api/v1/changes", &r, routine).await;
    let routine = routine["id"].as_str().unwrap().to_owned();
    let (_, sch) = act(&srv, &r, &routine, "submit").await;
    assert!(sch["maintenance_window_id"].is_string(), "{sch}");

    // A lockdown: managers only, one at a time; it holds every change but emergencies.
    let (s, _) = srv.put("/api/v1/change-lockdown", &r, json!({"reason": "INC-9"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = srv.put("/api/v1/change-lockdown", &m, json!({"reason": " "})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));
    let (s, l) = srv.put("/api/v1/change-lockdown", &m, json!({"reason": "major incident INC-9"})).await;
    assert_eq!((s, l["active"].as_bool()), (StatusCode::OK, Some(true)), "{l}");
    let (s, _) = srv.put("/api/v1/change-lockdown", &m, json!({"reason": "again"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let token_a = link_to(&smtp, "cab-a@example.com").unwrap();
    let token_b = link_to(&smtp, "cab-b@example.com").unwrap();
    post_link(&srv, &token_a, &[("decision", "approve")]).await;
    post_link(&srv, &token_b, &[("decision", "approve")]).await;
    let (_, held) = srv.get(&format!("/api/v1/changes/{id}"), &r).await;
    assert_eq!(held["state"], "authorize", "approved but not scheduled while locked down: {held}");
    assert_eq!(held["on_hold"], "major incident INC-9", "{held}");
    let (_, sch) = srv.get(&format!("/api/v1/changes/{routine}"), &r).await;
    assert!(sch["maintenance_window_id"].is_null(), "a held change silences nothing: {sch}");
    assert_eq!(sch["on_hold"], "major incident INC-9", "{sch}");
    let (s, e) = act(&srv, &r, &id, "schedule").await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("lockdown"), "{e}");
    let fix = json!({"title": "Fail over", "type": "emergency",
        "planned_start": at(&srv, 10), "planned_end": at(&srv, 40)});
    let (_, fix) = srv.post("/api/v1/changes", &r, fix).await;
    let fix_id = fix["id"].as_str().unwrap();
    act(&srv, &r, fix_id, "submit").await;
    assert_eq!(act(&srv, &r, fix_id, "schedule").await.1["state"], "scheduled", "emergencies go ahead");
    assert_eq!(srv.delete("/api/v1/change-lockdown", &m).await.0, StatusCode::NO_CONTENT);
    assert_eq!(srv.delete("/api/v1/change-lockdown", &m).await.0, StatusCode::CONFLICT);
    let (_, sch) = srv.get(&format!("/api/v1/changes/{routine}"), &r).await;
    assert!(sch["maintenance_window_id"].is_string(), "lifted, its window is back: {sch}");
    let (s, c) = act(&srv, &r, &id, "schedule").await;
    assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("scheduled")), "{c}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implementer_off_shift_sqlite() {
    implementer_off_shift(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implementer_off_shift_postgres() {
    implementer_off_shift(Backend::Postgres).await;
}

/// An implementer who rotates on call implements inside their shifts: alice and bob take
/// weeks in turn, so a change for alice in bob's week is a conflict, accepted with a reason.
async fn implementer_off_shift(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let m = srv.token("mgr", Role::Manager).await;
    let r = srv.token("resp", Role::Responder).await;
    let alice = srv.user("alice", Role::Responder).await.id.to_string();
    let bob = srv.user("bob", Role::Responder).await.id.to_string();
    let carol = srv.user("carol", Role::Responder).await.id.to_string();
    let start = (srv.now() - Duration::hours(1)).naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string();
    let sched = json!({"name": "Ops", "timezone": "UTC", "layers": [{"name": "Weekly", "users": [alice, bob],
        "start": start, "length": {"unit": "weeks", "count": 1}}]});
    assert_eq!(srv.post("/api/v1/schedules", &m, sched).await.0, StatusCode::CREATED);
    let kinds = |c: &Value| -> Vec<String> {
        c["conflicts"].as_array().unwrap().iter().map(|x| x["kind"].as_str().unwrap().to_owned()).collect()
    };
    let change = |who: &str, from_h: i64| {
        json!({"title": "Resize volumes", "implementer_id": who,
            "planned_start": at(&srv, from_h * 60), "planned_end": at(&srv, from_h * 60 + 60)})
    };
    let (_, on) = srv.post("/api/v1/changes", &r, change(&alice, 24)).await;
    assert_eq!(kinds(&on), Vec::<String>::new(), "alice's week: {on}");
    let (_, off) = srv.post("/api/v1/changes", &r, change(&alice, 24 * 8)).await;
    assert_eq!(kinds(&off), vec!["implementer_off_shift"], "bob's week: {off}");
    assert!(off["conflicts"][0]["message"].as_str().unwrap().contains("not on shift"), "{off}");
    let (_, office) = srv.post("/api/v1/changes", &r, change(&carol, 24 * 8)).await;
    assert_eq!(kinds(&office), Vec::<String>::new(), "carol rotates in no schedule: {office}");
    let id = off["id"].as_str().unwrap();
    let accept = json!({"key": off["conflicts"][0]["key"], "reason": "alice swaps with bob"});
    let (s, c) = srv.post(&format!("/api/v1/changes/{id}/conflicts"), &r, accept).await;
    assert_eq!((s, c["conflicts"][0]["accepted_reason"].as_str()), (StatusCode::OK, Some("alice swaps with bob")));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurring_windows_sqlite() {
    recurring_windows(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurring_windows_postgres() {
    recurring_windows(Backend::Postgres).await;
}

/// A weekly maintenance window on a CI: a change inside a later occurrence is fine, one between
/// occurrences is outside it; a weekly freeze stops a change on any of its weeks; the calendar
/// lists each occurrence.
async fn recurring_windows(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let m = srv.token("mgr", Role::Manager).await;
    let r = srv.token("resp", Role::Responder).await;
    let (_, ci) = srv.post("/api/v1/cis", &m, json!({"name": "db-07", "class": "server"})).await;
    let weekly = json!({"name": "DB patching", "kind": "maintenance", "starts_at": at(&srv, 60),
        "ends_at": at(&srv, 180), "ci_ids": [ci["id"]], "rrule": "FREQ=WEEKLY", "timezone": "Europe/Berlin"});
    let (s, w) = srv.post("/api/v1/change-windows", &m, weekly.clone()).await;
    assert_eq!((s, w["rrule"].as_str()), (StatusCode::CREATED, Some("FREQ=WEEKLY")), "{w}");
    let kinds = |c: &Value| -> Vec<String> {
        c["conflicts"].as_array().unwrap().iter().map(|x| x["kind"].as_str().unwrap().to_owned()).collect()
    };
    let change = |from: i64, to: i64| {
        let (start, end) = (at(&srv, from), at(&srv, to));
        json!({"title": "Patch db-07", "ci_ids": [ci["id"]], "planned_start": start, "planned_end": end})
    };
    let week = 7 * 24 * 60;
    let (_, inside) = srv.post("/api/v1/changes", &r, change(3 * week + 70, 3 * week + 170)).await;
    assert_eq!(kinds(&inside), Vec::<String>::new(), "the fourth week's window: {inside}");
    let (_, between) = srv.post("/api/v1/changes", &r, change(3 * week + 300, 3 * week + 360)).await;
    assert_eq!(kinds(&between), vec!["outside_maintenance"], "{between}");

    let mut freeze = weekly.clone();
    freeze["name"] = json!("Friday freeze");
    freeze["kind"] = json!("freeze");
    freeze["ci_ids"] = json!([]);
    freeze["starts_at"] = json!(at(&srv, 2 * 24 * 60));
    freeze["ends_at"] = json!(at(&srv, 3 * 24 * 60));
    assert_eq!(srv.post("/api/v1/change-windows", &m, freeze).await.0, StatusCode::CREATED);
    let (_, frozen) =
        srv.post("/api/v1/changes", &r, change(2 * week + 2 * 24 * 60 + 60, 2 * week + 2 * 24 * 60 + 120)).await;
    assert!(kinds(&frozen).contains(&"inside_freeze".to_owned()), "{frozen}");

    let long = json!({"name": "x", "kind": "freeze", "starts_at": at(&srv, 60), "ends_at": at(&srv, 60 + 8 * 24 * 60),
        "rrule": "FREQ=WEEKLY"});
    let (s, e) = srv.post("/api/v1/change-windows", &m, long).await;
    assert_eq!(
        (s, e["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("ends_at")),
        "{e}"
    );
    let hourly = json!({"name": "x", "kind": "freeze", "starts_at": at(&srv, 60), "ends_at": at(&srv, 70),
        "rrule": "FREQ=HOURLY"});
    let (s, e) = srv.post("/api/v1/change-windows", &m, hourly).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("rrule")), "{e}");

    let (from, to) = (at(&srv, 0), at(&srv, 5 * week));
    let q = format!("/api/v1/changes/calendar?from={}&to={}", urlencode(&from), urlencode(&to));
    let (s, cal) = srv.get(&q, &r).await;
    assert_eq!(s, StatusCode::OK, "{cal}");
    let patching = cal["windows"].as_array().unwrap().iter().filter(|w| w["name"] == "DB patching").count();
    assert_eq!(patching, 5, "one per week: {cal}");
    srv.stop().await;
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}
