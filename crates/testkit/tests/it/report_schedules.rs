//! Scheduled reports end to end with a real SMTP server (aiosmtpd): a monthly schedule sends
//! nothing until its month ends, then the printable report once (however many passes run), a
//! "send now" sends again; bad input is named; roles hold.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use opsdeck_core::role::Role;
use opsdeck_testkit::{Backend, SmtpSink, StatusCode, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_schedules_sqlite() {
    report_schedules(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_schedules_postgres() {
    report_schedules(Backend::Postgres).await;
}

fn to(smtp: &SmtpSink, address: &str) -> Vec<String> {
    smtp.messages().into_iter().filter(|m| m.lines().any(|l| l.trim() == format!("To: {address}"))).collect()
}

async fn report_schedules(backend: Backend) {
    let mut smtp = SmtpSink::new();
    smtp.start().await;
    let srv = TestServer::start_with(backend, Some(smtp.config())).await;
    let m = srv.token("mgr", Role::Manager).await;
    let (_, svc) = srv.post("/api/v1/services", &m, json!({"name": "Payments"})).await;
    srv.post("/api/v1/incidents", &m, json!({"title": "Card declines", "service_id": svc["id"], "severity": "SEV2"}))
        .await;

    let (s, sched) = srv
        .post(
            "/api/v1/report-schedules",
            &m,
            json!({"name": "Monthly ops", "cadence": "monthly", "recipients": ["lead@example.com", "cio@example.com"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sched}");
    let id = sched["id"].as_str().unwrap().to_owned();
    // Within this month nothing is due: last month counts as sent when the schedule was made.
    assert_eq!(srv.run_report_mailer().await, 0);

    // The month ends: its report goes out once, to both, however often the mailer runs.
    let now = srv.now();
    let this_month = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap();
    let next_month = this_month.checked_add_months(chrono::Months::new(1)).unwrap();
    srv.clock.advance(next_month.and_time(NaiveTime::MIN).and_utc() + Duration::minutes(5) - now);
    assert_eq!(srv.run_report_mailer().await, 1);
    assert_eq!(srv.run_report_mailer().await, 0, "queued once");
    let pass = srv.run_notifier().await;
    assert_eq!(pass.sent, 2, "{pass:?}");
    let label = this_month.format("%Y-%m").to_string();
    let lead = to(&smtp, "lead@example.com");
    assert_eq!(lead.len(), 1);
    let mail = &lead[0];
    assert!(mail.contains(&format!("Subject: Operations report {label}")), "{mail}");
    assert!(mail.contains("multipart/alternative") && mail.contains("text/html"), "{mail}");
    assert!(mail.contains(&format!("<h1>Operations report: {label}</h1>")) && mail.contains("<svg"), "{mail}");
    assert!(mail.contains("Incidents: 1 ("), "the text summary: {mail}");
    assert_eq!(to(&smtp, "cio@example.com").len(), 1);

    // Send now: the last ended month again.
    let (s, r) = srv.post(&format!("/api/v1/report-schedules/{id}/send"), &m, json!({})).await;
    assert_eq!((s, r["queued"].as_u64()), (StatusCode::ACCEPTED, Some(2)), "{r}");
    srv.run_notifier().await;
    assert_eq!(to(&smtp, "lead@example.com").len(), 2);
    let (_, detail) = srv.get(&format!("/api/v1/report-schedules/{id}"), &m).await;
    assert_eq!(detail["last_period"], label);
    let deliveries = detail["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 4, "{detail}");
    assert!(deliveries.iter().all(|d| d["status"] == "sent"), "{detail}");

    // Bad input is named; responders and viewers read only.
    for (patch, field) in [
        (json!({"cadence": "daily"}), "cadence"),
        (json!({"recipients": ["not an address"]}), "recipients"),
        (json!({"recipients": []}), "recipients"),
        (json!({"service_id": uuid::Uuid::now_v7()}), "service_id"),
        (json!({"name": " "}), "name"),
    ] {
        let mut body = json!({"name": "Weekly", "cadence": "weekly", "recipients": ["a@example.com"]});
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, e) = srv.post("/api/v1/report-schedules", &m, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{body}: {e}");
    }
    let r = srv.token("resp", Role::Responder).await;
    let body = json!({"name": "Weekly", "cadence": "weekly", "recipients": ["a@example.com"]});
    assert_eq!(srv.post("/api/v1/report-schedules", &r, body).await.0, StatusCode::FORBIDDEN);
    assert_eq!(srv.post(&format!("/api/v1/report-schedules/{id}/send"), &r, json!({})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(srv.get("/api/v1/report-schedules", &r).await.0, StatusCode::FORBIDDEN, "addresses are for managers");

    // The dashboard's panel: a manager schedules by form and sees the list.
    srv.user("boss", Role::Manager).await;
    let cookie = srv.login("boss", "password-boss").await.unwrap();
    let (s, notice) = srv
        .form(
            "/reports/schedules",
            &cookie,
            &[
                ("name", "Weekly ops"),
                ("cadence", "weekly"),
                ("recipients", "a@example.com\nb@example.com"),
                ("service_id", ""),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(notice.starts_with("Scheduled Weekly ops"), "{notice}");
    let (_, html) = srv.page("/reports", &cookie).await;
    assert!(
        html.contains("schedule-table") && html.contains("Weekly ops") && html.contains("a@example.com, b@example.com"),
        "{html}"
    );
    let (_, notice) = srv
        .form("/reports/schedules", &cookie, &[("name", "x"), ("cadence", "hourly"), ("recipients", "a@example.com")])
        .await;
    assert!(notice.starts_with("Not done") && notice.contains("weekly or monthly"), "{notice}");

    assert_eq!(srv.delete(&format!("/api/v1/report-schedules/{id}"), &m).await.0, StatusCode::NO_CONTENT);
    let (s, e) = srv.get(&format!("/api/v1/report-schedules/{id}"), &m).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("report_schedule_not_found")));
}
