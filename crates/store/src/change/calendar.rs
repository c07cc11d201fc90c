//! The change calendar: maintenance and freeze windows, what conflict detection reads (changes
//! and windows overlapping a time, the CIs around a change's CIs), the changes of a period, and
//! the changes on an incident's CIs.

use super::{CHANGE_SELECT, Change, ChangeRow};
use crate::audit::audit;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::change::conflict::{Planned, Window, WindowKind};
use opsdeck_core::change::spec::WindowSpec;
use opsdeck_core::clock::from_millis;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// States whose planned window others are checked against.
const BOOKED: &str = "('authorize', 'scheduled', 'implement')";

/// A stored calendar window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalendarWindow {
    pub id: Uuid,
    pub name: String,
    pub kind: WindowKind,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub description: String,
    /// Empty: every CI.
    pub ci_ids: Vec<Uuid>,
    /// A recurring window repeats at each occurrence of this RRULE, in `timezone`; `starts_at`
    /// and `ends_at` are its first occurrence.
    pub rrule: Option<String>,
    pub timezone: String,
}

/// Occurrences of one recurring window read for one question, at most.
const OCCURRENCES_MAX: usize = 400;

impl CalendarWindow {
    fn spec(&self) -> WindowSpec {
        WindowSpec {
            name: self.name.clone(),
            kind: self.kind,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            ci_ids: Vec::new(),
            description: String::new(),
            rrule: self.rrule.clone(),
            timezone: self.timezone.clone(),
        }
    }

    /// Its occurrences overlapping `[from, to)`, each as a window of its own (same id).
    pub fn occurrences(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<CalendarWindow> {
        self.spec()
            .occurrences(from, to, OCCURRENCES_MAX)
            .into_iter()
            .map(|(s, e)| CalendarWindow { starts_at: s, ends_at: e, ..self.clone() })
            .collect()
    }

    /// What conflict detection reads: one rule per occurrence overlapping `[from, to)`.
    pub fn rules(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Window> {
        self.occurrences(from, to)
            .into_iter()
            .map(|o| Window {
                id: o.id,
                name: o.name,
                kind: o.kind,
                start: o.starts_at.timestamp_millis(),
                end: o.ends_at.timestamp_millis(),
                ci_ids: o.ci_ids,
            })
            .collect()
    }
}

type WindowRow = (Uuid, String, String, i64, i64, String, Option<String>, String, Option<Uuid>);

fn windows(rows: Vec<WindowRow>) -> Vec<CalendarWindow> {
    let mut out: Vec<CalendarWindow> = Vec::new();
    for (id, name, kind, s, e, description, rrule, timezone, ci) in rows {
        if out.last().is_none_or(|w| w.id != id) {
            out.push(CalendarWindow {
                id,
                name,
                kind: WindowKind::parse(&kind).unwrap_or(WindowKind::Maintenance),
                starts_at: from_millis(s),
                ends_at: from_millis(e),
                description,
                ci_ids: Vec::new(),
                rrule,
                timezone,
            });
        }
        if let (Some(ci), Some(w)) = (ci, out.last_mut()) {
            w.ci_ids.push(ci);
        }
    }
    out
}

const WINDOW_SELECT: &str = "SELECT w.id, w.name, w.kind, w.starts_at, w.ends_at, w.description, w.rrule, \
     w.timezone, x.ci_id \
     FROM change_windows w LEFT JOIN change_window_cis x ON x.window_id = w.id";

impl Db {
    /// Creates a window (`id` None) or replaces one.
    pub async fn save_change_window(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Option<Uuid>,
        spec: &WindowSpec,
    ) -> StoreResult<CalendarWindow> {
        let (wid, backend, at) = (id.unwrap_or_else(Uuid::now_v7), self.backend(), now.timestamp_millis());
        write_tx!(self, |tx| {
            let sql = if id.is_some() {
                "UPDATE change_windows SET name = $2, kind = $3, starts_at = $4, ends_at = $5, description = $6, \
                 updated_at = $7, rrule = $8, timezone = $9 WHERE id = $1"
            } else {
                "INSERT INTO change_windows (id, name, kind, starts_at, ends_at, description, created_at, updated_at, \
                 rrule, timezone) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)"
            };
            let done = sqlx::query(sql)
                .bind(wid)
                .bind(&spec.name)
                .bind(spec.kind.as_str())
                .bind(spec.starts_at.timestamp_millis())
                .bind(spec.ends_at.timestamp_millis())
                .bind(&spec.description)
                .bind(at)
                .bind(&spec.rrule)
                .bind(&spec.timezone)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::ChangeWindow));
            }
            sqlx::query("DELETE FROM change_window_cis WHERE window_id = $1").bind(wid).execute(&mut *tx).await?;
            for chunk in spec.ci_ids.chunks(100) {
                let head = "INSERT INTO change_window_cis (window_id, ci_id) VALUES ";
                let sql = crate::dialect::multi_row(backend, head, 2, chunk.len(), "");
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for ci in chunk {
                    q = q.bind(wid).bind(*ci);
                }
                q.execute(&mut *tx).await?;
            }
            let (action, verb) =
                if id.is_some() { ("change_window.update", "Updated") } else { ("change_window.create", "Created") };
            let summary = format!("{verb} {} window {}", spec.kind.as_str(), spec.name);
            audit!(tx, actor, now, AuditRecord::new(action, "change_window", Some(wid), summary).after(spec));
        });
        self.get_change_window(wid).await
    }

    pub async fn get_change_window(&self, id: Uuid) -> StoreResult<CalendarWindow> {
        let rows: Vec<WindowRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{WINDOW_SELECT} WHERE w.id = $1")))
                .bind(id)
                .fetch_all(pool)
                .await?
        });
        windows(rows).pop().ok_or(StoreError::NotFound(Entity::ChangeWindow))
    }

    pub async fn delete_change_window(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_change_window(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM change_windows WHERE id = $1").bind(id).execute(&mut *tx).await?;
            let summary = format!("Deleted {} window {}", before.kind.as_str(), before.name);
            let record = AuditRecord::new("change_window.delete", "change_window", Some(id), summary).before(&before);
            audit!(tx, actor, now, record);
        });
        Ok(())
    }

    /// Windows that may overlap `[from, to)`, by start: those that do, and the recurring ones
    /// begun before `to` (their occurrences are [`CalendarWindow::occurrences`]).
    pub async fn change_windows_between(&self, from: i64, to: i64) -> StoreResult<Vec<CalendarWindow>> {
        let rows: Vec<WindowRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{WINDOW_SELECT} WHERE w.starts_at < $2 AND (w.ends_at > $1 OR w.rrule IS NOT NULL) \
                 ORDER BY w.starts_at, w.id"
            )))
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?
        });
        Ok(windows(rows))
    }

    /// Other changes booked (authorising, scheduled or implementing) overlapping `[from, to)` that
    /// touch one of `cis` or share `implementer`, with all their CIs: the only ones a change on
    /// `cis` (its own CIs and their neighbours) can collide with. Reading just these keeps a
    /// change on 500 CIs from loading every booked change of a busy month.
    pub async fn booked_changes(
        &self,
        from: i64,
        to: i64,
        cis: &[Uuid],
        implementer: Option<Uuid>,
    ) -> StoreResult<Vec<Planned>> {
        type Row = (Uuid, i64, i64, i64, Option<Uuid>, Option<Uuid>);
        let backend = self.backend();
        let nil = [Uuid::nil()];
        let chunks: Vec<&[Uuid]> = if cis.is_empty() { vec![&nil] } else { cis.chunks(500).collect() };
        let mut rows: Vec<Row> = Vec::new();
        for chunk in chunks {
            let sql = format!(
                "SELECT c.id, c.number, c.planned_start, c.planned_end, c.implementer_id, x.ci_id FROM changes c \
                 LEFT JOIN change_cis x ON x.change_id = c.id WHERE c.state IN {BOOKED} \
                 AND c.planned_start < $2 AND c.planned_end > $1 AND (c.implementer_id = $3 \
                 OR c.id IN (SELECT change_id FROM change_cis WHERE ci_id IN ({})))",
                crate::dialect::placeholders(backend, chunk.len(), 4)
            );
            let found: Vec<Row> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(from).bind(to).bind(implementer);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            rows.extend(found);
        }
        // One row per (change, CI); a change found by two chunks comes twice.
        rows.sort_unstable_by_key(|r| (r.0, r.5));
        rows.dedup_by_key(|r| (r.0, r.5));
        let mut out: Vec<Planned> = Vec::new();
        for (id, number, start, end, implementer, ci) in rows {
            if out.last().is_none_or(|p| p.id != id) {
                out.push(Planned { id, number: format!("CHG-{number}"), start, end, ci_ids: Vec::new(), implementer });
            }
            if let (Some(ci), Some(p)) = (ci, out.last_mut()) {
                p.ci_ids.push(ci);
            }
        }
        Ok(out)
    }

    /// Each of `cis`' parents and children (one relation away).
    pub async fn ci_neighbours(&self, cis: &[Uuid]) -> StoreResult<HashMap<Uuid, Vec<Uuid>>> {
        let backend = self.backend();
        let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for chunk in cis.chunks(256) {
            let list = crate::dialect::placeholders(backend, chunk.len(), 1);
            let sql = format!(
                "SELECT source_id, target_id FROM ci_relations WHERE source_id IN ({list}) \
                 UNION SELECT source_id, target_id FROM ci_relations WHERE target_id IN ({list})"
            );
            let rows: Vec<(Uuid, Uuid)> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            for (s, t) in rows {
                out.entry(s).or_default().push(t);
                out.entry(t).or_default().push(s);
            }
        }
        Ok(out)
    }

    /// Which of `cis` have a maintenance window that has not ended by `now` (or recurs): they
    /// change only inside one.
    pub async fn constrained_cis(&self, cis: &[Uuid], now: i64) -> StoreResult<HashSet<Uuid>> {
        let backend = self.backend();
        let mut out = HashSet::new();
        for chunk in cis.chunks(256) {
            let sql = format!(
                "SELECT DISTINCT x.ci_id FROM change_window_cis x JOIN change_windows w ON w.id = x.window_id \
                 WHERE w.kind = 'maintenance' AND (w.ends_at > $1 OR w.rrule IS NOT NULL) AND x.ci_id IN ({})",
                crate::dialect::placeholders(backend, chunk.len(), 2)
            );
            let rows: Vec<Uuid> = with_db!(self, |pool| {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(now);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// Changes planned or carried out overlapping `[from, to)` (canceled ones left out), by
    /// start, at most `limit`.
    pub async fn changes_between(&self, from: i64, to: i64, limit: i64) -> StoreResult<Vec<Change>> {
        let sql = format!(
            "{CHANGE_SELECT} WHERE c.state <> 'canceled' \
             AND COALESCE(c.actual_start, c.planned_start) < $2 \
             AND COALESCE(c.actual_end, c.planned_end, c.actual_start, c.planned_start) >= $1 \
             ORDER BY COALESCE(c.actual_start, c.planned_start), c.number LIMIT {}",
            limit.clamp(1, 5000)
        );
        let rows: Vec<ChangeRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(from).bind(to).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(Change::from).collect())
    }

    /// Changes on any of `cis` (or on any of `services`) that started, or were to start, in
    /// `[from, to]`, newest first: what changed before an incident.
    pub async fn changes_on(&self, cis: &[Uuid], services: &[Uuid], from: i64, to: i64) -> StoreResult<Vec<Change>> {
        if cis.is_empty() && services.is_empty() {
            return Ok(Vec::new());
        }
        // An incident's CIs and services are few; the cap keeps the statement bounded.
        let (cis, services) = (&cis[..cis.len().min(500)], &services[..services.len().min(100)]);
        let backend = self.backend();
        let ci_list = crate::dialect::placeholders(backend, cis.len().max(1), 3);
        let svc_list = crate::dialect::placeholders(backend, services.len().max(1), 3 + cis.len().max(1));
        let sql = format!(
            "{CHANGE_SELECT} WHERE c.state NOT IN ('canceled', 'new', 'assess') \
             AND COALESCE(c.actual_start, c.planned_start) BETWEEN $1 AND $2 \
             AND (c.id IN (SELECT change_id FROM change_cis WHERE ci_id IN ({ci_list})) \
             OR c.id IN (SELECT change_id FROM change_services WHERE service_id IN ({svc_list}))) \
             ORDER BY COALESCE(c.actual_start, c.planned_start) DESC LIMIT 50"
        );
        let nil = Uuid::nil();
        let rows: Vec<ChangeRow> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(from).bind(to);
            for id in cis.iter().chain(cis.is_empty().then_some(&nil)) {
                q = q.bind(*id);
            }
            for id in services.iter().chain(services.is_empty().then_some(&nil)) {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(Change::from).collect())
    }
}
