//! `opsdeck change …`: raise, list, show and move change requests, through the API.

use crate::client::Client;
use crate::config::Config;
use crate::output::{self, Format, text as s};
use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum ChangeCmd {
    /// List changes, newest first (`--state authorize,scheduled`).
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Raise a change: `opsdeck change add "Upgrade Postgres" --ci pay-db --start 2026-12-08T02:00:00Z
    /// --end 2026-12-08T03:00:00Z --answer tested=yes`.
    Add {
        title: String,
        /// standard, normal (default) or emergency.
        #[arg(long = "type")]
        kind: Option<String>,
        /// A CI it changes (id, identity or name); repeat for several.
        #[arg(long = "ci")]
        cis: Vec<String>,
        /// A service it affects (id or slug); without any, those its CIs impact.
        #[arg(long = "service")]
        services: Vec<String>,
        /// Planned start (RFC 3339).
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        end: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        backout_plan: Option<String>,
        #[arg(long)]
        outage: bool,
        /// A risk answer, question=option; repeat for several (`GET /api/v1/change-questionnaire`).
        #[arg(long = "answer")]
        answers: Vec<String>,
        /// The standard change template (name or id) it is raised from: a standard change needs
        /// one, and it fills in the plans, CIs, end and answers left out.
        #[arg(long)]
        template: Option<String>,
    },
    /// The standard change templates (`opsdeck change add TITLE --template NAME --start …`).
    Templates,
    /// Show a change: its risk, conflicts and approvals.
    Show { id: String },
    /// Move a change: submit, approve, reject, schedule, implement, review, close or cancel.
    Move {
        id: String,
        action: String,
        /// For close: successful, successful_with_issues, unsuccessful or backed_out.
        #[arg(long)]
        code: Option<String>,
        /// A comment (required to reject) or close notes.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Accept a conflict with a reason, so it no longer blocks scheduling.
    Accept {
        id: String,
        /// The conflict's key (`opsdeck change show` lists them).
        key: String,
        #[arg(long)]
        reason: String,
    },
    /// The changes waiting for your approval.
    Inbox,
    /// Show the change lockdown, start one (every change but emergencies on hold) or lift it.
    Lockdown {
        /// Why changes stop; starts a lockdown.
        reason: Option<String>,
        /// Lift the lockdown in force.
        #[arg(long, conflicts_with = "reason")]
        lift: bool,
    },
}

/// A template's id from its name or id.
async fn template_id(client: &Client, reference: &str) -> Result<Value> {
    let list = client.get("/api/v1/change-templates", &[]).await?;
    let found = list["items"].as_array().into_iter().flatten().find(|t| {
        t["id"].as_str() == Some(reference) || t["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(reference))
    });
    match found {
        Some(t) => Ok(t["id"].clone()),
        None => {
            anyhow::bail!("no standard change template is named {reference:?}; `opsdeck change templates` lists them")
        }
    }
}

async fn service_id(client: &Client, reference: &str) -> Result<Value> {
    if reference.parse::<uuid::Uuid>().is_ok() {
        return Ok(Value::String(reference.to_owned()));
    }
    Ok(client.get(&format!("/api/v1/services/{reference}"), &[]).await?["id"].clone())
}

fn rows(items: &[Value]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|c| {
            let planned = if c["planned_start"].is_null() { "-".into() } else { s(&c["planned_start"]) };
            vec![s(&c["number"]), s(&c["state"]), s(&c["risk"]["level"]), planned, s(&c["title"])]
        })
        .collect()
}

pub async fn change_cmd(c: ChangeCmd, cfg: &Config) -> Result<()> {
    let client = Client::new(cfg)?;
    match c {
        ChangeCmd::List { state, output } => {
            let mut q = vec![("limit", "500".to_owned())];
            q.extend(state.map(|v| ("state", v)));
            let page = client.get("/api/v1/changes", &q).await?;
            if output == Format::Json {
                return output::json(&page);
            }
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no changes: raise one with `opsdeck change add TITLE --ci NAME --start … --end …`");
                return Ok(());
            }
            output::table(&["change", "state", "risk", "planned", "title"], &rows(&items));
            Ok(())
        }
        ChangeCmd::Add {
            title,
            kind,
            cis,
            services,
            start,
            end,
            description,
            backout_plan,
            outage,
            answers,
            template,
        } => {
            let template_id = match &template {
                Some(t) => Some(template_id(&client, t).await?),
                None => None,
            };
            let mut ci_ids = Vec::with_capacity(cis.len());
            for ci in &cis {
                ci_ids.push(crate::cmdb::resolve(&client, ci).await?["id"].clone());
            }
            let mut service_ids = Vec::with_capacity(services.len());
            for svc in &services {
                service_ids.push(service_id(&client, svc).await?);
            }
            let mut answer_map = serde_json::Map::new();
            for a in &answers {
                let Some((q, o)) = a.split_once('=') else {
                    anyhow::bail!("--answer takes question=option, e.g. tested=yes");
                };
                answer_map.insert(q.trim().to_owned(), Value::String(o.trim().to_owned()));
            }
            let body = json!({"title": title, "type": kind, "ci_ids": ci_ids, "service_ids": service_ids,
                "planned_start": start, "planned_end": end, "description": description,
                "backout_plan": backout_plan, "outage_expected": outage, "answers": answer_map,
                "template_id": template_id});
            let c = client.post("/api/v1/changes", &body).await?;
            eprintln!("raised {}: {} risk", s(&c["number"]), s(&c["risk"]["level"]));
            for r in c["risk"]["reasons"].as_array().into_iter().flatten() {
                eprintln!("  {}", s(r));
            }
            for x in c["conflicts"].as_array().into_iter().flatten() {
                eprintln!("  conflict: {}", s(&x["message"]));
            }
            println!("{}", s(&c["number"]));
            Ok(())
        }
        ChangeCmd::Show { id } => show(&client.get(&format!("/api/v1/changes/{id}"), &[]).await?),
        ChangeCmd::Move { id, action, code, comment } => {
            let body = json!({"close_code": code, "comment": comment});
            let c = client.post(&format!("/api/v1/changes/{id}/{action}"), &body).await?;
            eprintln!("{} is {}", s(&c["number"]), s(&c["state"]));
            Ok(())
        }
        ChangeCmd::Accept { id, key, reason } => {
            let c =
                client.post(&format!("/api/v1/changes/{id}/conflicts"), &json!({"key": key, "reason": reason})).await?;
            eprintln!("accepted; {} is {}", s(&c["number"]), s(&c["state"]));
            Ok(())
        }
        ChangeCmd::Templates => {
            let list = client.get("/api/v1/change-templates", &[]).await?;
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no standard change templates: add them under Changes → Templates");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|t| {
                    let state = if t["active"] == Value::Bool(true) { "active" } else { "retired" };
                    vec![s(&t["name"]), format!("{} min", t["duration_minutes"]), state.to_owned(), s(&t["id"])]
                })
                .collect();
            output::table(&["template", "takes", "state", "id"], &rows);
            Ok(())
        }
        ChangeCmd::Inbox => {
            let page = client.get("/api/v1/changes/approvals", &[]).await?;
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("nothing waits for your approval");
                return Ok(());
            }
            output::table(&["change", "state", "risk", "planned", "title"], &rows(&items));
            Ok(())
        }
        ChangeCmd::Lockdown { reason, lift } => {
            if lift {
                client.delete("/api/v1/change-lockdown").await?;
                eprintln!("lockdown lifted");
                return Ok(());
            }
            let l = match reason {
                Some(r) => client.put("/api/v1/change-lockdown", &json!({"reason": r})).await?,
                None => client.get("/api/v1/change-lockdown", &[]).await?,
            };
            if l["active"] == Value::Bool(true) {
                println!("locked down since {} by {}: {}", s(&l["started_at"]), s(&l["started_by"]), s(&l["reason"]));
            } else {
                println!("no lockdown");
            }
            Ok(())
        }
    }
}

fn show(c: &Value) -> Result<()> {
    println!("{} {} ({}, {})", s(&c["number"]), s(&c["title"]), s(&c["type"]), s(&c["state"]));
    for key in ["planned_start", "planned_end", "actual_start", "actual_end", "assignee", "implementer", "close_code"] {
        if !c[key].is_null() {
            println!("  {key}: {}", s(&c[key]));
        }
    }
    println!("risk: {} ({} points)", s(&c["risk"]["level"]), c["risk"]["score"]);
    for r in c["risk"]["reasons"].as_array().into_iter().flatten() {
        println!("  {}", s(r));
    }
    let names = |k: &str| -> String {
        let v: Vec<String> = c[k].as_array().into_iter().flatten().map(|x| s(&x["name"])).collect();
        if v.is_empty() { "-".into() } else { v.join(", ") }
    };
    println!("cis: {}", names("cis"));
    println!("services: {}", names("services"));
    match &c["approvals_missing"] {
        Value::Null => println!("approvals: complete"),
        m => println!("approvals: waiting for {}", s(m)),
    }
    if !c["on_hold"].is_null() {
        println!("on hold: lockdown ({})", s(&c["on_hold"]));
    }
    for x in c["conflicts"].as_array().into_iter().flatten() {
        let accepted = if x["accepted_reason"].is_null() {
            String::new()
        } else {
            format!(" (accepted: {})", s(&x["accepted_reason"]))
        };
        println!("conflict {}: {}{accepted}", s(&x["key"]), s(&x["message"]));
    }
    Ok(())
}
