//! `opsdeck import …`: moving from PagerDuty, Uptime Kuma or Gatus (API client, admins). Each
//! prints the plan (`--dry-run`) or the report: what was created, updated, left unchanged or
//! adopted, what could not be mapped and why, the on-call equivalence check, and new keys.

use crate::client::Client;
use crate::config::Config;
use crate::output::{self, Format, text as s};
use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ImportCmd {
    /// A PagerDuty account through its REST API v2 (a read-only API key is enough), or from a
    /// directory of its saved JSON responses (`--from-dir`).
    Pagerduty {
        /// e.g. https://api.pagerduty.com (or https://api.eu.pagerduty.com).
        #[arg(long, default_value = "https://api.pagerduty.com")]
        api_url: String,
        /// A directory with users.json, teams.json, schedules.json, overrides.json (by schedule
        /// id), escalation_policies.json, services.json, maintenance_windows.json: each a list,
        /// or the API's page holding it; missing files are empty. No API key is needed.
        #[arg(long, conflicts_with = "source_token")]
        from_dir: Option<PathBuf>,
        /// The PagerDuty API key. `--token KEY` after `pagerduty` gives it too; the Opsdeck
        /// token then comes from OPSDECK_TOKEN.
        #[arg(long = "source-token", env = "PAGERDUTY_TOKEN", hide_env_values = true)]
        source_token: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// An Opsgenie account through its REST API v2 (an API key with read and configuration access).
    Opsgenie {
        /// e.g. https://api.opsgenie.com (or https://api.eu.opsgenie.com).
        #[arg(long, default_value = "https://api.opsgenie.com")]
        api_url: String,
        /// The Opsgenie API key. `--token KEY` after `opsgenie` gives it too; the Opsdeck token
        /// then comes from OPSDECK_TOKEN.
        #[arg(long = "source-token", env = "OPSGENIE_TOKEN", hide_env_values = true)]
        source_token: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// A Grafana OnCall instance through its public API v1 (`--api-url` its …/api/v1 root).
    GrafanaOncall {
        #[arg(long)]
        api_url: String,
        /// An OnCall API token. `--token KEY` after `grafana-oncall` gives it too; the Opsdeck
        /// token then comes from OPSDECK_TOKEN.
        #[arg(long = "source-token", env = "GRAFANA_ONCALL_TOKEN", hide_env_values = true)]
        source_token: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// An Uptime Kuma database (data/kuma.db; stop Kuma or copy it first).
    UptimeKuma {
        #[arg(long)]
        db: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// A Gatus configuration file (YAML): `--config config.yaml` (Opsdeck's own configuration
    /// file then comes from OPSDECK_CONFIG) or `--file config.yaml`.
    Gatus {
        #[arg(long)]
        file: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Apply a run planned with --dry-run (once).
    Apply {
        id: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// The newest runs.
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
}

#[derive(clap::Args, Debug)]
pub struct Common {
    /// Only print the plan; nothing is written (apply it later with `opsdeck import apply ID`).
    #[arg(long)]
    dry_run: bool,
    /// Tells two accounts or files of one kind apart (their ids are kept per instance).
    #[arg(long)]
    instance: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

fn print_run(run: &Value, format: Format) -> Result<()> {
    if format == Format::Json {
        return output::json(run);
    }
    let r = &run["report"];
    let c = &r["counts"];
    let planned = s(&run["status"]) == "planned";
    let (verb, create, update) =
        if planned { ("Plan", "to create", "to update") } else { ("Report", "created", "updated") };
    println!(
        "{verb} of import {} from {}: {} {create}, {} {update}, {} unchanged, {} adopted, {} errors, {} not mappable",
        s(&run["id"]),
        s(&run["source"]),
        c["create"],
        c["update"],
        c["unchanged"],
        c["adopt"],
        c["error"],
        c["unmapped"]
    );
    let steps: Vec<Vec<String>> = r["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| vec![s(&x["action"]), s(&x["kind"]), s(&x["name"]), s(&x["source_id"]), s(&x["note"])])
        .collect();
    if !steps.is_empty() {
        output::table(&["action", "kind", "name", "source id", "note"], &steps);
    }
    let unmapped: Vec<Vec<String>> = r["unmapped"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| vec![s(&x["what"]), s(&x["name"]), s(&x["source_id"]), s(&x["reason"])])
        .collect();
    if !unmapped.is_empty() {
        println!("\nNot mapped:");
        output::table(&["what", "name", "source id", "why"], &unmapped);
    }
    for e in r["equivalence"].as_array().into_iter().flatten() {
        if e["same"] == true {
            println!("\nOn call in {}: the same as the source for the next 8 weeks", s(&e["name"]));
            continue;
        }
        println!("\nOn call in {}: differs from the source", s(&e["name"]));
        for d in e["differences"].as_array().into_iter().flatten() {
            let who = |v: &Value| v.as_str().unwrap_or("nobody").to_owned();
            println!(
                "  {} – {}: source {}, Opsdeck {}",
                s(&d["start"]),
                s(&d["end"]),
                who(&d["source"]),
                who(&d["opsdeck"])
            );
        }
    }
    for k in r["keys"].as_array().into_iter().flatten() {
        let key = k["key"].as_str().unwrap_or("(made when applied)");
        let url = s(&k["ingest_url"]);
        println!(
            "\nSwitch {} / {} (old key {}) to key {key} at {url}",
            s(&k["service"]),
            s(&k["integration"]),
            s(&k["old_key_hint"])
        );
    }
    if let Some(e) = run["error"].as_str() {
        println!("failed: {e}");
    }
    Ok(())
}

fn query(c: &Common) -> Vec<(&'static str, String)> {
    let mut q = vec![("dry_run", c.dry_run.to_string())];
    if let Some(i) = &c.instance {
        q.push(("instance", i.clone()));
    }
    q
}

/// Whether the command line names `flag` after the word `after` (the import's source): a
/// `--token` or `--config` before it is Opsdeck's own and never goes to the vendor.
fn flag_given(after: &str, flag: &str) -> bool {
    let args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let Some(at) = args.iter().position(|a| a == after) else { return false };
    args[at + 1..].iter().any(|a| a == flag || a.starts_with(&format!("{flag}=")))
}

/// The guides' interface reuses two global flags: after `import pagerduty`, `--token` is the
/// vendor's key (Opsdeck's token then comes from OPSDECK_TOKEN); after `import gatus`,
/// `--config` is the Gatus file (Opsdeck's configuration from OPSDECK_CONFIG). Called before the
/// configuration is loaded.
pub fn claim_flags(cli: &mut crate::cli::Cli) {
    let crate::cli::Command::Import(cmd) = &mut cli.command else { return };
    let vendor_key = match cmd {
        ImportCmd::Pagerduty { source_token, .. } => Some(("pagerduty", source_token)),
        ImportCmd::Opsgenie { source_token, .. } => Some(("opsgenie", source_token)),
        ImportCmd::GrafanaOncall { source_token, .. } => Some(("grafana-oncall", source_token)),
        ImportCmd::Gatus { file, .. } => {
            if file.is_none() && flag_given("gatus", "--config") {
                *file = cli.global.config.take();
                cli.global.config = std::env::var_os("OPSDECK_CONFIG").map(PathBuf::from);
            }
            None
        }
        _ => None,
    };
    if let Some((source, key)) = vendor_key
        && key.is_none()
        && flag_given(source, "--token")
    {
        *key = cli.global.token.take();
        cli.global.token = std::env::var("OPSDECK_TOKEN").ok();
    }
}

/// The saved responses in `dir` as one export document.
fn export_from(dir: &std::path::Path) -> Result<Vec<u8>> {
    let mut doc = serde_json::Map::new();
    let lists = ["users", "teams", "schedules", "escalation_policies", "services", "maintenance_windows"];
    for key in lists.into_iter().chain(["overrides"]) {
        let path = dir.join(format!("{key}.json"));
        if !path.exists() {
            continue;
        }
        let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let v: Value = serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        // A list, or the API's page holding it under its name.
        let v = match v {
            Value::Object(mut o) if key != "overrides" => o
                .remove(key)
                .with_context(|| format!("{} is neither a list nor a page with a {key:?} list", path.display()))?,
            v => v,
        };
        doc.insert(key.to_owned(), v);
    }
    anyhow::ensure!(!doc.is_empty(), "{} holds none of users.json, teams.json, schedules.json, …", dir.display());
    Ok(serde_json::to_vec(&Value::Object(doc))?)
}

async fn vendor(client: &Client, source: &str, api_url: String, token: Option<String>, common: Common) -> Result<()> {
    let token = token.context("give the vendor's API key: --token KEY (Opsdeck's token in OPSDECK_TOKEN)")?;
    let body = json!({"api_url": api_url, "token": token, "instance": common.instance, "dry_run": common.dry_run});
    print_run(&client.post_slow(&format!("/api/v1/imports/{source}"), &body).await?, common.output)
}

pub async fn import_cmd(c: ImportCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        ImportCmd::Pagerduty { from_dir: Some(dir), common, .. } => {
            let body = export_from(&dir)?;
            print_run(
                &client.post_file("/api/v1/imports/pagerduty-export", &query(&common), body).await?,
                common.output,
            )
        }
        ImportCmd::Pagerduty { api_url, source_token, common, .. } => {
            vendor(&client, "pagerduty", api_url, source_token, common).await
        }
        ImportCmd::Opsgenie { api_url, source_token, common } => {
            vendor(&client, "opsgenie", api_url, source_token, common).await
        }
        ImportCmd::GrafanaOncall { api_url, source_token, common } => {
            vendor(&client, "grafana-oncall", api_url, source_token, common).await
        }
        ImportCmd::UptimeKuma { db, common } => {
            let file = std::fs::read(&db).with_context(|| format!("cannot read {}", db.display()))?;
            print_run(&client.post_file("/api/v1/imports/uptime-kuma", &query(&common), file).await?, common.output)
        }
        ImportCmd::Gatus { file, common } => {
            let path = file.context("give the Gatus file: --config config.yaml")?;
            let file = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            print_run(&client.post_file("/api/v1/imports/gatus", &query(&common), file).await?, common.output)
        }
        ImportCmd::Apply { id, output } => {
            print_run(&client.post_slow(&format!("/api/v1/imports/{id}/apply"), &json!({})).await?, output)
        }
        ImportCmd::List { output } => {
            let list = client.get("/api/v1/imports", &[]).await?;
            if output == Format::Json {
                return output::json(&list);
            }
            let rows: Vec<Vec<String>> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let c = &r["counts"];
                    let counts = format!("{} new, {} changed, {} errors", c["create"], c["update"], c["error"]);
                    vec![s(&r["created_at"]), s(&r["source"]), s(&r["status"]), counts, s(&r["id"])]
                })
                .collect();
            output::table(&["when", "source", "status", "objects", "id"], &rows);
            Ok(())
        }
    }
}
