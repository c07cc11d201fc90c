//! Status pages and vendors in `opsdeck apply` / `opsdeck export`: vendors matched by name,
//! pages by slug, components by name (so a component keeps its id, manual status and
//! subscribers across applies). Services are named by slug, monitors and vendors by name.
//!
//! Validation runs with the rest of the file, before anything is sent; pages are written after
//! services, monitors and vendors, which they refer to.

use crate::client::Client;
use anyhow::Result;
use opsdeck_core::status_page::{ComponentInput, PageInput, PageSpec};
use opsdeck_core::vendor::VendorSpec;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorDoc {
    pub name: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPageDoc {
    pub slug: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accent_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub footer_links: Vec<opsdeck_core::status_page::FooterLink>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The service's slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Monitors by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monitors: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub only_show_if_degraded: bool,
    /// A third-party component: the vendor's name, and optionally one of its components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_component: Option<String>,
}

/// What the server has, by the names a file uses.
pub struct Known {
    pub service_slugs: HashSet<String>,
    pub monitor_names: HashSet<String>,
    pub vendors: Vec<Value>,
    pub pages: Vec<Value>,
}

/// Every mistake in the file's vendors and pages (the server's own rules, and references).
pub fn validate(vendors: &[VendorDoc], pages: &[StatusPageDoc], known: &Known) -> Vec<String> {
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    for (i, v) in vendors.iter().enumerate() {
        let at = format!("vendors[{i}] ({})", v.name);
        if !names.insert(v.name.as_str()) {
            errors.push(format!("{at}: name appears twice in the file"));
        }
        if let Err(e) = VendorSpec::new(&v.name, &v.url, v.interval_seconds, v.timeout_seconds) {
            errors.push(format!("{at}: {e}"));
        }
    }
    let vendor_known = |n: &str| names.contains(n) || known.vendors.iter().any(|v| v["name"] == n);
    let mut slugs = HashSet::new();
    for (i, p) in pages.iter().enumerate() {
        let at = format!("status_pages[{i}] ({})", p.slug);
        if !slugs.insert(p.slug.as_str()) {
            errors.push(format!("{at}: slug appears twice in the file"));
        }
        for c in &p.components {
            let at = format!("{at}: component {:?}", c.name);
            if let Some(s) = c.service.as_ref().filter(|s| !known.service_slugs.contains(*s)) {
                errors.push(format!("{at}: service: no service with slug {s:?} on the server or in the file"));
            }
            for m in c.monitors.iter().filter(|m| !known.monitor_names.contains(*m)) {
                errors.push(format!("{at}: monitors: no monitor named {m:?} on the server or in the file"));
            }
            if let Some(v) = c.vendor.as_ref().filter(|v| !vendor_known(v)) {
                errors.push(format!("{at}: vendor: no vendor named {v:?} on the server or in the file"));
            }
        }
        // The domain's rules, with stand-in ids (references were checked above).
        let components = p
            .components
            .iter()
            .map(|c| ComponentInput {
                name: c.name.clone(),
                description: Some(c.description.clone()),
                group: c.group.clone(),
                only_show_if_degraded: c.only_show_if_degraded,
                vendor_id: c.vendor.as_ref().map(|_| uuid::Uuid::nil()),
                vendor_component: c.vendor_component.clone(),
                ..Default::default()
            })
            .collect();
        let input = PageInput {
            slug: Some(p.slug.clone()),
            title: Some(p.title.clone()),
            description: Some(p.description.clone()),
            time_zone: p.time_zone.clone(),
            accent_color: Some(p.accent_color.clone()),
            custom_domain: Some(p.custom_domain.clone()),
            logo_url: Some(p.logo_url.clone()),
            footer_links: Some(p.footer_links.iter().map(|l| (l.label.clone(), l.url.clone())).collect()),
            components: Some(components),
        };
        if let Err(e) = PageSpec::create(input) {
            errors.push(format!("{at}: {e}"));
        }
    }
    errors
}

/// A page in the form both sides are compared in: components in the order the server shows
/// them (a group's members together, where its first member is).
fn normal(p: &StatusPageDoc) -> Value {
    let mut order: Vec<&ComponentDoc> = Vec::new();
    let mut placed = HashSet::new();
    for c in &p.components {
        match &c.group {
            None => order.push(c),
            Some(g) if placed.insert(g.as_str()) => {
                order.extend(p.components.iter().filter(|m| m.group.as_deref() == Some(g)));
            }
            Some(_) => {}
        }
    }
    json!({
        "title": p.title, "description": p.description, "time_zone": p.time_zone.as_deref().unwrap_or("UTC"),
        "accent_color": p.accent_color, "custom_domain": p.custom_domain, "logo_url": p.logo_url,
        "footer_links": p.footer_links,
        "components": order.iter().map(|c| json!({
            "name": c.name, "group": c.group, "description": c.description, "service": c.service,
            "monitors": c.monitors, "only_show_if_degraded": c.only_show_if_degraded, "vendor": c.vendor,
            "vendor_component": c.vendor.as_ref().map(|_| c.vendor_component.clone().unwrap_or_default()),
        })).collect::<Vec<_>>(),
    })
}

/// Names for the server's ids.
pub struct Names {
    services: HashMap<String, String>,
    monitors: HashMap<String, String>,
    vendors: HashMap<String, String>,
}

impl Names {
    pub async fn load(client: &Client) -> Result<Names> {
        let by = |items: Vec<Value>, key: &str| -> HashMap<String, String> {
            items
                .into_iter()
                .filter_map(|v| Some((v["id"].as_str()?.to_owned(), v[key].as_str()?.to_owned())))
                .collect()
        };
        Ok(Names {
            services: by(client.get_all("/api/v1/services").await?, "slug"),
            monitors: by(client.get_all("/api/v1/monitors").await?, "name"),
            vendors: by(client.get_all("/api/v1/vendors").await?, "name"),
        })
    }

    fn id(map: &HashMap<String, String>, name: &str) -> Option<String> {
        map.iter().find(|(_, n)| n.as_str() == name).map(|(id, _)| id.clone())
    }
}

/// A server page as a file would write it.
pub fn page_doc(p: &Value, names: &Names) -> StatusPageDoc {
    let str_of = |v: &Value| v.as_str().map(str::to_owned);
    let components = p["components"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| ComponentDoc {
                    name: str_of(&c["name"]).unwrap_or_default(),
                    group: str_of(&c["group"]),
                    description: str_of(&c["description"]).unwrap_or_default(),
                    service: c["service_id"].as_str().and_then(|id| names.services.get(id)).cloned(),
                    monitors: c["monitor_ids"]
                        .as_array()
                        .map(|ids| ids.iter().filter_map(|id| names.monitors.get(id.as_str()?).cloned()).collect())
                        .unwrap_or_default(),
                    only_show_if_degraded: c["only_show_if_degraded"].as_bool().unwrap_or(false),
                    vendor: c["vendor_id"].as_str().and_then(|id| names.vendors.get(id)).cloned(),
                    vendor_component: str_of(&c["vendor_component"]).filter(|s| !s.is_empty()),
                })
                .collect()
        })
        .unwrap_or_default();
    StatusPageDoc {
        slug: str_of(&p["slug"]).unwrap_or_default(),
        title: str_of(&p["title"]).unwrap_or_default(),
        description: str_of(&p["description"]).unwrap_or_default(),
        time_zone: str_of(&p["time_zone"]).filter(|z| z != "UTC"),
        accent_color: str_of(&p["accent_color"]),
        custom_domain: str_of(&p["custom_domain"]),
        logo_url: str_of(&p["logo_url"]),
        footer_links: serde_json::from_value(p["footer_links"].clone()).unwrap_or_default(),
        components,
    }
}

pub fn vendor_doc(v: &Value) -> VendorDoc {
    VendorDoc {
        name: v["name"].as_str().unwrap_or_default().to_owned(),
        url: v["url"].as_str().unwrap_or_default().to_owned(),
        interval_seconds: v["interval_seconds"].as_i64(),
        timeout_seconds: v["timeout_seconds"].as_i64(),
    }
}

/// One change to vendors or pages.
pub enum Change {
    CreateVendor(usize),
    UpdateVendor { id: String, doc: usize },
    DeleteVendor { id: String, name: String },
    CreatePage(usize),
    UpdatePage { id: String, doc: usize },
    DeletePage { id: String, slug: String },
}

/// What to change so the server matches the file; with `prune`, pages and vendors the file
/// does not list are removed (only when the file has that section at all).
pub fn plan(
    vendors: Option<&[VendorDoc]>,
    pages: Option<&[StatusPageDoc]>,
    known: &Known,
    names: &Names,
    prune: bool,
) -> Vec<Change> {
    let mut out = Vec::new();
    for (i, d) in vendors.unwrap_or_default().iter().enumerate() {
        let want = VendorSpec::new(&d.name, &d.url, d.interval_seconds, d.timeout_seconds).ok();
        match known.vendors.iter().find(|v| v["name"] == d.name.as_str()) {
            None => out.push(Change::CreateVendor(i)),
            Some(have) => {
                let same = want.is_some_and(|w| {
                    have["url"] == w.url.as_str()
                        && have["interval_seconds"] == i64::from(w.interval_seconds)
                        && have["timeout_seconds"] == i64::from(w.timeout_seconds)
                });
                if !same {
                    out.push(Change::UpdateVendor { id: have["id"].as_str().unwrap_or_default().to_owned(), doc: i });
                }
            }
        }
    }
    for (i, d) in pages.unwrap_or_default().iter().enumerate() {
        match known.pages.iter().find(|p| p["slug"] == d.slug.as_str()) {
            None => out.push(Change::CreatePage(i)),
            Some(have) if normal(&page_doc(have, names)) != normal(d) => {
                out.push(Change::UpdatePage { id: have["id"].as_str().unwrap_or_default().to_owned(), doc: i });
            }
            Some(_) => {}
        }
    }
    if prune {
        if let Some(pages) = pages {
            for p in known.pages.iter().filter(|p| !pages.iter().any(|d| p["slug"] == d.slug.as_str())) {
                let (id, slug) = (p["id"].as_str().unwrap_or_default(), p["slug"].as_str().unwrap_or_default());
                out.push(Change::DeletePage { id: id.to_owned(), slug: slug.to_owned() });
            }
        }
        if let Some(vendors) = vendors {
            for v in known.vendors.iter().filter(|v| !vendors.iter().any(|d| v["name"] == d.name.as_str())) {
                let (id, name) = (v["id"].as_str().unwrap_or_default(), v["name"].as_str().unwrap_or_default());
                out.push(Change::DeleteVendor { id: id.to_owned(), name: name.to_owned() });
            }
        }
    }
    out
}

pub fn describe(c: &Change, vendors: &[VendorDoc], pages: &[StatusPageDoc]) -> String {
    let vname = |i: &usize| vendors.get(*i).map_or("", |d| d.name.as_str()).to_owned();
    let pslug = |i: &usize| pages.get(*i).map_or("", |d| d.slug.as_str()).to_owned();
    match c {
        Change::CreateVendor(i) => format!("+ vendor {}", vname(i)),
        Change::UpdateVendor { doc, .. } => format!("~ vendor {}", vname(doc)),
        Change::DeleteVendor { name, .. } => format!("- vendor {name}"),
        Change::CreatePage(i) => format!("+ status page {}", pslug(i)),
        Change::UpdatePage { doc, .. } => format!("~ status page {}", pslug(doc)),
        Change::DeletePage { slug, .. } => format!("- status page {slug}"),
    }
}

/// Carries out `changes`: vendors first, then pages (which name them), deletions of pages
/// before those of vendors.
pub async fn execute(
    client: &Client,
    changes: &[Change],
    vendors: &[VendorDoc],
    pages: &[StatusPageDoc],
) -> Result<()> {
    let vendor_body = |d: &VendorDoc| {
        json!({"name": d.name, "url": d.url, "interval_seconds": d.interval_seconds,
               "timeout_seconds": d.timeout_seconds})
    };
    for c in changes {
        match c {
            Change::CreateVendor(i) => drop(client.post("/api/v1/vendors", &vendor_body(&vendors[*i])).await?),
            Change::UpdateVendor { id, doc } => {
                client.put(&format!("/api/v1/vendors/{id}"), &vendor_body(&vendors[*doc])).await?;
            }
            _ => {}
        }
    }
    let names = Names::load(client).await?;
    for c in changes {
        match c {
            Change::CreatePage(i) => {
                drop(client.post("/api/v1/status-pages", &page_body(&pages[*i], &names, None)).await?)
            }
            Change::UpdatePage { id, doc } => {
                let have = client.get(&format!("/api/v1/status-pages/{id}"), &[]).await?;
                client
                    .put(&format!("/api/v1/status-pages/{id}"), &page_body(&pages[*doc], &names, Some(&have)))
                    .await?;
            }
            Change::DeletePage { id, .. } => client.delete(&format!("/api/v1/status-pages/{id}")).await?,
            _ => {}
        }
    }
    for c in changes {
        if let Change::DeleteVendor { id, .. } = c {
            client.delete(&format!("/api/v1/vendors/{id}")).await?;
        }
    }
    Ok(())
}

/// The API body for a page; components keep the ids of same-named components of `have`.
fn page_body(d: &StatusPageDoc, names: &Names, have: Option<&Value>) -> Value {
    let existing: HashMap<&str, &str> = have
        .and_then(|h| h["components"].as_array())
        .map(|cs| cs.iter().filter_map(|c| Some((c["name"].as_str()?, c["id"].as_str()?))).collect())
        .unwrap_or_default();
    json!({
        "slug": d.slug, "title": d.title, "description": d.description,
        "time_zone": d.time_zone.as_deref().unwrap_or("UTC"), "accent_color": d.accent_color,
        "custom_domain": d.custom_domain, "logo_url": d.logo_url, "footer_links": d.footer_links,
        "components": d.components.iter().map(|c| json!({
            "id": existing.get(c.name.as_str()),
            "name": c.name, "group": c.group, "description": c.description,
            "service_id": c.service.as_ref().and_then(|s| Names::id(&names.services, s)),
            "monitor_ids": c.monitors.iter().filter_map(|m| Names::id(&names.monitors, m)).collect::<Vec<_>>(),
            "only_show_if_degraded": c.only_show_if_degraded,
            "vendor_id": c.vendor.as_ref().and_then(|v| Names::id(&names.vendors, v)),
            "vendor_component": c.vendor_component,
        })).collect::<Vec<_>>(),
    })
}
