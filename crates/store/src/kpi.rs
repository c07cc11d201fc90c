//! What the KPI report reads besides incidents: each monitor's check counts over a period, from
//! the rollups (daily rows for the whole UTC days inside it, hourly rows for the hours at its
//! edges, so a month of 20,000 monitors is 600,000 daily rows rather than 14 million hourly).

use crate::monitor::{DAY, HOUR};
use crate::{Db, StoreResult, with_db};
use chrono::{DateTime, Utc};
use opsdeck_core::kpi::CheckTotals;
use uuid::Uuid;

/// One monitor's checks over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorTotals {
    pub monitor_id: Uuid,
    pub service_id: Option<Uuid>,
    pub totals: CheckTotals,
}

/// The bucket bounds that cover `[from, to)`: hours `[h0, d0)` and `[d1, h1)` around whole days
/// `[d0, d1)`. An hour partly inside the period counts whole (rollups keep nothing finer).
fn bounds(from: DateTime<Utc>, to: DateTime<Utc>) -> (i64, i64, i64, i64) {
    let (hour, day) = (i64::from(HOUR) * 1000, i64::from(DAY) * 1000);
    let h0 = from.timestamp_millis().div_euclid(hour) * hour;
    let h1 = to.timestamp_millis().div_euclid(hour) * hour + if to.timestamp_millis() % hour == 0 { 0 } else { hour };
    let d0 = h0.div_euclid(day) * day + if h0 % day == 0 { 0 } else { day };
    let d1 = h1.div_euclid(day) * day;
    if d0 >= d1 { (h0, h1, h1, h1) } else { (h0, d0, d1, h1) }
}

impl Db {
    /// Check counts in `[from, to)` of every monitor that was checked then.
    pub async fn monitor_check_totals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<MonitorTotals>> {
        let (h0, d0, d1, h1) = bounds(from, to);
        let cols = "monitor_id, total, failures, maintenance, maint_failures FROM check_rollups";
        let sql = format!(
            "SELECT r.monitor_id, m.service_id, CAST(SUM(r.total) AS BIGINT), CAST(SUM(r.failures) AS BIGINT), \
             CAST(SUM(r.maintenance) AS BIGINT), CAST(SUM(r.maint_failures) AS BIGINT) FROM ( \
             SELECT {cols} WHERE resolution = {DAY} AND bucket >= $2 AND bucket < $3 \
             UNION ALL SELECT {cols} WHERE resolution = {HOUR} AND bucket >= $1 AND bucket < $2 \
             UNION ALL SELECT {cols} WHERE resolution = {HOUR} AND bucket >= $3 AND bucket < $4 \
             ) r JOIN monitors m ON m.id = r.monitor_id GROUP BY r.monitor_id, m.service_id"
        );
        type Row = (Uuid, Option<Uuid>, i64, i64, i64, i64);
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(h0).bind(d0).bind(d1).bind(h1).fetch_all(pool).await?
        });
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(rows
            .into_iter()
            .map(|(monitor_id, service_id, total, failures, maintenance, maint_failures)| MonitorTotals {
                monitor_id,
                service_id,
                totals: CheckTotals {
                    total: n(total),
                    failures: n(failures),
                    maintenance: n(maintenance),
                    maint_failures: n(maint_failures),
                },
            })
            .collect())
    }
}

impl Db {
    /// Unresolved incidents (not merged away) by severity.
    pub async fn open_incidents_by_severity(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT severity, COUNT(*) FROM incidents WHERE status <> 'resolved' AND merged_into IS NULL \
                 GROUP BY severity ORDER BY severity",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Every service's id, name and slug, for labelling report rows.
    pub async fn service_labels(&self) -> StoreResult<Vec<(Uuid, String, String)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as("SELECT id, name, slug FROM services ORDER BY name, id").fetch_all(pool).await?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    fn ms(s: &str) -> i64 {
        t(s).timestamp_millis()
    }

    #[test]
    fn whole_days_read_daily_rows_and_edges_hourly() {
        let b = bounds(t("2026-10-01T00:00:00Z"), t("2026-11-01T00:00:00Z"));
        let (oct, nov) = (ms("2026-10-01T00:00:00Z"), ms("2026-11-01T00:00:00Z"));
        assert_eq!(b, (oct, oct, nov, nov));
        let b = bounds(t("2026-10-01T10:30:00Z"), t("2026-10-03T05:00:00Z"));
        assert_eq!(
            b,
            (
                ms("2026-10-01T10:00:00Z"),
                ms("2026-10-02T00:00:00Z"),
                ms("2026-10-03T00:00:00Z"),
                ms("2026-10-03T05:00:00Z")
            )
        );
        // Within one day: hours only.
        let b = bounds(t("2026-10-01T10:30:00Z"), t("2026-10-01T12:10:00Z"));
        let end = ms("2026-10-01T13:00:00Z");
        assert_eq!(b, (ms("2026-10-01T10:00:00Z"), end, end, end));
    }
}
