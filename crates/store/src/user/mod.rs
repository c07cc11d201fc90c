//! Users, their sessions and their API tokens.

use crate::audit::audit;
use crate::dialect::BeginWrite;
use crate::error::unique;
use crate::page::{self, Cursor, Page};
use crate::{Db, StoreError, StoreResult, with_db, with_writer, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::role::Role;
use opsdeck_core::user::{ApiToken, User};
use uuid::Uuid;

mod tokens;

const USER_COLS: &str = "id, username, display_name, email, role, disabled, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    username: String,
    display_name: String,
    email: Option<String>,
    role: String,
    disabled: bool,
    created_at: i64,
    updated_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            email: r.email,
            // An unknown role in the database (a downgrade) degrades to the least privilege.
            role: r.role.parse().unwrap_or(Role::Viewer),
            disabled: r.disabled,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

/// A validated new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub password_hash: String,
}

/// Fields an administrator may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub email: Option<Option<String>>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: Uuid,
    user_id: Uuid,
    username: String,
    name: String,
    hint: String,
    role: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// A token's stored role cap. An unknown value (written by a newer version, or damaged) fails
/// closed: the token is capped to the least privilege instead of being read as "no cap".
fn token_cap(stored: Option<String>) -> Option<Role> {
    stored.map(|s| s.parse().unwrap_or(Role::Viewer))
}

impl From<TokenRow> for ApiToken {
    fn from(r: TokenRow) -> Self {
        ApiToken {
            id: r.id,
            user_id: r.user_id,
            username: r.username,
            name: r.name,
            hint: r.hint,
            role: token_cap(r.role),
            created_at: from_millis(r.created_at),
            last_used_at: r.last_used_at.map(from_millis),
            revoked_at: r.revoked_at.map(from_millis),
        }
    }
}

const TOKEN_SELECT: &str = "SELECT t.id, t.user_id, u.username, t.name, t.hint, t.role, t.created_at, \
    t.last_used_at, t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id";

/// How often a token's `last_used_at` is refreshed; finer updates would turn reads into writes.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

impl Db {
    pub async fn count_users(&self) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await?))
    }

    pub async fn create_user(&self, actor: &Actor, now: DateTime<Utc>, new: NewUser) -> StoreResult<User> {
        self.insert_user(actor, now, new, false).await?.ok_or(StoreError::NotFound(Entity::User))
    }

    /// Creates the first account, only while no account exists; `None` if one already does.
    pub async fn create_first_admin(&self, now: DateTime<Utc>, mut new: NewUser) -> StoreResult<Option<User>> {
        new.role = Role::Admin;
        self.insert_user(&Actor::system("setup"), now, new, true).await
    }

    async fn insert_user(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        new: NewUser,
        only_if_empty: bool,
    ) -> StoreResult<Option<User>> {
        let user = User {
            id: Uuid::now_v7(),
            username: new.username,
            display_name: new.display_name,
            email: new.email,
            role: new.role,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        let ms = now.timestamp_millis();
        let inserted = with_writer!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            if only_if_empty {
                crate::dialect::lock_users_table(&mut tx).await?;
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *tx).await?;
                if n > 0 {
                    return Ok(None);
                }
            }
            sqlx::query(
                "INSERT INTO users (id, username, display_name, email, role, password_hash, \
                 disabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $7)",
            )
            .bind(user.id)
            .bind(&user.username)
            .bind(&user.display_name)
            .bind(&user.email)
            .bind(user.role.as_str())
            .bind(&new.password_hash)
            .bind(ms)
            .execute(&mut *tx)
            .await
            .map_err(unique("a user with this username already exists"))?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "user.create",
                    "user",
                    Some(user.id),
                    format!("Created user {} ({})", user.username, user.role)
                )
                .after(&user)
            );
            tx.commit().await?;
            true
        });
        Ok(inserted.then_some(user))
    }

    pub async fn get_user(&self, id: Uuid) -> StoreResult<User> {
        let row: Option<UserRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {USER_COLS} FROM users WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(User::from).ok_or(StoreError::NotFound(Entity::User))
    }

    /// The active user with this e-mail address (any case), if exactly one has it.
    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let rows: Vec<UserRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLS} FROM users WHERE LOWER(email) = LOWER($1) AND disabled = FALSE LIMIT 2"
            )))
            .bind(email)
            .fetch_all(pool)
            .await?
        });
        Ok(if rows.len() == 1 { rows.into_iter().next().map(User::from) } else { None })
    }

    /// The user and their password hash, for sign-in.
    pub async fn find_login(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            password_hash: String,
        }
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLS}, password_hash FROM users WHERE username = $1"
            )))
            .bind(username)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|r| (User::from(r.user), r.password_hash)))
    }

    pub async fn find_user_by_username(&self, username: &str) -> StoreResult<User> {
        self.find_login(username).await?.map(|(u, _)| u).ok_or(StoreError::NotFound(Entity::User))
    }

    pub async fn list_users(
        &self,
        q: Option<&str>,
        cursor: Option<&Cursor>,
        limit: Option<i64>,
    ) -> StoreResult<Page<User>> {
        let limit = page::clamp_limit(limit);
        let pattern = q.filter(|q| !q.trim().is_empty()).map(page::like_pattern);
        let rows: Vec<UserRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLS} FROM users \
                 WHERE ($1 IS NULL OR username LIKE $1 ESCAPE '\\' OR LOWER(display_name) LIKE $1 ESCAPE '\\') \
                   AND ($2 IS NULL OR username > $2) ORDER BY username LIMIT $3"
            )))
            .bind(pattern.as_deref())
            .bind(cursor.map(|c| c.key.as_str()))
            .bind(limit + 1)
            .fetch_all(pool)
            .await?
        });
        Ok(page::finish(rows, limit, |r| Cursor { key: r.username.clone(), id: r.id }).map(User::from))
    }

    /// Applies `patch`; refuses to leave the installation without an enabled admin.
    pub async fn update_user(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        patch: UserPatch,
    ) -> StoreResult<User> {
        let before = self.get_user(id).await?;
        let mut after = before.clone();
        if let Some(d) = patch.display_name {
            after.display_name = d;
        }
        if let Some(e) = patch.email {
            after.email = e;
        }
        if let Some(r) = patch.role {
            after.role = r;
        }
        if let Some(d) = patch.disabled {
            after.disabled = d;
        }
        if after == before {
            return Ok(before);
        }
        after.updated_at = now;
        let loses_admin =
            before.role == Role::Admin && !before.disabled && (after.role != Role::Admin || after.disabled);
        write_tx!(self, |tx| {
            if loses_admin {
                let admins: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled AND id <> $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                if admins == 0 {
                    return Err(StoreError::Conflict(
                        "this is the last enabled admin; make another user admin first".into(),
                    ));
                }
            }
            sqlx::query(
                "UPDATE users SET display_name = $1, email = $2, role = $3, disabled = $4, \
                 updated_at = $5 WHERE id = $6",
            )
            .bind(&after.display_name)
            .bind(&after.email)
            .bind(after.role.as_str())
            .bind(after.disabled)
            .bind(now.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if after.disabled {
                // A disabled account loses its sessions at once; its tokens stop working through the join.
                sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
            }
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new("user.update", "user", Some(id), format!("Updated user {}", after.username))
                    .before(&before)
                    .after(&after)
            );
        });
        Ok(after)
    }

    /// Sets a new password hash and ends the user's other sessions.
    pub async fn set_password(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        id: Uuid,
        hash: &str,
        keep_session: Option<&str>,
    ) -> StoreResult<()> {
        let user = self.get_user(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash)
                .bind(now.timestamp_millis())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
                .bind(id)
                .bind(keep_session.unwrap_or(""))
                .execute(&mut *tx)
                .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "user.password",
                    "user",
                    Some(id),
                    format!("Changed the password of {}", user.username)
                )
            );
        });
        Ok(())
    }

    /// The epoch of an enabled user's calendar feed token; `None` for a disabled or unknown user
    /// (their feed stops working).
    pub async fn feed_epoch(&self, id: Uuid) -> StoreResult<Option<i32>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT feed_epoch FROM users WHERE id = $1 AND NOT disabled")
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Revokes the user's calendar feed link: the next one is derived from a new epoch.
    pub async fn new_feed_epoch(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<()> {
        let user = self.get_user(id).await?;
        write_tx!(self, |tx| {
            sqlx::query("UPDATE users SET feed_epoch = feed_epoch + 1, updated_at = $1 WHERE id = $2")
                .bind(now.timestamp_millis())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "user.calendar_link",
                    "user",
                    Some(id),
                    format!("New calendar link for {}; the old one stopped working", user.username)
                )
            );
        });
        Ok(())
    }

    // ---- sessions -------------------------------------------------------------------------

    /// Starts a session for `user` (audited as a sign-in).
    pub async fn create_session(
        &self,
        id_hash: &str,
        user: &User,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> StoreResult<()> {
        let actor = Actor { user_id: Some(user.id), label: user.username.clone() };
        write_tx!(self, |tx| {
            sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(id_hash)
                .bind(user.id)
                .bind(now.timestamp_millis())
                .bind(expires.timestamp_millis())
                .execute(&mut *tx)
                .await?;
            audit!(tx, &actor, now, AuditRecord::new("session.login", "user", Some(user.id), "signed in"));
        });
        Ok(())
    }

    /// The enabled user behind a live session (neither expired nor idle too long).
    pub async fn session_user(&self, id_hash: &str, now: DateTime<Utc>) -> StoreResult<Option<User>> {
        Ok(self.session_user_idle(id_hash, now).await?.map(|(u, _)| u))
    }

    /// The enabled user behind a live session, and until when it may stay idle.
    pub async fn session_user_idle(&self, id_hash: &str, now: DateTime<Utc>) -> StoreResult<Option<(User, i64)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            idle_until: i64,
        }
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.username, u.display_name, u.email, u.role, u.disabled, u.created_at, u.updated_at, \
                 s.idle_until FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.idle_until > $2 AND NOT u.disabled",
            )
            .bind(id_hash)
            .bind(now.timestamp_millis())
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|r| (User::from(r.user), r.idle_until)))
    }

    /// Moves a session's idle deadline (on use).
    pub async fn touch_session(&self, id_hash: &str, idle_until: DateTime<Utc>) -> StoreResult<()> {
        with_writer!(self, |pool| {
            sqlx::query("UPDATE sessions SET idle_until = $1 WHERE id_hash = $2")
                .bind(idle_until.timestamp_millis())
                .bind(id_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Ends a session (audited as a sign-out).
    pub async fn delete_session(&self, id_hash: &str, user: &User, now: DateTime<Utc>) -> StoreResult<()> {
        let actor = Actor { user_id: Some(user.id), label: user.username.clone() };
        write_tx!(self, |tx| {
            let n = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                audit!(tx, &actor, now, AuditRecord::new("session.logout", "user", Some(user.id), "signed out"));
            }
        });
        Ok(())
    }

    /// Records a refused sign-in, so admins can see password guessing in the audit log.
    pub async fn record_failed_login(
        &self,
        username: &str,
        user_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let label: String = username.chars().take(64).collect();
        let actor = Actor { user_id: None, label: label.clone() };
        write_tx!(self, |tx| {
            audit!(
                tx,
                &actor,
                now,
                AuditRecord::new("session.login_failed", "user", user_id, format!("Refused sign-in as {label:?}"))
            );
        });
        Ok(())
    }

    pub async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        Ok(with_writer!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now.timestamp_millis())
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_token_cap_fails_closed() {
        assert_eq!(token_cap(None), None);
        assert_eq!(token_cap(Some("manager".into())), Some(Role::Manager));
        assert_eq!(token_cap(Some("superuser".into())), Some(Role::Viewer));
    }
}
