//! What a public page reads besides its configuration: the states of the monitors behind its
//! components and their daily uptime (the 90-day bars, the uptime history, the badges).

use crate::{Db, StoreResult, with_db};
use chrono::{DateTime, Utc};
use opsdeck_core::clock::from_millis;
use opsdeck_core::monitor::MonitorState;
use std::collections::HashMap;
use uuid::Uuid;

/// One day of a component's uptime, from the daily rollups of its monitors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayUptime {
    /// Start of the UTC day.
    pub day: DateTime<Utc>,
    /// Checks that counted (maintenance left out) and how many of them failed.
    pub checks: i64,
    pub failures: i64,
}

impl Db {
    /// Every monitor a page follows, by id (its own) and by service: (id, service, state).
    pub async fn page_monitors(
        &self,
        monitor_ids: &[Uuid],
        service_ids: &[Uuid],
    ) -> StoreResult<Vec<(Uuid, Option<Uuid>, MonitorState)>> {
        let mut out = Vec::new();
        for (column, ids) in [("id", monitor_ids), ("service_id", service_ids)] {
            for chunk in crate::dialect::fixed_chunks(ids) {
                let sql = format!(
                    "SELECT id, service_id, state FROM monitors WHERE {column} IN ({})",
                    crate::dialect::placeholders(self.backend(), chunk.len(), 1)
                );
                let rows: Vec<(Uuid, Option<Uuid>, String)> = with_db!(self, |pool| {
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    q.fetch_all(pool).await?
                });
                out.extend(rows.into_iter().filter_map(|(id, s, st)| Some((id, s, MonitorState::parse(&st)?))));
            }
        }
        out.sort_by_key(|m| m.0);
        out.dedup_by_key(|m| m.0);
        Ok(out)
    }

    /// Daily uptime of each monitor since `since` (UTC days; maintenance left out).
    pub async fn daily_uptime(&self, ids: &[Uuid], since: DateTime<Utc>) -> StoreResult<HashMap<Uuid, Vec<DayUptime>>> {
        let mut out: HashMap<Uuid, Vec<DayUptime>> = HashMap::new();
        let day = i64::from(crate::monitor::DAY) * 1000;
        let from = since.timestamp_millis().div_euclid(day) * day;
        for chunk in crate::dialect::fixed_chunks(ids) {
            let sql = format!(
                "SELECT monitor_id, bucket, CAST(total - maintenance AS BIGINT), \
                 CAST(failures - maint_failures AS BIGINT) FROM check_rollups \
                 WHERE resolution = $1 AND bucket >= $2 AND monitor_id IN ({}) ORDER BY bucket",
                crate::dialect::placeholders(self.backend(), chunk.len(), 3)
            );
            let rows: Vec<(Uuid, i64, i64, i64)> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(crate::monitor::DAY).bind(from);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            for (id, bucket, checks, failures) in rows {
                out.entry(id).or_default().push(DayUptime {
                    day: from_millis(bucket),
                    checks: checks.max(0),
                    failures: failures.clamp(0, checks.max(0)),
                });
            }
        }
        Ok(out)
    }
}
