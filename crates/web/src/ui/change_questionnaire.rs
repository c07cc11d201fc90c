//! Changes → Risk questions: the risk questionnaire edited as text, one question per line and
//! its options indented under it:
//!
//! ```text
//! tested: Was the change tested in a production-like environment?
//!   yes = Yes, fully | 0
//!   partly = Partly | 10
//! ```
//!
//! Lines that break the format are named by number; the rules on keys, counts and points are
//! `Questionnaire::new`'s, as for the API.

use super::{Chrome, PageAuth, done, error_page, form_error};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::change_calendar as op;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use opsdeck_core::change::spec::{OPTIONS_MAX, QUESTIONS_MAX, Question, Questionnaire, RiskOption};
use serde::Deserialize;

/// The questionnaire as the editor shows it.
pub fn render(q: &Questionnaire) -> String {
    let mut out = String::new();
    for question in &q.questions {
        out.push_str(&format!("{}: {}\n", question.key, question.text));
        for o in &question.options {
            out.push_str(&format!("  {} = {} | {}\n", o.key, o.label, o.points));
        }
    }
    out
}

/// The editor's text as questions; a line that breaks the format is named by its number. The
/// text is bounded by the form's size limit, and the counts are capped here as they are read.
pub fn parse(text: &str) -> Result<Vec<Question>, ApiError> {
    let mut questions: Vec<Question> = Vec::new();
    let bad = |n: usize, what: &str| ApiError::invalid("questions", format!("line {n}: {what}"));
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let Some(q) = questions.last_mut() else {
                return Err(bad(n, "an option comes under a question"));
            };
            let (key, rest) =
                line.trim().split_once('=').ok_or_else(|| bad(n, "write an option as key = label | points"))?;
            let (label, points) = rest.rsplit_once('|').ok_or_else(|| bad(n, "give the option's points after a |"))?;
            let points = points.trim().parse::<u32>().map_err(|_| bad(n, "points are a whole number, 0 to 100"))?;
            if q.options.len() >= OPTIONS_MAX {
                return Err(bad(n, &format!("a question has at most {OPTIONS_MAX} options")));
            }
            q.options.push(RiskOption { key: key.trim().to_owned(), label: label.trim().to_owned(), points });
        } else {
            let (key, text) = line.split_once(':').ok_or_else(|| bad(n, "write a question as key: text"))?;
            if questions.len() >= QUESTIONS_MAX {
                return Err(bad(n, &format!("at most {QUESTIONS_MAX} questions")));
            }
            questions.push(Question { key: key.trim().to_owned(), text: text.trim().to_owned(), options: Vec::new() });
        }
    }
    Ok(questions)
}

#[derive(Template, WebTemplate)]
#[template(path = "changes/questionnaire.html")]
pub struct QuestionnairePage {
    chrome: Chrome,
    text: String,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    auth: &PageAuth,
    notice: Option<String>,
    text: Option<String>,
    error: Option<String>,
) -> Response {
    let chrome = match auth.chrome(state, "changes", notice).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let text = match text {
        Some(t) => t,
        None => match op::questionnaire(state, &auth.0).await {
            Ok(q) => render(&q),
            Err(e) => return error_page(&e),
        },
    };
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, QuestionnairePage { chrome, text, error }).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn show(State(state): State<AppState>, auth: PageAuth, Query(q): Query<NoticeQuery>) -> Response {
    page(&state, &auth, q.notice, None, None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct QuestionnaireForm {
    questions: String,
}

pub async fn save(State(state): State<AppState>, auth: PageAuth, Form(f): Form<QuestionnaireForm>) -> Response {
    let result = async {
        let q = Questionnaire::new(parse(&f.questions)?)?;
        op::save_questionnaire(&state, &auth.0, &q).await?;
        Ok::<_, ApiError>(q.questions.len())
    }
    .await;
    match result {
        Ok(n) => done("/changes/questionnaire", &format!("Risk questions saved ({n})")),
        Err(e) => match form_error(e) {
            Ok(msg) => page(&state, &auth, None, Some(f.questions), Some(msg)).await,
            Err(r) => r,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_round_trips_and_bad_lines_are_named() {
        let q = Questionnaire::default();
        assert_eq!(parse(&render(&q)).unwrap(), q.questions);
        let e = parse("tested: Tested?\n  yes = Yes\n").unwrap_err();
        assert!(e.message.contains("line 2"), "{}", e.message);
        let e = parse("  yes = Yes | 0\n").unwrap_err();
        assert!(e.message.contains("line 1"), "{}", e.message);
        let many: String = (0..30).map(|i| format!("q{i}: Q?\n")).collect();
        assert!(parse(&many).unwrap_err().message.contains("at most 20"));
    }
}
