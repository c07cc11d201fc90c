//! `opsdeck kb …` and `opsdeck problem …`: search and write knowledge-base articles, and work
//! problems and known errors, through the API.

use crate::client::Client;
use crate::config::Config;
use crate::output::{self, Format, text as s};
use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum KbCmd {
    /// Search articles, best match first: `opsdeck kb search vpn token`.
    Search {
        #[arg(required = true)]
        words: Vec<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Print an article's Markdown.
    Show { id: String },
    /// Write an article from a Markdown file (`-` reads standard input).
    Add {
        title: String,
        #[arg(long)]
        file: String,
        #[arg(long)]
        category: Option<String>,
        /// Everyone signed in reads it (requesters too); agents only otherwise.
        #[arg(long)]
        public: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProblemCmd {
    /// Problems, newest first; `--known-errors` with words searches the known errors.
    List {
        #[arg(long)]
        known_errors: bool,
        words: Vec<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Open a problem over incidents: `opsdeck problem add "Pool runs dry" --incident INC-3`.
    Add {
        title: String,
        /// An incident, INC-12 or its id (repeat for more).
        #[arg(long = "incident")]
        incidents: Vec<String>,
        #[arg(long)]
        workaround: Option<String>,
        #[arg(long)]
        root_cause: Option<String>,
    },
    /// Move a problem: known_error, resolve (with --resolve-incidents), close or reopen.
    Move {
        id: String,
        action: String,
        #[arg(long)]
        resolve_incidents: bool,
    },
}

fn read_body(file: &str) -> Result<String> {
    if file == "-" {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut out).context("reading standard input")?;
        Ok(out)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))
    }
}

pub async fn kb_cmd(c: KbCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        KbCmd::Search { words, output } => {
            let found = client.get("/api/v1/kb/search", &[("q", words.join(" ")), ("limit", "20".into())]).await?;
            if output == Format::Json {
                return output::json(&found);
            }
            let items = found["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no article matches; try fewer words");
            }
            for a in items {
                println!("{}  {}  [{}]\n    {}", s(&a["number"]), s(&a["title"]), s(&a["category"]), s(&a["excerpt"]));
            }
            Ok(())
        }
        KbCmd::Show { id } => {
            let a = client.get(&format!("/api/v1/kb/articles/{id}"), &[]).await?;
            println!("# {}\n\n{}", s(&a["title"]), s(&a["body"]));
            Ok(())
        }
        KbCmd::Add { title, file, category, public } => {
            let body = json!({"title": title, "body": read_body(&file)?, "category": category,
                "visibility": if public { "public" } else { "agents" }});
            let a = client.post("/api/v1/kb/articles", &body).await?;
            eprintln!("published {} ({})", s(&a["number"]), s(&a["visibility"]));
            Ok(())
        }
    }
}

fn problem_row(p: &Value) -> Vec<String> {
    let links = |k: &str| p[k].as_array().map_or(0, Vec::len);
    vec![
        s(&p["number"]),
        s(&p["state"]),
        format!("{} inc, {} tkt", links("incident_ids"), links("ticket_ids")),
        s(&p["title"]),
    ]
}

pub async fn problem_cmd(c: ProblemCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        ProblemCmd::List { known_errors, words, output } => {
            let mut q = Vec::new();
            if known_errors {
                q.push(("state", "known_error".to_owned()));
            }
            if !words.is_empty() {
                q.push(("q", words.join(" ")));
            }
            let page = client.get("/api/v1/problems", &q).await?;
            if output == Format::Json {
                return output::json(&page);
            }
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no problems match");
                return Ok(());
            }
            output::table(&["problem", "state", "linked", "title"], &items.iter().map(problem_row).collect::<Vec<_>>());
            for p in items.iter().filter(|p| p["known_error"] == Value::Bool(true)) {
                println!("{} workaround: {}", s(&p["number"]), s(&p["workaround"]));
            }
            Ok(())
        }
        ProblemCmd::Add { title, incidents, workaround, root_cause } => {
            let mut ids = Vec::new();
            for r in incidents {
                ids.push(client.get(&format!("/api/v1/incidents/{r}"), &[]).await?["id"].clone());
            }
            let body = json!({"title": title, "incident_ids": ids, "workaround": workaround, "root_cause": root_cause});
            let p = client.post("/api/v1/problems", &body).await?;
            eprintln!("opened {}", s(&p["number"]));
            Ok(())
        }
        ProblemCmd::Move { id, action, resolve_incidents } => {
            let body = json!({"resolve_incidents": resolve_incidents});
            let m = client.post(&format!("/api/v1/problems/{id}/{action}"), &body).await?;
            let n = m["resolved_incident_ids"].as_array().map_or(0, Vec::len);
            eprintln!(
                "{} is {}; {n} incident(s) resolved with it",
                s(&m["problem"]["number"]),
                s(&m["problem"]["state"])
            );
            Ok(())
        }
    }
}
