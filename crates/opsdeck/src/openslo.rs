//! SLOs as code in OpenSLO v1: `opsdeck apply -f FILE.yaml` reads `Service`, `SLO` and `SLI`
//! documents, `opsdeck export --openslo` writes them back, so apply → export gives the same
//! documents. Opsdeck's SLIs are monitor checks: an indicator is a `ratioMetric` whose
//! `metricSource` has `type: Opsdeck` and names the monitors (`checks: passed` over `checks:
//! all`). Whatever else OpenSLO can say and Opsdeck cannot do (Prometheus sources, time-slice
//! budgeting, alert policies…) is reported, never dropped in silence: a meaning Opsdeck would
//! change is an error and nothing is applied; a label it does not keep is a note.

use crate::client::Client;
use anyhow::{Result, bail};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// What an SLO's `spec` may hold.
const SLO_SPEC_KEYS: [&str; 7] =
    ["description", "service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod", "objectives"];

/// The file is OpenSLO (any document with `apiVersion: openslo/…`).
pub fn is_openslo(text: &str) -> bool {
    documents(text).is_ok_and(|docs| docs.iter().any(|d| api_version(d).starts_with("openslo/")))
}

/// A Sloth or Pyrra file, which would need Prometheus SLIs.
pub fn foreign_format(text: &str) -> Option<&'static str> {
    let docs = documents(text).ok()?;
    docs.iter().find_map(|d| {
        if d.get("version").and_then(Value::as_str) == Some("prometheus/v1") {
            Some("a Sloth prometheus/v1 file")
        } else if api_version(d).starts_with("pyrra.dev/") {
            Some("a Pyrra ServiceLevelObjective")
        } else {
            None
        }
    })
}

fn api_version(d: &Value) -> &str {
    d.get("apiVersion").and_then(Value::as_str).unwrap_or_default()
}

fn documents(text: &str) -> Result<Vec<Value>> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let v = Value::deserialize(doc)?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// An SLO as the file declares it, resolved to names.
#[derive(Debug, Clone, PartialEq)]
struct SloDecl {
    name: String,
    description: String,
    service: String,
    monitors: Vec<String>,
    target: f64,
    /// `{"rolling_days": n}` or `{"calendar_month": true, "time_zone": z}`.
    window: Value,
    exclude_maintenance: bool,
}

#[derive(Debug, Clone)]
struct ServiceDecl {
    slug: String,
    name: String,
    description: String,
}

/// What reading the file found.
#[derive(Default)]
struct Read {
    services: Vec<ServiceDecl>,
    slos: Vec<SloDecl>,
    notes: Vec<String>,
    errors: Vec<String>,
}

/// Keys of `v` outside `known`, as `at.key`.
fn unknown(v: &Value, known: &[&str], at: &str) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().filter(|k| !known.contains(&k.as_str())).map(|k| format!("{at}.{k}")).collect())
        .unwrap_or_default()
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// `28d`, `4w` → days (1 to 90).
fn rolling_days(duration: &str) -> Option<i64> {
    let (n, per) = match (duration.strip_suffix('d'), duration.strip_suffix('w')) {
        (Some(n), _) => (n, 1),
        (_, Some(n)) => (n, 7),
        _ => return None,
    };
    let days = n.parse::<i64>().ok()?.checked_mul(per)?;
    (1..=90).contains(&days).then_some(days)
}

/// The monitors an Opsdeck metric source names.
fn monitor_source(v: &Value, at: &str, want_checks: &str, errs: &mut Vec<String>) -> Option<Vec<String>> {
    let Some(src) = v.get("metricSource") else {
        errs.push(format!("{at}.metricSource is missing"));
        return None;
    };
    let kind = text(src, "type").unwrap_or_default();
    if !kind.eq_ignore_ascii_case("opsdeck") {
        errs.push(format!(
            "{at}.metricSource.type {kind:?} is not supported: Opsdeck measures SLIs from its monitors' checks \
             (type: Opsdeck, spec.monitors); Prometheus and other sources are not read yet"
        ));
        return None;
    }
    errs.extend(
        unknown(src, &["type", "spec", "metricSourceRef"], &format!("{at}.metricSource"))
            .into_iter()
            .map(|k| format!("{k} is not supported")),
    );
    let spec = src.get("spec").cloned().unwrap_or(Value::Null);
    errs.extend(
        unknown(&spec, &["monitors", "checks"], &format!("{at}.metricSource.spec"))
            .into_iter()
            .map(|k| format!("{k} is not supported")),
    );
    let checks = text(&spec, "checks").unwrap_or_else(|| want_checks.to_owned());
    if checks != want_checks {
        errs.push(format!("{at}.metricSource.spec.checks must be {want_checks:?}"));
    }
    let monitors: Vec<String> = serde_json::from_value(spec.get("monitors").cloned().unwrap_or(Value::Null))
        .map_err(|_| errs.push(format!("{at}.metricSource.spec.monitors must list monitor names")))
        .ok()?;
    Some(monitors)
}

/// The monitors of an indicator (`spec.ratioMetric` with good over total checks).
fn indicator(sli: &Value, at: &str, errs: &mut Vec<String>) -> Option<Vec<String>> {
    let spec = sli.get("spec").cloned().unwrap_or(Value::Null);
    if spec.get("thresholdMetric").is_some() {
        errs.push(format!("{at}.spec.thresholdMetric is not supported: use a ratioMetric of good over all checks"));
        return None;
    }
    errs.extend(
        unknown(&spec, &["ratioMetric", "description"], &format!("{at}.spec"))
            .into_iter()
            .map(|k| format!("{k} is not supported")),
    );
    let Some(ratio) = spec.get("ratioMetric") else {
        errs.push(format!("{at}.spec.ratioMetric is missing"));
        return None;
    };
    errs.extend(
        unknown(ratio, &["counter", "good", "total"], &format!("{at}.spec.ratioMetric"))
            .into_iter()
            .map(|k| format!("{k} is not supported (Opsdeck counts good over total checks)")),
    );
    let (Some(good), Some(total)) = (ratio.get("good"), ratio.get("total")) else {
        errs.push(format!("{at}.spec.ratioMetric needs good and total"));
        return None;
    };
    let good = monitor_source(good, &format!("{at}.spec.ratioMetric.good"), "passed", errs);
    let total = monitor_source(total, &format!("{at}.spec.ratioMetric.total"), "all", errs);
    match (good, total) {
        (Some(g), Some(t)) if g == t => Some(g),
        (Some(_), Some(_)) => {
            errs.push(format!("{at}.spec.ratioMetric: good and total must name the same monitors"));
            None
        }
        _ => None,
    }
}

fn read(text_in: &str) -> Result<Read> {
    let docs = documents(text_in)?;
    let mut r = Read::default();
    let slis: HashMap<String, Value> = docs
        .iter()
        .filter(|d| text(d, "kind").as_deref() == Some("SLI"))
        .filter_map(|d| Some((text(d.get("metadata")?, "name")?, d.clone())))
        .collect();
    for (i, d) in docs.iter().enumerate() {
        let kind = text(d, "kind").unwrap_or_default();
        let meta = d.get("metadata").cloned().unwrap_or(Value::Null);
        let name = text(&meta, "name").unwrap_or_default();
        let at = format!("document {} ({kind} {name})", i + 1);
        if api_version(d) != "openslo/v1" {
            r.errors.push(format!("{at}: apiVersion must be openslo/v1"));
            continue;
        }
        if name.is_empty() {
            r.errors.push(format!("{at}: metadata.name is missing"));
            continue;
        }
        let spec = d.get("spec").cloned().unwrap_or(Value::Null);
        for k in unknown(&meta, &["name", "displayName", "labels", "annotations"], "metadata") {
            r.errors.push(format!("{at}: {k} is not supported"));
        }
        if meta.get("labels").is_some() {
            r.notes.push(format!("{at}: metadata.labels are not kept"));
        }
        match kind.as_str() {
            "Service" => {
                r.errors.extend(
                    unknown(&spec, &["description"], "spec").into_iter().map(|k| format!("{at}: {k} is not supported")),
                );
                r.services.push(ServiceDecl {
                    name: text(&meta, "displayName").unwrap_or_else(|| name.clone()),
                    slug: name,
                    description: text(&spec, "description").unwrap_or_default(),
                });
            }
            "SLI" => {}
            "SLO" => {
                let before = r.errors.len();
                let mut errs = Vec::new();
                errs.extend(unknown(&spec, &SLO_SPEC_KEYS, "spec").into_iter().map(|k| {
                    if k == "spec.alertPolicies" {
                        format!(
                            "{k} is not supported: Opsdeck alerts with the SRE workbook's multiwindow \
                                 burn-rate rules"
                        )
                    } else {
                        format!("{k} is not supported")
                    }
                }));
                let sli = match (spec.get("indicator"), text(&spec, "indicatorRef")) {
                    (Some(inline), None) => Some(inline.clone()),
                    (None, Some(r)) => slis.get(&r).cloned().or_else(|| {
                        errs.push(format!("spec.indicatorRef: no SLI named {r:?} in the file"));
                        None
                    }),
                    _ => {
                        errs.push("spec: give one of indicator or indicatorRef".into());
                        None
                    }
                };
                let monitors = sli.and_then(|s| indicator(&s, "spec.indicator", &mut errs));
                let method = text(&spec, "budgetingMethod").unwrap_or_else(|| "Occurrences".into());
                if method != "Occurrences" {
                    errs.push(format!("spec.budgetingMethod {method} is not supported: only Occurrences"));
                }
                let windows = spec.get("timeWindow").and_then(Value::as_array).cloned().unwrap_or_default();
                let window = match windows.as_slice() {
                    [w] => window(w, &mut errs),
                    _ => {
                        errs.push("spec.timeWindow must hold exactly one window".into());
                        None
                    }
                };
                let objectives = spec.get("objectives").and_then(Value::as_array).cloned().unwrap_or_default();
                let target = match objectives.as_slice() {
                    [o] => {
                        errs.extend(
                            unknown(o, &["target", "targetPercent", "displayName"], "spec.objectives[0]")
                                .into_iter()
                                .map(|k| format!("{k} is not supported")),
                        );
                        let t = o
                            .get("target")
                            .and_then(Value::as_f64)
                            .or_else(|| o.get("targetPercent").and_then(Value::as_f64).map(|p| p / 100.0));
                        if t.is_none() {
                            errs.push("spec.objectives[0]: give target (0 to 1) or targetPercent".into());
                        }
                        t
                    }
                    _ => {
                        errs.push("spec.objectives must hold exactly one objective".into());
                        None
                    }
                };
                let annotations = meta.get("annotations").cloned().unwrap_or(Value::Null);
                let exclude = match annotations.get("opsdeck.io/exclude-maintenance") {
                    None => true,
                    Some(Value::Bool(b)) => *b,
                    Some(Value::String(v)) if v == "true" || v == "false" => v == "true",
                    Some(other) => {
                        errs.push(format!(
                            "metadata.annotations.opsdeck.io/exclude-maintenance {other} must be \"true\" or \"false\""
                        ));
                        true
                    }
                };
                r.errors.extend(errs.into_iter().map(|e| format!("{at}: {e}")));
                let service = text(&spec, "service").unwrap_or_default();
                if service.is_empty() {
                    r.errors.push(format!("{at}: spec.service is missing"));
                }
                if r.errors.len() == before
                    && let (Some(monitors), Some(window), Some(target)) = (monitors, window, target)
                {
                    r.slos.push(SloDecl {
                        name: text(&meta, "displayName").unwrap_or_else(|| name.clone()),
                        description: text(&spec, "description").unwrap_or_default(),
                        service,
                        monitors,
                        target,
                        window,
                        exclude_maintenance: exclude,
                    });
                }
            }
            "AlertPolicy" | "AlertCondition" | "AlertNotificationTarget" | "DataSource" => r.errors.push(format!(
                "{at}: kind {kind} is not supported: Opsdeck alerts on every SLO with the SRE workbook's \
                 multiwindow burn-rate rules and routes them like any alert"
            )),
            other => r.errors.push(format!("{at}: kind {other:?} is not an OpenSLO v1 kind Opsdeck reads")),
        }
    }
    Ok(r)
}

fn window(w: &Value, errs: &mut Vec<String>) -> Option<Value> {
    errs.extend(
        unknown(w, &["duration", "isRolling", "calendar"], "spec.timeWindow[0]")
            .into_iter()
            .map(|k| format!("{k} is not supported")),
    );
    let duration = text(w, "duration").unwrap_or_default();
    let rolling = w.get("isRolling").and_then(Value::as_bool).unwrap_or(false);
    if rolling {
        return match rolling_days(&duration) {
            Some(days) => Some(json!({"rolling_days": days})),
            None => {
                errs.push(format!(
                    "spec.timeWindow[0].duration {duration:?}: a rolling window is 1d to 90d (or in weeks)"
                ));
                None
            }
        };
    }
    let cal = w.get("calendar").cloned().unwrap_or(Value::Null);
    let start = text(&cal, "startTime").unwrap_or_default();
    if duration != "1M" || !(start.ends_with("-01 00:00:00") || start.is_empty()) {
        errs.push(format!(
            "spec.timeWindow[0]: a calendar window must be one month (duration: 1M) starting on the 1st at 00:00:00, \
             not {duration:?} from {start:?}"
        ));
        return None;
    }
    Some(json!({"calendar_month": true, "time_zone": text(&cal, "timeZone").unwrap_or_else(|| "UTC".into())}))
}

/// Applies the OpenSLO documents of `text`: services declared there are created when missing;
/// SLOs are matched by name, created or replaced.
pub async fn apply(client: &Client, text_in: &str, dry_run: bool) -> Result<()> {
    let r = read(text_in)?;
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
    for s in &r.slos {
        if !service_id.contains_key(s.service.as_str()) && !r.services.iter().any(|d| d.slug == s.service) {
            errors
                .push(format!("SLO {}: spec.service: no service {:?} on the server or in the file", s.name, s.service));
        }
        for m in &s.monitors {
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
        bail!("{} error(s) in the OpenSLO documents; nothing was changed", errors.len());
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
    let by_name: HashMap<&str, &Value> = existing.iter().filter_map(|s| Some((s["name"].as_str()?, s))).collect();
    for s in &r.slos {
        let sid =
            service_id.get(s.service.as_str()).map(|v| v.to_string()).or_else(|| created.get(&s.service).cloned());
        // As the server keeps them: sorted, each once.
        let mut ids: Vec<&str> = s.monitors.iter().filter_map(|m| monitor_id.get(m.as_str()).copied()).collect();
        ids.sort_unstable();
        ids.dedup();
        let body = json!({"name": s.name, "description": s.description, "service_id": sid, "target": s.target,
            "sli": {"type": "availability", "monitor_ids": ids}, "window": s.window,
            "exclude_maintenance": s.exclude_maintenance});
        match by_name.get(s.name.as_str()) {
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
                    && have["sli"]["monitor_ids"] == json!(ids)
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
    let names: Vec<&str> = s["sli"]["monitor_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|id| id.as_str().and_then(|id| monitor_name.get(id).copied()).unwrap_or("(a monitor that is gone)"))
        .collect();
    let source =
        |checks: &str| json!({"metricSource": {"type": "Opsdeck", "spec": {"monitors": names, "checks": checks}}});
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
        json!({"metadata": {"name": format!("{key}-checks")},
               "spec": {"ratioMetric": {"counter": true, "good": source("passed"), "total": source("all")}}}),
    );
    spec.insert("timeWindow".into(), json!([window]));
    spec.insert("budgetingMethod".into(), json!("Occurrences"));
    spec.insert("objectives".into(), json!([{"target": s["target"]}]));
    json!({"apiVersion": "openslo/v1", "kind": "SLO", "metadata": meta, "spec": spec})
}

#[cfg(test)]
#[path = "openslo_tests.rs"]
mod tests;
