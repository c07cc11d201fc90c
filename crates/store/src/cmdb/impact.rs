//! Impact walks over the stored relations: one query per level of the walk
//! ([`opsdeck_core::cmdb::impact::Walk`]), each with the frontier in chunks of 256.

use super::Ci;
use crate::{Backend, Db, StoreResult, with_db};
use opsdeck_core::cmdb::impact::{Hop, Impacted, Walk};
use opsdeck_core::cmdb::{Flow, RelationType};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// The most CIs one walk lists; a walk that reaches more stops and says so.
pub const IMPACT_MAX: usize = 10_000;

/// Which way to walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// What a failure of the CIs reaches ("what breaks if this fails?").
    Impact,
    /// What the CIs rely on ("what does this depend on?").
    DependsOn,
}

/// A CI of a walk's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImpactItem {
    pub ci: Ci,
    pub depth: u32,
    pub path: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImpactAnswer {
    pub items: Vec<ImpactItem>,
    /// The walk reached [`IMPACT_MAX`] CIs and stopped.
    pub truncated: bool,
}

fn kinds(flow: Flow) -> String {
    RelationType::with_flow(flow).iter().map(|k| format!("'{}'", k.as_str())).collect::<Vec<_>>().join(", ")
}

/// The hops out of `n` frontier CIs (`$1`…`$n`): for an impact walk with each reached CI's
/// redundancy and how many CIs it relies on.
fn hops_sql(backend: Backend, n: usize, direction: Direction) -> String {
    let list = crate::dialect::placeholders(backend, n, 1);
    let (to_source, to_target) = (kinds(Flow::ToSource), kinds(Flow::ToTarget));
    match direction {
        Direction::Impact => {
            // Distinct CIs it relies on that are not retired (the walk never reaches those).
            let providers = format!(
                "CASE WHEN c.min_up IS NULL THEN CAST(0 AS BIGINT) ELSE (SELECT count(*) FROM (\
                 SELECT x.target_id FROM ci_relations x JOIN cis p ON p.id = x.target_id WHERE x.source_id = c.id \
                 AND x.kind IN ({to_source}) AND p.status <> 'retired' UNION SELECT y.source_id FROM ci_relations y \
                 JOIN cis p ON p.id = y.source_id WHERE y.target_id = c.id AND y.kind IN ({to_target}) \
                 AND p.status <> 'retired') q) END"
            );
            format!(
                "SELECT r.target_id, r.source_id, c.min_up, {providers} FROM ci_relations r \
                 JOIN cis c ON c.id = r.source_id WHERE r.target_id IN ({list}) AND r.kind IN ({to_source}) \
                 AND c.status <> 'retired' \
                 UNION ALL SELECT r.source_id, r.target_id, c.min_up, {providers} FROM ci_relations r \
                 JOIN cis c ON c.id = r.target_id WHERE r.source_id IN ({list}) AND r.kind IN ({to_target}) \
                 AND c.status <> 'retired'"
            )
        }
        Direction::DependsOn => format!(
            "SELECT r.source_id, r.target_id, CAST(NULL AS INTEGER), CAST(0 AS BIGINT) FROM ci_relations r \
             JOIN cis c ON c.id = r.target_id \
             WHERE r.source_id IN ({list}) AND r.kind IN ({to_source}) AND c.status <> 'retired' \
             UNION ALL SELECT r.target_id, r.source_id, CAST(NULL AS INTEGER), CAST(0 AS BIGINT) FROM ci_relations r \
             JOIN cis c ON c.id = r.source_id WHERE r.target_id IN ({list}) AND r.kind IN ({to_target}) \
             AND c.status <> 'retired'"
        ),
    }
}

impl Db {
    /// Walks from `starts` at most `depth` levels (1 to 20) in `direction`.
    pub async fn ci_walk(&self, starts: &[Uuid], depth: u32, direction: Direction) -> StoreResult<ImpactAnswer> {
        let backend = self.backend();
        let mut walk = Walk::new(starts, depth);
        let mut truncated = false;
        while !walk.frontier().is_empty() {
            let mut hops = Vec::new();
            // 256 ids keep a statement's arguments under the size that stalls on PostgreSQL
            // (`import::STATEMENT_BYTES`).
            for chunk in walk.frontier().chunks(256) {
                let sql = hops_sql(backend, chunk.len(), direction);
                let rows: Vec<(uuid::Uuid, uuid::Uuid, Option<i32>, i64)> = with_db!(self, |pool| {
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    q.fetch_all(pool).await?
                });
                hops.extend(rows.into_iter().map(|(from, to, min_up, providers)| Hop { from, to, min_up, providers }));
            }
            walk.advance(hops);
            if walk.reached() >= IMPACT_MAX {
                truncated = true;
                walk.stop();
            }
        }
        let found: Vec<Impacted> = walk.finish().into_iter().take(IMPACT_MAX).collect();
        let ids: Vec<Uuid> = found.iter().map(|i| i.id).collect();
        let mut cis: HashMap<Uuid, Ci> = self.cis_by_id(&ids).await?.into_iter().map(|c| (c.id, c)).collect();
        let items = found
            .into_iter()
            .filter_map(|i| Some(ImpactItem { ci: cis.remove(&i.id)?, depth: i.depth, path: i.path }))
            .collect();
        Ok(ImpactAnswer { items, truncated })
    }
}

impl Db {
    /// The CIs an incident's alerts are about: the CIs of the monitors that raised them, and
    /// those an alert names in its `ci` label (an identity or a name). At most 500.
    pub async fn incident_cis(&self, incident_id: Uuid) -> StoreResult<Vec<Uuid>> {
        let backend = self.backend();
        type Row = (String, String, sqlx::types::Json<serde_json::Value>);
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as("SELECT scope, dedup_key, labels FROM alerts WHERE incident_id = $1 ORDER BY id LIMIT 1000")
                .bind(incident_id)
                .fetch_all(pool)
                .await?
        });
        let mut monitors = std::collections::BTreeSet::new();
        let mut named = std::collections::BTreeSet::new();
        for (scope, key, labels) in &rows {
            if scope == "monitor"
                && let Some(id) = key.strip_prefix("monitor:").and_then(|k| k.parse::<Uuid>().ok())
            {
                monitors.insert(id);
            }
            if let Some(ci) = labels.0.get("ci").and_then(serde_json::Value::as_str) {
                named.insert(ci.to_owned());
            }
        }
        let mut out: Vec<Uuid> = Vec::new();
        let monitors: Vec<Uuid> = monitors.into_iter().collect();
        for chunk in monitors.chunks(500) {
            let sql = format!(
                "SELECT DISTINCT ci_id FROM monitors WHERE ci_id IS NOT NULL AND id IN ({})",
                crate::dialect::placeholders(backend, chunk.len(), 1)
            );
            let got: Vec<Uuid> = with_db!(self, |pool| {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            out.extend(got);
        }
        let named: Vec<String> = named.into_iter().take(500).collect();
        if !named.is_empty() {
            // An identity names one CI; a name counts only when one CI has it (a sender must not
            // pull in every CI called "db").
            let list = crate::dialect::placeholders(backend, named.len(), 1);
            let sql =
                format!("SELECT id, name, identity FROM cis WHERE identity IN ({list}) OR name IN ({list}) LIMIT 5000");
            let rows: Vec<(Uuid, String, Option<String>)> = with_db!(self, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for n in &named {
                    q = q.bind(n);
                }
                q.fetch_all(pool).await?
            });
            for label in &named {
                if let Some((id, _, _)) = rows.iter().find(|(_, _, i)| i.as_deref() == Some(label.as_str())) {
                    out.push(*id);
                } else if let [(id, _, _)] = rows.iter().filter(|(_, n, _)| n == label).collect::<Vec<_>>()[..] {
                    out.push(*id);
                }
            }
        }
        out.sort();
        out.dedup();
        out.truncate(500);
        Ok(out)
    }
}
