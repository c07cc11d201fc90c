//! SLOs as code in OpenSLO v1: `opsdeck apply -f FILE.yaml` reads `Service`, `SLO`, `SLI` and
//! `DataSource` documents, `opsdeck export --openslo` writes them back, so apply → export gives
//! the same documents. An indicator is a `ratioMetric` whose sources are either Opsdeck's
//! (`type: Opsdeck`: monitors' checks, `checks: passed` over `checks: all`, or pushed counts,
//! `events: good` over `events: total`) or Prometheus queries (`type: Prometheus`, `spec.query`
//! holding `{{.window}}` where the span goes; the server from `spec.url`, a `DataSource`, or
//! `--prometheus-url`). Whatever else OpenSLO can say and Opsdeck cannot do (time-slice budgeting,
//! alert policies…) is reported, never dropped in silence: a meaning Opsdeck would change is an
//! error and nothing is applied; a label it does not keep is a note. Sloth and Pyrra files are
//! read by [`crate::slo_import`] into the same declarations.

use crate::client::Client;
use anyhow::Result;
use serde_json::{Value, json};
use std::collections::HashMap;

/// What an SLO's `spec` may hold.
const SLO_SPEC_KEYS: [&str; 7] =
    ["description", "service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod", "objectives"];

/// The file is OpenSLO (any document with `apiVersion: openslo/…`).
pub fn is_openslo(text: &str) -> bool {
    documents(text).is_ok_and(|docs| docs.iter().any(|d| api_version(d).starts_with("openslo/")))
}

pub(crate) fn api_version(d: &Value) -> &str {
    d.get("apiVersion").and_then(Value::as_str).unwrap_or_default()
}

pub(crate) fn documents(text: &str) -> Result<Vec<Value>> {
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

/// What an SLI measures, as the file names it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SliDecl {
    /// Monitors by name: the share of their checks that passed.
    Monitors(Vec<String>),
    /// Monitors by name: the share of their checks answered within `threshold_ms`.
    Latency { monitors: Vec<String>, threshold_ms: f64 },
    /// Pushed good/total counts.
    Events,
    /// Two PromQL queries; the server, if the file names it.
    Prometheus { url: Option<String>, good: Option<String>, bad: Option<String>, total: String },
}

/// An SLO as the file declares it, resolved to names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SloDecl {
    pub name: String,
    pub description: String,
    pub service: String,
    pub sli: SliDecl,
    pub target: f64,
    /// `{"rolling_days": n}` or `{"calendar_month": true, "time_zone": z}`.
    pub window: Value,
    pub exclude_maintenance: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct ServiceDecl {
    pub slug: String,
    pub name: String,
    pub description: String,
}

/// What reading the file found.
#[derive(Default)]
pub(crate) struct Read {
    pub services: Vec<ServiceDecl>,
    pub slos: Vec<SloDecl>,
    pub notes: Vec<String>,
    pub errors: Vec<String>,
}

/// Keys of `v` outside `known`, as `at.key`.
pub(crate) fn unknown(v: &Value, known: &[&str], at: &str) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().filter(|k| !known.contains(&k.as_str())).map(|k| format!("{at}.{k}")).collect())
        .unwrap_or_default()
}

pub(crate) fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// `28d`, `4w` → days (1 to 90).
pub(crate) fn rolling_days(duration: &str) -> Option<i64> {
    let (n, per) = match (duration.strip_suffix('d'), duration.strip_suffix('w')) {
        (Some(n), _) => (n, 1),
        (_, Some(n)) => (n, 7),
        _ => return None,
    };
    let days = n.parse::<i64>().ok()?.checked_mul(per)?;
    (1..=90).contains(&days).then_some(days)
}

/// One side of a ratio, as its metric source says.
enum Source {
    Checks { monitors: Vec<String>, checks: String, threshold_ms: Option<f64> },
    Events(String),
    Query { url: Option<String>, query: String },
}

/// Reads one side of a ratio (`at` names it); `servers` are the file's Prometheus DataSources.
fn source(v: &Value, at: &str, servers: &HashMap<String, String>, errs: &mut Vec<String>) -> Option<Source> {
    let Some(src) = v.get("metricSource") else {
        errs.push(format!("{at}.metricSource is missing"));
        return None;
    };
    errs.extend(
        unknown(src, &["type", "spec", "metricSourceRef"], &format!("{at}.metricSource"))
            .into_iter()
            .map(|k| format!("{k} is not supported")),
    );
    let reference = text(src, "metricSourceRef");
    let kind =
        text(src, "type").unwrap_or_else(|| if reference.is_some() { "Prometheus".into() } else { String::new() });
    let spec = src.get("spec").cloned().unwrap_or(Value::Null);
    let spec_at = format!("{at}.metricSource.spec");
    if kind.eq_ignore_ascii_case("prometheus") {
        errs.extend(unknown(&spec, &["query", "url"], &spec_at).into_iter().map(|k| format!("{k} is not supported")));
        let url = match (text(&spec, "url"), reference) {
            (Some(u), _) => Some(u),
            (None, Some(r)) => match servers.get(&r) {
                Some(u) => Some(u.clone()),
                None => {
                    errs.push(format!("{at}.metricSource.metricSourceRef: no Prometheus DataSource named {r:?}"));
                    return None;
                }
            },
            (None, None) => None,
        };
        let query = text(&spec, "query").unwrap_or_default();
        if !query.contains(opsdeck_core::slo::WINDOW_PLACEHOLDER) {
            errs.push(format!(
                "{spec_at}.query must hold {{{{.window}}}} where the span goes, e.g. \
                 sum(rate(http_requests_total[{{{{.window}}}}])): Opsdeck asks it over each burn-rate span"
            ));
            return None;
        }
        return Some(Source::Query { url, query });
    }
    if !kind.eq_ignore_ascii_case("opsdeck") {
        errs.push(format!(
            "{at}.metricSource.type {kind:?} is not supported: Opsdeck reads its monitors' checks or pushed counts \
             (type: Opsdeck) and Prometheus queries (type: Prometheus)"
        ));
        return None;
    }
    errs.extend(
        unknown(&spec, &["monitors", "checks", "events", "thresholdMs"], &spec_at)
            .into_iter()
            .map(|k| format!("{k} is not supported")),
    );
    if let Some(events) = text(&spec, "events") {
        return Some(Source::Events(events));
    }
    let monitors: Vec<String> = serde_json::from_value(spec.get("monitors").cloned().unwrap_or(Value::Null))
        .map_err(|_| errs.push(format!("{spec_at}.monitors must list monitor names")))
        .ok()?;
    let threshold_ms = spec.get("thresholdMs").and_then(Value::as_f64);
    Some(Source::Checks { monitors, checks: text(&spec, "checks").unwrap_or_default(), threshold_ms })
}

/// What an indicator (`spec.ratioMetric`: good or bad over total) measures.
fn indicator(sli: &Value, at: &str, servers: &HashMap<String, String>, errs: &mut Vec<String>) -> Option<SliDecl> {
    let spec = sli.get("spec").cloned().unwrap_or(Value::Null);
    if spec.get("thresholdMetric").is_some() {
        errs.push(format!("{at}.spec.thresholdMetric is not supported: use a ratioMetric of good over total"));
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
    let rat = format!("{at}.spec.ratioMetric");
    errs.extend(
        unknown(ratio, &["counter", "good", "bad", "total"], &rat)
            .into_iter()
            .map(|k| format!("{k} is not supported (Opsdeck counts good or bad over total)")),
    );
    let (first, is_good) = match (ratio.get("good"), ratio.get("bad")) {
        (Some(g), None) => (g, true),
        (None, Some(b)) => (b, false),
        _ => {
            errs.push(format!("{rat} needs one of good and bad"));
            return None;
        }
    };
    let Some(total) = ratio.get("total") else {
        errs.push(format!("{rat} needs total"));
        return None;
    };
    let side = if is_good { "good" } else { "bad" };
    let first = source(first, &format!("{rat}.{side}"), servers, errs);
    let total = source(total, &format!("{rat}.total"), servers, errs);
    match (first?, total?) {
        (Source::Checks { .. }, Source::Checks { threshold_ms: Some(_), .. }) => {
            errs.push(format!("{rat}.total: thresholdMs belongs on good (checks: within)"));
            None
        }
        (
            Source::Checks { monitors: g, checks: gc, threshold_ms: gt },
            Source::Checks { monitors: t, checks: tc, threshold_ms: None },
        ) => {
            let kinds = (gc.as_str(), tc.as_str(), gt);
            if g != t {
                errs.push(format!("{rat}: good and total must name the same monitors"));
                return None;
            }
            match kinds {
                ("passed", "all", None) if is_good => Some(SliDecl::Monitors(g)),
                ("within", "measured", Some(threshold_ms)) if is_good => {
                    Some(SliDecl::Latency { monitors: g, threshold_ms })
                }
                _ => {
                    errs.push(format!(
                        "{rat}: monitor checks are good (checks: passed) over total (checks: all), or for latency \
                         good (checks: within, thresholdMs: N) over total (checks: measured)"
                    ));
                    None
                }
            }
        }
        (Source::Events(g), Source::Events(t)) if is_good && g == "good" && t == "total" => Some(SliDecl::Events),
        (Source::Events(_), Source::Events(_)) => {
            errs.push(format!("{rat}: pushed counts are good (events: good) over total (events: total)"));
            None
        }
        (Source::Query { url: fu, query: f }, Source::Query { url: tu, query: t }) => {
            if fu.is_some() && tu.is_some() && fu != tu {
                errs.push(format!("{rat}: both queries must run on the same Prometheus server"));
                return None;
            }
            let url = fu.or(tu);
            Some(if is_good {
                SliDecl::Prometheus { url, good: Some(f), bad: None, total: t }
            } else {
                SliDecl::Prometheus { url, good: None, bad: Some(f), total: t }
            })
        }
        _ => {
            errs.push(format!("{rat}: both sides must come from the same kind of source"));
            None
        }
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
    // Prometheus servers by DataSource name.
    let servers: HashMap<String, String> = docs
        .iter()
        .filter(|d| text(d, "kind").as_deref() == Some("DataSource"))
        .filter_map(|d| {
            let spec = d.get("spec")?;
            let prometheus = text(spec, "type").is_some_and(|t| t.eq_ignore_ascii_case("prometheus"));
            Some((
                text(d.get("metadata")?, "name")?,
                text(spec.get("connectionDetails")?, "url").filter(|_| prometheus)?,
            ))
        })
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
                let sli = sli.and_then(|s| indicator(&s, "spec.indicator", &servers, &mut errs));
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
                    && let (Some(sli), Some(window), Some(target)) = (sli, window, target)
                {
                    r.slos.push(SloDecl {
                        name: text(&meta, "displayName").unwrap_or_else(|| name.clone()),
                        description: text(&spec, "description").unwrap_or_default(),
                        service,
                        sli,
                        target,
                        window,
                        exclude_maintenance: exclude,
                    });
                }
            }
            "DataSource" => {
                let ok = text(&spec, "type").is_some_and(|t| t.eq_ignore_ascii_case("prometheus"))
                    && spec.get("connectionDetails").and_then(|c| c.get("url")).is_some_and(Value::is_string);
                if !ok {
                    r.errors.push(format!(
                        "{at}: only a Prometheus DataSource (spec.type: Prometheus, spec.connectionDetails.url) is read"
                    ));
                }
                r.errors.extend(
                    unknown(&spec, &["type", "connectionDetails", "description"], "spec")
                        .into_iter()
                        .chain(unknown(&spec["connectionDetails"], &["url"], "spec.connectionDetails"))
                        .map(|k| format!("{at}: {k} is not supported")),
                );
            }
            "AlertPolicy" | "AlertCondition" | "AlertNotificationTarget" => r.errors.push(format!(
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

/// Applies the OpenSLO documents of `text_in` (see [`crate::slo_apply::apply_read`]).
pub async fn apply(client: &Client, text_in: &str, dry_run: bool, prometheus_url: Option<&str>) -> Result<()> {
    crate::slo_apply::apply_read(client, read(text_in)?, dry_run, prometheus_url).await
}

#[cfg(test)]
#[path = "openslo_tests.rs"]
mod tests;
