//! Knowledge-base articles: Markdown with a category, seen by agents only or by everyone
//! (requesters on the portal too), and the words a search is made of.

use crate::{Error, Problems, Result, validate};
use serde::{Deserialize, Serialize};

str_enum! {
    /// Who reads an article: agents (responders and up) or everyone signed in.
    Visibility { Agents = "agents", Public = "public" }
}

/// An article's body, at most (characters).
pub const BODY_MAX: usize = 100_000;
/// A category's name, at most.
pub const CATEGORY_MAX: usize = 60;
/// The words of a search, at most (the rest are ignored).
pub const QUERY_WORDS_MAX: usize = 8;

/// A new or edited article, unvalidated.
#[derive(Debug, Clone, Default)]
pub struct ArticleInput {
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    pub visibility: Option<String>,
}

/// A validated article.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArticleSpec {
    pub title: String,
    pub body: String,
    pub category: String,
    pub visibility: Visibility,
}

impl ArticleSpec {
    /// Visibility defaults to agents: an article is published to requesters on purpose.
    pub fn new(input: &ArticleInput) -> Result<ArticleSpec> {
        let mut p = Problems::default();
        let title = p.check(validate::name("title", &input.title));
        let body = input.body.trim();
        if body.is_empty() || input.body.chars().count() > BODY_MAX {
            p.push("body", format!("write 1 to {BODY_MAX} characters of Markdown"));
        } else if input.body.contains('\0') {
            p.push("body", "must not contain NUL characters");
        }
        let raw = input.category.as_deref().unwrap_or("");
        let category = raw.trim();
        if raw.chars().count() > CATEGORY_MAX || raw.chars().any(char::is_control) {
            p.push("category", format!("must be at most {CATEGORY_MAX} characters, without control characters"));
        }
        let visibility = match input.visibility.as_deref() {
            None => Some(Visibility::Agents),
            Some(v) => Visibility::parse(v).or_else(|| {
                p.push("visibility", format!("must be {}", Visibility::choices()));
                None
            }),
        };
        p.finish()?;
        match (title, visibility) {
            (Some(title), Some(visibility)) => {
                Ok(ArticleSpec { title, body: body.to_owned(), category: category.to_owned(), visibility })
            }
            _ => Err(Error::invalid("title", "is invalid")),
        }
    }
}

/// Words too common to say what a ticket is about; suggestions ignore them.
const STOP_WORDS: &[&str] = &[
    "and", "are", "but", "can", "cannot", "does", "for", "from", "has", "have", "help", "how", "into", "not", "please",
    "the", "this", "what", "when", "why", "with", "you", "your",
];

/// The telling words of a ticket's title, for suggestions: as [`query_words`], without words of
/// fewer than three characters and [`STOP_WORDS`], dropped before the limit is counted.
pub fn telling_words(text: &str) -> Vec<String> {
    words(text).filter(|w| w.chars().count() >= 3 && !STOP_WORDS.contains(&w.as_str())).take(QUERY_WORDS_MAX).collect()
}

fn words(q: &str) -> impl Iterator<Item = String> + '_ {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(40).collect::<String>().to_lowercase())
}

/// The words of a search: letters and digits only, lowercased, at most [`QUERY_WORDS_MAX`], each
/// at most 40 characters, so neither SQLite's nor PostgreSQL's query syntax can be injected and
/// no query grows without bound.
pub fn query_words(q: &str) -> Vec<String> {
    words(q).take(QUERY_WORDS_MAX).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles_and_queries() {
        let ok = ArticleSpec::new(&ArticleInput {
            title: " Reset your VPN token ".into(),
            body: "1. Open the portal".into(),
            category: Some("Access".into()),
            visibility: Some("public".into()),
        })
        .unwrap();
        assert_eq!((ok.title.as_str(), ok.visibility), ("Reset your VPN token", Visibility::Public));
        let bad =
            ArticleSpec::new(&ArticleInput { title: "x".into(), visibility: Some("all".into()), ..Default::default() })
                .unwrap_err()
                .to_string();
        assert!(bad.contains("body") && bad.contains("visibility"), "{bad}");
        assert_eq!(query_words("VPN: token\"* OR 'x'"), ["vpn", "token", "or", "x"]);
        assert_eq!(query_words(&"a ".repeat(100)).len(), QUERY_WORDS_MAX);
        assert!(query_words("  --  ").is_empty());
        let title = "Hi, can you help me, I am not able to print from the 3rd floor printer";
        assert_eq!(telling_words(title), ["able", "print", "3rd", "floor", "printer"]);
    }
}
