//! `opsdeck agents …`: register, list and revoke probe agents (API client).

use crate::client::Client;
use crate::config::Config;
use crate::output::{self, Format, text as s};
use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum AgentsCmd {
    /// List agents with their location, status, last contact, version and lag.
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Register an agent for a location (admins); prints its token, which is shown once.
    Add {
        name: String,
        #[arg(long)]
        location: String,
    },
    /// Revoke an agent (by name or id): its token stops working at once.
    Revoke { agent: String },
}

pub async fn agents_cmd(c: AgentsCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        AgentsCmd::List { output } => {
            let list = client.get("/api/v1/agents", &[]).await?;
            if output == Format::Json {
                return output::json(&list);
            }
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no agents yet: register one with `opsdeck agents add NAME --location LOCATION`");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|a| {
                    let lag = a["lag_ms"].as_i64().map(|ms| format!("{:.1} s", ms as f64 / 1000.0));
                    vec![
                        s(&a["name"]),
                        s(&a["location"]),
                        s(&a["status"]),
                        s(&a["last_seen_at"]),
                        s(&a["version"]),
                        lag.unwrap_or_else(|| "-".into()),
                        s(&a["id"]),
                    ]
                })
                .collect();
            output::table(&["agent", "location", "status", "last seen", "version", "lag", "id"], &rows);
            Ok(())
        }
        AgentsCmd::Add { name, location } => {
            let a = client.post("/api/v1/agents", &json!({"name": name, "location": location})).await?;
            eprintln!(
                "registered agent {} for location {}; start it with\n  OPSDECK_TOKEN=TOKEN opsdeck agent --server {} \
                 --location {}\nits token (shown once):",
                s(&a["name"]),
                s(&a["location"]),
                cfg.server,
                s(&a["location"])
            );
            println!("{}", s(&a["token"]));
            Ok(())
        }
        AgentsCmd::Revoke { agent } => {
            let list = client.get("/api/v1/agents", &[]).await?;
            let found: Option<Value> = list["items"]
                .as_array()
                .and_then(|a| a.iter().find(|v| v["name"] == agent.as_str() || v["id"] == agent.as_str()).cloned());
            let Some(a) = found else {
                bail!("no agent {agent:?} (give its name or id; `opsdeck agents list` shows them)")
            };
            client.delete(&format!("/api/v1/agents/{}", s(&a["id"]))).await?;
            eprintln!("revoked agent {}; it stops at its next request", s(&a["name"]));
            Ok(())
        }
    }
}
