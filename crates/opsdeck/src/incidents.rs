//! `opsdeck incident …` and `opsdeck event send`: responding from a terminal.

use crate::client::Client;
use crate::config::Config;
use crate::output::{self, Format};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum IncidentCmd {
    /// List incidents, newest first.
    List {
        /// triggered, acknowledged or resolved.
        #[arg(long)]
        status: Option<String>,
        /// Only triggered and acknowledged incidents.
        #[arg(long)]
        open: bool,
        /// A service id or slug.
        #[arg(long)]
        service: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Show an incident (by `INC-42` or id) with its timeline.
    Show {
        id: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Acknowledge an incident.
    Ack {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Resolve an incident.
    Resolve {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Add a note to the timeline (`--status-update` for a stakeholder update).
    Note {
        id: String,
        text: String,
        #[arg(long)]
        status_update: bool,
    },
    /// Declare an incident by hand.
    Declare {
        #[arg(long)]
        title: String,
        /// A service id or slug.
        #[arg(long)]
        service: String,
        /// SEV1..SEV4.
        #[arg(long, default_value = "SEV3")]
        severity: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
}

#[derive(Subcommand, Debug)]
pub enum EventCmd {
    /// Send a PagerDuty Events API v2 event to an integration (`/v2/enqueue`).
    Send {
        /// The integration key (routing key).
        #[arg(long, env = "OPSDECK_ROUTING_KEY", hide_env_values = true)]
        routing_key: String,
        /// trigger, acknowledge or resolve.
        #[arg(long, default_value = "trigger")]
        action: String,
        #[arg(long)]
        summary: Option<String>,
        /// critical, error, warning or info.
        #[arg(long, default_value = "error")]
        severity: String,
        /// Where the problem is (host, component); defaults to this machine's name.
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        dedup_key: Option<String>,
        /// Extra details as a JSON object.
        #[arg(long)]
        details: Option<String>,
    },
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("-").to_owned()
}

fn id_path(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

pub async fn incident_cmd(c: IncidentCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        IncidentCmd::List { status, open, service, limit, output } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(s) = status {
                query.push(("status", s));
            }
            if open {
                query.push(("open", "true".into()));
            }
            if let Some(s) = service {
                query.push(("service_id", s));
            }
            let list = client.get("/api/v1/incidents", &query).await?;
            match output {
                Format::Json => output::json(&list)?,
                Format::Table => {
                    let items = list["items"].as_array().cloned().unwrap_or_default();
                    if items.is_empty() {
                        eprintln!("no incidents match");
                        return Ok(());
                    }
                    let rows: Vec<Vec<String>> = items
                        .iter()
                        .map(|i| {
                            vec![
                                text(i, "number"),
                                text(i, "status"),
                                text(i, "severity"),
                                text(i, "service_name"),
                                i["alert_count"].to_string(),
                                text(i, "title").chars().take(70).collect(),
                            ]
                        })
                        .collect();
                    output::table(&["number", "status", "severity", "service", "alerts", "title"], &rows);
                }
            }
        }
        IncidentCmd::Show { id, output } => {
            let i = client.get(&format!("/api/v1/incidents/{}", id_path(&id)), &[]).await?;
            let tl = client.get(&format!("/api/v1/incidents/{}/timeline", id_path(&id)), &[]).await?;
            match output {
                Format::Json => output::json(&json!({"incident": i, "timeline": tl["items"]}))?,
                Format::Table => {
                    for (k, v) in [
                        ("number", text(&i, "number")),
                        ("title", text(&i, "title")),
                        ("status", text(&i, "status")),
                        ("severity", text(&i, "severity")),
                        ("service", text(&i, "service_name")),
                        ("alerts", format!("{} ({} open)", i["alert_count"], i["open_alerts"])),
                        ("assignee", text(&i, "assignee")),
                        ("detected", text(&i, "detected_at")),
                        ("acknowledged", text(&i, "acknowledged_at")),
                        ("resolved", text(&i, "resolved_at")),
                    ] {
                        println!("{k:<13} {v}");
                    }
                    println!("\ntimeline:");
                    for e in tl["items"].as_array().into_iter().flatten() {
                        println!("  {}  {:<14} {}", text(e, "at"), text(e, "kind"), text(e, "body"));
                    }
                }
            }
        }
        IncidentCmd::Ack { id, note } => {
            let i =
                client.post(&format!("/api/v1/incidents/{}/acknowledge", id_path(&id)), &json!({"note": note})).await?;
            println!("{} is {}", text(&i, "number"), text(&i, "status"));
        }
        IncidentCmd::Resolve { id, note } => {
            let i = client.post(&format!("/api/v1/incidents/{}/resolve", id_path(&id)), &json!({"note": note})).await?;
            println!("{} is {}", text(&i, "number"), text(&i, "status"));
        }
        IncidentCmd::Note { id, text: body, status_update } => {
            let kind = if status_update { "status_update" } else { "note" };
            client
                .post(&format!("/api/v1/incidents/{}/notes", id_path(&id)), &json!({"body": body, "kind": kind}))
                .await?;
            println!("added to the timeline of {id}");
        }
        IncidentCmd::Declare { title, service, severity, description, output } => {
            let i = client
                .post(
                    "/api/v1/incidents",
                    &json!({"title": title, "service_id": service, "severity": severity, "description": description}),
                )
                .await?;
            match output {
                Format::Json => output::json(&i)?,
                Format::Table => println!("declared {}: {}", text(&i, "number"), text(&i, "title")),
            }
        }
    }
    Ok(())
}

pub async fn event_cmd(c: EventCmd, cfg: &Config) -> Result<()> {
    let EventCmd::Send { routing_key, action, summary, severity, source, dedup_key, details } = c;
    let mut body = json!({"routing_key": routing_key, "event_action": action, "client": "opsdeck-cli"});
    if let Some(k) = &dedup_key {
        body["dedup_key"] = json!(k);
    }
    if action == "trigger" {
        let Some(summary) = summary else { bail!("--summary is required for trigger events") };
        let source = source.unwrap_or_else(|| std::env::var("HOSTNAME").unwrap_or_else(|_| "opsdeck-cli".into()));
        let mut payload = json!({"summary": summary, "severity": severity, "source": source});
        if let Some(d) = details {
            let v: Value = serde_json::from_str(&d).context("--details must be a JSON object")?;
            payload["custom_details"] = v;
        }
        body["payload"] = payload;
    }
    // The events endpoint is keyed by the routing key, not by an API token.
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build()?;
    let url = format!("{}/v2/enqueue", cfg.server.trim_end_matches('/'));
    let resp = http
        .post(&url)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("cannot reach the Opsdeck server at {url} (set --server or OPSDECK_SERVER)"))?;
    let status = resp.status();
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    if status.as_u16() == 202 {
        println!(
            "{} (dedup_key {})",
            answer["message"].as_str().unwrap_or("accepted"),
            answer["dedup_key"].as_str().unwrap_or("-")
        );
        return Ok(());
    }
    let errors: Vec<&str> =
        answer["errors"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    bail!(
        "{} (HTTP {}){}",
        answer["message"].as_str().unwrap_or("the event was refused"),
        status.as_u16(),
        if errors.is_empty() { String::new() } else { format!(": {}", errors.join("; ")) }
    )
}

#[derive(Subcommand, Debug)]
pub enum OnCallCmd {
    /// Who is on call now: for a service (by escalation level), a schedule, or every schedule.
    Now {
        /// A service id or slug.
        #[arg(long)]
        service: Option<String>,
        /// A schedule id.
        #[arg(long)]
        schedule: Option<String>,
        /// RFC 3339 time instead of now.
        #[arg(long)]
        at: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
}

#[derive(Subcommand, Debug)]
pub enum ScheduleCmd {
    /// List schedules with who is on call now.
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Show a schedule's final timeline (gaps included).
    Show {
        id: String,
        /// Days ahead.
        #[arg(long, default_value_t = 7)]
        days: i64,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
}

pub async fn oncall_cmd(c: OnCallCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    let OnCallCmd::Now { service, schedule, at, output } = c;
    let mut query = Vec::new();
    if let Some(s) = service {
        query.push(("service_id", s));
    }
    if let Some(s) = schedule {
        query.push(("schedule_id", s));
    }
    if let Some(a) = at {
        query.push(("at", a));
    }
    let list = client.get("/api/v1/oncall", &query).await?;
    match output {
        Format::Json => output::json(&list)?,
        Format::Table => {
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("nobody is on call");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|i| vec![i["level"].to_string(), text(i, "username"), text(i, "via"), text(i, "schedule_id")])
                .collect();
            output::table(&["level", "user", "via", "schedule"], &rows);
        }
    }
    Ok(())
}

pub async fn schedule_cmd(c: ScheduleCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        ScheduleCmd::List { output } => {
            let list = client.get("/api/v1/schedules", &[]).await?;
            match output {
                Format::Json => output::json(&list)?,
                Format::Table => {
                    let rows: Vec<Vec<String>> = list["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|s| {
                            vec![
                                text(s, "id"),
                                text(s, "name"),
                                text(s, "timezone"),
                                s["on_call_now"]["username"].as_str().unwrap_or("nobody").to_owned(),
                            ]
                        })
                        .collect();
                    output::table(&["id", "name", "time zone", "on call now"], &rows);
                }
            }
        }
        ScheduleCmd::Show { id, days, output } => {
            let s = client.get(&format!("/api/v1/schedules/{}", id_path(&id)), &[]).await?;
            let to = (chrono::Utc::now() + chrono::Duration::days(days.clamp(1, 120))).to_rfc3339();
            let tl = client.get(&format!("/api/v1/schedules/{}/timeline", id_path(&id)), &[("to", to)]).await?;
            match output {
                Format::Json => output::json(&json!({"schedule": s, "timeline": tl["items"]}))?,
                Format::Table => {
                    println!(
                        "{} ({}), on call now: {}",
                        text(&s, "name"),
                        text(&s, "timezone"),
                        s["on_call_now"]["username"].as_str().unwrap_or("nobody")
                    );
                    let rows: Vec<Vec<String>> = tl["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|sh| {
                            vec![
                                text(sh, "start"),
                                text(sh, "end"),
                                sh["username"].as_str().unwrap_or("— GAP —").to_owned(),
                                text(sh, "via"),
                            ]
                        })
                        .collect();
                    output::table(&["from", "to", "on call", "via"], &rows);
                }
            }
        }
    }
    Ok(())
}
