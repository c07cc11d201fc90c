//! The knowledge base: articles and their search.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::operations::cursor;
use crate::operations::kb as op;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use opsdeck_core::desk::kb::{ArticleInput, ArticleSpec};
use opsdeck_store::desk::kb::{Article, ArticleFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_articles, create_article))
        .routes(routes!(get_article, update_article, delete_article))
        .routes(routes!(search))
        .routes(routes!(answer_article))
}

#[derive(Serialize, ToSchema)]
pub struct ArticleDto {
    pub id: Uuid,
    /// KB-12.
    pub number: String,
    pub title: String,
    /// Markdown.
    pub body: String,
    pub category: String,
    /// agents or public.
    pub visibility: String,
    pub author: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn dto(a: Article) -> ArticleDto {
    ArticleDto {
        id: a.id,
        number: a.key(),
        title: a.title,
        body: a.body,
        category: a.category,
        visibility: a.visibility.as_str().into(),
        author: a.author,
        version: a.version,
        created_at: ts(a.created_at),
        updated_at: ts(a.updated_at),
    }
}

/// An article in a list or a search result: its first words instead of the whole body.
#[derive(Serialize, ToSchema)]
pub struct ArticleSummaryDto {
    pub id: Uuid,
    pub number: String,
    pub title: String,
    pub category: String,
    pub visibility: String,
    /// The body's first 200 characters as plain text.
    pub excerpt: String,
    pub updated_at: String,
}

pub fn summary(a: Article) -> ArticleSummaryDto {
    ArticleSummaryDto {
        id: a.id,
        excerpt: crate::markdown::excerpt(&a.body, 200),
        number: a.key(),
        title: a.title,
        category: a.category,
        visibility: a.visibility.as_str().into(),
        updated_at: ts(a.updated_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleBody {
    #[schema(schema_with = crate::api::schema::name)]
    pub title: String,
    /// Markdown, 1 to 100,000 characters. Raw HTML is shown as text.
    #[schema(schema_with = crate::api::ticket_schema::article_body)]
    pub body: String,
    #[schema(schema_with = crate::api::ticket_schema::category_opt)]
    pub category: Option<String>,
    /// agents (default: responders and up read it) or public (requesters too).
    #[schema(schema_with = crate::api::ticket_schema::visibility_opt)]
    pub visibility: Option<String>,
    /// For an edit: the version you loaded (required; an older one is refused with 409).
    pub version: Option<i64>,
}

fn spec(b: &ArticleBody) -> Result<ArticleSpec, ApiError> {
    Ok(ArticleSpec::new(&ArticleInput {
        title: b.title.clone(),
        body: b.body.clone(),
        category: b.category.clone(),
        visibility: b.visibility.clone(),
    })?)
}

/// Writes an article (responders and up).
#[utoipa::path(post, path = "/api/v1/kb/articles", tag = "knowledge base", request_body = ArticleBody,
    responses((status = 201, body = ArticleDto)))]
async fn create_article(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(b): ApiJson<ArticleBody>,
) -> Result<(StatusCode, Json<ArticleDto>), ApiError> {
    let a = op::create(&state, &auth, &spec(&b)?).await?;
    Ok((StatusCode::CREATED, Json(dto(a))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ArticleQuery {
    /// Only articles in this category.
    #[param(max_length = 60)]
    pub category: Option<String>,
    #[param(schema_with = crate::api::schema::limit_opt)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::api::schema::cursor_opt)]
    pub cursor: Option<String>,
}

/// Articles, newest first; requesters (viewers) see the public ones.
#[utoipa::path(get, path = "/api/v1/kb/articles", tag = "knowledge base", params(ArticleQuery),
    responses((status = 200, body = List<ArticleSummaryDto>)))]
async fn list_articles(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ArticleQuery>,
) -> Result<Json<List<ArticleSummaryDto>>, ApiError> {
    if q.category.as_deref().is_some_and(|c| c.chars().count() > 60) {
        return Err(ApiError::invalid("category", "must be at most 60 characters"));
    }
    let f = ArticleFilter {
        category: q.category,
        public_only: false,
        cursor: cursor(q.cursor.as_deref())?,
        limit: super::limit(q.limit)?,
    };
    Ok(Json(List::from_page(op::list(&state, &auth, &f).await?, summary)))
}

/// An article. Requesters see public articles only (404 otherwise).
#[utoipa::path(get, path = "/api/v1/kb/articles/{id}", tag = "knowledge base",
    params(("id" = String, Path, description = "The article's id or number (KB-12)")),
    responses((status = 200, body = ArticleDto)))]
async fn get_article(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<ArticleDto>, ApiError> {
    Ok(Json(dto(op::find(&state, &auth, &id).await?)))
}

/// Replaces an article (responders and up) at the version you loaded.
#[utoipa::path(put, path = "/api/v1/kb/articles/{id}", tag = "knowledge base",
    params(("id" = String, Path, description = "The article's id or number")), request_body = ArticleBody,
    responses((status = 200, body = ArticleDto)))]
async fn update_article(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ArticleBody>,
) -> Result<Json<ArticleDto>, ApiError> {
    let spec = spec(&b)?;
    let version = b.version.ok_or_else(|| ApiError::invalid("version", "give the version you loaded"))?;
    Ok(Json(dto(op::update(&state, &auth, &id, version, &spec).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    /// true: the article answered the reader's question (counted as self-service deflection).
    pub helpful: bool,
}

/// Records whether an article answered the caller's question (anyone who may read it; their
/// latest answer stands). The yeses are the desk's self-service deflection KPI.
#[utoipa::path(post, path = "/api/v1/kb/articles/{id}/answer", tag = "knowledge base",
    params(("id" = String, Path, description = "The article's id or number")), request_body = AnswerBody,
    responses((status = 204)))]
async fn answer_article(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AnswerBody>,
) -> Result<StatusCode, ApiError> {
    op::answer(&state, &auth, &id, b.helpful).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an article (managers and up).
#[utoipa::path(delete, path = "/api/v1/kb/articles/{id}", tag = "knowledge base",
    params(("id" = String, Path, description = "The article's id or number")),
    responses((status = 204)))]
async fn delete_article(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op::delete(&state, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// The words to find (letters and digits count; the last word also matches as a prefix).
    #[param(min_length = 1, max_length = 200)]
    pub q: String,
    /// all (default): articles holding every word; any: articles holding any telling word, best
    /// first (suggestions from a ticket's title).
    #[serde(rename = "match")]
    #[param(pattern = "^(all|any)$")]
    pub how: Option<String>,
    /// At most this many results (default 10, at most 50).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i64>,
}

/// Searches the knowledge base, best match first (title words weigh most). Requesters find
/// public articles only.
#[utoipa::path(get, path = "/api/v1/kb/search", tag = "knowledge base", params(SearchQuery),
    responses((status = 200, body = List<ArticleSummaryDto>)))]
async fn search(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<List<ArticleSummaryDto>>, ApiError> {
    if q.q.is_empty() || q.q.chars().count() > 200 {
        return Err(ApiError::invalid("q", "give 1 to 200 characters"));
    }
    let limit = match q.limit {
        None => 10,
        Some(n @ 1..=50) => n,
        Some(_) => return Err(ApiError::invalid("limit", "must be 1 to 50")),
    };
    let found = match q.how.as_deref() {
        None | Some("all") => op::search(&state, &auth, &q.q, limit).await?,
        Some("any") => op::suggest(&state, &auth, &q.q, limit).await?,
        Some(_) => return Err(ApiError::invalid("match", "must be \"all\" or \"any\"")),
    };
    Ok(Json(List { items: found.into_iter().map(summary).collect(), next_cursor: None }))
}
