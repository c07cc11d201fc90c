//! The knowledge base: agents write articles; everyone signed in reads and searches the public
//! ones, agents all of them. Suggestions while a ticket is written search its title.

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::Entity;
use opsdeck_core::desk::kb::{self, ArticleSpec};
use opsdeck_core::role::Permission;
use opsdeck_store::Page;
use opsdeck_store::desk::kb::{Article, ArticleFilter, Match};
use uuid::Uuid;

pub const ARTICLE_CHANGED: &str = "article.changed";
/// Search results, at most.
pub const SEARCH_MAX: i64 = 50;

fn agent(auth: &Auth) -> bool {
    auth.allows(Permission::Respond)
}

pub async fn list(state: &AppState, auth: &Auth, f: &ArticleFilter) -> Result<Page<Article>, ApiError> {
    auth.require(Permission::Read)?;
    let f = ArticleFilter { public_only: !agent(auth), ..f.clone() };
    Ok(state.db.articles(&f).await?)
}

pub async fn categories(state: &AppState, auth: &Auth) -> Result<Vec<(String, i64)>, ApiError> {
    auth.require(Permission::Read)?;
    Ok(state.db.article_categories(!agent(auth)).await?)
}

/// The articles that hold every word of `q` (the last word as a prefix), best first.
pub async fn search(state: &AppState, auth: &Auth, q: &str, limit: i64) -> Result<Vec<Article>, ApiError> {
    auth.require(Permission::Read)?;
    let words = kb::query_words(q);
    Ok(state.db.search_articles(&words, Match::All, !agent(auth), limit.clamp(1, SEARCH_MAX)).await?)
}

/// Articles that may answer a ticket titled `text`: any of its telling words, best first.
pub async fn suggest(state: &AppState, auth: &Auth, text: &str, limit: i64) -> Result<Vec<Article>, ApiError> {
    auth.require(Permission::Read)?;
    let words = kb::telling_words(text);
    Ok(state.db.search_articles(&words, Match::Any, !agent(auth), limit.clamp(1, SEARCH_MAX)).await?)
}

/// An article by id, `KB-n` or number; requesters find public articles only.
pub async fn find(state: &AppState, auth: &Auth, reference: &str) -> Result<Article, ApiError> {
    auth.require(Permission::Read)?;
    let r = reference.trim();
    let number = r.strip_prefix("KB-").or_else(|| r.strip_prefix("kb-")).unwrap_or(r);
    let a = match number.parse::<i64>() {
        Ok(n) => state.db.article_by_number(n).await?,
        Err(_) => match Uuid::parse_str(r) {
            Ok(id) => state.db.get_article(id).await?,
            Err(_) => return Err(ApiError::not_found(Entity::Article)),
        },
    };
    if a.visibility != kb::Visibility::Public && !agent(auth) {
        return Err(ApiError::not_found(Entity::Article));
    }
    Ok(a)
}

/// A requester's answer to "did this answer your question?" (their latest answer stands); the
/// yeses are the desk's self-service deflection. Agents' answers are not asked for nor counted:
/// they are not the ones deflected.
pub async fn answer(state: &AppState, auth: &Auth, reference: &str, helpful: bool) -> Result<Article, ApiError> {
    let a = find(state, auth, reference).await?;
    if !agent(auth) {
        state.db.answer_article(a.id, auth.user.id, helpful, state.now()).await?;
    }
    Ok(a)
}

/// Writes an article (agents: responders and up).
pub async fn create(state: &AppState, auth: &Auth, spec: &ArticleSpec) -> Result<Article, ApiError> {
    auth.require(Permission::Respond)?;
    let a = state.db.create_article(&auth.actor(), state.now(), &auth.user.shown_name(), spec).await?;
    state.events.publish(ARTICLE_CHANGED, Some(a.id), format!("{} written", a.key()));
    Ok(a)
}

/// Saves an article over `version` (the one the editor loaded).
pub async fn update(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    version: i64,
    spec: &ArticleSpec,
) -> Result<Article, ApiError> {
    auth.require(Permission::Respond)?;
    let before = find(state, auth, reference).await?;
    super::check_version(&before.key(), before.version, Some(version))?;
    let a = state.db.update_article(&auth.actor(), state.now(), &before, version, spec).await?;
    state.events.publish(ARTICLE_CHANGED, Some(a.id), format!("{} edited", a.key()));
    Ok(a)
}

/// Deletes an article (managers and up: agents retire knowledge by editing it).
pub async fn delete(state: &AppState, auth: &Auth, reference: &str) -> Result<(), ApiError> {
    auth.require(Permission::Configure)?;
    let a = find(state, auth, reference).await?;
    state.db.delete_article(&auth.actor(), state.now(), &a).await?;
    state.events.publish(ARTICLE_CHANGED, Some(a.id), format!("{} deleted", a.key()));
    Ok(())
}
