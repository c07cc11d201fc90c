//! Command-line interface. Administration commands work on the database directly; everyday
//! commands are API clients of a running server, like kubectl.

use crate::client::Client;
use crate::config::Config;
use crate::output::{self, Format};
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use opsdeck_core::audit::Actor;
use opsdeck_core::clock::{Clock, SystemClock};
use opsdeck_core::role::Role;
use opsdeck_core::{secret, user};
use opsdeck_store::user::{NewUser, UserPatch};
use opsdeck_store::{ConnectOptions, Db};
use serde_json::{Value, json};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(name = "opsdeck", version, about = "IT operations in one binary: catalogue, monitoring, incidents, on-call.")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug)]
pub struct Global {
    /// TOML configuration file (default: ./opsdeck.toml when present).
    #[arg(long, global = true, env = "OPSDECK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and other state.
    #[arg(long, global = true, env = "OPSDECK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB (default: SQLite in the data directory).
    #[arg(long, global = true, env = "OPSDECK_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to serve HTTP on.
    #[arg(long, global = true, env = "OPSDECK_LISTEN")]
    pub listen: Option<String>,
    /// Mark session cookies Secure (when served over HTTPS).
    #[arg(long, global = true, env = "OPSDECK_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Log filter, e.g. info or opsdeck=debug.
    #[arg(long, global = true, env = "OPSDECK_LOG")]
    pub log: Option<String>,
    /// Largest number of database connections this process opens.
    #[arg(long, global = true, env = "OPSDECK_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,
    /// Alert events queued for writing, at most (default 20000); beyond it ingest answers 429.
    #[arg(long, global = true, env = "OPSDECK_INGEST_QUEUE")]
    pub ingest_queue: Option<usize>,
    /// Where people reach this server, for links in notifications (default http://LISTEN).
    #[arg(long, global = true, env = "OPSDECK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Server URL for client commands.
    #[arg(long, global = true, env = "OPSDECK_SERVER")]
    pub server: Option<String>,
    /// API token for client commands.
    #[arg(long, global = true, env = "OPSDECK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve {
        /// Fill an empty database with a demo organisation and print how to sign in.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts (works on the database directly).
    #[command(subcommand)]
    User(UserCmd),
    /// Manage API tokens (works on the database directly).
    #[command(subcommand)]
    Token(TokenCmd),
    /// Work with the service catalogue (API client: --server, --token).
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Work with monitors (API client: --server, --token).
    #[command(subcommand)]
    Monitor(MonitorCmd),
    /// Incidents: list, show, acknowledge, resolve, add notes, declare.
    #[command(subcommand)]
    Incident(crate::incidents::IncidentCmd),
    /// Send alert events (PagerDuty Events API v2) to an integration.
    #[command(subcommand)]
    Event(crate::incidents::EventCmd),
    /// Who is on call.
    #[command(subcommand)]
    Oncall(crate::incidents::OnCallCmd),
    /// On-call schedules.
    #[command(subcommand)]
    Schedule(crate::incidents::ScheduleCmd),
    /// Public status pages: list, show, create, set a component's status by hand, delete.
    #[command(subcommand)]
    StatusPage(crate::status_pages::StatusPageCmd),
    /// Third-party vendors' status pages Opsdeck follows: list, add, show, delete.
    #[command(subcommand)]
    Vendor(crate::vendors::VendorCmd),
    /// Service level objectives: list, show (SLI, budget, burn rates), create, delete.
    #[command(subcommand)]
    Slo(crate::slos::SloCmd),
    /// The operations KPI report (availability, MTTD/MTTA/MTTR, incidents, SLOs) of a month or
    /// a span, compared with the period before: a table, JSON, CSV or printable HTML.
    Report(crate::report::ReportArgs),
    /// Metric series for capacity forecasts: list, push a value, forecast, delete.
    #[command(subcommand)]
    Series(crate::series::SeriesCmd),
    /// Declare services and monitors from a YAML file (API client): creates and updates what
    /// differs; `--prune` deletes what the file no longer has; `--dry-run` only prints the plan.
    /// OpenSLO v1, Sloth (prometheus/v1) and Pyrra files declare SLOs.
    Apply {
        #[arg(short = 'f', long)]
        file: PathBuf,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        prune: bool,
        /// The Prometheus server for SLIs whose file names none (Sloth and Pyrra files).
        #[arg(long)]
        prometheus_url: Option<String>,
    },
    /// Write every service and monitor in the `apply` format (API client).
    Export {
        /// Write to this file instead of standard output.
        #[arg(short = 'o', long)]
        out: Option<PathBuf>,
        /// Include monitor secrets (passwords, tokens, header values) in clear; admins only.
        /// Without it they are written as `(set)`, which `apply` reads as "keep the stored one".
        #[arg(long)]
        with_secrets: bool,
        /// Write the SLOs (and their services) as OpenSLO v1 documents instead.
        #[arg(long, conflicts_with = "with_secrets")]
        openslo: bool,
    },
    /// Move a SQLite database into a new PostgreSQL database (all of it, or nothing).
    MigrateDb {
        /// The SQLite database, e.g. sqlite://./opsdeck-data/opsdeck.db (stop the server first).
        #[arg(long)]
        from: String,
        /// The PostgreSQL database, e.g. postgres://opsdeck:PASSWORD@db:5432/opsdeck; it must hold
        /// no accounts yet.
        #[arg(long)]
        to: String,
    },
    /// Run a probe agent: check the monitors of a location and send the results to the server
    /// named by --server, with the agent token given by --token (or OPSDECK_TOKEN).
    Agent {
        /// The location this agent was registered for (e.g. eu-west).
        #[arg(long)]
        location: String,
        /// Keep results that wait for the server in this directory (kept across restarts);
        /// in memory when not given.
        #[arg(long)]
        buffer_dir: Option<PathBuf>,
        /// The most the buffer holds, in MiB; the oldest results are dropped (and counted) first.
        #[arg(long, default_value_t = 64)]
        buffer_max_mb: u64,
        /// Checks run at once.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
    },
    /// Probe agents: list, register (prints the token once), revoke.
    #[command(subcommand)]
    Agents(crate::agent::admin::AgentsCmd),
    /// The CMDB: configuration items, relations, impact analysis and imports.
    #[command(subcommand)]
    Cmdb(crate::cmdb::CmdbCmd),
    /// Change requests: raise, list, show, move (submit, approve, schedule…), accept conflicts.
    #[command(subcommand)]
    Change(crate::changes::ChangeCmd),
    /// Service desk tickets: raise, list (the agent queue), show, reply, move.
    #[command(subcommand)]
    Ticket(crate::tickets::TicketCmd),
    /// Move from another tool: `import pagerduty --api-url URL --token KEY`, `import uptime-kuma
    /// --db kuma.db`, `import gatus --config config.yaml`; `--dry-run` prints the plan.
    #[command(subcommand)]
    Import(crate::imports::ImportCmd),
    /// Speak MCP over stdio for a desktop assistant, through the server's /mcp with the API token
    /// (e.g. Claude Desktop: command `opsdeck`, args `["mcp"]`, env OPSDECK_SERVER and OPSDECK_TOKEN).
    Mcp,
    /// The knowledge base: search, show and write articles.
    #[command(subcommand)]
    Kb(crate::knowledge::KbCmd),
    /// Problems and known errors: list and search, open, move.
    #[command(subcommand)]
    Problem(crate::knowledge::ProblemCmd),
    /// The CMDB as an Ansible dynamic inventory: `opsdeck inventory --list` or `--host NAME`.
    Inventory(crate::cmdb::InventoryArgs),
    /// Write a consistent copy of the SQLite database while the server runs.
    Backup {
        #[arg(long)]
        to: PathBuf,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create an account; the password is read from standard input with --password-stdin.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "viewer")]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Change an account's role.
    SetRole {
        #[arg(long)]
        username: String,
        #[arg(long)]
        role: String,
    },
    /// Set a new password (read from standard input).
    ResetPassword {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create a token and print it (once) on the last line.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        /// Cap the token below the user's role.
        #[arg(long)]
        role: Option<String>,
    },
    /// List tokens (all users, or one with --user).
    List {
        #[arg(long)]
        user: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Revoke a token by id.
    Revoke { id: uuid::Uuid },
}

#[derive(Subcommand, Debug)]
pub enum ServiceCmd {
    /// List services.
    List {
        /// Search text.
        #[arg(long)]
        q: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Create a service.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Owning team id.
        #[arg(long)]
        team_id: Option<uuid::Uuid>,
        #[arg(long)]
        tier: Option<i16>,
        /// Comma-separated tags.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        #[arg(long)]
        runbook_url: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Show one service by id or slug.
    Show {
        service: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
}

#[derive(Subcommand, Debug)]
pub enum MonitorCmd {
    /// List monitors.
    List {
        #[arg(long)]
        q: Option<String>,
        /// up, degraded, down, paused, maintenance or pending.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Show one monitor with its last result.
    Show {
        id: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Create a monitor, e.g. `--type http --settings '{"url": "https://…"}'`.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long = "type")]
        kind: String,
        /// The type's settings as JSON.
        #[arg(long)]
        settings: String,
        #[arg(long)]
        interval: Option<i64>,
        /// Service id.
        #[arg(long)]
        service_id: Option<uuid::Uuid>,
        /// Where it runs from, comma-separated: `server` (Opsdeck itself, the default) and
        /// agents' locations, e.g. `server,eu-central`.
        #[arg(long, value_delimiter = ',')]
        locations: Vec<String>,
        /// How many locations must fail for it to go down (default 1).
        #[arg(long)]
        quorum: Option<i64>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Run a monitor's check now.
    Check { id: String },
    /// Pause a monitor.
    Pause { id: String },
    /// Resume a paused monitor.
    Resume { id: String },
}

async fn monitor_cmd(c: MonitorCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    let row = |m: &Value| {
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
        vec![
            text("id"),
            text("state"),
            text("name"),
            text("type"),
            m["last_result"]["reason"].as_str().unwrap_or("-").chars().take(60).collect(),
        ]
    };
    match c {
        MonitorCmd::List { q, state, limit, output } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(q) = q {
                query.push(("q", q));
            }
            if let Some(s) = state {
                query.push(("state", s));
            }
            let list = client.get("/api/v1/monitors", &query).await?;
            match output {
                Format::Json => output::json(&list)?,
                Format::Table => {
                    let items = list["items"].as_array().cloned().unwrap_or_default();
                    if items.is_empty() {
                        eprintln!("no monitors match");
                    } else {
                        output::table(
                            &["id", "state", "name", "type", "last result"],
                            &items.iter().map(row).collect::<Vec<_>>(),
                        );
                    }
                }
            }
        }
        MonitorCmd::Show { id, output } => {
            let m = client.get(&format!("/api/v1/monitors/{}", urlencode_path(&id)), &[]).await?;
            match output {
                Format::Json => output::json(&m)?,
                Format::Table => {
                    let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
                    for (k, v) in [
                        ("name", text("name")),
                        ("id", text("id")),
                        ("type", text("type")),
                        ("state", text("state")),
                        ("since", text("state_since")),
                        ("service", text("service_name")),
                        ("interval", format!("{} s", m["interval_seconds"])),
                        ("last result", m["last_result"]["reason"].as_str().unwrap_or("not checked yet").to_owned()),
                        ("ping url", text("ping_url")),
                        ("settings", m["settings"].to_string()),
                    ] {
                        println!("{k:<12} {v}");
                    }
                    // Each location it runs from, when there are several.
                    let locations = m["locations"].as_array().cloned().unwrap_or_default();
                    if locations.len() > 1 {
                        println!("down when {} of {} locations fail:", m["quorum"], locations.len());
                        for l in &locations {
                            let reason = l["last_result"]["reason"].as_str().unwrap_or("no result yet");
                            println!("  {:<12} {:<8} {reason}", text_of(&l["location"]), text_of(&l["state"]));
                        }
                    }
                }
            }
        }
        MonitorCmd::Add { name, kind, settings, interval, service_id, locations, quorum, output } => {
            let settings: Value = serde_json::from_str(&settings).context("--settings must be a JSON object")?;
            let mut body = json!({"name": name, "type": kind, "settings": settings});
            if !locations.is_empty() {
                body["locations"] = json!(locations);
            }
            if let Some(q) = quorum {
                body["quorum"] = q.into();
            }
            if let Some(i) = interval {
                body["interval_seconds"] = i.into();
            }
            if let Some(s) = service_id {
                body["service_id"] = s.to_string().into();
            }
            let m = client.post("/api/v1/monitors", &body).await?;
            match output {
                Format::Json => output::json(&m)?,
                Format::Table => {
                    println!(
                        "created monitor {} ({})",
                        m["name"].as_str().unwrap_or(""),
                        m["id"].as_str().unwrap_or("")
                    );
                    if let Some(u) = m["ping_url"].as_str() {
                        println!("ping URL: {u}");
                    }
                }
            }
        }
        MonitorCmd::Check { id } => {
            client.post(&format!("/api/v1/monitors/{}/check", urlencode_path(&id)), &json!({})).await?;
            println!("check queued");
        }
        MonitorCmd::Pause { id } => {
            let m = client.post(&format!("/api/v1/monitors/{}/pause", urlencode_path(&id)), &json!({})).await?;
            println!("{} is {}", m["name"].as_str().unwrap_or(""), m["state"].as_str().unwrap_or(""));
        }
        MonitorCmd::Resume { id } => {
            let m = client.post(&format!("/api/v1/monitors/{}/resume", urlencode_path(&id)), &json!({})).await?;
            println!("{} is {}", m["name"].as_str().unwrap_or(""), m["state"].as_str().unwrap_or(""));
        }
    }
    Ok(())
}

pub async fn dispatch(cmd: Command, cfg: Config) -> Result<()> {
    match cmd {
        Command::Serve { demo } => crate::demo::serve(cfg, demo).await,
        Command::Agent { location, buffer_dir, buffer_max_mb, concurrency } => {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cfg.log).unwrap_or_else(|_| "info".into()))
                .with_target(false)
                .init();
            let token = cfg.token.clone().context("give the agent's token with --token or OPSDECK_TOKEN")?;
            let args = crate::agent::AgentArgs {
                server: cfg.server.clone(),
                token,
                location,
                buffer_dir,
                buffer_max_mb,
                concurrency,
            };
            crate::agent::run(args).await
        }
        Command::Migrate => {
            let db = open_db(&cfg).await?;
            println!("database is up to date ({})", describe(&cfg));
            db.close().await;
            Ok(())
        }
        Command::User(c) => user_cmd(c, &cfg).await,
        Command::Token(c) => token_cmd(c, &cfg).await,
        Command::Service(c) => service_cmd(c, &cfg).await,
        Command::Monitor(c) => monitor_cmd(c, &cfg).await,
        Command::Incident(c) => crate::incidents::incident_cmd(c, &cfg).await,
        Command::Event(c) => crate::incidents::event_cmd(c, &cfg).await,
        Command::Oncall(c) => crate::incidents::oncall_cmd(c, &cfg).await,
        Command::Schedule(c) => crate::incidents::schedule_cmd(c, &cfg).await,
        Command::StatusPage(c) => crate::status_pages::status_page_cmd(c, &cfg).await,
        Command::Vendor(c) => crate::vendors::vendor_cmd(c, &cfg).await,
        Command::Import(c) => crate::imports::import_cmd(c, &cfg).await,
        Command::Agents(c) => crate::agent::admin::agents_cmd(c, &cfg).await,
        Command::Cmdb(c) => crate::cmdb::cmdb_cmd(c, &cfg).await,
        Command::Change(c) => crate::changes::change_cmd(c, &cfg).await,
        Command::Ticket(c) => crate::tickets::ticket_cmd(c, &cfg).await,
        Command::Mcp => crate::mcp_bridge::run(&cfg).await,
        Command::Kb(c) => crate::knowledge::kb_cmd(c, &cfg).await,
        Command::Problem(c) => crate::knowledge::problem_cmd(c, &cfg).await,
        Command::Inventory(a) => crate::cmdb::inventory_cmd(a, &cfg).await,
        Command::Slo(c) => crate::slos::slo_cmd(c, &cfg).await,
        Command::Report(a) => crate::report::report(a, &cfg).await,
        Command::Series(c) => crate::series::series_cmd(c, &cfg).await,
        Command::Apply { file, dry_run, prune, prometheus_url } => {
            crate::apply::apply(&Client::new(&cfg)?, &file, dry_run, prune, prometheus_url.as_deref()).await
        }
        Command::Export { out, with_secrets, openslo } => {
            let client = Client::new(&cfg)?;
            let yaml = if openslo {
                crate::slo_apply::export(&client).await?
            } else {
                crate::apply::export(&client, with_secrets).await?
            };
            match out {
                Some(path) => {
                    std::fs::write(&path, yaml).with_context(|| format!("cannot write {}", path.display()))?
                }
                None => print!("{yaml}"),
            }
            Ok(())
        }
        Command::Backup { to } => backup(&cfg, &to).await,
        Command::MigrateDb { from, to } => crate::migrate_db::run(&from, &to).await,
        Command::Version => {
            println!("opsdeck {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}

/// Opens and migrates the configured database, creating the data directory for SQLite.
/// Opens the database and brings its schema up to date.
pub async fn open_db(cfg: &Config) -> Result<Db> {
    if cfg.is_sqlite() && cfg.database_url.contains(&*cfg.data_dir.to_string_lossy()) {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("cannot create data directory {}", cfg.data_dir.display()))?;
    }
    let db = connect_db(cfg).await?;
    db.migrate().await?;
    Ok(db)
}

/// Opens the database as it is, without migrating it.
async fn connect_db(cfg: &Config) -> Result<Db> {
    Ok(Db::connect(&ConnectOptions {
        max_connections: cfg.db_max_connections,
        ..ConnectOptions::new(&cfg.database_url)
    })
    .await?)
}

pub fn describe(cfg: &Config) -> String {
    if cfg.is_sqlite() {
        cfg.database_url.clone()
    } else {
        // Never print a password that may be in the URL.
        let rest = cfg.database_url.split_once('@').map(|(_, r)| r).unwrap_or("");
        format!("postgres://…@{rest}")
    }
}

fn read_password_stdin() -> Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).context("cannot read the password from standard input")?;
    let pw = s.lines().next().unwrap_or("").to_owned();
    user::password(&pw).map_err(|e| anyhow!("{e}"))?;
    Ok(pw)
}

fn cli_actor() -> Actor {
    Actor::system("cli")
}

async fn user_cmd(c: UserCmd, cfg: &Config) -> Result<()> {
    let db = open_db(cfg).await?;
    let now = SystemClock.now();
    match c {
        UserCmd::Add { username, role, display_name, email, password_stdin } => {
            if !password_stdin {
                bail!(
                    "pass --password-stdin and write the password on standard input (so it stays out of shell history)"
                );
            }
            let role: Role = role.parse()?;
            let username = user::username(&username)?;
            let password = read_password_stdin()?;
            let hash = secret::hash_password(&password)?;
            let display_name = display_name.unwrap_or_else(|| username.clone());
            let email = user::email(email.as_deref())?;
            let u = db
                .create_user(&cli_actor(), now, NewUser { username, display_name, email, role, password_hash: hash })
                .await?;
            println!("created user {} with role {}", u.username, u.role);
        }
        UserCmd::List { output } => {
            let page = db.list_users(None, None, Some(500)).await?;
            match output {
                Format::Json => output::json(&json!({ "items": page.items }))?,
                Format::Table => output::table(
                    &["username", "name", "role", "status"],
                    &page
                        .items
                        .iter()
                        .map(|u| {
                            vec![
                                u.username.clone(),
                                u.display_name.clone(),
                                u.role.to_string(),
                                if u.disabled { "disabled" } else { "active" }.into(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        }
        UserCmd::SetRole { username, role } => {
            let role: Role = role.parse()?;
            let u = db.find_user_by_username(&username).await?;
            let u =
                db.update_user(&cli_actor(), now, u.id, UserPatch { role: Some(role), ..Default::default() }).await?;
            println!("{} is now {}", u.username, u.role);
        }
        UserCmd::ResetPassword { username } => {
            let u = db.find_user_by_username(&username).await?;
            let password = read_password_stdin()?;
            db.set_password(&cli_actor(), now, u.id, &secret::hash_password(&password)?, None).await?;
            println!("password of {} changed; their sessions were signed out", u.username);
        }
    }
    db.close().await;
    Ok(())
}

async fn token_cmd(c: TokenCmd, cfg: &Config) -> Result<()> {
    let db = open_db(cfg).await?;
    let now = SystemClock.now();
    match c {
        TokenCmd::Create { user: username, name, role } => {
            let owner =
                db.find_user_by_username(&username).await.with_context(|| format!("no user named {username:?}"))?;
            let role = role.map(|r| r.parse::<Role>()).transpose()?;
            if let Some(r) = role
                && r > owner.role
            {
                bail!("--role {r} is above {}'s role ({})", owner.username, owner.role);
            }
            let name = opsdeck_core::validate::name("name", &name)?;
            let token = secret::generate(secret::TOKEN_PREFIX);
            let t = db
                .create_token(
                    &cli_actor(),
                    now,
                    owner.id,
                    &name,
                    &secret::digest(&token),
                    &secret::token_hint(&token),
                    role,
                )
                .await?;
            eprintln!("created token {:?} ({}) for {}; it is shown once:", t.name, t.id, owner.username);
            println!("{token}");
        }
        TokenCmd::List { user, output } => {
            let uid = match user {
                Some(u) => Some(db.find_user_by_username(&u).await?.id),
                None => None,
            };
            let tokens = db.list_tokens(uid).await?;
            match output {
                Format::Json => output::json(&json!({ "items": tokens }))?,
                Format::Table => output::table(
                    &["id", "user", "name", "role", "status"],
                    &tokens
                        .iter()
                        .map(|t| {
                            vec![
                                t.id.to_string(),
                                t.username.clone(),
                                t.name.clone(),
                                t.role.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
                                if t.revoked_at.is_some() { "revoked" } else { "active" }.into(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        }
        TokenCmd::Revoke { id } => {
            let t = db.revoke_token(&cli_actor(), now, id).await?;
            println!("revoked token {:?} of {}", t.name, t.username);
        }
    }
    db.close().await;
    Ok(())
}

fn service_row(s: &Value) -> Vec<String> {
    let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    vec![
        text("slug"),
        text("name"),
        s.get("tier").map(|t| format!("T{t}")).unwrap_or_default(),
        s.get("team_name").and_then(Value::as_str).unwrap_or("-").to_owned(),
    ]
}

async fn service_cmd(c: ServiceCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        ServiceCmd::List { q, limit, output } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(q) = q {
                query.push(("q", q));
            }
            let list = client.get("/api/v1/services", &query).await?;
            match output {
                Format::Json => output::json(&list)?,
                Format::Table => {
                    let items = list.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
                    if items.is_empty() {
                        eprintln!("no services yet; add one with: opsdeck service add --name \"Checkout API\"");
                    } else {
                        output::table(
                            &["slug", "name", "tier", "team"],
                            &items.iter().map(service_row).collect::<Vec<_>>(),
                        );
                    }
                }
            }
        }
        ServiceCmd::Add { name, slug, description, team_id, tier, tags, runbook_url, output } => {
            let mut body = json!({ "name": name });
            let obj = body.as_object_mut().ok_or_else(|| anyhow!("internal: body is not an object"))?;
            if let Some(v) = slug {
                obj.insert("slug".into(), v.into());
            }
            if let Some(v) = description {
                obj.insert("description".into(), v.into());
            }
            if let Some(v) = team_id {
                obj.insert("team_id".into(), v.to_string().into());
            }
            if let Some(v) = tier {
                obj.insert("tier".into(), v.into());
            }
            if !tags.is_empty() {
                obj.insert("tags".into(), tags.into());
            }
            if let Some(v) = runbook_url {
                obj.insert("runbook_url".into(), v.into());
            }
            let s = client.post("/api/v1/services", &body).await?;
            match output {
                Format::Json => output::json(&s)?,
                Format::Table => println!(
                    "created service {} ({})",
                    s["name"].as_str().unwrap_or(""),
                    s["slug"].as_str().unwrap_or("")
                ),
            }
        }
        ServiceCmd::Show { service, output } => {
            let s = client.get(&format!("/api/v1/services/{}", urlencode_path(&service)), &[]).await?;
            match output {
                Format::Json => output::json(&s)?,
                Format::Table => {
                    let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
                    let tags: Vec<&str> =
                        s["tags"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                    for (k, v) in [
                        ("name", text("name")),
                        ("slug", text("slug")),
                        ("id", text("id")),
                        ("tier", s["tier"].to_string()),
                        ("team", text("team_name")),
                        ("tags", tags.join(", ")),
                        ("runbook", text("runbook_url")),
                        ("description", text("description")),
                    ] {
                        println!("{k:<12} {v}");
                    }
                }
            }
        }
    }
    Ok(())
}

fn urlencode_path(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

async fn backup(cfg: &Config, to: &std::path::Path) -> Result<()> {
    if let Some(file) = cfg.sqlite_path()
        && !file.exists()
    {
        bail!("there is no database at {}: nothing to back up", file.display());
    }
    // The backup holds password hashes, the link-signing key and channel secrets: it is created
    // empty, readable by its owner only, before SQLite fills it (VACUUM INTO accepts an empty
    // file). `create_new` also refuses to overwrite an existing file.
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    file.open(to).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => anyhow!("{} already exists; choose a new file name", to.display()),
        _ => anyhow!("cannot create {}: {e}", to.display()),
    })?;
    // A backup reads the database as it is: it never migrates a live database.
    let db = connect_db(cfg).await?;
    let path = to.to_str().ok_or_else(|| anyhow!("the backup path must be valid UTF-8"))?;
    let done = opsdeck_store::dialect::backup_to(&db, path).await;
    db.close().await;
    if let Err(e) = done {
        let _ = std::fs::remove_file(to);
        return Err(e.into());
    }
    let size = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    println!("wrote {} ({} KiB)", to.display(), size / 1024);
    Ok(())
}

/// The clock the server runs on.
pub fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

fn text_of(v: &Value) -> String {
    v.as_str().unwrap_or("-").to_owned()
}
