//! Metric series pushed through the API and their points. A push creates the series on first
//! use (as a Pushgateway does), writes its points in multi-row upserts and keeps at most
//! [`KEEP_MAX`] points per series, all in one transaction.

use crate::audit::audit;
use crate::dialect::{fixed_chunks, placeholders};
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::series::{KEEP_MAX, Point, PrometheusSource};
use opsdeck_core::series_alert::{Condition, SeriesAlertSpec};
use uuid::Uuid;

/// Series an instance keeps, at most.
pub const SERIES_MAX: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Series {
    pub id: Uuid,
    pub name: String,
    pub points: i64,
    pub last_at: Option<DateTime<Utc>>,
    pub last_value: Option<f64>,
    /// Read from Prometheus instead of pushed points.
    pub source: Option<PrometheusSource>,
    /// The alerts its forecast raises, if any.
    pub alert: Option<SeriesAlertSpec>,
    /// Whether the capacity alert and the anomaly alert fire now.
    pub exhaustion_alerting: bool,
    pub anomaly_alerting: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    points: i64,
    last_at: Option<i64>,
    last_value: Option<f64>,
    source_url: Option<String>,
    source_query: Option<String>,
    alert: Option<String>,
    alert_service_id: Option<Uuid>,
    exhaustion_alerting: bool,
    anomaly_alerting: bool,
    created_at: i64,
    updated_at: i64,
}

fn series(r: Row) -> Series {
    Series {
        id: r.id,
        name: r.name,
        points: r.points,
        last_at: r.last_at.map(from_millis),
        last_value: r.last_value,
        source: match (r.source_url, r.source_query) {
            (Some(url), Some(query)) => Some(PrometheusSource { url, query }),
            _ => None,
        },
        // The service is the column's: deleting it (SET NULL) ends the alerting.
        alert: r.alert.as_deref().and_then(|a| serde_json::from_str::<SeriesAlertSpec>(a).ok()).and_then(|mut a| {
            a.service_id = r.alert_service_id?;
            Some(a)
        }),
        exhaustion_alerting: r.exhaustion_alerting,
        anomaly_alerting: r.anomaly_alerting,
        created_at: from_millis(r.created_at),
        updated_at: from_millis(r.updated_at),
    }
}

const COLS: &str = "id, name, points, last_at, last_value, source_url, source_query, alert, alert_service_id, \
                    exhaustion_alerting, anomaly_alerting, created_at, updated_at";

impl Db {
    /// Writes `points` (already checked) to the series `name`, creating it if it is new (the
    /// creation is audited; points are data, as check results are, and are not).
    pub async fn push_points(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        name: &str,
        points: &[Point],
    ) -> StoreResult<Series> {
        let backend = self.backend();
        let new_id = Uuid::now_v7();
        write_tx!(self, |tx| {
            let existing: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM series WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
            let id = match existing {
                Some(id) => id,
                None => {
                    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM series").fetch_one(&mut *tx).await?;
                    if n >= SERIES_MAX {
                        return Err(StoreError::Conflict(format!(
                            "at most {SERIES_MAX} series; delete old ones first"
                        )));
                    }
                    // Two first pushes at once: one inserts, the other finds its row.
                    let inserted = sqlx::query(
                        "INSERT INTO series (id, name, points, created_at, updated_at) VALUES ($1, $2, 0, $3, $3) \
                         ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(new_id)
                    .bind(name)
                    .bind(now.timestamp_millis())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 1 {
                        audit!(
                            tx,
                            actor,
                            now,
                            AuditRecord::new("series.create", "series", Some(new_id), format!("Created series {name}"))
                        );
                    }
                    sqlx::query_scalar("SELECT id FROM series WHERE name = $1").bind(name).fetch_one(&mut *tx).await?
                }
            };
            for chunk in fixed_chunks(points) {
                let rows: Vec<String> =
                    (0..chunk.len()).map(|i| format!("({})", placeholders(backend, 3, 1 + i * 3))).collect();
                let sql = format!(
                    "INSERT INTO series_points (series_id, at, value) VALUES {} \
                     ON CONFLICT (series_id, at) DO UPDATE SET value = excluded.value",
                    rows.join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for p in chunk {
                    q = q.bind(id).bind(p.at.timestamp_millis()).bind(p.value);
                }
                q.execute(&mut *tx).await?;
            }
            // Only the newest KEEP_MAX points stay.
            sqlx::query(
                "DELETE FROM series_points WHERE series_id = $1 AND at <= (SELECT at FROM series_points \
                 WHERE series_id = $1 ORDER BY at DESC LIMIT 1 OFFSET $2)",
            )
            .bind(id)
            .bind(KEEP_MAX)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE series SET points = (SELECT COUNT(*) FROM series_points WHERE series_id = $1), \
                 last_at = (SELECT MAX(at) FROM series_points WHERE series_id = $1), \
                 last_value = (SELECT value FROM series_points WHERE series_id = $1 ORDER BY at DESC LIMIT 1), \
                 updated_at = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
        });
        self.get_series(name).await
    }

    /// Reads series `name` from Prometheus (`Some`) or from pushed points again (`None`),
    /// creating the series if it is new.
    pub async fn set_series_source(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        name: &str,
        source: Option<&PrometheusSource>,
    ) -> StoreResult<Series> {
        let new_id = Uuid::now_v7();
        write_tx!(self, |tx| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM series").fetch_one(&mut *tx).await?;
            let exists: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM series WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
            if exists.is_none() && n >= SERIES_MAX {
                return Err(StoreError::Conflict(format!("at most {SERIES_MAX} series; delete old ones first")));
            }
            sqlx::query(
                "INSERT INTO series (id, name, points, source_url, source_query, created_at, updated_at) \
                 VALUES ($1, $2, 0, $3, $4, $5, $5) ON CONFLICT (name) DO UPDATE SET source_url = excluded.source_url, \
                 source_query = excluded.source_query, updated_at = excluded.updated_at",
            )
            .bind(new_id)
            .bind(name)
            .bind(source.map(|s| s.url.as_str()))
            .bind(source.map(|s| s.query.as_str()))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            let what = match source {
                Some(s) => format!("Series {name} now reads {} from {}", s.query, s.url),
                None => format!("Series {name} now reads pushed points"),
            };
            audit!(tx, actor, now, AuditRecord::new("series.source", "series", Some(exists.unwrap_or(new_id)), what));
        });
        self.get_series(name).await
    }

    pub async fn get_series(&self, name: &str) -> StoreResult<Series> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM series WHERE name = $1")))
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        row.map(series).ok_or(StoreError::NotFound(Entity::Series))
    }

    /// Series by name, at most `limit`.
    pub async fn list_series(&self, limit: i64) -> StoreResult<Vec<Series>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM series ORDER BY name LIMIT $1")))
                .bind(limit.clamp(1, SERIES_MAX))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(series).collect())
    }

    /// The newest `limit` points at or after `from`, oldest first.
    pub async fn series_points(&self, id: Uuid, from: DateTime<Utc>, limit: i64) -> StoreResult<Vec<Point>> {
        let rows: Vec<(i64, f64)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT at, value FROM (SELECT at, value FROM series_points WHERE series_id = $1 AND at >= $2 \
                 ORDER BY at DESC LIMIT $3) newest ORDER BY at",
            )
            .bind(id)
            .bind(from.timestamp_millis())
            .bind(limit.clamp(1, KEEP_MAX))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(at, value)| Point { at: from_millis(at), value }).collect())
    }

    /// Deletes a series; the alerts it raises at that moment resolve.
    pub async fn delete_series(&self, actor: &Actor, now: DateTime<Utc>, before: &Series) -> StoreResult<()> {
        write_tx!(self, |tx| {
            // What alerts as the row goes (a watcher's move waits for this, or came first).
            let gone: Option<(Option<Uuid>, bool, bool)> = sqlx::query_as(
                "DELETE FROM series WHERE id = $1 RETURNING alert_service_id, exhaustion_alerting, anomaly_alerting",
            )
            .bind(before.id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((Some(service), exhaustion, anomaly)) = gone {
                let firing = [(Condition::Exhaustion, exhaustion), (Condition::Anomaly, anomaly)];
                for (c, _) in firing.into_iter().filter(|f| f.1) {
                    sqlx::query(crate::series_alert::QUEUE)
                        .bind(Uuid::now_v7())
                        .bind(before.id)
                        .bind(service)
                        .bind(c.as_str())
                        .bind(false)
                        .bind(format!("{} was deleted", before.name))
                        .bind("{}")
                        .bind(now.timestamp_millis())
                        .execute(&mut *tx)
                        .await?;
                }
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("series.delete", "series", Some(before.id), format!("Deleted series {}", before.name))
            );
        });
        Ok(())
    }
}
