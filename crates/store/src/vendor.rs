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

    /// Stores a poll's outcome (only while `node` holds the lease) and schedules the next one;
    /// returns the status before and after when it changed.
    pub async fn record_vendor_poll(
        &self,
        node: &str,
        now: DateTime<Utc>,
        v: &DueVendor,
        outcome: &PollOutcome,
    ) -> StoreResult<Option<(VendorStatus, VendorStatus)>> {
        let now_ms = now.timestamp_millis();
        let next = now_ms.saturating_add(i64::from(v.interval_seconds).saturating_mul(1000));
        let before = VendorStatus::parse(&v.status);
        let after = match outcome {
            PollOutcome::NotModified => before,
            PollOutcome::Read { reading, .. } => VendorStatus::Known(reading.status),
            PollOutcome::Failed { .. } => VendorStatus::Unknown,
        };
        let changed = (after != before).then_some(now_ms);
        let n = with_db!(self, |pool| {
            let q = match outcome {
                PollOutcome::NotModified => sqlx::query(
                    "UPDATE vendors SET checked_at = $1, next_poll_at = $2, reason = NULL, lease_owner = NULL, \
                     lease_until = NULL WHERE id = $3 AND lease_owner = $4",
                )
                .bind(now_ms)
                .bind(next)
                .bind(v.id)
                .bind(node),
                PollOutcome::Read { reading, etag, last_modified } => sqlx::query(
                    "UPDATE vendors SET checked_at = $1, next_poll_at = $2, status = $5, reason = NULL, \
                     description = $6, components = $7, incidents = $8, etag = $9, last_modified = $10, \
                     changed_at = COALESCE($11, changed_at), lease_owner = NULL, lease_until = NULL \
                     WHERE id = $3 AND lease_owner = $4",
                )
                .bind(now_ms)
                .bind(next)
                .bind(v.id)
                .bind(node)
                .bind(after.as_str())
                .bind(&reading.description)
                .bind(Json(&reading.components))
                .bind(Json(&reading.incidents))
                .bind(etag)
                .bind(last_modified)
                .bind(changed),
                PollOutcome::Failed { reason } => sqlx::query(
                    "UPDATE vendors SET checked_at = $1, next_poll_at = $2, status = 'unknown', reason = $5, \
                     etag = NULL, last_modified = NULL, changed_at = COALESCE($6, changed_at), lease_owner = NULL, \
                     lease_until = NULL WHERE id = $3 AND lease_owner = $4",
                )
                .bind(now_ms)
                .bind(next)
                .bind(v.id)
                .bind(node)
                .bind(reason)
                .bind(changed),
            };
            q.execute(pool).await?.rows_affected()
        });
        Ok((n > 0 && after != before).then_some((before, after)))
    }
}
