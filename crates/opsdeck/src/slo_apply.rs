//! Applying declared SLOs to a server (from OpenSLO, Sloth or Pyrra files, read by
//! [`crate::openslo`] and [`crate::slo_import`]) and exporting the server's SLOs as OpenSLO v1.

use crate::client::Client;
use crate::openslo::{Read, SliDecl};
use anyhow::{Result, bail};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// Applies what a file declared (OpenSLO, Sloth or Pyrra): services declared there are created
/// when missing; SLOs are matched by name, created or replaced. `prometheus_url` serves the
/// Prometheus SLIs the file names no server for. Any error and nothing changes.
pub(crate) async fn apply_read(client: &Client, r: Read, dry_run: bool, prometheus_url: Option<&str>) -> Result<()> {
    for n in &r.notes {
        eprintln!("note: {n}");
    }
    let services = client.get_all("/api/v1/services").await?;
    let monitors = client.get_all("/api/v1/monitors").await?;
    let existing = client.get("/api/v1/slos", &[]).await?["items"].as_array().cloned().unwrap_or_default();
    let service_id: HashMap<&str, &str> =
        services.iter().filter_map(|s| Some((s["slug"].as_str()?, s["id"].as_str()?))).collect();
    let mut monitor_id: HashMap<&str, &str> = HashMap::new();
    let mut twice: Vec<&str> = Vec::new();
    for m in &monitors {
        if let (Some(name), Some(id)) = (m["name"].as_str(), m["id"].as_str())
            && monitor_id.insert(name, id).is_some()
        {
            twice.push(name);
        }
    }
    let mut errors = r.errors.clone();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for s in &r.slos {
        if seen.contains(&(s.service.as_str(), s.name.as_str())) {
            errors.push(format!("SLO {}: declared twice for service {}", s.name, s.service));
        }
        seen.push((s.service.as_str(), s.name.as_str()));
        if let SliDecl::Latency { threshold_ms, .. } = &s.sli
            && opsdeck_core::slo::latency_buckets(*threshold_ms).is_none()
        {
            errors.push(format!(
                "SLO {}: thresholdMs {threshold_ms} is not a latency bucket bound (1, 2.5, 5, 10, 25, 50, 75, 100, \
                 150, 250, 400, 600, 1000, 2500, 5000 or 10000)",
                s.name
            ));
        }
        // Checked here as the server would, so a bad query stops the apply before any write.
        if let SliDecl::Prometheus { url, good, bad, total } = &s.sli
            && let Some(url) = url.as_deref().or(prometheus_url)
            && let Err(e) = opsdeck_core::slo::Sli::prometheus(url, good.as_deref(), bad.as_deref(), total)
        {
            for p in e.problems() {
                errors.push(format!("SLO {}: {}: {}", s.name, p.field, p.message));
            }
        }
        if !service_id.contains_key(s.service.as_str()) && !r.services.iter().any(|d| d.slug == s.service) {
            errors
                .push(format!("SLO {}: spec.service: no service {:?} on the server or in the file", s.name, s.service));
        }
        if let SliDecl::Prometheus { url: None, .. } = &s.sli
            && prometheus_url.is_none()
        {
            errors.push(format!(
                "SLO {}: its queries name no Prometheus server; give --prometheus-url (or a DataSource)",
                s.name
            ));
        }
        let monitors = match &s.sli {
            SliDecl::Monitors(m) | SliDecl::Latency { monitors: m, .. } => m.as_slice(),
            _ => &[],
        };
        for m in monitors {
            if twice.contains(&m.as_str()) {
                errors.push(format!(
                    "SLO {}: several monitors are named {m:?}; rename them so the file names one",
                    s.name
                ));
            } else if !monitor_id.contains_key(m.as_str()) {
                errors.push(format!("SLO {}: no monitor named {m:?} on the server", s.name));
            }
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("error: {e}");
        }
        bail!("{} error(s) in the SLO documents; nothing was changed", errors.len());
    }
    let mut created: HashMap<String, String> = HashMap::new();
    for d in r.services.iter().filter(|d| service_id.contains_key(d.slug.as_str())) {
        eprintln!(
            "note: service {} exists; its name and description stay as they are \
             (change them with the Opsdeck file or the UI)",
            d.slug
        );
    }
    for d in r.services.iter().filter(|d| !service_id.contains_key(d.slug.as_str())) {
        println!("create service {}", d.slug);
        if !dry_run {
            let s = client
                .post("/api/v1/services", &json!({"name": d.name, "slug": d.slug, "description": d.description}))
                .await?;
            created.insert(d.slug.clone(), s["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    // An SLO is its service's and its name: the same name under another service is another SLO.
    let by_name: HashMap<(&str, &str), &Value> =
        existing.iter().filter_map(|s| Some(((s["service_id"].as_str()?, s["name"].as_str()?), s))).collect();
    for s in &r.slos {
        let sid =
            service_id.get(s.service.as_str()).map(|v| v.to_string()).or_else(|| created.get(&s.service).cloned());
        // As the server keeps it: monitors sorted and each once, queries trimmed.
        let ids_of = |monitors: &[String]| {
            let mut ids: Vec<&str> = monitors.iter().filter_map(|m| monitor_id.get(m.as_str()).copied()).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let sli = match &s.sli {
            SliDecl::Monitors(monitors) => json!({"type": "availability", "monitor_ids": ids_of(monitors)}),
            SliDecl::Latency { monitors, threshold_ms } => {
                json!({"type": "latency", "monitor_ids": ids_of(monitors), "threshold_ms": threshold_ms})
            }
            SliDecl::Events => json!({"type": "events"}),
            SliDecl::Prometheus { url, good, bad, total } => {
                let url = url.as_deref().or(prometheus_url).map(str::trim);
                let mut sli = json!({"type": "prometheus", "prometheus_url": url, "total_query": total.trim()});
                if let Some(g) = good {
                    sli["good_query"] = json!(g.trim());
                }
                if let Some(b) = bad {
                    sli["bad_query"] = json!(b.trim());
                }
                sli
            }
        };
        let body = json!({"name": s.name, "description": s.description, "service_id": sid, "target": s.target,
            "sli": sli, "window": s.window, "exclude_maintenance": s.exclude_maintenance});
        match sid.as_deref().and_then(|sid| by_name.get(&(sid, s.name.as_str()))) {
            None => {
                println!("create SLO {}", s.name);
                if !dry_run {
                    client.post("/api/v1/slos", &body).await?;
                }
            }
            Some(have) => {
                let same = have["description"].as_str().map(str::trim) == Some(s.description.trim())
                    && have["service_id"].as_str() == sid.as_deref()
                    && have["target"].as_f64() == Some(s.target)
                    && have["sli"] == body["sli"]
                    && have["window"] == s.window
                    && have["exclude_maintenance"] == json!(s.exclude_maintenance);
                if !same {
                    println!("update SLO {}", s.name);
                    if !dry_run {
                        client.put(&format!("/api/v1/slos/{}", have["id"].as_str().unwrap_or_default()), &body).await?;
                    }
                }
            }
        }
    }
    println!("{}", if dry_run { "dry run: nothing was changed" } else { "applied" });
    Ok(())
}

/// Every SLO as OpenSLO v1 documents, each after the `Service` it belongs to.
pub async fn export(client: &Client) -> Result<String> {
    let services = client.get_all("/api/v1/services").await?;
    let monitors = client.get_all("/api/v1/monitors").await?;
    let slos = client.get("/api/v1/slos", &[]).await?["items"].as_array().cloned().unwrap_or_default();
    let monitor_name: HashMap<&str, &str> =
        monitors.iter().filter_map(|m| Some((m["id"].as_str()?, m["name"].as_str()?))).collect();
    let mut by_service: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for s in &slos {
        by_service.entry(s["service_id"].as_str().unwrap_or_default().to_owned()).or_default().push(s);
    }
    let mut docs: Vec<Value> = Vec::new();
    for svc in services.iter().filter(|s| by_service.contains_key(s["id"].as_str().unwrap_or_default())) {
        let slug = svc["slug"].as_str().unwrap_or_default();
        let mut meta = Map::new();
        meta.insert("name".into(), json!(slug));
        if svc["name"].as_str() != Some(slug) {
            meta.insert("displayName".into(), svc["name"].clone());
        }
        let mut doc = json!({"apiVersion": "openslo/v1", "kind": "Service", "metadata": meta});
        if let Some(d) = svc["description"].as_str().filter(|d| !d.is_empty()) {
            doc["spec"] = json!({"description": d});
        } else {
            doc["spec"] = json!({});
        }
        docs.push(doc);
        for s in by_service.get(svc["id"].as_str().unwrap_or_default()).into_iter().flatten() {
            docs.push(slo_doc(s, slug, &monitor_name));
        }
    }
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&d)?);
    }
    Ok(out)
}

fn slo_doc(s: &Value, service: &str, monitor_name: &HashMap<&str, &str>) -> Value {
    let name = s["name"].as_str().unwrap_or_default();
    let key = opsdeck_core::validate::slugify(name);
    let mut meta = Map::new();
    meta.insert("name".into(), json!(key));
    if key != name {
        meta.insert("displayName".into(), json!(name));
    }
    if s["exclude_maintenance"] == json!(false) {
        meta.insert("annotations".into(), json!({"opsdeck.io/exclude-maintenance": "false"}));
    }
    let sli = &s["sli"];
    let names: Vec<&str> = sli["monitor_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|id| id.as_str().and_then(|id| monitor_name.get(id).copied()).unwrap_or("(a monitor that is gone)"))
        .collect();
    let source =
        |checks: &str| json!({"metricSource": {"type": "Opsdeck", "spec": {"monitors": names, "checks": checks}}});
    let events = |which: &str| json!({"metricSource": {"type": "Opsdeck", "spec": {"events": which}}});
    let query =
        |q: &Value| json!({"metricSource": {"type": "Prometheus", "spec": {"url": sli["prometheus_url"], "query": q}}});
    let within = json!({"metricSource": {"type": "Opsdeck", "spec": {"monitors": names, "checks": "within",
        "thresholdMs": sli["threshold_ms"]}}});
    let (suffix, ratio) = match sli["type"].as_str() {
        Some("latency") => ("latency", json!({"counter": true, "good": within, "total": source("measured")})),
        Some("events") => ("events", json!({"counter": true, "good": events("good"), "total": events("total")})),
        Some("prometheus") => {
            let mut r = json!({"counter": true, "total": query(&sli["total_query"])});
            if sli["good_query"].is_string() {
                r["good"] = query(&sli["good_query"]);
            } else {
                r["bad"] = query(&sli["bad_query"]);
            }
            ("ratio", r)
        }
        _ => ("checks", json!({"counter": true, "good": source("passed"), "total": source("all")})),
    };
    let window = match s["window"]["rolling_days"].as_i64() {
        Some(days) => json!({"duration": format!("{days}d"), "isRolling": true}),
        None => json!({"duration": "1M", "isRolling": false,
            "calendar": {"startTime": "2020-01-01 00:00:00",
                         "timeZone": s["window"]["time_zone"].as_str().unwrap_or("UTC")}}),
    };
    let mut spec = Map::new();
    if let Some(d) = s["description"].as_str().filter(|d| !d.is_empty()) {
        spec.insert("description".into(), json!(d));
    }
    spec.insert("service".into(), json!(service));
    spec.insert(
        "indicator".into(),
        json!({"metadata": {"name": format!("{key}-{suffix}")}, "spec": {"ratioMetric": ratio}}),
    );
    spec.insert("timeWindow".into(), json!([window]));
    spec.insert("budgetingMethod".into(), json!("Occurrences"));
    spec.insert("objectives".into(), json!([{"target": s["target"]}]));
    json!({"apiVersion": "openslo/v1", "kind": "SLO", "metadata": meta, "spec": spec})
}
