//! On-call through the API: schedules and who is on call, escalation through levels with a fake
//! clock, the outbox delivering to a real local webhook receiver that checks the HMAC
//! signature, retries with back-off, acknowledgement stopping escalation, signed action links,
//! and iCalendar feeds parsed by Python's `icalendar`.

use chrono::{Duration, Timelike};
use opsdeck_core::role::Role;
use opsdeck_testkit::{Receiver, StatusCode, TestServer, backend_tests};
use serde_json::json;
use std::sync::atomic::Ordering;

backend_tests!(
    schedules_and_who_is_on_call,
    escalation_delivers_retries_and_stops,
    action_links_and_calendar_feeds,
    team_channels_announce_once,
    api_and_pages_apply_the_same_rules
);

async fn user_id(srv: &TestServer, name: &str) -> String {
    let u = srv.user(name, Role::Responder).await;
    u.id.to_string()
}

async fn schedules_and_who_is_on_call(srv: &TestServer) {
    let m = srv.token("mgr", Role::Manager).await;
    let (alice, bob, carol) = (user_id(srv, "alice").await, user_id(srv, "bob").await, user_id(srv, "carol").await);
    // Carol's restricted layer covers one minute a day, six hours from now: never now, nor three
    // hours later (a fixed 00:00 failed when the tests ran at midnight in Berlin).
    let quiet_hour = (srv.now() + Duration::hours(6)).with_timezone(&chrono_tz::Europe::Berlin).hour();
    let (quiet_start, quiet_end) = (format!("{quiet_hour:02}:00:00"), format!("{quiet_hour:02}:01:00"));
    let start = (srv.now() - Duration::hours(1))
        .with_timezone(&chrono_tz::Europe::Berlin)
        .naive_local()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let (s, sched) = srv
        .post(
            "/api/v1/schedules",
            &m,
            json!({"name": "Primary", "timezone": "Europe/Berlin", "layers": [
                {"name": "Weekly", "users": [alice, bob], "start": start, "length": {"unit": "weeks", "count": 1}},
                {"name": "Business hours", "users": [carol], "start": start, "length": {"unit": "days", "count": 1},
                 "restrictions": [{"days": [], "start": quiet_start, "end": quiet_end}]}
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sched}");
    let sid = sched["id"].as_str().unwrap().to_owned();
    assert_eq!(sched["on_call_now"]["username"], "alice");
    assert!(sched["calendar_url"].as_str().unwrap().contains("/calendar.ics?token="));

    // The timeline covers the range with shifts; the restricted layer leaves alice elsewhere.
    let (_, tl) = srv.get(&format!("/api/v1/schedules/{sid}/timeline"), &m).await;
    let items = tl["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for w in items.windows(2) {
        assert_eq!(w[0]["end"], w[1]["start"], "contiguous");
    }

    // An override wins.
    let (s, o) = srv
        .post(
            &format!("/api/v1/schedules/{sid}/overrides"),
            &m,
            json!({"user_id": bob,
            "start": (srv.now() - Duration::minutes(5)).to_rfc3339(),
                "end": (srv.now() + Duration::hours(2)).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let (_, now) = srv.get(&format!("/api/v1/oncall?schedule_id={sid}"), &m).await;
    assert_eq!(now["items"][0]["username"], "bob");
    assert_eq!(now["items"][0]["via"], "override");
    let at = (srv.now() + Duration::hours(3)).to_rfc3339().replace('+', "%2B");
    let (_, later) = srv.get(&format!("/api/v1/oncall?schedule_id={sid}&at={at}"), &m).await;
    assert_eq!(later["items"][0]["username"], "alice");

    // A service's on-call, level by level, through its escalation policy.
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Payments"})).await;
    let (s, pol) = srv
        .post(
            "/api/v1/escalation-policies",
            &m,
            json!({"name": "Payments", "levels": [
            {"delay_minutes": 10, "targets": [{"type": "schedule", "id": sid}]},
            {"delay_minutes": 10, "targets": [{"type": "user", "id": carol}]}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pol}");
    let (s, _) = srv
        .call(
            opsdeck_testkit::Method::PUT,
            &format!("/api/v1/services/{}/escalation-policy", svc["id"].as_str().unwrap()),
            Some(&m),
            Some(json!({"policy_id": pol["id"]})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, oc) = srv.get(&format!("/api/v1/oncall?service_id={}", svc["id"].as_str().unwrap()), &m).await;
    let got: Vec<(String, i64)> = oc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["username"].as_str().unwrap().to_owned(), i["level"].as_i64().unwrap()))
        .collect();
    assert_eq!(got, vec![("bob".into(), 1), ("carol".into(), 2)]);
    assert_eq!(oc["items"][0]["schedule_id"], json!(sid));

    // Bad input names the field.
    for (body, field) in [
        (json!({"name": "X", "timezone": "Mars/Base", "layers": []}), "timezone"),
        (
            json!({"name": "X", "timezone": "UTC", "layers": [{"name": "L", "users": [], "start": start,
                "length": {"unit": "days", "count": 1}}]}),
            "layers",
        ),
        (
            json!({"name": "X", "timezone": "UTC", "layers": [{"name": "L", "users": [uuid::Uuid::now_v7()],
                "start": start, "length": {"unit": "days", "count": 1}}]}),
            "users",
        ),
    ] {
        let (s, e) = srv.post("/api/v1/schedules", &m, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["message"].as_str().unwrap().starts_with(field), "{e}");
    }
    let (s, _) = srv
        .post("/api/v1/escalation-policies", &m, json!({"name": "X", "levels": [{"delay_minutes": 0, "targets": []}]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let v = srv.token("viewer", Role::Viewer).await;
    let (s, _) = srv.post("/api/v1/schedules", &v, json!({"name": "X", "timezone": "UTC", "layers": []})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn escalation_delivers_retries_and_stops(srv: &TestServer) {
    let m = srv.token("mgr", Role::Manager).await;
    let rx = Receiver::start().await;
    let alice = srv.user("alice", Role::Responder).await;
    let bob = srv.user("bob", Role::Responder).await;
    let at = srv.token_for(&alice, None).await;
    let bt = srv.token_for(&bob, None).await;
    let (s, c) = srv
        .post(
            "/api/v1/users/me/contact-methods",
            &at,
            json!({"kind": "webhook", "address": format!("{}/alice", rx.url)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    // Bob: his webhook at once and again (another method) after 5 minutes if nobody acknowledged.
    let (_, b1) = srv
        .post(
            "/api/v1/users/me/contact-methods",
            &bt,
            json!({"kind": "slack", "address": format!("{}/bob-slack", rx.url)}),
        )
        .await;
    let (_, b2) = srv
        .post(
            "/api/v1/users/me/contact-methods",
            &bt,
            json!({"kind": "discord", "address": format!("{}/bob-discord", rx.url)}),
        )
        .await;
    srv.post("/api/v1/users/me/notification-rules", &bt, json!({"contact_method_id": b1["id"], "delay_minutes": 0}))
        .await;
    srv.post("/api/v1/users/me/notification-rules", &bt, json!({"contact_method_id": b2["id"], "delay_minutes": 5}))
        .await;
    let (s, _) =
        srv.post("/api/v1/users/me/contact-methods", &bt, json!({"kind": "email", "address": "not an address"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Checkout"})).await;
    let sid = svc["id"].as_str().unwrap().to_owned();
    let (_, pol) = srv
        .post(
            "/api/v1/escalation-policies",
            &m,
            json!({"name": "Checkout", "loops": 1, "levels": [
            {"delay_minutes": 10, "targets": [{"type": "user", "id": alice.id}]},
            {"delay_minutes": 10, "targets": [{"type": "user", "id": bob.id}]}]}),
        )
        .await;
    srv.call(
        opsdeck_testkit::Method::PUT,
        &format!("/api/v1/services/{sid}/escalation-policy"),
        Some(&m),
        Some(json!({"policy_id": pol["id"]})),
    )
    .await;
    let (s, ch) = srv
        .post(
            "/api/v1/channels",
            &m,
            json!({"name": "#checkout", "kind": "webhook", "service_id": sid,
            "config": {"url": format!("{}/broadcast", rx.url), "secret": "shh", "headers": {"X-Team": "checkout"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ch}");
    assert_eq!(ch["config"]["secret"], "(set)", "secrets are not shown back");

    let (_, inc) = srv
        .post("/api/v1/incidents", &m, json!({"title": "Checkout down", "service_id": sid, "severity": "SEV1"}))
        .await;
    let iid = inc["id"].as_str().unwrap().to_owned();

    // Level 1: alice, and the service's channel (signed).
    let p = srv.run_notifier().await;
    assert_eq!((p.escalated, p.sent), (1, 2), "{p:?}");
    let a = rx.to("/alice");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["incident"]["number"], inc["number"]);
    assert!(a[0]["links"]["acknowledge"].as_str().unwrap().contains("/a/"));
    assert_eq!(rx.to("/broadcast").len(), 1);
    assert!(
        rx.got.lock().unwrap().iter().any(|g| g.0 == "/broadcast" && g.1.is_some()),
        "the channel's webhook is signed"
    );
    // Nothing more until the level's delay passes; running again sends nothing twice.
    srv.clock.advance(Duration::minutes(9));
    assert_eq!(srv.run_notifier().await, opsdeck_notify::Pass::default());

    // Level 2 after 10 minutes: bob's Slack at once; his Discord waits 5 minutes. Slack fails
    // once (HTTP 503) and is retried after the back-off.
    rx.status.store(503, Ordering::SeqCst);
    srv.clock.advance(Duration::minutes(1));
    let p = srv.run_notifier().await;
    assert_eq!((p.escalated, p.sent, p.retried), (1, 0, 1), "{p:?}");
    rx.status.store(200, Ordering::SeqCst);
    srv.clock.advance(Duration::seconds(7));
    let p = srv.run_notifier().await;
    assert_eq!(p.sent, 1, "{p:?}");
    assert_eq!(rx.to("/bob-slack").len(), 1);
    assert!(rx.to("/bob-slack")[0]["text"].as_str().unwrap().contains("Checkout down"));

    let (_, log) = srv.get(&format!("/api/v1/incidents/{iid}/notifications"), &m).await;
    let rows = log["items"].as_array().unwrap();
    let slack = rows.iter().find(|r| r["channel"] == "slack").unwrap();
    assert_eq!((slack["status"].as_str(), slack["attempts"].as_i64()), (Some("sent"), Some(2)));
    assert!(slack["sent_at"].is_string());
    let discord = rows.iter().find(|r| r["channel"] == "discord").unwrap();
    assert_eq!(discord["status"], "pending");

    // Bob acknowledges: escalation stops and the pending Discord message is cancelled.
    let (s, _) = srv.post(&format!("/api/v1/incidents/{iid}/acknowledge"), &bt, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    srv.clock.advance(Duration::minutes(30));
    assert_eq!(srv.run_notifier().await, opsdeck_notify::Pass::default());
    assert!(rx.to("/bob-discord").is_empty());
    let (_, log) = srv.get(&format!("/api/v1/incidents/{iid}/notifications"), &m).await;
    let statuses: Vec<&str> = log["items"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == "sent").count(), 3);
    assert_eq!(statuses.iter().filter(|s| **s == "cancelled").count(), 1);
    let (_, tl) = srv.get(&format!("/api/v1/incidents/{iid}/timeline"), &m).await;
    let bodies: Vec<&str> = tl["items"].as_array().unwrap().iter().map(|e| e["body"].as_str().unwrap()).collect();
    assert!(bodies.iter().any(|b| b.contains("Escalation level 1: notifying alice")), "{bodies:?}");
    assert!(bodies.iter().any(|b| b.contains("Escalation level 2: notifying bob")), "{bodies:?}");

    // A receiver that keeps failing: given up after the attempt limit, noted on the timeline.
    let (_, inc2) = srv.post("/api/v1/incidents", &m, json!({"title": "Second", "service_id": sid})).await;
    rx.status.store(500, Ordering::SeqCst);
    for _ in 0..12 {
        srv.run_notifier().await;
        srv.clock.advance(Duration::minutes(11));
    }
    let (_, log) = srv.get(&format!("/api/v1/incidents/{}/notifications", inc2["id"].as_str().unwrap()), &m).await;
    let alice_row = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"].as_str().unwrap().starts_with("alice"))
        .unwrap()
        .clone();
    assert_eq!(
        (alice_row["status"].as_str(), alice_row["attempts"].as_i64()),
        (Some("failed"), Some(8)),
        "{alice_row}"
    );
    assert!(alice_row["last_error"].as_str().unwrap().contains("500"));
    let (_, tl) = srv.get(&format!("/api/v1/incidents/{}/timeline", inc2["id"].as_str().unwrap()), &m).await;
    assert!(tl["items"].as_array().unwrap().iter().any(|e| e["kind"] == "notification_failed"));
    rx.task.abort();
}

async fn action_links_and_calendar_feeds(srv: &TestServer) {
    let m = srv.token("mgr", Role::Manager).await;
    let rx = Receiver::start().await;
    let alice = srv.user("alice", Role::Responder).await;
    let at = srv.token_for(&alice, None).await;
    srv.post(
        "/api/v1/users/me/contact-methods",
        &at,
        json!({"kind": "webhook", "address": format!("{}/alice", rx.url)}),
    )
    .await;
    let start = (srv.now() - Duration::hours(1)).format("%Y-%m-%dT%H:%M:%S").to_string();
    let (_, sched) = srv
        .post(
            "/api/v1/schedules",
            &m,
            json!({"name": "Ops, primary", "timezone": "UTC", "layers": [
            {"name": "Daily", "users": [alice.id], "start": start, "length": {"unit": "days", "count": 1}}]}),
        )
        .await;
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Search"})).await;
    let (_, pol) = srv
        .post(
            "/api/v1/escalation-policies",
            &m,
            json!({"name": "Search", "levels": [
            {"delay_minutes": 5, "targets": [{"type": "schedule", "id": sched["id"]}]}]}),
        )
        .await;
    srv.call(
        opsdeck_testkit::Method::PUT,
        &format!("/api/v1/services/{}/escalation-policy", svc["id"].as_str().unwrap()),
        Some(&m),
        Some(json!({"policy_id": pol["id"]})),
    )
    .await;
    let (_, inc) = srv.post("/api/v1/incidents", &m, json!({"title": "Search slow", "service_id": svc["id"]})).await;
    srv.run_notifier().await;
    let msg = rx.to("/alice");
    assert_eq!(msg.len(), 1, "the schedule's on-call person is notified");
    let ack = msg[0]["links"]["acknowledge"].as_str().unwrap().to_owned();
    let path = &ack[ack.find("/a/").unwrap()..];

    // GET shows a button and changes nothing; POST acknowledges, recorded as alice.
    let page = srv.http.get(format!("{}{path}", srv.url)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Acknowledge INC-"));
    let (_, i) = srv.get(&format!("/api/v1/incidents/{}", inc["id"].as_str().unwrap()), &m).await;
    assert_eq!(i["status"], "triggered");
    let done = srv.http.post(format!("{}{path}", srv.url)).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("is acknowledged"));
    let (_, tl) = srv.get(&format!("/api/v1/incidents/{}/timeline", inc["id"].as_str().unwrap()), &m).await;
    assert!(
        tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["body"].as_str().unwrap().contains("Acknowledged by alice (link in a notification)"))
    );
    // A tampered or expired link is refused.
    let bad = srv.http.post(format!("{}{}x", srv.url, path)).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    srv.clock.advance(Duration::hours(25));
    let old = srv.http.get(format!("{}{path}", srv.url)).send().await.unwrap();
    assert!(old.text().await.unwrap().contains("expired"));

    // The schedule's calendar feed parses as RFC 5545 (Python icalendar) and has alice's shifts.
    let feed = sched["calendar_url"].as_str().unwrap();
    let resp = srv.http.get(feed).send().await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    let ics = resp.text().await.unwrap();
    let summaries = parse_ics(&ics);
    assert!(!summaries.is_empty(), "{ics}");
    assert!(summaries.iter().all(|s| s == "On call: alice (Ops, primary)"), "{summaries:?}");
    let wrong = srv.http.get(feed.replace("token=", "token=x")).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    rx.task.abort();
}

/// Parses iCalendar text with Python's `icalendar` and returns the events' summaries.
fn parse_ics(ics: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("feed.ics");
    std::fs::write(&f, ics).unwrap();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, icalendar\ncal = icalendar.Calendar.from_ical(open(sys.argv[1], \
             'rb').read())\nfor e in cal.walk('VEVENT'):\n    assert e.get('dtstart') and \
             e.get('dtend') and e.get('uid') and e.get('dtstamp')\n    print(e.get('summary'))",
            f.to_str().unwrap(),
        ])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "icalendar could not parse the feed (pip install icalendar): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// Real SMTP: the mail server (Python's aiosmtpd, writing a Maildir) is down when the first
/// e-mail is due, then comes up: the message is delivered exactly once after it returns, and
/// its acknowledge link works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_survives_an_smtp_outage_and_is_sent_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let smtp = opsdeck_notify::SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: opsdeck_notify::SmtpTls::None,
        username: None,
        password: None,
        from: "Opsdeck <opsdeck@example.com>".into(),
        reply_to: None,
    };
    let srv = TestServer::start_with(opsdeck_testkit::Backend::Sqlite, Some(smtp)).await;
    let m = srv.token("mgr", Role::Manager).await;
    let alice = srv.user("alice", Role::Responder).await;
    let at = srv.token_for(&alice, None).await;
    let (s, _) = srv
        .post("/api/v1/users/me/contact-methods", &at, json!({"kind": "email", "address": "alice@example.com"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Mail"})).await;
    let (_, pol) = srv
        .post(
            "/api/v1/escalation-policies",
            &m,
            json!({"name": "Mail", "levels": [{"delay_minutes": 30, "targets": [{"type": "user", "id": alice.id}]}]}),
        )
        .await;
    srv.call(
        opsdeck_testkit::Method::PUT,
        &format!("/api/v1/services/{}/escalation-policy", svc["id"].as_str().unwrap()),
        Some(&m),
        Some(json!({"policy_id": pol["id"]})),
    )
    .await;
    let (_, inc) = srv
        .post(
            "/api/v1/incidents",
            &m,
            json!({"title": "Mail queue stuck", "service_id": svc["id"], "severity": "SEV1"}),
        )
        .await;

    // The SMTP server is down: the attempt fails and is retried later.
    let p = srv.run_notifier().await;
    assert_eq!((p.sent, p.retried), (0, 1), "{p:?}");
    srv.clock.advance(Duration::seconds(3));
    assert_eq!(srv.run_notifier().await.retried, 0, "not before the back-off has passed");

    // It comes back.
    let maildir = tempfile::tempdir().unwrap();
    let mut smtpd = std::process::Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir.path().join("mail"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start aiosmtpd (pip install aiosmtpd)");
    let mut up = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(up, "aiosmtpd did not start");
    srv.clock.advance(Duration::seconds(10));
    let p = srv.run_notifier().await;
    assert_eq!(p.sent, 1, "{p:?}");
    for _ in 0..3 {
        srv.clock.advance(Duration::minutes(5));
        assert_eq!(srv.run_notifier().await.sent, 0, "sent once only");
    }
    let new = maildir.path().join("mail").join("new");
    let files: Vec<_> = std::fs::read_dir(&new).unwrap().collect();
    assert_eq!(files.len(), 1, "exactly one message delivered");
    let raw = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(
        raw.contains(&format!("Subject: [SEV1] {} triggered: Mail queue stuck", inc["number"].as_str().unwrap())),
        "{raw}"
    );
    assert!(raw.contains("To: alice@example.com") && raw.contains("Message-ID: <"), "{raw}");
    let (_, log) = srv.get(&format!("/api/v1/incidents/{}/notifications", inc["id"].as_str().unwrap()), &m).await;
    assert_eq!((log["items"][0]["status"].as_str(), log["items"][0]["attempts"].as_i64()), (Some("sent"), Some(2)));

    // Acknowledge from the e-mail.
    // The body may be quoted-printable: undo its soft line breaks and escapes.
    let body = raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let link = body.lines().find_map(|l| l.strip_prefix("Acknowledge: ")).unwrap().trim().to_owned();
    let done = srv.http.post(&link).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let (_, i) = srv.get(&format!("/api/v1/incidents/{}", inc["id"].as_str().unwrap()), &m).await;
    assert_eq!(i["status"], "acknowledged");
    let _ = smtpd.kill();
    let _ = smtpd.wait();
    srv.stop().await;
}

async fn team_channels_announce_once(srv: &TestServer) {
    let m = srv.token("mgr", Role::Manager).await;
    let rx = Receiver::start().await;
    let (_, team) = srv.post("/api/v1/teams", &m, json!({"name": "Platform"})).await;
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Kubernetes", "team_id": team["id"]})).await;
    let bob = srv.user("bob", Role::Responder).await;
    let (_, pol) = srv
        .post(
            "/api/v1/escalation-policies",
            &m,
            json!({"name": "K8s", "loops": 2, "levels": [{"delay_minutes": 5,
            "targets": [{"type": "user", "id": bob.id}]}]}),
        )
        .await;
    srv.call(
        opsdeck_testkit::Method::PUT,
        &format!("/api/v1/services/{}/escalation-policy", svc["id"].as_str().unwrap()),
        Some(&m),
        Some(json!({"policy_id": pol["id"]})),
    )
    .await;
    let (s, ch) = srv
        .post(
            "/api/v1/channels",
            &m,
            json!({"name": "#platform", "kind": "slack", "team_id": team["id"],
                "config": {"url": format!("{}/team", rx.url)}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ch}");
    srv.post("/api/v1/incidents", &m, json!({"title": "Nodes not ready", "service_id": svc["id"]})).await;
    // Two rounds of the policy: the team channel hears of the incident once.
    for _ in 0..3 {
        srv.run_notifier().await;
        srv.clock.advance(Duration::minutes(6));
    }
    let got = rx.to("/team");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0]["text"].as_str().unwrap().contains("Nodes not ready"));
    rx.task.abort();
}

/// The rules that once drifted between the API and the web forms: both go through the operation
/// layer now, so both refuse the same inputs with the same field named.
async fn api_and_pages_apply_the_same_rules(srv: &TestServer) {
    let m = srv.token("mgr", Role::Manager).await;
    let mgr = srv.user("mgr-forms", Role::Manager).await;
    let cookie = srv.login("mgr-forms", "password-mgr-forms").await.unwrap();
    let alice = srv.user("alice", Role::Responder).await.id;
    let gone = srv.user("gone", Role::Responder).await.id;
    let admin = srv.token("root", Role::Admin).await;
    assert_eq!(srv.patch("/api/v1/users/gone", &admin, json!({"disabled": true})).await.0, StatusCode::OK);
    let (_, sched) =
        srv.post("/api/v1/schedules", &m, json!({"name": "Primary", "timezone": "UTC", "layers": []})).await;
    let sid = sched["id"].as_str().unwrap().to_owned();
    let start = srv.now() + Duration::hours(1);
    let local = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M").to_string();

    // An override longer than 90 days: refused by both.
    let long = start + Duration::days(91);
    let (s, e) = srv
        .post(
            &format!("/api/v1/schedules/{sid}/overrides"),
            &m,
            json!({"user_id": alice, "start": start.to_rfc3339(), "end": long.to_rfc3339()}),
        )
        .await;
    assert_eq!((s, e["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("end")), "{e}");
    let path = format!("/oncall/{sid}/overrides");
    let alice_s = alice.to_string();
    let (s, notice) =
        srv.form(&path, &cookie, &[("user_id", &alice_s), ("starts", &local(start)), ("ends", &local(long))]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(notice.starts_with("Not done: end: an override lasts at most 90 days"), "{notice}");

    // An override for a disabled user: refused by both.
    let end = start + Duration::hours(4);
    let (s, e) = srv
        .post(
            &format!("/api/v1/schedules/{sid}/overrides"),
            &m,
            json!({"user_id": gone, "start": start.to_rfc3339(), "end": end.to_rfc3339()}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("user_id")),
        "{e}"
    );
    let gone_s = gone.to_string();
    let (_, notice) =
        srv.form(&path, &cookie, &[("user_id", &gone_s), ("starts", &local(start)), ("ends", &local(end))]).await;
    assert!(notice.starts_with("Not done: user_id: no active user"), "{notice}");
    // A valid one is accepted by the form too.
    let (_, notice) =
        srv.form(&path, &cookie, &[("user_id", &alice_s), ("starts", &local(start)), ("ends", &local(end))]).await;
    assert_eq!(notice, "Override added");

    // A channel that names neither a service nor a team: refused by both.
    let (s, e) = srv
        .post(
            "/api/v1/channels",
            &m,
            json!({"name": "#ops", "kind": "slack", "config": {"url": "https://hooks.example.com/x"}}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("service_id")),
        "{e}"
    );
    let (_, notice) = srv
        .form("/channels", &cookie, &[("name", "#ops"), ("kind", "slack"), ("target", "https://hooks.example.com/x")])
        .await;
    assert!(notice.starts_with("Not done: service_id:"), "{notice}");

    // A notification rule delay outside 0–1440: refused by both (the rule is written once).
    let (_, cm) =
        srv.post("/api/v1/users/me/contact-methods", &m, json!({"kind": "email", "address": "m@example.com"})).await;
    let cmid = cm["id"].as_str().unwrap().to_owned();
    let (s, e) = srv
        .post("/api/v1/users/me/notification-rules", &m, json!({"contact_method_id": cmid, "delay_minutes": 1441}))
        .await;
    assert_eq!(
        (s, e["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("delay_minutes")),
        "{e}"
    );
    let (s, _) = srv
        .form("/settings/notifications/methods", &cookie, &[("kind", "email"), ("address", "forms@example.com")])
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, mine) = srv.get(&format!("/api/v1/users/{}/contact-methods", mgr.id), &admin).await;
    let form_cm = mine["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, notice) = srv
        .form("/settings/notifications/rules", &cookie, &[("contact_method_id", &form_cm), ("delay_minutes", "1441")])
        .await;
    assert!(notice.starts_with("Not done: delay_minutes: must be 0 to 1440"), "{notice}");
}
