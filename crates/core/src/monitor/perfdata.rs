//! Nagios plugin performance data: `'label'=value[UOM];[warn];[crit];[min];[max]`, space-separated.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerfDatum {
    pub label: String,
    pub value: f64,
    pub uom: String,
    pub warn: Option<String>,
    pub crit: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Splits on spaces outside single quotes; labels may be quoted and contain spaces.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses the performance data part of plugin output (after the `|`); malformed items are
/// skipped rather than failing the whole check.
pub fn parse_perfdata(s: &str) -> Vec<PerfDatum> {
    tokens(s)
        .into_iter()
        .filter_map(|tok| {
            let (label, rest) = tok.rsplit_once('=')?;
            let label = label.trim_matches('\'').replace("''", "'");
            let mut parts = rest.split(';');
            let raw = parts.next()?;
            let split = raw
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
                .unwrap_or(raw.len());
            let (num, uom) = raw.split_at(split);
            let value = num.parse::<f64>().ok()?;
            let opt = |p: Option<&str>| p.filter(|v| !v.is_empty()).map(str::to_owned);
            let warn = opt(parts.next());
            let crit = opt(parts.next());
            let min = parts.next().and_then(|v| v.parse().ok());
            let max = parts.next().and_then(|v| v.parse().ok());
            Some(PerfDatum { label, value, uom: uom.to_owned(), warn, crit, min, max })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_check_http_output() {
        let p = parse_perfdata("time=0.000393s;;;0.000000;10.000000 size=270B;;;0");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].label, "time");
        assert!((p[0].value - 0.000393).abs() < 1e-9);
        assert_eq!(p[0].uom, "s");
        assert_eq!(p[0].max, Some(10.0));
        assert_eq!(p[1].uom, "B");
        assert_eq!(p[1].min, Some(0.0));
    }

    #[test]
    fn quoted_labels_thresholds_and_junk() {
        let p = parse_perfdata("'disk usage /'=81%;80;90;0;100 junk 'x'=U");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].label, "disk usage /");
        assert_eq!(p[0].warn.as_deref(), Some("80"));
        assert_eq!(p[0].crit.as_deref(), Some("90"));
    }
}
