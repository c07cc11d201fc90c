//! `opsdeck mcp`: the server's MCP endpoint for desktop assistants that speak MCP over stdio.
//! Each JSON-RPC line read on stdin is posted to `/mcp` with the API token; each message that
//! comes back (a JSON answer, or the events of a stream) is written to stdout on its own line.
//! Nothing else is written to stdout: it belongs to the protocol.

use crate::client::Client;
use crate::config::Config;
use anyhow::Result;
use std::io::{BufRead, Write};

/// A line on stdin, at most (a tool call's arguments are small; the server refuses over 1 MiB).
const LINE_MAX: usize = 1024 * 1024;

pub async fn run(cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    // Stdin is read on a thread of its own (a blocking read), a line at a time, in order.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        if line.trim().is_empty() {
            continue;
        }
        if line.len() > LINE_MAX {
            eprintln!("opsdeck mcp: a message over 1 MiB was dropped");
            continue;
        }
        let id = serde_json::from_str::<serde_json::Value>(&line).ok().and_then(|v| v.get("id").cloned());
        let answer = match client.post_mcp(line).await {
            Ok(resp) => {
                let status = resp.status();
                let stream = resp
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|t| t.starts_with("text/event-stream"));
                let body = resp.text().await.unwrap_or_default();
                if status.is_success() {
                    messages(&body, stream)
                } else {
                    // Not a JSON-RPC answer (a 401, a 5xx): said to the assistant as an error.
                    let why = format!("the Opsdeck server answered HTTP {}: {}", status.as_u16(), body.trim());
                    error_for(id, &why)
                }
            }
            Err(e) => error_for(id, &format!("{e:#}")),
        };
        let mut out = std::io::stdout().lock();
        for m in answer {
            writeln!(out, "{m}")?;
        }
        out.flush()?;
    }
    Ok(())
}

/// The JSON-RPC messages in an answer: the body itself, or each event's data in a stream.
fn messages(body: &str, stream: bool) -> Vec<String> {
    if !stream {
        return if body.trim().is_empty() { Vec::new() } else { vec![body.trim().to_owned()] };
    }
    let mut out = Vec::new();
    let mut data = String::new();
    for line in body.lines() {
        if let Some(d) = line.strip_prefix("data:") {
            data.push_str(d.trim_start());
        } else if line.is_empty() && !data.is_empty() {
            out.push(std::mem::take(&mut data));
        }
    }
    if !data.is_empty() {
        out.push(data);
    }
    out.retain(|m| !m.trim().is_empty());
    out
}

/// A JSON-RPC error answering request `id` (none for a notification: nothing to answer).
fn error_for(id: Option<serde_json::Value>, message: &str) -> Vec<String> {
    match id {
        Some(id) => {
            let e = serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32603, "message": message}});
            vec![e.to_string()]
        }
        None => {
            eprintln!("opsdeck mcp: {message}");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_give_each_event_and_json_is_one_message() {
        let sse = "id: 1\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: {\"b\":2}\n\n";
        assert_eq!(messages(sse, true), vec!["{\"a\":1}".to_owned(), "{\"b\":2}".to_owned()]);
        assert_eq!(messages(" {\"c\":3}\n", false), vec!["{\"c\":3}".to_owned()]);
        assert!(messages("", false).is_empty());
        let e = error_for(Some(serde_json::json!(7)), "down");
        assert!(e[0].contains("\"id\":7") && e[0].contains("down"));
        assert!(error_for(None, "x").is_empty());
    }
}
