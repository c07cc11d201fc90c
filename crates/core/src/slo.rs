//! Service level objectives: the maths of SLIs, error budgets and burn rates, and the
//! multiwindow burn-rate alert rules of the Google SRE workbook (chapter 5, "Alerting on SLOs").
//! Counts come from whatever measures the SLI (monitor checks, good/total counts pushed through
//! the API, or the ratio of two PromQL queries); a window without data is neither good nor bad:
//! its SLI is `None`, never 100 %.

use crate::{Error, Problems, Result, validate};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Targets are between these (99.999 % is already five minutes a year).
pub const TARGET_MIN: f64 = 0.5;
pub const TARGET_MAX: f64 = 0.99999;
/// Longest rolling window.
pub const ROLLING_DAYS_MAX: u16 = 90;
/// Monitors one SLI reads, at most.
pub const SLI_MONITORS_MAX: usize = 100;

/// Longest PromQL query of a Prometheus SLI.
pub const QUERY_MAX: usize = 4000;
/// Where a Prometheus SLI's queries say which span they measure (Sloth's notation), e.g.
/// `sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))`.
pub const WINDOW_PLACEHOLDER: &str = "{{.window}}";

/// Good and total events over a span. Checks and pushed counts are whole numbers; a Prometheus
/// SLI gives whatever its queries measure (rates or extrapolated increases), so both are reals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    pub good: f64,
    pub total: f64,
}

impl Counts {
    /// Negative or non-finite totals count as no events; good is kept within `0..=total`.
    pub fn new(good: f64, total: f64) -> Counts {
        let total = if total.is_finite() && total > 0.0 { total } else { 0.0 };
        let good = if good.is_finite() { good.clamp(0.0, total) } else { 0.0 };
        Counts { good, total }
    }

    /// Whole checks or events.
    pub fn events(good: u64, total: u64) -> Counts {
        Counts::new(good.min(total) as f64, total as f64)
    }

    /// The SLI: the share of good events; `None` without events.
    pub fn ratio(self) -> Option<f64> {
        (self.total > 0.0).then(|| self.good / self.total)
    }
}

impl std::ops::Add for Counts {
    type Output = Counts;
    fn add(self, o: Counts) -> Counts {
        Counts::new(self.good + o.good, self.total + o.total)
    }
}

/// What an SLI measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Sli {
    /// The share of the monitors' checks that passed.
    Availability { monitor_ids: Vec<Uuid> },
    /// The share of the monitors' checks answered within `threshold_ms` (one of the latency
    /// histogram's bucket bounds, [`crate::monitor::BUCKET_BOUNDS_MS`]), of those with a latency.
    Latency { monitor_ids: Vec<Uuid>, threshold_ms: f64 },
    /// Good and total counts pushed through the API (`POST /api/v1/slos/{id}/events`).
    Events,
    /// The ratio of two PromQL queries on a Prometheus server, evaluated per span.
    Prometheus(PrometheusRatio),
}

/// Good (or bad) over total, as two PromQL queries holding [`WINDOW_PLACEHOLDER`].
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PrometheusRatio {
    /// The server's base URL (no credentials: readers see it).
    pub url: String,
    /// Exactly one of `good_query` and `bad_query` is set.
    pub good_query: Option<String>,
    pub bad_query: Option<String>,
    pub total_query: String,
}

impl Sli {
    pub fn availability(monitor_ids: Vec<Uuid>) -> Result<Sli> {
        if monitor_ids.is_empty() {
            return Err(Error::invalid("sli", "name at least one monitor (sli.monitor_ids)"));
        }
        if monitor_ids.len() > SLI_MONITORS_MAX {
            return Err(Error::invalid("sli", format!("at most {SLI_MONITORS_MAX} monitors")));
        }
        let mut monitor_ids = monitor_ids;
        monitor_ids.sort();
        monitor_ids.dedup();
        Ok(Sli::Availability { monitor_ids })
    }

    /// A latency SLI: checks of `monitor_ids` answered within `threshold_ms`, a bucket bound.
    pub fn latency(monitor_ids: Vec<Uuid>, threshold_ms: f64) -> Result<Sli> {
        let mut p = Problems::default();
        let monitors = p.check(Sli::availability(monitor_ids));
        if latency_buckets(threshold_ms).is_none() {
            let bounds: Vec<String> = crate::monitor::BUCKET_BOUNDS_MS.iter().map(|b| b.to_string()).collect();
            p.push(
                "sli.threshold_ms",
                format!("must be one of {} (the latency buckets checks are counted in)", bounds.join(", ")),
            );
        }
        p.finish()?;
        match monitors {
            Some(Sli::Availability { monitor_ids }) => Ok(Sli::Latency { monitor_ids, threshold_ms }),
            _ => Err(Error::invalid("sli", "name at least one monitor (sli.monitor_ids)")),
        }
    }

    /// A Prometheus ratio: `url`, one of `good`/`bad`, and `total`, each query holding
    /// [`WINDOW_PLACEHOLDER`].
    pub fn prometheus(url: &str, good: Option<&str>, bad: Option<&str>, total: &str) -> Result<Sli> {
        let mut p = Problems::default();
        let url = p.check(crate::series::PrometheusSource::new(url, "up").map(|s| s.url));
        let query = |p: &mut Problems, field: &'static str, q: &str| {
            let q = q.trim();
            let control = |c: char| c.is_control() && c != '\n' && c != '\t';
            if q.is_empty() || q.chars().count() > QUERY_MAX || q.chars().any(control) {
                p.push(field, format!("must be a PromQL query of 1 to {QUERY_MAX} characters"));
            } else if !q.contains(WINDOW_PLACEHOLDER) {
                p.push(
                    field,
                    format!(
                        "must say where the span goes with {WINDOW_PLACEHOLDER}, e.g. rate(x[{WINDOW_PLACEHOLDER}])"
                    ),
                );
            }
            q.to_owned()
        };
        let (good, bad) = match (good, bad) {
            (Some(g), None) => (Some(query(&mut p, "sli.good_query", g)), None),
            (None, Some(b)) => (None, Some(query(&mut p, "sli.bad_query", b))),
            _ => {
                p.push("sli", "give exactly one of good_query and bad_query");
                (None, None)
            }
        };
        let total = query(&mut p, "sli.total_query", total);
        p.finish()?;
        Ok(Sli::Prometheus(PrometheusRatio {
            url: url.unwrap_or_default(),
            good_query: good,
            bad_query: bad,
            total_query: total,
        }))
    }

    /// `availability`, `latency`, `events` or `prometheus`.
    pub fn kind(&self) -> &'static str {
        match self {
            Sli::Availability { .. } => "availability",
            Sli::Latency { .. } => "latency",
            Sli::Events => "events",
            Sli::Prometheus(_) => "prometheus",
        }
    }

    /// The monitors the SLI reads (none unless it is an availability or latency SLI).
    pub fn monitor_ids(&self) -> &[Uuid] {
        match self {
            Sli::Availability { monitor_ids } | Sli::Latency { monitor_ids, .. } => monitor_ids,
            _ => &[],
        }
    }
}

/// How many of the latency histogram's buckets lie within `threshold_ms`, when it is one of
/// their bounds (the buckets hold latencies up to and including their bound).
pub fn latency_buckets(threshold_ms: f64) -> Option<usize> {
    crate::monitor::BUCKET_BOUNDS_MS.iter().position(|b| (b - threshold_ms).abs() < 1e-9).map(|i| i + 1)
}

impl PrometheusRatio {
    /// The queries for one span: (good or bad, total), the span written as PromQL wants it.
    pub fn queries(&self, span: Duration) -> (String, String) {
        let d = promql_duration(span);
        let first = self.good_query.as_deref().or(self.bad_query.as_deref()).unwrap_or_default();
        (first.replace(WINDOW_PLACEHOLDER, &d), self.total_query.replace(WINDOW_PLACEHOLDER, &d))
    }

    /// The counts the two query values give. Without a total there is no data; a good or bad
    /// query without a value (no series: no 5xx at all, or no success in an outage) is zero.
    pub fn counts(&self, first: Option<f64>, total: Option<f64>) -> Option<Counts> {
        let total = total?;
        let first = first.unwrap_or(0.0);
        let good = if self.good_query.is_some() { first } else { total - first };
        Some(Counts::new(good, total))
    }
}

/// A span as a PromQL duration: `5m`, `1h`, `28d`, else seconds (at least `1s`).
pub fn promql_duration(span: Duration) -> String {
    let s = span.num_seconds().max(1);
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// What an SLO's window is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SloWindow {
    /// The last `days` days, moving with now.
    Rolling { days: u16 },
    /// The calendar month now is in, in `time_zone` (starting at local midnight on the 1st).
    CalendarMonth { time_zone: String },
}

impl SloWindow {
    pub fn rolling(days: i64) -> Result<SloWindow> {
        match u16::try_from(days) {
            Ok(d) if (1..=ROLLING_DAYS_MAX).contains(&d) => Ok(SloWindow::Rolling { days: d }),
            _ => Err(Error::invalid("window", format!("rolling_days must be 1 to {ROLLING_DAYS_MAX}"))),
        }
    }

    pub fn calendar_month(time_zone: &str) -> Result<SloWindow> {
        let tz = time_zone.trim();
        tz.parse::<chrono_tz::Tz>()
            .map_err(|_| Error::invalid("window", format!("unknown time zone {tz:?}; use e.g. Europe/Berlin")))?;
        Ok(SloWindow::CalendarMonth { time_zone: tz.to_owned() })
    }

    /// Where the window that contains `now` starts.
    pub fn start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            SloWindow::Rolling { days } => now.checked_sub_signed(Duration::days(i64::from(*days))).unwrap_or(now),
            SloWindow::CalendarMonth { time_zone } => {
                let tz: chrono_tz::Tz = time_zone.parse().unwrap_or(chrono_tz::UTC);
                let local = now.with_timezone(&tz);
                // Where a DST switch skips midnight, the month begins at the first hour that exists.
                NaiveDate::from_ymd_opt(local.year(), local.month(), 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .and_then(|midnight| {
                        tz.from_local_datetime(&midnight).earliest().or_else(|| {
                            let later = midnight.checked_add_signed(Duration::hours(1))?;
                            tz.from_local_datetime(&later).earliest()
                        })
                    })
                    .map_or(now, |s| s.with_timezone(&Utc))
            }
        }
    }

    /// How long the whole window is, for the budget's time share (a calendar month's own length).
    pub fn length(&self, now: DateTime<Utc>) -> Duration {
        match self {
            SloWindow::Rolling { days } => Duration::days(i64::from(*days)),
            SloWindow::CalendarMonth { .. } => {
                let start = self.start(now);
                // The next month's start: a day past the longest month, then back to its 1st.
                match start.checked_add_signed(Duration::days(32)) {
                    Some(later) => self.start(later) - start,
                    None => Duration::days(31),
                }
            }
        }
    }
}

/// A validated SLO: an SLI against a target over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloSpec {
    pub name: String,
    pub description: String,
    pub service_id: Uuid,
    pub sli: Sli,
    pub target: f64,
    pub window: SloWindow,
    /// Checks made during maintenance count neither good nor bad.
    pub exclude_maintenance: bool,
}

impl SloSpec {
    pub fn new(
        name: &str,
        description: &str,
        service_id: Uuid,
        sli: Result<Sli>,
        target: f64,
        window: Result<SloWindow>,
        exclude_maintenance: bool,
    ) -> Result<SloSpec> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", name));
        let description = p.check(validate::description("description", description));
        let sli = p.check(sli);
        if !(TARGET_MIN..=TARGET_MAX).contains(&target) {
            p.push("target", format!("must be between {TARGET_MIN} and {TARGET_MAX}, e.g. 0.999 for 99.9 %"));
        }
        let window = p.check(window);
        p.finish()?;
        match (name, description, sli, window) {
            (Some(name), Some(description), Some(sli), Some(window)) => {
                Ok(SloSpec { name, description, service_id, sli, target, window, exclude_maintenance })
            }
            _ => Err(Error::invalid("name", "is required")),
        }
    }

    /// The share of events that may be bad.
    pub fn budget(&self) -> f64 {
        1.0 - self.target
    }

    /// The share of the error budget left after `counts` (1 untouched, 0 spent, below 0
    /// overspent); `None` without events.
    pub fn budget_remaining(&self, counts: Counts) -> Option<f64> {
        let bad_share = 1.0 - counts.ratio()?;
        Some(1.0 - bad_share / self.budget())
    }

    /// How fast `counts` spend the budget: 1 spends exactly all of it over the window, 14.4
    /// spends 2 % of a 30-day budget in an hour; `None` without events.
    pub fn burn_rate(&self, counts: Counts) -> Option<f64> {
        Some((1.0 - counts.ratio()?) / self.budget())
    }
}

/// Counts one push may carry, at most.
pub const EVENTS_PER_PUSH_MAX: usize = 10_000;
/// How long pushed counts are kept: the longest window, and a little more.
pub const EVENTS_KEEP_DAYS: i64 = ROLLING_DAYS_MAX as i64 + 2;
/// The largest count one entry, or one minute of pushes summed, may carry (so 92 days of
/// minutes sum far below `i64::MAX`).
pub const EVENT_COUNT_MAX: u64 = 1_000_000_000_000;

/// Good and total events pushed for one minute (counts pushed for the same minute add up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteCounts {
    /// The minute's start, in milliseconds since the epoch.
    pub minute: i64,
    pub good: u64,
    pub total: u64,
}

/// Validates pushed `(at, good, total)` entries at `now` and sums them per minute: 1 to
/// [`EVENTS_PER_PUSH_MAX`] entries, good ≤ total ≤ [`EVENT_COUNT_MAX`], each within the kept
/// history and at most five minutes ahead of `now` (clocks drift).
pub fn minute_counts(entries: &[(DateTime<Utc>, u64, u64)], now: DateTime<Utc>) -> Result<Vec<MinuteCounts>> {
    if entries.is_empty() || entries.len() > EVENTS_PER_PUSH_MAX {
        return Err(Error::invalid("events", format!("send 1 to {EVENTS_PER_PUSH_MAX} entries")));
    }
    let oldest = now - Duration::days(EVENTS_KEEP_DAYS);
    let newest = now + Duration::minutes(5);
    let mut by_minute: std::collections::BTreeMap<i64, (u64, u64)> = std::collections::BTreeMap::new();
    for (i, (at, good, total)) in entries.iter().enumerate() {
        if *at < oldest || *at > newest {
            return Err(Error::invalid(
                "events",
                format!("entry {i}: at must be within the last {EVENTS_KEEP_DAYS} days and not in the future"),
            ));
        }
        if good > total || *total > EVENT_COUNT_MAX {
            return Err(Error::invalid(
                "events",
                format!("entry {i}: good must not exceed total, and total must be at most {EVENT_COUNT_MAX}"),
            ));
        }
        let minute = at.timestamp_millis().div_euclid(60_000) * 60_000;
        let e = by_minute.entry(minute).or_default();
        // At most 10,000 entries of at most 10^12 each: no overflow.
        *e = (e.0 + good, e.1 + total);
        if e.1 > EVENT_COUNT_MAX {
            return Err(Error::invalid("events", format!("entry {i}: a minute may total at most {EVENT_COUNT_MAX}")));
        }
    }
    Ok(by_minute.into_iter().map(|(minute, (good, total))| MinuteCounts { minute, good, total }).collect())
}

/// How urgent a burn-rate alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Page,
    Ticket,
}

/// One multiwindow rule: both windows burn at `factor` or faster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnRule {
    pub urgency: Urgency,
    pub long: Duration,
    pub short: Duration,
    pub factor: f64,
}

/// The SRE workbook's rules for a 30-day window: page at 14.4× over 1 h and 5 min (2 % of the
/// budget in an hour) or 6× over 6 h and 30 min (5 % in six hours); ticket at 3× over 1 day and
/// 2 h (10 % in a day) or 1× over 3 days and 6 h.
pub fn burn_rules() -> [BurnRule; 4] {
    [
        BurnRule { urgency: Urgency::Page, long: Duration::hours(1), short: Duration::minutes(5), factor: 14.4 },
        BurnRule { urgency: Urgency::Page, long: Duration::hours(6), short: Duration::minutes(30), factor: 6.0 },
        BurnRule { urgency: Urgency::Ticket, long: Duration::days(1), short: Duration::hours(2), factor: 3.0 },
        BurnRule { urgency: Urgency::Ticket, long: Duration::days(3), short: Duration::hours(6), factor: 1.0 },
    ]
}

/// Every span the rules read (and the burn rates an SLO reports), shortest first, by label.
pub fn burn_windows() -> [(&'static str, Duration); 7] {
    [
        ("5m", Duration::minutes(5)),
        ("30m", Duration::minutes(30)),
        ("1h", Duration::hours(1)),
        ("2h", Duration::hours(2)),
        ("6h", Duration::hours(6)),
        ("1d", Duration::days(1)),
        ("3d", Duration::days(3)),
    ]
}

/// The rules that fire, given the counts over each span (`counts(span)`): a rule fires when both
/// its windows have events and burn at its factor or faster.
pub fn firing(spec: &SloSpec, counts: &dyn Fn(Duration) -> Counts) -> Vec<BurnRule> {
    let burns = |span: Duration, factor: f64| spec.burn_rate(counts(span)).is_some_and(|r| r >= factor);
    burn_rules().into_iter().filter(|r| burns(r.long, r.factor) && burns(r.short, r.factor)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(target: f64) -> SloSpec {
        SloSpec::new(
            "Checkout availability",
            "",
            Uuid::nil(),
            Sli::availability(vec![Uuid::nil()]),
            target,
            SloWindow::rolling(30),
            true,
        )
        .unwrap()
    }

    #[test]
    fn budget_arithmetic_by_hand() {
        let s = spec(0.999);
        // 10,000 checks, 5 failed: half of the 0.1 % budget is spent.
        let c = Counts::events(9_995, 10_000);
        assert!((c.ratio().unwrap() - 0.9995).abs() < 1e-12);
        assert!((s.budget_remaining(c).unwrap() - 0.5).abs() < 1e-9);
        assert!((s.burn_rate(c).unwrap() - 0.5).abs() < 1e-9);
        // 20 failed: spent twice over.
        assert!((s.budget_remaining(Counts::events(9_980, 10_000)).unwrap() + 1.0).abs() < 1e-9);
        // No data: neither good nor bad.
        assert_eq!(s.budget_remaining(Counts::default()), None);
        assert_eq!(s.burn_rate(Counts::default()), None);
        assert_eq!(Counts::events(5, 3), Counts { good: 3.0, total: 3.0 }, "good never exceeds total");
        assert_eq!(Counts::events(1, 2) + Counts::events(3, 4), Counts::events(4, 6));
        assert_eq!(Counts::new(f64::NAN, -1.0), Counts::default(), "nonsense is no data");
    }

    #[test]
    fn input_is_checked() {
        let e = SloSpec::new(" ", "", Uuid::nil(), Sli::availability(vec![]), 1.0, SloWindow::rolling(0), false)
            .unwrap_err();
        let fields: Vec<&str> = e.problems().iter().map(|p| p.field).collect();
        assert_eq!(fields, ["name", "sli", "target", "window"]);
        let one = || Sli::availability(vec![Uuid::nil()]);
        assert!(SloSpec::new("x", "", Uuid::nil(), one(), f64::NAN, SloWindow::rolling(7), false).is_err());
        assert!(SloWindow::calendar_month("Mars/Olympus").is_err());
    }

    #[test]
    fn calendar_months_start_at_local_midnight_across_dst() {
        let w = SloWindow::calendar_month("Europe/Berlin").unwrap();
        // 15 April 2026 (CEST, UTC+2): the month began at 1 April 00:00 local = 31 March 22:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 4, 15, 12, 0, 0).unwrap();
        assert_eq!(w.start(now), Utc.with_ymd_and_hms(2026, 3, 31, 22, 0, 0).unwrap());
        // March 2026 holds the switch to summer time: 31 days less one hour.
        let march = Utc.with_ymd_and_hms(2026, 3, 20, 0, 0, 0).unwrap();
        assert_eq!(w.length(march), Duration::days(31) - Duration::hours(1));
        assert_eq!(SloWindow::rolling(28).unwrap().start(now), now - Duration::days(28));
        // Casablanca skipped 1 June 2008 00:00 (straight to 01:00 summer time): the month begins then.
        let cas = SloWindow::calendar_month("Africa/Casablanca").unwrap();
        let june = Utc.with_ymd_and_hms(2008, 6, 15, 12, 0, 0).unwrap();
        assert_eq!(cas.start(june), Utc.with_ymd_and_hms(2008, 6, 1, 0, 0, 0).unwrap());
        // Near the end of time nothing overflows.
        let _ = w.length(DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn multiwindow_rules_need_both_windows() {
        let s = spec(0.999);
        // 2 % of checks fail in the last hour and the last 5 minutes: 20× — page.
        let hot = |_: Duration| Counts::events(980, 1_000);
        let fired = firing(&s, &hot);
        assert_eq!(fired.iter().filter(|r| r.urgency == Urgency::Page).count(), 2);
        assert_eq!(fired.len(), 4);
        // The last 5 minutes have recovered: the 1 h / 5 m rule stops, so the page clears quickly.
        let recovered =
            |d: Duration| if d <= Duration::minutes(5) { Counts::events(100, 100) } else { Counts::events(980, 1_000) };
        let fired = firing(&s, &recovered);
        assert!(!fired.iter().any(|r| r.short == Duration::minutes(5)));
        // A gap (no checks) never fires.
        assert!(firing(&s, &|_| Counts::default()).is_empty());
        // 0.5 % bad is 5×: tickets only (3× over 1 d / 2 h, 1× over 3 d / 6 h).
        let warm = |_: Duration| Counts::events(995, 1_000);
        assert!(firing(&s, &warm).iter().all(|r| r.urgency == Urgency::Ticket));
    }

    #[test]
    fn prometheus_ratios() {
        let url = "http://127.0.0.1:9090";
        let q = "sum(rate(http_requests_total{code=~\"5..\"}[{{.window}}]))";
        let t = "sum(rate(http_requests_total[{{.window}}]))";
        let Sli::Prometheus(bad) = Sli::prometheus(url, None, Some(q), t).unwrap() else { panic!() };
        let (b, total) = bad.queries(Duration::hours(1));
        assert_eq!(b, "sum(rate(http_requests_total{code=~\"5..\"}[1h]))");
        assert_eq!(total, "sum(rate(http_requests_total[1h]))");
        assert_eq!(bad.queries(Duration::days(28)).1, "sum(rate(http_requests_total[28d]))");
        // 2 bad per second of 100: 98 % good.
        assert_eq!(bad.counts(Some(2.0), Some(100.0)).unwrap().ratio(), Some(0.98));
        assert_eq!(bad.counts(Some(1.0), None), None, "no total is no data");
        assert_eq!(bad.counts(None, Some(100.0)).unwrap().ratio(), Some(1.0), "no 5xx series: nothing bad");
        assert_eq!(bad.counts(Some(0.0), Some(0.0)).unwrap().ratio(), None, "no traffic is no data");
        assert_eq!(promql_duration(Duration::seconds(90)), "90s");
        assert_eq!(promql_duration(Duration::minutes(30)), "30m");
        let fields = |e: Error| e.problems().iter().map(|p| p.field).collect::<Vec<_>>();
        assert_eq!(fields(Sli::prometheus(url, Some(q), Some(q), t).unwrap_err()), ["sli"]);
        assert_eq!(fields(Sli::prometheus(url, Some("up"), None, t).unwrap_err()), ["sli.good_query"]);
        assert_eq!(
            fields(Sli::prometheus("http://u:p@h", Some(q), None, "").unwrap_err()),
            ["prometheus_url", "sli.total_query"]
        );
        assert_eq!(Sli::availability(vec![Uuid::nil(), Uuid::nil()]).unwrap().monitor_ids(), [Uuid::nil()]);
        // Latency thresholds are the histogram's bucket bounds.
        assert_eq!(latency_buckets(250.0), Some(10));
        assert_eq!(latency_buckets(1.0), Some(1));
        assert!(Sli::latency(vec![Uuid::nil()], 250.0).is_ok());
        assert_eq!(fields(Sli::latency(vec![], 251.0).unwrap_err()), ["sli", "sli.threshold_ms"]);
    }

    #[test]
    fn pushed_counts_are_checked_and_summed_per_minute() {
        let now = Utc.with_ymd_and_hms(2026, 10, 5, 12, 0, 30).unwrap();
        let at = |s: i64| now + Duration::seconds(s);
        let m = minute_counts(&[(at(-30), 9, 10), (at(-1), 5, 5), (at(-31), 1, 2)], now).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].good, m[0].total), (1, 2));
        assert_eq!((m[1].good, m[1].total), (14, 15));
        assert_eq!(m[1].minute, Utc.with_ymd_and_hms(2026, 10, 5, 12, 0, 0).unwrap().timestamp_millis());
        assert!(minute_counts(&[], now).is_err());
        assert!(minute_counts(&[(now, 3, 2)], now).is_err(), "good over total");
        assert!(minute_counts(&[(at(3600), 1, 1)], now).is_err(), "in the future");
        assert!(minute_counts(&[(now - Duration::days(100), 1, 1)], now).is_err(), "too old");
        assert!(minute_counts(&[(now, 0, EVENT_COUNT_MAX + 1)], now).is_err());
        let full = (now, 0, EVENT_COUNT_MAX);
        assert!(minute_counts(&[full, full], now).is_err(), "one minute over the cap");
    }

    proptest::proptest! {
        /// The SLI stays in [0, 1] and the budget left is 1 − burn rate, whatever the counts.
        #[test]
        fn budget_consistent_with_sli(good in 0u64..1_000_000, total in 0u64..1_000_000, t in 50_000u32..=99_999) {
            let s = spec(f64::from(t) / 100_000.0);
            let c = Counts::events(good, total);
            match c.ratio() {
                None => proptest::prop_assert_eq!(total, 0),
                Some(r) => {
                    proptest::prop_assert!((0.0..=1.0).contains(&r));
                    let left = s.budget_remaining(c).unwrap();
                    let burn = s.burn_rate(c).unwrap();
                    proptest::prop_assert!((left - (1.0 - burn)).abs() < 1e-9);
                    proptest::prop_assert!(left <= 1.0);
                }
            }
        }
    }
}
