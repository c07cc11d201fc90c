//! Field rules shared by every entity. Each returns an error that names the field and the fix.

use crate::{Error, Result};

pub const NAME_MAX: usize = 120;
pub const SLUG_MAX: usize = 64;
pub const DESCRIPTION_MAX: usize = 4000;
pub const URL_MAX: usize = 2048;
pub const TAG_MAX: usize = 40;
pub const TAGS_MAX: usize = 20;
pub const LINKS_MAX: usize = 20;

/// A display name: trimmed, non-empty, at most [`NAME_MAX`] characters, no control characters.
pub fn name(field: &'static str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if v.chars().count() > NAME_MAX {
        return Err(Error::invalid(field, format!("must be at most {NAME_MAX} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(v.to_owned())
}

/// A URL-safe identifier: lowercase letters, digits and single dashes, starting with a letter or digit.
pub fn slug(field: &'static str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.len() > SLUG_MAX {
        return Err(Error::invalid(field, format!("must be 1 to {SLUG_MAX} characters")));
    }
    let ok_chars = v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok_chars || v.starts_with('-') || v.ends_with('-') || v.contains("--") {
        return Err(Error::invalid(field, "use lowercase letters, digits and single dashes (e.g. \"payments-api\")"));
    }
    Ok(v.to_owned())
}

/// Derives a slug from a display name ("Payments API" → "payments-api").
pub fn slugify(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= SLUG_MAX {
            break;
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() { "item".to_owned() } else { trimmed.to_owned() }
}

pub fn description(field: &'static str, value: &str) -> Result<String> {
    if value.chars().count() > DESCRIPTION_MAX {
        return Err(Error::invalid(field, format!("must be at most {DESCRIPTION_MAX} characters")));
    }
    Ok(value.trim().to_owned())
}

/// The longest e-mail address (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;

/// A plausible e-mail address: one `@`, something on both sides, a dot in the domain (not first),
/// no whitespace or control characters; surrounding whitespace is trimmed.
pub fn email(field: &'static str, v: &str) -> Result<String> {
    let v = v.trim();
    let ok = v.chars().count() <= EMAIL_MAX
        && v.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.contains('@'))
        && !v.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(Error::invalid(field, "must be an e-mail address such as oncall@example.com"));
    }
    Ok(v.to_owned())
}

/// An absolute http(s) URL with a host.
pub fn url(field: &'static str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.chars().count() > URL_MAX {
        return Err(Error::invalid(field, format!("must be at most {URL_MAX} characters")));
    }
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or_else(|| Error::invalid(field, "must start with http:// or https://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(field, "must be an absolute URL with a host and no spaces"));
    }
    Ok(v.to_owned())
}

/// An optional URL: empty input means "none".
pub fn optional_url(field: &'static str, value: Option<&str>) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => url(field, v).map(Some),
    }
}

/// Tags: lowercase `key` or `key:value` words, de-duplicated, order kept.
pub fn tags(field: &'static str, values: &[String]) -> Result<Vec<String>> {
    if values.len() > TAGS_MAX {
        return Err(Error::invalid(field, format!("at most {TAGS_MAX} tags")));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for raw in values {
        let t = raw.trim().to_lowercase();
        if t.is_empty() {
            continue;
        }
        let ok = t.len() <= TAG_MAX
            && t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'));
        if !ok {
            return Err(Error::invalid(field, format!("tag {raw:?} must be at most {TAG_MAX} of a-z 0-9 - _ . : /")));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("slug", "payments-api").as_deref(), Ok("payments-api"));
        assert!(slug("slug", "Payments").is_err());
        assert!(slug("slug", "-a").is_err());
        assert!(slug("slug", "a--b").is_err());
        assert!(slug("slug", &"a".repeat(65)).is_err());
        assert_eq!(slugify("Payments API (EU)"), "payments-api-eu");
        assert_eq!(slugify("???"), "item");
    }

    #[test]
    fn names_and_urls() {
        assert!(name("name", "   ").is_err());
        assert!(name("name", &"x".repeat(121)).is_err());
        assert_eq!(name("name", " Checkout ").as_deref(), Ok("Checkout"));
        assert!(url("runbook_url", "ftp://x").is_err());
        assert!(url("runbook_url", "https://").is_err());
        assert!(url("runbook_url", "https://wiki.example.com/run book").is_err());
        assert!(url("runbook_url", "https://wiki.example.com/runbooks/pay").is_ok());
        assert_eq!(optional_url("u", Some("  ")), Ok(None));
    }

    #[test]
    fn tags_are_normalised() {
        let t = tags("tags", &["Prod".into(), "prod".into(), "team:payments".into(), "".into()]);
        assert_eq!(t, Ok(vec!["prod".to_owned(), "team:payments".to_owned()]));
        assert!(tags("tags", &["has space".into()]).is_err());
    }
}
