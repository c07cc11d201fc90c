use crate::peers::{self, SLOW_MS, probe};
use opsdeck_core::monitor::{CheckStatus, MonitorType::Http};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::test]
async fn up_when_status_keyword_regex_and_json_all_hold() {
    let (addr, _) = peers::http_server().await;
    let p = peers::prober();
    let o = probe(
        &p,
        Http,
        json!({
            "url": format!("http://{addr}/health"),
            "body_contains": "ok",
            "body_regex": r#""status"\s*:\s*"o.""#,
            "json_assert": {"pointer": "/status", "equals": "ok"},
        }),
    )
    .await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    assert!(o.reason.starts_with("HTTP 200 in "), "{}", o.reason);
    assert_eq!(o.details["status_code"], 200);
    assert_eq!(o.details["bytes"], r#"{"status":"ok"}"#.len());
    assert!(o.latency_ms.is_some_and(|ms| ms > 0.0));
}

#[tokio::test]
async fn down_when_an_assertion_fails() {
    let (addr, _) = peers::http_server().await;
    let p = peers::prober();
    let url = format!("http://{addr}/health");
    let cases = [
        (json!({"url": url, "body_contains": "healthy"}), r#"body does not contain "healthy""#),
        (json!({"url": url, "body_regex": "^<html>"}), "body does not match /^<html>/"),
        (
            json!({"url": url, "json_assert": {"pointer": "/status", "equals": "fine"}}),
            r#"JSON /status is a different string, expected "fine""#,
        ),
        (
            json!({"url": url, "json_assert": {"pointer": "/db", "equals": "up"}}),
            r#"JSON /db is missing, expected "up""#,
        ),
    ];
    for (settings, reason) in cases {
        let o = probe(&p, Http, settings).await;
        assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Down, reason));
        // The server answered: latency and status code are still reported.
        assert!(o.latency_ms.is_some());
        assert_eq!(o.details["status_code"], 200);
    }
    // Assertions about JSON on a body that is not JSON say so.
    let o = probe(
        &p,
        Http,
        json!({"url": format!("http://{addr}/unavailable"), "expected_status": ["503"],
        "json_assert": {"pointer": "/status", "equals": "ok"}}),
    )
    .await;
    assert_eq!(o.status, CheckStatus::Down);
    assert!(o.reason.starts_with("body is not JSON"), "{}", o.reason);
}

#[tokio::test]
async fn status_codes_are_checked_against_the_expected_ranges() {
    let (addr, _) = peers::http_server().await;
    let p = peers::prober();
    let url = format!("http://{addr}/unavailable");
    let o = probe(&p, Http, json!({"url": url})).await;
    assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Down, "HTTP 503, expected 200-299"));
    assert_eq!(o.details["status_code"], 503);
    let o = probe(&p, Http, json!({"url": url, "expected_status": ["200-299", "503"]})).await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    let o = probe(&p, Http, json!({"url": format!("http://{addr}/nowhere"), "expected_status": ["200", "204"]})).await;
    assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Down, "HTTP 404, expected 200, 204"));
}

#[tokio::test]
async fn redirects_are_followed_only_when_asked() {
    let (addr, _) = peers::http_server().await;
    let p = peers::prober();
    let url = format!("http://{addr}/redirect");
    let o = probe(&p, Http, json!({"url": url, "body_contains": "ok"})).await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    assert_eq!(o.details["status_code"], 200);
    let o = probe(&p, Http, json!({"url": url, "follow_redirects": false})).await;
    assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Down, "HTTP 303, expected 200-299"));
    let o = probe(&p, Http, json!({"url": url, "follow_redirects": false, "expected_status": ["300-399"]})).await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
}

#[tokio::test]
async fn slow_answers_are_degraded_and_overruns_time_out() {
    let (addr, _) = peers::http_server().await;
    let p = peers::prober();
    let url = format!("http://{addr}/slow");
    let o = probe(&p, Http, json!({"url": url, "max_response_ms": 100})).await;
    assert_eq!(o.status, CheckStatus::Degraded, "{o:?}");
    let ms = o.latency_ms.expect("latency");
    assert!(ms >= SLOW_MS as f64, "{ms}");
    assert_eq!(o.reason, format!("slow: {ms:.0} ms > 100 ms"));
    // Within the limit: up.
    let o = probe(&p, Http, json!({"url": url, "max_response_ms": 60_000})).await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    // The whole check is bounded by the monitor's timeout.
    let settings = peers::settings(Http, json!({"url": url}));
    let o = p.probe(&settings, Duration::from_millis(100)).await;
    assert_eq!((o.status, o.reason.as_str(), o.latency_ms), (CheckStatus::Down, "timed out after 0.1 s", None));
}

#[tokio::test]
async fn basic_and_bearer_credentials_are_sent() {
    let (addr, _) = peers::http_server().await;
    let p = peers::prober();
    let url = format!("http://{addr}/private");
    let o = probe(&p, Http, json!({"url": url})).await;
    assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Down, "HTTP 401, expected 200-299"));
    let wrong = json!({"url": url, "auth": {"type": "basic", "username": "user", "password": "nope"}});
    assert_eq!(probe(&p, Http, wrong).await.details["status_code"], 401);
    let basic = json!({"url": url, "auth": {"type": "basic", "username": "user", "password": "pass"}});
    let o = probe(&p, Http, basic).await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    let bearer = json!({"url": url, "auth": {"type": "bearer", "token": "t0ken"}, "body_contains": "secret"});
    let o = probe(&p, Http, bearer).await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
}

#[tokio::test]
async fn method_headers_and_body_are_sent_as_configured() {
    let (addr, _) = peers::http_server().await;
    let p = peers::prober();
    let o = probe(
        &p,
        Http,
        json!({
            "url": format!("http://{addr}/echo"),
            "method": "PUT",
            "headers": {"X-Probe": "from-opsdeck"},
            "body": "payload",
            "body_contains": "PUT from-opsdeck payload",
        }),
    )
    .await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
}

#[tokio::test]
async fn connections_are_kept_alive_between_checks() {
    let (addr, accepted) = peers::http_server().await;
    let p = peers::prober();
    for _ in 0..3 {
        let o = probe(&p, Http, json!({"url": format!("http://{addr}/health")})).await;
        assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "three checks, one connection");
}

#[tokio::test]
async fn a_fresh_connection_per_check_when_asked() {
    let (addr, accepted) = peers::http_server().await;
    let p = peers::prober();
    let settings = json!({"url": format!("http://{addr}/health"), "fresh_connection": true});
    for _ in 0..3 {
        let o = probe(&p, Http, settings.clone()).await;
        assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3, "three checks, three connections");
    // The kept-alive monitors beside it still share one connection.
    let (addr, accepted) = peers::http_server().await;
    for fresh in [false, true, false] {
        let o = probe(&p, Http, json!({"url": format!("http://{addr}/health"), "fresh_connection": fresh})).await;
        assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "one kept-alive connection and one fresh one");
}

#[tokio::test]
async fn bodies_are_read_up_to_one_mebibyte() {
    let (addr, _) = peers::http_server().await;
    let p = peers::prober();
    let o = probe(&p, Http, json!({"url": format!("http://{addr}/big"), "body_contains": "END"})).await;
    assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Down, r#"body does not contain "END""#));
    assert_eq!(o.details["bytes"], 1024 * 1024);
    assert_eq!(o.details["truncated"], true);
}

#[tokio::test]
async fn refused_connections_are_down() {
    let port = peers::dead_port().await;
    let p = peers::prober();
    let o = probe(&p, Http, json!({"url": format!("http://127.0.0.1:{port}/health")})).await;
    assert_eq!((o.status, o.reason.as_str(), o.latency_ms), (CheckStatus::Down, "connection refused", None));
}

#[tokio::test]
async fn https_self_signed_passes_only_without_verification() {
    let addr = peers::https_server(&peers::self_signed("localhost")).await;
    let p = peers::prober();
    let url = format!("https://localhost:{}/health", addr.port());
    let o = probe(
        &p,
        Http,
        json!({"url": url, "verify_tls": false, "json_assert": {"pointer": "/status", "equals": "ok"}}),
    )
    .await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    let o = probe(&p, Http, json!({"url": url})).await;
    assert_eq!(o.status, CheckStatus::Down);
    assert_eq!(o.reason, "TLS: unknown issuer: the certificate is not signed by a trusted authority");
}

#[tokio::test]
async fn https_verification_names_the_certificate_problem() {
    let ca = peers::TestCa::new();
    let p = ca.prober();
    let now = peers::now_unix();
    let good = peers::https_server(&ca.leaf("localhost", now - peers::DAY, now + 90 * peers::DAY)).await;
    let o = probe(&p, Http, json!({"url": format!("https://localhost:{}/health", good.port())})).await;
    assert_eq!(o.status, CheckStatus::Up, "a private CA can be trusted: {o:?}");

    let expired = peers::https_server(&ca.leaf("localhost", now - 90 * peers::DAY, now - 2 * peers::DAY)).await;
    let o = probe(&p, Http, json!({"url": format!("https://localhost:{}/health", expired.port())})).await;
    assert_eq!(o.status, CheckStatus::Down);
    assert!(o.reason.starts_with("TLS: certificate expired on "), "{}", o.reason);

    let other = peers::https_server(&ca.leaf("other.example", now - peers::DAY, now + 90 * peers::DAY)).await;
    let o = probe(&p, Http, json!({"url": format!("https://localhost:{}/health", other.port())})).await;
    assert_eq!(o.status, CheckStatus::Down);
    assert_eq!(o.reason, "TLS: hostname mismatch: certificate is for other.example, not localhost");
}
