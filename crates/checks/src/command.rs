//! Nagios-compatible plugins: exit code is the status, first output line the reason.

use crate::{millis, outcome, seconds, truncate_chars};
use opsdeck_core::monitor::{CheckOutcome, CheckStatus, CommandSettings, parse_perfdata};
use serde_json::json;
use std::io;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// Plugins print a line or a few; more is kept up to this much, then drained unread.
const OUTPUT_CAP: usize = 64 * 1024;
const REASON_MAX_CHARS: usize = 500;

pub(crate) async fn probe(s: &CommandSettings, timeout: Duration) -> CheckOutcome {
    let unknown = |reason: String| outcome(CheckStatus::Unknown, None, reason);
    // No shell: arguments reach the plugin exactly as configured.
    let mut child = match Command::new(&s.command)
        .args(&s.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Backstop: if this future is dropped (e.g. shutdown), the plugin goes with it.
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return unknown(match e.kind() {
                io::ErrorKind::NotFound => format!("plugin not found: {}", s.command),
                io::ErrorKind::PermissionDenied => format!("plugin is not executable: {}", s.command),
                _ => format!("cannot start {}: {e}", s.command),
            });
        }
    };
    let start = Instant::now();
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let run = async {
        // Read both pipes while waiting, so a chatty plugin never blocks on a full pipe.
        let (out, err, status) = tokio::join!(read_capped(stdout), read_capped(stderr), child.wait());
        (out, err, status)
    };
    let (out, err, status) = match tokio::time::timeout(timeout, run).await {
        Ok(r) => r,
        Err(_) => {
            // start_kill + wait: the plugin is gone and reaped before we report.
            let _ = child.kill().await;
            return unknown(format!("plugin timed out after {}", seconds(timeout)));
        }
    };
    let latency = millis(start.elapsed());
    let status = match status {
        Ok(st) => st,
        Err(e) => return unknown(format!("waiting for {} failed: {e}", s.command)),
    };
    let out = String::from_utf8_lossy(&out);
    // Plugins write to stdout; stderr only explains a crash or a usage error.
    let text = if out.trim().is_empty() { String::from_utf8_lossy(&err) } else { out };
    let (summary, perf) = split_output(&text);

    let Some(code) = status.code() else {
        use std::os::unix::process::ExitStatusExt;
        let signal = status.signal().map_or_else(|| "a signal".to_owned(), |s| format!("signal {s}"));
        return unknown(format!("plugin was killed by {signal}"));
    };
    let state = match code {
        0 => CheckStatus::Up,
        1 => CheckStatus::Degraded,
        2 => CheckStatus::Down,
        _ => CheckStatus::Unknown,
    };
    let mut reason = truncate_chars(summary.trim(), REASON_MAX_CHARS);
    if reason.is_empty() {
        reason = format!("plugin exited with {code} and printed nothing");
    } else if code > 3 {
        reason = format!("exit code {code}: {reason}");
    }
    // Serialising plain numbers and strings cannot fail; Null would only hide the perfdata.
    let perfdata = serde_json::to_value(parse_perfdata(&perf)).unwrap_or_default();
    let details = json!({ "exit_code": code, "perfdata": perfdata });
    outcome(state, Some(latency), reason).with_details(details)
}

/// Reads up to OUTPUT_CAP bytes, then keeps draining so the writer is never blocked.
async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else { return kept };
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = OUTPUT_CAP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// Splits plugin output into the summary (first line, before `|`) and all performance data:
/// the first line's, plus any after a `|` in the long output (Nagios plugin API, 3.x).
fn split_output(text: &str) -> (String, String) {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let (summary, mut perf) = match first.split_once('|') {
        Some((s, p)) => (s.to_owned(), p.trim().to_owned()),
        None => (first.to_owned(), String::new()),
    };
    if let Some((_, more)) = rest.split_once('|') {
        perf.push(' ');
        perf.push_str(more.trim());
    }
    (summary, perf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_summary_and_perfdata_across_lines() {
        let (s, p) = split_output("DISK OK - free 20% | /=80%;90;95\nlong text\nmore | /var=10%;90;95\n/home=5%\n");
        assert_eq!(s, "DISK OK - free 20% ");
        assert_eq!(p, "/=80%;90;95 /var=10%;90;95\n/home=5%");
        assert_eq!(split_output("OK"), ("OK".to_owned(), String::new()));
    }
}
