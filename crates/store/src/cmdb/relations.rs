//! Relations between CIs, and the monitors bound to CIs.

use super::{BoundMonitor, Ci, MANUAL, Relation};
use crate::audit::audit;
use crate::error::unique;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::cmdb::{CiClass, RelationSpec, RelationType};
use uuid::Uuid;

impl Db {
    pub async fn create_relation(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        spec: &RelationSpec,
    ) -> StoreResult<Relation> {
        let id = Uuid::now_v7();
        let ends = self.cis_by_id(&[spec.source_id, spec.target_id]).await?;
        let name_of = |id: Uuid| ends.iter().find(|c| c.id == id).map(|c| c.name.clone());
        let (Some(source), Some(target)) = (name_of(spec.source_id), name_of(spec.target_id)) else {
            return Err(StoreError::NotFound(Entity::Ci));
        };
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO ci_relations (id, source_id, target_id, kind, origin, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(spec.source_id)
            .bind(spec.target_id)
            .bind(spec.kind.as_str())
            .bind(MANUAL)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(unique("these CIs already have a relation of this type"))?;
            let summary = format!("Related {source} {} {target}", spec.kind.labels().0.to_lowercase());
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("ci_relation.create", "ci", Some(spec.source_id), summary).after(spec)
            );
        });
        self.get_relation(id, spec.source_id).await
    }

    /// A relation as `from`'s side reads it.
    pub async fn get_relation(&self, id: Uuid, from: Uuid) -> StoreResult<Relation> {
        let rows = self.relations_where("r.id = $1", id, from).await?;
        rows.into_iter().next().ok_or(StoreError::NotFound(Entity::CiRelation))
    }

    /// Every relation of a CI, both ways (at most 1,000 each way), by type then the other CI's name.
    pub async fn ci_relations(&self, ci: Uuid) -> StoreResult<Vec<Relation>> {
        let mut out = self.relations_where("r.source_id = $1", ci, ci).await?;
        out.extend(self.relations_where("r.target_id = $1", ci, ci).await?);
        out.sort_by(|a, b| (a.kind, !a.outgoing, &a.other_name).cmp(&(b.kind, !b.outgoing, &b.other_name)));
        Ok(out)
    }

    async fn relations_where(&self, cond: &str, arg: Uuid, from: Uuid) -> StoreResult<Vec<Relation>> {
        type Row = (Uuid, Uuid, Uuid, String, String, Option<i64>, i64, String, String, String, String);
        let sql = format!(
            "SELECT r.id, r.source_id, r.target_id, r.kind, r.origin, r.last_seen_at, r.created_at, \
             s.name, s.class, t.name, t.class FROM ci_relations r JOIN cis s ON s.id = r.source_id \
             JOIN cis t ON t.id = r.target_id WHERE {cond} ORDER BY r.id LIMIT 1000"
        );
        let rows: Vec<Row> =
            with_db!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(arg).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .filter_map(|(id, source_id, target_id, kind, origin, seen, created, s_name, s_class, t_name, t_class)| {
                let outgoing = source_id == from;
                let (other_id, other_name, other_class) =
                    if outgoing { (target_id, t_name, t_class) } else { (source_id, s_name, s_class) };
                Some(Relation {
                    id,
                    source_id,
                    target_id,
                    kind: RelationType::parse(&kind)?,
                    origin,
                    last_seen_at: seen.map(from_millis),
                    created_at: from_millis(created),
                    other_id,
                    other_name,
                    other_class: CiClass::parse(&other_class).unwrap_or(CiClass::Other),
                    outgoing,
                })
            })
            .collect())
    }

    pub async fn delete_relation(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<Relation> {
        type Row = (Uuid,);
        let source: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as("SELECT source_id FROM ci_relations WHERE id = $1").bind(id).fetch_optional(pool).await?
        });
        let Some((source_id,)) = source else {
            return Err(StoreError::NotFound(Entity::CiRelation));
        };
        let before = self.get_relation(id, source_id).await?;
        write_tx!(self, |tx| {
            let gone = sqlx::query("DELETE FROM ci_relations WHERE id = $1").bind(id).execute(&mut *tx).await?;
            if gone.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::CiRelation));
            }
            let summary = format!("Removed relation: {} {}", before.label().to_lowercase(), before.other_name);
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("ci_relation.delete", "ci", Some(source_id), summary).before(&before)
            );
        });
        Ok(before)
    }

    /// Binds a monitor to `ci` (`bind`), or unbinds it from `ci` (a monitor bound to another CI
    /// is not found there); its alerts then count toward the CI's blast radius.
    pub async fn bind_monitor(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        monitor_id: Uuid,
        ci: &Ci,
        bind: bool,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| {
            let done = if bind {
                sqlx::query("UPDATE monitors SET ci_id = $1 WHERE id = $2").bind(ci.id).bind(monitor_id)
            } else {
                sqlx::query("UPDATE monitors SET ci_id = NULL WHERE ci_id = $1 AND id = $2")
                    .bind(ci.id)
                    .bind(monitor_id)
            }
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::Monitor));
            }
            let (action, summary) = if bind {
                ("monitor.bind_ci", format!("Bound a monitor to CI {}", ci.name))
            } else {
                ("monitor.unbind_ci", format!("Unbound a monitor from CI {}", ci.name))
            };
            let rec = AuditRecord::new(action, "monitor", Some(monitor_id), summary)
                .after(serde_json::json!({ "ci_id": ci.id, "bound": bind }));
            audit!(tx, actor, now, rec);
        });
        Ok(())
    }

    /// The monitors bound to a CI, by name (at most 200).
    pub async fn ci_monitors(&self, ci: Uuid) -> StoreResult<Vec<BoundMonitor>> {
        let rows: Vec<(Uuid, String, String)> = with_db!(self, |pool| {
            sqlx::query_as("SELECT id, name, state FROM monitors WHERE ci_id = $1 ORDER BY name, id LIMIT 200")
                .bind(ci)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(id, name, state)| BoundMonitor { id, name, state }).collect())
    }
}
