//! Status page subscribers and their outbox (`status_deliveries`), claimed with leases like the
//! notification outbox: a confirmation request or an incident update is one row per
//! subscriber, unique per (subscriber, event), so a retry or a second node never sends it twice.

use crate::audit::audit;
use crate::dialect::{Claim, claim_leased, placeholders};
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::status_subscriber::{SUBSCRIBERS_MAX, SubscriberKind, SubscriberSpec};
use uuid::Uuid;

/// Queues an update's message for every confirmed subscriber of page `$page` who follows the
/// whole page or one of `$components` (every subscriber when the incident names none), on the
/// open transaction `$tx`.
macro_rules! queue_update_deliveries {
    ($tx:expr, $backend:expr, $kind:literal, $page:expr, $update:expr, $components:expr, $now:expr) => {{
        let components: &[uuid::Uuid] = $components;
        let only = if components.is_empty() {
            String::new()
        } else {
            format!(
                " AND (NOT EXISTS (SELECT 1 FROM status_subscriber_components a WHERE a.subscriber_id = s.id) \
                 OR EXISTS (SELECT 1 FROM status_subscriber_components c WHERE c.subscriber_id = s.id \
                 AND c.component_id IN ({})))",
                $crate::dialect::placeholders($backend, components.len(), 4)
            )
        };
        let sql = format!(
            "INSERT INTO status_deliveries (id, subscriber_id, event_id, kind, status, attempts, next_attempt_at, \
             created_at) SELECT {}, s.id, $1, '{}', 'pending', 0, $2, $2 FROM status_subscribers s \
             WHERE s.page_id = $3 AND s.confirmed_at IS NOT NULL{only} ON CONFLICT DO NOTHING",
            $crate::dialect::new_id($backend),
            $kind
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind($update).bind($now).bind($page);
        for c in components {
            q = q.bind(*c);
        }
        q.execute(&mut *$tx).await?.rows_affected()
    }};
}
pub(crate) use queue_update_deliveries;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Subscriber {
    pub id: Uuid,
    pub page_id: Uuid,
    pub kind: SubscriberKind,
    /// The address as a reader may see it (a webhook URL only up to its host).
    pub address: String,
    /// Empty: the whole page.
    pub component_ids: Vec<Uuid>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    page_id: Uuid,
    kind: String,
    address: String,
    confirmed_at: Option<i64>,
    created_at: i64,
}

impl Row {
    fn into_subscriber(self, component_ids: Vec<Uuid>) -> Subscriber {
        let kind = SubscriberKind::parse(&self.kind).unwrap_or(SubscriberKind::Webhook);
        Subscriber {
            id: self.id,
            page_id: self.page_id,
            kind,
            address: SubscriberSpec::shown(kind, &self.address),
            component_ids,
            confirmed_at: self.confirmed_at.map(from_millis),
            created_at: from_millis(self.created_at),
        }
    }
}

/// What [`Db::subscribe`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    /// A new subscriber (asked to confirm unless confirmed at once).
    Created,
    /// Not confirmed yet: its components were replaced and it is asked again.
    Reminded,
    /// Confirmed already; left as it was.
    Existing,
}

/// A claimed delivery with what its message needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueDelivery {
    pub id: Uuid,
    pub subscriber_id: Uuid,
    pub event_id: Uuid,
    pub kind: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
}

/// A delivery's message content: the subscriber, its page, and (for updates) the update.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryDetails {
    pub id: Uuid,
    pub subscriber_kind: String,
    pub address: String,
    pub page_id: Uuid,
    pub slug: String,
    pub title: String,
    pub update_status: Option<String>,
    pub update_body: Option<String>,
    pub update_at: Option<i64>,
    pub incident_id: Option<Uuid>,
    pub incident_name: Option<String>,
    pub incident_status: Option<String>,
    pub impact: Option<String>,
    pub started_at: Option<i64>,
    /// Maintenance messages: its window and announcement.
    pub scheduled_for: Option<i64>,
    pub scheduled_until: Option<i64>,
    pub announcement: Option<String>,
}

/// A send's outcome.
#[derive(Debug, Clone)]
pub enum DeliveryResult {
    Sent,
    Retry { error: String, at: i64 },
    Failed { error: String },
}

const COLS: &str = "id, page_id, kind, address, confirmed_at, created_at";

impl Db {
    /// Adds a subscriber to `page_id`, or finds the one with that address. A new or unconfirmed
    /// subscriber takes `spec`'s components; unless `confirmed`, it is sent a confirmation
    /// request (through the outbox). `actor` is who added it (`None`: a visitor's sign-up).
    pub async fn subscribe(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        page_id: Uuid,
        spec: &SubscriberSpec,
        confirmed: bool,
    ) -> StoreResult<(Subscriber, Subscribed)> {
        let now_ms = now.timestamp_millis();
        let backend = self.backend();
        let out = write_tx!(self, |tx| {
            let existing: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM status_subscribers WHERE page_id = $1 AND kind = $2 AND address = $3"
            )))
            .bind(page_id)
            .bind(spec.kind.as_str())
            .bind(&spec.address)
            .fetch_optional(&mut *tx)
            .await?;
            let (id, outcome, confirmed_at) = match existing {
                Some(r) if r.confirmed_at.is_some() && !confirmed => (r.id, Subscribed::Existing, r.confirmed_at),
                Some(r) => {
                    let at = r.confirmed_at.or(confirmed.then_some(now_ms));
                    sqlx::query("UPDATE status_subscribers SET confirmed_at = $1 WHERE id = $2")
                        .bind(at)
                        .bind(r.id)
                        .execute(&mut *tx)
                        .await?;
                    (r.id, if r.confirmed_at.is_some() { Subscribed::Existing } else { Subscribed::Reminded }, at)
                }
                None => {
                    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM status_subscribers WHERE page_id = $1")
                        .bind(page_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    if count >= SUBSCRIBERS_MAX {
                        return Err(StoreError::Invalid(opsdeck_core::Error::invalid(
                            "email",
                            format!("this page has {SUBSCRIBERS_MAX} subscribers, the most it takes"),
                        )));
                    }
                    let id = Uuid::now_v7();
                    sqlx::query(
                        "INSERT INTO status_subscribers (id, page_id, kind, address, confirmed_at, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(id)
                    .bind(page_id)
                    .bind(spec.kind.as_str())
                    .bind(&spec.address)
                    .bind(confirmed.then_some(now_ms))
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    (id, Subscribed::Created, confirmed.then_some(now_ms))
                }
            };
            if outcome != Subscribed::Existing || confirmed {
                sqlx::query("DELETE FROM status_subscriber_components WHERE subscriber_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if !spec.component_ids.is_empty() {
                    // Only components of this page count (the caller checked; this keeps it so).
                    let sql = format!(
                        "INSERT INTO status_subscriber_components (subscriber_id, component_id) SELECT $1, id \
                         FROM status_page_components WHERE page_id = $2 AND is_group = FALSE AND id IN ({})",
                        crate::dialect::placeholders(backend, spec.component_ids.len(), 3)
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(page_id);
                    for c in &spec.component_ids {
                        q = q.bind(*c);
                    }
                    q.execute(&mut *tx).await?;
                }
            }
            if confirmed_at.is_none() {
                // A new event each time: a reminder is a new message (the caller rate-limits).
                sqlx::query(
                    "INSERT INTO status_deliveries (id, subscriber_id, event_id, kind, status, attempts, \
                     next_attempt_at, created_at) VALUES ($1, $2, $3, 'confirm', 'pending', 0, $4, $4)",
                )
                .bind(Uuid::now_v7())
                .bind(id)
                .bind(Uuid::now_v7())
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
            if outcome != Subscribed::Existing || confirmed {
                audit!(
                    tx,
                    actor,
                    now,
                    AuditRecord::new(
                        "status_page.subscriber_add",
                        "status_page",
                        Some(page_id),
                        format!(
                            "Subscribed {} {}",
                            spec.kind.as_str(),
                            SubscriberSpec::shown(spec.kind, &spec.address)
                        )
                    )
                );
            }
            let row = Row {
                id,
                page_id,
                kind: spec.kind.as_str().to_owned(),
                address: spec.address.clone(),
                confirmed_at,
                created_at: now_ms,
            };
            (row.into_subscriber(spec.component_ids.clone()), outcome)
        });
        Ok(out)
    }

    /// Confirms a subscriber (its e-mail link); `None` if it no longer exists.
    pub async fn confirm_subscriber(&self, now: DateTime<Utc>, id: Uuid) -> StoreResult<Option<Subscriber>> {
        with_db!(self, |pool| {
            sqlx::query("UPDATE status_subscribers SET confirmed_at = COALESCE(confirmed_at, $1) WHERE id = $2")
                .bind(now.timestamp_millis())
                .bind(id)
                .execute(pool)
                .await?;
        });
        self.get_subscriber(id).await.map(Some).or_else(|e| match e {
            StoreError::NotFound(_) => Ok(None),
            e => Err(e),
        })
    }

    pub async fn get_subscriber(&self, id: Uuid) -> StoreResult<Subscriber> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM status_subscribers WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        let row = row.ok_or(StoreError::NotFound(Entity::StatusSubscriber))?;
        let comps: Vec<Uuid> = with_db!(self, |pool| {
            sqlx::query_scalar(
                "SELECT component_id FROM status_subscriber_components WHERE subscriber_id = $1 ORDER BY component_id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        Ok(row.into_subscriber(comps))
    }

    /// Removes a subscriber (an unsubscribe link, or an admin); true if it existed.
    pub async fn unsubscribe(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<bool> {
        let gone = write_tx!(self, |tx| {
            let row: Option<Row> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM status_subscribers WHERE id = $1")))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match row {
                None => false,
                Some(r) => {
                    sqlx::query("DELETE FROM status_subscribers WHERE id = $1").bind(id).execute(&mut *tx).await?;
                    let kind = SubscriberKind::parse(&r.kind).unwrap_or(SubscriberKind::Webhook);
                    audit!(
                        tx,
                        actor,
                        now,
                        AuditRecord::new(
                            "status_page.subscriber_remove",
                            "status_page",
                            Some(r.page_id),
                            format!("Unsubscribed {} {}", r.kind, SubscriberSpec::shown(kind, &r.address))
                        )
                    );
                    true
                }
            }
        });
        Ok(gone)
    }

    /// A page's subscribers in creation order, `limit` after `after` (a subscriber id).
    pub async fn subscribers(&self, page_id: Uuid, after: Option<Uuid>, limit: i64) -> StoreResult<Vec<Subscriber>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM status_subscribers WHERE page_id = $1 AND ($2 IS NULL OR id > $2) \
                 ORDER BY id LIMIT $3"
            )))
            .bind(page_id)
            .bind(after)
            .bind(limit.clamp(1, 10_000))
            .fetch_all(pool)
            .await?
        });
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT subscriber_id, component_id FROM status_subscriber_components WHERE subscriber_id IN ({}) \
             ORDER BY component_id",
            placeholders(self.backend(), rows.len(), 1)
        );
        let pairs: Vec<(Uuid, Uuid)> = with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for r in &rows {
                q = q.bind(r.id);
            }
            q.fetch_all(pool).await?
        });
        let mut by: std::collections::HashMap<Uuid, Vec<Uuid>> = std::collections::HashMap::new();
        for (s, c) in pairs {
            by.entry(s).or_default().push(c);
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let comps = by.remove(&r.id).unwrap_or_default();
                r.into_subscriber(comps)
            })
            .collect())
    }

    /// How many subscribers a page has: (all, confirmed).
    pub async fn subscriber_counts(&self, page_id: Uuid) -> StoreResult<(i64, i64)> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as("SELECT COUNT(*), COUNT(confirmed_at) FROM status_subscribers WHERE page_id = $1")
                .bind(page_id)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Leases due deliveries to `node` until `lease_until`.
    pub async fn claim_status_deliveries(
        &self,
        node: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<DueDelivery>> {
        let claim = Claim {
            table: "status_deliveries",
            key: "id",
            due: "status = 'pending' AND next_attempt_at <= $3",
            order: "next_attempt_at",
            returning: "id, subscriber_id, event_id, kind, attempts, next_attempt_at",
            due_by: None,
        };
        Ok(claim_leased(self, &claim, node, now, lease_until, limit).await?)
    }

    /// What the messages of claimed deliveries say.
    pub async fn delivery_details(&self, ids: &[Uuid]) -> StoreResult<Vec<DeliveryDetails>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT d.id, s.kind AS subscriber_kind, s.address, p.id AS page_id, p.slug, p.title, \
             COALESCE(u.status, mu.status) AS update_status, COALESCE(u.body, mu.body) AS update_body, \
             COALESCE(u.created_at, mu.created_at) AS update_at, COALESCE(i.id, m.id) AS incident_id, \
             COALESCE(i.name, m.name) AS incident_name, COALESCE(i.status, m.status) AS incident_status, \
             i.impact, COALESCE(i.started_at, m.created_at) AS started_at, m.scheduled_for, m.scheduled_until, \
             m.body AS announcement \
             FROM status_deliveries d JOIN status_subscribers s ON s.id = d.subscriber_id \
             JOIN status_pages p ON p.id = s.page_id \
             LEFT JOIN status_incident_updates u ON d.kind = 'update' AND u.id = d.event_id \
             LEFT JOIN status_incidents i ON i.id = u.status_incident_id \
             LEFT JOIN status_maintenance_updates mu ON d.kind = 'maintenance' AND mu.id = d.event_id \
             LEFT JOIN status_maintenances m ON (d.kind = 'maintenance' AND m.id = mu.maintenance_id) \
             OR (d.kind = 'reminder' AND m.id = d.event_id) WHERE d.id IN ({})",
            placeholders(self.backend(), ids.len(), 1)
        );
        Ok(with_db!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        }))
    }

    /// Records send results (only for rows this node still leases).
    pub async fn complete_status_deliveries(
        &self,
        node: &str,
        now: i64,
        results: &[(DueDelivery, DeliveryResult)],
    ) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        write_tx!(self, |tx| {
            for (d, r) in results {
                let (status, next, error, sent) = match r {
                    DeliveryResult::Sent => ("sent", d.next_attempt_at, None, Some(now)),
                    DeliveryResult::Retry { error, at } => ("pending", *at, Some(error.as_str()), None),
                    DeliveryResult::Failed { error } => ("failed", d.next_attempt_at, Some(error.as_str()), None),
                };
                sqlx::query(
                    "UPDATE status_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, \
                     last_error = COALESCE($4, last_error), sent_at = $5, lease_owner = NULL, lease_until = NULL \
                     WHERE id = $6 AND lease_owner = $7 AND status = 'pending'",
                )
                .bind(status)
                .bind(d.attempts.saturating_add(1))
                .bind(next)
                .bind(error)
                .bind(sent)
                .bind(d.id)
                .bind(node)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    /// Removes subscriber messages and report e-mails sent or given up, and vendor, SLO and
    /// series alerts handed to the pipeline, from before `before`: history nobody reads. Pending
    /// ones stay whatever their age.
    pub async fn purge_delivered_outboxes(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let ms = before.timestamp_millis();
        let n = write_tx!(self, |tx| {
            let mut n = 0;
            for sql in [
                "DELETE FROM status_deliveries WHERE status <> 'pending' AND created_at < $1",
                "DELETE FROM vendor_alerts WHERE alert_pending = FALSE AND at < $1",
                "DELETE FROM slo_alerts WHERE alert_pending = FALSE AND at < $1",
                "DELETE FROM series_alerts WHERE alert_pending = FALSE AND at < $1",
                "DELETE FROM anomaly_alerts WHERE alert_pending = FALSE AND at < $1",
                "DELETE FROM report_deliveries WHERE status <> 'pending' AND created_at < $1",
                "DELETE FROM reminder_deliveries WHERE status <> 'pending' AND created_at < $1",
                "DELETE FROM change_mails WHERE status <> 'pending' AND created_at < $1",
                "DELETE FROM ticket_mails WHERE status <> 'pending' AND created_at < $1",
            ] {
                n += sqlx::query(sql).bind(ms).execute(&mut *tx).await?.rows_affected();
            }
            n
        });
        Ok(n)
    }

    /// A page's deliveries by status (`pending`, `sent`, `failed`), for the editor.
    pub async fn delivery_counts(&self, page_id: Uuid) -> StoreResult<Vec<(String, i64)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT d.status, COUNT(*) FROM status_deliveries d JOIN status_subscribers s \
                 ON s.id = d.subscriber_id WHERE s.page_id = $1 GROUP BY d.status ORDER BY d.status",
            )
            .bind(page_id)
            .fetch_all(pool)
            .await?
        }))
    }
}
