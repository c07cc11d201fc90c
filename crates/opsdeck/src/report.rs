//! `opsdeck report`: the operations KPI report of a month or a span (API client), as a table,
//! JSON (the API's object), CSV or the printable HTML page.

use crate::client::Client;
use crate::config::Config;
use crate::output;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde_json::Value;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    #[default]
    Table,
    Json,
    Csv,
    Html,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A calendar month in UTC, e.g. 2026-10 (compared with the month before).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    period: Option<String>,
    /// Start: a date (2026-10-01) or an RFC 3339 time; default 30 days before --to.
    #[arg(long)]
    from: Option<String>,
    /// End, exclusive; default now.
    #[arg(long)]
    to: Option<String>,
    /// Only this service (id or slug).
    #[arg(long)]
    service: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: ReportFormat,
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long)]
    out: Option<PathBuf>,
}

fn pct(v: &Value) -> String {
    v.as_f64().map(|f| format!("{:.3} %", f * 100.0)).unwrap_or_else(|| "no data".into())
}

fn secs(v: &Value) -> String {
    v.as_f64().map(|s| format!("{:.0} s", s)).unwrap_or_else(|| "—".into())
}

fn table(r: &Value) {
    let p = &r["previous"];
    println!("Operations report {}", output::text(&r["period"]["label"]));
    let rows = vec![
        vec!["availability (SLA)".into(), pct(&r["availability"]["adjusted"]), pct(&p["availability"]["adjusted"])],
        vec!["availability (raw)".into(), pct(&r["availability"]["raw"]), pct(&p["availability"]["raw"])],
        vec!["incidents".into(), r["incidents"].to_string(), p["incidents"].to_string()],
        vec!["MTTD".into(), secs(&r["mttd_seconds"]), secs(&p["mttd_seconds"])],
        vec!["MTTA".into(), secs(&r["mtta_seconds"]), secs(&p["mtta_seconds"])],
        vec!["MTTR (restore)".into(), secs(&r["mttr_seconds"]), secs(&p["mttr_seconds"])],
    ];
    output::table(&["kpi", "this period", "previous"], &rows);
    let services: Vec<Vec<String>> = r["services"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| vec![output::text(&s["name"]), pct(&s["availability"]["adjusted"]), pct(&s["availability"]["raw"])])
        .collect();
    if !services.is_empty() {
        println!();
        output::table(&["service", "sla", "raw"], &services);
    }
}

pub async fn report(a: ReportArgs, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    let mut q: Vec<(&str, String)> = Vec::new();
    for (name, v) in [("period", &a.period), ("from", &a.from), ("to", &a.to), ("service_id", &a.service)] {
        if let Some(v) = v {
            q.push((name, v.clone()));
        }
    }
    let text = match a.format {
        ReportFormat::Table => {
            table(&client.get("/api/v1/reports/kpi", &q).await?);
            return Ok(());
        }
        ReportFormat::Json => serde_json::to_string_pretty(&client.get("/api/v1/reports/kpi", &q).await?)? + "\n",
        ReportFormat::Csv => client.get_text("/api/v1/reports/kpi.csv", &q).await?,
        ReportFormat::Html => client.get_text("/api/v1/reports/kpi.html", &q).await?,
    };
    match a.out {
        Some(path) => std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
