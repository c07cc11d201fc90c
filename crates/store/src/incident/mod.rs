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
    /// A service desk ticket promoted to this incident (its id, at its version, and key): linked
    /// in the same transaction.
    pub from_ticket: Option<(Uuid, i64, String)>,
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

mod alerts;
mod changes;
mod control;
mod lifecycle;
mod postmortem;
mod read;
mod report;
mod respond;
mod timeline;
