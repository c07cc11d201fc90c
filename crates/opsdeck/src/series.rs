//! `opsdeck series …`: metric series for capacity forecasts (API client).

use crate::client::Client;
use crate::config::Config;
use crate::output::{self, Format};
use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum SeriesCmd {
    /// List series with their last value.
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Push one value (the series is created on the first push).
    Push {
        name: String,
        value: f64,
        /// When it was measured (RFC 3339); default now.
        #[arg(long)]
        at: Option<String>,
    },
    /// Forecast a series: its trend, 95 % band and when it reaches a capacity.
    Forecast {
        name: String,
        #[arg(long)]
        capacity: Option<f64>,
        /// linear (default) or holt.
        #[arg(long)]
        method: Option<String>,
        #[arg(long)]
        training_days: Option<i64>,
        #[arg(long)]
        horizon_days: Option<i64>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Alert on a service when the forecast reaches a capacity soon (--capacity with
    /// --within-days) or the newest hour is anomalous (--anomalies); --off stops it.
    Alert {
        name: String,
        /// The service's id.
        #[arg(long, required_unless_present = "off")]
        service: Option<String>,
        #[arg(long, requires = "within_days")]
        capacity: Option<f64>,
        #[arg(long, requires = "capacity")]
        within_days: Option<i64>,
        #[arg(long)]
        anomalies: bool,
        /// linear (default) or holt.
        #[arg(long)]
        method: Option<String>,
        #[arg(long)]
        training_days: Option<i64>,
        #[arg(long, conflicts_with_all = ["service", "capacity", "anomalies"])]
        off: bool,
    },
    /// Delete a series and its points.
    Delete { name: String },
}

fn days(v: &Value) -> String {
    v.as_f64().map(|s| format!("{:.1} days", s / 86_400.0)).unwrap_or_else(|| "—".into())
}

pub async fn series_cmd(cmd: SeriesCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match cmd {
        SeriesCmd::List { output: fmt } => {
            let list = client.get("/api/v1/series", &[]).await?;
            if fmt == Format::Json {
                return output::json(&list);
            }
            let rows: Vec<Vec<String>> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    vec![
                        output::text(&s["name"]),
                        s["last_value"].to_string(),
                        output::text(&s["last_at"]),
                        s["points"].to_string(),
                    ]
                })
                .collect();
            output::table(&["name", "last value", "last at", "points"], &rows);
            Ok(())
        }
        SeriesCmd::Push { name, value, at } => {
            let at = at.unwrap_or_else(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            let r = client
                .post(&format!("/api/v1/series/{name}/points"), &json!({"points": [{"at": at, "value": value}]}))
                .await?;
            println!(
                "{}: {} points, last {}",
                output::text(&r["series"]["name"]),
                r["series"]["points"],
                r["series"]["last_value"]
            );
            Ok(())
        }
        SeriesCmd::Forecast { name, capacity, method, training_days, horizon_days, output: fmt } => {
            let mut q: Vec<(&str, String)> = Vec::new();
            if let Some(c) = capacity {
                q.push(("capacity", c.to_string()));
            }
            if let Some(m) = method {
                q.push(("method", m));
            }
            if let Some(d) = training_days {
                q.push(("training_days", d.to_string()));
            }
            if let Some(d) = horizon_days {
                q.push(("horizon_days", d.to_string()));
            }
            let f = client.get(&format!("/api/v1/series/{name}/forecast"), &q).await?;
            if fmt == Format::Json {
                return output::json(&f);
            }
            println!(
                "{} ({}, {} points)",
                output::text(&f["series"]),
                output::text(&f["method"]),
                f["training_points"]
            );
            println!(
                "value now {:.2}, trend {:+.2} per day",
                f["value_now"].as_f64().unwrap_or(0.0),
                f["slope_per_day"].as_f64().unwrap_or(0.0)
            );
            if capacity.is_some() {
                match f["time_to_exhaustion_seconds"].as_f64() {
                    Some(_) => println!(
                        "reaches the capacity in {} (between {} and {}), at {}",
                        days(&f["time_to_exhaustion_seconds"]),
                        days(&f["lower"]),
                        days(&f["upper"]),
                        output::text(&f["exhausts_at"])
                    ),
                    None => println!("does not reach the capacity within five years"),
                }
            }
            Ok(())
        }
        SeriesCmd::Alert { name, service, capacity, within_days, anomalies, method, training_days, off } => {
            let path = format!("/api/v1/series/{name}/alert");
            if off {
                client.delete(&path).await?;
                println!("series {name} no longer alerts");
                return Ok(());
            }
            let body = serde_json::json!({"service_id": service, "capacity": capacity, "within_days": within_days,
                "anomalies": anomalies, "method": method, "training_days": training_days});
            let s = client.put(&path, &body).await?;
            println!("series {name} alerts on service {}", s["alert"]["service_id"].as_str().unwrap_or("?"));
            Ok(())
        }
        SeriesCmd::Delete { name } => {
            client.delete(&format!("/api/v1/series/{name}")).await?;
            println!("deleted series {name}");
            Ok(())
        }
    }
}
