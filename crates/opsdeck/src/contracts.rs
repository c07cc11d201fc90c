//! `opsdeck cmdb contract …` (contracts with vendors and the CIs they cover) and
//! `opsdeck cmdb reminders` (who hears about lifecycle dates), through the API.

use crate::client::Client;
use crate::output::{self, Format, text as s};
use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum ContractCmd {
    /// List contracts (optionally one vendor's).
    List {
        #[arg(long)]
        vendor: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Record a contract: `opsdeck cmdb contract add "Dell ProSupport" --vendor Dell --end 2027-03-31
    /// --notice-days 60 --auto-renew --ci db-01 --ci db-02`.
    Add {
        name: String,
        #[arg(long)]
        vendor: String,
        /// support, maintenance, warranty, licence, subscription, lease or other.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        number: Option<String>,
        #[arg(long)]
        start: Option<String>,
        /// When the term ends or renews (YYYY-MM-DD).
        #[arg(long)]
        end: String,
        #[arg(long)]
        auto_renew: bool,
        /// Days of notice before the end to cancel or renegotiate.
        #[arg(long)]
        notice_days: Option<i64>,
        #[arg(long)]
        cost: Option<f64>,
        /// A CI it covers (id, identity or name); repeat for several.
        #[arg(long = "ci")]
        cis: Vec<String>,
    },
    /// Show a contract with its dates and the CIs it covers.
    Show { id: String },
    /// Delete a contract (the CIs stay).
    Delete { id: String },
}

pub async fn contract_cmd(client: &Client, c: ContractCmd) -> Result<()> {
    match c {
        ContractCmd::List { vendor, output } => {
            let mut q = vec![("limit", "500".to_owned())];
            q.extend(vendor.map(|v| ("vendor", v)));
            let page = client.get("/api/v1/contracts", &q).await?;
            if output == Format::Json {
                return output::json(&page);
            }
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no contracts: record one with `opsdeck cmdb contract add NAME --vendor V --end YYYY-MM-DD`");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|c| {
                    let deadline = if c["notice_deadline"].is_null() { "-".into() } else { s(&c["notice_deadline"]) };
                    vec![
                        s(&c["name"]),
                        s(&c["vendor"]),
                        s(&c["end_date"]),
                        deadline,
                        c["ci_count"].to_string(),
                        s(&c["id"]),
                    ]
                })
                .collect();
            output::table(&["name", "vendor", "ends", "notice by", "cis", "id"], &rows);
            Ok(())
        }
        ContractCmd::Add { name, vendor, kind, number, start, end, auto_renew, notice_days, cost, cis } => {
            let mut ids = Vec::with_capacity(cis.len());
            for ci in &cis {
                ids.push(crate::cmdb::resolve(client, ci).await?["id"].clone());
            }
            let body = json!({"name": name, "vendor": vendor, "kind": kind, "number": number, "start_date": start,
                "end_date": end, "auto_renew": auto_renew, "notice_days": notice_days, "cost": cost, "ci_ids": ids});
            let c = client.post("/api/v1/contracts", &body).await?;
            eprintln!("recorded contract {} with {} ({} CIs)", s(&c["name"]), s(&c["vendor"]), c["ci_count"]);
            println!("{}", s(&c["id"]));
            Ok(())
        }
        ContractCmd::Show { id } => {
            let c = client.get(&format!("/api/v1/contracts/{id}"), &[]).await?;
            println!("{} ({}, {})", s(&c["name"]), s(&c["vendor"]), s(&c["kind"]));
            for key in ["number", "start_date", "end_date", "notice_days", "cost", "owner_team_name"] {
                match &c[key] {
                    Value::Null => {}
                    Value::String(v) => println!("  {key}: {v}"),
                    other => println!("  {key}: {other}"),
                }
            }
            println!("  auto_renew: {}", c["auto_renew"]);
            for e in c["events"].as_array().into_iter().flatten() {
                println!("  {}: {}", s(&e["event"]), s(&e["date"]));
            }
            for ci in c["cis"].as_array().into_iter().flatten() {
                println!("  covers {} ({})", s(&ci["name"]), s(&ci["class"]));
            }
            Ok(())
        }
        ContractCmd::Delete { id } => {
            client.delete(&format!("/api/v1/contracts/{id}")).await?;
            eprintln!("deleted contract {id}");
            Ok(())
        }
    }
}

/// `opsdeck cmdb reminders`: shows the settings, or sets them when recipients or leads are given
/// (`--to` with no address is not possible: `--off` turns reminders off).
pub async fn reminders_cmd(client: &Client, to: Vec<String>, lead: Vec<i64>, off: bool) -> Result<()> {
    let current = client.get("/api/v1/cmdb/reminders", &[]).await?;
    let r = if to.is_empty() && lead.is_empty() && !off {
        current
    } else {
        let recipients: Value = if off {
            json!([])
        } else if to.is_empty() {
            current["recipients"].clone()
        } else {
            json!(to)
        };
        let leads: Value = if lead.is_empty() { current["lead_days"].clone() } else { json!(lead) };
        client.put("/api/v1/cmdb/reminders", &json!({"recipients": recipients, "lead_days": leads})).await?
    };
    let recipients: Vec<String> = r["recipients"].as_array().into_iter().flatten().map(s).collect();
    let leads: Vec<String> = r["lead_days"].as_array().into_iter().flatten().map(|v| v.to_string()).collect();
    if recipients.is_empty() {
        println!("reminders are off (no recipients); lead times {} days", leads.join(", "));
    } else {
        println!("reminders go to {} at {} days ahead", recipients.join(", "), leads.join(", "));
    }
    for d in r["deliveries"].as_array().into_iter().flatten().take(10) {
        println!("  {} {} {}: {}", s(&d["created_at"]), s(&d["status"]), s(&d["recipient"]), s(&d["subject"]));
    }
    Ok(())
}
