//! `opsdeck cmdb attribute …`: custom attribute definitions per CI class, through the API.

use crate::client::Client;
use crate::output::{self, Format, text as s};
use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum AttributeCmd {
    /// List the definitions (optionally one class's).
    List {
        #[arg(long)]
        class: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Define an attribute for a class (admins): `opsdeck cmdb attribute add server tier --kind enum
    /// --choice gold --choice silver --required`.
    Add {
        class: String,
        key: String,
        /// text, number, date, enum or reference.
        #[arg(long, default_value = "text")]
        kind: String,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        required: bool,
        /// A value an enum allows; repeat for several.
        #[arg(long = "choice")]
        choices: Vec<String>,
        /// For a reference: the class the referred CI must have.
        #[arg(long)]
        ref_class: Option<String>,
    },
    /// Delete a definition by class and name; CIs keep their values.
    Delete { class: String, key: String },
}

pub async fn attribute_cmd(client: &Client, c: AttributeCmd) -> Result<()> {
    match c {
        AttributeCmd::List { class, output } => {
            let q: Vec<(&str, String)> = class.map(|c| vec![("class", c)]).unwrap_or_default();
            let doc = client.get("/api/v1/ci-attributes", &q).await?;
            if output == Format::Json {
                return output::json(&doc);
            }
            let items = doc["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no attributes are defined: `opsdeck cmdb attribute add CLASS NAME --kind text`");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|d| {
                    let mut rules: Vec<String> = d["choices"].as_array().into_iter().flatten().map(s).collect();
                    if !d["ref_class"].is_null() {
                        rules.push(format!("a {}", s(&d["ref_class"])));
                    }
                    let required = if d["required"] == true { "yes" } else { "" };
                    vec![s(&d["class"]), s(&d["key"]), s(&d["label"]), s(&d["kind"]), required.into(), rules.join(", ")]
                })
                .collect();
            output::table(&["class", "name", "label", "type", "required", "rules"], &rows);
            Ok(())
        }
        AttributeCmd::Add { class, key, kind, label, required, choices, ref_class } => {
            let body = json!({"class": class, "key": key, "kind": kind, "label": label, "required": required,
                "choices": choices, "ref_class": ref_class});
            let d = client.post("/api/v1/ci-attributes", &body).await?;
            eprintln!("defined {} ({}) for {}", s(&d["key"]), s(&d["kind"]), s(&d["class"]));
            Ok(())
        }
        AttributeCmd::Delete { class, key } => {
            let doc = client.get("/api/v1/ci-attributes", &[("class", class.clone())]).await?;
            let found = doc["items"].as_array().into_iter().flatten().find(|d| d["key"] == key.as_str());
            let Some(d) = found else { bail!("{class} defines no attribute {key:?} (`opsdeck cmdb attribute list`)") };
            client.delete(&format!("/api/v1/ci-attributes/{}", s(&d["id"]))).await?;
            eprintln!("deleted the definition of {key} for {class}; CIs keep their values");
            Ok(())
        }
    }
}
