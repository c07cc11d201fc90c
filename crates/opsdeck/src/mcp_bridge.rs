//! `opsdeck mcp`: the server's MCP endpoint for desktop assistants that speak MCP over stdio.
//! Each JSON-RPC line read on stdin is posted to `/mcp` with the API token and the transport's
//! headers (`MCP-Protocol-Version` as negotiated, `Mcp-Method`, `Mcp-Name`); each message that
//! comes back (a JSON answer, or the events of a stream) is written to stdout on its own line.
//! Only JSON-RPC goes to stdout: anything else becomes an error answer to the request.

use crate::client::Client;
use crate::config::Config;
use anyhow::Result;
use base64::Engine;
use serde_json::{Value, json};
use std::io::{BufRead, Write};

/// A line on stdin, at most (a tool call's arguments are small; the server refuses over 1 MiB).
const LINE_MAX: usize = 1024 * 1024;

/// A line read from stdin: a message, or one that was too long (dropped unread past the limit).
enum Line {
    Message(String),
    TooLong,
}

/// Reads stdin a line at a time on this thread (a blocking read), never holding more than
/// [`LINE_MAX`] bytes of one line.
fn read_lines(tx: tokio::sync::mpsc::Sender<Line>) {
    let mut stdin = std::io::stdin().lock();
    loop {
        let mut buf = Vec::new();
        let mut too_long = false;
        loop {
            let chunk = match stdin.fill_buf() {
                Ok(c) => c,
                Err(_) => return,
            };
            if chunk.is_empty() {
                if buf.is_empty() && !too_long {
                    return;
                }
                break;
            }
            let (take, end) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !too_long && buf.len() + take <= LINE_MAX {
                buf.extend_from_slice(&chunk[..take]);
            } else {
                too_long = true;
                buf.clear();
            }
            stdin.consume(if end { take + 1 } else { take });
            if end {
                break;
            }
        }
        let line = if too_long { Line::TooLong } else { Line::Message(String::from_utf8_lossy(&buf).into_owned()) };
        if tx.blocking_send(line).is_err() {
            return;
        }
    }
}

pub async fn run(cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Line>(16);
    std::thread::spawn(move || read_lines(tx));
    // The protocol version the server and the assistant agreed on, once initialized.
    let mut version: Option<String> = None;
    while let Some(line) = rx.recv().await {
        let answer = match line {
            Line::TooLong => error_for(Some(Value::Null), "a message over 1 MiB was dropped"),
            Line::Message(line) if line.trim().is_empty() => Vec::new(),
            Line::Message(line) => relay(&client, &line, &mut version).await,
        };
        let mut out = std::io::stdout().lock();
        for m in answer {
            writeln!(out, "{m}")?;
        }
        out.flush()?;
    }
    Ok(())
}

/// Posts one message and gives the JSON-RPC messages to write back.
async fn relay(client: &Client, line: &str, version: &mut Option<String>) -> Vec<String> {
    let Ok(message) = serde_json::from_str::<Value>(line) else {
        return error_for(Some(Value::Null), "not a JSON-RPC message (parse error)");
    };
    let id = message.get("id").cloned();
    if !message.is_object() {
        return error_for(Some(Value::Null), "batches are not supported; send one message per line");
    }
    let resp = match client.post_mcp(line.to_owned(), &headers(&message, version.as_deref())).await {
        Ok(r) => r,
        Err(e) => return error_for(id, &format!("{e:#}")),
    };
    let status = resp.status();
    let kind = resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let stream = kind.starts_with("text/event-stream");
    let json = kind.starts_with("application/json");
    let body = match resp.text().await {
        Ok(b) => b,
        Err(e) => return error_for(id, &format!("the answer could not be read: {e}")),
    };
    // A JSON-RPC answer passes as it is, whatever the status (the server says "method not
    // found" with a 404); anything else is said to the assistant as an error.
    let found: Vec<Value> = if stream || json { messages(&body, stream) } else { Vec::new() };
    if found.is_empty() {
        if status.is_success() && body.trim().is_empty() {
            return Vec::new(); // 202: a notification, nothing to answer.
        }
        let why = format!("the Opsdeck server answered HTTP {}: {}", status.as_u16(), clip(body.trim()));
        return error_for(id, &why);
    }
    if message.get("method").and_then(Value::as_str) == Some("initialize")
        && let Some(v) = found.iter().find_map(|m| m["result"]["protocolVersion"].as_str())
    {
        *version = Some(v.to_owned());
    }
    found.iter().map(Value::to_string).collect()
}

/// The transport headers for `message`: the protocol version (its own `_meta` first, else the
/// negotiated one), its method, and the name, URI or task it acts on.
fn headers(message: &Value, version: Option<&str>) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let meta = message["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"].as_str();
    if let Some(v) = meta.or(version) {
        out.push(("MCP-Protocol-Version", v.to_owned()));
    }
    if let Some(method) = message["method"].as_str() {
        out.push(("Mcp-Method", method.to_owned()));
        let key = match method {
            "tools/call" | "prompts/get" => Some("name"),
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some("uri"),
            "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
            _ => None,
        };
        if let Some(name) = key.and_then(|k| message["params"][k].as_str()) {
            out.push(("Mcp-Name", header_value(name)));
        }
    }
    out
}

/// A value as an HTTP header carries it: as it is when it is plain printable ASCII, else
/// wrapped in Base64 (`=?base64?…?=`), as the Streamable HTTP transport specifies.
fn header_value(v: &str) -> String {
    let wrapped = v.starts_with("=?base64?") && v.ends_with("?=");
    let plain = v.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && !v.starts_with([' ', '\t'])
        && !v.ends_with([' ', '\t'])
        && !wrapped;
    if plain { v.to_owned() } else { format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(v)) }
}

fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}

/// The JSON-RPC messages in an answer: the body itself, or each event's data in a stream;
/// whatever does not parse as JSON is left out.
fn messages(body: &str, stream: bool) -> Vec<Value> {
    let texts: Vec<String> = if stream {
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
        out
    } else {
        vec![body.to_owned()]
    };
    texts.iter().filter_map(|t| serde_json::from_str::<Value>(t).ok()).filter(|v| v.get("jsonrpc").is_some()).collect()
}

/// A JSON-RPC error answering request `id` (none for a notification: nothing to answer).
fn error_for(id: Option<Value>, message: &str) -> Vec<String> {
    match id {
        Some(id) => {
            vec![json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32603, "message": message}}).to_string()]
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
        let sse = "id: 1\ndata: {\"jsonrpc\":\"2.0\",\"id\":1}\n\n: keep-alive\n\ndata: <html>\n\n";
        assert_eq!(messages(sse, true), vec![json!({"jsonrpc": "2.0", "id": 1})]);
        assert_eq!(messages(" {\"jsonrpc\":\"2.0\",\"id\":3}\n", false).len(), 1);
        assert!(messages("<html>login</html>", false).is_empty());
        let e = error_for(Some(json!(7)), "down");
        assert!(e[0].contains("\"id\":7") && e[0].contains("down"));
        assert!(error_for(None, "x").is_empty());
    }

    #[test]
    fn headers_name_the_method_and_what_it_acts_on() {
        let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get_incident"}});
        let h = headers(&call, Some("2025-06-18"));
        assert!(h.contains(&("MCP-Protocol-Version", "2025-06-18".to_owned())));
        assert!(
            h.contains(&("Mcp-Method", "tools/call".to_owned()))
                && h.contains(&("Mcp-Name", "get_incident".to_owned()))
        );
        let own =
            json!({"method": "ping", "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}});
        assert!(headers(&own, Some("2025-06-18")).contains(&("MCP-Protocol-Version", "2026-07-28".to_owned())));
        assert_eq!(header_value("opsdeck://incidents/INC-1"), "opsdeck://incidents/INC-1");
        assert_eq!(header_value("é"), "=?base64?w6k=?=");
    }
}
