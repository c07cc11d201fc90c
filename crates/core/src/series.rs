//! Metric series pushed through the API for capacity forecasts (disk used, connections,
//! licences in use…): their names, points and the forecast a caller asks for.

use crate::{Error, Result, time};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Longest series name.
pub const NAME_MAX: usize = 200;
/// Points one request may push.
pub const PUSH_MAX: usize = 10_000;
/// Points a series keeps (the oldest go first).
pub const KEEP_MAX: i64 = 100_000;
/// Points a forecast reads, at most (the newest).
pub const TRAIN_MAX: i64 = 10_000;
/// The largest magnitude a value may have (an exabyte in bytes): the squares and sums of a
/// forecast stay far from overflowing.
pub const VALUE_MAX: f64 = 1e18;
/// The longest training window and forecast horizon, in days.
pub const DAYS_MAX: u16 = 730;

/// A series name as Prometheus writes metric names, with dots and dashes too
/// (`disk_used_bytes`, `db1.connections`): a letter, `_` or `:` first, then letters, digits,
/// `_`, `:`, `.` and `-`.
pub fn parse_name(raw: &str) -> Result<String> {
    let s = raw.trim();
    let bad = || {
        Error::invalid(
            "name",
            format!(
                "must be 1 to {NAME_MAX} characters: a letter, _ or : first, then letters, digits, _ : . or - \
                 (such as disk_used_bytes)"
            ),
        )
    };
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-'));
    if first_ok && rest_ok && s.len() <= NAME_MAX { Ok(s.to_owned()) } else { Err(bad()) }
}

/// A value at a time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// Checks pushed points: 1 to [`PUSH_MAX`], finite values, times in range and not more than a
/// day ahead of `now` (a clock that far off is a mistake, not a measurement). Returns them by
/// time, one per millisecond (the last given wins, as a second push at the same time does).
pub fn check_points(points: Vec<Point>, now: DateTime<Utc>) -> Result<Vec<Point>> {
    if points.is_empty() || points.len() > PUSH_MAX {
        return Err(Error::invalid("points", format!("must hold 1 to {PUSH_MAX} points")));
    }
    let latest = now + chrono::Duration::days(1);
    for (i, p) in points.iter().enumerate() {
        if !p.value.is_finite() || p.value.abs() > VALUE_MAX {
            return Err(Error::invalid("points", format!("point {i}: the value must be a number within ±1e18")));
        }
        time::check_utc("points", p.at)?;
        if p.at > latest {
            return Err(Error::invalid("points", format!("point {i}: `at` is more than a day in the future")));
        }
    }
    let by_ms: std::collections::BTreeMap<i64, Point> =
        points.into_iter().map(|p| (p.at.timestamp_millis(), p)).collect();
    Ok(by_ms.into_values().collect())
}

/// A series read from a Prometheus server instead of pushed: its base URL and a PromQL query
/// that gives one series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrometheusSource {
    pub url: String,
    pub query: String,
}

/// Longest PromQL query.
pub const QUERY_MAX: usize = 4000;

impl PrometheusSource {
    pub fn new(url: &str, query: &str) -> Result<Self> {
        let mut p = crate::error::Problems::default();
        let url = p.check(crate::validate::url("prometheus_url", url));
        // Credentials in the URL would be shown to every reader and written to the audit log; a
        // query string or fragment (an API key) too, and the API paths go after the base.
        let authority =
            |u: &str| u.split("://").nth(1).and_then(|r| r.split(['/', '?', '#']).next()).map(str::to_owned);
        if url.as_deref().and_then(authority).is_some_and(|h| h.contains('@')) {
            p.push("prometheus_url", "must not hold a user name or password");
        } else if url.as_deref().is_some_and(|u| u.contains(['?', '#'])) {
            p.push("prometheus_url", "must be the server's base URL, without a query string or fragment");
        }
        let q = query.trim();
        if q.is_empty() || q.chars().count() > QUERY_MAX || q.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            p.push("query", format!("must be a PromQL query of 1 to {QUERY_MAX} characters"));
        }
        p.finish()?;
        Ok(PrometheusSource { url: url.unwrap_or_default(), query: q.to_owned() })
    }
}

/// Which model a forecast fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Least squares, as Prometheus' `predict_linear`.
    #[default]
    Linear,
    /// Damped Holt (double exponential smoothing).
    Holt,
}

impl Method {
    pub fn parse(s: &str) -> Result<Method> {
        match s.trim() {
            "" | "linear" => Ok(Method::Linear),
            "holt" => Ok(Method::Holt),
            _ => Err(Error::invalid("method", "must be linear or holt")),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Linear => "linear",
            Method::Holt => "holt",
        }
    }
}

/// What a forecast is asked for: the model, how much history it learns from, how far ahead its
/// path goes, and the capacity whose crossing it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastSpec {
    pub method: Method,
    pub training_days: u16,
    /// A training window in hours instead of days (a fresh series, a fast-moving one).
    pub training_hours: Option<u16>,
    pub horizon_days: u16,
    pub capacity: Option<f64>,
}

impl ForecastSpec {
    pub fn new(
        method: Method,
        training_days: Option<i64>,
        horizon_days: Option<i64>,
        capacity: Option<f64>,
    ) -> Result<Self> {
        let days = |field: &'static str, v: Option<i64>, default: u16| -> Result<u16> {
            match v {
                None => Ok(default),
                Some(d) => u16::try_from(d)
                    .ok()
                    .filter(|d| (1..=DAYS_MAX).contains(d))
                    .ok_or_else(|| Error::invalid(field, format!("must be 1 to {DAYS_MAX} days"))),
            }
        };
        if capacity.is_some_and(|c| !c.is_finite()) {
            return Err(Error::invalid("capacity", "must be a finite number"));
        }
        Ok(ForecastSpec {
            method,
            training_hours: None,
            training_days: days("training_days", training_days, 30)?,
            horizon_days: days("horizon_days", horizon_days, 30)?,
            capacity,
        })
    }
}

impl ForecastSpec {
    /// Learns from the last `hours` (1 to 24 × [`DAYS_MAX`]) instead of whole days.
    pub fn with_training_hours(mut self, hours: Option<i64>) -> Result<Self> {
        if let Some(h) = hours {
            let max = DAYS_MAX * 24;
            let h = u16::try_from(h)
                .ok()
                .filter(|h| (1..=max).contains(h))
                .ok_or_else(|| Error::invalid("training_hours", format!("must be 1 to {max} hours")))?;
            self.training_hours = Some(h);
        }
        Ok(self)
    }

    /// The training window.
    pub fn training(&self) -> chrono::Duration {
        match self.training_hours {
            Some(h) => chrono::Duration::hours(i64::from(h)),
            None => chrono::Duration::days(i64::from(self.training_days)),
        }
    }

    /// "30 days", "6 hours".
    pub fn training_label(&self) -> String {
        match self.training_hours {
            Some(1) => "1 hour".into(),
            Some(h) => format!("{h} hours"),
            None if self.training_days == 1 => "1 day".into(),
            None => format!("{} days", self.training_days),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_metric_rules() {
        for ok in ["disk_used_bytes", "db1.connections", ":x", "licences-in-use", " padded "] {
            assert!(parse_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1abc", "has space", "ü", "a/b", &"x".repeat(NAME_MAX + 1)] {
            assert!(parse_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn points_are_finite_bounded_and_not_from_the_future() {
        let now = Utc::now();
        let p = |at, value| Point { at, value };
        assert!(check_points(vec![p(now, 1.0)], now).is_ok());
        let earlier = now - chrono::Duration::minutes(1);
        let kept = check_points(vec![p(now, 1.0), p(earlier, 2.0), p(now, 3.0)], now).unwrap_or_default();
        assert_eq!(kept, vec![p(earlier, 2.0), p(now, 3.0)], "by time, the last push of a time wins");
        assert!(check_points(vec![], now).is_err());
        assert!(check_points(vec![p(now, f64::INFINITY)], now).is_err());
        assert!(check_points(vec![p(now, 1e300)], now).is_err());
        assert!(check_points(vec![p(now + chrono::Duration::days(2), 1.0)], now).is_err());
        assert!(check_points(vec![p(now, 1.0); PUSH_MAX + 1], now).is_err());
    }

    #[test]
    fn forecast_specs_name_the_bad_field() {
        assert!(ForecastSpec::new(Method::Linear, None, None, None).is_ok_and(|s| s.training_days == 30));
        let e = ForecastSpec::new(Method::Holt, Some(0), None, None);
        assert!(matches!(e, Err(Error::Invalid { field: "training_days", .. })));
        let e = ForecastSpec::new(Method::Holt, None, Some(99_999), None);
        assert!(matches!(e, Err(Error::Invalid { field: "horizon_days", .. })));
        assert!(Method::parse("arima").is_err());
        assert!(PrometheusSource::new("http://prometheus:9090", "sum(node_filesystem_size_bytes)").is_ok());
        assert!(PrometheusSource::new("ftp://x", "up").is_err());
        assert!(PrometheusSource::new("http://u:secret@prometheus:9090", "up").is_err());
        assert!(PrometheusSource::new("http://prometheus:9090", " ").is_err());
    }
}
