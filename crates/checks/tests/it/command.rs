use crate::peers::{self, probe};
use opsdeck_core::monitor::{CheckStatus, MonitorType::Command};
use serde_json::json;
use std::time::Duration;
use tokio::net::TcpListener;

const PLUGINS: &str = "/usr/lib/nagios/plugins";

fn plugin(name: &str) -> String {
    let path = format!("{PLUGINS}/{name}");
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} is missing: install Debian's monitoring-plugins-basic (scripts/test.sh does)"
    );
    path
}

#[tokio::test]
async fn check_tcp_on_an_open_port_is_up_with_perfdata() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let o = probe(
        &peers::prober(),
        Command,
        json!({"command": plugin("check_tcp"), "args": ["-H", "127.0.0.1", "-p", port]}),
    )
    .await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    assert!(o.reason.starts_with("TCP OK"), "{}", o.reason);
    assert!(!o.reason.contains('|'), "perfdata is not part of the reason: {}", o.reason);
    assert_eq!(o.details["exit_code"], 0);
    let time = &o.details["perfdata"][0];
    assert_eq!((&time["label"], &time["uom"]), (&json!("time"), &json!("s")), "{}", o.details);
    assert!(time["value"].as_f64().is_some_and(|v| v >= 0.0));
}

#[tokio::test]
async fn check_tcp_on_a_closed_port_is_down() {
    let port = peers::dead_port().await.to_string();
    let o = probe(
        &peers::prober(),
        Command,
        json!({"command": plugin("check_tcp"), "args": ["-H", "127.0.0.1", "-p", port]}),
    )
    .await;
    assert_eq!(o.status, CheckStatus::Down, "{o:?}");
    assert_eq!(o.details["exit_code"], 2);
    assert!(o.reason.contains("Connection refused"), "{}", o.reason);
}

#[tokio::test]
async fn check_http_against_a_real_server_is_up() {
    let (addr, _) = peers::http_server().await;
    let args = ["-H", "127.0.0.1", "-p", &addr.port().to_string(), "-u", "/health", "-s", "\"status\""];
    let o = probe(&peers::prober(), Command, json!({"command": plugin("check_http"), "args": args})).await;
    assert_eq!(o.status, CheckStatus::Up, "{o:?}");
    assert!(o.reason.starts_with("HTTP OK: HTTP/1.1 200 OK"), "{}", o.reason);
    let labels: Vec<&str> =
        o.details["perfdata"].as_array().expect("perfdata").iter().filter_map(|d| d["label"].as_str()).collect();
    assert_eq!(labels, ["time", "size"]);

    // The plugin's own verdict counts: a missing keyword is its CRITICAL.
    let args = ["-H", "127.0.0.1", "-p", &addr.port().to_string(), "-u", "/health", "-s", "healthy"];
    let o = probe(&peers::prober(), Command, json!({"command": plugin("check_http"), "args": args})).await;
    assert_eq!(o.status, CheckStatus::Down, "{o:?}");
    assert!(o.reason.starts_with("HTTP CRITICAL"), "{}", o.reason);
}

#[tokio::test]
async fn exit_codes_map_to_statuses() {
    let p = peers::prober();
    let dummy = plugin("check_dummy");
    for (code, status) in
        [("0", CheckStatus::Up), ("1", CheckStatus::Degraded), ("2", CheckStatus::Down), ("3", CheckStatus::Unknown)]
    {
        let o = probe(&p, Command, json!({"command": dummy, "args": [code, "said the dummy"]})).await;
        assert_eq!(o.status, status, "{o:?}");
        assert!(o.reason.ends_with(": said the dummy"), "{}", o.reason);
        assert_eq!(o.details["exit_code"].as_i64(), code.parse().ok());
    }
    // Anything else is UNKNOWN too, with the code in the reason.
    let o = probe(&p, Command, json!({"command": "/bin/sh", "args": ["-c", "echo weird; exit 7"]})).await;
    assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Unknown, "exit code 7: weird"));
}

#[tokio::test]
async fn missing_or_non_executable_plugins_are_unknown() {
    let p = peers::prober();
    let o = probe(&p, Command, json!({"command": "/usr/lib/nagios/plugins/check_nothing"})).await;
    assert_eq!(
        (o.status, o.reason.as_str(), o.latency_ms),
        (CheckStatus::Unknown, "plugin not found: /usr/lib/nagios/plugins/check_nothing", None)
    );
    // A plain file: not even root may execute it.
    let o = probe(&p, Command, json!({"command": "/etc/passwd"})).await;
    assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Unknown, "plugin is not executable: /etc/passwd"));
}

#[tokio::test]
async fn a_plugin_that_overruns_is_killed_and_unknown() {
    let settings = peers::settings(Command, json!({"command": "/bin/sleep", "args": ["5"]}));
    let started = std::time::Instant::now();
    let o = peers::prober().probe(&settings, Duration::from_secs(1)).await;
    assert_eq!((o.status, o.reason.as_str()), (CheckStatus::Unknown, "plugin timed out after 1 s"));
    assert!(started.elapsed() < Duration::from_secs(3), "the check returns at the timeout, not when the plugin ends");
}
