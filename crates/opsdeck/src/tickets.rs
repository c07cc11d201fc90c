//! `opsdeck ticket …`: raise, list, show, reply to and move service desk tickets, through the API.

use crate::client::Client;
use crate::config::Config;
use crate::output::{self, Format, text as s};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum TicketCmd {
    /// The agent queue, most urgent first, with SLA due times (`--state new,in_progress`).
    List {
        #[arg(long)]
        state: Option<String>,
        /// Only this team's tickets (its id).
        #[arg(long)]
        team: Option<String>,
        /// Only tickets nobody is assigned to.
        #[arg(long)]
        unassigned: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Raise a ticket: `opsdeck ticket add "VPN drops" --impact 3 --urgency 2`.
    Add {
        title: String,
        /// incident_report (default), service_request or question.
        #[arg(long = "type")]
        kind: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// 1 (widespread) to 4 (one person).
        #[arg(long)]
        impact: Option<i64>,
        /// 1 (critical) to 4 (low).
        #[arg(long)]
        urgency: Option<i64>,
        #[arg(long)]
        requester: Option<String>,
        /// What it is about (Hardware, Access…): routing rules may match it.
        #[arg(long)]
        category: Option<String>,
    },
    /// Make a ticket the child of another (`--parent TKT-3`), or on its own (no `--parent`).
    Parent {
        id: String,
        #[arg(long)]
        parent: Option<String>,
    },
    /// Promote a ticket to a new incident: `opsdeck ticket promote TKT-4 --severity SEV2`.
    Promote {
        id: String,
        #[arg(long)]
        severity: Option<String>,
        /// The service (id or slug); default the ticket's.
        #[arg(long)]
        service: Option<String>,
    },
    /// The routing rules in the order they are tried.
    Routes {
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// The SLA agreements in the order they are tried, with their P1–P4 targets.
    Agreements {
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Show a ticket, its SLA clocks and its conversation.
    Show { id: String },
    /// Reply to a ticket (`--internal` for a note the requester does not see).
    Reply {
        id: String,
        body: String,
        #[arg(long)]
        internal: bool,
    },
    /// Attach a file to a ticket: `opsdeck ticket attach TKT-4 ./screenshot.png`.
    Attach {
        id: String,
        file: std::path::PathBuf,
        /// Agents only: the requester does not see it.
        #[arg(long)]
        internal: bool,
    },
    /// Move a ticket: start, pend (needs --reason), resolve, close or reopen.
    Move {
        id: String,
        action: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

fn due(t: &Value, clock: &str) -> String {
    let c = &t["sla"][clock];
    match (c["stage"].as_str(), c["breached"].as_bool()) {
        (Some("stopped"), Some(true)) => "met late".into(),
        (Some("stopped"), _) => "met".into(),
        (Some("paused"), Some(true)) => "breached, paused".into(),
        (Some("paused"), _) => "paused".into(),
        (_, Some(true)) => format!("breached {}", s(&c["due_at"])),
        _ => s(&c["due_at"]),
    }
}

pub async fn ticket_cmd(c: TicketCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        TicketCmd::List { state, team, unassigned, output } => {
            let mut q = Vec::new();
            if let Some(st) = state {
                q.push(("state", st));
            }
            if let Some(t) = team {
                q.push(("team_id", t));
            }
            if unassigned {
                q.push(("unassigned", "true".to_owned()));
            }
            let page = client.get("/api/v1/tickets", &q).await?;
            if output == Format::Json {
                return output::json(&page);
            }
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no tickets: raise one with `opsdeck ticket add TITLE`");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|t| {
                    vec![
                        s(&t["number"]),
                        format!("P{}", t["priority"]),
                        s(&t["state"]),
                        due(t, "first_response"),
                        due(t, "resolution"),
                        s(&t["title"]),
                    ]
                })
                .collect();
            output::table(&["ticket", "prio", "state", "response", "resolution", "title"], &rows);
            Ok(())
        }
        TicketCmd::Add { title, kind, description, impact, urgency, requester, category } => {
            let body = json!({"title": title, "type": kind, "description": description, "impact": impact,
                "urgency": urgency, "requester_email": requester, "category": category});
            let t = client.post("/api/v1/tickets", &body).await?;
            eprintln!(
                "raised {} (P{}): respond by {}, resolve by {}",
                s(&t["number"]),
                t["priority"],
                s(&t["sla"]["first_response_due_at"]),
                s(&t["sla"]["resolution_due_at"])
            );
            Ok(())
        }
        TicketCmd::Parent { id, parent } => {
            let t = client.put(&format!("/api/v1/tickets/{id}/parent"), &json!({"parent": parent})).await?;
            match parent {
                Some(p) => eprintln!("{} is a child of {p}", s(&t["number"])),
                None => eprintln!("{} is on its own", s(&t["number"])),
            }
            Ok(())
        }
        TicketCmd::Promote { id, severity, service } => {
            let body = json!({"severity": severity, "service_id": service});
            let inc = client.post(&format!("/api/v1/tickets/{id}/promote"), &body).await?;
            eprintln!("{id} promoted to {} ({})", s(&inc["number"]), s(&inc["severity"]));
            Ok(())
        }
        TicketCmd::Routes { output } => {
            let page = client.get("/api/v1/ticket-routes", &[]).await?;
            if output == Format::Json {
                return output::json(&page);
            }
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no routing rules: new tickets wait unassigned (add rules under Tickets → Routing)");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|r| {
                    let on = if r["enabled"] == Value::Bool(true) { "" } else { " (off)" };
                    vec![r["position"].to_string(), format!("{}{on}", s(&r["name"])), s(&r["team_id"]), s(&r["assign"])]
                })
                .collect();
            output::table(&["#", "rule", "team", "assign"], &rows);
            Ok(())
        }
        TicketCmd::Attach { id, file, internal } => {
            let max = opsdeck_core::desk::upload::UPLOAD_MAX;
            let size = std::fs::metadata(&file).with_context(|| format!("cannot read {}", file.display()))?.len();
            if usize::try_from(size).map_or(true, |s| s > max) {
                bail!("{} is over the {} limit", file.display(), opsdeck_core::desk::mail::human(max));
            }
            let data = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let query = [("filename", name), ("internal", internal.to_string())];
            let a = client.post_file(&format!("/api/v1/tickets/{id}/attachments"), &query, data).await?;
            eprintln!("{} attached to {id} ({} bytes)", s(&a["filename"]), a["size"]);
            Ok(())
        }
        TicketCmd::Agreements { output } => {
            let page = client.get("/api/v1/sla-agreements", &[]).await?;
            if output == Format::Json {
                return output::json(&page);
            }
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no SLA agreements: every ticket counts under its priority's policy");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|a| {
                    let on = if a["enabled"] == Value::Bool(true) { "" } else { " (off)" };
                    let targets: Vec<String> = a["targets"]
                        .as_array()
                        .map(|ts| {
                            ts.iter()
                                .map(|t| format!("{}/{}", t["first_response_minutes"], t["resolution_minutes"]))
                                .collect()
                        })
                        .unwrap_or_default();
                    let covers = a["service_ids"].as_array().map_or(0, Vec::len)
                        + a["requesters"].as_array().map_or(0, Vec::len);
                    vec![
                        a["position"].to_string(),
                        format!("{}{on}", s(&a["name"])),
                        if covers == 0 { "every ticket".into() } else { format!("{covers} condition(s)") },
                        targets.join("  "),
                    ]
                })
                .collect();
            output::table(&["#", "agreement", "covers", "P1..P4 minutes (response/resolution)"], &rows);
            Ok(())
        }
        TicketCmd::Show { id } => {
            let t = client.get(&format!("/api/v1/tickets/{id}"), &[]).await?;
            println!("{} {} (P{}, {})", s(&t["number"]), s(&t["title"]), t["priority"], s(&t["state"]));
            println!("  first response: {}", due(&t, "first_response"));
            println!("  resolution: {}", due(&t, "resolution"));
            if let Some(name) = t["sla"]["agreement_name"].as_str() {
                println!("  SLA agreement: {name}");
            }
            let replies = client.get(&format!("/api/v1/tickets/{id}/replies"), &[]).await?;
            for r in replies["items"].as_array().into_iter().flatten() {
                let note = if r["internal"] == Value::Bool(true) { " (internal)" } else { "" };
                println!("{} {}{note}: {}", s(&r["created_at"]), s(&r["author"]), s(&r["body"]));
            }
            Ok(())
        }
        TicketCmd::Reply { id, body, internal } => {
            client.post(&format!("/api/v1/tickets/{id}/replies"), &json!({"body": body, "internal": internal})).await?;
            eprintln!("{}", if internal { "note added" } else { "reply sent" });
            Ok(())
        }
        TicketCmd::Move { id, action, reason } => {
            let t = client.post(&format!("/api/v1/tickets/{id}/{action}"), &json!({"reason": reason})).await?;
            eprintln!("{} is {}", s(&t["number"]), s(&t["state"]));
            Ok(())
        }
    }
}
