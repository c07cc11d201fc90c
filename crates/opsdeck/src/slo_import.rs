//! Sloth (`version: prometheus/v1`) and Pyrra (`pyrra.dev/v1alpha1` `ServiceLevelObjective`)
//! files, read into the same declarations as OpenSLO so their users bring their specs unchanged.
//! Both describe Prometheus SLIs; the server comes from `--prometheus-url`. What Opsdeck cannot
//! do is an error (nothing is applied); what it does not keep (labels, alert names) is a note.

use crate::openslo::{Read, ServiceDecl, SliDecl, SloDecl, api_version, documents, rolling_days, text, unknown};
use anyhow::Result;
use serde_json::{Value, json};

/// Sloth's default SLO period (its `--default-slo-period`).
const SLOTH_DAYS: i64 = 30;

/// Which of the two the file is, if either.
pub fn format_of(text_in: &str) -> Option<&'static str> {
    let docs = documents(text_in).ok()?;
    docs.iter().find_map(|d| {
        if d.get("version").and_then(Value::as_str) == Some("prometheus/v1") {
            Some("sloth")
        } else if api_version(d).starts_with("pyrra.dev/") {
            Some("pyrra")
        } else {
            None
        }
    })
}

/// Reads a Sloth or Pyrra file.
pub fn read(text_in: &str) -> Result<Read> {
    let mut r = Read::default();
    for (i, d) in documents(text_in)?.iter().enumerate() {
        if d.get("version").and_then(Value::as_str) == Some("prometheus/v1") {
            sloth(d, &mut r);
        } else if api_version(d).starts_with("pyrra.dev/") {
            pyrra(d, i + 1, &mut r);
        } else {
            r.errors.push(format!("document {}: neither a Sloth prometheus/v1 file nor a Pyrra SLO", i + 1));
        }
    }
    Ok(r)
}

/// Declares the service `name` (by its slug) once.
fn service(r: &mut Read, name: &str) -> String {
    let slug = opsdeck_core::validate::slugify(name);
    if !r.services.iter().any(|s| s.slug == slug) {
        r.services.push(ServiceDecl { slug: slug.clone(), name: name.trim().to_owned(), description: String::new() });
    }
    slug
}

/// Sloth writes the span `{{ .window }}` as often as `{{.window}}`: one spelling for Opsdeck.
fn window_placeholder(q: &str) -> String {
    let mut out = q.to_owned();
    for spelling in ["{{ .window }}", "{{ .window}}", "{{.window }}"] {
        out = out.replace(spelling, opsdeck_core::slo::WINDOW_PLACEHOLDER);
    }
    out
}

/// `99.9` (a number or a string, in percent) → 0.999.
fn percent(v: Option<&Value>) -> Option<f64> {
    let p = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Some(p / 100.0)
}

fn sloth(d: &Value, r: &mut Read) {
    for k in unknown(d, &["version", "service", "labels", "slos"], "") {
        r.errors.push(format!("Sloth file: {} is not supported", k.trim_start_matches('.')));
    }
    let Some(svc) = text(d, "service").filter(|s| !s.trim().is_empty()) else {
        r.errors.push("Sloth file: service is missing".into());
        return;
    };
    let slug = service(r, &svc);
    if d.get("labels").is_some() {
        r.notes.push("Sloth file: labels are not kept".into());
    }
    r.notes.push(format!("Sloth file: each SLO's window is {SLOTH_DAYS} rolling days, Sloth's default period"));
    for (i, s) in d.get("slos").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let name = text(s, "name").unwrap_or_default();
        let at = format!("slos[{i}] ({name})");
        let before = r.errors.len();
        for k in unknown(s, &["name", "objective", "description", "labels", "sli", "alerting"], "") {
            r.errors.push(format!("{at}: {} is not supported", k.trim_start_matches('.')));
        }
        if s.get("labels").is_some() {
            r.notes.push(format!("{at}: labels are not kept"));
        }
        if let Some(a) = s.get("alerting") {
            for k in unknown(a, &["name", "labels", "annotations", "page_alert", "ticket_alert"], "alerting") {
                r.errors.push(format!("{at}: {k} is not supported"));
            }
            for which in ["page_alert", "ticket_alert"] {
                if a.get(which).and_then(|p| p.get("disable")).and_then(Value::as_bool) == Some(true) {
                    r.errors.push(format!(
                        "{at}: alerting.{which}.disable is not supported: Opsdeck pages and opens tickets \
                         for every SLO"
                    ));
                }
            }
            r.notes.push(format!(
                "{at}: alerting: Opsdeck pages and opens tickets with the SRE workbook's multiwindow burn-rate rules, \
                 as Sloth's page_alert and ticket_alert do; their names, labels and annotations are not kept"
            ));
        }
        let sli = s.get("sli").cloned().unwrap_or(Value::Null);
        let events = sli.get("events");
        if events.is_none() && sli.get("raw").is_none() && sli.get("plugin").is_none() {
            r.errors.push(format!("{at}: sli.events (error_query and total_query) is required"));
        }
        if sli.get("raw").is_some() || sli.get("plugin").is_some() {
            r.errors.push(format!(
                "{at}: sli.raw and sli.plugin are not supported: give sli.events (error_query and total_query)"
            ));
        }
        for k in unknown(&sli, &["events", "raw", "plugin"], "sli") {
            r.errors.push(format!("{at}: {k} is not supported"));
        }
        for k in events.map(|e| unknown(e, &["error_query", "total_query"], "sli.events")).unwrap_or_default() {
            r.errors.push(format!("{at}: {k} is not supported"));
        }
        let query = |k: &str| events.and_then(|e| text(e, k)).map(|q| window_placeholder(&q));
        let (bad, total) = (query("error_query"), query("total_query"));
        if events.is_some() && (bad.is_none() || total.is_none()) {
            r.errors.push(format!("{at}: sli.events needs error_query and total_query"));
        }
        let target = percent(s.get("objective"));
        if target.is_none() {
            r.errors.push(format!("{at}: objective must be a percentage, e.g. 99.9"));
        }
        if name.is_empty() {
            r.errors.push(format!("{at}: name is missing"));
        }
        if r.errors.len() == before
            && let (Some(bad), Some(total), Some(target)) = (bad, total, target)
        {
            r.slos.push(SloDecl {
                name,
                description: text(s, "description").unwrap_or_default(),
                service: slug.clone(),
                sli: SliDecl::Prometheus { url: None, good: None, bad: Some(bad), total },
                target,
                window: json!({"rolling_days": SLOTH_DAYS}),
                exclude_maintenance: true,
            });
        }
    }
}

/// `sum(rate(METRIC[{{.window}}]))`, as Pyrra counts a metric's events.
fn rate(metric: &str) -> String {
    format!("sum(rate({metric}[{}]))", opsdeck_core::slo::WINDOW_PLACEHOLDER)
}

fn pyrra(d: &Value, n: usize, r: &mut Read) {
    let meta = d.get("metadata").cloned().unwrap_or(Value::Null);
    let name = text(&meta, "name").unwrap_or_default();
    let at = format!("document {n} (ServiceLevelObjective {name})");
    if text(d, "kind").as_deref() != Some("ServiceLevelObjective") {
        r.errors.push(format!("{at}: kind must be ServiceLevelObjective"));
        return;
    }
    let before = r.errors.len();
    let spec = d.get("spec").cloned().unwrap_or(Value::Null);
    for k in unknown(&meta, &["name", "namespace", "labels", "annotations"], "metadata").into_iter().chain(unknown(
        &spec,
        &["description", "indicator", "target", "window", "alerting"],
        "spec",
    )) {
        r.errors.push(format!("{at}: {k} is not supported"));
    }
    if meta.get("labels").is_some() || meta.get("annotations").is_some() {
        r.notes.push(format!("{at}: metadata.labels and annotations are not kept"));
    }
    if let Some(a) = spec.get("alerting") {
        if a.get("disabled").and_then(Value::as_bool) == Some(true) {
            r.errors.push(format!("{at}: spec.alerting.disabled is not supported: Opsdeck alerts on every SLO"));
        }
        r.notes.push(format!(
            "{at}: spec.alerting: Opsdeck uses the SRE workbook's multiwindow burn-rate rules; \
             alert names and burn-rate settings are not kept"
        ));
    }
    // The namespace is the service: Pyrra's own UI groups SLOs the same way.
    let Some(svc) = text(&meta, "namespace").filter(|s| !s.trim().is_empty()) else {
        r.errors.push(format!("{at}: metadata.namespace is missing (Opsdeck files the SLO under it as a service)"));
        return;
    };
    let ind = spec.get("indicator").cloned().unwrap_or(Value::Null);
    let sli = if let Some(ratio) = ind.get("ratio") {
        parts(ratio, ("errors", "total"), &at, "indicator.ratio", r).map(|(bad, total)| SliDecl::Prometheus {
            url: None,
            good: None,
            bad: Some(rate(&bad)),
            total: rate(&total),
        })
    } else if let Some(latency) = ind.get("latency") {
        parts(latency, ("success", "total"), &at, "indicator.latency", r).map(|(good, total)| SliDecl::Prometheus {
            url: None,
            good: Some(rate(&good)),
            bad: None,
            total: rate(&total),
        })
    } else {
        r.errors.push(format!(
            "{at}: spec.indicator: only ratio and latency indicators are supported (not latencyNative or boolGauge)"
        ));
        None
    };
    let target = percent(spec.get("target"));
    if target.is_none() {
        r.errors.push(format!("{at}: spec.target must be a percentage, e.g. \"99.9\""));
    }
    let window = text(&spec, "window").unwrap_or_default();
    let days = rolling_days(&window);
    if days.is_none() {
        r.errors.push(format!("{at}: spec.window {window:?} must be whole days or weeks, 1d to 90d (e.g. 2w, 28d)"));
    }
    if r.errors.len() == before
        && let (Some(sli), Some(target), Some(days)) = (sli, target, days)
    {
        let slug = service(r, &svc);
        r.slos.push(SloDecl {
            name,
            description: text(&spec, "description").unwrap_or_default(),
            service: slug,
            sli,
            target,
            window: json!({"rolling_days": days}),
            exclude_maintenance: true,
        });
    }
}

/// The two metrics of a Pyrra indicator (`first`, `total`), each `{metric: …}`.
fn parts(v: &Value, keys: (&str, &str), at: &str, path: &str, r: &mut Read) -> Option<(String, String)> {
    for k in unknown(v, &[keys.0, keys.1, "grouping"], &format!("spec.{path}")) {
        r.errors.push(format!("{at}: {k} is not supported"));
    }
    if v.get("grouping").and_then(Value::as_array).is_some_and(|g| !g.is_empty()) {
        r.errors.push(format!(
            "{at}: spec.{path}.grouping is not supported: Opsdeck keeps one SLO per document (aggregate the metrics)"
        ));
        return None;
    }
    let metric = |k: &str| v.get(k).and_then(|m| text(m, "metric")).filter(|m| !m.trim().is_empty());
    match (metric(keys.0), metric(keys.1)) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => {
            r.errors.push(format!("{at}: spec.{path} needs {}.metric and {}.metric", keys.0, keys.1));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOTH: &str = include_str!("../tests/fixtures/sloth-getting-started.yaml");
    const PYRRA: &str = include_str!("../tests/fixtures/pyrra-examples.yaml");

    #[test]
    fn sloth_getting_started() {
        assert_eq!(format_of(SLOTH), Some("sloth"));
        let r = read(SLOTH).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.services[0].slug, "myservice");
        let s = &r.slos[0];
        assert_eq!((s.name.as_str(), s.service.as_str()), ("requests-availability", "myservice"));
        assert!((s.target - 0.999).abs() < 1e-12);
        assert_eq!(s.window, json!({"rolling_days": 30}));
        let SliDecl::Prometheus { url: None, good: None, bad: Some(bad), total } = &s.sli else { panic!("{s:?}") };
        assert!(bad.contains(r#"code=~"(5..|429)""#) && bad.contains("[{{.window}}]"), "{bad}");
        assert!(total.starts_with("sum(rate(http_request_duration_seconds_count{job=\"myservice\"}"), "{total}");
        let notes = r.notes.join("\n");
        assert!(notes.contains("labels are not kept") && notes.contains("page_alert"), "{notes}");
        // Paging turned off, or no SLI at all: named, not applied.
        let quiet = SLOTH.replace("      page_alert:\n", "      page_alert:\n        disable: true\n");
        let e = read(&quiet).unwrap().errors.join("\n");
        assert!(e.contains("alerting.page_alert.disable is not supported"), "{e}");
        let bare = SLOTH.replace("    sli:\n", "    sli: {}\n    unused:\n");
        assert!(read(&bare).unwrap().errors.join("\n").contains("sli.events"));
        let spaced = SLOTH.replace("[{{.window}}]", "[{{ .window }}]");
        let SliDecl::Prometheus { total, .. } = &read(&spaced).unwrap().slos[0].sli else { panic!() };
        assert!(total.ends_with("[{{.window}}]))"), "{total}");
    }

    #[test]
    fn pyrra_ratio_and_latency() {
        assert_eq!(format_of(PYRRA), Some("pyrra"));
        let r = read(PYRRA).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.services.len(), 1);
        assert_eq!(r.services[0].slug, "monitoring");
        let errors = &r.slos[0];
        assert_eq!(errors.name, "prometheus-http-errors");
        assert!((errors.target - 0.9999).abs() < 1e-12);
        assert_eq!(errors.window, json!({"rolling_days": 14}));
        assert_eq!(
            errors.sli,
            SliDecl::Prometheus {
                url: None,
                good: None,
                bad: Some(
                    r#"sum(rate(prometheus_http_requests_total{job="prometheus-k8s",code=~"5.."}[{{.window}}]))"#
                        .into()
                ),
                total: r#"sum(rate(prometheus_http_requests_total{job="prometheus-k8s"}[{{.window}}]))"#.into(),
            }
        );
        let latency = &r.slos[1];
        let SliDecl::Prometheus { good: Some(good), bad: None, .. } = &latency.sli else { panic!("{latency:?}") };
        assert!(good.contains(r#"le="1"}[{{.window}}]"#), "{good}");
        // What Opsdeck cannot do is named.
        let grouped = PYRRA.replacen("      total:", "      grouping: [handler]\n      total:", 1);
        let e = read(&grouped).unwrap().errors.join("\n");
        assert!(e.contains("grouping is not supported"), "{e}");
        let native = PYRRA.replacen("    ratio:", "    boolGauge:", 1);
        assert!(read(&native).unwrap().errors.join("\n").contains("only ratio and latency"));
    }
}
