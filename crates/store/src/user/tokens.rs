//! API tokens: created with a secret shown once, listed by hint, revoked, and resolved to their
//! owner on every request.

use super::*;

impl Db {
    #[allow(clippy::too_many_arguments)]
    pub async fn create_token(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        user_id: Uuid,
        name: &str,
        token_hash: &str,
        hint: &str,
        role: Option<Role>,
    ) -> StoreResult<ApiToken> {
        let owner = self.get_user(user_id).await?;
        let token = ApiToken {
            id: Uuid::now_v7(),
            user_id,
            username: owner.username.clone(),
            name: name.to_owned(),
            hint: hint.to_owned(),
            role,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, hint, role, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(token.id)
            .bind(user_id)
            .bind(name)
            .bind(token_hash)
            .bind(hint)
            .bind(role.map(Role::as_str))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "token.create",
                    "api_token",
                    Some(token.id),
                    format!("Created API token {name:?} for {}", owner.username)
                )
                .after(&token)
            );
        });
        Ok(token)
    }

    /// Tokens of one user, or of everyone when `user_id` is `None`; newest first, at most 500.
    pub async fn list_tokens(&self, user_id: Option<Uuid>) -> StoreResult<Vec<ApiToken>> {
        let rows: Vec<TokenRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{TOKEN_SELECT} WHERE ($1 IS NULL OR t.user_id = $1) \
                 ORDER BY t.revoked_at IS NOT NULL, t.created_at DESC LIMIT 500"
            )))
            .bind(user_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(ApiToken::from).collect())
    }

    pub async fn get_token(&self, id: Uuid) -> StoreResult<ApiToken> {
        let row: Option<TokenRow> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{TOKEN_SELECT} WHERE t.id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(ApiToken::from).ok_or(StoreError::NotFound(Entity::ApiToken))
    }

    pub async fn revoke_token(&self, actor: &Actor, now: DateTime<Utc>, id: Uuid) -> StoreResult<ApiToken> {
        let before = self.get_token(id).await?;
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        let mut after = before.clone();
        after.revoked_at = Some(now);
        write_tx!(self, |tx| {
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now.timestamp_millis())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit!(
                tx,
                actor,
                now,
                AuditRecord::new(
                    "token.revoke",
                    "api_token",
                    Some(id),
                    format!("Revoked API token {:?} of {}", before.name, before.username)
                )
                .before(&before)
                .after(&after)
            );
        });
        Ok(after)
    }

    /// The enabled owner and the token behind a live, unrevoked token hash.
    pub async fn token_user(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<Option<(User, ApiToken)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            token_id: Uuid,
            token_name: String,
            hint: String,
            token_role: Option<String>,
            token_created_at: i64,
            last_used_at: Option<i64>,
        }
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.username, u.display_name, u.email, u.role, u.disabled, u.created_at, u.updated_at, \
                        t.id AS token_id, t.name AS token_name, t.hint, t.role AS token_role, \
                        t.created_at AS token_created_at, t.last_used_at \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND NOT u.disabled",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?
        });
        let Some(r) = row else { return Ok(None) };
        let ms = now.timestamp_millis();
        if r.last_used_at.is_none_or(|t| ms - t >= LAST_USED_RESOLUTION_MS) {
            with_writer!(self, |pool| {
                sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                    .bind(ms)
                    .bind(r.token_id)
                    .execute(pool)
                    .await?;
            });
        }
        let user = User::from(r.user);
        let token = ApiToken {
            id: r.token_id,
            user_id: user.id,
            username: user.username.clone(),
            name: r.token_name,
            hint: r.hint,
            role: token_cap(r.token_role),
            created_at: from_millis(r.token_created_at),
            last_used_at: Some(now),
            revoked_at: None,
        };
        Ok(Some((user, token)))
    }
}
