//! Files people attach to tickets by hand: how big one may be, how many a ticket keeps, and the
//! name and type a file is kept under (a path's last part, one line; a bare `type/subtype`).

use super::mail::FILENAME_MAX;
use crate::{Error, Result};

/// One uploaded file, at most (bytes): as mail's default attachment limit.
pub const UPLOAD_MAX: usize = 10_000_000;
/// Attachments one ticket keeps, at most (by mail and by hand).
pub const PER_TICKET_MAX: i64 = 200;

/// The name a file is kept under: the last part of a path (browsers on Windows send
/// `C:\fakepath\x.pdf`), on one line, 1 to [`FILENAME_MAX`] characters.
pub fn file_name(raw: &str) -> Result<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let name: String = last
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() || name == "." || name == ".." {
        return Err(Error::invalid("filename", "name the file (e.g. screenshot.png)"));
    }
    if name.chars().count() > FILENAME_MAX {
        return Err(Error::invalid("filename", format!("at most {FILENAME_MAX} characters")));
    }
    Ok(name)
}

/// The type a file is kept under: the sender's `type/subtype` (parameters dropped, lowercase),
/// or `application/octet-stream` when it is missing or odd. Downloads never use it to render.
pub fn content_type(raw: Option<&str>) -> String {
    let bare = raw.and_then(|r| r.split(';').next()).map(|t| t.trim().to_ascii_lowercase()).unwrap_or_default();
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
    match bare.split_once('/') {
        Some((t, s)) if bare.len() <= 100 && token(t) && token(s) => bare,
        _ => "application/octet-stream".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_the_last_part_on_one_line() {
        assert_eq!(file_name("C:\\fakepath\\report  Q3.pdf").unwrap(), "report Q3.pdf");
        assert_eq!(file_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(file_name("a\r\nb.txt").unwrap(), "a b.txt");
        for bad in ["", "  ", "dir/", "..", "x/.."] {
            assert!(file_name(bad).is_err(), "{bad:?}");
        }
        assert!(file_name(&"x".repeat(FILENAME_MAX + 1)).is_err());
    }

    #[test]
    fn types_are_bare_and_safe() {
        assert_eq!(content_type(Some("Image/PNG; charset=x")), "image/png");
        assert_eq!(content_type(Some("text/html\r\nX-Evil: 1")), "application/octet-stream");
        assert_eq!(content_type(Some("nonsense")), "application/octet-stream");
        assert_eq!(content_type(None), "application/octet-stream");
    }
}
