//! What a batch needs to know of its services (alert settings, tier, whether a route target
//! still exists), kept by the ingest writer between batches while the catalogue revision holds.
//! A steady stream then pays one indexed read per batch instead of three queries. Every write
//! that changes these (a service's tier, its deletion, its alert settings) bumps the catalogue
//! revision in its own transaction, so a batch never applies stale settings.

use crate::dialect::{fixed_chunks, placeholders};
use crate::stmt::{FetchRow, Stmt, WriteTx};
use crate::{Backend, StoreResult};
use opsdeck_core::alert::rules::{AlertSettings, Grouping, Rule};
use sqlx::types::Json;
use std::collections::HashMap;
use uuid::Uuid;

/// Entries kept at most; a writer that saw more services starts afresh.
const MAX_SERVICES: usize = 10_000;
/// How stale `integrations.last_event_at` may be (it is shown to the minute).
pub(crate) const LAST_EVENT_EVERY_MS: i64 = 60_000;

#[derive(Debug, Clone)]
pub(crate) struct ServiceInfo {
    pub tier: i16,
    pub settings: AlertSettings,
}

/// The ingest writer's memory of services between batches (see the module docs).
#[derive(Debug, Default)]
pub struct ServiceCache {
    revision: Option<i64>,
    /// `None`: no service has this id (deleted, or a rule's stale route target).
    services: HashMap<Uuid, Option<ServiceInfo>>,
    /// When this writer last set each integration's `last_event_at`.
    last_event: HashMap<Uuid, i64>,
}

impl ServiceCache {
    /// Forgets everything when the catalogue changed since the entries were read.
    pub(crate) fn check_revision(&mut self, revision: i64) {
        if self.revision != Some(revision) || self.services.len() > MAX_SERVICES {
            self.services.clear();
            self.revision = Some(revision);
        }
    }

    /// The ids among `ids` not known yet, each once.
    pub(crate) fn unknown(&self, ids: impl IntoIterator<Item = Uuid>) -> Vec<Uuid> {
        let mut out: Vec<Uuid> = ids.into_iter().filter(|id| !self.services.contains_key(id)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    pub(crate) fn insert_loaded(&mut self, asked: &[Uuid], rows: Vec<ServiceSettingsRow>) {
        for id in asked {
            self.services.insert(*id, None);
        }
        for r in rows {
            self.services.insert(r.id, Some(r.into_info()));
        }
    }

    pub(crate) fn get(&self, id: &Uuid) -> Option<&ServiceInfo> {
        self.services.get(id).and_then(Option::as_ref)
    }

    /// The integrations whose `last_event_at` is due for a write at `now` (to the minute).
    pub(crate) fn last_event_due(&self, ids: impl IntoIterator<Item = Uuid>, now_ms: i64) -> Vec<Uuid> {
        let mut out: Vec<Uuid> = ids
            .into_iter()
            .filter(|id| self.last_event.get(id).is_none_or(|t| *t <= now_ms - LAST_EVENT_EVERY_MS))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    pub(crate) fn last_event_written(&mut self, ids: &[Uuid], now_ms: i64) {
        if self.last_event.len() > MAX_SERVICES {
            self.last_event.clear();
        }
        for id in ids {
            self.last_event.insert(*id, now_ms);
        }
    }
}

/// A service and its alert settings (columns null when it has none: the defaults apply).
#[derive(sqlx::FromRow)]
pub(crate) struct ServiceSettingsRow {
    id: Uuid,
    tier: i16,
    grouping: Option<String>,
    group_window_seconds: Option<i32>,
    auto_resolve: Option<bool>,
    reopen_window_seconds: Option<i32>,
    rules: Option<Json<Vec<Rule>>>,
}

pub(crate) const SERVICE_SETTINGS_SQL: &str = "SELECT s.id, s.tier, a.grouping, a.group_window_seconds, \
    a.auto_resolve, a.reopen_window_seconds, a.rules FROM services s \
    LEFT JOIN service_alert_settings a ON a.service_id = s.id WHERE s.id IN ";

impl ServiceSettingsRow {
    fn into_info(self) -> ServiceInfo {
        let d = AlertSettings::default();
        let settings = match self.grouping {
            None => d,
            Some(g) => AlertSettings {
                grouping: Grouping::parse(&g).unwrap_or_default(),
                group_window_seconds: self.group_window_seconds.unwrap_or(d.group_window_seconds),
                auto_resolve: self.auto_resolve.unwrap_or(d.auto_resolve),
                reopen_window_seconds: self.reopen_window_seconds.unwrap_or(d.reopen_window_seconds),
                rules: self.rules.map(|r| r.0).unwrap_or_default(),
            },
        };
        ServiceInfo { tier: self.tier, settings }
    }
}

/// Loads the services among `ids` that `cache` does not know yet, on the open transaction.
pub(crate) async fn load_services<T: WriteTx>(
    tx: &mut T,
    backend: Backend,
    cache: &mut ServiceCache,
    ids: impl IntoIterator<Item = Uuid>,
) -> StoreResult<()> {
    let unknown = cache.unknown(ids);
    for chunk in fixed_chunks(&unknown) {
        let sql = format!("{SERVICE_SETTINGS_SQL}({})", placeholders(backend, chunk.len(), 1));
        let rows = tx.fetch::<ServiceSettingsRow>(chunk.iter().fold(Stmt::new(sql), |q, id| q.bind(*id))).await?;
        cache.insert_loaded(chunk, rows);
    }
    Ok(())
}

impl FetchRow for ServiceSettingsRow {
    fn from_sync(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let rules: Option<String> = row.get(6)?;
        let rules = match rules {
            Some(text) => Some(Json(serde_json::from_str(&text).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
            })?)),
            None => None,
        };
        Ok(ServiceSettingsRow {
            id: row.get(0)?,
            tier: row.get(1)?,
            grouping: row.get(2)?,
            group_window_seconds: row.get(3)?,
            auto_resolve: row.get(4)?,
            reopen_window_seconds: row.get(5)?,
            rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_revision_forgets_services_and_last_events_are_written_once_a_minute() {
        let mut c = ServiceCache::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        c.check_revision(1);
        c.insert_loaded(&[a, b], Vec::new());
        assert_eq!(c.unknown([a, b, a]), Vec::<Uuid>::new());
        assert!(c.get(&a).is_none(), "asked for but not found: no such service");
        c.check_revision(1);
        assert!(c.unknown([a]).is_empty(), "same revision keeps entries");
        c.check_revision(2);
        assert_eq!(c.unknown([a, a]), vec![a]);

        assert_eq!(c.last_event_due([a, a], 1_000_000), vec![a]);
        c.last_event_written(&[a], 1_000_000);
        assert!(c.last_event_due([a], 1_000_000 + LAST_EVENT_EVERY_MS - 1).is_empty());
        assert_eq!(c.last_event_due([a], 1_000_000 + LAST_EVENT_EVERY_MS), vec![a]);
    }
}
