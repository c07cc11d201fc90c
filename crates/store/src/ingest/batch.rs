//! Applying a batch of signals in one transaction: load, apply in memory, write with multi-row statements.

use super::services::{LAST_EVENT_EVERY_MS, ServiceCache, load_services};
use super::*;
use crate::stmt::{Stmt, SyncTx, WriteTx, run_ready};
use std::sync::Arc;

impl Db {
    /// Applies a batch of envelopes in one transaction and reports what became of each.
    pub async fn apply_signals(&self, now: DateTime<Utc>, envs: &[Envelope]) -> StoreResult<Report> {
        self.apply_signals_with(now, Arc::from(envs), &mut ServiceCache::default()).await
    }

    /// As [`Db::apply_signals`], with the writer's [`ServiceCache`] kept between batches.
    ///
    /// On SQLite the whole batch runs on the synchronous writer ([`crate::sync_writer`]): one
    /// hand-off per batch instead of one per statement. On PostgreSQL it runs through sqlx under
    /// the alert pipeline's advisory lock. The statements are the same ([`write_batch`]).
    pub async fn apply_signals_with(
        &self,
        now: DateTime<Utc>,
        envs: Arc<[Envelope]>,
        cache: &mut ServiceCache,
    ) -> StoreResult<Report> {
        if envs.is_empty() {
            return Ok(Report::default());
        }
        let now_ms = now.timestamp_millis();
        let integrations: Vec<Uuid> = cache.last_event_due(envs.iter().filter_map(|e| e.integration_id), now_ms);
        let report = match self {
            Db::Sqlite(sqlite) => {
                let _gate = sqlite.gate.lock().await;
                let mut owned = std::mem::take(cache);
                let due = integrations.clone();
                let (report, back) = sqlite
                    .sync
                    .run(move |conn| {
                        let mut tx = SyncTx::begin(conn)?;
                        let report = run_ready(write_batch(&mut tx, Backend::Sqlite, now_ms, &envs, &due, &mut owned))?;
                        tx.commit()?;
                        Ok((report, owned))
                    })
                    .await?;
                *cache = back;
                report
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                tx.lock_alerts().await?;
                let report = write_batch(&mut tx, Backend::Postgres, now_ms, &envs, &integrations, cache).await?;
                tx.commit().await?;
                report
            }
        };
        cache.last_event_written(&integrations, now_ms);
        Ok(report)
    }
}

/// One batch on an open write transaction: load, apply in memory, write. `cache` is updated
/// as services are read; the integrations' `last_event_at` is written here when due.
async fn write_batch<T: WriteTx>(
    tx: &mut T,
    backend: Backend,
    now_ms: i64,
    envs: &[Envelope],
    integrations: &[Uuid],
    cache: &mut ServiceCache,
) -> StoreResult<Report> {
    let mut report = Report::default();
    // 1. The services involved, route targets included: settings, tier, existence.
    let revision: Vec<(i64,)> =
        tx.fetch(Stmt::new("SELECT value FROM revisions WHERE name = $1").bind(crate::catalogue::CATALOGUE)).await?;
    cache.check_revision(revision.first().map_or(0, |r| r.0));
    load_services(tx, backend, cache, envs.iter().map(|e| e.service_id)).await?;
    let route_targets: Vec<Uuid> = envs
        .iter()
        .filter_map(|e| cache.get(&e.service_id))
        .flat_map(|s| s.settings.rules.iter())
        .filter_map(|r| match r.then {
            rules::RuleAction::Route { service_id } => Some(service_id),
            _ => None,
        })
        .collect();
    load_services(tx, backend, cache, route_targets.iter().copied()).await?;
    let valid_routes: HashSet<Uuid> = route_targets.into_iter().filter(|id| cache.get(id).is_some()).collect();
    // A service without a settings row (or deleted meanwhile) uses the defaults.
    let involved: HashSet<Uuid> = envs.iter().map(|e| e.service_id).chain(valid_routes.iter().copied()).collect();
    let mut settings: HashMap<Uuid, AlertSettings> =
        involved.into_iter().map(|id| (id, cache.get(&id).map(|s| s.settings.clone()).unwrap_or_default())).collect();

    // 2. Open alerts for the batch's keys (the scope is checked in memory).
    let keys: Vec<&str> =
        envs.iter().map(|e| e.signal.dedup_key.as_str()).collect::<HashSet<_>>().into_iter().collect();
    let mut open: Vec<AlertRow> = Vec::new();
    for chunk in fixed_chunks(&keys) {
        let sql = format!(
            "SELECT {ALERT_COLS} FROM alerts WHERE status <> 'resolved' AND dedup_key IN ({})",
            placeholders(backend, chunk.len(), 1)
        );
        let q = chunk.iter().fold(Stmt::new(sql), |q, k| q.bind(*k));
        open.extend(tx.fetch::<AlertRow>(q).await?);
    }
    let scopes: HashSet<&str> = envs.iter().map(|e| e.scope.as_str()).collect();
    open.retain(|r| scopes.contains(r.scope.as_str()));

    // 3. Events in order, in memory.
    let (mut works, outcomes, follow_ups) = apply_events(envs, &settings, &valid_routes, open, now_ms);

    // 4. Incidents: candidates for grouping new alerts, and those whose alerts moved.
    let new_services: Vec<Uuid> =
        works.iter().filter(|w| w.new).filter_map(|w| w.row.service_id).collect::<HashSet<_>>().into_iter().collect();
    // Open incidents that new alerts may join, and recently resolved ones they may
    // reopen (or held open for flapping), in one statement.
    let mut inc_rows: Vec<IncRow> = Vec::new();
    let mut recent: HashMap<String, Uuid> = HashMap::new();
    if !new_services.is_empty() {
        let reopen_secs = new_services
            .iter()
            .map(|s| settings.get(s).map_or(rules::REOPEN_WINDOW_DEFAULT_SECS, |st| st.reopen_window_seconds))
            .max()
            .unwrap_or(0);
        let n = new_services.len();
        let sql = format!(
            "SELECT * FROM (SELECT {INC_COLS} FROM incidents WHERE status <> 'resolved' \
             AND service_id IN ({}) ORDER BY last_alert_at DESC LIMIT 1000) AS open_incidents \
             UNION ALL SELECT * FROM (SELECT {INC_COLS} FROM incidents WHERE status = 'resolved' \
             AND service_id IN ({}) AND resolved_at >= {} ORDER BY resolved_at DESC LIMIT 200) AS recent",
            placeholders(backend, n, 1),
            placeholders(backend, n, n + 1),
            placeholders(backend, 1, 2 * n + 1)
        );
        let q = new_services.iter().chain(&new_services).fold(Stmt::new(sql), |q, id| q.bind(*id));
        // No reopen window: a cutoff in the future finds no resolved incident.
        let cutoff =
            if reopen_secs > 0 { now_ms.saturating_sub(i64::from(reopen_secs).saturating_mul(1000)) } else { i64::MAX };
        let (mut resolved, open): (Vec<IncRow>, Vec<IncRow>) =
            tx.fetch::<IncRow>(q.bind(cutoff)).await?.into_iter().partition(|r| r.status == "resolved");
        inc_rows = open;
        inc_rows.sort_by_key(|r| std::cmp::Reverse(r.last_alert_at));
        resolved.sort_by_key(|r| std::cmp::Reverse(r.resolved_at));
        let mut ids: Vec<(Uuid, i64)> = resolved.iter().map(|r| (r.id, r.resolved_at.unwrap_or(0))).collect();
        ids.extend(inc_rows.iter().filter(|r| r.hold_until.is_some()).map(|r| (r.id, i64::MAX)));
        inc_rows.extend(resolved);
        let new_keys: Vec<&str> = works
            .iter()
            .filter(|w| w.new)
            .map(|w| w.row.dedup_key.as_str())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !ids.is_empty() && !new_keys.is_empty() {
            let rank: HashMap<Uuid, i64> = ids.iter().copied().collect();
            for chunk in fixed_chunks(&new_keys) {
                let sql = format!(
                    "SELECT DISTINCT dedup_key, incident_id FROM alerts WHERE incident_id IN ({}) \
                     AND dedup_key IN ({})",
                    placeholders(backend, ids.len(), 1),
                    placeholders(backend, chunk.len(), ids.len() + 1)
                );
                let q = ids.iter().fold(Stmt::new(sql), |q, (id, _)| q.bind(*id));
                let q = chunk.iter().fold(q, |q, k| q.bind(*k));
                for (key, inc) in tx.fetch::<(String, Uuid)>(q).await? {
                    // The latest incident a key belonged to wins.
                    let better = recent.get(&key).is_none_or(|cur| rank.get(cur) < rank.get(&inc));
                    if better {
                        recent.insert(key, inc);
                    }
                }
            }
        }
    }
    let tiers: HashMap<Uuid, i16> = new_services.iter().filter_map(|id| Some((*id, cache.get(id)?.tier))).collect();
    let have: HashSet<Uuid> = inc_rows.iter().map(|r| r.id).collect();
    let wanted: Vec<Uuid> =
        follow_ups.iter().map(|f| f.0).filter(|id| !have.contains(id)).collect::<HashSet<_>>().into_iter().collect();
    for chunk in fixed_chunks(&wanted) {
        let sql = format!("SELECT {INC_COLS} FROM incidents WHERE id IN ({})", placeholders(backend, chunk.len(), 1));
        let q = chunk.iter().fold(Stmt::new(sql), |q, id| q.bind(*id));
        inc_rows.extend(tx.fetch::<IncRow>(q).await?);
    }
    // Incidents of other services (alerts moved by a route): their settings too.
    load_services(tx, backend, cache, inc_rows.iter().filter_map(|r| r.service_id)).await?;
    for id in inc_rows.iter().filter_map(|r| r.service_id) {
        settings.entry(id).or_insert_with(|| cache.get(&id).map(|s| s.settings.clone()).unwrap_or_default());
    }
    let mut incs: Vec<Inc> = inc_rows
        .into_iter()
        .map(|row| Inc {
            impact_start: 0,
            new: false,
            dirty: false,
            reopened: false,
            source: "alert",
            joined: Vec::new(),
            events: Vec::new(),
            row,
        })
        .collect();
    assign_incidents(&mut works, &mut incs, &Assign { settings: &settings, tiers, recent }, now_ms);
    // Alerts opened and resolved within this batch count as resolved for their incident.
    follow_up_incidents(&mut incs, &follow_ups, &settings, now_ms);

    // 5. Numbers for new incidents.
    let n_new = incs.iter().filter(|i| i.new).count() as i64;
    if n_new > 0 {
        let last: Vec<(i64,)> = tx
            .fetch(
                Stmt::new("UPDATE revisions SET value = value + $1 WHERE name = 'incident_number' RETURNING value")
                    .bind(n_new),
            )
            .await?;
        let last = last.first().map(|r| r.0).ok_or_else(|| crate::StoreError::Config("no incident counter".into()))?;
        for (number, i) in (last - n_new + 1..).zip(incs.iter_mut().filter(|i| i.new)) {
            i.row.number = number;
        }
    }

    // 6. Writes: new incidents first (alerts reference them), then alerts.
    let new_incs: Vec<&Inc> = incs.iter().filter(|i| i.new).collect();
    for chunk in fixed_chunks(&new_incs) {
        let sql = multi_row(
            backend,
            "INSERT INTO incidents (id, number, title, description, status, severity, \
             service_id, group_key, source, alert_count, open_alerts, impact_start_at, \
             detected_at, acknowledged_at, mitigated_at, resolved_at, last_alert_at, created_at, \
             updated_at, joined_noted_at) VALUES ",
            20,
            chunk.len(),
            "",
        );
        let mut q = Stmt::new(sql);
        for i in chunk {
            let r = &i.row;
            q = q
                .bind(r.id)
                .bind(r.number)
                .bind(&r.title)
                .bind("")
                .bind(&r.status)
                .bind(&r.severity)
                .bind(r.service_id)
                .bind(&r.group_key)
                .bind(i.source)
                .bind(r.alert_count)
                .bind(r.open_alerts)
                .bind(i.impact_start.min(now_ms))
                .bind(now_ms)
                .bind(r.acknowledged_at)
                .bind(r.mitigated_at)
                .bind(r.resolved_at)
                .bind(now_ms)
                .bind(now_ms)
                .bind(now_ms)
                .bind(r.joined_noted_at);
        }
        tx.execute(q).await?;
        let sql =
            multi_row(backend, "INSERT INTO incident_services (incident_id, service_id) VALUES ", 2, chunk.len(), "");
        let q = chunk.iter().fold(Stmt::new(sql), |q, i| q.bind(i.row.id).bind(i.row.service_id));
        tx.execute(q).await?;
    }
    for wave in [false, true] {
        let rows: Vec<&AlertRow> = works.iter().filter(|w| w.dirty && w.new == wave).map(|w| &w.row).collect();
        for chunk in fixed_chunks(&rows) {
            let q = chunk.iter().fold(Stmt::new(upsert_alerts_sql(backend, chunk.len())), |q, r| bind_alert!(q, r));
            tx.execute(q).await?;
        }
    }
    // Plain repeats: count, last_seen and expiry only, leaving the row's indexes alone.
    let touched: Vec<&AlertRow> = works.iter().filter(|w| w.touched && !w.dirty).map(|w| &w.row).collect();
    for chunk in fixed_chunks(&touched) {
        let sql = multi_row(
            backend,
            "WITH v (id, count, last_seen, expires_at) AS (VALUES ",
            4,
            chunk.len(),
            ") UPDATE alerts SET count = v.count, last_seen = v.last_seen, expires_at = \
             v.expires_at FROM v WHERE alerts.id = v.id",
        );
        let q =
            chunk.iter().fold(Stmt::new(sql), |q, r| q.bind(r.id).bind(r.count).bind(r.last_seen).bind(r.expires_at));
        tx.execute(q).await?;
    }
    for i in incs.iter().filter(|i| i.dirty && !i.new) {
        let r = &i.row;
        let q = Stmt::new(
            "UPDATE incidents SET status = $1, severity = $2, alert_count = $3, open_alerts = \
             $4, last_alert_at = $5, acknowledged_at = $6, mitigated_at = $7, resolved_at = $8, \
             snoozed_until = CASE WHEN $1 = 'resolved' THEN NULL ELSE snoozed_until END, \
             updated_at = $9, joined_noted_at = $11, reopened_at = $12, hold_until = $13 \
             WHERE id = $10",
        )
        .bind(&r.status)
        .bind(&r.severity)
        .bind(r.alert_count)
        .bind(r.open_alerts)
        .bind(r.last_alert_at)
        .bind(r.acknowledged_at)
        .bind(r.mitigated_at)
        .bind(r.resolved_at)
        .bind(now_ms)
        .bind(r.id)
        .bind(r.joined_noted_at)
        .bind(r.reopened_at)
        .bind(r.hold_until);
        tx.execute(q).await?;
    }
    let mut timeline: Vec<TimelineEntry> = Vec::new();
    let joined_notes: Vec<Option<String>> = incs.iter_mut().map(|i| joined_entry(i, now_ms)).collect();
    for (i, joined) in incs.iter().zip(joined_notes) {
        let actor = "alerts".to_string();
        if i.new {
            let source = if i.source == "monitor" { "a monitor" } else { "an alert" };
            timeline.push(TimelineEntry {
                incident_id: i.row.id,
                at: now_ms,
                kind: kind::CREATED,
                actor: actor.clone(),
                body: format!("Opened by {source}: {}", i.row.title),
            });
        }
        if let Some(body) = joined {
            timeline.push(TimelineEntry {
                incident_id: i.row.id,
                at: now_ms,
                kind: kind::ALERTS_JOINED,
                actor: actor.clone(),
                body,
            });
        }
        for (k, body) in &i.events {
            timeline.push(TimelineEntry {
                incident_id: i.row.id,
                at: now_ms,
                kind: k,
                actor: actor.clone(),
                body: body.clone(),
            });
        }
    }
    let resolved_alerts: Vec<&AlertRow> =
        works.iter().filter(|w| w.dirty && w.row.status == "resolved").map(|w| &w.row).collect();
    for r in resolved_alerts.iter().take(20) {
        if let Some(inc) = r.incident_id {
            timeline.push(TimelineEntry {
                incident_id: inc,
                at: now_ms,
                kind: kind::ALERT_RESOLVED,
                actor: r.source_type.clone(),
                body: format!("Alert resolved: {}", r.summary),
            });
        }
    }
    if resolved_alerts.len() > 20 {
        let mut per: HashMap<Uuid, usize> = HashMap::new();
        for r in &resolved_alerts[20..] {
            if let Some(inc) = r.incident_id {
                *per.entry(inc).or_default() += 1;
            }
        }
        for (inc, n) in per {
            timeline.push(TimelineEntry {
                incident_id: inc,
                at: now_ms,
                kind: kind::ALERT_RESOLVED,
                actor: "alerts".into(),
                body: format!("{n} more alerts resolved"),
            });
        }
    }
    crate::timeline::write_timeline(tx, backend, &timeline).await?;
    // Escalations: new triggered incidents start theirs; acknowledged or resolved ones stop.
    for i in &incs {
        if (i.new || i.reopened) && i.row.status == "triggered" {
            crate::oncall::start_escalation_on(tx, i.row.id, now_ms).await?;
        } else if !i.new && i.dirty && i.row.status != "triggered" {
            crate::oncall::stop_escalation_on(tx, i.row.id).await?;
        }
    }
    if !integrations.is_empty() {
        // To the minute: a busy integration's row is then rewritten (a page in every
        // commit's WAL) once a minute, not in every batch.
        let sql = format!(
            "UPDATE integrations SET last_event_at = $1 WHERE id IN ({}) \
             AND (last_event_at IS NULL OR last_event_at <= $1 - {LAST_EVENT_EVERY_MS})",
            placeholders(backend, integrations.len(), 2)
        );
        let q = integrations.iter().fold(Stmt::new(sql).bind(now_ms), |q, id| q.bind(*id));
        tx.execute(q).await?;
    }

    report.applied = outcomes
        .into_iter()
        .map(|(dedup_key, i, dropped)| {
            let row = i.map(|i| &works[i].row);
            Applied { dedup_key, alert_id: row.map(|r| r.id), incident_id: row.and_then(|r| r.incident_id), dropped }
        })
        .collect();
    report.opened = incs.iter().filter(|i| i.new).map(|i| (i.row.id, i.row.number, i.row.title.clone())).collect();
    report.changed = incs.iter().filter(|i| i.dirty).map(|i| i.row.id).collect();
    Ok(report)
}
