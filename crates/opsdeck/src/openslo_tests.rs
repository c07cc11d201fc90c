//! Tests of `openslo.rs`: reading, refusing and window rules.
use super::*;

const DOC: &str = r#"
apiVersion: openslo/v1
kind: Service
metadata:
  name: checkout
  displayName: Checkout
spec:
  description: Card payments
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
  displayName: Checkout availability
spec:
  service: checkout
  indicator:
    metadata:
      name: checkout-availability-checks
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Opsdeck
            spec: {monitors: [Checkout health], checks: passed}
        total:
          metricSource:
            type: Opsdeck
            spec: {monitors: [Checkout health], checks: all}
  timeWindow:
    - duration: 4w
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.999
"#;

#[test]
fn reads_services_and_slos() {
    let r = read(DOC).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.services[0].slug, "checkout");
    let s = &r.slos[0];
    assert_eq!((s.name.as_str(), s.service.as_str(), s.target), ("Checkout availability", "checkout", 0.999));
    assert_eq!(s.window, json!({"rolling_days": 28}));
    assert_eq!(s.sli, SliDecl::Monitors(vec!["Checkout health".into()]));
    assert!(is_openslo(DOC));
}

#[test]
fn what_opsdeck_cannot_do_is_an_error() {
    let doc = DOC
        .replace(
            "type: Opsdeck\n            spec: {monitors: [Checkout health], checks: passed}",
            "type: Prometheus\n            spec: {query: up}",
        )
        .replace(
            "type: Opsdeck\n            spec: {monitors: [Checkout health], checks: all}",
            "type: Prometheus\n            spec: {query: \"sum(rate(x[{{.window}}]))\"}",
        )
        .replace("budgetingMethod: Occurrences", "budgetingMethod: Timeslices")
        .replace("    - target: 0.999", "    - target: 0.999\n      timeSliceTarget: 0.95");
    let r = read(&doc).unwrap_or_else(|e| panic!("{e}"));
    let all = r.errors.join("\n");
    for part in ["spec.query must hold {{.window}}", "Timeslices is not supported", "timeSliceTarget is not supported"]
    {
        assert!(all.contains(part), "{part}: {all}");
    }
    assert!(r.slos.is_empty());
}

#[test]
fn windows_and_durations() {
    assert_eq!(rolling_days("28d"), Some(28));
    assert_eq!(rolling_days("1w"), Some(7));
    assert_eq!(rolling_days("91d"), None);
    assert_eq!(rolling_days("1h"), None);
    assert_eq!(rolling_days(""), None);
    assert_eq!(rolling_days("2é"), None);
    let mut errs = Vec::new();
    let w = window(
        &json!({"duration": "1M", "isRolling": false,
                    "calendar": {"startTime": "2022-01-01 00:00:00", "timeZone": "Europe/Berlin"}}),
        &mut errs,
    );
    assert_eq!(w, Some(json!({"calendar_month": true, "time_zone": "Europe/Berlin"})));
    assert!(window(&json!({"duration": "1w", "isRolling": false}), &mut errs).is_none());
}

#[test]
fn prometheus_and_pushed_indicators() {
    let prom =
        DOC.replace(
            "type: Opsdeck\n            spec: {monitors: [Checkout health], checks: passed}",
            "metricSourceRef: prom\n            spec: {query: \"sum(rate(errors_total[{{.window}}]))\"}",
        )
        .replace("        good:\n", "        bad:\n")
        .replace(
            "type: Opsdeck\n            spec: {monitors: [Checkout health], checks: all}",
            "type: Prometheus\n            spec: {query: \"sum(rate(requests_total[{{.window}}]))\"}",
        ) + "---\napiVersion: openslo/v1\nkind: DataSource\nmetadata: {name: prom}\n\
           spec: {type: Prometheus, connectionDetails: {url: \"http://prometheus:9090\"}}\n";
    let r = read(&prom).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(
        r.slos[0].sli,
        SliDecl::Prometheus {
            url: Some("http://prometheus:9090".into()),
            good: None,
            bad: Some("sum(rate(errors_total[{{.window}}]))".into()),
            total: "sum(rate(requests_total[{{.window}}]))".into(),
        }
    );
    let pushed = DOC
        .replace("spec: {monitors: [Checkout health], checks: passed}", "spec: {events: good}")
        .replace("spec: {monitors: [Checkout health], checks: all}", "spec: {events: total}");
    assert_eq!(read(&pushed).unwrap().slos[0].sli, SliDecl::Events);
    let mixed = DOC.replace("spec: {monitors: [Checkout health], checks: passed}", "spec: {events: good}");
    assert!(read(&mixed).unwrap().errors.join("").contains("same kind of source"));
}
