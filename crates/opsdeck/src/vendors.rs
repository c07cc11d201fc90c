//! `opsdeck vendor …`: third-party status pages Opsdeck follows (API client).

use crate::client::Client;
use crate::config::Config;
use crate::output::{self, Format};
use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum VendorCmd {
    /// List vendors with their status (unknown ones with the reason).
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Follow a vendor's status page (its statuspage.io address) or RSS/Atom feed.
    Add {
        name: String,
        url: String,
        /// Seconds between polls (30 to 86400; default 300).
        #[arg(long)]
        interval: Option<i64>,
        /// Seconds one poll may take (1 to 60; default 10).
        #[arg(long)]
        timeout: Option<i64>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// One vendor (by name or id) with its components and incidents.
    Show {
        vendor: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Stop following a vendor.
    Delete { vendor: String },
}

use crate::output::text as s;

async fn find(client: &Client, vendor: &str) -> Result<Value> {
    let list = client.get("/api/v1/vendors", &[]).await?;
    match list["items"].as_array().and_then(|a| a.iter().find(|v| v["name"] == vendor || v["id"] == vendor)) {
        Some(v) => Ok(v.clone()),
        None => bail!("no vendor {vendor:?} (give its name or id; `opsdeck vendor list` shows them)"),
    }
}

fn status_line(v: &Value) -> String {
    match v["reason"].as_str() {
        Some(r) => format!("{} ({r})", s(&v["status"])),
        None => s(&v["status"]),
    }
}

fn print_vendor(v: &Value, format: Format) -> Result<()> {
    if format == Format::Json {
        return output::json(v);
    }
    println!("{} ({}): {}", s(&v["name"]), s(&v["url"]), status_line(v));
    let rows: Vec<Vec<String>> = v["components"]
        .as_array()
        .map(|cs| cs.iter().map(|c| vec![s(&c["name"]), s(&c["group"]), s(&c["status"])]).collect())
        .unwrap_or_default();
    if !rows.is_empty() {
        output::table(&["component", "group", "status"], &rows);
    }
    for i in v["incidents"].as_array().into_iter().flatten() {
        println!("incident: {} ({})", s(&i["name"]), s(&i["status"]));
    }
    Ok(())
}

pub async fn vendor_cmd(c: VendorCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        VendorCmd::List { output } => {
            let list = client.get("/api/v1/vendors", &[]).await?;
            if output == Format::Json {
                return output::json(&list);
            }
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no vendors yet: follow one with `opsdeck vendor add NAME URL`");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|v| {
                    let n = v["components"].as_array().map_or(0, Vec::len);
                    vec![s(&v["name"]), status_line(v), n.to_string(), s(&v["checked_at"]), s(&v["id"])]
                })
                .collect();
            output::table(&["vendor", "status", "components", "checked", "id"], &rows);
            Ok(())
        }
        VendorCmd::Add { name, url, interval, timeout, output } => {
            let body = json!({"name": name, "url": url, "interval_seconds": interval, "timeout_seconds": timeout});
            let v = client.post("/api/v1/vendors", &body).await?;
            print_vendor(&v, output)
        }
        VendorCmd::Show { vendor, output } => print_vendor(&find(&client, &vendor).await?, output),
        VendorCmd::Delete { vendor } => {
            let v = find(&client, &vendor).await?;
            client.delete(&format!("/api/v1/vendors/{}", s(&v["id"]))).await?;
            eprintln!("no longer following {}", s(&v["name"]));
            Ok(())
        }
    }
}
