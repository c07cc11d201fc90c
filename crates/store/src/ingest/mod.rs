//! The alert pipeline's write path: signals from every source are applied in batches, one
//! transaction per batch (group commit), so an answered request means a committed event and
//! a burst of thousands of events costs a few dozen statements.
//!
//! A batch: load the services' alert settings and the open alerts for the batch's dedup keys,
//! apply the events in order in memory (dedup, acknowledge, resolve), find or open incidents
//! for new alerts (grouping), then write everything with multi-row statements.

use crate::dialect::{BeginWrite, LockAlerts, fixed_chunks, multi_row, placeholders};
use crate::timeline::{TimelineEntry, insert_timeline};
use crate::{Backend, Db, StoreResult, with_db, with_writer};
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

impl crate::stmt::FetchRow for AlertRow {
    /// In the order of [`ALERT_COLS`].
    fn from_sync(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        use crate::stmt::json_column;
        Ok(AlertRow {
            id: row.get(0)?,
            scope: row.get(1)?,
            integration_id: row.get(2)?,
            service_id: row.get(3)?,
            incident_id: row.get(4)?,
            dedup_key: row.get(5)?,
            group_key: row.get(6)?,
            source_type: row.get(7)?,
            source: row.get(8)?,
            severity: row.get(9)?,
            summary: row.get(10)?,
            details: Json(json_column(row, 11)?),
            links: Json(json_column(row, 12)?),
            labels: Json(json_column(row, 13)?),
            status: row.get(14)?,
            count: row.get(15)?,
            first_seen: row.get(16)?,
            last_seen: row.get(17)?,
            started_at: row.get(18)?,
            acknowledged_at: row.get(19)?,
            resolved_at: row.get(20)?,
            expires_at: row.get(21)?,
        })
    }
}

const INC_COLS: &str = "id, number, title, status, severity, service_id, group_key, alert_count, open_alerts, \
    last_alert_at, acknowledged_at, mitigated_at, resolved_at, joined_noted_at, reopened_at, hold_until";

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
    reopened_at: Option<i64>,
    hold_until: Option<i64>,
}

impl crate::stmt::FetchRow for IncRow {
    /// In the order of [`INC_COLS`].
    fn from_sync(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(IncRow {
            id: row.get(0)?,
            number: row.get(1)?,
            title: row.get(2)?,
            status: row.get(3)?,
            severity: row.get(4)?,
            service_id: row.get(5)?,
            group_key: row.get(6)?,
            alert_count: row.get(7)?,
            open_alerts: row.get(8)?,
            last_alert_at: row.get(9)?,
            acknowledged_at: row.get(10)?,
            mitigated_at: row.get(11)?,
            resolved_at: row.get(12)?,
            joined_noted_at: row.get(13)?,
            reopened_at: row.get(14)?,
            hold_until: row.get(15)?,
        })
    }
}

/// An incident in memory during a batch.
#[derive(Debug)]
struct Inc {
    row: IncRow,
    new: bool,
    dirty: bool,
    /// Reopened by an alert in this batch: its escalation starts again.
    reopened: bool,
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

/// What grouping needs besides the alerts and incidents: the services' settings and tiers, and
/// for each new alert's key the incident it last belonged to if that one may be reopened.
struct Assign<'a> {
    settings: &'a HashMap<Uuid, AlertSettings>,
    tiers: HashMap<Uuid, i16>,
    recent: HashMap<String, Uuid>,
}

/// The group key an alert is grouped by under [`Grouping::Key`].
fn group_key_of(row: &AlertRow) -> String {
    row.group_key.clone().unwrap_or_else(|| {
        if row.labels.0.is_empty() { row.dedup_key.clone() } else { label_fingerprint(&row.labels.0) }
    })
}

/// Finds or opens an incident for every new alert. New incidents get number 0 until numbers
/// are allocated.
///
/// An alert whose key last belonged to an incident of the same service that resolved within the
/// service's reopen window (or that is held open for flapping) goes back to that incident, which
/// is reopened, instead of opening a new one. New incidents take their severity from the alert
/// and the service's tier ([`Sev::for_service`]).
fn assign_incidents(works: &mut [Work], incs: &mut Vec<Inc>, ctx: &Assign<'_>, now: i64) {
    let default = AlertSettings::default();
    for w in works.iter_mut().filter(|w| w.new) {
        let Some(service_id) = w.row.service_id else { continue };
        let st = ctx.settings.get(&service_id).unwrap_or(&default);
        let gk = group_key_of(&w.row);
        let window_start = now - i64::from(st.group_window_seconds) * 1000;
        // Windows are validated to at most 7 days, `now` is a clock reading: no overflow, but
        // saturate anyway rather than trust that far away.
        let reopen_after = now.saturating_sub(i64::from(st.reopen_window_seconds).saturating_mul(1000));
        let earlier =
            ctx.recent.get(w.row.dedup_key.as_str()).and_then(|id| incs.iter().position(|i| i.row.id == *id)).filter(
                |&n| {
                    let i = &incs[n].row;
                    st.reopen_window_seconds > 0
                        && i.service_id == Some(service_id)
                        && if i.status == "resolved" {
                            i.resolved_at.is_some_and(|at| at > reopen_after)
                        } else {
                            i.hold_until.is_some()
                        }
                },
            );
        if let Some(n) = earlier {
            let inc = &mut incs[n];
            if inc.row.status == "resolved" {
                let gap = now.saturating_sub(inc.row.resolved_at.unwrap_or(now)) / 1000;
                inc.row.status = "triggered".into();
                inc.row.resolved_at = None;
                inc.row.mitigated_at = None;
                inc.row.reopened_at = Some(now);
                inc.reopened = true;
                inc.events.push((
                    kind::STATUS,
                    format!(
                        "Reopened: {} fired again {} after the incident resolved",
                        w.row.summary,
                        opsdeck_core::incident::human_duration(gap)
                    ),
                ));
            } else {
                inc.events
                    .push((kind::STATUS, format!("{} fired again: the flapping incident stays open", w.row.summary)));
            }
            inc.row.hold_until = None;
            inc.dirty = true;
        }
        let found = earlier.or_else(|| match st.grouping {
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
        });
        let tier = ctx.tiers.get(&service_id).copied().unwrap_or(opsdeck_core::catalogue::DEFAULT_TIER);
        let sev = Sev::for_service(severity_of(&w.row), tier);
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
                        reopened_at: None,
                        hold_until: None,
                    },
                    new: true,
                    dirty: true,
                    reopened: false,
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
                let st = inc.row.service_id.and_then(|s| settings.get(&s)).unwrap_or(&default);
                let window = i64::from(st.reopen_window_seconds).saturating_mul(1000);
                let flapping = window > 0 && inc.row.reopened_at.is_some_and(|at| at >= now.saturating_sub(window));
                if inc.row.open_alerts == 0 && st.auto_resolve && inc.row.status != "resolved" && flapping {
                    inc.row.hold_until = Some(now.saturating_add(window));
                    inc.events.push((
                        kind::STATUS,
                        format!(
                            "Flapping: all alerts resolved again soon after the incident reopened; it stays \
                             open and resolves by itself once no alert has fired for {}",
                            opsdeck_core::incident::human_duration(window / 1000)
                        ),
                    ));
                } else if inc.row.open_alerts == 0 && st.auto_resolve && inc.row.status != "resolved" {
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

mod batch;
pub(crate) mod services;
mod sweep;

pub use services::ServiceCache;
