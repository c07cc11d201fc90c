//! Configuration as code: `opsdeck apply -f FILE.yaml` declares services and monitors
//! idempotently; `opsdeck export` writes the same format.
//!
//! The whole file is validated with the domain's own rules before anything is sent, so a file
//! with mistakes reports every one of them and changes nothing.

use crate::apply_status::{self as status, StatusPageDoc, VendorDoc};
use crate::client::Client;
use anyhow::{Context, Result, bail};
use opsdeck_core::catalogue::{Link, ServiceInput, ServiceSpec};
use opsdeck_core::monitor::{MonitorInput, MonitorSpec};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monitors: Vec<MonitorDoc>,
    /// Left out: vendors are not managed by the file (`--prune` leaves them alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendors: Option<Vec<VendorDoc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_pages: Option<Vec<StatusPageDoc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDoc {
    pub slug: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Owning team's slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<i16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorDoc {
    /// Monitors are matched by name.
    pub name: String,
    /// The service's slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_after: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_after: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub settings: Value,
    /// Where it runs from (`server`: the Opsdeck nodes, the default; else agents' locations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
    /// How many locations must fail for it to go down (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<i64>,
}

/// One change the plan makes.
enum Step {
    CreateService(Value),
    UpdateService { slug: String, body: Value, fields: Vec<&'static str> },
    CreateMonitor { doc_index: usize },
    UpdateMonitor { id: String, doc_index: usize, fields: Vec<&'static str> },
    DeleteMonitor { id: String, name: String },
    DeleteService { slug: String },
}

fn service_body(spec: &ServiceSpec, team_id: Option<&str>) -> Value {
    json!({
        "name": spec.name, "slug": spec.slug, "description": spec.description, "team_id": team_id, "tier": spec.tier,
        "tags": spec.tags, "runbook_url": spec.runbook_url,
        "links": spec.links.iter().map(|l| json!({"title": l.title, "url": l.url})).collect::<Vec<_>>(),
    })
}

/// The keys whose values differ; an absent key and `null` are the same.
fn changed_fields(want: &Value, have: &Value, keys: &[&'static str]) -> Vec<&'static str> {
    let norm = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned().unwrap_or(Value::Null);
    keys.iter().copied().filter(|k| norm(want.get(*k)) != norm(have.get(*k))).collect()
}

pub async fn apply(
    client: &Client,
    path: &std::path::Path,
    dry_run: bool,
    prune: bool,
    prometheus_url: Option<&str>,
) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let slos = crate::openslo::is_openslo(&text) || crate::slo_import::format_of(&text).is_some();
    if slos && prune {
        bail!("--prune is not supported for SLO files: delete SLOs with `opsdeck slo delete`");
    }
    if crate::openslo::is_openslo(&text) {
        return crate::openslo::apply(client, &text, dry_run, prometheus_url).await;
    }
    if crate::slo_import::format_of(&text).is_some() {
        let read = crate::slo_import::read(&text)?;
        return crate::slo_apply::apply_read(client, read, dry_run, prometheus_url).await;
    }
    let file: File =
        serde_yaml_ng::from_str(&text).with_context(|| format!("{} is not a valid Opsdeck file", path.display()))?;

    let teams: HashMap<String, String> = client
        .get_all("/api/v1/teams")
        .await?
        .into_iter()
        .filter_map(|t| Some((t["slug"].as_str()?.to_owned(), t["id"].as_str()?.to_owned())))
        .collect();
    let existing_services = client.get_all("/api/v1/services").await?;
    let existing_monitors = client.get_all("/api/v1/monitors").await?;

    // 1. Validate everything, collecting every error.
    let mut errors = Vec::new();
    let mut services = Vec::new();
    let mut seen = HashSet::new();
    for (i, d) in file.services.iter().enumerate() {
        let at = format!("services[{i}] ({})", d.slug);
        if !seen.insert(d.slug.clone()) {
            errors.push(format!("{at}: slug appears twice in the file"));
        }
        let team_id = match &d.team {
            Some(t) => match teams.get(t) {
                Some(id) => Some(id.clone()),
                None => {
                    errors.push(format!("{at}: team: no team with slug {t:?}"));
                    None
                }
            },
            None => None,
        };
        let input = ServiceInput {
            name: Some(d.name.clone()),
            slug: Some(d.slug.clone()),
            description: Some(d.description.clone()),
            team_id: None,
            tier: d.tier,
            tags: Some(d.tags.clone()),
            runbook_url: Some(d.runbook_url.clone()),
            links: Some(d.links.clone()),
        };
        match ServiceSpec::create(input) {
            Ok(spec) => services.push((spec, team_id)),
            Err(e) => errors.push(format!("{at}: {e}")),
        }
    }
    let known_slugs: HashSet<String> = existing_services
        .iter()
        .filter_map(|s| s["slug"].as_str().map(str::to_owned))
        .chain(seen.iter().cloned())
        .collect();
    let mut monitors = Vec::new();
    let mut names = HashSet::new();
    for (i, d) in file.monitors.iter().enumerate() {
        let at = format!("monitors[{i}] ({})", d.name);
        if !names.insert(d.name.clone()) {
            errors.push(format!("{at}: name appears twice in the file"));
        }
        if let Some(s) = &d.service
            && !known_slugs.contains(s)
        {
            errors.push(format!("{at}: service: no service with slug {s:?} on the server or in the file"));
        }
        let input = MonitorInput {
            name: Some(d.name.clone()),
            service_id: None,
            kind: Some(d.kind.clone()),
            interval_seconds: d.interval_seconds,
            timeout_seconds: d.timeout_seconds,
            down_after: d.down_after,
            up_after: d.up_after,
            tags: Some(d.tags.clone()),
            settings: Some(d.settings.clone()),
            locations: Some(d.locations.clone()),
            quorum: d.quorum,
        };
        match MonitorSpec::create(input) {
            Ok(spec) => monitors.push(spec),
            Err(e) => errors.push(format!("{at}: {e}")),
        }
    }
    let has_status = file.vendors.is_some() || file.status_pages.is_some();
    let (file_vendors, file_pages) =
        (file.vendors.as_deref().unwrap_or_default(), file.status_pages.as_deref().unwrap_or_default());
    let status_known = if has_status {
        let known = status::Known {
            service_slugs: known_slugs.clone(),
            monitor_names: existing_monitors
                .iter()
                .filter_map(|m| m["name"].as_str().map(str::to_owned))
                .chain(names.iter().cloned())
                .collect(),
            vendors: client.get_all("/api/v1/vendors").await?,
            pages: client.get_all("/api/v1/status-pages").await?,
        };
        errors.extend(status::validate(file_vendors, file_pages, &known));
        Some(known)
    } else {
        None
    };
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("error: {e}");
        }
        bail!("{} error(s) in {}; nothing was changed", errors.len(), path.display());
    }

    // 2. Plan.
    let by_slug: HashMap<&str, &Value> =
        existing_services.iter().filter_map(|s| Some((s["slug"].as_str()?, s))).collect();
    let mut monitor_by_name: HashMap<&str, Vec<&Value>> = HashMap::new();
    for m in &existing_monitors {
        if let Some(n) = m["name"].as_str() {
            monitor_by_name.entry(n).or_default().push(m);
        }
    }
    let mut steps = Vec::new();
    for (spec, team_id) in &services {
        let body = service_body(spec, team_id.as_deref());
        match by_slug.get(spec.slug.as_str()) {
            None => steps.push(Step::CreateService(body)),
            Some(have) => {
                let fields = changed_fields(
                    &body,
                    have,
                    &["name", "description", "team_id", "tier", "tags", "runbook_url", "links"],
                );
                if !fields.is_empty() {
                    steps.push(Step::UpdateService { slug: spec.slug.clone(), body, fields });
                }
            }
        }
    }
    for (i, (spec, d)) in monitors.iter().zip(&file.monitors).enumerate() {
        let want = json!({
            "type": spec.kind.as_str(), "interval_seconds": spec.interval_seconds,
                "timeout_seconds": spec.timeout_seconds,
            "down_after": spec.down_after, "up_after": spec.up_after, "tags": spec.tags,
                // Compared as the server shows them: secrets are write-only, so a changed
                // secret alone is not seen as a change (change it in the UI or with PATCH).
                "settings": spec.settings.redacted().to_json(),
            "service_slug": d.service,
            "location_names": opsdeck_core::agent::effective(&spec.locations), "quorum": spec.quorum,
        });
        match monitor_by_name.get(spec.name.as_str()).map(Vec::as_slice) {
            None | Some([]) => steps.push(Step::CreateMonitor { doc_index: i }),
            Some([have]) => {
                let slug = have["service_id"]
                    .as_str()
                    .and_then(|id| existing_services.iter().find(|s| s["id"] == id))
                    .and_then(|s| s["slug"].as_str());
                let mut have = (*have).clone();
                have["service_slug"] = json!(slug);
                have["location_names"] = json!(location_names(&have));
                let fields = changed_fields(
                    &want,
                    &have,
                    &[
                        "type",
                        "interval_seconds",
                        "timeout_seconds",
                        "down_after",
                        "up_after",
                        "tags",
                        "settings",
                        "service_slug",
                        "location_names",
                        "quorum",
                    ],
                );
                if !fields.is_empty() {
                    steps.push(Step::UpdateMonitor {
                        id: have["id"].as_str().unwrap_or_default().to_owned(),
                        doc_index: i,
                        fields,
                    });
                }
            }
            Some(many) => bail!(
                "{} monitors on the server are named {:?}; rename them so the file can address one",
                many.len(),
                spec.name
            ),
        }
    }
    if prune {
        for m in &existing_monitors {
            let n = m["name"].as_str().unwrap_or_default();
            if !names.contains(n) {
                steps.push(Step::DeleteMonitor {
                    id: m["id"].as_str().unwrap_or_default().to_owned(),
                    name: n.to_owned(),
                });
            }
        }
        for s in &existing_services {
            let slug = s["slug"].as_str().unwrap_or_default();
            if !seen.contains(slug) {
                steps.push(Step::DeleteService { slug: slug.to_owned() });
            }
        }
    }

    let changes = match &status_known {
        Some(known) => {
            let names = status::Names::load(client).await?;
            status::plan(file.vendors.as_deref(), file.status_pages.as_deref(), known, &names, prune)
        }
        None => Vec::new(),
    };

    // 3. Show the plan, and carry it out unless it is a dry run.
    if steps.is_empty() && changes.is_empty() {
        println!("nothing to change: the server matches {}", path.display());
        return Ok(());
    }
    for s in &steps {
        match s {
            Step::CreateService(b) => println!("+ service {}", b["slug"].as_str().unwrap_or_default()),
            Step::UpdateService { slug, fields, .. } => println!("~ service {slug} ({})", fields.join(", ")),
            Step::CreateMonitor { doc_index } => println!("+ monitor {}", file.monitors[*doc_index].name),
            Step::UpdateMonitor { doc_index, fields, .. } => {
                println!("~ monitor {} ({})", file.monitors[*doc_index].name, fields.join(", "))
            }
            Step::DeleteMonitor { name, .. } => println!("- monitor {name}"),
            Step::DeleteService { slug } => println!("- service {slug}"),
        }
    }
    for c in &changes {
        println!("{}", status::describe(c, file_vendors, file_pages));
    }
    if dry_run {
        println!("dry run: {} change(s) planned, none made", steps.len() + changes.len());
        return Ok(());
    }
    let mut slug_ids: HashMap<String, String> = existing_services
        .iter()
        .filter_map(|s| Some((s["slug"].as_str()?.to_owned(), s["id"].as_str()?.to_owned())))
        .collect();
    let monitor_body = |i: usize, slug_ids: &HashMap<String, String>| -> Value {
        let (spec, d) = (&monitors[i], &file.monitors[i]);
        json!({
            "name": spec.name, "type": spec.kind.as_str(), "interval_seconds": spec.interval_seconds,
            "timeout_seconds": spec.timeout_seconds, "down_after": spec.down_after, "up_after": spec.up_after,
            "tags": spec.tags, "settings": spec.settings.to_json(),
            "service_id": d.service.as_ref().and_then(|s| slug_ids.get(s)),
            "locations": opsdeck_core::agent::effective(&spec.locations), "quorum": spec.quorum,
        })
    };
    // New monitors go in batches (one transaction each on the server): 250,000 in under a minute.
    let mut pending: Vec<Value> = Vec::new();
    for s in &steps {
        if let Step::CreateMonitor { doc_index } = s {
            pending.push(monitor_body(*doc_index, &slug_ids));
            if pending.len() >= CREATE_BATCH {
                create_monitors(client, &mut pending).await?;
            }
            continue;
        }
        create_monitors(client, &mut pending).await?;
        match s {
            Step::CreateService(b) => {
                let created = client.post("/api/v1/services", b).await?;
                if let (Some(slug), Some(id)) = (created["slug"].as_str(), created["id"].as_str()) {
                    slug_ids.insert(slug.to_owned(), id.to_owned());
                }
            }
            Step::UpdateService { slug, body, .. } => {
                client.patch(&format!("/api/v1/services/{slug}"), body).await?;
            }
            Step::CreateMonitor { .. } => {}
            Step::UpdateMonitor { id, doc_index, .. } => {
                client.patch(&format!("/api/v1/monitors/{id}"), &monitor_body(*doc_index, &slug_ids)).await?;
            }
            Step::DeleteMonitor { id, .. } => client.delete(&format!("/api/v1/monitors/{id}")).await?,
            Step::DeleteService { slug } => client.delete(&format!("/api/v1/services/{slug}")).await?,
        }
    }
    create_monitors(client, &mut pending).await?;
    status::execute(client, &changes, file_vendors, file_pages).await?;
    println!("applied {} change(s)", steps.len() + changes.len());
    Ok(())
}

/// Monitors per `POST /api/v1/monitors/batch` (the server takes up to 1,000; half keeps a
/// request with long settings well under its 1 MiB body limit).
const CREATE_BATCH: usize = 500;

async fn create_monitors(client: &Client, pending: &mut Vec<Value>) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    client.post("/api/v1/monitors/batch", &json!({ "monitors": std::mem::take(pending) })).await?;
    Ok(())
}

/// Writes every service, monitor, vendor and status page in the `apply` format.
pub async fn export(client: &Client, with_secrets: bool) -> Result<String> {
    let teams: HashMap<String, String> = client
        .get_all("/api/v1/teams")
        .await?
        .into_iter()
        .filter_map(|t| Some((t["id"].as_str()?.to_owned(), t["slug"].as_str()?.to_owned())))
        .collect();
    let services = client.get_all("/api/v1/services").await?;
    let slugs: BTreeMap<String, String> =
        services.iter().filter_map(|s| Some((s["id"].as_str()?.to_owned(), s["slug"].as_str()?.to_owned()))).collect();
    let mut file = File::default();
    for s in &services {
        file.services.push(ServiceDoc {
            slug: s["slug"].as_str().unwrap_or_default().to_owned(),
            name: s["name"].as_str().unwrap_or_default().to_owned(),
            description: s["description"].as_str().unwrap_or_default().to_owned(),
            team: s["team_id"].as_str().and_then(|id| teams.get(id)).cloned(),
            tier: s["tier"].as_i64().map(|t| t as i16),
            tags: serde_json::from_value(s["tags"].clone()).unwrap_or_default(),
            runbook_url: s["runbook_url"].as_str().map(str::to_owned),
            links: serde_json::from_value(s["links"].clone()).unwrap_or_default(),
        });
    }
    let monitors = if with_secrets { "/api/v1/monitors?include_secrets=true" } else { "/api/v1/monitors" };
    for m in client.get_all(monitors).await? {
        file.monitors.push(MonitorDoc {
            name: m["name"].as_str().unwrap_or_default().to_owned(),
            service: m["service_id"].as_str().and_then(|id| slugs.get(id)).cloned(),
            kind: m["type"].as_str().unwrap_or_default().to_owned(),
            interval_seconds: m["interval_seconds"].as_i64(),
            timeout_seconds: m["timeout_seconds"].as_i64(),
            down_after: m["down_after"].as_i64(),
            up_after: m["up_after"].as_i64(),
            tags: serde_json::from_value(m["tags"].clone()).unwrap_or_default(),
            settings: m["settings"].clone(),
            locations: Some(location_names(&m))
                .filter(|l| l.as_slice() != [opsdeck_core::agent::SERVER])
                .unwrap_or_default(),
            quorum: m["quorum"].as_i64().filter(|q| *q != 1),
        });
    }
    let vendors = client.get_all("/api/v1/vendors").await?;
    let pages = client.get_all("/api/v1/status-pages").await?;
    if !pages.is_empty() {
        let names = status::Names::load(client).await?;
        file.status_pages = Some(pages.iter().map(|p| status::page_doc(p, &names)).collect());
    }
    if !vendors.is_empty() {
        file.vendors = Some(vendors.iter().map(status::vendor_doc).collect());
    }
    serde_yaml_ng::to_string(&file).context("cannot write YAML")
}

/// The names of the locations a monitor (as the API shows it) runs from.
fn location_names(m: &Value) -> Vec<String> {
    m["locations"]
        .as_array()
        .map(|ls| ls.iter().filter_map(|l| l["location"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
