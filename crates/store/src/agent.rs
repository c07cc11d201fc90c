//! Probe agents (registered with a token, revoked by deletion), the monitors each location
//! runs, and the results locations report: every result for a day, the newest per location
//! for the verdict.

use crate::audit::{audit, bump};
use crate::dialect::{fixed_chunks, multi_row, placeholders};
use crate::error::unique;
use crate::monitor::MONITORS;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Duration, Utc};
use opsdeck_core::Entity;
use opsdeck_core::agent::{AgentSpec, LocationVote, RESULT_MAX_AGE_HOURS};
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::monitor::{CheckStatus, MonitorType, Settings};
use sqlx::types::Json;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// A registered agent, without its token.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Agent {
    pub id: Uuid,
    pub name: String,
    pub location: String,
    /// The token's first characters, to tell tokens apart.
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub version: Option<String>,
    /// How old the oldest result of its last upload was when it arrived.
    pub lag_ms: Option<i64>,
    pub results_total: i64,
    /// Results it could not deliver: dropped from a full buffer, or too old when they came.
    pub dropped_total: i64,
}

#[derive(sqlx::FromRow)]
struct AgentRow {
    id: Uuid,
    name: String,
    location: String,
    hint: String,
    created_at: i64,
    last_seen_at: Option<i64>,
    version: Option<String>,
    lag_ms: Option<i64>,
    results_total: i64,
    dropped_total: i64,
}

impl From<AgentRow> for Agent {
    fn from(r: AgentRow) -> Self {
        Agent {
            id: r.id,
            name: r.name,
            location: r.location,
            hint: r.hint,
            created_at: from_millis(r.created_at),
            last_seen_at: r.last_seen_at.map(from_millis),
            version: r.version,
            lag_ms: r.lag_ms,
            results_total: r.results_total,
            dropped_total: r.dropped_total,
        }
    }
}

const AGENT_COLS: &str =
    "id, name, location, hint, created_at, last_seen_at, version, lag_ms, results_total, dropped_total";

/// A monitor an agent runs, with its settings in clear (the agent needs them to check).
#[derive(Debug, Clone)]
pub struct Assignment {
    pub id: Uuid,
    pub name: String,
    pub kind: MonitorType,
    pub interval_seconds: i32,
    pub timeout_seconds: i32,
    pub settings: Settings,
}

/// One result a location reports.
#[derive(Debug, Clone)]
pub struct LocationResult {
    pub monitor_id: Uuid,
    pub at: DateTime<Utc>,
    pub status: CheckStatus,
    pub latency_ms: Option<f64>,
    pub reason: String,
}

/// What became of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recorded {
    pub accepted: usize,
    /// For monitors that do not run from the location (any more), or too old to keep.
    pub ignored: usize,
}

/// One location's share of a monitor's results over a span.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationStats {
    pub location: String,
    pub checks: i64,
    pub ok: i64,
    pub latency_avg_ms: Option<f64>,
}

impl Db {
    pub async fn create_agent(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        spec: &AgentSpec,
        token_hash: &str,
        hint: &str,
    ) -> StoreResult<Agent> {
        let agent = Agent {
            id: Uuid::now_v7(),
            name: spec.name.clone(),
            location: spec.location.clone(),
            hint: hint.to_owned(),
            created_at: now,
            last_seen_at: None,
            version: None,
            lag_ms: None,
            results_total: 0,
            dropped_total: 0,
        };
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO agents (id, name, location, token_hash, hint, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(agent.id)
            .bind(&agent.name)
            .bind(&agent.location)
            .bind(token_hash)
            .bind(hint)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(unique("an agent with this name already exists; choose another name"))?;
            let summary = format!("Registered agent {} for location {}", agent.name, agent.location);
            audit!(tx, actor, now, AuditRecord::new("agent.create", "agent", Some(agent.id), summary).after(&agent));
        });
        Ok(agent)
    }

    /// Every agent by name (an installation has a handful; at most 1,000 are listed).
    pub async fn list_agents(&self) -> StoreResult<Vec<Agent>> {
        let rows: Vec<AgentRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {AGENT_COLS} FROM agents ORDER BY name LIMIT 1000")))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Agent::from).collect())
    }

    pub async fn get_agent(&self, id: Uuid) -> StoreResult<Agent> {
        let row: Option<AgentRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {AGENT_COLS} FROM agents WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Agent::from).ok_or(StoreError::NotFound(Entity::Agent))
    }

    /// The agent a token belongs to; a deleted (revoked) agent's token finds nothing.
    pub async fn agent_by_token(&self, token_hash: &str) -> StoreResult<Option<Agent>> {
        let row: Option<AgentRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {AGENT_COLS} FROM agents WHERE token_hash = $1")))
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Agent::from))
    }

    /// Revokes an agent: its token stops working with the next request. The results it
    /// reported stay.
    pub async fn delete_agent(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_agent(id).await?;
        write_tx!(self, |tx| {
            let gone = sqlx::query("DELETE FROM agents WHERE id = $1").bind(id).execute(&mut *tx).await?;
            if gone.rows_affected() == 0 {
                // Revoked meanwhile by someone else: nothing to audit.
                return Err(StoreError::NotFound(Entity::Agent));
            }
            let summary = format!("Revoked agent {}", before.name);
            audit!(tx, actor, now, AuditRecord::new("agent.revoke", "agent", Some(id), summary).before(&before));
        });
        Ok(())
    }

    /// Notes that an agent was in touch (it asked for its monitors).
    pub async fn agent_seen(&self, id: Uuid, now: DateTime<Utc>, version: Option<&str>) -> StoreResult<()> {
        crate::with_writer!(self, |pool| {
            sqlx::query("UPDATE agents SET last_seen_at = $1, version = COALESCE($2, version) WHERE id = $3")
                .bind(now.timestamp_millis())
                .bind(version)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The monitors a location runs: not paused, listing the location. At most 10,000.
    pub async fn location_assignments(&self, location: &str) -> StoreResult<Vec<Assignment>> {
        let backend = self.backend();
        type Row = (Uuid, String, String, i32, i32, Json<Settings>);
        let sql = format!(
            "SELECT id, name, kind, interval_seconds, timeout_seconds, settings FROM monitors \
             WHERE NOT paused AND {} ORDER BY id LIMIT 10000",
            crate::dialect::lists_location(backend, "locations", 1)
        );
        let rows: Vec<Row> =
            with_db!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(location).fetch_all(pool).await?);
        rows.into_iter()
            .map(|(id, name, kind, interval_seconds, timeout_seconds, settings)| {
                Ok(Assignment {
                    id,
                    name,
                    kind: kind.parse()?,
                    interval_seconds,
                    timeout_seconds,
                    settings: settings.0,
                })
            })
            .collect()
    }

    /// Stores what `location` reported, in one transaction: every result (for a day), the
    /// newest per monitor (the verdict reads it), and, for an agent, when it was last seen,
    /// its version, lag and counts. Results of monitors that do not run from the location, or
    /// older than a day, are ignored and counted as dropped.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_location_results(
        &self,
        agent: Option<Uuid>,
        location: &str,
        results: &[LocationResult],
        now: DateTime<Utc>,
        version: Option<&str>,
        dropped: i64,
    ) -> StoreResult<Recorded> {
        let backend = self.backend();
        let oldest_kept = now - Duration::hours(RESULT_MAX_AGE_HOURS);
        let ids: Vec<Uuid> = results.iter().map(|r| r.monitor_id).collect::<HashSet<_>>().into_iter().collect();
        let out = write_tx!(self, |tx| {
            let mut runs_here: HashSet<Uuid> = HashSet::new();
            for chunk in fixed_chunks(&ids) {
                let sql = format!(
                    "SELECT id FROM monitors WHERE id IN ({}) AND {}",
                    placeholders(backend, chunk.len(), 2),
                    crate::dialect::lists_location(backend, "locations", 1)
                );
                let mut q = sqlx::query_scalar::<_, Uuid>(sqlx::AssertSqlSafe(sql)).bind(location);
                for id in chunk {
                    q = q.bind(*id);
                }
                runs_here.extend(q.fetch_all(&mut *tx).await?);
            }
            let kept: Vec<&LocationResult> =
                results.iter().filter(|r| runs_here.contains(&r.monitor_id) && r.at >= oldest_kept).collect();
            let out = Recorded { accepted: kept.len(), ignored: results.len() - kept.len() };
            for chunk in fixed_chunks(&kept) {
                let sql = multi_row(
                    backend,
                    "INSERT INTO location_results (monitor_id, location, at, status, latency_ms) VALUES ",
                    5,
                    chunk.len(),
                    " ON CONFLICT (monitor_id, location, at) DO NOTHING",
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for r in chunk {
                    q = q
                        .bind(r.monitor_id)
                        .bind(location)
                        .bind(r.at.timestamp_millis())
                        .bind(r.status.as_str())
                        .bind(r.latency_ms);
                }
                q.execute(&mut *tx).await?;
            }
            let mut newest: HashMap<Uuid, &LocationResult> = HashMap::new();
            for r in &kept {
                let e = newest.entry(r.monitor_id).or_insert(r);
                if r.at > e.at {
                    *e = r;
                }
            }
            // In key order: two agents of one location lock the same rows in the same order.
            let mut newest: Vec<&LocationResult> = newest.into_values().collect();
            newest.sort_by_key(|r| r.monitor_id);
            for chunk in fixed_chunks(&newest) {
                // A replayed buffer may bring results older than one stored: the newest stays.
                let sql = multi_row(
                    backend,
                    "INSERT INTO monitor_locations (monitor_id, location, at, status, latency_ms, reason) VALUES ",
                    6,
                    chunk.len(),
                    " ON CONFLICT (monitor_id, location) DO UPDATE SET at = excluded.at, status = excluded.status, \
                     latency_ms = excluded.latency_ms, reason = excluded.reason \
                     WHERE excluded.at > monitor_locations.at",
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for r in chunk {
                    q = q
                        .bind(r.monitor_id)
                        .bind(location)
                        .bind(r.at.timestamp_millis())
                        .bind(r.status.as_str())
                        .bind(r.latency_ms)
                        .bind(&r.reason);
                }
                q.execute(&mut *tx).await?;
                // A day of results per location: what the uptime column reads.
                let sql = format!(
                    "DELETE FROM location_results WHERE location = $1 AND at < $2 AND monitor_id IN ({})",
                    placeholders(backend, chunk.len(), 3)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(location).bind(oldest_kept.timestamp_millis());
                for r in chunk {
                    q = q.bind(r.monitor_id);
                }
                q.execute(&mut *tx).await?;
            }
            if let Some(agent) = agent {
                let lag = kept.iter().map(|r| (now - r.at).num_milliseconds().max(0)).max();
                let too_old = results.iter().filter(|r| r.at < oldest_kept).count() as i64;
                sqlx::query(
                    "UPDATE agents SET last_seen_at = $1, version = COALESCE($2, version), \
                     lag_ms = COALESCE($3, lag_ms), results_total = results_total + $4, \
                     dropped_total = dropped_total + $5 WHERE id = $6",
                )
                .bind(now.timestamp_millis())
                .bind(version)
                .bind(lag)
                .bind(out.accepted as i64)
                .bind(dropped.saturating_add(too_old))
                .bind(agent)
                .execute(&mut *tx)
                .await?;
            }
            if !newest.is_empty() {
                bump!(tx, MONITORS);
            }
            out
        });
        Ok(out)
    }

    /// The newest result of each location a monitor runs from.
    pub async fn location_votes(&self, monitor_id: Uuid) -> StoreResult<Vec<LocationVote>> {
        Ok(self.location_votes_of(&[monitor_id]).await?.remove(&monitor_id).unwrap_or_default())
    }

    /// [`Db::location_votes`] of many monitors (a list page), by monitor.
    pub async fn location_votes_of(&self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, Vec<LocationVote>>> {
        type Row = (Uuid, String, i64, String, Option<f64>, String);
        let backend = self.backend();
        let mut out: HashMap<Uuid, Vec<LocationVote>> = HashMap::new();
        for chunk in fixed_chunks(ids) {
            let sql = format!(
                "SELECT monitor_id, location, at, status, latency_ms, reason FROM monitor_locations \
                 WHERE monitor_id IN ({}) ORDER BY location",
                placeholders(backend, chunk.len(), 1)
            );
            let rows: Vec<Row> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            for (id, location, at, status, latency_ms, reason) in rows {
                let vote = LocationVote {
                    location,
                    at: from_millis(at),
                    status: CheckStatus::parse(&status),
                    latency_ms,
                    reason,
                };
                out.entry(id).or_default().push(vote);
            }
        }
        Ok(out)
    }

    /// Per location: checks, passes and mean latency since `since`.
    pub async fn location_stats(&self, monitor_id: Uuid, since: DateTime<Utc>) -> StoreResult<Vec<LocationStats>> {
        type Row = (String, i64, i64, Option<f64>);
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT location, COUNT(*), \
                 COALESCE(SUM(CASE WHEN status IN ('up', 'degraded') THEN 1 ELSE 0 END), 0), \
                 AVG(latency_ms) FROM location_results WHERE monitor_id = $1 AND at >= $2 \
                 GROUP BY location ORDER BY location",
            )
            .bind(monitor_id)
            .bind(since.timestamp_millis())
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(location, checks, ok, latency_avg_ms)| LocationStats { location, checks, ok, latency_avg_ms })
            .collect())
    }

    /// A location's results of a monitor since `since`, oldest first (at most 100,000).
    pub async fn location_results(
        &self,
        monitor_id: Uuid,
        location: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(DateTime<Utc>, CheckStatus)>> {
        let rows: Vec<(i64, String)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT at, status FROM location_results WHERE monitor_id = $1 AND location = $2 AND at >= $3 \
                 ORDER BY at LIMIT 100000",
            )
            .bind(monitor_id)
            .bind(location)
            .bind(since.timestamp_millis())
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(at, s)| (from_millis(at), CheckStatus::parse(&s))).collect())
    }
}
