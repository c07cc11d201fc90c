//! Knowledge-base pages: search and browse by category, read an article (Markdown rendered
//! safely), and the editor agents write with.

use super::{Chrome, PageAuth, done, error_page, form_error, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::kb as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::desk::kb::{ArticleInput, ArticleSpec};
use opsdeck_store::desk::kb::{Article, ArticleFilter};
use serde::Deserialize;

/// A result row: the article and its first words.
pub struct Row {
    pub a: Article,
    pub excerpt: String,
}

fn row(a: Article) -> Row {
    Row { excerpt: crate::markdown::excerpt(&a.body, 180), a }
}

#[derive(Template, WebTemplate)]
#[template(path = "kb/index.html")]
pub struct IndexPage {
    chrome: Chrome,
    q: String,
    category: Option<String>,
    categories: Vec<(String, i64)>,
    rows: Vec<Row>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct IndexQuery {
    q: String,
    /// `Some("")` lists the uncategorised articles; absent lists them all.
    category: Option<String>,
    cursor: String,
    notice: Option<String>,
}

pub async fn index(State(state): State<AppState>, auth: PageAuth, Query(q): Query<IndexQuery>) -> Response {
    let chrome = match auth.chrome(&state, "kb", q.notice.clone()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = async {
        let categories = op::categories(&state, &auth.0).await?;
        if q.q.trim().is_empty() {
            let f = ArticleFilter {
                category: q.category.clone(),
                cursor: opsdeck_store::Cursor::decode(&q.cursor),
                limit: Some(50),
                ..ArticleFilter::default()
            };
            let page = op::list(&state, &auth.0, &f).await?;
            Ok::<_, ApiError>((categories, page.items, page.next_cursor))
        } else {
            Ok((categories, op::search(&state, &auth.0, &q.q, op::SEARCH_MAX).await?, None))
        }
    }
    .await;
    match result {
        Ok((categories, items, next)) => IndexPage {
            chrome,
            q: q.q.chars().take(200).collect(),
            category: q.category,
            categories,
            rows: items.into_iter().map(row).collect(),
            next,
        }
        .into_response(),
        Err(e) => error_page(&e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "kb/article.html")]
pub struct ArticlePage {
    chrome: Chrome,
    a: Article,
    html: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn article(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let chrome = match auth.chrome(&state, "kb", q.notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match op::find(&state, &auth.0, &id).await {
        Ok(a) => {
            let html = crate::markdown::to_html(&a.body);
            ArticlePage { chrome, a, html }.into_response()
        }
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ArticleForm {
    title: String,
    body: String,
    category: String,
    visibility: String,
    version: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "kb/edit.html")]
pub struct EditPage {
    chrome: Chrome,
    /// The article's number when editing one.
    number: Option<i64>,
    form: ArticleForm,
    categories: Vec<(String, i64)>,
    error: Option<String>,
}

async fn edit_page(
    state: &AppState,
    auth: &PageAuth,
    number: Option<i64>,
    form: ArticleForm,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "kb", None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let categories = op::categories(state, &auth.0).await.unwrap_or_default();
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, EditPage { chrome, number, form, categories, error }).into_response()
}

pub async fn new(State(state): State<AppState>, auth: PageAuth) -> Response {
    if let Err(e) = auth.0.require(opsdeck_core::role::Permission::Respond) {
        return error_page(&e);
    }
    let form = ArticleForm { visibility: "agents".into(), ..ArticleForm::default() };
    edit_page(&state, &auth, None, form, None).await
}

pub async fn edit(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    if let Err(e) = auth.0.require(opsdeck_core::role::Permission::Respond) {
        return error_page(&e);
    }
    match op::find(&state, &auth.0, &id).await {
        Ok(a) => {
            let form = ArticleForm {
                title: a.title,
                body: a.body,
                category: a.category,
                visibility: a.visibility.as_str().into(),
                version: Some(a.version),
            };
            edit_page(&state, &auth, Some(a.number), form, None).await
        }
        Err(e) => error_page(&e),
    }
}

fn spec(f: &ArticleForm) -> Result<ArticleSpec, ApiError> {
    Ok(ArticleSpec::new(&ArticleInput {
        title: f.title.clone(),
        body: f.body.clone(),
        category: Some(f.category.clone()),
        visibility: Some(f.visibility.clone()),
    })?)
}

pub async fn create(State(state): State<AppState>, auth: PageAuth, Form(f): Form<ArticleForm>) -> Response {
    let result = async { op::create(&state, &auth.0, &spec(&f)?).await }.await;
    match result {
        Ok(a) => done(&format!("/kb/{}", a.number), &format!("{} published", a.key())),
        Err(e) => match form_error(e) {
            Ok(msg) => edit_page(&state, &auth, None, f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn update(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<ArticleForm>,
) -> Response {
    let number = id.trim_start_matches("KB-").parse::<i64>().ok();
    let result = async {
        let version = f.version.ok_or_else(|| ApiError::invalid("version", "reload the article and edit it again"))?;
        op::update(&state, &auth.0, &id, version, &spec(&f)?).await
    }
    .await;
    match result {
        Ok(a) => done(&format!("/kb/{}", a.number), &format!("{} saved", a.key())),
        Err(e) => match form_error(e) {
            Ok(msg) => edit_page(&state, &auth, number, f, Some(msg)).await,
            Err(r) => r,
        },
    }
}

pub async fn delete(State(state): State<AppState>, auth: PageAuth, Path(id): Path<String>) -> Response {
    match op::delete(&state, &auth.0, &id).await {
        Ok(()) => done("/kb", "Article deleted"),
        Err(e) => outcome(&format!("/kb/{id}"), Err(e)),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AnswerForm {
    /// `yes` or `no`.
    helpful: String,
}

/// "Did this answer your question?": yes thanks the reader; no takes them to a new ticket about it.
pub async fn answer(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Response {
    let helpful = f.helpful == "yes";
    match op::answer(&state, &auth.0, &id, helpful).await {
        Ok(_) if helpful => done(&format!("/kb/{id}"), "Glad it helped: no ticket needed"),
        Ok(a) => axum::response::Redirect::to(&format!("/tickets/new?title={}", urlencoding(&a.title))).into_response(),
        Err(e) => error_page(&e),
    }
}

fn urlencoding(s: &str) -> String {
    serde_urlencoded::to_string([("t", s)]).map(|q| q.trim_start_matches("t=").to_owned()).unwrap_or_default()
}
