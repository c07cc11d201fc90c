//! Creating, reading, changing, pausing and deleting monitors.

use super::*;

/// A monitor about to be created: its id, first run and (for heartbeats) ping token.
struct NewMonitor {
    id: Uuid,
    spec: MonitorSpec,
    paused: bool,
    ping_token: Option<String>,
    next_run_at: DateTime<Utc>,
}

impl NewMonitor {
    fn new(spec: MonitorSpec, paused: bool, now: DateTime<Utc>) -> Self {
        let id = Uuid::now_v7();
        let ping_token = (spec.kind == MonitorType::Heartbeat).then(|| secret::generate("hb_"));
        let next_run_at = match &spec.settings {
            // Heartbeats are "checked" when their deadline passes.
            Settings::Heartbeat(h) => {
                opsdeck_core::monitor::heartbeat_deadline(&h.schedule, now, h.grace_seconds).unwrap_or(now)
            }
            // Spread over the first interval, so a thousand new monitors are not due at once.
            _ => first_run(id, now, spec.interval_seconds),
        };
        NewMonitor { id, spec, paused, ping_token, next_run_at }
    }
}

impl Db {
    pub async fn create_monitor(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        spec: MonitorSpec,
        paused: bool,
    ) -> StoreResult<MonitorView> {
        let ids = self.create_monitors(actor, now, vec![(spec, paused)]).await?;
        self.get_monitor(ids[0]).await
    }

    /// Creates monitors in one transaction (all or none), each audited; returns their ids in
    /// order. Multi-row statements keep a large `opsdeck apply` to a few round trips per chunk.
    pub async fn create_monitors(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        specs: Vec<(MonitorSpec, bool)>,
    ) -> StoreResult<Vec<Uuid>> {
        let backend = self.backend();
        let ms = now.timestamp_millis();
        let rows: Vec<NewMonitor> =
            specs.into_iter().map(|(spec, paused)| NewMonitor::new(spec, paused, now)).collect();
        let audits: Vec<AuditRecord> = rows
            .iter()
            .map(|r| {
                let summary = format!("Created monitor {}", r.spec.name);
                AuditRecord::new("monitor.create", "monitor", Some(r.id), summary).after(r.spec.redacted())
            })
            .collect();
        write_tx!(self, |tx| {
            for chunk in fixed_chunks(&rows) {
                let sql = multi_row(
                    backend,
                    "INSERT INTO monitors (id, name, service_id, kind, interval_seconds, \
                     timeout_seconds, down_after, up_after, tags, settings, paused, state, state_since, \
                     fail_streak, ok_streak, ping_token, next_run_at, created_at, updated_at, locations, \
                     quorum) VALUES ",
                    21,
                    chunk.len(),
                    "",
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for r in chunk {
                    let state = if r.paused { MonitorState::Paused } else { MonitorState::Pending };
                    q = q
                        .bind(r.id)
                        .bind(&r.spec.name)
                        .bind(r.spec.service_id)
                        .bind(r.spec.kind.as_str())
                        .bind(r.spec.interval_seconds)
                        .bind(r.spec.timeout_seconds)
                        .bind(r.spec.down_after)
                        .bind(r.spec.up_after)
                        .bind(Json(&r.spec.tags))
                        .bind(Json(&r.spec.settings))
                        .bind(r.paused)
                        .bind(state.as_str())
                        .bind(ms)
                        .bind(0)
                        .bind(0)
                        .bind(&r.ping_token)
                        .bind(r.next_run_at.timestamp_millis())
                        .bind(ms)
                        .bind(ms)
                        .bind(Json(&r.spec.locations))
                        .bind(r.spec.quorum);
                }
                q.execute(&mut *tx).await?;
            }
            audit_many!(tx, backend, actor, now, audits);
            bump!(tx, MONITORS);
        });
        Ok(rows.iter().map(|r| r.id).collect())
    }

    /// Which of `ids` name no service (for validating many monitors in one query per 64).
    pub async fn unknown_services(&self, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        let backend = self.backend();
        let mut found = std::collections::HashSet::new();
        for chunk in fixed_chunks(ids) {
            let sql = format!("SELECT id FROM services WHERE id IN ({})", placeholders(backend, chunk.len(), 1));
            let rows: Vec<Uuid> = with_db!(self, |pool| {
                let mut q = sqlx::query_scalar::<_, Uuid>(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            found.extend(rows);
        }
        Ok(ids.iter().filter(|id| !found.contains(id)).copied().collect())
    }

    /// Validates references before a monitor is written.
    pub async fn check_monitor_refs(&self, spec: &MonitorSpec) -> StoreResult<()> {
        match spec.service_id {
            Some(id) if !self.unknown_services(&[id]).await?.is_empty() => {
                Err(opsdeck_core::Error::invalid("service_id", "no service has this id").into())
            }
            _ => Ok(()),
        }
    }

    pub async fn get_monitor(&self, id: Uuid) -> StoreResult<MonitorView> {
        let row: Option<MonitorRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {MONITOR_COLS} FROM monitors m LEFT JOIN services s ON s.id = m.service_id WHERE m.id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.ok_or(StoreError::NotFound(Entity::Monitor))?.try_into()
    }

    pub async fn get_monitor_by_ping_token(&self, token: &str) -> StoreResult<MonitorView> {
        let row: Option<MonitorRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {MONITOR_COLS} FROM monitors m LEFT \
                 JOIN services s ON s.id = m.service_id WHERE m.ping_token = $1"
            )))
            .bind(token)
            .fetch_optional(pool)
            .await?
        });
        row.ok_or(StoreError::NotFound(Entity::Monitor))?.try_into()
    }

    pub async fn monitors_revision(&self) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM revisions WHERE name = $1").bind(MONITORS).fetch_one(pool).await?
        }))
    }

    /// Monitors by name with filters; keyset-paginated.
    pub async fn list_monitors(&self, f: &MonitorFilter) -> StoreResult<Page<MonitorView>> {
        let limit = page::clamp_limit(f.limit);
        let pattern = f.q.as_deref().filter(|q| !q.trim().is_empty()).map(page::like_pattern);
        let tag = f
            .tag
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| format!("%\"{}\"%", t.replace(['%', '_', '"', '\\'], "")));
        let (c_name, c_id) = (f.cursor.as_ref().map(|c| c.key.as_str()), f.cursor.as_ref().map(|c| c.id));
        let rows: Vec<MonitorRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {MONITOR_COLS} FROM monitors m LEFT \
                 JOIN services s ON s.id = m.service_id WHERE ($1 IS NULL \
                 OR LOWER(m.name) LIKE $1 ESCAPE '\\') AND ($2 IS NULL OR m.state = $2) \
                 AND ($3 IS NULL OR m.service_id = $3) AND ($4 IS NULL OR m.kind = $4) \
                 AND ($5 IS NULL OR CAST(m.tags AS TEXT) LIKE $5) AND ($6 IS NULL OR m.name > $6 \
                 OR (m.name = $6 AND m.id > $7)) ORDER BY m.name, m.id LIMIT $8"
            )))
            .bind(pattern.as_deref())
            .bind(f.state.map(MonitorState::as_str))
            .bind(f.service_id)
            .bind(f.kind.map(MonitorType::as_str))
            .bind(tag.as_deref())
            .bind(c_name)
            .bind(c_id)
            .bind(limit + 1)
            .fetch_all(pool)
            .await?
        });
        let page = page::finish(rows, limit, |r| Cursor { key: r.name.clone(), id: r.id });
        Ok(Page {
            items: page.items.into_iter().map(MonitorView::try_from).collect::<StoreResult<_>>()?,
            next_cursor: page.next_cursor,
        })
    }

    /// Number of monitors in each state.
    pub async fn monitor_state_counts(&self, service_id: Option<Uuid>) -> StoreResult<HashMap<MonitorState, i64>> {
        let rows: Vec<(String, i64)> = with_db!(self, |pool| {
            sqlx::query_as("SELECT state, COUNT(*) FROM monitors WHERE ($1 IS NULL OR service_id = $1) GROUP BY state")
                .bind(service_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().filter_map(|(s, n)| MonitorState::parse(&s).map(|s| (s, n))).collect())
    }

    /// Monitor states of several services at once, for lists: service → (state, count).
    pub async fn monitor_states_by_service(
        &self,
        service_ids: &[Uuid],
    ) -> StoreResult<HashMap<Uuid, Vec<(MonitorState, i64)>>> {
        if service_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT service_id, state, COUNT(*) FROM monitors WHERE service_id IN ({}) GROUP BY service_id, state",
            crate::dialect::placeholders(self.backend(), service_ids.len(), 1)
        );
        let rows: Vec<(Uuid, String, i64)> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in service_ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        let mut out: HashMap<Uuid, Vec<(MonitorState, i64)>> = HashMap::new();
        for (sid, st, n) in rows {
            if let Some(st) = MonitorState::parse(&st) {
                out.entry(sid).or_default().push((st, n));
            }
        }
        Ok(out)
    }

    pub async fn update_monitor(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        spec: MonitorSpec,
    ) -> StoreResult<MonitorView> {
        let before = self.get_monitor(id).await?;
        if before.monitor.spec == spec {
            return Ok(before);
        }
        let b = &before.monitor;
        let reschedule = b.spec.interval_seconds != spec.interval_seconds || b.spec.settings != spec.settings;
        let next = if !reschedule {
            b.next_run_at
        } else if let Settings::Heartbeat(h) = &spec.settings {
            let since = b.last_ping_at.unwrap_or(now);
            opsdeck_core::monitor::heartbeat_deadline(&h.schedule, since, h.grace_seconds).unwrap_or(now)
        } else {
            now
        };
        let ping_token = match (spec.kind, &b.ping_token) {
            (MonitorType::Heartbeat, Some(t)) => Some(t.clone()),
            (MonitorType::Heartbeat, None) => Some(secret::generate("hb_")),
            _ => None,
        };
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE monitors SET name = $1, service_id = $2, kind = $3, interval_seconds = $4, \
                 timeout_seconds = $5, down_after = $6, up_after = $7, tags = $8, settings = $9, \
                 next_run_at = $10, ping_token = $11, updated_at = $12, lease_owner = NULL, \
                 lease_until = NULL, locations = $14, quorum = $15 WHERE id = $13",
            )
            .bind(&spec.name)
            .bind(spec.service_id)
            .bind(spec.kind.as_str())
            .bind(spec.interval_seconds)
            .bind(spec.timeout_seconds)
            .bind(spec.down_after)
            .bind(spec.up_after)
            .bind(Json(&spec.tags))
            .bind(Json(&spec.settings))
            .bind(next.timestamp_millis())
            .bind(&ping_token)
            .bind(now.timestamp_millis())
            .bind(id)
            .bind(Json(&spec.locations))
            .bind(spec.quorum)
            .execute(&mut *tx)
            .await?;
            // Results of locations it no longer runs from stop counting at once; after a change
            // of what it checks, no earlier result votes (the verdict waits for new ones).
            let target_changed = b.spec.kind != spec.kind || b.spec.settings != spec.settings;
            let keep = match spec.locations.len() {
                0 => String::new(),
                n => format!(" AND location NOT IN ({})", placeholders(self.backend(), n, 2)),
            };
            if target_changed {
                sqlx::query("DELETE FROM monitor_locations WHERE monitor_id = $1").bind(id).execute(&mut *tx).await?;
            }
            for table in ["monitor_locations", "location_results"] {
                let sql = format!("DELETE FROM {table} WHERE monitor_id = $1{keep}");
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
                for l in &spec.locations {
                    q = q.bind(l);
                }
                q.execute(&mut *tx).await?;
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("monitor.update", "monitor", Some(id), format!("Updated monitor {}", spec.name))
                    .before(b.spec.redacted())
                    .after(spec.redacted())
            );
            bump!(tx, MONITORS);
            if b.spec.service_id != spec.service_id {
                // Its past checks now count for another service.
                bump!(tx, crate::kpi::KPI_DAYS);
            }
        });
        self.get_monitor(id).await
    }

    pub async fn delete_monitor(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_monitor(id).await?;
        write_tx!(self, |tx| {
            for sql in [
                "DELETE FROM check_results WHERE monitor_id = $1",
                "DELETE FROM monitor_locations WHERE monitor_id = $1",
                "DELETE FROM location_results WHERE monitor_id = $1",
                "DELETE FROM check_rollups WHERE monitor_id = $1",
                "DELETE FROM monitor_events WHERE monitor_id = $1",
                "DELETE FROM monitors WHERE id = $1",
            ] {
                sqlx::query(sql).bind(id).execute(&mut *tx).await?;
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "monitor.delete",
                    "monitor",
                    Some(id),
                    format!("Deleted monitor {}", before.monitor.spec.name)
                )
                .before(before.monitor.spec.redacted())
            );
            bump!(tx, MONITORS);
            bump!(tx, crate::kpi::KPI_DAYS);
        });
        Ok(())
    }

    /// Gives a heartbeat monitor a new ping URL; the old one stops working at once (it may have
    /// leaked: whoever holds it can report a job's success).
    pub async fn rotate_ping_token(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<MonitorView> {
        let before = self.get_monitor(id).await?;
        if before.monitor.ping_token.is_none() {
            return Err(opsdeck_core::Error::invalid("id", "only heartbeat monitors have a ping URL").into());
        }
        write_tx!(self, |tx| {
            sqlx::query("UPDATE monitors SET ping_token = $1, updated_at = $2 WHERE id = $3")
                .bind(secret::generate("hb_"))
                .bind(now.timestamp_millis())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "monitor.rotate_ping_url",
                    "monitor",
                    Some(id),
                    format!("New ping URL for monitor {}", before.monitor.spec.name)
                )
            );
            bump!(tx, MONITORS);
        });
        self.get_monitor(id).await
    }

    /// Pauses or resumes a monitor; resuming starts over from `pending` and checks at once.
    pub async fn set_monitor_paused(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        paused: bool,
    ) -> StoreResult<Option<StateChange>> {
        let before = self.get_monitor(id).await?;
        if before.monitor.paused == paused {
            return Ok(None);
        }
        let to = if paused { MonitorState::Paused } else { MonitorState::Pending };
        let (health, transition) = before.monitor.health.set_override(to);
        let reason = if paused { format!("paused by {}", actor.label) } else { format!("resumed by {}", actor.label) };
        let ms = now.timestamp_millis();
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE monitors SET paused = $1, state = $2, state_since = $3, fail_streak = 0, ok_streak = 0, \
                         next_run_at = $3, lease_owner = NULL, lease_until = NULL, updated_at = $3 WHERE id = $4",
            )
            .bind(paused)
            .bind(health.state.as_str())
            .bind(ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if let Some(t) = transition {
                sqlx::query(
                    "INSERT INTO monitor_events (id, monitor_id, at, from_state, to_state, reason, alert_pending) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(Uuid::now_v7())
                .bind(id)
                .bind(ms)
                .bind(t.from.as_str())
                .bind(t.to.as_str())
                .bind(&reason)
                .bind(super::raises_alert(t.to, before.monitor.spec.service_id))
                .execute(&mut *tx)
                .await?;
            }
            let action = if paused { "monitor.pause" } else { "monitor.resume" };
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    action,
                    "monitor",
                    Some(id),
                    format!("{} monitor {}", if paused { "Paused" } else { "Resumed" }, before.monitor.spec.name)
                )
            );
            bump!(tx, MONITORS);
        });
        Ok(transition.map(|transition| StateChange {
            monitor_id: id,
            name: before.monitor.spec.name.clone(),
            service_id: before.monitor.spec.service_id,
            at: now,
            transition,
            reason,
        }))
    }

    /// Makes a monitor due now ("check now").
    pub async fn check_monitor_now(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        let n = with_writer!(self, |pool| {
            sqlx::query(
                "UPDATE monitors SET next_run_at = $1, lease_owner = NULL, lease_until = NULL \
                 WHERE id = $2 AND NOT paused",
            )
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if n == 0 {
            self.get_monitor(id).await?;
            return Err(StoreError::Conflict("the monitor is paused; resume it first".into()));
        }
        Ok(())
    }
}
