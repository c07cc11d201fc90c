//! Team members: who belongs to a team (a private status page may admit the signed-in members
//! of chosen teams).

use crate::audit::audit;
use crate::{Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::catalogue::Team;
use uuid::Uuid;

/// Members one team has, at most.
pub const MEMBERS_MAX: i64 = 1000;

/// A member as lists show them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct Member {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
}

impl Db {
    /// Adds `user_id` to `team` (already a member: nothing changes). Returns whether it was added.
    pub async fn add_team_member(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        team: &Team,
        user_id: Uuid,
    ) -> StoreResult<bool> {
        let added = write_tx!(self, |tx| {
            let user: Option<String> = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(username) = user else { return Err(StoreError::NotFound(Entity::User)) };
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM team_members WHERE team_id = $1")
                .bind(team.id)
                .fetch_one(&mut *tx)
                .await?;
            if n >= MEMBERS_MAX {
                return Err(StoreError::Conflict(format!("a team has at most {MEMBERS_MAX} members")));
            }
            let added = sqlx::query(
                "INSERT INTO team_members (team_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(team.id)
            .bind(user_id)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if added {
                audit!(
                    tx,
                    actor,
                    now,
                    AuditRecord::new(
                        "team.member_add",
                        "team",
                        Some(team.id),
                        format!("Added {username} to team {}", team.name)
                    )
                    .after(serde_json::json!({"user_id": user_id}))
                );
            }
            added
        });
        Ok(added)
    }

    /// Removes `user_id` from `team`; returns whether it was a member.
    pub async fn remove_team_member(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        team: &Team,
        user_id: Uuid,
    ) -> StoreResult<bool> {
        let removed = write_tx!(self, |tx| {
            let removed = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
                .bind(team.id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if removed {
                audit!(
                    tx,
                    actor,
                    now,
                    AuditRecord::new(
                        "team.member_remove",
                        "team",
                        Some(team.id),
                        format!("Removed a member of team {}", team.name)
                    )
                    .before(serde_json::json!({"user_id": user_id}))
                );
            }
            removed
        });
        Ok(removed)
    }

    /// A team's members by username.
    pub async fn team_members(&self, team_id: Uuid) -> StoreResult<Vec<Member>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id AS user_id, u.username, u.display_name FROM team_members m \
                 JOIN users u ON u.id = m.user_id WHERE m.team_id = $1 ORDER BY u.username LIMIT $2",
            )
            .bind(team_id)
            .bind(MEMBERS_MAX)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The teams `user_id` belongs to.
    pub async fn user_teams(&self, user_id: Uuid) -> StoreResult<Vec<Uuid>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT team_id FROM team_members WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(pool)
                .await?
        }))
    }
}
