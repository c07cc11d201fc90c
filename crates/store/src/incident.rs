//! Incidents and what hangs off them: timeline, responders, alerts, change events,
//! postmortems and action items, and the data the MTTx report is computed from.

use crate::audit::audit;
use crate::dialect::{LockAlerts, placeholders};
use crate::ingest::{ALERT_COLS, AlertRow};
use crate::page::{self, Cursor, Page};
use crate::timeline::{TimelineEntry, insert_timeline};
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, NaiveDate, Utc};
use opsdeck_core::Entity;
use opsdeck_core::alert::{AlertLink, AlertStatus, ChangeSignal, Severity};
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::incident::{self, ActionItemSpec, ActionStatus, Move, PostmortemSpec, Sev, Status, kind};
use sqlx::types::Json;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Incident {
    pub id: Uuid,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub status: Status,
    pub severity: Sev,
    /// The service the incident was opened on.
    pub service_id: Option<Uuid>,
    pub service_name: Option<String>,
    /// Every affected service (the first is `service_id`).
    pub service_ids: Vec<Uuid>,
    pub group_key: Option<String>,
    /// `alert`, `monitor` or `manual`.
    pub source: String,
    pub assignee_id: Option<Uuid>,
    pub assignee: Option<String>,
    pub commander_id: Option<Uuid>,
    pub commander: Option<String>,
    pub alert_count: i64,
    pub open_alerts: i64,
    pub impact_start_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub snoozed_until: Option<DateTime<Utc>>,
    pub merged_into: Option<Uuid>,
    pub last_alert_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    number: i64,
    title: String,
    description: String,
    status: String,
    severity: String,
    service_id: Option<Uuid>,
    service_name: Option<String>,
    group_key: Option<String>,
    source: String,
    assignee_id: Option<Uuid>,
    assignee: Option<String>,
    commander_id: Option<Uuid>,
    commander: Option<String>,
    alert_count: i64,
    open_alerts: i64,
    impact_start_at: i64,
    detected_at: i64,
    acknowledged_at: Option<i64>,
    mitigated_at: Option<i64>,
    resolved_at: Option<i64>,
    snoozed_until: Option<i64>,
    merged_into: Option<Uuid>,
    last_alert_at: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<Row> for Incident {
    fn from(r: Row) -> Self {
        Incident {
            id: r.id,
            number: r.number,
            title: r.title,
            description: r.description,
            status: Status::parse(&r.status).unwrap_or(Status::Triggered),
            severity: Sev::parse(&r.severity).unwrap_or(Sev::Sev3),
            service_ids: r.service_id.into_iter().collect(),
            service_id: r.service_id,
            service_name: r.service_name,
            group_key: r.group_key,
            source: r.source,
            assignee_id: r.assignee_id,
            assignee: r.assignee,
            commander_id: r.commander_id,
            commander: r.commander,
            alert_count: r.alert_count,
            open_alerts: r.open_alerts,
            impact_start_at: from_millis(r.impact_start_at),
            detected_at: from_millis(r.detected_at),
            acknowledged_at: r.acknowledged_at.map(from_millis),
            mitigated_at: r.mitigated_at.map(from_millis),
            resolved_at: r.resolved_at.map(from_millis),
            snoozed_until: r.snoozed_until.map(from_millis),
            merged_into: r.merged_into,
            last_alert_at: from_millis(r.last_alert_at),
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const SELECT: &str = "SELECT i.id, i.number, i.title, i.description, i.status, i.severity, i.service_id, \
                      s.name AS service_name, i.group_key, i.source, i.assignee_id, ua.username AS \
                      assignee, i.commander_id, uc.username AS commander, i.alert_count, i.open_alerts, \
                      i.impact_start_at, i.detected_at, i.acknowledged_at, i.mitigated_at, i.resolved_at, \
                      i.snoozed_until, i.merged_into, i.last_alert_at, i.created_at, i.updated_at \
                      FROM incidents i LEFT JOIN services s ON s.id = i.service_id LEFT \
                      JOIN users ua ON ua.id = i.assignee_id LEFT JOIN users uc ON uc.id = i.commander_id";

#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub status: Option<Status>,
    /// Triggered or acknowledged.
    pub open: bool,
    pub service_id: Option<Uuid>,
    pub severity: Option<Sev>,
    pub q: Option<String>,
    pub cursor: Option<Cursor>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TimelineItem {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alert {
    pub id: Uuid,
    pub integration_id: Option<Uuid>,
    pub service_id: Option<Uuid>,
    pub incident_id: Option<Uuid>,
    pub dedup_key: String,
    pub group_key: Option<String>,
    pub source_type: String,
    pub source: String,
    pub severity: Severity,
    pub summary: String,
    pub details: serde_json::Value,
    pub links: Vec<AlertLink>,
    pub labels: BTreeMap<String, String>,
    pub status: AlertStatus,
    pub count: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<AlertRow> for Alert {
    fn from(r: AlertRow) -> Self {
        Alert {
            id: r.id,
            integration_id: r.integration_id,
            service_id: r.service_id,
            incident_id: r.incident_id,
            dedup_key: r.dedup_key,
            group_key: r.group_key,
            source_type: r.source_type,
            source: r.source,
            severity: Severity::parse(&r.severity).unwrap_or(Severity::Error),
            summary: r.summary,
            details: r.details.0,
            links: r.links.0,
            labels: r.labels.0,
            status: AlertStatus::parse(&r.status).unwrap_or(AlertStatus::Firing),
            count: r.count,
            first_seen: from_millis(r.first_seen),
            last_seen: from_millis(r.last_seen),
            started_at: r.started_at.map(from_millis),
            acknowledged_at: r.acknowledged_at.map(from_millis),
            resolved_at: r.resolved_at.map(from_millis),
            expires_at: r.expires_at.map(from_millis),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub incident_id: Option<Uuid>,
    pub service_id: Option<Uuid>,
    pub status: Option<AlertStatus>,
    pub q: Option<String>,
    pub cursor: Option<Cursor>,
    pub limit: Option<i64>,
}

/// A manually declared incident.
#[derive(Debug, Clone)]
pub struct Declare {
    pub title: String,
    pub description: String,
    pub service_id: Uuid,
    pub severity: Sev,
    pub impact_start_at: Option<DateTime<Utc>>,
}

/// Editable fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct IncidentEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<Sev>,
    pub impact_start_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<Option<DateTime<Utc>>>,
    pub assignee_id: Option<Option<Uuid>>,
    pub commander_id: Option<Option<Uuid>>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChangeEvent {
    pub id: Uuid,
    pub service_id: Uuid,
    pub at: DateTime<Utc>,
    pub summary: String,
    pub source: String,
    pub details: serde_json::Value,
    pub links: Vec<AlertLink>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Postmortem {
    pub incident_id: Uuid,
    #[serde(flatten)]
    pub spec: PostmortemSpec,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ActionItem {
    pub id: Uuid,
    pub incident_id: Uuid,
    pub incident_number: i64,
    pub title: String,
    pub owner_id: Option<Uuid>,
    pub owner: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub status: ActionStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ActionRow {
    id: Uuid,
    incident_id: Uuid,
    incident_number: i64,
    title: String,
    owner_id: Option<Uuid>,
    owner: Option<String>,
    due_date: Option<String>,
    status: String,
    created_at: i64,
    updated_at: i64,
}

impl From<ActionRow> for ActionItem {
    fn from(r: ActionRow) -> Self {
        ActionItem {
            id: r.id,
            incident_id: r.incident_id,
            incident_number: r.incident_number,
            title: r.title,
            owner_id: r.owner_id,
            owner: r.owner,
            due_date: r.due_date.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
            status: ActionStatus::parse(&r.status).unwrap_or(ActionStatus::Open),
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const ACTION_SELECT: &str = "SELECT a.id, a.incident_id, i.number AS incident_number, a.title, a.owner_id, \
                             u.username AS owner, a.due_date, a.status, a.created_at, a.updated_at \
                             FROM action_items a JOIN incidents i ON i.id = a.incident_id LEFT \
                             JOIN users u ON u.id = a.owner_id";

/// One incident's figures for the MTTx report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct ReportRow {
    pub id: Uuid,
    pub number: i64,
    pub title: String,
    pub service_id: Option<Uuid>,
    pub service_name: Option<String>,
    pub severity: String,
    pub status: String,
    pub source: String,
    pub alert_count: i64,
    pub impact_start_at: i64,
    pub detected_at: i64,
    pub acknowledged_at: Option<i64>,
    pub mitigated_at: Option<i64>,
    pub resolved_at: Option<i64>,
}

/// Alerts per source over a period.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct NoisySource {
    pub integration_id: Option<Uuid>,
    pub integration_name: Option<String>,
    pub source_type: String,
    pub service_name: Option<String>,
    pub alerts: i64,
    pub events: i64,
}

/// At most this many incidents go into one report.
pub const REPORT_MAX: i64 = 20_000;

fn entry(incident_id: Uuid, at: i64, kind: &'static str, actor: &Actor, body: String) -> TimelineEntry {
    TimelineEntry { incident_id, at, kind, actor: actor.label.clone(), body }
}

impl Db {
    pub async fn get_incident(&self, id: Uuid) -> StoreResult<Incident> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE i.id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        let mut inc = row.map(Incident::from).ok_or(StoreError::NotFound(Entity::Incident))?;
        self.fill_services(std::slice::from_mut(&mut inc)).await?;
        Ok(inc)
    }

    pub async fn get_incident_by_number(&self, number: i64) -> StoreResult<Incident> {
        let id: Option<Uuid> = with_db!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM incidents WHERE number = $1").bind(number).fetch_optional(pool).await?
        });
        self.get_incident(id.ok_or(StoreError::NotFound(Entity::Incident))?).await
    }

    async fn fill_services(&self, incs: &mut [Incident]) -> StoreResult<()> {
        if incs.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = incs.iter().map(|i| i.id).collect();
        let sql = format!(
            "SELECT incident_id, service_id FROM incident_services WHERE incident_id IN ({})",
            placeholders(self.backend(), ids.len(), 1)
        );
        let rows: Vec<(Uuid, Uuid)> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        let mut by: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (i, s) in rows {
            by.entry(i).or_default().push(s);
        }
        for inc in incs {
            if let Some(list) = by.remove(&inc.id) {
                for s in list {
                    if !inc.service_ids.contains(&s) {
                        inc.service_ids.push(s);
                    }
                }
            }
        }
        Ok(())
    }

    /// Newest first.
    pub async fn list_incidents(&self, f: &IncidentFilter) -> StoreResult<Page<Incident>> {
        let limit = page::clamp_limit(f.limit);
        let pattern = f.q.as_deref().filter(|q| !q.trim().is_empty()).map(page::like_pattern);
        let number = f.q.as_deref().and_then(incident::parse_number);
        let (c_at, c_id) = match &f.cursor {
            Some(c) => (c.key.parse::<i64>().ok(), Some(c.id)),
            None => (None, None),
        };
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE ($1 IS NULL OR i.status = $1) AND ($2 = FALSE OR i.status <> 'resolved') \
                 AND ($3 IS NULL OR i.id IN (SELECT incident_id FROM incident_services WHERE service_id = $3)) \
                 AND ($4 IS NULL OR i.severity = $4) \
                 AND ($5 IS NULL OR LOWER(i.title) LIKE $5 ESCAPE '\\' OR i.number = $6) \
                 AND ($7 IS NULL OR i.created_at < $7 OR (i.created_at = $7 AND i.id < $8)) \
                 ORDER BY i.created_at DESC, i.id DESC LIMIT $9"
            )))
            .bind(f.status.map(|s| s.as_str()))
            .bind(f.open)
            .bind(f.service_id)
            .bind(f.severity.map(|s| s.as_str()))
            .bind(pattern.as_deref())
            .bind(number)
            .bind(c_at)
            .bind(c_id)
            .bind(limit + 1)
            .fetch_all(pool)
            .await?
        });
        let page = page::finish(rows, limit, |r| Cursor { key: r.created_at.to_string(), id: r.id });
        let mut page = page.map(Incident::from);
        self.fill_services(&mut page.items).await?;
        Ok(page)
    }

    /// Incidents per status (for the list's counters), optionally for one service.
    pub async fn incident_counts(&self, service_id: Option<Uuid>) -> StoreResult<HashMap<Status, i64>> {
        let rows: Vec<(String, i64)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT status, COUNT(*) FROM incidents WHERE ($1 IS NULL OR id IN \
                            (SELECT incident_id FROM incident_services WHERE service_id = $1)) GROUP BY status",
            )
            .bind(service_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().filter_map(|(s, n)| Status::parse(&s).map(|s| (s, n))).collect())
    }

    /// Declares an incident by hand.
    pub async fn declare_incident(&self, actor: &Actor, now: DateTime<Utc>, d: Declare) -> StoreResult<Incident> {
        let id = Uuid::now_v7();
        let ms = now.timestamp_millis();
        let start = d.impact_start_at.map(|t| t.timestamp_millis().min(ms)).unwrap_or(ms);
        let backend = self.backend();
        write_tx!(self, |tx| {
            tx.lock_alerts().await?;
            let number: i64 = sqlx::query_scalar(
                "UPDATE revisions SET value = value + 1 WHERE name = 'incident_number' \
                 RETURNING value",
            )
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO incidents (id, number, title, description, status, severity, \
                 service_id, source, alert_count, open_alerts, impact_start_at, detected_at, \
                 last_alert_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'triggered', $5, $6, 'manual', 0, 0, $7, $8, $8, $8, $8)",
            )
            .bind(id)
            .bind(number)
            .bind(&d.title)
            .bind(&d.description)
            .bind(d.severity.as_str())
            .bind(d.service_id)
            .bind(start)
            .bind(ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO incident_services (incident_id, service_id) VALUES ($1, $2)")
                .bind(id)
                .bind(d.service_id)
                .execute(&mut *tx)
                .await?;
            insert_timeline!(
                tx,
                backend,
                vec![entry(id, ms, kind::CREATED, actor, format!("Declared by {}: {}", actor.label, d.title))]
            );
            crate::oncall::start_escalation!(tx, id, ms);
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "incident.declare",
                    "incident",
                    Some(id),
                    format!("Declared {}: {}", incident::display_number(number), d.title)
                )
            );
        });
        self.get_incident(id).await
    }

    /// Acknowledge, resolve or reopen, with the alerts following along.
    pub async fn move_incident(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        m: Move,
        note: Option<&str>,
    ) -> StoreResult<Incident> {
        let ms = now.timestamp_millis();
        let backend = self.backend();
        write_tx!(self, |tx| {
            tx.lock_alerts().await?;
            let cur: Option<(String, i64)> = sqlx::query_as("SELECT status, number FROM incidents WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let (cur, number) = cur.ok_or(StoreError::NotFound(Entity::Incident))?;
            let from = Status::parse(&cur).unwrap_or(Status::Triggered);
            let to = incident::transition(from, m)?;
            let (verb, action) = match m {
                Move::Acknowledge => {
                    sqlx::query(
                        "UPDATE incidents SET status = $1, acknowledged_at = COALESCE(acknowledged_at, $2), \
                         updated_at = $2 WHERE id = $3",
                    )
                    .bind(to.as_str())
                    .bind(ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $1 \
                         WHERE incident_id = $2 AND status = 'firing'",
                    )
                    .bind(ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    crate::oncall::stop_escalation!(tx, id);
                    ("Acknowledged", "incident.acknowledge")
                }
                Move::Resolve => {
                    sqlx::query(
                        "UPDATE incidents SET status = $1, resolved_at = $2, mitigated_at = \
                         COALESCE(mitigated_at, $2), snoozed_until = NULL, open_alerts = 0, updated_at = $2 \
                         WHERE id = $3",
                    )
                    .bind(to.as_str())
                    .bind(ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE alerts SET status = 'resolved', resolved_at = $1, expires_at = NULL \
                         WHERE incident_id = $2 AND status <> 'resolved'",
                    )
                    .bind(ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    crate::oncall::stop_escalation!(tx, id);
                    ("Resolved", "incident.resolve")
                }
                Move::Reopen => {
                    sqlx::query("UPDATE incidents SET status = $1, resolved_at = NULL, updated_at = $2 WHERE id = $3")
                        .bind(to.as_str())
                        .bind(ms)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    crate::oncall::start_escalation!(tx, id, ms);
                    ("Reopened", "incident.reopen")
                }
            };
            let mut body = format!("{verb} by {}", actor.label);
            if let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) {
                body.push_str(": ");
                body.push_str(n);
            }
            insert_timeline!(tx, backend, vec![entry(id, ms, kind::STATUS, actor, body)]);
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(action, "incident", Some(id), format!("{verb} {}", incident::display_number(number)))
            );
        });
        self.get_incident(id).await
    }

    /// Adds a note (`note`) or a stakeholder update (`status_update`) to the timeline.
    pub async fn add_incident_note(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        status_update: bool,
        body: &str,
    ) -> StoreResult<TimelineItem> {
        let ms = now.timestamp_millis();
        let k = if status_update { kind::STATUS_UPDATE } else { kind::NOTE };
        let tid = Uuid::now_v7();
        write_tx!(self, |tx| {
            let n: Option<i64> = sqlx::query_scalar("SELECT number FROM incidents WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let number = n.ok_or(StoreError::NotFound(Entity::Incident))?;
            let what = if status_update { "a status update" } else { "a note" };
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "incident.note",
                    "incident",
                    Some(id),
                    format!("Added {what} to {}", incident::display_number(number))
                )
            );
            sqlx::query(
                "INSERT INTO incident_timeline (id, incident_id, at, kind, actor, body) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(tid)
            .bind(id)
            .bind(ms)
            .bind(k)
            .bind(&actor.label)
            .bind(body)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE incidents SET updated_at = $1 WHERE id = $2")
                .bind(ms)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(TimelineItem { id: tid, at: now, kind: k.into(), actor: actor.label.clone(), body: body.to_owned() })
    }

    /// Changes title, description, severity, impact start, mitigation time, assignee or
    /// commander; each change is a timeline entry.
    pub async fn edit_incident(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        e: IncidentEdit,
    ) -> StoreResult<Incident> {
        let before = self.get_incident(id).await?;
        let ms = now.timestamp_millis();
        let backend = self.backend();
        let mut entries = Vec::new();
        let title = e.title.clone().unwrap_or_else(|| before.title.clone());
        if title != before.title {
            entries.push(entry(id, ms, kind::EDITED, actor, format!("Title changed to \u{201c}{title}\u{201d}")));
        }
        let description = e.description.clone().unwrap_or_else(|| before.description.clone());
        let severity = e.severity.unwrap_or(before.severity);
        if severity != before.severity {
            entries.push(entry(
                id,
                ms,
                kind::SEVERITY,
                actor,
                format!("Severity changed from {} to {severity}", before.severity),
            ));
        }
        let impact = e.impact_start_at.unwrap_or(before.impact_start_at);
        if impact != before.impact_start_at {
            entries.push(entry(
                id,
                ms,
                kind::EDITED,
                actor,
                format!("Impact start set to {}", impact.format("%Y-%m-%d %H:%M UTC")),
            ));
        }
        let mitigated = e.mitigated_at.unwrap_or(before.mitigated_at);
        if mitigated != before.mitigated_at {
            let body = match mitigated {
                Some(t) => format!("Mitigated at {}", t.format("%Y-%m-%d %H:%M UTC")),
                None => "Mitigation time cleared".into(),
            };
            entries.push(entry(id, ms, kind::EDITED, actor, body));
        }
        let assignee = e.assignee_id.unwrap_or(before.assignee_id);
        let commander = e.commander_id.unwrap_or(before.commander_id);
        let names = self.usernames(&[assignee, commander]).await?;
        if assignee != before.assignee_id {
            let who = assignee.and_then(|u| names.get(&u).cloned()).unwrap_or_else(|| "nobody".into());
            entries.push(entry(id, ms, kind::ASSIGNED, actor, format!("Assigned to {who}")));
        }
        if commander != before.commander_id {
            let who = commander.and_then(|u| names.get(&u).cloned()).unwrap_or_else(|| "nobody".into());
            entries.push(entry(id, ms, kind::ASSIGNED, actor, format!("Incident commander: {who}")));
        }
        if entries.is_empty() && description == before.description {
            return Ok(before);
        }
        write_tx!(self, |tx| {
            tx.lock_alerts().await?;
            sqlx::query(
                "UPDATE incidents SET title = $1, description = $2, severity = $3, impact_start_at = \
                 $4, mitigated_at = $5, assignee_id = $6, commander_id = $7, updated_at = $8 \
                 WHERE id = $9",
            )
            .bind(&title)
            .bind(&description)
            .bind(severity.as_str())
            .bind(impact.timestamp_millis())
            .bind(mitigated.map(|t| t.timestamp_millis()))
            .bind(assignee)
            .bind(commander)
            .bind(ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            for u in [assignee, commander].into_iter().flatten() {
                sqlx::query(
                    "INSERT INTO incident_responders (incident_id, user_id, added_at) \
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(u)
                .bind(ms)
                .execute(&mut *tx)
                .await?;
            }
            insert_timeline!(tx, backend, entries);
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "incident.update",
                    "incident",
                    Some(id),
                    format!("Changed {}", incident::display_number(before.number))
                )
            );
        });
        self.get_incident(id).await
    }

    /// Usernames of the given users; any unknown or disabled one is a validation error.
    async fn usernames(&self, ids: &[Option<Uuid>]) -> StoreResult<HashMap<Uuid, String>> {
        let wanted: Vec<Uuid> = ids.iter().flatten().copied().collect();
        let found: HashMap<Uuid, String> =
            self.user_names(&wanted).await?.into_iter().map(|(id, username, _)| (id, username)).collect();
        if let Some(missing) = wanted.iter().find(|id| !found.contains_key(id)) {
            return Err(opsdeck_core::Error::invalid("assignee_id", format!("no active user has id {missing}")).into());
        }
        Ok(found)
    }

    /// Responders on an incident: (user id, username).
    pub async fn incident_responders(&self, id: Uuid) -> StoreResult<Vec<(Uuid, String)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.username FROM incident_responders r JOIN users u ON u.id = r.user_id \
                            WHERE r.incident_id = $1 ORDER BY r.added_at",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn add_responder(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid, user_id: Uuid) -> StoreResult<()> {
        let ms = now.timestamp_millis();
        let backend = self.backend();
        let names = self.usernames(&[Some(user_id)]).await?;
        self.get_incident(id).await?;
        write_tx!(self, |tx| {
            let n = sqlx::query(
                "INSERT INTO incident_responders (incident_id, user_id, added_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(user_id)
            .bind(ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                let who = names.get(&user_id).cloned().unwrap_or_default();
                audit!(
                    tx,
                    actor,
                    now,
                    AuditRecord::new(
                        "incident.responder_add",
                        "incident",
                        Some(id),
                        format!("Added {who} as a responder")
                    )
                );
                insert_timeline!(
                    tx,
                    backend,
                    vec![entry(id, ms, kind::ASSIGNED, actor, format!("{who} added as a responder"))]
                );
            }
        });
        Ok(())
    }

    /// Snoozes an incident until `until`: it counts as acknowledged meanwhile, then triggers again.
    pub async fn snooze_incident(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        until: DateTime<Utc>,
    ) -> StoreResult<Incident> {
        let ms = now.timestamp_millis();
        let backend = self.backend();
        let inc = self.get_incident(id).await?;
        if !inc.status.is_open() {
            return Err(StoreError::Conflict("a resolved incident cannot be snoozed".into()));
        }
        write_tx!(self, |tx| {
            tx.lock_alerts().await?;
            sqlx::query(
                "UPDATE incidents SET status = 'acknowledged', acknowledged_at = COALESCE(acknowledged_at, $1), \
                         snoozed_until = $2, updated_at = $1 WHERE id = $3",
            )
            .bind(ms)
            .bind(until.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            crate::oncall::stop_escalation!(tx, id);
            insert_timeline!(
                tx,
                backend,
                vec![entry(
                    id,
                    ms,
                    kind::SNOOZED,
                    actor,
                    format!("Snoozed by {} until {}", actor.label, until.format("%Y-%m-%d %H:%M UTC"))
                )]
            );
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "incident.snooze",
                    "incident",
                    Some(id),
                    format!("Snoozed {}", incident::display_number(inc.number))
                )
            );
        });
        self.get_incident(id).await
    }

    /// Escalates: an acknowledged incident goes back to triggered so the next responders are
    /// paged, and the timeline records who escalated and why.
    pub async fn escalate_incident(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        reason: Option<&str>,
    ) -> StoreResult<Incident> {
        let ms = now.timestamp_millis();
        let backend = self.backend();
        let inc = self.get_incident(id).await?;
        if !inc.status.is_open() {
            return Err(StoreError::Conflict("a resolved incident cannot be escalated; reopen it first".into()));
        }
        write_tx!(self, |tx| {
            tx.lock_alerts().await?;
            sqlx::query(
                "UPDATE incidents SET status = 'triggered', snoozed_until = NULL, updated_at = $1 \
                 WHERE id = $2",
            )
            .bind(ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            // A running escalation moves to its next level now; a stopped one starts over.
            let moved = sqlx::query(
                "UPDATE escalations SET next_at = $1, lease_owner = NULL, lease_until = NULL \
                 WHERE incident_id = $2",
            )
            .bind(ms)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                crate::oncall::start_escalation!(tx, id, ms);
            }
            let mut body = format!("Escalated by {}", actor.label);
            if let Some(r) = reason.map(str::trim).filter(|r| !r.is_empty()) {
                body.push_str(": ");
                body.push_str(r);
            }
            insert_timeline!(tx, backend, vec![entry(id, ms, kind::ESCALATED, actor, body)]);
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "incident.escalate",
                    "incident",
                    Some(id),
                    format!("Escalated {}", incident::display_number(inc.number))
                )
            );
        });
        self.get_incident(id).await
    }

    /// Merges `source` into `target`: its alerts and services move over, and `source` is
    /// resolved as merged.
    pub async fn merge_incidents(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        target: Uuid,
        source: Uuid,
    ) -> StoreResult<Incident> {
        if target == source {
            return Err(opsdeck_core::Error::invalid("source_id", "an incident cannot be merged into itself").into());
        }
        let t = self.get_incident(target).await?;
        let s = self.get_incident(source).await?;
        if s.merged_into.is_some() {
            return Err(StoreError::Conflict(format!("{} was already merged", incident::display_number(s.number))));
        }
        if !t.status.is_open() {
            return Err(StoreError::Conflict("merge into an open incident; reopen the target first".into()));
        }
        let ms = now.timestamp_millis();
        let backend = self.backend();
        write_tx!(self, |tx| {
            tx.lock_alerts().await?;
            sqlx::query("UPDATE alerts SET incident_id = $1 WHERE incident_id = $2")
                .bind(target)
                .bind(source)
                .execute(&mut *tx)
                .await?;
            let open: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE incident_id = $1 AND status <> 'resolved'")
                    .bind(target)
                    .fetch_one(&mut *tx)
                    .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE incident_id = $1")
                .bind(target)
                .fetch_one(&mut *tx)
                .await?;
            let sev = t.severity.min(s.severity);
            sqlx::query(
                "UPDATE incidents SET alert_count = $1, open_alerts = $2, severity = $3, \
                 impact_start_at = CASE WHEN impact_start_at < $4 THEN impact_start_at ELSE $4 END, \
                 updated_at = $5 WHERE id = $6",
            )
            .bind(total)
            .bind(open)
            .bind(sev.as_str())
            .bind(s.impact_start_at.timestamp_millis())
            .bind(ms)
            .bind(target)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE incidents SET status = 'resolved', resolved_at = COALESCE(resolved_at, $1), merged_into = $2, \
                         open_alerts = 0, snoozed_until = NULL, updated_at = $1 WHERE id = $3",
            )
            .bind(ms)
            .bind(target)
            .bind(source)
            .execute(&mut *tx)
            .await?;
            crate::oncall::stop_escalation!(tx, source);
            sqlx::query(
                "INSERT INTO incident_services (incident_id, service_id) SELECT $1, service_id FROM incident_services \
                         WHERE incident_id = $2 ON CONFLICT DO NOTHING",
            )
            .bind(target)
            .bind(source)
            .execute(&mut *tx)
            .await?;
            insert_timeline!(
                tx,
                backend,
                vec![
                    entry(
                        target,
                        ms,
                        kind::MERGED,
                        actor,
                        format!(
                            "{} merged into this incident by {} ({} alerts moved)",
                            incident::display_number(s.number),
                            actor.label,
                            s.alert_count
                        )
                    ),
                    entry(
                        source,
                        ms,
                        kind::MERGED,
                        actor,
                        format!("Merged into {} by {}", incident::display_number(t.number), actor.label)
                    ),
                ]
            );
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "incident.merge",
                    "incident",
                    Some(target),
                    format!(
                        "Merged {} into {}",
                        incident::display_number(s.number),
                        incident::display_number(t.number)
                    )
                )
            );
        });
        self.get_incident(target).await
    }

    /// The incident's timeline, oldest first, with the changes on its services from two hours
    /// before impact until resolution.
    pub async fn incident_timeline(&self, inc: &Incident, now: DateTime<Utc>) -> StoreResult<Vec<TimelineItem>> {
        let rows: Vec<(Uuid, i64, String, String, String)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, at, kind, actor, body FROM incident_timeline \
                 WHERE incident_id = $1 ORDER BY at, id LIMIT 5000",
            )
            .bind(inc.id)
            .fetch_all(pool)
            .await?
        });
        let mut items: Vec<TimelineItem> = rows
            .into_iter()
            .map(|(id, at, kind, actor, body)| TimelineItem { id, at: from_millis(at), kind, actor, body })
            .collect();
        let from = inc.impact_start_at - chrono::Duration::hours(2);
        let to = inc.resolved_at.unwrap_or(now);
        for sid in &inc.service_ids {
            for c in self.list_changes(*sid, from, to, 200).await? {
                items.push(TimelineItem {
                    id: c.id,
                    at: c.at,
                    kind: kind::CHANGE.into(),
                    actor: if c.source.is_empty() { "change".into() } else { c.source },
                    body: format!("Change: {}", c.summary),
                });
            }
        }
        items.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        Ok(items)
    }

    // ---- alerts ---------------------------------------------------------------------------

    /// Newest first.
    pub async fn list_alerts(&self, f: &AlertFilter) -> StoreResult<Page<Alert>> {
        let limit = page::clamp_limit(f.limit);
        let pattern = f.q.as_deref().filter(|q| !q.trim().is_empty()).map(page::like_pattern);
        let (c_at, c_id) = match &f.cursor {
            Some(c) => (c.key.parse::<i64>().ok(), Some(c.id)),
            None => (None, None),
        };
        let rows: Vec<AlertRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ALERT_COLS} FROM alerts WHERE ($1 IS NULL OR incident_id = $1) \
                 AND ($2 IS NULL OR service_id = $2) AND ($3 IS NULL OR status = $3) \
                 AND ($4 IS NULL OR LOWER(summary) LIKE $4 ESCAPE '\\' OR dedup_key = $5) \
                 AND ($6 IS NULL OR first_seen < $6 OR (first_seen = $6 AND id < $7)) \
                 ORDER BY first_seen DESC, id DESC LIMIT $8"
            )))
            .bind(f.incident_id)
            .bind(f.service_id)
            .bind(f.status.map(|s| s.as_str()))
            .bind(pattern.as_deref())
            .bind(f.q.as_deref().map(str::trim))
            .bind(c_at)
            .bind(c_id)
            .bind(limit + 1)
            .fetch_all(pool)
            .await?
        });
        Ok(page::finish(rows, limit, |r| Cursor { key: r.first_seen.to_string(), id: r.id }).map(Alert::from))
    }

    pub async fn get_alert(&self, id: Uuid) -> StoreResult<Alert> {
        let row: Option<AlertRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {ALERT_COLS} FROM alerts WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Alert::from).ok_or(StoreError::NotFound(Entity::Alert))
    }

    /// Alerts per status and in all.
    pub async fn alert_counts(&self) -> StoreResult<HashMap<String, i64>> {
        let rows: Vec<(String, i64)> = with_db!(self, |pool| {
            sqlx::query_as("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetch_all(pool).await?
        });
        Ok(rows.into_iter().collect())
    }

    // ---- change events --------------------------------------------------------------------

    pub async fn record_change(
        &self,
        now: DateTime<Utc>,
        service_id: Uuid,
        integration_id: Option<Uuid>,
        c: &ChangeSignal,
    ) -> StoreResult<ChangeEvent> {
        let ev = ChangeEvent {
            id: Uuid::now_v7(),
            service_id,
            at: c.at.unwrap_or(now).min(now),
            summary: c.summary.clone(),
            source: c.source.clone(),
            details: c.details.clone(),
            links: c.links.clone(),
        };
        with_db!(self, |pool| {
            sqlx::query(
                "INSERT INTO change_events (id, service_id, integration_id, at, summary, source, details, links) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(ev.id)
            .bind(service_id)
            .bind(integration_id)
            .bind(ev.at.timestamp_millis())
            .bind(&ev.summary)
            .bind(&ev.source)
            .bind(Json(&ev.details))
            .bind(Json(&ev.links))
            .execute(pool)
            .await?;
        });
        Ok(ev)
    }

    /// A service's changes in `[from, to]`, newest first.
    pub async fn list_changes(
        &self,
        service_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<ChangeEvent>> {
        type ChangeTuple = (Uuid, Uuid, i64, String, String, Json<serde_json::Value>, Json<Vec<AlertLink>>);
        let rows: Vec<ChangeTuple> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, service_id, at, summary, source, details, links FROM change_events \
                            WHERE service_id = $1 AND at >= $2 AND at <= $3 ORDER BY at DESC LIMIT $4",
            )
            .bind(service_id)
            .bind(from.timestamp_millis())
            .bind(to.timestamp_millis())
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, service_id, at, summary, source, details, links)| ChangeEvent {
                id,
                service_id,
                at: from_millis(at),
                summary,
                source,
                details: details.0,
                links: links.0,
            })
            .collect())
    }

    // ---- postmortems ----------------------------------------------------------------------

    pub async fn get_postmortem(&self, incident_id: Uuid) -> StoreResult<Option<Postmortem>> {
        type PmTuple = (String, String, String, String, String, String, String, i64, i64);
        let row: Option<PmTuple> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT summary, impact, root_cause, contributing_factors, timeline, lessons, \
                 author, created_at, updated_at FROM postmortems WHERE incident_id = $1",
            )
            .bind(incident_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(summary, impact, root_cause, contributing_factors, timeline, lessons, author, c, u)| Postmortem {
            incident_id,
            spec: PostmortemSpec { summary, impact, root_cause, contributing_factors, timeline, lessons },
            author,
            created_at: from_millis(c),
            updated_at: from_millis(u),
        }))
    }

    /// Writes the postmortem of a resolved incident.
    pub async fn save_postmortem(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        incident_id: Uuid,
        spec: PostmortemSpec,
    ) -> StoreResult<Postmortem> {
        let inc = self.get_incident(incident_id).await?;
        if inc.status != Status::Resolved {
            return Err(StoreError::Conflict(
                "postmortems are written for resolved incidents; resolve it first".into(),
            ));
        }
        let ms = now.timestamp_millis();
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO postmortems (incident_id, summary, impact, root_cause, \
                 contributing_factors, timeline, lessons, author, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (incident_id) \
                 DO UPDATE SET summary = excluded.summary, impact = excluded.impact, root_cause = \
                 excluded.root_cause, contributing_factors = excluded.contributing_factors, timeline \
                 = excluded.timeline, lessons = excluded.lessons, updated_at = excluded.updated_at",
            )
            .bind(incident_id)
            .bind(&spec.summary)
            .bind(&spec.impact)
            .bind(&spec.root_cause)
            .bind(&spec.contributing_factors)
            .bind(&spec.timeline)
            .bind(&spec.lessons)
            .bind(&actor.label)
            .bind(ms)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "postmortem.save",
                    "incident",
                    Some(incident_id),
                    format!("Saved the postmortem of {}", incident::display_number(inc.number))
                )
                .after(&spec)
            );
        });
        self.get_postmortem(incident_id).await?.ok_or(StoreError::NotFound(Entity::Postmortem))
    }

    pub async fn list_action_items(
        &self,
        incident_id: Option<Uuid>,
        open_only: bool,
        limit: i64,
    ) -> StoreResult<Vec<ActionItem>> {
        let rows: Vec<ActionRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{ACTION_SELECT} WHERE ($1 IS NULL OR a.incident_id = $1) AND ($2 = FALSE OR a.status <> 'done') \
                 ORDER BY CASE WHEN a.due_date IS NULL THEN 1 ELSE 0 END, a.due_date, a.created_at LIMIT $3"
            )))
            .bind(incident_id)
            .bind(open_only)
            .bind(limit.clamp(1, 1000))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(ActionItem::from).collect())
    }

    pub async fn get_action_item(&self, id: Uuid) -> StoreResult<ActionItem> {
        let row: Option<ActionRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{ACTION_SELECT} WHERE a.id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(ActionItem::from).ok_or(StoreError::NotFound(Entity::ActionItem))
    }

    pub async fn create_action_item(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        incident_id: Uuid,
        spec: ActionItemSpec,
    ) -> StoreResult<ActionItem> {
        self.get_incident(incident_id).await?;
        if let Some(owner) = spec.owner_id {
            self.usernames(&[Some(owner)])
                .await
                .map_err(|_| opsdeck_core::Error::invalid("owner_id", format!("no user has id {owner}")))?;
        }
        let id = Uuid::now_v7();
        let ms = now.timestamp_millis();
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO action_items (id, incident_id, title, owner_id, due_date, status, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(id)
            .bind(incident_id)
            .bind(&spec.title)
            .bind(spec.owner_id)
            .bind(spec.due_date.map(|d| d.to_string()))
            .bind(spec.status.as_str())
            .bind(ms)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "action_item.create",
                    "action_item",
                    Some(id),
                    format!("Added action item {}", spec.title)
                )
                .after(&spec)
            );
        });
        self.get_action_item(id).await
    }

    pub async fn update_action_item(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        spec: ActionItemSpec,
    ) -> StoreResult<ActionItem> {
        let before = self.get_action_item(id).await?;
        if let Some(owner) = spec.owner_id {
            self.usernames(&[Some(owner)])
                .await
                .map_err(|_| opsdeck_core::Error::invalid("owner_id", format!("no user has id {owner}")))?;
        }
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE action_items SET title = $1, owner_id = $2, due_date = $3, status = $4, \
                 updated_at = $5 WHERE id = $6",
            )
            .bind(&spec.title)
            .bind(spec.owner_id)
            .bind(spec.due_date.map(|d| d.to_string()))
            .bind(spec.status.as_str())
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "action_item.update",
                    "action_item",
                    Some(id),
                    format!("Changed action item {}", spec.title)
                )
                .before(&before)
                .after(&spec)
            );
        });
        self.get_action_item(id).await
    }

    pub async fn delete_action_item(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.get_action_item(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM action_items WHERE id = $1").bind(id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "action_item.delete",
                    "action_item",
                    Some(id),
                    format!("Deleted action item {}", before.title)
                )
                .before(&before)
            );
        });
        Ok(())
    }

    // ---- reports --------------------------------------------------------------------------

    /// Incidents detected in `[from, to)`, optionally for one service, oldest first (at most
    /// [`REPORT_MAX`]); merged incidents are left out, as their time counts in the target.
    pub async fn report_incidents(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        service_id: Option<Uuid>,
    ) -> StoreResult<Vec<ReportRow>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT i.id, i.number, i.title, i.service_id, s.name AS service_name, i.severity, \
                 i.status, i.source, i.alert_count, i.impact_start_at, i.detected_at, \
                 i.acknowledged_at, i.mitigated_at, i.resolved_at FROM incidents i LEFT \
                 JOIN services s ON s.id = i.service_id WHERE i.detected_at >= $1 \
                 AND i.detected_at < $2 AND i.merged_into IS NULL AND ($3 IS NULL \
                 OR i.id IN (SELECT incident_id FROM incident_services \
                 WHERE service_id = $3)) ORDER BY i.detected_at LIMIT $4",
            )
            .bind(from.timestamp_millis())
            .bind(to.timestamp_millis())
            .bind(service_id)
            .bind(REPORT_MAX)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The sources that sent the most alert events in `[from, to)`.
    pub async fn noisiest_sources(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<NoisySource>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT a.integration_id, g.name AS integration_name, a.source_type, s.name AS \
                 service_name, COUNT(*) AS alerts, CAST(SUM(a.count) AS BIGINT) AS events \
                 FROM alerts a LEFT JOIN integrations g ON g.id = a.integration_id LEFT \
                 JOIN services s ON s.id = a.service_id WHERE a.first_seen >= $1 \
                 AND a.first_seen < $2 GROUP BY a.integration_id, g.name, a.source_type, s.name \
                 ORDER BY events DESC LIMIT $3",
            )
            .bind(from.timestamp_millis())
            .bind(to.timestamp_millis())
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }
}
