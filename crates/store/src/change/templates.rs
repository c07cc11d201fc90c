//! Standard change templates: the catalogue of pre-approved routine work.

use crate::audit::audit;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::change::template::TemplateSpec;
use opsdeck_core::clock::from_millis;
use serde::Serialize;
use uuid::Uuid;

/// A stored template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredTemplate {
    pub id: Uuid,
    pub spec: TemplateSpec,
    pub updated_at: DateTime<Utc>,
}

type Row = (Uuid, String, String, String, String, String, i32, bool, String, bool, i64, Option<Uuid>);

fn templates(rows: Vec<Row>) -> Vec<StoredTemplate> {
    let mut out: Vec<StoredTemplate> = Vec::new();
    for (id, name, description, imp, test, back, minutes, outage, answers, active, at, ci) in rows {
        if out.last().is_none_or(|t| t.id != id) {
            out.push(StoredTemplate {
                id,
                spec: TemplateSpec {
                    name,
                    description,
                    implementation_plan: imp,
                    test_plan: test,
                    backout_plan: back,
                    ci_ids: Vec::new(),
                    duration_minutes: u32::try_from(minutes).unwrap_or(1),
                    outage_expected: outage,
                    answers: serde_json::from_str(&answers).unwrap_or_default(),
                    active,
                },
                updated_at: from_millis(at),
            });
        }
        if let (Some(ci), Some(t)) = (ci, out.last_mut()) {
            t.spec.ci_ids.push(ci);
        }
    }
    out
}

const SELECT: &str = "SELECT t.id, t.name, t.description, t.implementation_plan, t.test_plan, t.backout_plan, \
     t.duration_minutes, t.outage_expected, t.answers, t.active, t.updated_at, x.ci_id \
     FROM change_templates t LEFT JOIN change_template_cis x ON x.template_id = t.id";

impl Db {
    /// Every template, by name.
    pub async fn change_templates(&self) -> StoreResult<Vec<StoredTemplate>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} ORDER BY t.name, t.id, x.ci_id")))
                .fetch_all(pool)
                .await?
        });
        Ok(templates(rows))
    }

    pub async fn change_template(&self, id: Uuid) -> StoreResult<StoredTemplate> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE t.id = $1 ORDER BY x.ci_id")))
                .bind(id)
                .fetch_all(pool)
                .await?
        });
        templates(rows).pop().ok_or(StoreError::NotFound(Entity::ChangeTemplate))
    }

    /// Creates a template (`id` None) or replaces one; a name taken is a conflict.
    pub async fn save_change_template(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Option<Uuid>,
        spec: &TemplateSpec,
    ) -> StoreResult<StoredTemplate> {
        let (tid, backend, at) = (id.unwrap_or_else(Uuid::now_v7), self.backend(), now.timestamp_millis());
        let answers = serde_json::to_string(&spec.answers).unwrap_or_else(|_| "{}".into());
        write_tx!(self, |tx| {
            let sql = if id.is_some() {
                "UPDATE change_templates SET name = $2, description = $3, implementation_plan = $4, test_plan = $5, \
                 backout_plan = $6, duration_minutes = $7, outage_expected = $8, answers = $9, active = $10, \
                 updated_at = $11 WHERE id = $1"
            } else {
                "INSERT INTO change_templates (id, name, description, implementation_plan, test_plan, backout_plan, \
                 duration_minutes, outage_expected, answers, active, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)"
            };
            let done = sqlx::query(sql)
                .bind(tid)
                .bind(&spec.name)
                .bind(&spec.description)
                .bind(&spec.implementation_plan)
                .bind(&spec.test_plan)
                .bind(&spec.backout_plan)
                .bind(i32::try_from(spec.duration_minutes).unwrap_or(i32::MAX))
                .bind(spec.outage_expected)
                .bind(&answers)
                .bind(spec.active)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::unique("a standard change template already has this name"))?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::ChangeTemplate));
            }
            sqlx::query("DELETE FROM change_template_cis WHERE template_id = $1").bind(tid).execute(&mut *tx).await?;
            for chunk in spec.ci_ids.chunks(100) {
                let head = "INSERT INTO change_template_cis (template_id, ci_id) VALUES ";
                let sql = crate::dialect::multi_row(backend, head, 2, chunk.len(), "");
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for ci in chunk {
                    q = q.bind(tid).bind(*ci);
                }
                q.execute(&mut *tx).await?;
            }
            let (action, verb) = if id.is_some() {
                ("change_template.update", "Updated")
            } else {
                ("change_template.create", "Created")
            };
            let summary = format!("{verb} standard change template {}", spec.name);
            audit!(tx, actor, now, AuditRecord::new(action, "change_template", Some(tid), summary).after(spec));
        });
        self.change_template(tid).await
    }

    /// Deletes a template; the changes raised from it keep their fields and lose the link.
    pub async fn delete_change_template(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let before = self.change_template(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM change_templates WHERE id = $1").bind(id).execute(&mut *tx).await?;
            let summary = format!("Deleted standard change template {}", before.spec.name);
            let record =
                AuditRecord::new("change_template.delete", "change_template", Some(id), summary).before(&before.spec);
            audit!(tx, actor, now, record);
        });
        Ok(())
    }
}
