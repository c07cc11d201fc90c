//! Vendors: third-party status pages polled by the notifier's vendor pass, with what the last
//! poll read (status, components, incidents) and the validators (ETag, Last-Modified) that let
//! the next poll ask "changed since?".

use crate::audit::audit;
use crate::dialect::{Claim, claim_leased};
use crate::error::unique;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::vendor::{
    FeedKind, VENDORS_MAX, VendorComponent, VendorIncident, VendorReading, VendorSpec, VendorStatus,
};
use sqlx::types::Json;
use uuid::Uuid;

/// Queues a vendor alert for `$service` on the open transaction: `$change` is `Some(status)`
/// to trigger, `None` to resolve.
macro_rules! queue_vendor_alert {
    ($tx:expr, $vendor:expr, $name:expr, $service:expr, $component:expr, $change:expr, $now:expr) => {{
        let change: Option<opsdeck_core::status_page::ComponentStatus> = $change;
        let component: &str = $component;
        let what = if component.is_empty() { $name.to_string() } else { format!("{} {}", $name, component) };
        let summary = match change {
            Some(s) => format!("Vendor {what} is {}", s.label().to_lowercase()),
            None => format!("Vendor {what} recovered"),
        };
        sqlx::query(
            "INSERT INTO vendor_alerts (id, vendor_id, service_id, component, status, summary, at, alert_pending) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE)",
        )
        .bind(Uuid::now_v7())
        .bind($vendor)
        .bind($service)
        .bind(component)
        .bind(change.map_or("operational", |s| s.as_str()))
        .bind(summary)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    }};
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Vendor {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub kind: FeedKind,
    pub interval_seconds: i32,
    pub timeout_seconds: i32,
    pub status: VendorStatus,
    /// Why the status is unknown (or was, at the last failed poll).
    pub reason: Option<String>,
    pub description: String,
    pub components: Vec<VendorComponent>,
    pub incidents: Vec<VendorIncident>,
    pub checked_at: Option<DateTime<Utc>>,
    /// When the status last changed.
    pub changed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    url: String,
    kind: String,
    interval_seconds: i32,
    timeout_seconds: i32,
    status: String,
    reason: Option<String>,
    description: String,
    components: Json<Vec<VendorComponent>>,
    incidents: Json<Vec<VendorIncident>>,
    checked_at: Option<i64>,
    changed_at: Option<i64>,
    created_at: i64,
}

impl From<Row> for Vendor {
    fn from(r: Row) -> Self {
        Vendor {
            id: r.id,
            name: r.name,
            url: r.url,
            kind: FeedKind::parse(&r.kind).unwrap_or(FeedKind::Statuspage),
            interval_seconds: r.interval_seconds,
            timeout_seconds: r.timeout_seconds,
            status: VendorStatus::parse(&r.status),
            reason: r.reason,
            description: r.description,
            components: r.components.0,
            incidents: r.incidents.0,
            checked_at: r.checked_at.map(from_millis),
            changed_at: r.changed_at.map(from_millis),
            created_at: from_millis(r.created_at),
        }
    }
}

const COLS: &str = "id, name, url, kind, interval_seconds, timeout_seconds, status, reason, description, components, \
                    incidents, checked_at, changed_at, created_at";

/// A vendor due for a poll.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueVendor {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub kind: String,
    pub interval_seconds: i32,
    pub timeout_seconds: i32,
    pub status: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What a poll found.
#[derive(Debug, Clone)]
pub enum PollOutcome {
    /// 304: nothing changed since the validators.
    NotModified,
    Read {
        reading: VendorReading,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    /// Unreachable, or an answer that cannot be read: the vendor is unknown, with why.
    Failed {
        reason: String,
    },
}

impl Db {
    pub async fn create_vendor(&self, actor: &Actor, now: DateTime<Utc>, spec: &VendorSpec) -> StoreResult<Vendor> {
        let id = Uuid::now_v7();
        let now_ms = now.timestamp_millis();
        write_tx!(self, |tx| {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM vendors").fetch_one(&mut *tx).await?;
            if count >= VENDORS_MAX {
                return Err(StoreError::Conflict(format!("there are {VENDORS_MAX} vendors, the most Opsdeck keeps")));
            }
            sqlx::query(
                "INSERT INTO vendors (id, name, url, kind, interval_seconds, timeout_seconds, status, description, \
                 components, incidents, next_poll_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'unknown', '', $7, $7, $8, $8, $8)",
            )
            .bind(id)
            .bind(&spec.name)
            .bind(&spec.url)
            .bind(spec.kind.as_str())
            .bind(i64::from(spec.interval_seconds))
            .bind(i64::from(spec.timeout_seconds))
            .bind(Json(Vec::<VendorComponent>::new()))
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(unique(&format!("a vendor named {:?} exists already", spec.name)))?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("vendor.create", "vendor", Some(id), format!("Added vendor {}", spec.name))
                    .after(spec)
            );
        });
        self.get_vendor(id).await
    }

    pub async fn get_vendor(&self, id: Uuid) -> StoreResult<Vendor> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM vendors WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Vendor::from).ok_or(StoreError::NotFound(Entity::Vendor))
    }

    /// Every vendor by name (bounded by [`VENDORS_MAX`]).
    pub async fn list_vendors(&self) -> StoreResult<Vec<Vendor>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM vendors ORDER BY name LIMIT $1")))
                .bind(VENDORS_MAX)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Vendor::from).collect())
    }

    pub async fn delete_vendor(&self, actor: &Actor, now: DateTime<Utc>, v: &Vendor) -> StoreResult<()> {
        write_tx!(self, |tx| {
            let n =
                sqlx::query("DELETE FROM vendors WHERE id = $1").bind(v.id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(Entity::Vendor));
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("vendor.delete", "vendor", Some(v.id), format!("Removed vendor {}", v.name))
            );
        });
        Ok(())
    }

    /// Changes what is polled and how often; the next poll is due at once and asks afresh (no
    /// ETag), since the address may have changed. What was read last stays until then.
    pub async fn update_vendor(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Vendor,
        spec: &VendorSpec,
    ) -> StoreResult<Vendor> {
        write_tx!(self, |tx| {
            let n = sqlx::query(
                "UPDATE vendors SET name = $1, url = $2, kind = $3, interval_seconds = $4, timeout_seconds = $5, \
                 etag = NULL, last_modified = NULL, next_poll_at = $6, updated_at = $6, lease_owner = NULL, \
                 lease_until = NULL WHERE id = $7",
            )
            .bind(&spec.name)
            .bind(&spec.url)
            .bind(spec.kind.as_str())
            .bind(i64::from(spec.interval_seconds))
            .bind(i64::from(spec.timeout_seconds))
            .bind(now.timestamp_millis())
            .bind(before.id)
            .execute(&mut *tx)
            .await
            .map_err(unique(&format!("a vendor named {:?} exists already", spec.name)))?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(Entity::Vendor));
            }
            let summary = format!("Changed vendor {}", spec.name);
            audit!(tx, actor, now, AuditRecord::new("vendor.update", "vendor", Some(before.id), summary).after(spec));
        });
        self.get_vendor(before.id).await
    }

    /// Leases vendors due for a poll to `node` until `lease_until`.
    pub async fn claim_due_vendors(
        &self,
        node: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<DueVendor>> {
        let claim = Claim {
            table: "vendors",
            key: "id",
            due: "next_poll_at <= $3",
            order: "next_poll_at",
            returning: "id, name, url, kind, interval_seconds, timeout_seconds, status, etag, last_modified",
            due_by: None,
        };
        Ok(claim_leased(self, &claim, node, now, lease_until, limit).await?)
    }

    /// Extends `node`'s leases of the vendors `ids` (polls still running) to `lease_until`.
    pub async fn renew_vendor_leases(&self, node: &str, ids: &[Uuid], lease_until: i64) -> StoreResult<()> {
        let backend = self.backend();
        for chunk in crate::dialect::fixed_chunks(ids) {
            let sql = format!(
                "UPDATE vendors SET lease_until = $1 WHERE lease_owner = $2 AND id IN ({})",
                crate::dialect::placeholders(backend, chunk.len(), 3)
            );
            crate::with_writer!(self, |pool| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(lease_until).bind(node);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(pool).await?;
            });
        }
        Ok(())
    }

    /// Stores a poll's outcome (only while `node` holds the lease) and schedules the next one;
    /// in the same transaction, queues an alert for each service whose dependency (the whole
    /// vendor, or one component) started or stopped being in trouble. Returns the status before
    /// and after when it changed.
    pub async fn record_vendor_poll(
        &self,
        node: &str,
        now: DateTime<Utc>,
        v: &DueVendor,
        outcome: &PollOutcome,
    ) -> StoreResult<Option<(VendorStatus, VendorStatus)>> {
        let now_ms = now.timestamp_millis();
        let next = now_ms.saturating_add(i64::from(v.interval_seconds).saturating_mul(1000));
        let out = write_tx!(self, |tx| {
            let held: Option<(String, Json<Vec<VendorComponent>>)> =
                sqlx::query_as("SELECT status, components FROM vendors WHERE id = $1 AND lease_owner = $2")
                    .bind(v.id)
                    .bind(node)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((old_status, old_components)) = held else { return Ok(None) };
            let before = VendorStatus::parse(&old_status);
            let after = match outcome {
                PollOutcome::NotModified => before,
                PollOutcome::Read { reading, .. } => VendorStatus::Known(reading.status),
                PollOutcome::Failed { .. } => VendorStatus::Unknown,
            };
            let changed = (after != before).then_some(now_ms);
            match outcome {
                PollOutcome::NotModified => {
                    sqlx::query(
                        "UPDATE vendors SET checked_at = $1, next_poll_at = $2, reason = NULL, lease_owner = NULL, \
                         lease_until = NULL WHERE id = $3",
                    )
                    .bind(now_ms)
                    .bind(next)
                    .bind(v.id)
                    .execute(&mut *tx)
                    .await?;
                }
                PollOutcome::Read { reading, etag, last_modified } => {
                    sqlx::query(
                        "UPDATE vendors SET checked_at = $1, next_poll_at = $2, status = $4, reason = NULL, \
                         description = $5, components = $6, incidents = $7, etag = $8, last_modified = $9, \
                         changed_at = COALESCE($10, changed_at), lease_owner = NULL, lease_until = NULL WHERE id = $3",
                    )
                    .bind(now_ms)
                    .bind(next)
                    .bind(v.id)
                    .bind(after.as_str())
                    .bind(&reading.description)
                    .bind(Json(&reading.components))
                    .bind(Json(&reading.incidents))
                    .bind(etag)
                    .bind(last_modified)
                    .bind(changed)
                    .execute(&mut *tx)
                    .await?;
                    let deps: Vec<(Uuid, String)> =
                        sqlx::query_as("SELECT service_id, component FROM vendor_dependencies WHERE vendor_id = $1")
                            .bind(v.id)
                            .fetch_all(&mut *tx)
                            .await?;
                    let status_of = |status: VendorStatus, comps: &[VendorComponent], component: &str| {
                        if component.is_empty() {
                            match status {
                                VendorStatus::Known(s) => Some(s),
                                VendorStatus::Unknown => None,
                            }
                        } else {
                            comps.iter().find(|c| c.name == component).map(|c| c.status)
                        }
                    };
                    for (service_id, component) in deps {
                        let was = status_of(before, &old_components.0, &component);
                        let is = status_of(after, &reading.components, &component);
                        if let Some(change) = opsdeck_core::vendor::dependency_change(was, is) {
                            queue_vendor_alert!(tx, v.id, &v.name, service_id, &component, change, now_ms);
                        }
                    }
                }
                PollOutcome::Failed { reason } => {
                    sqlx::query(
                        "UPDATE vendors SET checked_at = $1, next_poll_at = $2, status = 'unknown', reason = $4, \
                         etag = NULL, last_modified = NULL, changed_at = COALESCE($5, changed_at), \
                         lease_owner = NULL, lease_until = NULL WHERE id = $3",
                    )
                    .bind(now_ms)
                    .bind(next)
                    .bind(v.id)
                    .bind(reason)
                    .bind(changed)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            (after != before).then_some((before, after))
        });
        Ok(out)
    }

    /// The services that depend on a vendor: (service id, service name, component; '' = all).
    pub async fn vendor_dependents(&self, vendor_id: Uuid) -> StoreResult<Vec<(Uuid, String, String)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT d.service_id, s.name, d.component FROM vendor_dependencies d JOIN services s \
                 ON s.id = d.service_id WHERE d.vendor_id = $1 ORDER BY s.name, d.component",
            )
            .bind(vendor_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Records that `service_id` depends on `v` (or on its `component`); when that is in
    /// trouble already, the service is alerted at once.
    pub async fn add_vendor_dependent(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        v: &Vendor,
        service_id: Uuid,
        component: &str,
    ) -> StoreResult<()> {
        let now_ms = now.timestamp_millis();
        write_tx!(self, |tx| {
            let n = sqlx::query(
                "INSERT INTO vendor_dependencies (vendor_id, service_id, component, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(v.id)
            .bind(service_id)
            .bind(component)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let current = if component.is_empty() {
                match v.status {
                    VendorStatus::Known(s) => Some(s),
                    VendorStatus::Unknown => None,
                }
            } else {
                v.components.iter().find(|c| c.name == component).map(|c| c.status)
            };
            if n > 0
                && let Some(change) = opsdeck_core::vendor::dependency_change(None, current)
            {
                queue_vendor_alert!(tx, v.id, &v.name, service_id, component, change, now_ms);
            }
            let what = if component.is_empty() { v.name.clone() } else { format!("{} / {component}", v.name) };
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("vendor.dependent_add", "service", Some(service_id), format!("Depends on {what}"))
            );
        });
        Ok(())
    }

    /// Ends every dependency of `service_id` on `v`; alerts they raised are resolved.
    pub async fn remove_vendor_dependent(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        v: &Vendor,
        service_id: Uuid,
    ) -> StoreResult<()> {
        let now_ms = now.timestamp_millis();
        write_tx!(self, |tx| {
            let gone: Vec<String> = sqlx::query_scalar(
                "DELETE FROM vendor_dependencies WHERE vendor_id = $1 AND service_id = $2 RETURNING component",
            )
            .bind(v.id)
            .bind(service_id)
            .fetch_all(&mut *tx)
            .await?;
            if gone.is_empty() {
                return Err(StoreError::NotFound(Entity::Service));
            }
            for component in &gone {
                queue_vendor_alert!(tx, v.id, &v.name, service_id, component.as_str(), None, now_ms);
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "vendor.dependent_remove",
                    "service",
                    Some(service_id),
                    format!("No longer depends on {}", v.name)
                )
            );
        });
        Ok(())
    }

    /// Pending vendor alerts, oldest first.
    pub async fn pending_vendor_alerts(&self, limit: i64) -> StoreResult<Vec<VendorAlert>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT id, vendor_id, service_id, component, status, summary, at FROM vendor_alerts \
                 WHERE alert_pending ORDER BY at, id LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Marks vendor alerts as handed to the alert pipeline.
    pub async fn vendor_alerts_sent(&self, ids: &[Uuid]) -> StoreResult<()> {
        self.clear_alert_pending("vendor_alerts", ids).await
    }
}

/// A queued change of a service's vendor dependency.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VendorAlert {
    pub id: Uuid,
    pub vendor_id: Uuid,
    pub service_id: Uuid,
    pub component: String,
    /// The status that triggers, or `operational` (resolve).
    pub status: String,
    pub summary: String,
    pub at: i64,
}

/// The alert a vendor change raises on a dependent service: dedup key
/// `vendor:{vendor}:{component}`, so each dependency is one alert that triggers and resolves.
pub fn vendor_alert_envelope(a: &VendorAlert) -> crate::ingest::Envelope {
    use opsdeck_core::alert::{Action, Signal};
    use opsdeck_core::status_page::ComponentStatus;
    let key = format!("vendor:{}:{}", a.vendor_id.simple(), a.component);
    let signal = match ComponentStatus::parse(&a.status).filter(|s| opsdeck_core::vendor::alerting(*s)) {
        Some(s) => {
            let mut sig = Signal::trigger(key, a.summary.clone(), opsdeck_core::vendor::alert_severity(s));
            sig.source = "vendor status".into();
            sig.started_at = Some(from_millis(a.at));
            sig.details = serde_json::json!({"vendor_id": a.vendor_id, "component": a.component, "status": a.status});
            sig
        }
        None => Signal::follow_up(Action::Resolve, key),
    };
    crate::ingest::Envelope {
        scope: "vendor".into(),
        integration_id: None,
        service_id: a.service_id,
        source_type: "vendor",
        signal,
    }
}
