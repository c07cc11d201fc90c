//! Imports from PagerDuty (a fake of its REST API on loopback), Uptime Kuma (a `kuma.db` in its
//! own schema) and Gatus (a configuration file): plan, apply, the on-call equivalence check, a
//! re-run that changes nothing, and bad input reported per object.

use opsdeck_core::role::Role;
use opsdeck_testkit::import_fakes::{self as fake, GOOD_KEY};
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::{Value, json};
use std::collections::HashMap;

backend_tests!(
    pagerduty_imports_with_the_same_on_call_and_reruns_change_nothing,
    pagerduty_refusals_name_what_to_fix,
    ten_thousand_users_plan_in_bounded_time,
    uptime_kuma_database_becomes_monitors,
    gatus_endpoints_become_monitors,
    opsgenie_imports_with_the_same_on_call,
    grafana_oncall_imports_with_the_same_on_call,
    pagerduty_export_reads_saved_responses,
);

fn steps<'a>(run: &'a Value, kind: &str) -> Vec<&'a Value> {
    run["report"]["steps"].as_array().unwrap().iter().filter(|s| s["kind"] == kind).collect()
}

fn step<'a>(run: &'a Value, source_id: &str) -> &'a Value {
    run["report"]["steps"].as_array().unwrap().iter().find(|s| s["source_id"] == source_id).unwrap()
}

fn at(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339().replace('+', "%2B")
}

async fn pagerduty_imports_with_the_same_on_call_and_reruns_change_nothing(srv: &TestServer) {
    srv.clock.set(fake::now());
    let admin = srv.token("root", Role::Admin).await;
    let f = fake::account(0);
    let url = fake::serve(f.clone()).await;
    let body = |dry: bool| json!({"api_url": url, "token": GOOD_KEY, "dry_run": dry});

    // The plan writes nothing, and says what it would do.
    let (s, plan) = srv.post("/api/v1/imports/pagerduty", &admin, body(true)).await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    assert_eq!(plan["status"], "planned");
    let c = &plan["report"]["counts"];
    assert_eq!(c["create"], 6 + 1 + 2 + 1 + 1 + 1 + 1, "{plan:#}");
    assert_eq!(steps(&plan, "user").len(), 6);
    let (_, schedules) = srv.get("/api/v1/schedules", &admin).await;
    assert_eq!(schedules["items"].as_array().unwrap().len(), 0);
    // What cannot be mapped is listed with the reason, by the source's id.
    let unmapped = plan["report"]["unmapped"].as_array().unwrap();
    let why =
        |id: &str| unmapped.iter().find(|u| u["source_id"] == id).map(|u| u["reason"].as_str().unwrap().to_owned());
    assert!(why("PNOMAIL").unwrap().contains("e-mail"));
    assert!(why("PBROKEN").unwrap().contains("cannot be read"));
    assert!(why("PP2").unwrap().contains("cannot be read"));
    assert!(why("SPA").unwrap().contains("SMS"));
    assert!(why("PI2").unwrap().contains("e-mail"));
    // A reference to a user the source does not have is named on the policy.
    assert!(step(&plan, "PP1")["note"].as_str().unwrap().contains("PMISSING"), "{plan:#}");
    // The on-call equivalence check: the same as PagerDuty's own rendering for eight weeks
    // (two layers, restrictions, an override, the change to summer time); the drifted schedule's
    // differences are named.
    let eq = plan["report"]["equivalence"].as_array().unwrap();
    let primary = eq.iter().find(|e| e["schedule"] == "PS1").unwrap();
    assert_eq!(primary["same"], true, "{primary:#}");
    let drifted = eq.iter().find(|e| e["schedule"] == "PS2").unwrap();
    assert_eq!(drifted["same"], false);
    assert_eq!(drifted["differences"].as_array().unwrap().len(), 20);
    assert_eq!(plan["report"]["keys"][0]["old_key_hint"], "…cdef");
    assert!(plan["report"]["keys"][0]["key"].is_null());

    // Applying the plan.
    let id = plan["id"].as_str().unwrap();
    let (s, done) = srv.post(&format!("/api/v1/imports/{id}/apply"), &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "applied");
    assert_eq!(done["report"]["counts"]["error"], 0, "{done:#}");
    let key0 = done["report"]["keys"][0]["key"].as_str().unwrap();
    assert!(done["report"]["keys"][0]["ingest_url"].as_str().unwrap().ends_with("/v2/enqueue"));
    // Once only; the kept report has no key.
    let (s, _) = srv.post(&format!("/api/v1/imports/{id}/apply"), &admin, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, kept) = srv.get(&format!("/api/v1/imports/{id}"), &admin).await;
    assert!(kept["report"]["keys"][0]["key"].is_null());
    assert!(!kept.to_string().contains(key0));

    // Who is on call in Opsdeck is who PagerDuty has, across the DST change and the override.
    let names: HashMap<&str, &str> =
        [("PA", "ann"), ("PB", "bob"), ("PC", "cid"), ("PD", "dee"), ("PE", "eve"), ("PF", "fay")].into();
    let sid = step(&done, "PS1")["object_id"].as_str().unwrap().to_owned();
    let mut times = fake::dst_week().to_vec();
    times.push(chrono::DateTime::parse_from_rfc3339("2027-03-20T12:00:00Z").unwrap().into());
    for t in times {
        let (_, oc) = srv.get(&format!("/api/v1/oncall?schedule_id={sid}&at={}", at(t)), &admin).await;
        assert_eq!(oc["items"][0]["username"], names[fake::expected_primary(t)], "at {t}: {oc}");
    }
    // Users have no password yet, their roles and e-mail contact methods came along.
    let (_, users) = srv.get("/api/v1/users?q=ann", &admin).await;
    assert_eq!(users["items"][0]["role"], "admin");
    assert!(srv.login("ann", "anything-at-all").await.is_err());
    let svc = step(&done, "PSV1")["object_id"].as_str().unwrap().to_owned();
    let (_, oc) = srv.get(&format!("/api/v1/oncall?service_id={svc}"), &admin).await;
    assert_eq!(oc["items"][0]["level"], 1, "{oc}");

    // A re-run changes nothing.
    let (s, again) = srv.post("/api/v1/imports/pagerduty", &admin, body(false)).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    let c = &again["report"]["counts"];
    assert_eq!((c["create"].as_i64(), c["update"].as_i64()), (Some(0), Some(0)), "{again:#}");
    let (_, schedules) = srv.get("/api/v1/schedules", &admin).await;
    assert_eq!(schedules["items"].as_array().unwrap().len(), 2);
    let (_, list) = srv.get("/api/v1/imports", &admin).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

async fn pagerduty_refusals_name_what_to_fix(srv: &TestServer) {
    srv.clock.set(fake::now());
    let admin = srv.token("root", Role::Admin).await;
    let manager = srv.token("mgr", Role::Manager).await;
    let url = fake::serve(fake::account(0)).await;
    let (s, e) = srv.post("/api/v1/imports/pagerduty", &admin, json!({"api_url": url, "token": "wrong"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["details"]["field"], "token");
    assert!(!e.to_string().contains("wrong"), "the key is not echoed: {e}");
    let (s, e) = srv.post("/api/v1/imports/pagerduty", &admin, json!({"api_url": "ftp://x", "token": "k"})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("api_url")));
    let (s, _) = srv.post("/api/v1/imports/pagerduty", &manager, json!({"api_url": url, "token": GOOD_KEY})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) =
        srv.post("/api/v1/imports/pagerduty", &admin, json!({"api_url": url, "token": GOOD_KEY, "x": 1})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (_, list) = srv.get("/api/v1/imports", &admin).await;
    assert!(list["items"].as_array().unwrap().is_empty(), "nothing is kept from a refused import");
}

async fn ten_thousand_users_plan_in_bounded_time(srv: &TestServer) {
    srv.clock.set(fake::now());
    let admin = srv.token("root", Role::Admin).await;
    let f = fake::account(10_000);
    let url = fake::serve(f.clone()).await;
    let started = std::time::Instant::now();
    let (s, plan) = srv
        .post("/api/v1/imports/pagerduty", &admin, json!({"api_url": url, "token": GOOD_KEY, "dry_run": true}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(steps(&plan, "user").len(), 10_006);
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());
    // 10,008 users in pages of 50, plus the rest.
    assert!(f.requests.load(std::sync::atomic::Ordering::SeqCst) > 200);
}

async fn uptime_kuma_database_becomes_monitors(srv: &TestServer) {
    srv.clock.set(fake::now());
    let admin = srv.token("root", Role::Admin).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuma.db");
    fake::kuma_db(&path).await;
    let file = std::fs::read(&path).unwrap();
    let token = admin.as_str();
    let post = |q: &'static str, body: Vec<u8>| {
        let path = format!("/api/v1/imports/uptime-kuma{q}");
        async move { srv.post_raw(&path, body, Some(token)).await }
    };
    let (s, plan) = post("?dry_run=true", file.clone()).await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    assert_eq!(steps(&plan, "monitor").len(), 6, "{plan:#}");
    let unmapped: Vec<&str> =
        plan["report"]["unmapped"].as_array().unwrap().iter().map(|u| u["source_id"].as_str().unwrap()).collect();
    assert!(["8", "9", "2"].iter().all(|id| unmapped.contains(id)), "{unmapped:?}");
    let (s, done) = post("", file.clone()).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["report"]["counts"]["error"], 0, "{done:#}");
    let web = step(&done, "2")["object_id"].as_str().unwrap().to_owned();
    let (_, m) = srv.get(&format!("/api/v1/monitors/{web}"), &admin).await;
    assert_eq!(m["type"], "http");
    assert_eq!((m["interval_seconds"].as_i64(), m["down_after"].as_i64()), (Some(30), Some(3)));
    assert_eq!(m["settings"]["expected_status"], json!(["200-299", "301"]));
    assert_eq!(m["settings"]["auth"]["password"], "(set)");
    let tags: Vec<&str> = m["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(tags, ["env:prod", "group:production"]);
    let ping = step(&done, "5")["object_id"].as_str().unwrap().to_owned();
    let (_, p) = srv.get(&format!("/api/v1/monitors/{ping}"), &admin).await;
    assert_eq!(p["paused"], true, "{p}");
    assert_eq!(steps(&done, "maintenance")[0]["action"], "create");
    // Its status page, with a component per imported monitor in its group.
    let page_id = steps(&done, "status_page")[0]["object_id"].as_str().unwrap().to_owned();
    let (s, page) = srv.get(&format!("/api/v1/status-pages/{page_id}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let names: Vec<&str> = page["components"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert!(names.contains(&"Website") && names.contains(&"Login page") && !names.contains(&"Container"), "{page}");
    // Again: nothing changes.
    let (_, again) = post("", file.clone()).await;
    let c = &again["report"]["counts"];
    assert_eq!((c["create"].as_i64(), c["update"].as_i64(), c["unchanged"].as_i64()), (Some(0), Some(0), Some(8)));
    // Not a database, and a truncated one: 422 naming the file.
    let (s, e) = post("", b"hello".to_vec()).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("db")));
    let (s, e) = post("", file[..2048].to_vec()).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("db")), "{e}");
}

async fn gatus_endpoints_become_monitors(srv: &TestServer) {
    let admin = srv.token("root", Role::Admin).await;
    let yaml = r#"
endpoints:
  - name: front
    group: core
    url: "https://example.org/health"
    interval: 30s
    conditions: ["[STATUS] == 200", "[BODY].status == UP", "[RESPONSE_TIME] < 300", "len([BODY].items) > 2"]
    alerts: [{type: slack, failure-threshold: 3}]
  - name: db
    url: tcp://db.internal:5432
    conditions: ["[CONNECTED] == true"]
  - name: cert
    url: tls://example.org:443
    conditions: ["[CERTIFICATE_EXPIRATION] > 240h"]
  - name: shell
    url: ssh://box:22
external-endpoints:
  - name: backup
    heartbeat: {interval: 1h}
"#;
    let token = admin.as_str();
    let post = |q: &'static str, body: &'static str| {
        let path = format!("/api/v1/imports/gatus{q}");
        async move { srv.post_raw(&path, body, Some(token)).await }
    };
    let (s, done) = post("", yaml).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(steps(&done, "monitor").len(), 4);
    let front = step(&done, "core/front")["object_id"].as_str().unwrap().to_owned();
    let (_, m) = srv.get(&format!("/api/v1/monitors/{front}"), &admin).await;
    assert_eq!(m["settings"]["json_assert"], json!({"pointer": "/status", "equals": "UP"}));
    assert_eq!(m["down_after"], 3);
    let cert = step(&done, "cert")["object_id"].as_str().unwrap().to_owned();
    let (_, t) = srv.get(&format!("/api/v1/monitors/{cert}"), &admin).await;
    assert_eq!((t["type"].as_str(), t["settings"]["warn_days"].as_i64()), (Some("tls"), Some(10)));
    let whats: Vec<&str> =
        done["report"]["unmapped"].as_array().unwrap().iter().map(|u| u["what"].as_str().unwrap()).collect();
    assert_eq!(whats, ["condition", "alert", "endpoint"]);
    let (_, again) = post("", yaml).await;
    assert_eq!(again["report"]["counts"]["unchanged"], 4, "{again:#}");
    // A plan not applied within a week expires (what it read is dropped): applying it is a 409.
    let (_, stale) = post("?dry_run=true", yaml).await;
    srv.clock.advance(chrono::Duration::days(8));
    let (_, fresh) = post("?dry_run=true", yaml).await;
    let (s, e) = srv.post(&format!("/api/v1/imports/{}/apply", stale["id"].as_str().unwrap()), &admin, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("expired"), "{e}");
    let (s, _) = srv.post(&format!("/api/v1/imports/{}/apply", fresh["id"].as_str().unwrap()), &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = post("", "endpoints: [1, 2").await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("config")));
}

async fn opsgenie_imports_with_the_same_on_call(srv: &TestServer) {
    use opsdeck_testkit::opsgenie_fake as og;
    srv.clock.set(fake::now());
    let admin = srv.token("root", Role::Admin).await;
    let url = og::serve(og::account(150)).await;
    let body = json!({"api_url": url, "token": og::GOOD_KEY});
    let (s, e) = srv.post("/api/v1/imports/opsgenie", &admin, json!({"api_url": url, "token": "nope"})).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("token")));
    let (s, done) = srv.post("/api/v1/imports/opsgenie", &admin, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    let r = &done["report"];
    assert_eq!(r["counts"]["error"], 0, "{r:#}");
    assert_eq!(steps(&done, "user").len(), 155, "two pages of users");
    assert_eq!(r["equivalence"][0]["same"], true, "{:#}", r["equivalence"]);
    let why: Vec<&str> = r["unmapped"].as_array().unwrap().iter().map(|u| u["source_id"].as_str().unwrap()).collect();
    assert!(why.contains(&"UBAD") && why.contains(&"I2"), "{why:?}");
    // Who is on call: weekday days, a weekend day (nobody), nights across the DST change, the cover.
    let sid = step(&done, "S1")["object_id"].as_str().unwrap().to_owned();
    for t in [
        "2027-03-09T10:00:00Z",
        "2027-03-13T11:00:00Z",
        "2027-03-16T23:00:00Z",
        "2027-03-29T20:00:00Z",
        "2027-03-30T07:30:00Z",
        "2027-04-02T12:00:00Z",
    ] {
        let t: chrono::DateTime<chrono::Utc> = t.parse().unwrap();
        let (_, oc) = srv.get(&format!("/api/v1/oncall?schedule_id={sid}&at={}", at(t)), &admin).await;
        let expected = og::who(t).map(|(_, u)| format!("u{}", &u[1..]));
        assert_eq!(oc["items"][0]["username"].as_str().map(str::to_owned), expected, "at {t}: {oc}");
    }
    // Rules timed from the alert: 0 and 15 minutes, repeated once after 10.
    let pid = step(&done, "E1")["object_id"].as_str().unwrap().to_owned();
    let (_, p) = srv.get(&format!("/api/v1/escalation-policies/{pid}"), &admin).await;
    let delays: Vec<i64> =
        p["levels"].as_array().unwrap().iter().map(|l| l["delay_minutes"].as_i64().unwrap()).collect();
    assert_eq!((delays, p["loops"].as_i64()), (vec![15, 10], Some(2)), "{p}");
    assert_eq!(r["keys"][0]["integration"], "Prometheus prod");
    assert!(r["keys"][0]["ingest_url"].as_str().unwrap().ends_with("/alertmanager"));
    let (_, again) = srv.post("/api/v1/imports/opsgenie", &admin, body).await;
    let c = &again["report"]["counts"];
    assert_eq!((c["create"].as_i64(), c["update"].as_i64()), (Some(0), Some(0)), "{again:#}");
}

async fn grafana_oncall_imports_with_the_same_on_call(srv: &TestServer) {
    use opsdeck_testkit::oncall_fake as oc;
    srv.clock.set(fake::now());
    let admin = srv.token("root", Role::Admin).await;
    let url = oc::serve(oc::instance()).await;
    let body = json!({"api_url": url, "token": oc::GOOD_TOKEN});
    let (s, done) = srv.post("/api/v1/imports/grafana-oncall", &admin, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    let r = &done["report"];
    assert_eq!(r["counts"]["error"], 0, "{r:#}");
    assert_eq!(steps(&done, "user").len(), 4, "two pages of users");
    // Checked against OnCall's final shifts across New York's change to summer time (14 March).
    assert_eq!(r["equivalence"][0]["same"], true, "{:#}", r["equivalence"]);
    let unmapped: Vec<&str> =
        r["unmapped"].as_array().unwrap().iter().map(|u| u["source_id"].as_str().unwrap()).collect();
    assert!(unmapped.contains(&"S2"), "the iCal schedule is listed: {unmapped:?}");
    let sid = step(&done, "S1")["object_id"].as_str().unwrap().to_owned();
    for t in ["2027-03-09T15:00:00Z", "2027-03-10T03:00:00Z", "2027-03-15T14:30:00Z", "2027-03-20T07:00:00Z"] {
        let t: chrono::DateTime<chrono::Utc> = t.parse().unwrap();
        let (_, o) = srv.get(&format!("/api/v1/oncall?schedule_id={sid}&at={}", at(t)), &admin).await;
        assert_eq!(o["items"][0]["username"].as_str(), Some(&*format!("u{}", &oc::who(t)[1..])), "at {t}: {o}");
    }
    let pid = step(&done, "C1")["object_id"].as_str().unwrap().to_owned();
    let (_, p) = srv.get(&format!("/api/v1/escalation-policies/{pid}"), &admin).await;
    let delays: Vec<i64> =
        p["levels"].as_array().unwrap().iter().map(|l| l["delay_minutes"].as_i64().unwrap()).collect();
    assert_eq!(delays, [15, 5]);
    assert_eq!(r["keys"][0]["old_key_hint"], "…2345");
    let (_, again) = srv.post("/api/v1/imports/grafana-oncall", &admin, body).await;
    let c = &again["report"]["counts"];
    assert_eq!((c["create"].as_i64(), c["update"].as_i64()), (Some(0), Some(0)), "{again:#}");
}

/// The responses a user saved from PagerDuty's API, sent as one export: the same plan as reading
/// the API.
async fn pagerduty_export_reads_saved_responses(srv: &TestServer) {
    srv.clock.set(fake::now());
    let admin = srv.token("root", Role::Admin).await;
    let url = fake::serve(fake::account(0)).await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let req = http.get(format!("{url}/{path}")).header("authorization", format!("Token token={GOOD_KEY}"));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let (since, until) = (at(fake::now()), at(fake::now() + chrono::Duration::days(56)));
    let _ = get("teams".into()).await; // the fake's first teams answer is a 429
    let mut schedules = Vec::new();
    for id in ["PS1", "PS2"] {
        schedules.push(get(format!("schedules/{id}?since={since}&until={until}")).await["schedule"].clone());
    }
    let export = json!({
        "users": get("users?limit=50".into()).await["users"],
        "teams": get("teams".into()).await["teams"],
        "schedules": schedules,
        "overrides": {"PS1": get("schedules/PS1/overrides".into()).await["overrides"]},
        "escalation_policies": get("escalation_policies".into()).await["escalation_policies"],
        "services": get("services".into()).await["services"],
        "maintenance_windows": get("maintenance_windows".into()).await["maintenance_windows"],
    });
    let post = |body: Vec<u8>| srv.post_raw("/api/v1/imports/pagerduty-export?dry_run=true", body, Some(&admin));
    let (s, plan) = post(serde_json::to_vec(&export).unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    assert_eq!(plan["report"]["counts"]["create"], 13, "{plan:#}");
    let eq = plan["report"]["equivalence"].as_array().unwrap();
    assert_eq!(eq.iter().find(|e| e["schedule"] == "PS1").unwrap()["same"], true);
    let (s, e) = post(br#"{"users": 7}"#.to_vec()).await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("export")));
}
