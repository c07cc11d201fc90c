//! The alert pipeline's write path: signals from every source are applied in batches, one
//! transaction per batch (group commit), so an answered request means a committed event and
//! a burst of thousands of events costs a few dozen statements.
//!
//! A batch: load the services' alert settings and the open alerts for the batch's dedup keys,
//! apply the events in order in memory (dedup, acknowledge, resolve), find or open incidents
//! for new alerts (grouping), then write everything with multi-row statements.

use crate::dialect::{BeginWrite, LockAlerts, fixed_chunks, multi_row, placeholders};
use crate::integration::SettingsRowWithId;
use crate::timeline::{TimelineEntry, insert_timeline};
use crate::{Backend, Db, StoreResult, with_db};
use chrono::{DateTime, Utc};
use opsdeck_core::alert::rules::{self, AlertSettings, Decision, Grouping};
use opsdeck_core::alert::{Action, AlertLink, Severity, Signal, label_fingerprint};
use opsdeck_core::incident::{Sev, kind};
use sqlx::types::Json;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// One signal on its way in, with where it came from.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Dedup scope: the integration id, or `monitor` for Opsdeck's own monitors.
    pub scope: String,
    pub integration_id: Option<Uuid>,
    pub service_id: Uuid,
    /// `pagerduty`, `alertmanager`, `grafana`, `webhook` or `monitor`.
    pub source_type: &'static str,
    pub signal: Signal,
}

/// What became of one envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub dedup_key: String,
    /// The alert the event created or updated; `None` when it was ignored (a resolve of an
    /// unknown key) or dropped by a rule.
    pub alert_id: Option<Uuid>,
    pub incident_id: Option<Uuid>,
    pub dropped: bool,
}

/// What a batch did, for live updates.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub applied: Vec<Applied>,
    /// Incidents opened: (id, number, title).
    pub opened: Vec<(Uuid, i64, String)>,
    /// Incidents whose status or alerts changed.
    pub changed: Vec<Uuid>,
}

pub(crate) const ALERT_COLS: &str = "id, scope, integration_id, service_id, incident_id, dedup_key, group_key, \
                                     source_type, source, severity, summary, details, links, labels, status, count, \
                                     first_seen, last_seen, started_at, acknowledged_at, resolved_at, expires_at";
const ALERT_NCOLS: usize = 22;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct AlertRow {
    pub id: Uuid,
    pub scope: String,
    pub integration_id: Option<Uuid>,
    pub service_id: Option<Uuid>,
    pub incident_id: Option<Uuid>,
    pub dedup_key: String,
    pub group_key: Option<String>,
    pub source_type: String,
    pub source: String,
    pub severity: String,
    pub summary: String,
    pub details: Json<serde_json::Value>,
    pub links: Json<Vec<AlertLink>>,
    pub labels: Json<BTreeMap<String, String>>,
    pub status: String,
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub started_at: Option<i64>,
    pub acknowledged_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub expires_at: Option<i64>,
}

const INC_COLS: &str = "id, number, title, status, severity, service_id, group_key, alert_count, open_alerts, \
    last_alert_at, acknowledged_at, mitigated_at, resolved_at, joined_noted_at";

/// Alerts joining an open incident are noted on its timeline at most this often.
const JOINED_NOTE_EVERY_MS: i64 = 60_000;

#[derive(Debug, Clone, sqlx::FromRow)]
struct IncRow {
    id: Uuid,
    number: i64,
    title: String,
    status: String,
    severity: String,
    service_id: Option<Uuid>,
    group_key: Option<String>,
    alert_count: i64,
    open_alerts: i64,
    last_alert_at: i64,
    acknowledged_at: Option<i64>,
    mitigated_at: Option<i64>,
    resolved_at: Option<i64>,
    joined_noted_at: Option<i64>,
}

/// An incident in memory during a batch.
#[derive(Debug)]
struct Inc {
    row: IncRow,
    new: bool,
    dirty: bool,
    impact_start: i64,
    source: &'static str,
    joined: Vec<String>,
    /// (kind, body) entries to add besides the joined-alerts entry.
    events: Vec<(&'static str, String)>,
}

struct Work {
    row: AlertRow,
    new: bool,
    /// The whole row is written.
    dirty: bool,
    /// Only count, last_seen and expires_at changed (a plain repeat): a narrow update that
    /// leaves the row's indexes alone.
    touched: bool,
}

fn new_alert(env: &Envelope, service_id: Uuid, s: &Signal, now: i64) -> AlertRow {
    AlertRow {
        id: Uuid::now_v7(),
        scope: env.scope.clone(),
        integration_id: env.integration_id,
        service_id: Some(service_id),
        incident_id: None,
        dedup_key: s.dedup_key.clone(),
        group_key: s.group_key.clone(),
        source_type: env.source_type.to_owned(),
        source: s.source.clone(),
        severity: s.severity.as_str().to_owned(),
        summary: s.summary.clone(),
        details: Json(s.details.clone()),
        links: Json(s.links.clone()),
        labels: Json(s.labels.clone()),
        status: "firing".into(),
        count: 1,
        first_seen: now,
        last_seen: now,
        started_at: s.started_at.map(|t| t.timestamp_millis().min(now)),
        acknowledged_at: None,
        resolved_at: None,
        expires_at: s.expires_at.map(|t| t.timestamp_millis()),
    }
}

fn severity_of(row: &AlertRow) -> Severity {
    Severity::parse(&row.severity).unwrap_or(Severity::Error)
}

/// Applies the events in order to the open alerts: returns the touched alerts, what became of
/// each envelope (by index into `works`), and the incidents whose alerts were acknowledged or
/// resolved (with the source that did it).
#[allow(clippy::type_complexity)]
fn apply_events(
    envs: &[Envelope],
    settings: &HashMap<Uuid, AlertSettings>,
    valid_routes: &HashSet<Uuid>,
    open: Vec<AlertRow>,
    now: i64,
) -> (Vec<Work>, Vec<(String, Option<usize>, bool)>, Vec<(Uuid, Action, &'static str)>) {
    let mut works: Vec<Work> = Vec::with_capacity(open.len() + envs.len());
    let mut idx: HashMap<(String, String), usize> = HashMap::with_capacity(open.len() + envs.len());
    for row in open {
        idx.insert((row.scope.clone(), row.dedup_key.clone()), works.len());
        works.push(Work { row, new: false, dirty: false, touched: false });
    }
    let mut outcomes = Vec::with_capacity(envs.len());
    let mut follow_ups = Vec::new();
    for env in envs {
        let rules_of = settings.get(&env.service_id).map(|s| s.rules.as_slice()).unwrap_or_default();
        // Without rules the signal is used as it is (no copy).
        let (service_id, s): (Uuid, Cow<'_, Signal>) = if rules_of.is_empty() {
            (env.service_id, Cow::Borrowed(&env.signal))
        } else {
            match rules::apply(rules_of, env.signal.clone()) {
                Decision::Drop => {
                    outcomes.push((env.signal.dedup_key.clone(), None, true));
                    continue;
                }
                Decision::Keep(s) => (env.service_id, Cow::Owned(s)),
                // A route to a service that no longer exists keeps the alert where it was sent.
                Decision::Route(to, s) if valid_routes.contains(&to) => (to, Cow::Owned(s)),
                Decision::Route(_, s) => (env.service_id, Cow::Owned(s)),
            }
        };
        let key = (env.scope.clone(), s.dedup_key.clone());
        let existing = idx.get(&key).copied();
        match (s.action, existing) {
            (Action::Trigger, Some(i)) => {
                let w = &mut works[i];
                let r = &mut w.row;
                r.count += 1;
                r.last_seen = now;
                r.expires_at = s.expires_at.map(|t| t.timestamp_millis());
                let changed = r.severity != s.severity.as_str()
                    || r.details.0 != s.details
                    || (!s.links.is_empty() && r.links.0 != s.links);
                if changed {
                    r.severity = s.severity.as_str().to_owned();
                    r.details = Json(s.details.clone());
                    if !s.links.is_empty() {
                        r.links = Json(s.links.clone());
                    }
                    w.dirty = true;
                } else {
                    w.touched = true;
                }
                outcomes.push((s.dedup_key.clone(), Some(i), false));
            }
            (Action::Trigger, None) => {
                let row = new_alert(env, service_id, &s, now);
                idx.insert(key, works.len());
                outcomes.push((s.dedup_key.clone(), Some(works.len()), false));
                works.push(Work { row, new: true, dirty: true, touched: false });
            }
            (Action::Acknowledge, Some(i)) => {
                let w = &mut works[i];
                if w.row.status == "firing" {
                    w.row.status = "acknowledged".into();
                    w.row.acknowledged_at = Some(now);
                    w.row.last_seen = now;
                    w.dirty = true;
                    if let Some(inc) = w.row.incident_id {
                        follow_ups.push((inc, Action::Acknowledge, env.source_type));
                    }
                }
                outcomes.push((s.dedup_key.clone(), Some(i), false));
            }
            (Action::Resolve, Some(i)) => {
                let w = &mut works[i];
                w.row.status = "resolved".into();
                w.row.resolved_at = Some(now);
                w.row.last_seen = now;
                w.row.expires_at = None;
                w.dirty = true;
                idx.remove(&key);
                // An alert opened in this batch has no incident yet; assignment counts it.
                if let Some(inc) = w.row.incident_id {
                    follow_ups.push((inc, Action::Resolve, env.source_type));
                }
                outcomes.push((s.dedup_key.clone(), Some(i), false));
            }
            // PagerDuty: acknowledging or resolving an unknown key is silently ignored.
            (Action::Acknowledge | Action::Resolve, None) => outcomes.push((s.dedup_key.clone(), None, false)),
        }
    }
    (works, outcomes, follow_ups)
}

/// The group key an alert is grouped by under [`Grouping::Key`].
fn group_key_of(row: &AlertRow) -> String {
    row.group_key.clone().unwrap_or_else(|| {
        if row.labels.0.is_empty() { row.dedup_key.clone() } else { label_fingerprint(&row.labels.0) }
    })
}

/// Finds or opens an incident for every new alert. New incidents get number 0 until numbers
/// are allocated.
fn assign_incidents(works: &mut [Work], incs: &mut Vec<Inc>, settings: &HashMap<Uuid, AlertSettings>, now: i64) {
    let default = AlertSettings::default();
    for w in works.iter_mut().filter(|w| w.new) {
        let Some(service_id) = w.row.service_id else { continue };
        let st = settings.get(&service_id).unwrap_or(&default);
        let gk = group_key_of(&w.row);
        let window_start = now - i64::from(st.group_window_seconds) * 1000;
        let found = match st.grouping {
            Grouping::None => None,
            Grouping::Time => incs
                .iter()
                .enumerate()
                .filter(|(_, i)| {
                    i.row.service_id == Some(service_id)
                        && i.row.status != "resolved"
                        && i.row.last_alert_at >= window_start
                })
                .max_by_key(|(_, i)| i.row.last_alert_at)
                .map(|(n, _)| n),
            Grouping::Key => incs.iter().position(|i| {
                i.row.service_id == Some(service_id)
                    && i.row.status != "resolved"
                    && i.row.group_key.as_deref() == Some(&gk)
            }),
        };
        let sev = Sev::from_alert(severity_of(&w.row));
        let n = match found {
            Some(n) => {
                let inc = &mut incs[n];
                inc.row.alert_count += 1;
                inc.row.last_alert_at = now;
                if let Some(cur) = Sev::parse(&inc.row.severity)
                    && sev < cur
                {
                    inc.events.push((kind::SEVERITY, format!("Severity raised from {cur} to {sev} by a new alert")));
                    inc.row.severity = sev.as_str().to_owned();
                }
                inc.joined.push(w.row.summary.clone());
                inc.dirty = true;
                n
            }
            None => {
                let title = opsdeck_core::alert::clip(&w.row.summary, opsdeck_core::incident::TITLE_MAX);
                incs.push(Inc {
                    row: IncRow {
                        id: Uuid::now_v7(),
                        number: 0,
                        title,
                        status: "triggered".into(),
                        severity: sev.as_str().to_owned(),
                        service_id: Some(service_id),
                        group_key: (st.grouping == Grouping::Key).then_some(gk),
                        alert_count: 1,
                        open_alerts: 0,
                        last_alert_at: now,
                        acknowledged_at: None,
                        mitigated_at: None,
                        resolved_at: None,
                        joined_noted_at: Some(now),
                    },
                    new: true,
                    dirty: true,
                    impact_start: w.row.started_at.unwrap_or(now),
                    source: if w.row.source_type == "monitor" { "monitor" } else { "alert" },
                    joined: Vec::new(),
                    events: Vec::new(),
                });
                incs.len() - 1
            }
        };
        let inc = &mut incs[n];
        if w.row.status != "resolved" {
            inc.row.open_alerts += 1;
        }
        if inc.new {
            inc.impact_start = inc.impact_start.min(w.row.started_at.unwrap_or(now));
        }
        w.row.incident_id = Some(inc.row.id);
    }
}

/// Acknowledgements and resolves of alerts move their incidents: the first acknowledged alert
/// acknowledges a triggered incident; the last resolved alert resolves it when the service
/// auto-resolves.
fn follow_up_incidents(
    incs: &mut [Inc],
    follow_ups: &[(Uuid, Action, &'static str)],
    settings: &HashMap<Uuid, AlertSettings>,
    now: i64,
) {
    let default = AlertSettings::default();
    for (id, action, source) in follow_ups {
        let Some(inc) = incs.iter_mut().find(|i| i.row.id == *id) else { continue };
        match action {
            Action::Acknowledge if inc.row.status == "triggered" => {
                inc.row.status = "acknowledged".into();
                inc.row.acknowledged_at.get_or_insert(now);
                inc.events.push((kind::STATUS, format!("Acknowledged by a {source} event")));
                inc.dirty = true;
            }
            Action::Resolve => {
                inc.row.open_alerts = (inc.row.open_alerts - 1).max(0);
                inc.dirty = true;
                let auto = inc.row.service_id.and_then(|s| settings.get(&s)).unwrap_or(&default).auto_resolve;
                if inc.row.open_alerts == 0 && auto && inc.row.status != "resolved" {
                    inc.row.status = "resolved".into();
                    inc.row.resolved_at = Some(now);
                    inc.row.mitigated_at.get_or_insert(now);
                    inc.events.push((
                        kind::STATUS,
                        format!("Resolved automatically: all alerts resolved (last by a {source} event)"),
                    ));
                }
            }
            _ => {}
        }
    }
    // Incidents opened in this batch whose alerts all resolved in it too.
    for inc in incs.iter_mut().filter(|i| i.new && i.row.open_alerts == 0 && i.row.status != "resolved") {
        if inc.row.service_id.and_then(|s| settings.get(&s)).unwrap_or(&default).auto_resolve {
            inc.row.status = "resolved".into();
            inc.row.resolved_at = Some(now);
            inc.row.mitigated_at = Some(now);
            inc.events.push((kind::STATUS, "Resolved automatically: all alerts resolved".into()));
        }
    }
}

/// The timeline note for alerts that joined in this batch: on a new incident always, on an
/// existing one at most once a minute (a storm would otherwise add a note per batch); the
/// incident's alert count carries the rest.
fn joined_entry(inc: &mut Inc, now: i64) -> Option<String> {
    if inc.joined.is_empty() {
        return None;
    }
    if !inc.new {
        if inc.row.joined_noted_at.is_some_and(|t| now - t < JOINED_NOTE_EVERY_MS) {
            return None;
        }
        inc.row.joined_noted_at = Some(now);
    }
    Some(match inc.joined.len() {
        1 => format!("Alert joined: {}", inc.joined[0]),
        n => format!("{n} alerts joined ({} in all), the first: {}", inc.row.alert_count, inc.joined[0]),
    })
}

macro_rules! bind_alert {
    ($q:expr, $r:expr) => {
        $q.bind($r.id)
            .bind(&$r.scope)
            .bind($r.integration_id)
            .bind($r.service_id)
            .bind($r.incident_id)
            .bind(&$r.dedup_key)
            .bind(&$r.group_key)
            .bind(&$r.source_type)
            .bind(&$r.source)
            .bind(&$r.severity)
            .bind(&$r.summary)
            .bind(&$r.details)
            .bind(&$r.links)
            .bind(&$r.labels)
            .bind(&$r.status)
            .bind($r.count)
            .bind($r.first_seen)
            .bind($r.last_seen)
            .bind($r.started_at)
            .bind($r.acknowledged_at)
            .bind($r.resolved_at)
            .bind($r.expires_at)
    };
}

fn upsert_alerts_sql(backend: Backend, rows: usize) -> String {
    multi_row(
        backend,
        &format!("INSERT INTO alerts ({ALERT_COLS}) VALUES "),
        ALERT_NCOLS,
        rows,
        " ON CONFLICT (id) DO UPDATE SET incident_id = excluded.incident_id, severity = \
         excluded.severity, details = excluded.details, links = excluded.links, status = \
         excluded.status, count = excluded.count, last_seen = excluded.last_seen, \
         acknowledged_at = excluded.acknowledged_at, resolved_at = excluded.resolved_at, \
         expires_at = excluded.expires_at",
    )
}

impl Db {
    /// Applies a batch of envelopes in one transaction and reports what became of each.
    pub async fn apply_signals(&self, now: DateTime<Utc>, envs: &[Envelope]) -> StoreResult<Report> {
        let backend = self.backend();
        let now_ms = now.timestamp_millis();
        let mut report = Report::default();
        if envs.is_empty() {
            return Ok(report);
        }
        with_db!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            tx.lock_alerts().await?;

            // 1. Settings of the services involved, including route targets.
            let mut service_ids: Vec<Uuid> =
                envs.iter().map(|e| e.service_id).collect::<HashSet<_>>().into_iter().collect();
            let mut settings: HashMap<Uuid, AlertSettings> = HashMap::new();
            let load_settings = |ids: &[Uuid]| {
                format!(
                    "SELECT service_id, grouping, group_window_seconds, auto_resolve, rules \
                     FROM service_alert_settings WHERE service_id IN ({})",
                    placeholders(backend, ids.len(), 1)
                )
            };
            {
                let mut q = sqlx::query_as::<_, SettingsRowWithId>(sqlx::AssertSqlSafe(load_settings(&service_ids)));
                for id in &service_ids {
                    q = q.bind(*id);
                }
                settings.extend(q.fetch_all(&mut *tx).await?.into_iter().map(SettingsRowWithId::into_pair));
            }
            let targets: Vec<Uuid> = settings
                .values()
                .flat_map(|s| s.rules.iter())
                .filter_map(|r| match r.then {
                    rules::RuleAction::Route { service_id } => Some(service_id),
                    _ => None,
                })
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let mut valid_routes = HashSet::new();
            if !targets.is_empty() {
                let sql = format!("SELECT id FROM services WHERE id IN ({})", placeholders(backend, targets.len(), 1));
                let mut q = sqlx::query_scalar::<_, Uuid>(sqlx::AssertSqlSafe(sql));
                for id in &targets {
                    q = q.bind(*id);
                }
                valid_routes.extend(q.fetch_all(&mut *tx).await?);
                let missing: Vec<Uuid> = valid_routes.iter().filter(|id| !settings.contains_key(id)).copied().collect();
                if !missing.is_empty() {
                    let mut q = sqlx::query_as::<_, SettingsRowWithId>(sqlx::AssertSqlSafe(load_settings(&missing)));
                    for id in &missing {
                        q = q.bind(*id);
                    }
                    settings.extend(q.fetch_all(&mut *tx).await?.into_iter().map(SettingsRowWithId::into_pair));
                }
                service_ids.extend(valid_routes.iter().copied());
            }

            // 2. Open alerts for the batch's keys (the scope is checked in memory).
            let keys: Vec<&str> =
                envs.iter().map(|e| e.signal.dedup_key.as_str()).collect::<HashSet<_>>().into_iter().collect();
            let mut open: Vec<AlertRow> = Vec::new();
            for chunk in fixed_chunks(&keys) {
                let sql = format!(
                    "SELECT {ALERT_COLS} FROM alerts WHERE status <> 'resolved' AND dedup_key IN ({})",
                    placeholders(backend, chunk.len(), 1)
                );
                let mut q = sqlx::query_as::<_, AlertRow>(sqlx::AssertSqlSafe(sql));
                for k in chunk {
                    q = q.bind(*k);
                }
                open.extend(q.fetch_all(&mut *tx).await?);
            }
            let scopes: HashSet<&str> = envs.iter().map(|e| e.scope.as_str()).collect();
            open.retain(|r| scopes.contains(r.scope.as_str()));

            // 3. Events in order, in memory.
            let (mut works, outcomes, follow_ups) = apply_events(envs, &settings, &valid_routes, open, now_ms);

            // 4. Incidents: candidates for grouping new alerts, and those whose alerts moved.
            let new_services: Vec<Uuid> = works
                .iter()
                .filter(|w| w.new)
                .filter_map(|w| w.row.service_id)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let mut inc_rows: Vec<IncRow> = Vec::new();
            if !new_services.is_empty() {
                let sql = format!(
                    "SELECT {INC_COLS} FROM incidents WHERE status <> 'resolved' AND service_id IN ({}) \
                                   ORDER BY last_alert_at DESC LIMIT 1000",
                    placeholders(backend, new_services.len(), 1)
                );
                let mut q = sqlx::query_as::<_, IncRow>(sqlx::AssertSqlSafe(sql));
                for id in &new_services {
                    q = q.bind(*id);
                }
                inc_rows.extend(q.fetch_all(&mut *tx).await?);
            }
            let have: HashSet<Uuid> = inc_rows.iter().map(|r| r.id).collect();
            let wanted: Vec<Uuid> = follow_ups
                .iter()
                .map(|f| f.0)
                .filter(|id| !have.contains(id))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            for chunk in fixed_chunks(&wanted) {
                let sql =
                    format!("SELECT {INC_COLS} FROM incidents WHERE id IN ({})", placeholders(backend, chunk.len(), 1));
                let mut q = sqlx::query_as::<_, IncRow>(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                inc_rows.extend(q.fetch_all(&mut *tx).await?);
            }
            let missing: Vec<Uuid> = inc_rows
                .iter()
                .filter_map(|r| r.service_id)
                .filter(|s| !settings.contains_key(s))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            if !missing.is_empty() {
                let mut q = sqlx::query_as::<_, SettingsRowWithId>(sqlx::AssertSqlSafe(load_settings(&missing)));
                for id in &missing {
                    q = q.bind(*id);
                }
                settings.extend(q.fetch_all(&mut *tx).await?.into_iter().map(SettingsRowWithId::into_pair));
            }
            let mut incs: Vec<Inc> = inc_rows
                .into_iter()
                .map(|row| Inc {
                    impact_start: 0,
                    new: false,
                    dirty: false,
                    source: "alert",
                    joined: Vec::new(),
                    events: Vec::new(),
                    row,
                })
                .collect();
            assign_incidents(&mut works, &mut incs, &settings, now_ms);
            // Alerts opened and resolved within this batch count as resolved for their incident.
            follow_up_incidents(&mut incs, &follow_ups, &settings, now_ms);

            // 5. Numbers for new incidents.
            let n_new = incs.iter().filter(|i| i.new).count() as i64;
            if n_new > 0 {
                let last: i64 = sqlx::query_scalar(
                    "UPDATE revisions SET value = value + $1 WHERE name = 'incident_number' \
                     RETURNING value",
                )
                .bind(n_new)
                .fetch_one(&mut *tx)
                .await?;
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
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
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
                q.execute(&mut *tx).await?;
                let sql = multi_row(
                    backend,
                    "INSERT INTO incident_services (incident_id, service_id) VALUES ",
                    2,
                    chunk.len(),
                    "",
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for i in chunk {
                    q = q.bind(i.row.id).bind(i.row.service_id);
                }
                q.execute(&mut *tx).await?;
            }
            for wave in [false, true] {
                let rows: Vec<&AlertRow> = works.iter().filter(|w| w.dirty && w.new == wave).map(|w| &w.row).collect();
                for chunk in fixed_chunks(&rows) {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(upsert_alerts_sql(backend, chunk.len())));
                    for r in chunk {
                        q = bind_alert!(q, r);
                    }
                    q.execute(&mut *tx).await?;
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
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for r in chunk {
                    q = q.bind(r.id).bind(r.count).bind(r.last_seen).bind(r.expires_at);
                }
                q.execute(&mut *tx).await?;
            }
            for i in incs.iter().filter(|i| i.dirty && !i.new) {
                let r = &i.row;
                sqlx::query(
                    "UPDATE incidents SET status = $1, severity = $2, alert_count = $3, open_alerts = \
                     $4, last_alert_at = $5, acknowledged_at = $6, mitigated_at = $7, resolved_at = $8, \
                     snoozed_until = CASE WHEN $1 = 'resolved' THEN NULL ELSE snoozed_until END, \
                     updated_at = $9, joined_noted_at = $11 WHERE id = $10",
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
                .execute(&mut *tx)
                .await?;
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
            insert_timeline!(tx, backend, timeline);
            // Escalations: new triggered incidents start theirs; acknowledged or resolved ones stop.
            for i in &incs {
                if i.new && i.row.status == "triggered" {
                    crate::oncall::start_escalation!(tx, i.row.id, now_ms);
                } else if !i.new && i.dirty && i.row.status != "triggered" {
                    crate::oncall::stop_escalation!(tx, i.row.id);
                }
            }
            let integrations: Vec<Uuid> =
                envs.iter().filter_map(|e| e.integration_id).collect::<HashSet<_>>().into_iter().collect();
            if !integrations.is_empty() {
                let sql = format!(
                    "UPDATE integrations SET last_event_at = $1 WHERE id IN ({})",
                    placeholders(backend, integrations.len(), 2)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now_ms);
                for id in &integrations {
                    q = q.bind(*id);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;

            report.applied = outcomes
                .into_iter()
                .map(|(dedup_key, i, dropped)| {
                    let row = i.map(|i| &works[i].row);
                    Applied {
                        dedup_key,
                        alert_id: row.map(|r| r.id),
                        incident_id: row.and_then(|r| r.incident_id),
                        dropped,
                    }
                })
                .collect();
            report.opened =
                incs.iter().filter(|i| i.new).map(|i| (i.row.id, i.row.number, i.row.title.clone())).collect();
            report.changed = incs.iter().filter(|i| i.dirty).map(|i| i.row.id).collect();
        });
        Ok(report)
    }

    /// Resolve envelopes for alerts whose `expires_at` has passed (Alertmanager-API alerts that
    /// were not sent again).
    pub async fn expired_alerts(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<Envelope>> {
        let rows: Vec<(String, Option<Uuid>, Option<Uuid>, String)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT scope, integration_id, service_id, dedup_key FROM alerts \
                            WHERE expires_at IS NOT NULL AND expires_at <= $1 AND status <> 'resolved' LIMIT $2",
            )
            .bind(now.timestamp_millis())
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(scope, integration_id, service_id, key)| {
                Some(Envelope {
                    scope,
                    integration_id,
                    service_id: service_id?,
                    source_type: "expiry",
                    signal: Signal::follow_up(Action::Resolve, key),
                })
            })
            .collect())
    }

    /// Snoozed incidents whose time is up go back to triggered; returns their ids.
    pub async fn wake_snoozed(&self, now: DateTime<Utc>) -> StoreResult<Vec<Uuid>> {
        let now_ms = now.timestamp_millis();
        let backend = self.backend();
        let ids: Vec<Uuid> = with_db!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            tx.lock_alerts().await?;
            let ids: Vec<Uuid> = sqlx::query_scalar(
                "UPDATE incidents SET status = 'triggered', snoozed_until = NULL, updated_at = $1 \
                 WHERE snoozed_until IS NOT NULL AND snoozed_until <= $1 \
                 AND status = 'acknowledged' RETURNING id",
            )
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await?;
            for id in &ids {
                crate::oncall::start_escalation!(tx, *id, now_ms);
            }
            let ended = ids.iter().map(|id| {
                TimelineEntry::new(
                    *id,
                    now_ms,
                    kind::SNOOZED,
                    "system",
                    "Snooze ended: the incident is triggered again",
                )
            });
            insert_timeline!(tx, backend, ended.collect());
            tx.commit().await?;
            ids
        });
        Ok(ids)
    }
}
