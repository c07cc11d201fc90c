//! Knowledge-base articles and their full-text search (SQLite FTS5 with BM25, PostgreSQL
//! weighted tsvector with `ts_rank`).

use crate::audit::audit;
use crate::page::{self, Cursor, Page};
use crate::{Backend, Db, StoreError, StoreResult, with_db, write_tx};
use chrono::{DateTime, Utc};
use opsdeck_core::Entity;
use opsdeck_core::audit::{Actor, AuditRecord};
use opsdeck_core::clock::from_millis;
use opsdeck_core::desk::kb::{ArticleSpec, Visibility};
use serde::Serialize;
use uuid::Uuid;

/// A stored article.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Article {
    pub id: Uuid,
    pub number: i64,
    pub title: String,
    pub body: String,
    pub category: String,
    pub visibility: Visibility,
    pub author: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Article {
    /// `KB-12`.
    pub fn key(&self) -> String {
        format!("KB-{}", self.number)
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    number: i64,
    title: String,
    body: String,
    category: String,
    visibility: String,
    author: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<Row> for Article {
    fn from(r: Row) -> Self {
        Article {
            id: r.id,
            number: r.number,
            title: r.title,
            body: r.body,
            category: r.category,
            visibility: Visibility::parse(&r.visibility).unwrap_or(Visibility::Agents),
            author: r.author,
            version: r.version,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

const COLUMNS: &str = "a.id, a.number, a.title, a.body, a.category, a.visibility, a.author, a.version, a.created_at, \
                       a.updated_at";

/// Filters of the article list.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    pub category: Option<String>,
    /// Only public articles (the caller is not an agent).
    pub public_only: bool,
    pub cursor: Option<Cursor>,
    pub limit: Option<i64>,
}

/// How the words of a search combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Every word (the last one as a prefix, for search as you type).
    All,
    /// Any word, best ranked first (suggestions from a ticket's title).
    Any,
}

/// The full-text query for `words`: every word (the last also as a prefix) or any word.
fn query(backend: Backend, words: &[String], how: Match) -> String {
    // Words hold letters and digits only (`kb::query_words`), so no query syntax is injected.
    let last = words.len().saturating_sub(1);
    let all = how == Match::All;
    let terms: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| match (backend, all && i == last) {
            (Backend::Sqlite, true) => format!("\"{w}\"*"),
            (Backend::Sqlite, false) => format!("\"{w}\""),
            (Backend::Postgres, true) => format!("{w}:*"),
            (Backend::Postgres, false) => w.clone(),
        })
        .collect();
    let join = match (backend, all) {
        (Backend::Sqlite, true) => " AND ",
        (Backend::Sqlite, false) => " OR ",
        (Backend::Postgres, true) => " & ",
        (Backend::Postgres, false) => " | ",
    };
    terms.join(join)
}

/// How many matches PostgreSQL ranks at most: a word in most articles would otherwise make
/// every search read every article's vector (`gin_fuzzy_search_limit` samples them instead).
const PG_RANKED_MAX: &str = "5000";

/// How many of the newest matches a search ranks, at most. A word in thousands of articles
/// tells them apart no better than their age does, and ranking every match was most of a
/// search's time (100,000 articles: a word in each took 106 ms on SQLite, 419 ms on
/// PostgreSQL at p95). SQLite walks the match newest first and stops here; on PostgreSQL a
/// plan through the GIN index may take the newest of a [`PG_RANKED_MAX`] sample instead.
const RANK_WINDOW: i64 = 1000;

impl Db {
    /// Writes an article signed by `author` (a person's name, never a token's label).
    pub async fn create_article(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        author: &str,
        spec: &ArticleSpec,
    ) -> StoreResult<Article> {
        let (id, at) = (Uuid::now_v7(), now.timestamp_millis());
        write_tx!(self, |tx| {
            let number: i64 =
                sqlx::query_scalar("UPDATE revisions SET value = value + 1 WHERE name = 'kb_number' RETURNING value")
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query(
                "INSERT INTO kb_articles (id, number, title, body, category, visibility, author, version, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)",
            )
            .bind(id)
            .bind(number)
            .bind(&spec.title)
            .bind(&spec.body)
            .bind(&spec.category)
            .bind(spec.visibility.as_str())
            .bind(author)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let summary = format!("Wrote KB-{number} {}", spec.title);
            audit!(tx, actor, now, AuditRecord::new("article.create", "article", Some(id), summary));
        });
        self.get_article(id).await
    }

    /// Saves `spec` over the article at `version` (a stale version is a conflict).
    pub async fn update_article(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        before: &Article,
        version: i64,
        spec: &ArticleSpec,
    ) -> StoreResult<Article> {
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE kb_articles SET title = $1, body = $2, category = $3, visibility = $4, version = version + 1, \
                 updated_at = $5 WHERE id = $6 AND version = $7",
            )
            .bind(&spec.title)
            .bind(&spec.body)
            .bind(&spec.category)
            .bind(spec.visibility.as_str())
            .bind(now.timestamp_millis())
            .bind(before.id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "{} was changed by someone else since you loaded it; reload it",
                    before.key()
                )));
            }
            let summary = format!("Edited {} {}", before.key(), spec.title);
            audit!(tx, actor, now, AuditRecord::new("article.update", "article", Some(before.id), summary));
        });
        self.get_article(before.id).await
    }

    pub async fn delete_article(&self, actor: &Actor, now: DateTime<Utc>, a: &Article) -> StoreResult<()> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM kb_articles WHERE id = $1").bind(a.id).execute(&mut *tx).await?;
            let summary = format!("Deleted {} {}", a.key(), a.title);
            audit!(tx, actor, now, AuditRecord::new("article.delete", "article", Some(a.id), summary));
        });
        Ok(())
    }

    pub async fn get_article(&self, id: Uuid) -> StoreResult<Article> {
        let sql = format!("SELECT {COLUMNS} FROM kb_articles a WHERE a.id = $1");
        let row: Option<Row> = with_db!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id)
            .fetch_optional(pool)
            .await?);
        row.map(Article::from).ok_or(StoreError::NotFound(Entity::Article))
    }

    pub async fn article_by_number(&self, number: i64) -> StoreResult<Article> {
        let sql = format!("SELECT {COLUMNS} FROM kb_articles a WHERE a.number = $1");
        let row: Option<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(number).fetch_optional(pool).await?
        });
        row.map(Article::from).ok_or(StoreError::NotFound(Entity::Article))
    }

    /// Articles newest first, a page at a time.
    pub async fn articles(&self, f: &ArticleFilter) -> StoreResult<Page<Article>> {
        let limit = page::clamp_limit(f.limit);
        let before = f.cursor.as_ref().and_then(|c| c.key.parse::<i64>().ok()).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT {COLUMNS} FROM kb_articles a WHERE a.number < $1 AND ($2 IS NULL OR a.category = $2) \
             AND (NOT $3 OR a.visibility = 'public') ORDER BY a.number DESC LIMIT $4"
        );
        let rows: Vec<Row> = with_db!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(before)
                .bind(&f.category)
                .bind(f.public_only)
                .bind(limit + 1)
                .fetch_all(pool)
                .await?
        });
        Ok(page::finish(rows, limit, |r| Cursor { key: r.number.to_string(), id: r.id }).map(Article::from))
    }

    /// The categories in use, with how many articles each holds (public ones only for
    /// requesters).
    pub async fn article_categories(&self, public_only: bool) -> StoreResult<Vec<(String, i64)>> {
        Ok(with_db!(self, |pool| {
            sqlx::query_as(
                "SELECT category, COUNT(*) FROM kb_articles WHERE NOT $1 OR visibility = 'public' \
                 GROUP BY category ORDER BY category LIMIT 500",
            )
            .bind(public_only)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The best `limit` articles for `words` (from `kb::query_words`), best first. SQLite ranks
    /// inside the FTS5 index (BM25, title words first; a requester's search keeps to
    /// `audience:public` there) and reads only the winners' rows; PostgreSQL ranks with
    /// `ts_rank` over at most [`PG_RANKED_MAX`] matches. Both rank the newest
    /// [`RANK_WINDOW`] matches.
    pub async fn search_articles(
        &self,
        words: &[String],
        how: Match,
        public_only: bool,
        limit: i64,
    ) -> StoreResult<Vec<Article>> {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let limit = limit.clamp(1, 50);
        let mut q = query(self.backend(), words, how);
        let rows: Vec<Row> = match self {
            Db::Sqlite(sqlite) => {
                if public_only {
                    q = format!("({q}) AND audience:public");
                }
                let sql = format!(
                    "WITH recent AS (SELECT rowid AS n, bm25(kb_fts, 8.0, 3.0, 1.0, 0.0) AS r FROM kb_fts \
                     WHERE kb_fts MATCH $1 ORDER BY rowid DESC LIMIT {RANK_WINDOW}), \
                     hits AS (SELECT n, r FROM recent ORDER BY r, n DESC LIMIT $2) \
                     SELECT {COLUMNS} FROM hits JOIN kb_articles a ON a.number = hits.n ORDER BY hits.r, a.number DESC"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&q).bind(limit).fetch_all(&sqlite.pool).await?
            }
            Db::Postgres(pool) => {
                let sql = format!(
                    "WITH recent AS (SELECT number, ts_rank(search_vector, to_tsquery('english', $1)) AS r \
                     FROM kb_articles WHERE search_vector @@ to_tsquery('english', $1) \
                     AND (NOT $2 OR visibility = 'public') ORDER BY number DESC LIMIT {RANK_WINDOW}) \
                     SELECT {COLUMNS} FROM recent JOIN kb_articles a ON a.number = recent.number \
                     ORDER BY recent.r DESC, a.number DESC LIMIT $3"
                );
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT set_config('gin_fuzzy_search_limit', $1, true)")
                    .bind(PG_RANKED_MAX)
                    .execute(&mut *tx)
                    .await?;
                let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(&q)
                    .bind(public_only)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows
            }
        };
        Ok(rows.into_iter().map(Article::from).collect())
    }

    /// Records a reader's answer to whether an article answered their question: their latest
    /// answer stands, dated by their first (so a past period's figure does not move when they
    /// answer again); the self-service deflection KPI counts the yeses.
    pub async fn answer_article(
        &self,
        article: Uuid,
        user: Uuid,
        helpful: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        crate::with_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO kb_answers (article_id, user_id, helpful, at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (article_id, user_id) DO UPDATE SET helpful = excluded.helpful",
            )
            .bind(article)
            .bind(user)
            .bind(helpful)
            .bind(now.timestamp_millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// How many readers said an article answered their question in `[from, to)`.
    pub async fn self_service_answers_between(&self, from_ms: i64, to_ms: i64) -> StoreResult<i64> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM kb_answers WHERE helpful = $3 AND at >= $1 AND at < $2")
                .bind(from_ms)
                .bind(to_ms)
                .bind(true)
                .fetch_one(pool)
                .await?
        }))
    }
}
