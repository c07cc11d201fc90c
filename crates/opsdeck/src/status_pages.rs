//! `opsdeck status-page …`: public status pages from a terminal (API client).

use crate::client::Client;
use crate::config::Config;
use crate::output::{self, Format};
use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum StatusPageCmd {
    /// List status pages.
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Show a page (by slug or id) with each component's status right now.
    Show {
        page: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Create a page; `--team` adds one component per service of that team.
    Create {
        #[arg(long)]
        title: String,
        /// The public address `/status/SLUG`; derived from the title when left out.
        #[arg(long)]
        slug: Option<String>,
        /// A team id whose services become the components.
        #[arg(long)]
        team: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Set a component's status by hand (`--clear` to follow monitors and incidents again).
    Set {
        page: String,
        /// The component's name or id.
        component: String,
        /// operational, under_maintenance, degraded_performance, partial_outage or major_outage.
        #[arg(required_unless_present = "clear")]
        status: Option<String>,
        /// For this many minutes (until cleared when left out).
        #[arg(long)]
        minutes: Option<i64>,
        #[arg(long, conflicts_with = "status")]
        clear: bool,
    },
    /// Delete a page.
    Delete { page: String },
    /// Subscribe an e-mail address (asked to confirm), a webhook or a Slack incoming webhook.
    Subscribe {
        page: String,
        #[arg(long, required_unless_present_any = ["webhook", "slack"], conflicts_with_all = ["webhook", "slack"])]
        email: Option<String>,
        #[arg(long, conflicts_with = "slack")]
        webhook: Option<String>,
        #[arg(long)]
        slack: Option<String>,
        /// Only these components (name or id; repeat); the whole page when left out.
        #[arg(long = "component")]
        components: Vec<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// List a page's incident templates.
    Templates {
        page: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Post a public update about an incident on a page (the first opens its public incident).
    Post {
        page: String,
        /// The incident's number (`INC-42` or `42`) or id.
        incident: String,
        /// investigating, identified, monitoring or resolved (from the template when left out).
        #[arg(long)]
        status: Option<String>,
        /// What visitors read (from the template when left out).
        #[arg(long)]
        body: Option<String>,
        /// The public title (the incident's own on the first update when left out).
        #[arg(long)]
        title: Option<String>,
        /// An incident template of the page, by name or id: what the other flags leave out.
        #[arg(long)]
        template: Option<String>,
        /// A component and the status the incident gives it, `NAME=STATUS` (repeat).
        #[arg(long = "component")]
        components: Vec<String>,
        /// Do not notify the page's subscribers.
        #[arg(long)]
        quiet: bool,
    },
    /// List a page's subscribers (admins).
    Subscribers {
        page: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
}

/// A page by slug or id.
async fn find(client: &Client, page: &str) -> Result<Value> {
    let pages = client.get("/api/v1/status-pages", &[]).await?;
    let items = pages["items"].as_array().cloned().unwrap_or_default();
    match items.into_iter().find(|p| p["slug"] == page || p["id"] == page) {
        Some(p) => client.get(&format!("/api/v1/status-pages/{}", p["id"].as_str().unwrap_or_default()), &[]).await,
        None => bail!("no status page {page:?} (give its slug or id; `opsdeck status-page list` shows them)"),
    }
}

use crate::output::text as s;

/// A component's name on page `p` (its id when unknown).
fn comps_name(p: &Value, id: &Value) -> String {
    p["components"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| &c["id"] == id))
        .map_or_else(|| s(id), |c| s(&c["name"]))
}

fn print_page(p: &Value, format: Format) -> Result<()> {
    if format == Format::Json {
        return output::json(p);
    }
    println!("{} (/status/{}): {}", s(&p["title"]), s(&p["slug"]), s(&p["indicator"]));
    let rows: Vec<Vec<String>> = p["components"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    vec![
                        s(&c["name"]),
                        s(&c["group"]),
                        s(&c["status"]),
                        if c["override_status"].is_string() { "by hand".into() } else { String::new() },
                        s(&c["id"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    output::table(&["component", "group", "status", "set", "id"], &rows);
    Ok(())
}

pub async fn status_page_cmd(c: StatusPageCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        StatusPageCmd::List { output } => {
            let list = client.get("/api/v1/status-pages", &[]).await?;
            if output == Format::Json {
                return output::json(&list);
            }
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no status pages yet: create one with `opsdeck status-page create --title …`");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|p| {
                    let n = p["components"].as_array().map_or(0, Vec::len);
                    vec![s(&p["slug"]), s(&p["title"]), n.to_string(), s(&p["url"]), s(&p["id"])]
                })
                .collect();
            output::table(&["slug", "title", "components", "public", "id"], &rows);
            Ok(())
        }
        StatusPageCmd::Show { page, output } => print_page(&find(&client, &page).await?, output),
        StatusPageCmd::Create { title, slug, team, output } => {
            let body = json!({"title": title, "slug": slug, "team_id": team});
            let p = client.post("/api/v1/status-pages", &body).await?;
            print_page(&p, output)
        }
        StatusPageCmd::Set { page, component, status, minutes, clear } => {
            let p = find(&client, &page).await?;
            let comps = p["components"].as_array().cloned().unwrap_or_default();
            let Some(comp) = comps.iter().find(|c| c["id"] == component.as_str() || c["name"] == component.as_str())
            else {
                bail!("page {} has no component {component:?}", s(&p["slug"]));
            };
            let status = if clear { None } else { status };
            let path = format!("/api/v1/status-pages/{}/components/{}/override", s(&p["id"]), s(&comp["id"]));
            let after = client.put(&path, &json!({"status": status, "minutes": minutes})).await?;
            print_page(&after, Format::Table)
        }
        StatusPageCmd::Subscribe { page, email, webhook, slack, components, output } => {
            let p = find(&client, &page).await?;
            let comps = p["components"].as_array().cloned().unwrap_or_default();
            let mut ids = Vec::new();
            for want in &components {
                match comps.iter().find(|c| c["id"] == want.as_str() || c["name"] == want.as_str()) {
                    Some(c) => ids.push(s(&c["id"])),
                    None => bail!("page {} has no component {want:?}", s(&p["slug"])),
                }
            }
            let body = json!({"email": email, "webhook_url": webhook, "slack_url": slack, "component_ids": ids});
            let sub = client.post(&format!("/api/v1/status-pages/{}/subscribers", s(&p["id"])), &body).await?;
            if output == Format::Json {
                return output::json(&sub);
            }
            let waiting = if sub["confirmed_at"].is_null() { " (a confirmation message is on its way)" } else { "" };
            println!("subscribed {} {}{waiting}", s(&sub["kind"]), s(&sub["address"]));
            Ok(())
        }
        StatusPageCmd::Subscribers { page, output } => {
            let p = find(&client, &page).await?;
            let path = format!("/api/v1/status-pages/{}/subscribers", s(&p["id"]));
            let mut items: Vec<Value> = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut query = vec![("limit", "1000".to_owned())];
                if let Some(c) = &cursor {
                    query.push(("cursor", c.clone()));
                }
                let page = client.get(&path, &query).await?;
                items.extend(page["items"].as_array().cloned().unwrap_or_default());
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
            }
            if output == Format::Json {
                return output::json(&items);
            }
            let name = |id: &Value| comps_name(&p, id);
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|x| {
                    let follows: Vec<String> =
                        x["component_ids"].as_array().map(|a| a.iter().map(name).collect()).unwrap_or_default();
                    vec![
                        s(&x["address"]),
                        s(&x["kind"]),
                        if follows.is_empty() { "whole page".into() } else { follows.join(", ") },
                        if x["confirmed_at"].is_null() { "waiting".into() } else { "yes".into() },
                    ]
                })
                .collect();
            output::table(&["address", "kind", "follows", "confirmed"], &rows);
            Ok(())
        }
        StatusPageCmd::Templates { page, output } => {
            let p = find(&client, &page).await?;
            let list = client.get(&format!("/api/v1/status-pages/{}/templates", s(&p["id"])), &[]).await?;
            if output == Format::Json {
                return output::json(&list["items"]);
            }
            let rows: Vec<Vec<String>> = list["items"]
                .as_array()
                .map(|a| a.iter().map(|t| vec![s(&t["name"]), s(&t["status"]), s(&t["body"]), s(&t["id"])]).collect())
                .unwrap_or_default();
            if rows.is_empty() {
                eprintln!("page {} has no incident templates yet (add them in its editor)", s(&p["slug"]));
                return Ok(());
            }
            output::table(&["name", "status", "message", "id"], &rows);
            Ok(())
        }
        StatusPageCmd::Post { page, incident, status, body, title, template, components, quiet } => {
            let p = find(&client, &page).await?;
            let template_id = match template {
                None => None,
                Some(want) => {
                    let list = client.get(&format!("/api/v1/status-pages/{}/templates", s(&p["id"])), &[]).await?;
                    let items = list["items"].as_array().cloned().unwrap_or_default();
                    match items.iter().find(|t| t["id"] == want.as_str() || t["name"] == want.as_str()) {
                        Some(t) => Some(s(&t["id"])),
                        None => bail!("page {} has no template {want:?}", s(&p["slug"])),
                    }
                }
            };
            let comps = p["components"].as_array().cloned().unwrap_or_default();
            let mut set = serde_json::Map::new();
            for c in &components {
                let Some((name, st)) = c.rsplit_once('=') else {
                    bail!("--component takes NAME=STATUS, e.g. Checkout=partial_outage (got {c:?})");
                };
                match comps.iter().find(|x| x["id"] == name || x["name"] == name) {
                    Some(x) => set.insert(s(&x["id"]), json!(st)),
                    None => bail!("page {} has no component {name:?}", s(&p["slug"])),
                };
            }
            let body = json!({
                "status_page_id": p["id"], "status": status, "body": body, "name": title,
                "template_id": template_id, "notify_subscribers": !quiet,
                "components": if components.is_empty() { Value::Null } else { Value::Object(set) },
            });
            let posted = client.post(&format!("/api/v1/incidents/{incident}/status-updates"), &body).await?;
            println!("posted {} on {}: {}", s(&posted["status"]), s(&p["slug"]), s(&posted["name"]));
            Ok(())
        }
        StatusPageCmd::Delete { page } => {
            let p = find(&client, &page).await?;
            client.delete(&format!("/api/v1/status-pages/{}", s(&p["id"]))).await?;
            eprintln!("deleted status page {}", s(&p["slug"]));
            Ok(())
        }
    }
}
