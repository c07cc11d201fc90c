//! Change requests: their fields, CIs and services, and the moves of their state. The rules
//! (which move is allowed, who approves, the risk, the conflicts) are `opsdeck_core::change`'s;
//! this records what they decided. Every write checks the change's `version`, so an edit or move
//! made on a stale copy is refused instead of overwriting someone else's.

pub mod approvals;
pub mod calendar;
mod facts;
pub mod lockdown;
pub mod templates;

use crate::audit::audit;
use crate::page::{self, Cursor, Page};
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::change::risk::{Risk, RiskLevel};
use opsdeck_core::change::spec::ChangeSpec;
use opsdeck_core::change::{Action, ChangeState, ChangeType, CloseCode};
use opsdeck_core::clock::from_millis;
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub id: Uuid,
    pub number: i64,
    pub title: String,
    pub kind: ChangeType,
    pub state: ChangeState,
    pub description: String,
    pub planned_start: Option<DateTime<Utc>>,
    pub planned_end: Option<DateTime<Utc>>,
    pub actual_start: Option<DateTime<Utc>>,
    pub actual_end: Option<DateTime<Utc>>,
    pub implementation_plan: String,
    pub test_plan: String,
    pub backout_plan: String,
    pub outage_expected: bool,
    pub assignee_id: Option<Uuid>,
    pub assignee: Option<String>,
    pub implementer_id: Option<Uuid>,
    pub implementer: Option<String>,
    pub answers: BTreeMap<String, String>,
    pub risk: Risk,
    pub close_code: Option<CloseCode>,
    pub close_notes: String,
    pub caused_incident_id: Option<Uuid>,
    pub maintenance_window_id: Option<Uuid>,
    /// `manual`, `deploy` (the deploy webhook) or `pagerduty` (PagerDuty change events).
    pub source: String,
    pub external_id: Option<String>,
    /// The standard change template it was raised from, and its name.
    pub template_id: Option<Uuid>,
    pub template: Option<String>,
    pub revision: i64,
    pub version: i64,
    pub ci_count: i64,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Change {
    /// `CHG-12`.
    pub fn key(&self) -> String {
        format!("CHG-{}", self.number)
    }

    /// The spec it was last saved with (links from [`Db::change_links`]).
    pub fn spec(&self, ci_ids: Vec<Uuid>, service_ids: Vec<Uuid>) -> ChangeSpec {
        ChangeSpec {
            title: self.title.clone(),
            kind: self.kind,
            description: self.description.clone(),
            ci_ids,
            service_ids,
            planned_start: self.planned_start,
            planned_end: self.planned_end,
            implementation_plan: self.implementation_plan.clone(),
            test_plan: self.test_plan.clone(),
            backout_plan: self.backout_plan.clone(),
            outage_expected: self.outage_expected,
            assignee_id: self.assignee_id,
            implementer_id: self.implementer_id,
            answers: self.answers.clone(),
            template_id: self.template_id,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    id: Uuid,
    number: i64,
    title: String,
    kind: String,
    state: String,
    description: String,
    planned_start: Option<i64>,
    planned_end: Option<i64>,
    actual_start: Option<i64>,
    actual_end: Option<i64>,
    implementation_plan: String,
    test_plan: String,
    backout_plan: String,
    outage_expected: bool,
    assignee_id: Option<Uuid>,
    assignee: Option<String>,
    implementer_id: Option<Uuid>,
    implementer: Option<String>,
    answers: String,
    risk_level: String,
    risk_score: i32,
    risk_reasons: String,
    close_code: Option<String>,
    close_notes: String,
    caused_incident_id: Option<Uuid>,
    maintenance_window_id: Option<Uuid>,
    source: String,
    external_id: Option<String>,
    template_id: Option<Uuid>,
    template: Option<String>,
    revision: i64,
    version: i64,
    ci_count: i64,
    created_by: Option<Uuid>,
    created_at: i64,
    updated_at: i64,
}

impl From<ChangeRow> for Change {
    fn from(r: ChangeRow) -> Self {
        Change {
            id: r.id,
            number: r.number,
            title: r.title,
            kind: ChangeType::parse(&r.kind).unwrap_or(ChangeType::Normal),
            state: ChangeState::parse(&r.state).unwrap_or(ChangeState::New),
            description: r.description,
            planned_start: r.planned_start.map(from_millis),
            planned_end: r.planned_end.map(from_millis),
            actual_start: r.actual_start.map(from_millis),
            actual_end: r.actual_end.map(from_millis),
            implementation_plan: r.implementation_plan,
            test_plan: r.test_plan,
            backout_plan: r.backout_plan,
            outage_expected: r.outage_expected,
            assignee_id: r.assignee_id,
            assignee: r.assignee,
            implementer_id: r.implementer_id,
            implementer: r.implementer,
            answers: serde_json::from_str(&r.answers).unwrap_or_default(),
            risk: Risk {
                level: RiskLevel::parse(&r.risk_level).unwrap_or(RiskLevel::Low),
                score: u32::try_from(r.risk_score).unwrap_or(0),
                reasons: serde_json::from_str(&r.risk_reasons).unwrap_or_default(),
            },
            close_code: r.close_code.as_deref().and_then(CloseCode::parse),
            close_notes: r.close_notes,
            caused_incident_id: r.caused_incident_id,
            maintenance_window_id: r.maintenance_window_id,
            source: r.source,
            external_id: r.external_id,
            template_id: r.template_id,
            template: r.template,
            revision: r.revision,
            version: r.version,
            ci_count: r.ci_count,
            created_by: r.created_by,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const CHANGE_SELECT: &str = "SELECT c.id, c.number, c.title, c.kind, c.state, c.description, c.planned_start, \
     c.planned_end, c.actual_start, c.actual_end, c.implementation_plan, c.test_plan, c.backout_plan, \
     c.outage_expected, c.assignee_id, a.display_name AS assignee, c.implementer_id, \
     i.display_name AS implementer, c.answers, c.risk_level, c.risk_score, c.risk_reasons, c.close_code, \
     c.close_notes, c.caused_incident_id, c.maintenance_window_id, c.source, c.external_id, c.template_id, \
     t.name AS template, c.revision, \
     c.version, (SELECT COUNT(*) FROM change_cis x WHERE x.change_id = c.id) AS ci_count, c.created_by, \
     c.created_at, c.updated_at \
     FROM changes c LEFT JOIN users a ON a.id = c.assignee_id LEFT JOIN users i ON i.id = c.implementer_id \
     LEFT JOIN change_templates t ON t.id = c.template_id";

/// How a change came to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `manual`, `deploy` or `pagerduty`.
    pub source: &'static str,
    /// The sender's id for the event (deduplicates retries).
    pub external_id: Option<String>,
    pub state: ChangeState,
    /// For a change recorded after the fact: when it ran, and how it went.
    pub actual: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub close_code: Option<CloseCode>,
}

impl Origin {
    pub fn manual() -> Origin {
        Origin { source: "manual", external_id: None, state: ChangeState::New, actual: None, close_code: None }
    }
}

/// What a move writes besides the state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Move {
    pub actual_start: Option<DateTime<Utc>>,
    pub actual_end: Option<DateTime<Utc>>,
    pub close_code: Option<CloseCode>,
    pub close_notes: Option<String>,
    /// Approvals given so far stop counting (a rejection, or an edit after scheduling).
    pub withdraw_approvals: bool,
    /// `Some(None)` unlinks the maintenance window.
    pub maintenance_window_id: Option<Option<Uuid>>,
}

/// Filters of the change list.
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    pub states: Vec<ChangeState>,
    pub kind: Option<ChangeType>,
    pub ci_id: Option<Uuid>,
    pub cursor: Option<Cursor>,
    pub limit: Option<i64>,
}

/// Binds `$id` to CIs and services in `$tx`, 100 rows a statement.
macro_rules! link {
    ($tx:ident, $backend:expr, $table:literal, $col:literal, $id:expr, $ids:expr) => {
        for chunk in $ids.chunks(100) {
            let head = concat!("INSERT INTO ", $table, " (change_id, ", $col, ") VALUES ");
            let sql = crate::dialect::multi_row($backend, head, 2, chunk.len(), "");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for x in chunk {
                q = q.bind($id).bind(*x);
            }
            q.execute(&mut *$tx).await?;
        }
    };
}

fn stale(c: &Change) -> StoreError {
    StoreError::Conflict(format!(
        "{} was changed by someone else since you loaded it (now at version {}); reload it and try again",
        c.key(),
        c.version
    ))
}

fn audit_action(a: Action) -> &'static str {
    match a {
        Action::Submit => "change.submit",
        Action::Approve => "change.approve",
        Action::Reject => "change.reject",
        Action::Schedule => "change.schedule",
        Action::Implement => "change.implement",
        Action::Review => "change.review",
        Action::Close => "change.close",
        Action::Cancel => "change.cancel",
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

impl Db {
    /// Records a change: a new request, or one recorded after the fact by a deploy event (whose
    /// `external_id` makes a retried event answer with the change already recorded).
    pub async fn create_change(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        spec: &ChangeSpec,
        risk: &Risk,
        origin: &Origin,
    ) -> StoreResult<Change> {
        if let Some(ext) = &origin.external_id
            && let Some(id) = self.change_by_external(origin.source, ext).await?
        {
            return self.get_change(id).await;
        }
        let (id, backend, at) = (Uuid::now_v7(), self.backend(), now.timestamp_millis());
        let number = write_tx!(self, |tx| {
            let number: i64 = sqlx::query_scalar(
                "UPDATE revisions SET value = value + 1 WHERE name = 'change_number' RETURNING value",
            )
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO changes (id, number, title, kind, state, description, planned_start, planned_end, \
                 actual_start, actual_end, implementation_plan, test_plan, backout_plan, outage_expected, \
                 assignee_id, implementer_id, answers, risk_level, risk_score, risk_reasons, close_code, \
                 source, external_id, revision, version, created_by, created_at, updated_at, closed_at, \
                 template_id) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
                 $21, $22, $23, 1, 1, $24, $25, $25, $26, $27)",
            )
            .bind(id)
            .bind(number)
            .bind(&spec.title)
            .bind(spec.kind.as_str())
            .bind(origin.state.as_str())
            .bind(&spec.description)
            .bind(spec.planned_start.map(|t| t.timestamp_millis()))
            .bind(spec.planned_end.map(|t| t.timestamp_millis()))
            .bind(origin.actual.map(|(s, _)| s.timestamp_millis()))
            .bind(origin.actual.map(|(_, e)| e.timestamp_millis()))
            .bind(&spec.implementation_plan)
            .bind(&spec.test_plan)
            .bind(&spec.backout_plan)
            .bind(spec.outage_expected)
            .bind(spec.assignee_id)
            .bind(spec.implementer_id)
            .bind(json(&spec.answers))
            .bind(risk.level.as_str())
            .bind(i32::try_from(risk.score).unwrap_or(i32::MAX))
            .bind(json(&risk.reasons))
            .bind(origin.close_code.map(|c| c.as_str()))
            .bind(origin.source)
            .bind(&origin.external_id)
            .bind(actor.user_id)
            .bind(at)
            .bind((origin.state == ChangeState::Closed).then_some(at))
            .bind(spec.template_id)
            .execute(&mut *tx)
            .await?;
            link!(tx, backend, "change_cis", "ci_id", id, &spec.ci_ids);
            link!(tx, backend, "change_services", "service_id", id, &spec.service_ids);
            let summary = format!("Raised CHG-{number} {}", spec.title);
            audit!(tx, actor, now, AuditRecord::new("change.create", "change", Some(id), summary).after(spec));
            number
        });
        tracing::debug!(number, "change recorded");
        self.get_change(id).await
    }

    /// Replaces a change's fields at `version`. `reauthorise` starts a new approval revision
    /// (approvals given so far stop counting) and moves the change to `state`.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_change(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Change,
        spec: &ChangeSpec,
        risk: &Risk,
        reauthorise: bool,
        state: ChangeState,
    ) -> StoreResult<Change> {
        let (id, backend) = (before.id, self.backend());
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE changes SET title = $1, kind = $2, description = $3, planned_start = $4, planned_end = $5, \
                 implementation_plan = $6, test_plan = $7, backout_plan = $8, outage_expected = $9, \
                 assignee_id = $10, implementer_id = $11, answers = $12, risk_level = $13, risk_score = $14, \
                 risk_reasons = $15, revision = revision + $16, state = $17, version = version + 1, \
                 updated_at = $18, template_id = $21 WHERE id = $19 AND version = $20",
            )
            .bind(&spec.title)
            .bind(spec.kind.as_str())
            .bind(&spec.description)
            .bind(spec.planned_start.map(|t| t.timestamp_millis()))
            .bind(spec.planned_end.map(|t| t.timestamp_millis()))
            .bind(&spec.implementation_plan)
            .bind(&spec.test_plan)
            .bind(&spec.backout_plan)
            .bind(spec.outage_expected)
            .bind(spec.assignee_id)
            .bind(spec.implementer_id)
            .bind(json(&spec.answers))
            .bind(risk.level.as_str())
            .bind(i32::try_from(risk.score).unwrap_or(i32::MAX))
            .bind(json(&risk.reasons))
            .bind(i64::from(reauthorise))
            .bind(state.as_str())
            .bind(now.timestamp_millis())
            .bind(id)
            .bind(before.version)
            .bind(spec.template_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(stale(&self.get_change(id).await?));
            }
            sqlx::query("DELETE FROM change_cis WHERE change_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM change_services WHERE change_id = $1").bind(id).execute(&mut *tx).await?;
            if reauthorise {
                // Conflicts were accepted for the plan as it was.
                sqlx::query("DELETE FROM change_overrides WHERE change_id = $1").bind(id).execute(&mut *tx).await?;
            }
            link!(tx, backend, "change_cis", "ci_id", id, &spec.ci_ids);
            link!(tx, backend, "change_services", "service_id", id, &spec.service_ids);
            let summary = if reauthorise && state != before.state {
                format!("Edited {}; back to {} for new approvals", before.key(), state.as_str())
            } else {
                format!("Edited {}", before.key())
            };
            let record = AuditRecord::new("change.update", "change", Some(id), summary).before(before).after(spec);
            audit!(tx, actor, now, record);
        });
        self.get_change(id).await
    }

    /// Moves a change from `before` (at its version) to `to`, with what the move writes; the
    /// audit row names the action.
    pub async fn move_change(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Change,
        action: Action,
        to: ChangeState,
        m: &Move,
    ) -> StoreResult<Change> {
        let id = before.id;
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE changes SET state = $1, actual_start = COALESCE($2, actual_start), \
                 actual_end = COALESCE($3, actual_end), close_code = COALESCE($4, close_code), \
                 close_notes = COALESCE($5, close_notes), revision = revision + $6, \
                 maintenance_window_id = CASE WHEN $7 THEN $8 ELSE maintenance_window_id END, \
                 version = version + 1, updated_at = $9, closed_at = CASE WHEN $1 = 'closed' THEN $9 END \
                 WHERE id = $10 AND version = $11",
            )
            .bind(to.as_str())
            .bind(m.actual_start.map(|t| t.timestamp_millis()))
            .bind(m.actual_end.map(|t| t.timestamp_millis()))
            .bind(m.close_code.map(|c| c.as_str()))
            .bind(m.close_notes.as_deref())
            .bind(i64::from(m.withdraw_approvals))
            .bind(m.maintenance_window_id.is_some())
            .bind(m.maintenance_window_id.flatten())
            .bind(now.timestamp_millis())
            .bind(id)
            .bind(before.version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(stale(&self.get_change(id).await?));
            }
            if m.withdraw_approvals {
                sqlx::query("DELETE FROM change_overrides WHERE change_id = $1").bind(id).execute(&mut *tx).await?;
            }
            let summary = match (to == before.state, m.close_code) {
                (_, Some(code)) if to == ChangeState::Closed => format!("Closed {} as {}", before.key(), code.as_str()),
                (true, _) => format!("{} on {}", action.as_str(), before.key()),
                (false, _) => {
                    format!("{} {}: {} → {}", action.as_str(), before.key(), before.state.as_str(), to.as_str())
                }
            };
            let record = AuditRecord::new(audit_action(action), "change", Some(id), summary)
                .before(before.state.as_str())
                .after(to.as_str());
            audit!(tx, actor, now, record);
        });
        self.get_change(id).await
    }

    /// Marks a change as the cause of an incident; a closed one counts as unsuccessful.
    pub async fn mark_change_cause(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Change,
        incident: Uuid,
        incident_key: &str,
    ) -> StoreResult<Change> {
        let id = before.id;
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE changes SET caused_incident_id = $1, close_code = CASE WHEN state = 'closed' \
                 AND close_code IN ('successful', 'successful_with_issues') THEN 'unsuccessful' ELSE close_code END, \
                 version = version + 1, updated_at = $2 WHERE id = $3",
            )
            .bind(incident)
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let summary = format!("Marked {} as the cause of {incident_key}", before.key());
            audit!(tx, actor, now, AuditRecord::new("change.cause", "change", Some(id), summary));
        });
        self.get_change(id).await
    }

    pub async fn get_change(&self, id: Uuid) -> StoreResult<Change> {
        let row: Option<ChangeRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{CHANGE_SELECT} WHERE c.id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Change::from).ok_or(StoreError::NotFound(Entity::Change))
    }

    /// A change by its number (`CHG-12` → 12).
    pub async fn change_by_number(&self, number: i64) -> StoreResult<Change> {
        let row: Option<ChangeRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{CHANGE_SELECT} WHERE c.number = $1")))
                .bind(number)
                .fetch_optional(pool)
                .await?
        });
        row.map(Change::from).ok_or(StoreError::NotFound(Entity::Change))
    }

    pub async fn change_by_external(&self, source: &str, external_id: &str) -> StoreResult<Option<Uuid>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM changes WHERE source = $1 AND external_id = $2")
                .bind(source)
                .bind(external_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The CIs (id, name) and services (id, name, tier) of a change, by name.
    pub async fn change_links(&self, id: Uuid) -> StoreResult<(Vec<(Uuid, String)>, Vec<(Uuid, String, i16)>)> {
        let cis: Vec<(Uuid, String)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT c.id, c.name FROM change_cis x JOIN cis c ON c.id = x.ci_id WHERE x.change_id = $1 \
                 ORDER BY c.name, c.id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        let services: Vec<(Uuid, String, i16)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT s.id, s.name, s.tier FROM change_services x JOIN services s ON s.id = x.service_id \
                 WHERE x.change_id = $1 ORDER BY s.name, s.id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        Ok((cis, services))
    }

    /// A page of changes, newest number first.
    pub async fn change_requests(&self, f: &ChangeFilter) -> StoreResult<Page<Change>> {
        let limit = page::clamp_limit(f.limit);
        let states: Vec<&str> = f.states.iter().map(|s| s.as_str()).collect();
        let states = (!states.is_empty()).then(|| format!(",{},", states.join(",")));
        let before = f.cursor.as_ref().and_then(|c| c.key.parse::<i64>().ok());
        let sql = format!(
            "{CHANGE_SELECT} WHERE ($1 IS NULL OR $1 LIKE '%,' || c.state || ',%') AND ($2 IS NULL OR c.kind = $2) \
             AND ($3 IS NULL OR c.id IN (SELECT change_id FROM change_cis WHERE ci_id = $3)) \
             AND ($4 IS NULL OR c.number < $4) ORDER BY c.number DESC LIMIT {}",
            limit + 1
        );
        let rows: Vec<ChangeRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(states.as_deref())
                .bind(f.kind.map(|k| k.as_str()))
                .bind(f.ci_id)
                .bind(before)
                .fetch_all(pool)
                .await?
        });
        Ok(page::finish(rows, limit, |r| Cursor { key: r.number.to_string(), id: r.id }).map(Change::from))
    }
}

impl Db {
    /// Links a change to the maintenance window that silences its CIs' monitors (or unlinks it).
    /// The window's own write is audited; this only remembers it.
    pub async fn link_change_window(&self, id: Uuid, window: Option<Uuid>) -> StoreResult<()> {
        crate::with_writer!(self, |pool| {
            sqlx::query("UPDATE changes SET maintenance_window_id = $1, version = version + 1 WHERE id = $2")
                .bind(window)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
