//! Latency histograms with fixed buckets: cheap to store per rollup, mergeable across rollups,
//! and good enough for p50/p95/p99 of check latencies.

use serde::{Deserialize, Serialize};

/// Upper bounds (inclusive, in milliseconds) of every bucket but the last, which is open-ended.
pub const BUCKET_BOUNDS_MS: [f64; 16] =
    [1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 150.0, 250.0, 400.0, 600.0, 1000.0, 2500.0, 5000.0, 10000.0];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// `BUCKET_BOUNDS_MS.len() + 1` counts; empty means "no samples".
    pub counts: Vec<u32>,
}

impl LatencyHistogram {
    pub fn record(&mut self, ms: f64) {
        if self.counts.len() != BUCKET_BOUNDS_MS.len() + 1 {
            self.counts = vec![0; BUCKET_BOUNDS_MS.len() + 1];
        }
        let i = BUCKET_BOUNDS_MS.iter().position(|b| ms <= *b).unwrap_or(BUCKET_BOUNDS_MS.len());
        self.counts[i] = self.counts[i].saturating_add(1);
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        if other.counts.is_empty() {
            return;
        }
        if self.counts.len() != other.counts.len() {
            self.counts = vec![0; other.counts.len()];
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| u64::from(*c)).sum()
    }

    /// The `q` quantile (0..=1), interpolated linearly inside its bucket.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut seen = 0.0;
        for (i, c) in self.counts.iter().enumerate() {
            let c = f64::from(*c);
            if c > 0.0 && seen + c >= rank {
                let lo = if i == 0 { 0.0 } else { BUCKET_BOUNDS_MS[i - 1] };
                let hi = BUCKET_BOUNDS_MS.get(i).copied().unwrap_or(lo * 2.0);
                return Some(lo + (hi - lo) * ((rank - seen) / c));
            }
            seen += c;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_land_in_the_right_bucket() {
        let mut h = LatencyHistogram::default();
        for _ in 0..90 {
            h.record(8.0);
        }
        for _ in 0..10 {
            h.record(300.0);
        }
        let p50 = h.quantile(0.5).unwrap();
        assert!((5.0..=10.0).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99).unwrap();
        assert!((250.0..=400.0).contains(&p99), "{p99}");
        let mut m = LatencyHistogram::default();
        m.merge(&h);
        m.merge(&h);
        assert_eq!(m.total(), 200);
        assert_eq!(LatencyHistogram::default().quantile(0.5), None);
        h.record(1e9);
        assert_eq!(h.counts.last(), Some(&1));
    }
}
