//! The operations KPI report from real checks, a maintenance window and an incident on the fake
//! clock: availability both ways, MTTA, counts by severity, SLO compliance, the period before,
//! CSV and printable HTML, the dashboard, and bad periods named.

use crate::status_pages::watched_service;
use chrono::{Duration, NaiveTime, Timelike};
use opsdeck_core::role::Role;
use opsdeck_testkit::{StatusCode, TestServer, backend_tests};
use serde_json::json;
use std::sync::atomic::Ordering;

backend_tests!(kpi_report_measures_a_day);

async fn text(srv: &TestServer, path: &str, token: &str) -> (StatusCode, String, String) {
    let r = srv.http.get(format!("{}{path}", srv.url)).bearer_auth(token).send().await.unwrap();
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (r.status(), ct, r.text().await.unwrap())
}

fn close(v: &serde_json::Value, want: f64) -> bool {
    v.as_f64().is_some_and(|f| (f - want).abs() < 1e-9)
}

async fn kpi_report_measures_a_day(srv: &TestServer) {
    // 08:00 UTC tomorrow: the whole story happens within one day.
    let now = srv.now();
    let tomorrow = (now.date_naive() + Duration::days(1)).and_time(NaiveTime::MIN).and_utc();
    srv.clock.advance(tomorrow + Duration::hours(8) - now);
    let day = srv.now().date_naive();
    let m = srv.token("m", Role::Manager).await;
    let (svc, monitor, code) = watched_service(srv, &m, "Checkout").await;

    // Nine checks pass, one fails.
    for i in 0..10 {
        code.store(if i == 9 { 500 } else { 200 }, Ordering::SeqCst);
        srv.clock.advance(Duration::seconds(31));
        assert_eq!(srv.run_checks().await, 1);
    }
    // Five failing checks inside planned maintenance.
    let (s, w) = srv
        .post(
            "/api/v1/maintenance",
            &m,
            json!({"name": "db upgrade", "starts_at": srv.now().to_rfc3339(), "duration_minutes": 10,
                   "service_ids": [svc]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    for _ in 0..5 {
        srv.clock.advance(Duration::seconds(31));
        assert_eq!(srv.run_checks().await, 1);
    }
    // An incident acknowledged two minutes after it was declared.
    let (s, inc) = srv
        .post("/api/v1/incidents", &m, json!({"title": "Checkout errors", "service_id": svc, "severity": "SEV2"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    srv.clock.advance(Duration::seconds(120));
    let (s, a) =
        srv.post(&format!("/api/v1/incidents/{}/acknowledge", inc["id"].as_str().unwrap()), &m, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    // An SLO of 95 % that leaves maintenance out: 9 of 10 is short of it.
    let (s, slo) = srv
        .post(
            "/api/v1/slos",
            &m,
            json!({"name": "Checkout availability", "service_id": svc, "target": 0.95,
                   "sli": {"type": "availability", "monitor_ids": [monitor]}, "window": {"rolling_days": 28},
                   "exclude_maintenance": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{slo}");

    let v = srv.token("v", Role::Viewer).await;
    let next = day + Duration::days(1);
    let (s, r) = srv.get(&format!("/api/v1/reports/kpi?from={day}&to={next}"), &v).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(close(&r["availability"]["adjusted"], 0.9), "9 good of the 10 outside maintenance: {r}");
    assert!(close(&r["availability"]["raw"], 9.0 / 15.0), "maintenance counted as down: {r}");
    assert_eq!(r["checks"], 15);
    // Ours, and the one the failing check opened.
    assert_eq!(r["incidents"], 2, "{r}");
    assert_eq!(r["incidents_by_severity"]["SEV2"], 1);
    assert_eq!(r["incidents_by_severity"]["SEV1"], 1);
    assert_eq!(r["incidents_by_severity"]["SEV4"], 0);
    assert!(close(&r["mtta_seconds"], 120.0), "{r}");
    assert!(close(&r["mttd_seconds"], 0.0), "detected at their impact start: {r}");
    assert!(r["mttr_seconds"].is_null(), "not mitigated yet: {r}");
    let services = r["services"].as_array().unwrap();
    assert_eq!(services.len(), 1, "{r}");
    assert_eq!((services[0]["name"].as_str(), services[0]["checks"].as_u64()), (Some("Checkout"), Some(15)));
    let slo_row = &r["slo_compliance"][0];
    assert!(close(&slo_row["sli"], 0.9) && slo_row["met"] == false, "{r}");
    // The day before: nothing measured, nothing happened.
    assert!(r["previous"]["availability"]["adjusted"].is_null(), "{r}");
    assert_eq!(r["previous"]["incidents"], 0);
    assert_eq!(r["period"]["label"], format!("{day} – {day}"));
    assert!(r["change_success_rate"].is_null());

    // The same checks read from hourly rows when the span is not whole days.
    let hour = srv.now().with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap();
    let q =
        format!("from={}&to={}", (hour - Duration::hours(1)).to_rfc3339(), (hour + Duration::hours(1)).to_rfc3339());
    let (s, r2) = srv.get(&format!("/api/v1/reports/kpi?{}", q.replace('+', "%2B")), &v).await;
    assert_eq!(s, StatusCode::OK, "{r2}");
    assert_eq!(r2["checks"], 15, "{r2}");
    assert!(close(&r2["availability"]["adjusted"], 0.9), "{r2}");

    // A month, compared with the month before.
    let month = day.format("%Y-%m").to_string();
    let (s, r3) = srv.get(&format!("/api/v1/reports/kpi?period={month}&service_id={svc}"), &v).await;
    assert_eq!(s, StatusCode::OK, "{r3}");
    assert_eq!(r3["period"]["label"], month);
    assert_eq!(r3["checks"], 15);

    // CSV and the printable page.
    let (s, ct, csv) = text(srv, &format!("/api/v1/reports/kpi.csv?from={day}&to={next}"), &v).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "metric,scope,current,previous");
    assert!(lines.contains(&"availability_adjusted,all,0.9,"), "{csv}");
    assert!(lines.contains(&"incidents,severity:SEV2,1,0"), "{csv}");
    assert!(lines.contains(&"availability_raw,service:Checkout,0.6,"), "{csv}");
    let (s, ct, html) = text(srv, &format!("/api/v1/reports/kpi.html?from={day}&to={next}"), &v).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(html.contains("Operations report") && html.contains("Checkout") && html.contains("<svg"), "{html}");
    assert!(html.contains("90\u{a0}%") && html.contains("@media print"), "{html}");

    // Bad periods are named; readers need a token.
    for (q, field) in [
        ("period=2026-13", "period"),
        ("period=1969-12", "period"),
        ("from=2026-10-02&to=2026-10-01", "to"),
        ("from=2020-01-01&to=2026-10-01", "to"),
        ("from=yesterday", "from"),
        ("service_id=nope", "service_id"),
    ] {
        let (s, e) = srv.get(&format!("/api/v1/reports/kpi?{q}"), &v).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{q}: {e}");
    }
    let (s, _) = srv.call(reqwest::Method::GET, "/api/v1/reports/kpi", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Prometheus: the KPIs for a token holder, not for anyone.
    let metrics = |token: Option<String>| {
        let req = srv.http.get(format!("{}/metrics", srv.url));
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let public = metrics(None).await;
    assert!(!public.contains("opsdeck_service_availability"), "{public}");
    let kpis = metrics(Some(v.clone())).await;
    assert!(
        kpis.contains("opsdeck_service_availability{service=\"checkout\",name=\"Checkout\",kind=\"sla\"} 0.9\n"),
        "{kpis}"
    );
    assert!(kpis.contains("opsdeck_open_incidents{severity=\"SEV2\"} 1\n"), "{kpis}");
    assert!(kpis.contains("opsdeck_slo_error_budget_remaining{slo=\"Checkout availability\""), "{kpis}");

    // The dashboard and the MTTx page beside it.
    srv.user("viewer", Role::Viewer).await;
    let cookie = srv.login("viewer", "password-viewer").await.unwrap();
    let (s, html) = srv.page(&format!("/reports?period={month}"), &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("kpi-tiles") && html.contains("Availability (SLA)") && html.contains("90\u{a0}%"), "{html}");
    assert!(html.contains("kpi-services") && html.contains("kpi-slos") && html.contains("missed"), "{html}");
    let (s, html) = srv.page("/reports?period=2026-13", &cookie).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("2026-10"), "the error names the form: {html}");
    let (s, html) = srv.page("/reports/mttx", &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Incident response (MTTx)"), "{html}");

    // Three days on the day has closed: its sums are kept per service and read back the same.
    srv.clock.advance(Duration::days(3));
    let (s, r4) = srv.get(&format!("/api/v1/reports/kpi?from={day}&to={next}"), &v).await;
    assert_eq!(s, StatusCode::OK, "{r4}");
    assert_eq!((r4["checks"].as_u64(), r4["services"][0]["name"].as_str()), (Some(15), Some("Checkout")), "{r4}");
    assert!(close(&r4["availability"]["adjusted"], 0.9), "{r4}");
    // The service goes: its monitor's past checks count for no service from now on.
    let (s, _) = srv.delete(&format!("/api/v1/services/{svc}"), &m).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, r5) = srv.get(&format!("/api/v1/reports/kpi?from={day}&to={next}"), &v).await;
    assert_eq!(r5["checks"], 15, "{r5}");
    let rows = r5["services"].as_array().unwrap();
    assert_eq!((rows.len(), rows[0]["service_id"].is_null()), (1, true), "{r5}");
}
