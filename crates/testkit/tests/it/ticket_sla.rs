//! SLA notices end to end with a real SMTP sink, on a fake clock: the watcher judges a ticket
//! when it is written and again at its next mark; the assignee hears of the first-response and
//! resolution warnings (75 %), the assignee and the policy's escalation address of the breach,
//! each once whatever the passes; a pending ticket's paused clock announces nothing; an agent's
//! public reply reaches the requester, threaded under the ticket; a policy change makes every
//! open ticket of its priority due again.

use chrono::Duration;
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, SmtpSink, StatusCode, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_notices_sqlite() {
    sla_notices(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_notices_postgres() {
    sla_notices(Backend::Postgres).await;
}

async fn sla_notices(backend: Backend) {
    let mut smtp = SmtpSink::new();
    smtp.start().await;
    let srv = TestServer::start_with(backend, Some(smtp.config())).await;
    let admin = srv.token("admin", Role::Admin).await;
    let m = srv.token("mgr", Role::Manager).await;
    let agent_user = srv.user("agent", Role::Responder).await;
    let agent = srv.token_for(&agent_user, None).await;
    let req_user = srv.user("ana", Role::Viewer).await;
    let requester = srv.token_for(&req_user, None).await;
    for (u, email) in [(&agent_user, "agent@example.com"), (&req_user, "ana@example.com")] {
        let (s, e) = srv.patch(&format!("/api/v1/users/{}", u.id), &admin, json!({"email": email})).await;
        assert_eq!(s, StatusCode::OK, "{e}");
    }
    let day = json!(["00:00-24:00"]);
    let policy = |res: u32| {
        json!({"priority": 2, "first_response_minutes": 60, "resolution_minutes": res, "timezone": "UTC",
            "week": [day, day, day, day, day, day, day], "holidays": [], "escalation_email": "lead@example.com"})
    };
    let (s, e) = srv.put("/api/v1/sla-policies/2", &m, policy(240)).await;
    assert_eq!((s, e["escalation_email"].as_str()), (StatusCode::OK, Some("lead@example.com")), "{e}");
    let mut bad = policy(240);
    bad["escalation_email"] = json!("not mail");
    let (s, e) = srv.put("/api/v1/sla-policies/2", &m, bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    // P2 (impact 2 × urgency 2): 60 min to respond, 4 h to resolve, round the clock.
    let t0 = srv.now();
    let body = json!({"title": "VPN drops", "impact": 2, "urgency": 2});
    let (s, t) = srv.post("/api/v1/tickets", &requester, body).await;
    assert_eq!(
        (s, t["priority"].as_u64(), t["requester_email"].as_str()),
        (StatusCode::CREATED, Some(2), Some("ana@example.com")),
        "{t}"
    );
    let id = t["id"].as_str().unwrap().to_owned();
    let (s, e) = srv.post(&format!("/api/v1/tickets/{id}/assign"), &agent, json!({"assignee_id": req_user.id})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a requester is not an agent: {e}");
    let (s, t) = srv.post(&format!("/api/v1/tickets/{id}/assign"), &agent, json!({"assignee_id": agent_user.id})).await;
    assert_eq!((s, t["assignee_id"].as_str()), (StatusCode::OK, Some(agent_user.id.to_string().as_str())), "{t}");
    assert_eq!(srv.run_sla_watch().await, 0, "nothing crossed yet");
    assert_eq!(srv.run_sla_watch().await, 0);

    // 46 minutes in: the first response is at 75 % (45 min); the assignee hears of it, once.
    srv.clock.set(t0 + Duration::minutes(46));
    assert_eq!(srv.run_sla_watch().await, 1);
    assert_eq!(srv.run_sla_watch().await, 0, "recorded once");
    srv.run_notifier().await;
    let warned = smtp.to("agent@example.com");
    assert_eq!(warned.len(), 1, "{:?}", smtp.messages());
    assert!(warned[0].contains("[TKT-1] First response SLA at 75 %: VPN drops"), "{}", warned[0]);
    assert!(warned[0].contains("In-Reply-To: <ticket-"), "threaded: {}", warned[0]);

    // The agent answers: the first-response clock stops, and the requester gets the reply.
    let (s, _) = srv.post(&format!("/api/v1/tickets/{id}/replies"), &agent, json!({"body": "Which client?"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = srv
        .post(&format!("/api/v1/tickets/{id}/replies"), &agent, json!({"body": "check logs", "internal": true}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    srv.run_notifier().await;
    let to_ana = smtp.to("ana@example.com");
    assert_eq!(to_ana.len(), 1, "the public reply only: {to_ana:?}");
    assert!(to_ana[0].contains("Which client?") && to_ana[0].contains("References: <ticket-"), "{}", to_ana[0]);
    // The requester's own reply goes to nobody.
    let (s, _) = srv.post(&format!("/api/v1/tickets/{id}/replies"), &requester, json!({"body": "Cisco 5.1"})).await;
    assert_eq!(s, StatusCode::CREATED);

    // Pending for two hours: a paused clock announces nothing.
    let (s, _) = srv.post(&format!("/api/v1/tickets/{id}/pend"), &agent, json!({"reason": "the user"})).await;
    assert_eq!(s, StatusCode::OK);
    srv.clock.set(t0 + Duration::minutes(47 + 120));
    assert_eq!(srv.run_sla_watch().await, 0);
    let (s, _) = srv.post(&format!("/api/v1/tickets/{id}/start"), &agent, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(srv.run_sla_watch().await, 0, "46 of 240 minutes used");

    // Resolution: 75 % is 180 business minutes, reached 133 minutes after the resume.
    srv.clock.set(t0 + Duration::minutes(167 + 134));
    assert_eq!(srv.run_sla_watch().await, 1);
    srv.clock.set(t0 + Duration::minutes(167 + 195));
    assert_eq!(srv.run_sla_watch().await, 1, "the breach");
    assert_eq!(srv.run_sla_watch().await, 0);
    srv.run_notifier().await;
    let agent_mails = smtp.to("agent@example.com");
    assert_eq!(agent_mails.len(), 3, "first-response warning, resolution warning and breach");
    assert!(agent_mails[2].contains("[TKT-1] Resolution SLA breached: VPN drops"), "{}", agent_mails[2]);
    let lead = smtp.to("lead@example.com");
    assert_eq!(lead.len(), 1, "the escalation address hears of the breach only");
    let (_, t) = srv.get(&format!("/api/v1/tickets/{id}"), &agent).await;
    assert_eq!(t["sla"]["resolution"]["breached"], true, "{t}");
    let (_, audit) = srv.get("/api/v1/audit?limit=100", &admin).await;
    assert!(audit.to_string().contains("TKT-1 resolution SLA breached"), "{audit}");

    // A new policy makes the open tickets of its priority due again; nothing is announced twice.
    let (s, _) = srv.put("/api/v1/sla-policies/2", &m, policy(600)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(srv.run_sla_watch().await, 0);
    let (_, t) = srv.get(&format!("/api/v1/tickets/{id}"), &agent).await;
    assert_eq!(t["sla"]["resolution"]["breached"], false, "10 h now: {t}");

    // The desk's KPIs: one ticket resolved (after a reopen) within its targets, one still open.
    srv.post("/api/v1/tickets", &requester, json!({"title": "Printer jams"})).await;
    for action in ["resolve", "reopen", "resolve"] {
        let (s, e) = srv.post(&format!("/api/v1/tickets/{id}/{action}"), &agent, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{action}: {e}");
    }
    srv.clock.set(t0 + Duration::minutes(363)); // the report's period ends now, exclusive
    let (_, kpi) = srv.get("/api/v1/reports/kpi", &m).await;
    let d = &kpi["service_desk"];
    assert_eq!(
        (d["raised"].as_u64(), d["resolved"].as_u64(), d["backlog"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{kpi}"
    );
    assert_eq!((d["sla_compliance"].as_f64(), d["reopen_rate"].as_f64()), (Some(1.0), Some(1.0)), "{d}");
    assert_eq!(d["mean_first_response_minutes"].as_f64(), Some(46.0), "{d}");
    assert_eq!(d["mean_resolution_minutes"].as_f64(), Some(241.0), "46 + 195: the two pending hours do not count: {d}");
    let r = srv.http.get(format!("{}/api/v1/reports/kpi.csv", srv.url)).bearer_auth(&m).send().await.unwrap();
    let csv = r.text().await.unwrap();
    for line in ["tickets_raised,all,2,0", "ticket_backlog,all,1,", "ticket_reopen_rate,all,1,"] {
        assert!(csv.lines().any(|l| l == line), "{line} in the KPI CSV: {csv}");
    }
}
