//! Problems (`PRB-n`) with their linked incidents and tickets, and the known-error search.

use crate::audit::audit;
use crate::page::{self, Cursor, Page};
use crate::{Backend, Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::desk::problem::{ProblemSpec, ProblemState};
use serde::Serialize;
use uuid::Uuid;

/// A stored problem with its links.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub id: Uuid,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub root_cause: String,
    pub workaround: String,
    pub state: ProblemState,
    pub fix_change_id: Option<Uuid>,
    pub incident_ids: Vec<Uuid>,
    pub ticket_ids: Vec<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl Problem {
    /// `PRB-12`.
    pub fn key(&self) -> String {
        format!("PRB-{}", self.number)
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    number: i64,
    title: String,
    description: String,
    root_cause: String,
    workaround: String,
    state: String,
    fix_change_id: Option<Uuid>,
    version: i64,
    created_at: i64,
    updated_at: i64,
    resolved_at: Option<i64>,
}

impl From<Row> for Problem {
    fn from(r: Row) -> Self {
        Problem {
            id: r.id,
            number: r.number,
            title: r.title,
            description: r.description,
            root_cause: r.root_cause,
            workaround: r.workaround,
            state: ProblemState::parse(&r.state).unwrap_or(ProblemState::Open),
            fix_change_id: r.fix_change_id,
            incident_ids: Vec::new(),
            ticket_ids: Vec::new(),
            version: r.version,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
            resolved_at: r.resolved_at.map(from_millis),
        }
    }
}

const COLUMNS: &str = "p.id, p.number, p.title, p.description, p.root_cause, p.workaround, p.state, p.fix_change_id, \
                       p.version, p.created_at, p.updated_at, p.resolved_at";

/// Filters of the problem list.
#[derive(Debug, Clone, Default)]
pub struct ProblemFilter {
    pub states: Vec<ProblemState>,
    /// Words the title, root cause or workaround hold (all of them; the last as a prefix).
    pub words: Vec<String>,
    pub incident_id: Option<Uuid>,
    pub cursor: Option<Cursor>,
    pub limit: Option<i64>,
}

/// Replaces a problem's links inside a write transaction (each backend's transaction type
/// differs, so this is a macro like `write_tx!`).
macro_rules! write_links {
    ($tx:ident, $id:expr, $spec:expr) => {
        sqlx::query("DELETE FROM problem_incidents WHERE problem_id = $1").bind($id).execute(&mut *$tx).await?;
        sqlx::query("DELETE FROM problem_tickets WHERE problem_id = $1").bind($id).execute(&mut *$tx).await?;
        for i in &$spec.incident_ids {
            sqlx::query("INSERT INTO problem_incidents (problem_id, incident_id) VALUES ($1, $2)")
                .bind($id)
                .bind(i)
                .execute(&mut *$tx)
                .await?;
        }
        for t in &$spec.ticket_ids {
            sqlx::query("INSERT INTO problem_tickets (problem_id, ticket_id) VALUES ($1, $2)")
                .bind($id)
                .bind(t)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

/// The full-text condition on `p` for `words` and its argument (all words, the last a prefix).
fn search_condition(backend: Backend, words: &[String]) -> (String, String) {
    // Words hold letters and digits only (`kb::query_words`), so no query syntax is injected.
    let last = words.len().saturating_sub(1);
    match backend {
        Backend::Sqlite => (
            "p.number IN (SELECT rowid FROM problems_fts WHERE problems_fts MATCH $4)".to_owned(),
            words
                .iter()
                .enumerate()
                .map(|(i, w)| if i == last { format!("\"{w}\"*") } else { format!("\"{w}\"") })
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
        Backend::Postgres => (
            "p.search_vector @@ to_tsquery('english', $4)".to_owned(),
            words
                .iter()
                .enumerate()
                .map(|(i, w)| if i == last { format!("{w}:*") } else { w.clone() })
                .collect::<Vec<_>>()
                .join(" & "),
        ),
    }
}

impl Db {
    /// The ids among `ids` that are not rows of `table` (`incidents`, `tickets` or `changes`).
    pub async fn missing_ids(&self, table: &'static str, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        let mut found = std::collections::HashSet::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT id FROM {table} WHERE id IN ({})",
                crate::dialect::placeholders(self.backend(), chunk.len(), 1)
            );
            let rows: Vec<Uuid> = with_db!(self, |pool| {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            found.extend(rows);
        }
        Ok(ids.iter().copied().filter(|i| !found.contains(i)).collect())
    }

    pub async fn create_problem(&self, actor: &Actor, now: DateTime<Utc>, spec: &ProblemSpec) -> StoreResult<Problem> {
        let (id, at) = (Uuid::now_v7(), now.timestamp_millis());
        write_tx!(self, |tx| {
            let number: i64 = sqlx::query_scalar(
                "UPDATE revisions SET value = value + 1 WHERE name = 'problem_number' RETURNING value",
            )
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO problems (id, number, title, description, root_cause, workaround, state, fix_change_id, \
                 version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, 1, $8, $8)",
            )
            .bind(id)
            .bind(number)
            .bind(&spec.title)
            .bind(&spec.description)
            .bind(&spec.root_cause)
            .bind(&spec.workaround)
            .bind(spec.fix_change_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            write_links!(tx, id, spec);
            let summary = format!("Opened PRB-{number} {}", spec.title);
            audit!(tx, actor, now, AuditRecord::new("problem.create", "problem", Some(id), summary).after(spec));
        });
        self.get_problem(id).await
    }

    /// Saves `spec` over the problem at `version` (a stale version is a conflict).
    pub async fn update_problem(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Problem,
        version: i64,
        spec: &ProblemSpec,
    ) -> StoreResult<Problem> {
        let id = before.id;
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE problems SET title = $1, description = $2, root_cause = $3, workaround = $4, \
                 fix_change_id = $5, version = version + 1, updated_at = $6 WHERE id = $7 AND version = $8",
            )
            .bind(&spec.title)
            .bind(&spec.description)
            .bind(&spec.root_cause)
            .bind(&spec.workaround)
            .bind(spec.fix_change_id)
            .bind(now.timestamp_millis())
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "{} was changed by someone else since you loaded it; reload it",
                    before.key()
                )));
            }
            write_links!(tx, id, spec);
            let summary = format!("Edited {} {}", before.key(), spec.title);
            audit!(tx, actor, now, AuditRecord::new("problem.update", "problem", Some(id), summary).after(spec));
        });
        self.get_problem(id).await
    }

    /// Moves a problem at its version to `to`.
    pub async fn move_problem(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Problem,
        to: ProblemState,
    ) -> StoreResult<Problem> {
        let at = now.timestamp_millis();
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE problems SET state = $1, version = version + 1, updated_at = $2, \
                 resolved_at = CASE WHEN $1 = 'resolved' THEN $2 WHEN $1 = 'closed' THEN resolved_at ELSE NULL END \
                 WHERE id = $3 AND version = $4",
            )
            .bind(to.as_str())
            .bind(at)
            .bind(before.id)
            .bind(before.version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "{} was changed by someone else since you loaded it; reload it",
                    before.key()
                )));
            }
            let summary = format!("{} {} → {}", before.key(), before.state.as_str(), to.as_str());
            audit!(tx, actor, now, AuditRecord::new("problem.move", "problem", Some(before.id), summary));
        });
        self.get_problem(before.id).await
    }

    pub async fn get_problem(&self, id: Uuid) -> StoreResult<Problem> {
        let sql = format!("SELECT {COLUMNS} FROM problems p WHERE p.id = $1");
        let row: Option<Row> = with_db!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id)
            .fetch_optional(pool)
            .await?);
        let mut p = row.map(Problem::from).ok_or(StoreError::NotFound(Entity::Problem))?;
        self.fill_links(std::slice::from_mut(&mut p)).await?;
        Ok(p)
    }

    pub async fn problem_by_number(&self, number: i64) -> StoreResult<Problem> {
        let id: Option<Uuid> = with_db!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM problems WHERE number = $1").bind(number).fetch_optional(pool).await?
        });
        self.get_problem(id.ok_or(StoreError::NotFound(Entity::Problem))?).await
    }

    /// Problems newest first, a page at a time.
    pub async fn problems(&self, f: &ProblemFilter) -> StoreResult<Page<Problem>> {
        let limit = page::clamp_limit(f.limit);
        let before = f.cursor.as_ref().and_then(|c| c.key.parse::<i64>().ok()).unwrap_or(i64::MAX);
        let states = if f.states.is_empty() {
            "TRUE".to_owned()
        } else {
            // Fixed words from ProblemState, never user text.
            let list: Vec<String> = f.states.iter().map(|s| format!("'{}'", s.as_str())).collect();
            format!("p.state IN ({})", list.join(", "))
        };
        let (words, arg) = if f.words.is_empty() {
            ("TRUE".to_owned(), None)
        } else {
            let (c, a) = search_condition(self.backend(), &f.words);
            (c, Some(a))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM problems p WHERE p.number < $1 AND {states} AND {words} AND ($2 IS NULL OR \
             p.id IN (SELECT problem_id FROM problem_incidents WHERE incident_id = $2)) ORDER BY p.number DESC LIMIT $3"
        );
        let rows: Vec<Row> = with_db!(self, |pool| {
            let mut q =
                sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(before).bind(f.incident_id).bind(limit + 1);
            if let Some(arg) = &arg {
                q = q.bind(arg.clone());
            }
            q.fetch_all(pool).await?
        });
        let mut page = page::finish(rows, limit, |r| Cursor { key: r.number.to_string(), id: r.id }).map(Problem::from);
        self.fill_links(&mut page.items).await?;
        Ok(page)
    }

    /// The open problems whose fix is `change_id`.
    pub async fn problems_fixed_by(&self, change_id: Uuid) -> StoreResult<Vec<Problem>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM problems p WHERE p.fix_change_id = $1 AND p.state IN ('open', 'known_error') \
             ORDER BY p.number LIMIT 100"
        );
        let rows: Vec<Row> = with_db!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(change_id)
            .fetch_all(pool)
            .await?);
        let mut out: Vec<Problem> = rows.into_iter().map(Problem::from).collect();
        self.fill_links(&mut out).await?;
        Ok(out)
    }

    async fn fill_links(&self, problems: &mut [Problem]) -> StoreResult<()> {
        if problems.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = problems.iter().map(|p| p.id).collect();
        for (table, column) in [("problem_incidents", "incident_id"), ("problem_tickets", "ticket_id")] {
            let sql = format!(
                "SELECT problem_id, {column} FROM {table} WHERE problem_id IN ({}) ORDER BY problem_id, {column}",
                crate::dialect::placeholders(self.backend(), ids.len(), 1)
            );
            let rows: Vec<(Uuid, Uuid)> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in &ids {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            for (pid, other) in rows {
                if let Some(p) = problems.iter_mut().find(|p| p.id == pid) {
                    if column == "incident_id" { p.incident_ids.push(other) } else { p.ticket_ids.push(other) }
                }
            }
        }
        Ok(())
    }
}
