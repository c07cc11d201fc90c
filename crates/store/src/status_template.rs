//! Incident templates of a status page.

use crate::audit::audit;
use crate::error::unique;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::status_page::{ComponentStatus, IncidentStatus};
use opsdeck_core::status_template::{TEMPLATES_MAX, TemplateSpec};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Template {
    pub id: Uuid,
    pub page_id: Uuid,
    #[serde(flatten)]
    pub spec: TemplateSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    page_id: Uuid,
    name: String,
    title: String,
    status: String,
    body: String,
    components: Json<Vec<(Uuid, String)>>,
    created_at: i64,
    updated_at: i64,
}

impl From<Row> for Template {
    fn from(r: Row) -> Self {
        Template {
            id: r.id,
            page_id: r.page_id,
            spec: TemplateSpec {
                name: r.name,
                title: r.title,
                status: IncidentStatus::parse(&r.status).unwrap_or(IncidentStatus::Investigating),
                body: r.body,
                components: r
                    .components
                    .0
                    .iter()
                    .filter_map(|(id, s)| Some((*id, ComponentStatus::parse(s)?)))
                    .collect(),
            },
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const COLS: &str = "id, page_id, name, title, status, body, components, created_at, updated_at";

fn stored(spec: &TemplateSpec) -> Json<Vec<(Uuid, &'static str)>> {
    Json(spec.components.iter().map(|(id, s)| (*id, s.as_str())).collect())
}

impl Db {
    pub async fn create_template(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        page_id: Uuid,
        spec: &TemplateSpec,
    ) -> StoreResult<Template> {
        let id = Uuid::now_v7();
        write_tx!(self, |tx| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM status_templates WHERE page_id = $1")
                .bind(page_id)
                .fetch_one(&mut *tx)
                .await?;
            if n >= TEMPLATES_MAX {
                return Err(StoreError::Conflict(format!(
                    "a page keeps at most {TEMPLATES_MAX} incident templates; delete one first"
                )));
            }
            sqlx::query(
                "INSERT INTO status_templates (id, page_id, name, title, status, body, components, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(id)
            .bind(page_id)
            .bind(&spec.name)
            .bind(&spec.title)
            .bind(spec.status.as_str())
            .bind(&spec.body)
            .bind(stored(spec))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(unique(&format!("this page has a template named {:?} already", spec.name)))?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "status_page.template_create",
                    "status_page",
                    Some(page_id),
                    format!("Added incident template {}", spec.name)
                )
                .after(spec)
            );
        });
        self.get_template(page_id, id).await
    }

    pub async fn update_template(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Template,
        spec: &TemplateSpec,
    ) -> StoreResult<Template> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE status_templates SET name = $1, title = $2, status = $3, body = $4, components = $5, \
                 updated_at = $6 WHERE id = $7",
            )
            .bind(&spec.name)
            .bind(&spec.title)
            .bind(spec.status.as_str())
            .bind(&spec.body)
            .bind(stored(spec))
            .bind(now.timestamp_millis())
            .bind(before.id)
            .execute(&mut *tx)
            .await
            .map_err(unique(&format!("this page has a template named {:?} already", spec.name)))?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "status_page.template_update",
                    "status_page",
                    Some(before.page_id),
                    format!("Changed incident template {}", spec.name)
                )
                .before(&before.spec)
                .after(spec)
            );
        });
        self.get_template(before.page_id, before.id).await
    }

    pub async fn delete_template(&self, actor: &Actor, now: DateTime<Utc>, before: &Template) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM status_templates WHERE id = $1").bind(before.id).execute(&mut *tx).await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "status_page.template_delete",
                    "status_page",
                    Some(before.page_id),
                    format!("Deleted incident template {}", before.spec.name)
                )
                .before(&before.spec)
            );
        });
        Ok(())
    }

    /// A template of `page_id` (404 for another page's).
    pub async fn get_template(&self, page_id: Uuid, id: Uuid) -> StoreResult<Template> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM status_templates WHERE id = $1 AND page_id = $2"
            )))
            .bind(id)
            .bind(page_id)
            .fetch_optional(pool)
            .await?
        });
        row.map(Template::from).ok_or(StoreError::NotFound(Entity::IncidentTemplate))
    }

    /// A page's templates by name.
    pub async fn templates(&self, page_id: Uuid) -> StoreResult<Vec<Template>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM status_templates WHERE page_id = $1 ORDER BY name LIMIT $2"
            )))
            .bind(page_id)
            .bind(TEMPLATES_MAX)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Template::from).collect())
    }
}
