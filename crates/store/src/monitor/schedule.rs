//! Due monitors claimed with leases, and their results recorded in batches.

use super::*;

impl Db {
    /// Claims for `node` until `lease_until` up to `limit` monitors due by `due_by` (at or after
    /// `now`: the scheduler claims a little ahead and starts each check at its due time).
    pub async fn claim_due_monitors(
        &self,
        node: &str,
        now: DateTime<Utc>,
        due_by: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<DueMonitor>> {
        let rows = crate::dialect::claim_due_monitors(
            self,
            node,
            now.timestamp_millis(),
            due_by.timestamp_millis(),
            lease_until.timestamp_millis(),
            limit,
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|DueRowPub(r)| DueMonitor {
                id: r.id,
                settings: r.settings.0,
                timeout_seconds: r.timeout_seconds,
                interval_seconds: r.interval_seconds,
                due_at: from_millis(r.next_run_at),
                created_at: from_millis(r.created_at),
                last_ping_at: r.last_ping_at.map(from_millis),
                locations: r.locations.0,
                quorum: r.quorum,
                updated_at: from_millis(r.updated_at),
                claim: Claim {
                    node: node.to_owned(),
                    health: Health {
                        state: MonitorState::parse(&r.state).unwrap_or(MonitorState::Pending),
                        fail_streak: r.fail_streak,
                        ok_streak: r.ok_streak,
                    },
                    down_after: r.down_after,
                    up_after: r.up_after,
                    interval_seconds: r.interval_seconds,
                    name: r.name,
                    service_id: r.service_id,
                },
            })
            .collect())
    }

    /// Extends this node's leases of `ids` to `lease_until` (checks still waiting, running or
    /// being stored) and returns the ids it still holds: a monitor missing from the answer was
    /// taken over by another node (this one stalled past its lease) or paused, edited or
    /// deleted, and its result must be dropped.
    pub async fn renew_monitor_leases(
        &self,
        node: &str,
        ids: &[Uuid],
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Vec<Uuid>> {
        let backend = self.backend();
        let mut held = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let sql = format!(
                "UPDATE monitors SET lease_until = $1 WHERE lease_owner = $2 AND id IN ({}) RETURNING id",
                placeholders(backend, chunk.len(), 3)
            );
            let got: Vec<Uuid> = with_writer!(self, |pool| {
                let mut q =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(lease_until.timestamp_millis()).bind(node);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            held.extend(got);
        }
        Ok(held)
    }

    /// Stores finished checks in one transaction: the new health and schedule (releasing the
    /// lease), raw results, rollups, and an event per state change, which it returns.
    ///
    /// This is the hot write path: raw results and rollups go in as multi-row statements, and
    /// rollups are summed in memory first, so a batch of checks costs few statements.
    pub async fn record_checks(&self, records: &[CheckRecord], retention: &Retention) -> StoreResult<Vec<StateChange>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.backend();
        let mut changes = Vec::new();
        write_tx!(self, |tx| {
            let mut accepted: Vec<&CheckRecord> = Vec::with_capacity(records.len());
            let mut rollups: HashMap<(Uuid, i32, i64), RollupAgg> = HashMap::new();
            // (record, claim, new health, transition) of every stored result.
            let mut stored: Vec<(&CheckRecord, Claim, Option<Transition>)> = Vec::with_capacity(records.len());
            let mut leased: Vec<(&CheckRecord, Claim, Health, Option<Transition>)> = Vec::with_capacity(records.len());
            // (monitor, oldest raw result to keep) of monitors whose raw results are pruned now.
            let mut prune: Vec<(Uuid, i64)> = Vec::new();
            for rec in records {
                if rec.hold {
                    // Only rescheduled, by the lease's owner.
                    if let Some(c) = &rec.claim {
                        sqlx::query(
                            "UPDATE monitors SET next_run_at = $1, lease_owner = NULL, lease_until = NULL \
                             WHERE id = $2 AND lease_owner = $3",
                        )
                        .bind(rec.next_run_at.timestamp_millis())
                        .bind(rec.monitor_id)
                        .bind(&c.node)
                        .execute(&mut *tx)
                        .await?;
                    }
                    continue;
                }
                // Leased checks carry what the claim saw; pings read the monitor now, one at a
                // time, so two pings of one monitor in a batch see each other.
                let claim = match &rec.claim {
                    Some(c) => c.clone(),
                    None => {
                        let cur: Option<PingRow> = sqlx::query_as(
                            "SELECT state, fail_streak, ok_streak, down_after, up_after, paused, \
                             interval_seconds, name, service_id FROM monitors WHERE id = $1",
                        )
                        .bind(rec.monitor_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        // Deleted meanwhile, or paused: a ping changes nothing.
                        let Some((state, fail, ok, down_after, up_after, paused, interval, name, service_id)) = cur
                        else {
                            continue;
                        };
                        if paused {
                            continue;
                        }
                        let health = Health {
                            state: MonitorState::parse(&state).unwrap_or(MonitorState::Pending),
                            fail_streak: fail,
                            ok_streak: ok,
                        };
                        Claim {
                            node: String::new(),
                            health,
                            down_after,
                            up_after,
                            interval_seconds: interval,
                            name,
                            service_id,
                        }
                    }
                };
                let o = &rec.outcome;
                // Maintenance freezes the state at `maintenance`; leaving it starts over from
                // pending, so the first result after the window decides.
                let (next, transition) = match (rec.maintenance, claim.health.state == MonitorState::Maintenance) {
                    (true, _) => claim.health.set_override(MonitorState::Maintenance),
                    (false, true) => {
                        let (h, _) = Health::default().apply(o.status, claim.down_after, claim.up_after);
                        (h, Some(Transition { from: MonitorState::Maintenance, to: h.state }))
                    }
                    (false, false) => claim.health.apply(o.status, claim.down_after, claim.up_after),
                };
                if rec.claim.is_some() {
                    leased.push((rec, claim, next, transition));
                    continue;
                }
                let at_ms = rec.at.timestamp_millis();
                let updated = sqlx::query(
                    "UPDATE monitors SET state = $1, fail_streak = $2, ok_streak = $3, next_run_at = $4, \
                     lease_owner = NULL, lease_until = NULL, last_check_at = $5, last_status = $6, \
                     last_latency_ms = $7, last_reason = $8, last_details = $9, state_since = CASE WHEN \
                     $10 THEN $5 ELSE state_since END WHERE id = $11",
                )
                .bind(next.state.as_str())
                .bind(next.fail_streak)
                .bind(next.ok_streak)
                .bind(rec.next_run_at.timestamp_millis())
                .bind(at_ms)
                .bind(o.status.as_str())
                .bind(o.latency_ms)
                .bind(&o.reason)
                .bind(Json(&o.details))
                .bind(transition.is_some())
                .bind(rec.monitor_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated > 0 {
                    stored.push((rec, claim, transition));
                }
            }

            // Leased checks: one statement per 64 results. The state update is conditioned on
            // the lease: if this node lost it (the monitor was paused, edited, re-queued or
            // deleted meanwhile), nothing of that result is stored.
            for chunk in crate::dialect::fixed_chunks(&leased) {
                let sql = crate::dialect::multi_row(
                    backend,
                    "WITH v (id, state, fail_streak, ok_streak, next_run_at, at, status, latency, \
                     reason, details, changed, node) AS (VALUES ",
                    12,
                    chunk.len(),
                    ") UPDATE monitors SET state = v.state, fail_streak = v.fail_streak, ok_streak = \
                     v.ok_streak, next_run_at = v.next_run_at, lease_owner = NULL, lease_until = NULL, \
                     last_check_at = v.at, last_status = v.status, last_latency_ms = v.latency, \
                     last_reason = v.reason, last_details = v.details, state_since = CASE WHEN v.changed \
                     THEN v.at ELSE monitors.state_since END FROM v WHERE monitors.id = v.id \
                     AND monitors.lease_owner = v.node RETURNING monitors.id",
                );
                let mut q = sqlx::query_scalar::<_, Uuid>(sqlx::AssertSqlSafe(sql));
                for (rec, claim, next, transition) in chunk {
                    let o = &rec.outcome;
                    q = q
                        .bind(rec.monitor_id)
                        .bind(next.state.as_str())
                        .bind(next.fail_streak)
                        .bind(next.ok_streak)
                        .bind(rec.next_run_at.timestamp_millis())
                        .bind(rec.at.timestamp_millis())
                        .bind(o.status.as_str())
                        .bind(o.latency_ms)
                        .bind(&o.reason)
                        .bind(Json(&o.details))
                        .bind(transition.is_some())
                        .bind(&claim.node);
                }
                let ok: std::collections::HashSet<Uuid> = q.fetch_all(&mut *tx).await?.into_iter().collect();
                for (rec, claim, _, transition) in chunk {
                    if ok.contains(&rec.monitor_id) {
                        stored.push((rec, claim.clone(), *transition));
                    }
                }
            }

            for (rec, claim, transition) in stored {
                let at_ms = rec.at.timestamp_millis();
                let o = &rec.outcome;
                let maintenance = rec.maintenance;
                // Hourly and daily only: a minute rollup per check would be a row per result
                // (at 60 s intervals) that nothing reads, written and pruned on the hot path.
                for res in [HOUR, DAY] {
                    rollups.entry((rec.monitor_id, res, bucket_start(rec.at, res))).or_default().add(o, maintenance);
                }
                // Raw results stay bounded (≈ the newest N, never older than the age limit).
                // Pruned on every 10th check of a monitor: one delete of ~10 rows beats ten.
                let interval_ms = i64::from(claim.interval_seconds.max(1)) * 1000;
                if (at_ms / interval_ms) % 10 == 0 || rec.claim.is_none() {
                    let keep_from = (at_ms - interval_ms * i64::from(retention.raw_per_monitor))
                        .max(at_ms - i64::from(retention.raw_max_age_hours) * 3_600_000);
                    prune.push((rec.monitor_id, keep_from));
                }
                if let Some(t) = transition {
                    // The alert goes out through the outbox (`alerts.rs`), committed with the state.
                    sqlx::query(
                        "INSERT INTO monitor_events (id, monitor_id, at, from_state, to_state, reason, \
                         alert_pending) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(rec.monitor_id)
                    .bind(at_ms)
                    .bind(t.from.as_str())
                    .bind(t.to.as_str())
                    .bind(&o.reason)
                    .bind(super::raises_alert(t.to, claim.service_id))
                    .execute(&mut *tx)
                    .await?;
                    changes.push(StateChange {
                        monitor_id: rec.monitor_id,
                        name: claim.name.clone(),
                        service_id: claim.service_id,
                        at: rec.at,
                        transition: t,
                        reason: o.reason.clone(),
                    });
                }
                accepted.push(rec);
            }

            for chunk in crate::dialect::fixed_chunks(&accepted) {
                let sql = crate::dialect::multi_row(
                    backend,
                    "INSERT INTO check_results (monitor_id, at, status, latency_ms, reason) VALUES ",
                    5,
                    chunk.len(),
                    " ON CONFLICT (monitor_id, at) DO NOTHING",
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for rec in chunk {
                    let o = &rec.outcome;
                    q = q
                        .bind(rec.monitor_id)
                        .bind(rec.at.timestamp_millis())
                        .bind(o.status.as_str())
                        .bind(o.latency_ms)
                        .bind(&o.reason);
                }
                q.execute(&mut *tx).await?;
            }

            // The old raw results of up to 64 monitors per statement, found through the primary
            // key from each (monitor, keep-from) pair.
            for chunk in crate::dialect::fixed_chunks(&prune) {
                let sql = crate::dialect::multi_row(
                    backend,
                    "WITH v (id, keep_from) AS (VALUES ",
                    2,
                    chunk.len(),
                    ") DELETE FROM check_results WHERE (monitor_id, at) IN (SELECT r.monitor_id, r.at FROM v \
                     JOIN check_results r ON r.monitor_id = v.id AND r.at < v.keep_from)",
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id, keep_from) in chunk {
                    q = q.bind(*id).bind(*keep_from);
                }
                q.execute(&mut *tx).await?;
            }

            let rows: Vec<((Uuid, i32, i64), RollupAgg)> = rollups.into_iter().collect();
            for chunk in crate::dialect::fixed_chunks(&rows) {
                let sql = crate::dialect::multi_row(backend, UPSERT_ROLLUPS_HEAD, 26, chunk.len(), UPSERT_ROLLUPS_TAIL);
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for ((id, res, bucket), a) in chunk {
                    q = q
                        .bind(*id)
                        .bind(*res)
                        .bind(*bucket)
                        .bind(a.total)
                        .bind(a.failures)
                        .bind(a.degraded)
                        .bind(a.maintenance)
                        .bind(a.maint_failures)
                        .bind(a.latency_sum);
                    for h in a.hist {
                        q = q.bind(h);
                    }
                }
                q.execute(&mut *tx).await?;
            }
            bump!(tx, MONITORS);
        });
        Ok(changes)
    }
}
