//! Recent results, state changes and rollups.

use super::*;

impl Db {
    /// The newest raw results of each monitor, newest first, at most `n` each.
    pub async fn recent_results(&self, ids: &[Uuid], n: i64) -> StoreResult<HashMap<Uuid, Vec<RawResult>>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT monitor_id, at, status, latency_ms, reason \
             FROM ( SELECT monitor_id, at, status, latency_ms, reason, ROW_NUMBER() OVER \
             (PARTITION BY monitor_id ORDER BY at DESC) AS rn FROM check_results \
             WHERE monitor_id IN ({})) r WHERE rn <= {} ORDER BY monitor_id, at DESC",
            placeholders(self.backend(), ids.len(), 1),
            placeholders(self.backend(), 1, ids.len() + 1),
        );
        let rows: Vec<(Uuid, i64, String, Option<f64>, String)> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for id in ids {
                q = q.bind(*id);
            }
            q.bind(n).fetch_all(pool).await?
        });
        let mut out: HashMap<Uuid, Vec<RawResult>> = HashMap::new();
        for (id, at, status, latency_ms, reason) in rows {
            out.entry(id).or_default().push(RawResult {
                at: from_millis(at),
                status: CheckStatus::parse(&status),
                latency_ms,
                reason,
            });
        }
        Ok(out)
    }

    pub async fn monitor_events(&self, monitor_id: Option<Uuid>, limit: i64) -> StoreResult<Vec<MonitorEvent>> {
        let rows: Vec<(Uuid, Uuid, i64, String, String, String)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, monitor_id, at, from_state, to_state, reason FROM monitor_events \
                            WHERE ($1 IS NULL OR monitor_id = $1) ORDER BY at DESC, id DESC LIMIT $2",
            )
            .bind(monitor_id)
            .bind(limit.clamp(1, 1000))
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, monitor_id, at, from, to, reason)| MonitorEvent {
                id,
                monitor_id,
                at: from_millis(at),
                from: MonitorState::parse(&from).unwrap_or(MonitorState::Pending),
                to: MonitorState::parse(&to).unwrap_or(MonitorState::Pending),
                reason,
            })
            .collect())
    }

    /// Rollups of one monitor at `resolution` from `since`, oldest first.
    pub async fn rollups(&self, monitor_id: Uuid, resolution: i32, since: DateTime<Utc>) -> StoreResult<Vec<Rollup>> {
        let rows: Vec<RollupRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ROLLUP_COLS} FROM check_rollups WHERE monitor_id = $1 \
                 AND resolution = $2 AND bucket >= $3 ORDER BY bucket"
            )))
            .bind(monitor_id)
            .bind(resolution)
            .bind(bucket_start(since, resolution))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Rollup::from).collect())
    }

    /// Uptime over the last day of several monitors at once (from hourly rollups, maintenance
    /// not counted), for lists; monitors without checks in the day are absent.
    pub async fn uptime_last_day(&self, ids: &[Uuid], now: DateTime<Utc>) -> StoreResult<HashMap<Uuid, f64>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let since = bucket_start(now - Duration::days(1), HOUR);
        let sql = format!(
            "SELECT monitor_id, SUM(total - maintenance), SUM(failures - maint_failures) FROM check_rollups \
             WHERE resolution = {} AND bucket >= {} AND monitor_id IN ({}) GROUP BY monitor_id",
            crate::dialect::placeholders(self.backend(), 1, 1),
            crate::dialect::placeholders(self.backend(), 1, 2),
            crate::dialect::placeholders(self.backend(), ids.len(), 3)
        );
        let rows: Vec<(Uuid, i64, i64)> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(HOUR).bind(since);
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .filter(|(_, counted, _)| *counted > 0)
            .map(|(id, counted, failed)| (id, 100.0 * (counted - failed).max(0) as f64 / counted as f64))
            .collect())
    }

    /// Totals over the last `window`: hourly rollups up to 2 days, daily beyond.
    pub async fn rollup_window(&self, monitor_id: Uuid, now: DateTime<Utc>, window: Duration) -> StoreResult<Rollup> {
        let res = if window <= Duration::days(2) { HOUR } else { DAY };
        let mut total = Rollup { bucket: now - window, ..Default::default() };
        for r in self.rollups(monitor_id, res, now - window).await? {
            total.add(&r);
        }
        Ok(total)
    }
}
