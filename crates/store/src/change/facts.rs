//! What the risk of a change reads besides its answers (its services' tiers, how similar
//! changes went), the monitors of its CIs (which its maintenance window silences), and the
//! closed changes the KPIs count.

use crate::{Db, StoreResult, with_db};
use opsdeck_core::change::risk::RiskLevel;
use opsdeck_core::change::{ChangeType, CloseCode};
use uuid::Uuid;

/// Ids bound to `?first…` placeholders in chunks of 256, rows collected.
macro_rules! by_chunks {
    ($db:expr, $ids:expr, |$list:ident| $sql:expr, $row:ty) => {{
        let backend = $db.backend();
        let mut out: Vec<$row> = Vec::new();
        for chunk in $ids.chunks(256) {
            let $list = crate::dialect::placeholders(backend, chunk.len(), 1);
            let sql: String = $sql;
            let rows: Vec<$row> = with_db!($db, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows);
        }
        out
    }};
}

impl Db {
    /// Services by id (id, name, tier); unknown ids are left out.
    pub async fn service_tiers(&self, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String, i16)>> {
        Ok(by_chunks!(
            self,
            ids,
            |list| format!("SELECT id, name, tier FROM services WHERE id IN ({list})"),
            (Uuid, String, i16)
        ))
    }

    /// The monitors bound to any of `cis`.
    pub async fn monitors_of_cis(&self, cis: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        let rows = by_chunks!(
            self,
            cis,
            |list| format!("SELECT id FROM monitors WHERE ci_id IN ({list}) ORDER BY id"),
            (Uuid,)
        );
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Of the closed changes sharing a CI or a service with a change (other than `exclude`), how
    /// many failed (unsuccessful or backed out) and how many there were.
    pub async fn similar_changes(&self, cis: &[Uuid], services: &[Uuid], exclude: Uuid) -> StoreResult<(i64, i64)> {
        let mut ids: Vec<(Uuid, Option<String>)> = by_chunks!(
            self,
            cis,
            |list| format!(
                "SELECT c.id, c.close_code FROM changes c JOIN change_cis x ON x.change_id = c.id \
                 WHERE c.state = 'closed' AND x.ci_id IN ({list})"
            ),
            (Uuid, Option<String>)
        );
        ids.extend(by_chunks!(
            self,
            services,
            |list| format!(
                "SELECT c.id, c.close_code FROM changes c JOIN change_services x ON x.change_id = c.id \
                 WHERE c.state = 'closed' AND x.service_id IN ({list})"
            ),
            (Uuid, Option<String>)
        ));
        ids.retain(|(id, _)| *id != exclude);
        ids.sort_unstable();
        ids.dedup_by_key(|(id, _)| *id);
        let failed =
            ids.iter().filter(|(_, code)| matches!(code.as_deref(), Some("unsuccessful" | "backed_out"))).count();
        Ok((failed as i64, ids.len() as i64))
    }
}

/// A closed change as the KPIs read it.
#[derive(sqlx::FromRow)]
struct ClosedRow {
    kind: String,
    risk_level: String,
    close_code: Option<String>,
    caused: bool,
    created_at: i64,
    actual_end: Option<i64>,
    source: String,
}

impl Db {
    /// The changes closed in `[from, to)`, of one service or all, for the KPIs.
    pub async fn closed_changes(
        &self,
        from: i64,
        to: i64,
        service: Option<Uuid>,
    ) -> StoreResult<Vec<opsdeck_core::change::kpi::Closed>> {
        let rows: Vec<ClosedRow> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT kind, risk_level, close_code, caused_incident_id IS NOT NULL AS caused, created_at, \
                 actual_end, source \
                 FROM changes c WHERE closed_at >= $1 AND closed_at < $2 AND state = 'closed' AND ($3 IS NULL \
                 OR c.id IN (SELECT change_id FROM change_services WHERE service_id = $3))",
            )
            .bind(from)
            .bind(to)
            .bind(service)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|r| opsdeck_core::change::kpi::Closed {
                kind: ChangeType::parse(&r.kind).unwrap_or(ChangeType::Normal),
                risk: RiskLevel::parse(&r.risk_level).unwrap_or(RiskLevel::Low),
                close_code: r.close_code.as_deref().and_then(CloseCode::parse),
                caused_incident: r.caused,
                // Changes recorded after they ran (deploys) were raised when they were done.
                lead_ms: r.actual_end.filter(|_| r.source == "manual").and_then(|e| e.checked_sub(r.created_at)),
            })
            .collect())
    }
}
