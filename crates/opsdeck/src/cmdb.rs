//! `opsdeck cmdb …` (CIs, relations, impact, imports) and `opsdeck inventory` (the CMDB as an
//! Ansible dynamic inventory script), all through the API.

use crate::client::Client;
use crate::config::Config;
use crate::output::{self, Format, text as s};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum CmdbCmd {
    /// List CIs, optionally matching a search (every word matches a word's start).
    List {
        query: Option<String>,
        #[arg(long)]
        class: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Create a CI.
    Add {
        name: String,
        /// server, vm, container, network_device, database, application, business_service,
        /// cloud_resource, saas_app, licence, storage or other.
        #[arg(long)]
        class: String,
        #[arg(long)]
        identity: Option<String>,
        #[arg(long)]
        environment: Option<String>,
        /// Repeat for several: `--attr os=debian --attr cpus=4`.
        #[arg(long = "attr", value_parser = parse_attr)]
        attributes: Vec<(String, String)>,
    },
    /// Show a CI (by id, identity or name) with its relations and monitors.
    Show { ci: String },
    /// Relate two CIs: `opsdeck cmdb relate web depends_on db`.
    Relate {
        source: String,
        /// depends_on, runs_on, hosted_on, contains, connects_to or member_of.
        kind: String,
        target: String,
    },
    /// What breaks if a CI fails (or with --depends-on, what it relies on).
    Impact {
        ci: String,
        #[arg(long)]
        depth: Option<u32>,
        #[arg(long)]
        depends_on: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Import CIs and relations from a file: upsert by identity, all or nothing.
    Import(ImportArgs),
    /// Custom attribute definitions per class.
    #[command(subcommand)]
    Attribute(crate::cmdb_attributes::AttributeCmd),
    /// Contracts with vendors and the CIs they cover.
    #[command(subcommand)]
    Contract(crate::contracts::ContractCmd),
    /// Show who gets lifecycle reminders, or set it: `--to a@example.com --lead 90 --lead 30`.
    Reminders {
        /// A recipient's e-mail address; repeat for several (replaces the list).
        #[arg(long)]
        to: Vec<String>,
        /// A lead time in days; repeat for several (replaces the list).
        #[arg(long)]
        lead: Vec<i64>,
        /// Turn reminders off (no recipients).
        #[arg(long, conflicts_with = "to")]
        off: bool,
    },
    /// Warranties, vendor support and lives, and contracts' notice deadlines, ends and renewals
    /// within --days (default 90), or past.
    Lifecycle {
        #[arg(long)]
        days: Option<u32>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// terraform (`terraform show -json` or a state file), ansible (`ansible-inventory --list`), csv or json.
    #[arg(long)]
    format: String,
    file: PathBuf,
    /// Print what would change and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// CIs an earlier import of this source made that the file no longer lists: ignore, stale or retire.
    #[arg(long, default_value = "ignore")]
    missing: String,
    /// The provenance stamp (default: the format), e.g. `terraform:prod`.
    #[arg(long)]
    source: Option<String>,
}

#[derive(Args, Debug)]
pub struct InventoryArgs {
    /// Print the whole inventory (what Ansible asks an inventory script for).
    #[arg(long, conflicts_with = "host")]
    list: bool,
    /// Print one host's variables.
    #[arg(long)]
    host: Option<String>,
}

fn parse_attr(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .ok_or_else(|| "write key=value".to_owned())
}

/// The CI a person names: an id, an identity, or a name only one CI has.
pub(crate) async fn resolve(client: &Client, reference: &str) -> Result<Value> {
    if let Ok(id) = reference.parse::<uuid::Uuid>() {
        return client.get(&format!("/api/v1/cis/{id}"), &[]).await;
    }
    let page = client.get("/api/v1/cis", &[("q", reference.to_owned()), ("limit", "500".into())]).await?;
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let exact: Vec<&Value> = items.iter().filter(|c| c["identity"] == reference).collect();
    let exact = if exact.is_empty() { items.iter().filter(|c| c["name"] == reference).collect() } else { exact };
    match exact.as_slice() {
        [one] => client.get(&format!("/api/v1/cis/{}", s(&one["id"])), &[]).await,
        [] => bail!("no CI is named or identified {reference:?} (`opsdeck cmdb list` shows them)"),
        _ => bail!("several CIs are named {reference:?}; give its identity or id"),
    }
}

pub async fn cmdb_cmd(c: CmdbCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        CmdbCmd::List { query, class, output } => {
            let mut q = vec![("limit", "500".to_owned())];
            q.extend(query.map(|v| ("q", v)));
            q.extend(class.map(|v| ("class", v)));
            let page = client.get("/api/v1/cis", &q).await?;
            if output == Format::Json {
                return output::json(&page);
            }
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no CIs match: add one with `opsdeck cmdb add NAME --class server` or import a file");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|c| vec![s(&c["name"]), s(&c["class"]), s(&c["status"]), s(&c["identity"]), s(&c["id"])])
                .collect();
            output::table(&["name", "class", "status", "identity", "id"], &rows);
            Ok(())
        }
        CmdbCmd::Add { name, class, identity, environment, attributes } => {
            let attrs: serde_json::Map<String, Value> =
                attributes.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let body = json!({"name": name, "class": class, "identity": identity, "environment": environment,
                "attributes": attrs});
            let ci = client.post("/api/v1/cis", &body).await?;
            eprintln!("created CI {} ({})", s(&ci["name"]), s(&ci["class"]));
            println!("{}", s(&ci["id"]));
            Ok(())
        }
        CmdbCmd::Show { ci } => {
            let c = resolve(&client, &ci).await?;
            println!("{} ({}, {})", s(&c["name"]), s(&c["class"]), s(&c["status"]));
            for key in ["identity", "environment", "location", "owner_team_name", "service_name", "source"] {
                if !c[key].is_null() {
                    println!("  {key}: {}", s(&c[key]));
                }
            }
            if let Some(attrs) = c["attributes"].as_object() {
                for (k, v) in attrs {
                    println!("  {k} = {}", v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()));
                }
            }
            for r in c["relations"].as_array().into_iter().flatten() {
                println!("  {} {} ({})", s(&r["label"]).to_lowercase(), s(&r["other_name"]), s(&r["other_class"]));
            }
            for m in c["monitors"].as_array().into_iter().flatten() {
                println!("  monitor {} [{}]", s(&m["name"]), s(&m["state"]));
            }
            Ok(())
        }
        CmdbCmd::Relate { source, kind, target } => {
            let (a, b) = (resolve(&client, &source).await?, resolve(&client, &target).await?);
            let r = client
                .post("/api/v1/ci-relations", &json!({"source_id": a["id"], "target_id": b["id"], "type": kind}))
                .await?;
            eprintln!("{} {} {}", s(&a["name"]), s(&r["label"]).to_lowercase(), s(&b["name"]));
            Ok(())
        }
        CmdbCmd::Impact { ci, depth, depends_on, output } => {
            let c = resolve(&client, &ci).await?;
            let mut q = vec![("direction", if depends_on { "depends_on" } else { "impact" }.to_owned())];
            q.extend(depth.map(|d| ("depth", d.to_string())));
            let answer = client.get(&format!("/api/v1/cis/{}/impact", s(&c["id"])), &q).await?;
            if output == Format::Json {
                return output::json(&answer);
            }
            let items = answer["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!(
                    "nothing: {} {}",
                    s(&c["name"]),
                    if depends_on { "relies on no CI" } else { "impacts no other CI" }
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|i| {
                    let svc = if i["service"] == true { "service" } else { "" };
                    vec![s(&i["name"]), s(&i["class"]), i["depth"].to_string(), svc.to_owned()]
                })
                .collect();
            output::table(&["ci", "class", "depth", ""], &rows);
            Ok(())
        }
        CmdbCmd::Import(a) => import(&client, a).await,
        CmdbCmd::Attribute(c) => crate::cmdb_attributes::attribute_cmd(&client, c).await,
        CmdbCmd::Contract(c) => crate::contracts::contract_cmd(&client, c).await,
        CmdbCmd::Reminders { to, lead, off } => crate::contracts::reminders_cmd(&client, to, lead, off).await,
        CmdbCmd::Lifecycle { days, output } => {
            let q: Vec<(&str, String)> = days.map(|d| vec![("within_days", d.to_string())]).unwrap_or_default();
            let report = client.get("/api/v1/cmdb/lifecycle", &q).await?;
            if output == Format::Json {
                return output::json(&report);
            }
            let items = report["items"].as_array().cloned().unwrap_or_default();
            let contracts = report["contracts"].as_array().cloned().unwrap_or_default();
            if items.is_empty() && contracts.is_empty() {
                eprintln!("nothing ends within {} days", days.unwrap_or(90));
                return Ok(());
            }
            let mut rows: Vec<Vec<String>> = items
                .iter()
                .map(|i| vec![s(&i["date"]), i["days_left"].to_string(), s(&i["event"]), s(&i["name"]), s(&i["class"])])
                .collect();
            rows.extend(contracts.iter().map(|c| {
                vec![
                    s(&c["date"]),
                    c["days_left"].to_string(),
                    s(&c["event"]),
                    s(&c["name"]),
                    format!("contract, {}", s(&c["vendor"])),
                ]
            }));
            rows.sort();
            output::table(&["date", "days left", "what", "name", "class"], &rows);
            Ok(())
        }
    }
}

async fn import(client: &Client, a: ImportArgs) -> Result<()> {
    let bytes = std::fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let mut q = vec![("format", a.format.clone()), ("dry_run", a.dry_run.to_string()), ("missing", a.missing)];
    q.extend(a.source.map(|v| ("source", v)));
    let r = client.post_file("/api/v1/cmdb/import", &q, bytes).await?;
    let verb = if a.dry_run { "would be" } else { "were" };
    for c in r["changes"].as_array().into_iter().flatten() {
        let fields: Vec<String> = c["fields"].as_array().into_iter().flatten().map(s).collect();
        let detail = if fields.is_empty() { String::new() } else { format!(" ({})", fields.join(", ")) };
        println!("{:<7} {}{detail}", s(&c["action"]), s(&c["identity"]));
    }
    eprintln!(
        "{} CIs {verb} created, {} updated, {} unchanged; {} no longer listed ({} marked); {} relations {verb} \
         created, {} kept, {} removed{}",
        r["created"],
        r["updated"],
        r["unchanged"],
        r["missing"],
        r["missing_changed"],
        r["relations_created"],
        r["relations_kept"],
        r["relations_removed"],
        if a.dry_run { " (dry run: nothing changed)" } else { "" }
    );
    Ok(())
}

/// `opsdeck inventory --list | --host NAME`: prints what Ansible asks an inventory script for.
pub async fn inventory_cmd(a: InventoryArgs, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    let q: Vec<(&str, String)> = a.host.map(|h| vec![("host", h)]).unwrap_or_default();
    if !a.list && q.is_empty() {
        bail!("pass --list (the whole inventory) or --host NAME");
    }
    let doc = client.get("/api/v1/cmdb/inventory", &q).await?;
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
