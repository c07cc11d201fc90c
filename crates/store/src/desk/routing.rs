//! Routing rules and handing a routed ticket to one of its team's agents, inside the
//! transaction that raises it (`hand_out!`): the round-robin turn is a counter bumped there, so
//! concurrent raises on any node take distinct turns.

use crate::audit::audit;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::desk::routing::{Assign, RouteSpec};
use opsdeck_core::desk::ticket::TicketType;
use serde::Serialize;
use uuid::Uuid;

/// A stored routing rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    pub id: Uuid,
    pub spec: RouteSpec,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AsRef<RouteSpec> for Route {
    fn as_ref(&self) -> &RouteSpec {
        &self.spec
    }
}

/// Where a new ticket goes: the team, how its agent is chosen, and the rule that said so.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    pub team_id: Uuid,
    pub assign: Assign,
    pub rule: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    position: i32,
    ticket_type: Option<String>,
    category: Option<String>,
    service_id: Option<Uuid>,
    requester: Option<String>,
    keywords: String,
    team_id: Uuid,
    assign: String,
    enabled: bool,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<Row> for Route {
    fn from(r: Row) -> Route {
        Route {
            id: r.id,
            spec: RouteSpec {
                name: r.name,
                position: r.position,
                ticket_type: r.ticket_type.as_deref().and_then(TicketType::parse),
                category: r.category,
                service_id: r.service_id,
                requester: r.requester,
                keywords: serde_json::from_str(&r.keywords).unwrap_or_default(),
                team_id: r.team_id,
                assign: Assign::parse(&r.assign).unwrap_or(Assign::None),
                enabled: r.enabled,
            },
            version: r.version,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const SELECT: &str = "SELECT id, name, position, ticket_type, category, service_id, requester, keywords, team_id, \
     assign, enabled, version, created_at, updated_at FROM ticket_routes";

/// Gives ticket `id` (just inserted in transaction `tx`) to `routed`'s team and, unless the
/// rule assigns nobody, to one of the team's active agents (responders and up, by username):
/// the next in turn, or the one with the fewest open tickets. Evaluates to the assignee.
macro_rules! hand_out {
    ($tx:ident, $id:expr, $routed:expr) => {{
        let routed: &$crate::desk::routing::Routed = $routed;
        let mut assignee: Option<Uuid> = None;
        if routed.assign != opsdeck_core::desk::routing::Assign::None {
            let agents: Vec<Uuid> = sqlx::query_scalar(
                "SELECT u.id FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = $1 \
                 AND NOT u.disabled AND u.role IN ('responder', 'manager', 'admin') ORDER BY u.username",
            )
            .bind(routed.team_id)
            .fetch_all(&mut *$tx)
            .await?;
            if !agents.is_empty() {
                let turn: i64 = sqlx::query_scalar(
                    "INSERT INTO ticket_team_turns (team_id, turn) VALUES ($1, 1) ON CONFLICT (team_id) \
                     DO UPDATE SET turn = ticket_team_turns.turn + 1 RETURNING turn",
                )
                .bind(routed.team_id)
                .fetch_one(&mut *$tx)
                .await?;
                let load: Vec<(Uuid, i64)> = if routed.assign == opsdeck_core::desk::routing::Assign::LeastLoaded {
                    sqlx::query_as(
                        "SELECT t.assignee_id, COUNT(*) FROM team_members m \
                         JOIN tickets t ON t.assignee_id = m.user_id WHERE m.team_id = $1 \
                         AND t.state IN ('new', 'in_progress', 'pending') GROUP BY t.assignee_id",
                    )
                    .bind(routed.team_id)
                    .fetch_all(&mut *$tx)
                    .await?
                } else {
                    Vec::new()
                };
                let turn = u64::try_from(turn).unwrap_or(1);
                assignee = opsdeck_core::desk::routing::pick(routed.assign, &agents, turn, &load);
            }
        }
        sqlx::query("UPDATE tickets SET team_id = $2, assignee_id = COALESCE($3, assignee_id) WHERE id = $1")
            .bind($id)
            .bind(routed.team_id)
            .bind(assignee)
            .execute(&mut *$tx)
            .await?;
        assignee
    }};
}
pub(crate) use hand_out;

fn keywords(spec: &RouteSpec) -> String {
    serde_json::to_string(&spec.keywords).unwrap_or_else(|_| "[]".into())
}

impl Db {
    /// The teams and services by name (at most 500 each), for the desk's forms and labels.
    pub async fn desk_names(&self) -> StoreResult<(Vec<(Uuid, String)>, Vec<(Uuid, String)>)> {
        Ok(with_db!(self, |pool| {
            let teams = sqlx::query_as("SELECT id, name FROM teams ORDER BY name LIMIT 500").fetch_all(pool).await?;
            let services =
                sqlx::query_as("SELECT id, name FROM services ORDER BY name LIMIT 500").fetch_all(pool).await?;
            (teams, services)
        }))
    }

    /// Every routing rule, in the order they are tried.
    pub async fn ticket_routes(&self) -> StoreResult<Vec<Route>> {
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} ORDER BY position, created_at LIMIT 1000")))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Route::from).collect())
    }

    pub async fn ticket_route(&self, id: Uuid) -> StoreResult<Route> {
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1"))).bind(id).fetch_optional(pool).await?
        });
        row.map(Route::from).ok_or(StoreError::NotFound(Entity::TicketRoute))
    }

    pub async fn count_ticket_routes(&self) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM ticket_routes").fetch_one(pool).await?))
    }

    pub async fn create_ticket_route(&self, actor: &Actor, now: DateTime<Utc>, spec: &RouteSpec) -> StoreResult<Route> {
        let (id, at) = (Uuid::now_v7(), now.timestamp_millis());
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO ticket_routes (id, name, position, ticket_type, category, service_id, requester, \
                 keywords, team_id, assign, enabled, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12)",
            )
            .bind(id)
            .bind(&spec.name)
            .bind(spec.position)
            .bind(spec.ticket_type.map(|t| t.as_str()))
            .bind(&spec.category)
            .bind(spec.service_id)
            .bind(&spec.requester)
            .bind(keywords(spec))
            .bind(spec.team_id)
            .bind(spec.assign.as_str())
            .bind(spec.enabled)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let summary = format!("Routing rule {} added", spec.name);
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("ticket_route.create", "ticket_route", Some(id), summary).after(spec)
            );
        });
        self.ticket_route(id).await
    }

    /// Replaces a rule at `version` (a conflict when someone saved it since).
    pub async fn update_ticket_route(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Route,
        spec: &RouteSpec,
    ) -> StoreResult<Route> {
        let at = now.timestamp_millis();
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE ticket_routes SET name = $2, position = $3, ticket_type = $4, category = $5, service_id = $6, \
                 requester = $7, keywords = $8, team_id = $9, assign = $10, enabled = $11, version = version + 1, \
                 updated_at = $12 WHERE id = $1 AND version = $13",
            )
            .bind(before.id)
            .bind(&spec.name)
            .bind(spec.position)
            .bind(spec.ticket_type.map(|t| t.as_str()))
            .bind(&spec.category)
            .bind(spec.service_id)
            .bind(&spec.requester)
            .bind(keywords(spec))
            .bind(spec.team_id)
            .bind(spec.assign.as_str())
            .bind(spec.enabled)
            .bind(at)
            .bind(before.version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "routing rule {} was changed by someone else since you loaded it; reload it",
                    before.spec.name
                )));
            }
            let record = AuditRecord::new("ticket_route.update", "ticket_route", Some(before.id), "Routing rule saved")
                .before(&before.spec)
                .after(spec);
            audit!(tx, actor, now, record);
        });
        self.ticket_route(before.id).await
    }

    pub async fn delete_ticket_route(&self, actor: &Actor, now: DateTime<Utc>, before: &Route) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM ticket_routes WHERE id = $1").bind(before.id).execute(&mut *tx).await?;
            let summary = format!("Routing rule {} deleted", before.spec.name);
            let record =
                AuditRecord::new("ticket_route.delete", "ticket_route", Some(before.id), summary).before(&before.spec);
            audit!(tx, actor, now, record);
        });
        Ok(())
    }
}
