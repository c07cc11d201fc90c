//! Account operations: first-run setup, users (administered by admins), passwords, and API
//! tokens (each user's own; admins may act on anyone's).

use crate::AppState;
use crate::auth::{Auth, Via};
use crate::error::ApiError;
use opsdeck_core::Entity;
use opsdeck_core::role::{Permission, Role};
use opsdeck_core::secret;
use opsdeck_core::user::{self, ApiToken, User};
use opsdeck_store::user::{NewUser, UserPatch};
use uuid::Uuid;

/// A user by id or username.
pub async fn find_user(state: &AppState, r: &str) -> Result<User, ApiError> {
    Ok(match r.parse::<Uuid>() {
        Ok(id) => state.db.get_user(id).await?,
        Err(_) => state.db.find_user_by_username(r).await?,
    })
}

/// Validates account fields and hashes the password (off the async threads).
pub async fn validate_new_user(
    username: &str,
    password: &str,
    display_name: Option<&str>,
    email: Option<&str>,
    role: Role,
) -> Result<NewUser, ApiError> {
    let username = user::username(username)?;
    user::password(password)?;
    let display_name = match display_name.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => opsdeck_core::validate::name("display_name", d)?,
        None => username.clone(),
    };
    let email = user::email(email)?;
    let password = password.to_owned();
    let password_hash = tokio::task::spawn_blocking(move || secret::hash_password(&password))
        .await
        .map_err(|_| ApiError::internal())??;
    Ok(NewUser { username, display_name, email, role, password_hash })
}

/// Creates the first admin account; refused with a conflict once any account exists.
pub async fn create_first_admin(
    state: &AppState,
    username: &str,
    password: &str,
    display_name: Option<&str>,
    email: Option<&str>,
) -> Result<User, ApiError> {
    let already = || ApiError::conflict("setup is already done; sign in instead");
    if state.db.count_users().await? > 0 {
        return Err(already());
    }
    let new = validate_new_user(username, password, display_name, email, Role::Admin).await?;
    let user = state.db.create_first_admin(state.now(), new).await?;
    user.ok_or_else(already)
}

/// Creates an account (admin); `new` comes from [`validate_new_user`].
pub async fn create_user(state: &AppState, auth: &Auth, new: NewUser) -> Result<User, ApiError> {
    auth.require(Permission::Administer)?;
    let user = state.db.create_user(&auth.actor(), state.now(), new).await?;
    state.events.publish("user.created", Some(user.id), format!("User {} added", user.username));
    Ok(user)
}

/// Changes an account (admin). The last enabled admin cannot be demoted or disabled.
pub async fn update_user(state: &AppState, auth: &Auth, target: &User, patch: UserPatch) -> Result<User, ApiError> {
    auth.require(Permission::Administer)?;
    let user = state.db.update_user(&auth.actor(), state.now(), target.id, patch).await?;
    state.events.publish("user.updated", Some(user.id), format!("User {} updated", user.username));
    access_changed(state, user.id);
    Ok(user)
}

/// Sets a password: one's own (with the current password) or anyone's (admin). Ends the
/// target's other sessions.
pub async fn change_password(
    state: &AppState,
    auth: &Auth,
    target: &User,
    current: Option<&str>,
    new: &str,
) -> Result<(), ApiError> {
    let own = target.id == auth.user.id;
    if !own {
        auth.require(Permission::Administer)?;
    } else {
        let (_, hash) =
            state.db.find_login(&target.username).await?.ok_or_else(|| ApiError::not_found(Entity::User))?;
        let current = current.unwrap_or("").to_owned();
        let ok = tokio::task::spawn_blocking(move || secret::verify_password(&current, &hash)).await.unwrap_or(false);
        if !ok {
            return Err(ApiError::invalid("current_password", "is not your current password"));
        }
    }
    user::password(new)?;
    let new = new.to_owned();
    let hash =
        tokio::task::spawn_blocking(move || secret::hash_password(&new)).await.map_err(|_| ApiError::internal())??;
    state.db.set_password(&auth.actor(), state.now(), target.id, &hash, auth.session_hash()).await?;
    access_changed(state, target.id);
    Ok(())
}

/// Signs out: ends the caller's session (a token caller has none to end).
pub async fn end_session(state: &AppState, auth: &Auth) -> Result<(), ApiError> {
    if let Some(hash) = auth.session_hash() {
        state.db.delete_session(hash, &auth.user, state.now()).await?;
        access_changed(state, auth.user.id);
    }
    Ok(())
}

/// Tells the user's open live-update streams to check their access again now (a session ended,
/// a token was revoked, the account changed); streams that lost it close.
fn access_changed(state: &AppState, user_id: Uuid) {
    state.events.publish(crate::events::ACCESS_CHANGED, Some(user_id), "");
}

/// Validates and stores a new token for `owner`; returns it with its one-time secret.
pub async fn issue_token(
    state: &AppState,
    auth: &Auth,
    owner: &User,
    name: &str,
    role: Option<Role>,
) -> Result<(ApiToken, String), ApiError> {
    let name = opsdeck_core::validate::name("name", name)?;
    if name.chars().count() > user::TOKEN_NAME_MAX {
        return Err(ApiError::invalid("name", format!("must be at most {} characters", user::TOKEN_NAME_MAX)));
    }
    if let Some(r) = role
        && r > owner.role
    {
        return Err(ApiError::invalid("role", format!("cannot exceed the owner's role ({})", owner.role)));
    }
    // A token made through another token cannot exceed that token's cap.
    let role = match (role, &auth.via) {
        (r, Via::Token(_)) if owner.id == auth.user.id => Some(r.unwrap_or(auth.role).min(auth.role)),
        (r, _) => r,
    };
    let secret = secret::generate(secret::TOKEN_PREFIX);
    let token = state
        .db
        .create_token(
            &auth.actor(),
            state.now(),
            owner.id,
            &name,
            &secret::digest(&secret),
            &secret::token_hint(&secret),
            role,
        )
        .await?;
    Ok((token, secret))
}

/// Revokes a token at once: one's own, or anyone's for admins.
pub async fn revoke_token(state: &AppState, auth: &Auth, id: Uuid) -> Result<ApiToken, ApiError> {
    let token = state.db.get_token(id).await?;
    if token.user_id != auth.user.id && !auth.allows(Permission::Administer) {
        // Do not reveal other users' token ids.
        return Err(ApiError::not_found(Entity::ApiToken));
    }
    let revoked = state.db.revoke_token(&auth.actor(), state.now(), id).await?;
    access_changed(state, revoked.user_id);
    Ok(revoked)
}
