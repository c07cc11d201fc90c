//! `opsdeck slo …`: service level objectives from a terminal (API client).

use crate::client::Client;
use crate::config::Config;
use crate::output::{self, Format};
use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum SloCmd {
    /// List SLOs with their SLI, budget left and what fires now.
    List {
        /// Only this service's (id).
        #[arg(long)]
        service: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Show one SLO with its burn rates.
    Show {
        id: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Define an SLO on a service: availability of monitors (--monitor), their latency
    /// (--monitor with --threshold-ms), pushed counts (--events), or two PromQL queries
    /// (--prometheus-url with --good-query or --bad-query, and --total-query, each holding
    /// {{.window}} where the span goes).
    Create {
        #[arg(long)]
        name: String,
        /// The service's id.
        #[arg(long)]
        service: String,
        /// A monitor id (repeat).
        #[arg(long = "monitor", required_unless_present_any = ["events", "prometheus_url"])]
        monitors: Vec<String>,
        /// With --monitor: a latency SLI, checks answered within this many milliseconds (a
        /// latency bucket bound: 1, 2.5, 5, 10, 25, 50, 75, 100, 150, 250, 400, 600, 1000, …).
        #[arg(long, conflicts_with_all = ["events", "prometheus_url"])]
        threshold_ms: Option<f64>,
        /// Good/total counts pushed with `opsdeck slo push`.
        #[arg(long, conflicts_with_all = ["monitors", "prometheus_url"])]
        events: bool,
        /// The Prometheus server the queries run on.
        #[arg(long, conflicts_with = "monitors", requires = "total_query")]
        prometheus_url: Option<String>,
        #[arg(long, requires = "prometheus_url", conflicts_with = "bad_query")]
        good_query: Option<String>,
        #[arg(long, requires = "prometheus_url")]
        bad_query: Option<String>,
        #[arg(long, requires = "prometheus_url")]
        total_query: Option<String>,
        /// The good share to reach, e.g. 0.999.
        #[arg(long)]
        target: f64,
        /// A rolling window of this many days (default 28).
        #[arg(long, conflicts_with = "calendar_month")]
        rolling_days: Option<i64>,
        /// The calendar month instead, its days beginning in this time zone.
        #[arg(long)]
        calendar_month: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Push good/total counts to an SLO whose SLI is events (now, or --at).
    Push {
        id: String,
        #[arg(long)]
        good: u64,
        #[arg(long)]
        total: u64,
        /// When they happened (RFC 3339; default now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Delete an SLO.
    Delete { id: String },
}

fn s(v: &Value) -> String {
    v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())
}

fn pct(v: &Value) -> String {
    v.as_f64().map_or_else(|| "no data".to_owned(), |f| format!("{:.3} %", f * 100.0))
}

fn print(slo: &Value, format: Format) -> Result<()> {
    if format == Format::Json {
        return output::json(slo);
    }
    println!("{} ({})", s(&slo["name"]), s(&slo["id"]));
    println!(
        "  target {}  SLI {}  budget left {}",
        pct(&slo["target"]),
        pct(&slo["sli_value"]),
        pct(&slo["error_budget_remaining"])
    );
    let num = |v: &Value| v.as_f64().map_or_else(|| "-".to_owned(), |f| format!("{f}"));
    println!(
        "  {} SLI: {} good of {} since {}",
        s(&slo["sli"]["type"]),
        num(&slo["good"]),
        num(&slo["total"]),
        s(&slo["window_start"])
    );
    if let Some(why) = slo["source_error"].as_str() {
        println!("  cannot read the SLI now: {why}");
    }
    if let Some(rates) = slo["burn_rates"].as_object() {
        let line: Vec<String> = rates
            .iter()
            .map(|(k, v)| format!("{k} {}", v.as_f64().map_or_else(|| "-".to_owned(), |r| format!("{r:.2}×"))))
            .collect();
        println!("  burn {}", line.join("  "));
    }
    for a in slo["alerts"].as_array().into_iter().flatten() {
        println!(
            "  FIRING {}: {}× over {} and {}",
            s(&a["urgency"]),
            a["factor"],
            s(&a["long_window"]),
            s(&a["short_window"])
        );
    }
    Ok(())
}

pub async fn slo_cmd(c: SloCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        SloCmd::List { service, output } => {
            let query: Vec<(&str, String)> = service.map(|v| vec![("service_id", v)]).unwrap_or_default();
            let list = client.get("/api/v1/slos", &query).await?;
            if output == Format::Json {
                return output::json(&list["items"]);
            }
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!(
                    "no SLOs yet: create one with `opsdeck slo create --name … --service … --monitor … --target 0.999`"
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|x| {
                    let firing =
                        x["alerts"].as_array().and_then(|a| a.first()).map_or_else(String::new, |a| s(&a["urgency"]));
                    vec![
                        s(&x["name"]),
                        pct(&x["target"]),
                        pct(&x["sli_value"]),
                        pct(&x["error_budget_remaining"]),
                        firing,
                        s(&x["id"]),
                    ]
                })
                .collect();
            output::table(&["name", "target", "SLI", "budget left", "firing", "id"], &rows);
            Ok(())
        }
        SloCmd::Show { id, output } => print(&client.get(&format!("/api/v1/slos/{id}"), &[]).await?, output),
        SloCmd::Create {
            name,
            service,
            monitors,
            threshold_ms,
            events,
            prometheus_url,
            good_query,
            bad_query,
            total_query,
            target,
            rolling_days,
            calendar_month,
            output,
        } => {
            let window = match calendar_month {
                Some(tz) => json!({"calendar_month": true, "time_zone": tz}),
                None => json!({"rolling_days": rolling_days.unwrap_or(28)}),
            };
            let sli = match (events, prometheus_url) {
                (true, _) => json!({"type": "events"}),
                (false, Some(url)) => {
                    let mut sli = json!({"type": "prometheus", "prometheus_url": url, "total_query": total_query});
                    match (good_query, bad_query) {
                        (Some(g), _) => sli["good_query"] = json!(g),
                        (None, Some(b)) => sli["bad_query"] = json!(b),
                        (None, None) => anyhow::bail!("give --good-query or --bad-query"),
                    }
                    sli
                }
                (false, None) => match threshold_ms {
                    Some(t) => json!({"type": "latency", "monitor_ids": monitors, "threshold_ms": t}),
                    None => json!({"type": "availability", "monitor_ids": monitors}),
                },
            };
            let body = json!({"name": name, "service_id": service, "target": target, "window": window, "sli": sli});
            print(&client.post("/api/v1/slos", &body).await?, output)
        }
        SloCmd::Push { id, good, total, at } => {
            let at = at.unwrap_or_else(|| chrono::Utc::now().to_rfc3339());
            let body = json!({"events": [{"at": at, "good": good, "total": total}]});
            client.post(&format!("/api/v1/slos/{id}/events"), &body).await?;
            eprintln!("pushed {good} good of {total} to SLO {id}");
            Ok(())
        }
        SloCmd::Delete { id } => {
            client.delete(&format!("/api/v1/slos/{id}")).await?;
            eprintln!("deleted SLO {id}");
            Ok(())
        }
    }
}
