//! Contracts with vendors and the CIs they cover.

use super::{date, date_text};
use crate::audit::audit;
use crate::page::{self, Cursor, Page};
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Days, NaiveDate, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::cmdb::CiClass;
use opsdeck_core::cmdb::contract::{ContractEvent, ContractKind, ContractSpec, events};
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contract {
    pub id: Uuid,
    pub name: String,
    pub vendor: String,
    pub kind: ContractKind,
    pub number: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: NaiveDate,
    pub auto_renew: bool,
    pub notice_days: u32,
    pub cost_cents: Option<i64>,
    pub owner_team_id: Option<Uuid>,
    pub owner_team_name: Option<String>,
    pub notes: String,
    /// How many CIs it covers.
    pub ci_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Contract {
    /// Its notice deadline (when it has a notice period) and its end or renewal, earliest first.
    pub fn events(&self) -> Vec<(ContractEvent, NaiveDate)> {
        events(self.end_date, self.auto_renew, self.notice_days)
    }
}

/// A CI a contract covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoveredCi {
    pub id: Uuid,
    pub name: String,
    pub class: CiClass,
}

/// Filters of the contract list.
#[derive(Debug, Clone, Default)]
pub struct ContractFilter {
    pub vendor: Option<String>,
    /// Only contracts covering this CI.
    pub ci_id: Option<Uuid>,
    pub cursor: Option<Cursor>,
    pub limit: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ContractRow {
    id: Uuid,
    name: String,
    vendor: String,
    kind: String,
    number: Option<String>,
    start_date: Option<String>,
    end_date: String,
    auto_renew: bool,
    notice_days: i32,
    cost_cents: Option<i64>,
    owner_team_id: Option<Uuid>,
    owner_team_name: Option<String>,
    notes: String,
    ci_count: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<ContractRow> for Contract {
    fn from(r: ContractRow) -> Self {
        Contract {
            id: r.id,
            name: r.name,
            vendor: r.vendor,
            kind: ContractKind::parse(&r.kind).unwrap_or(ContractKind::Other),
            number: r.number,
            start_date: date(&r.start_date),
            end_date: date(&Some(r.end_date)).unwrap_or(NaiveDate::MAX),
            auto_renew: r.auto_renew,
            notice_days: u32::try_from(r.notice_days).unwrap_or(0),
            cost_cents: r.cost_cents,
            owner_team_id: r.owner_team_id,
            owner_team_name: r.owner_team_name,
            notes: r.notes,
            ci_count: r.ci_count,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const CONTRACT_SELECT: &str = "SELECT k.id, k.name, k.vendor, k.kind, k.number, k.start_date, k.end_date, \
     k.auto_renew, k.notice_days, k.cost_cents, k.owner_team_id, t.name AS owner_team_name, k.notes, \
     (SELECT COUNT(*) FROM contract_cis x WHERE x.contract_id = k.id) AS ci_count, k.created_at, k.updated_at \
     FROM contracts k LEFT JOIN teams t ON t.id = k.owner_team_id";

/// The day reminders and the report look for ahead of the end (the end when there is no notice).
fn notice_date(spec: &ContractSpec) -> String {
    let d = spec.end_date.checked_sub_days(Days::new(spec.notice_days.into())).unwrap_or(spec.end_date);
    d.format("%Y-%m-%d").to_string()
}

/// Links contract `$id` to CIs `$ids` in `$tx`, 100 rows a statement (under the size that
/// waits on a delayed ACK on PostgreSQL: see `import::STATEMENT_BYTES`).
macro_rules! link_cis {
    ($tx:ident, $backend:expr, $id:expr, $ids:expr) => {
        for chunk in $ids.chunks(100) {
            let sql = crate::dialect::multi_row(
                $backend,
                "INSERT INTO contract_cis (contract_id, ci_id) VALUES ",
                2,
                chunk.len(),
                "",
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ci in chunk {
                q = q.bind($id).bind(*ci);
            }
            q.execute(&mut *$tx).await?;
        }
    };
}

impl Db {
    pub async fn create_contract(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        spec: &ContractSpec,
    ) -> StoreResult<Contract> {
        self.check_cis_exist(&spec.ci_ids).await?;
        let (id, backend) = (Uuid::now_v7(), self.backend());
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO contracts (id, name, vendor, kind, number, start_date, end_date, auto_renew, \
                 notice_days, notice_date, cost_cents, owner_team_id, notes, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
            )
            .bind(id)
            .bind(&spec.name)
            .bind(&spec.vendor)
            .bind(spec.kind.as_str())
            .bind(&spec.number)
            .bind(date_text(spec.start_date))
            .bind(date_text(Some(spec.end_date)))
            .bind(spec.auto_renew)
            .bind(spec.notice_days as i32)
            .bind(notice_date(spec))
            .bind(spec.cost_cents)
            .bind(spec.owner_team_id)
            .bind(&spec.notes)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            link_cis!(tx, backend, id, &spec.ci_ids);
            let summary = format!("Created contract {} with {}", spec.name, spec.vendor);
            audit!(tx, actor, now, AuditRecord::new("contract.create", "contract", Some(id), summary).after(spec));
        });
        self.get_contract(id).await
    }

    pub async fn update_contract(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        spec: &ContractSpec,
    ) -> StoreResult<Contract> {
        let before = self.get_contract(id).await?;
        self.check_cis_exist(&spec.ci_ids).await?;
        let backend = self.backend();
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE contracts SET name = $1, vendor = $2, kind = $3, number = $4, start_date = $5, end_date = $6, \
                 auto_renew = $7, notice_days = $8, notice_date = $9, cost_cents = $10, owner_team_id = $11, \
                 notes = $12, updated_at = $13 WHERE id = $14",
            )
            .bind(&spec.name)
            .bind(&spec.vendor)
            .bind(spec.kind.as_str())
            .bind(&spec.number)
            .bind(date_text(spec.start_date))
            .bind(date_text(Some(spec.end_date)))
            .bind(spec.auto_renew)
            .bind(spec.notice_days as i32)
            .bind(notice_date(spec))
            .bind(spec.cost_cents)
            .bind(spec.owner_team_id)
            .bind(&spec.notes)
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::Contract));
            }
            sqlx::query("DELETE FROM contract_cis WHERE contract_id = $1").bind(id).execute(&mut *tx).await?;
            link_cis!(tx, backend, id, &spec.ci_ids);
            let summary = format!("Updated contract {}", spec.name);
            let record = AuditRecord::new("contract.update", "contract", Some(id), summary).before(&before).after(spec);
            audit!(tx, actor, now, record);
        });
        self.get_contract(id).await
    }

    pub async fn delete_contract(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<Contract> {
        let before = self.get_contract(id).await?;
        write_tx!(self, |tx| {
            let gone = sqlx::query("DELETE FROM contracts WHERE id = $1").bind(id).execute(&mut *tx).await?;
            if gone.rows_affected() == 0 {
                return Err(StoreError::NotFound(Entity::Contract));
            }
            let summary = format!("Deleted contract {}", before.name);
            audit!(tx, actor, now, AuditRecord::new("contract.delete", "contract", Some(id), summary).before(&before));
        });
        Ok(before)
    }

    pub async fn get_contract(&self, id: Uuid) -> StoreResult<Contract> {
        let row: Option<ContractRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{CONTRACT_SELECT} WHERE k.id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Contract::from).ok_or(StoreError::NotFound(Entity::Contract))
    }

    /// A page of contracts by name.
    pub async fn list_contracts(&self, f: &ContractFilter) -> StoreResult<Page<Contract>> {
        let limit = page::clamp_limit(f.limit);
        let (c_name, c_id) = (f.cursor.as_ref().map(|c| c.key.as_str()), f.cursor.as_ref().map(|c| c.id));
        let sql = format!(
            "{CONTRACT_SELECT} WHERE ($1 IS NULL OR k.vendor = $1) \
             AND ($2 IS NULL OR k.id IN (SELECT contract_id FROM contract_cis WHERE ci_id = $2)) \
             AND ($3 IS NULL OR k.name > $3 OR (k.name = $3 AND k.id > $4)) ORDER BY k.name, k.id LIMIT {}",
            limit + 1
        );
        let rows: Vec<ContractRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(f.vendor.as_deref())
                .bind(f.ci_id)
                .bind(c_name)
                .bind(c_id)
                .fetch_all(pool)
                .await?
        });
        Ok(page::finish(rows, limit, |r| Cursor { key: r.name.clone(), id: r.id }).map(Contract::from))
    }

    /// The CIs a contract covers, by name.
    pub async fn contract_cis(&self, id: Uuid) -> StoreResult<Vec<CoveredCi>> {
        let rows: Vec<(Uuid, String, String)> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT c.id, c.name, c.class FROM contract_cis x JOIN cis c ON c.id = x.ci_id \
                 WHERE x.contract_id = $1 ORDER BY c.name, c.id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, name, class)| CoveredCi { id, name, class: CiClass::parse(&class).unwrap_or(CiClass::Other) })
            .collect())
    }

    /// Contracts whose notice deadline or end falls on or before `until`, with that date, earliest
    /// first (at most `limit`).
    pub async fn contracts_due(
        &self,
        from: Option<NaiveDate>,
        until: NaiveDate,
        limit: i64,
    ) -> StoreResult<Vec<(Contract, ContractEvent, NaiveDate)>> {
        let limit = limit.clamp(1, 1000);
        let from_text = date_text(from).unwrap_or_default();
        let until_text = until.format("%Y-%m-%d").to_string();
        let sql = format!(
            "{CONTRACT_SELECT} WHERE (k.notice_date >= $1 AND k.notice_date <= $2) \
             OR (k.end_date >= $1 AND k.end_date <= $2) \
             ORDER BY k.notice_date, k.id LIMIT {limit}"
        );
        let rows: Vec<ContractRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(&from_text).bind(&until_text).fetch_all(pool).await?
        });
        let mut out = Vec::new();
        for c in rows.into_iter().map(Contract::from) {
            for (event, d) in c.events() {
                if from.is_none_or(|f| d >= f) && d <= until {
                    out.push((c.clone(), event, d));
                }
            }
        }
        out.sort_by(|a, b| (a.2, &a.0.name).cmp(&(b.2, &b.0.name)));
        out.truncate(limit as usize);
        Ok(out)
    }

    /// Refuses ids of CIs that do not exist.
    async fn check_cis_exist(&self, ids: &[Uuid]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let found = self.cis_by_id(ids).await?;
        if found.len() < ids.len() {
            return Err(StoreError::NotFound(Entity::Ci));
        }
        Ok(())
    }
}
