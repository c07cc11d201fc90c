//! Reading a Prometheus server's HTTP API within the egress policy and without following
//! redirects: ranges (`/api/v1/query_range`) for forecasts of series whose source is a PromQL
//! query, instant values (`/api/v1/query`) for SLIs that are the ratio of two queries.

use crate::egress::{EgressConfig, EgressPolicy, FilteringResolver};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// Points Prometheus answers per series at most (its own limit is 11,000).
pub const POINTS_MAX: i64 = 10_000;
/// How long an instant query (an SLI) may take: many are asked at once, and an SLO evaluation
/// waits for all of them.
const INSTANT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read.
const BODY_MAX: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    /// Reaching the server failed, or it refused the query; the text says which, for the user.
    #[error("{0}")]
    Failed(String),
}

pub struct PrometheusClient {
    http: reqwest::Client,
    egress: Arc<EgressPolicy>,
}

#[derive(serde::Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(serde::Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    /// A list of series for a matrix or vector, one `[time, "value"]` for a scalar.
    result: serde_json::Value,
}

#[derive(serde::Deserialize)]
struct Matrix {
    values: Vec<(f64, String)>,
}

#[derive(serde::Deserialize)]
struct Sample {
    value: (f64, String),
}

fn one_series<T>(many: Vec<T>) -> Result<Option<T>, PrometheusError> {
    let n = many.len();
    let mut it = many.into_iter();
    match (it.next(), n) {
        (None, _) => Ok(None),
        (Some(one), 1) => Ok(Some(one)),
        _ => Err(PrometheusError::Failed(format!(
            "the query gives {n} series; aggregate it to one (for example with sum or max)"
        ))),
    }
}

impl PrometheusClient {
    pub fn new(egress: &EgressConfig) -> Result<Self, crate::NotifyError> {
        let egress = Arc::new(EgressPolicy::new(egress));
        let http = reqwest::Client::builder()
            .dns_resolver(FilteringResolver(egress.clone()))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION"), " (series and SLIs)"))
            .build()
            .map_err(|e| crate::NotifyError::Setup(format!("Prometheus HTTP client: {e}")))?;
        Ok(PrometheusClient { http, egress })
    }

    /// The values of `query` from `start` to `end`, at most [`POINTS_MAX`] of them, as (seconds
    /// since the epoch, value); the query must give one series.
    pub async fn query_range(
        &self,
        base: &str,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<(f64, f64)>, PrometheusError> {
        let fail = |m: String| PrometheusError::Failed(m);
        self.egress.check_url(base).map_err(fail)?;
        let span = (end - start).num_seconds().max(1);
        // As fine as the answer's size allows (a day at under 9 s, 30 days at 260 s).
        // Rounded up: Prometheus refuses a range of more than 11,000 points.
        let step = ((span + POINTS_MAX - 2) / (POINTS_MAX - 1)).max(1);
        let data = self
            .get_data(
                base,
                "query_range",
                &[
                    ("query", query.to_owned()),
                    ("start", start.timestamp().to_string()),
                    ("end", end.timestamp().to_string()),
                    ("step", format!("{step}s")),
                ],
                None,
            )
            .await?;
        if data.result_type != "matrix" {
            return Err(fail(format!("the query gave a {}, not a range of one series", data.result_type)));
        }
        let series: Vec<Matrix> = serde_json::from_value(data.result)
            .map_err(|_| fail("Prometheus answered a range in a form Opsdeck does not read".into()))?;
        Ok(one_series(series)?
            .map(|one| one.values.iter().filter_map(|(t, v)| Some((*t, v.parse::<f64>().ok()?))).collect())
            .unwrap_or_default())
    }

    /// The value of `query` at `at`: `None` when it gives no series (no data); the query must
    /// give one series or a scalar. NaN and infinities (a division by zero) are no data too.
    pub async fn query(&self, base: &str, query: &str, at: DateTime<Utc>) -> Result<Option<f64>, PrometheusError> {
        let fail = |m: String| PrometheusError::Failed(m);
        self.egress.check_url(base).map_err(fail)?;
        let params = [("query", query.to_owned()), ("time", at.timestamp().to_string())];
        let data = self.get_data(base, "query", &params, Some(INSTANT_TIMEOUT)).await?;
        let value = match data.result_type.as_str() {
            "scalar" => serde_json::from_value::<(f64, String)>(data.result).ok().map(|(_, v)| v),
            "vector" => {
                let samples: Vec<Sample> = serde_json::from_value(data.result)
                    .map_err(|_| fail("Prometheus answered a vector in a form Opsdeck does not read".into()))?;
                one_series(samples)?.map(|s| s.value.1)
            }
            other => return Err(fail(format!("the query gave a {other}, not one value"))),
        };
        Ok(value.and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite()))
    }

    /// GETs `/api/v1/{path}` and returns its `data`, or why not (read in chunks, at most 16 MiB).
    async fn get_data(
        &self,
        base: &str,
        path: &str,
        params: &[(&str, String)],
        timeout: Option<Duration>,
    ) -> Result<Data, PrometheusError> {
        let fail = |m: String| PrometheusError::Failed(m);
        let url = format!("{}/api/v1/{path}", base.trim_end_matches('/'));
        let mut req = self.http.get(&url).query(params);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let resp =
            req.send().await.map_err(|e| fail(format!("cannot reach Prometheus: {}", crate::send::describe(&e))))?;
        let status = resp.status();
        let mut resp = resp;
        // Read in chunks and stop past the limit, whether or not a length was announced.
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fail(format!("Prometheus' answer was cut off: {e}")))? {
            if body.len() + chunk.len() > BODY_MAX {
                return Err(fail("Prometheus answered more than 16 MiB".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|_| fail(format!("Prometheus answered HTTP {} without its JSON", status.as_u16())))?;
        if answer.status != "success" {
            let why = answer.error.unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            return Err(fail(format!("Prometheus refused the query: {why}")));
        }
        answer.data.ok_or_else(|| fail("Prometheus answered no data".into()))
    }
}
