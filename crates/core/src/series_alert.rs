//! Alerts from a series' forecast: a capacity reached within a number of days ("disk full in 5
//! days"), and the newest hour out of the range its hour of the week expects (an anomaly). Each
//! raises a warning alert on a service and resolves when the condition clears.

use crate::anomaly::Anomaly;
use crate::series::{DAYS_MAX, ForecastSpec, Method};
use crate::{Problems, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest warning ahead of exhaustion.
pub const WITHIN_DAYS_MAX: u16 = 365;
/// How far ahead a forecast looks for the capacity (the warning and a margin).
const SEARCH_MARGIN_DAYS: u16 = 30;
/// An anomaly is current while its hour is at most this old.
pub const ANOMALY_FRESH: Duration = Duration::hours(2);

/// What alerts a series raises, on which service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesAlertSpec {
    pub service_id: Uuid,
    pub method: Method,
    pub training_days: u16,
    /// Alert when the forecast reaches `capacity` within `within_days`.
    pub capacity: Option<f64>,
    pub within_days: Option<u16>,
    /// Alert when the newest hour is anomalous.
    pub anomalies: bool,
}

/// The two conditions, each its own alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Exhaustion,
    Anomaly,
}

impl Condition {
    pub const ALL: [Condition; 2] = [Condition::Exhaustion, Condition::Anomaly];
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Exhaustion => "exhaustion",
            Condition::Anomaly => "anomaly",
        }
    }
}

impl SeriesAlertSpec {
    pub fn new(
        service_id: Uuid,
        method: Method,
        training_days: Option<i64>,
        capacity: Option<f64>,
        within_days: Option<i64>,
        anomalies: bool,
    ) -> Result<SeriesAlertSpec> {
        let mut p = Problems::default();
        let training_days = match training_days {
            None => 30,
            Some(d) => u16::try_from(d).ok().filter(|d| (1..=DAYS_MAX).contains(d)).unwrap_or_else(|| {
                p.push("training_days", format!("must be 1 to {DAYS_MAX} days"));
                30
            }),
        };
        if capacity.is_some_and(|c| !c.is_finite() || c.abs() > crate::series::VALUE_MAX) {
            p.push("capacity", "must be a finite number within the series' range");
        }
        let within = match within_days {
            None => None,
            Some(d) => {
                let ok = u16::try_from(d).ok().filter(|d| (1..=WITHIN_DAYS_MAX).contains(d));
                if ok.is_none() {
                    p.push("within_days", format!("must be 1 to {WITHIN_DAYS_MAX} days"));
                }
                ok
            }
        };
        if capacity.is_some() != within_days.is_some() {
            p.push("within_days", "give capacity and within_days together (alert when it is reached that soon)");
        } else if capacity.is_none() && !anomalies {
            p.push("capacity", "alert on something: a capacity with within_days, or anomalies: true");
        }
        p.finish()?;
        Ok(SeriesAlertSpec { service_id, method, training_days, capacity, within_days: within, anomalies })
    }

    /// The forecast the alerts judge.
    pub fn forecast_spec(&self) -> Result<ForecastSpec> {
        let horizon = self.within_days.unwrap_or(1).saturating_add(SEARCH_MARGIN_DAYS).min(DAYS_MAX);
        ForecastSpec::new(self.method, Some(i64::from(self.training_days)), Some(i64::from(horizon)), self.capacity)
    }

    /// Whether the capacity is reached within the warning, given the seconds until it is.
    pub fn exhaustion_fires(&self, seconds: Option<f64>) -> bool {
        match (self.within_days, seconds) {
            (Some(d), Some(s)) => s <= f64::from(d) * 86_400.0,
            _ => false,
        }
    }

    /// The newest anomaly, if it is current at `now` and anomalies alert.
    pub fn current_anomaly<'a>(&self, anomalies: &'a [Anomaly], now: DateTime<Utc>) -> Option<&'a Anomaly> {
        if !self.anomalies {
            return None;
        }
        crate::anomaly::current(anomalies, now, ANOMALY_FRESH)
    }
}

/// "5 days", "1 day", "9 hours": a duration in seconds, for alert summaries.
pub fn describe_seconds(s: f64) -> String {
    let s = s.max(0.0);
    let (n, unit) = if s >= 86_400.0 { (s / 86_400.0, "day") } else { (s / 3600.0, "hour") };
    let n = n.round() as i64;
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn spec(capacity: Option<f64>, within: Option<i64>, anomalies: bool) -> Result<SeriesAlertSpec> {
        SeriesAlertSpec::new(Uuid::nil(), Method::Linear, None, capacity, within, anomalies)
    }

    #[test]
    fn input_is_checked() {
        let fields = |e: Error| e.problems().iter().map(|p| p.field).collect::<Vec<_>>();
        assert_eq!(fields(spec(None, None, false).unwrap_err()), ["capacity"]);
        assert_eq!(fields(spec(Some(100.0), None, false).unwrap_err()), ["within_days"]);
        assert_eq!(fields(spec(Some(f64::NAN), Some(0), false).unwrap_err()), ["capacity", "within_days"]);
        assert!(spec(None, None, true).is_ok());
        let s = spec(Some(100.0), Some(7), false).unwrap();
        assert_eq!(s.forecast_spec().unwrap().horizon_days, 37);
    }

    #[test]
    fn what_fires() {
        let s = spec(Some(100.0), Some(7), true).unwrap();
        assert!(s.exhaustion_fires(Some(6.0 * 86_400.0)));
        assert!(!s.exhaustion_fires(Some(8.0 * 86_400.0)));
        assert!(!s.exhaustion_fires(None), "never reached");
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let a = |h: i64| Anomaly {
            at: now - Duration::hours(h),
            value: 9.0,
            expected_low: 1.0,
            expected_high: 2.0,
            score: 8.0,
        };
        assert_eq!(s.current_anomaly(&[a(30), a(1)], now).map(|x| x.at), Some(now - Duration::hours(1)));
        assert!(s.current_anomaly(&[a(30), a(3)], now).is_none(), "the newest hour is normal again");
        assert_eq!(describe_seconds(5.2 * 86_400.0), "5 days");
        assert_eq!(describe_seconds(3600.0 * 9.0), "9 hours");
    }
}
