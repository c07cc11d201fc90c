//! Custom attribute definitions per CI class.

use crate::audit::audit;
use crate::error::unique;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::cmdb::CiClass;
use opsdeck_core::cmdb::attr_def::{AttrDefSpec, AttrKind, PER_CLASS_MAX};
use serde::Serialize;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttrDef {
    pub id: Uuid,
    #[serde(flatten)]
    pub spec: AttrDefSpec,
}

type Row = (Uuid, String, String, String, String, bool, Json<Vec<String>>, Option<String>);

fn from_row((id, class, key, label, kind, required, choices, ref_class): Row) -> AttrDef {
    AttrDef {
        id,
        spec: AttrDefSpec {
            class: CiClass::parse(&class).unwrap_or(CiClass::Other),
            key,
            label,
            kind: AttrKind::parse(&kind).unwrap_or(AttrKind::Text),
            required,
            choices: choices.0,
            ref_class: ref_class.as_deref().and_then(CiClass::parse),
        },
    }
}

const SELECT: &str = "SELECT id, class, key, label, kind, required, choices, ref_class FROM ci_attribute_defs";

/// Refuses a definition (new, or `moving` from another class) into a class that has
/// [`PER_CLASS_MAX`] already; counted in the writing transaction.
macro_rules! room_in {
    ($tx:expr, $class:expr, $moving:expr) => {{
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM ci_attribute_defs WHERE class = $1 AND ($2 IS NULL OR id <> $2)")
                .bind($class.as_str())
                .bind($moving)
                .fetch_one(&mut *$tx)
                .await?;
        if n >= PER_CLASS_MAX as i64 {
            Err(StoreError::Conflict(format!(
                "a class has at most {PER_CLASS_MAX} attribute definitions; delete one first"
            )))
        } else {
            Ok(())
        }
    }};
}

impl Db {
    /// The definitions of `class` (every class when `None`), by class and creation.
    pub async fn attr_defs(&self, class: Option<CiClass>) -> StoreResult<Vec<AttrDef>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE ($1 IS NULL OR class = $1) ORDER BY class, created_at, id"
            )))
            .bind(class.map(CiClass::as_str))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(from_row).collect())
    }

    pub async fn get_attr_def(&self, id: Uuid) -> StoreResult<AttrDef> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1"))).bind(id).fetch_optional(pool).await?
        });
        row.map(from_row).ok_or(StoreError::NotFound(Entity::CiAttribute))
    }

    pub async fn create_attr_def(&self, actor: &Actor, now: DateTime<Utc>, spec: &AttrDefSpec) -> StoreResult<AttrDef> {
        let id = Uuid::now_v7();
        write_tx!(self, |tx| {
            room_in!(tx, spec.class, None::<Uuid>)?;
            sqlx::query(
                "INSERT INTO ci_attribute_defs (id, class, key, label, kind, required, choices, ref_class, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            )
            .bind(id)
            .bind(spec.class.as_str())
            .bind(&spec.key)
            .bind(&spec.label)
            .bind(spec.kind.as_str())
            .bind(spec.required)
            .bind(Json(&spec.choices))
            .bind(spec.ref_class.map(CiClass::as_str))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(unique("this class already defines an attribute with this name"))?;
            let summary = format!("Defined attribute {} of {}", spec.key, spec.class.as_str());
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("ci_attribute.create", "ci_attribute", Some(id), summary).after(spec)
            );
        });
        Ok(AttrDef { id, spec: spec.clone() })
    }

    pub async fn update_attr_def(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        spec: &AttrDefSpec,
    ) -> StoreResult<AttrDef> {
        let before = self.get_attr_def(id).await?;
        write_tx!(self, |tx| {
            room_in!(tx, spec.class, Some(id))?;
            let done = sqlx::query(
                "UPDATE ci_attribute_defs SET class = $1, key = $2, label = $3, kind = $4, required = $5, \
                 choices = $6, ref_class = $7, updated_at = $8 WHERE id = $9",
            )
            .bind(spec.class.as_str())
            .bind(&spec.key)
            .bind(&spec.label)
            .bind(spec.kind.as_str())
            .bind(spec.required)
            .bind(Json(&spec.choices))
            .bind(spec.ref_class.map(CiClass::as_str))
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unique("this class already defines an attribute with this name"))?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::CiAttribute));
            }
            let summary = format!("Changed attribute {} of {}", spec.key, spec.class.as_str());
            let record = AuditRecord::new("ci_attribute.update", "ci_attribute", Some(id), summary)
                .before(&before.spec)
                .after(spec);
            audit!(tx, actor, now, record);
        });
        Ok(AttrDef { id, spec: spec.clone() })
    }

    /// Deletes a definition; CIs keep their values, free-form from now on.
    pub async fn delete_attr_def(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<AttrDef> {
        let before = self.get_attr_def(id).await?;
        write_tx!(self, |tx| {
            let gone = sqlx::query("DELETE FROM ci_attribute_defs WHERE id = $1").bind(id).execute(&mut *tx).await?;
            if gone.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::CiAttribute));
            }
            let summary = format!("Deleted attribute {} of {}", before.spec.key, before.spec.class.as_str());
            let record =
                AuditRecord::new("ci_attribute.delete", "ci_attribute", Some(id), summary).before(&before.spec);
            audit!(tx, actor, now, record);
        });
        Ok(before)
    }
}
