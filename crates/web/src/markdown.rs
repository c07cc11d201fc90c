//! Markdown to HTML for knowledge-base articles. Authors are agents, readers include everyone
//! signed in, so the output must be safe to inline: raw HTML is shown as text, and links and
//! images keep only http(s), mailto, relative and fragment addresses.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// An address a reader may follow: no `javascript:`, `data:` or other scheme.
fn safe_url(url: &str) -> bool {
    // Browsers drop tabs and newlines inside a URL: "java\tscript:" is still a script.
    let u: String =
        url.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect::<String>().to_ascii_lowercase();
    match u.split_once(':') {
        // A colon after a slash, `?` or `#` is part of a path or query, not a scheme.
        Some((scheme, _)) if !scheme.contains(['/', '?', '#']) => {
            matches!(scheme, "http" | "https" | "mailto")
        }
        _ => true,
    }
}

pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(markdown, options).map(|e| match e {
        Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) if !safe_url(&dest_url) => {
            Event::Start(Tag::Link { link_type, dest_url: CowStr::from("#"), title, id })
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) if !safe_url(&dest_url) => {
            Event::Start(Tag::Image { link_type, dest_url: CowStr::from("#"), title, id })
        }
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 4);
    html::push_html(&mut out, events);
    out
}

/// The first `max` characters of Markdown as plain text (marks dropped, spaces collapsed).
pub fn excerpt(markdown: &str, max: usize) -> String {
    let mut out = String::with_capacity(max + 3);
    let mut count = 0;
    for word in markdown.split_whitespace() {
        let w: String = word.chars().filter(|c| !matches!(c, '#' | '*' | '_' | '`' | '>' | '[' | ']' | '|')).collect();
        // Table rules and horizontal rules (`---`, `:-:`) say nothing.
        if w.chars().all(|c| matches!(c, '-' | ':' | '=' | '+')) {
            continue;
        }
        if count > 0 {
            out.push(' ');
            count += 1;
        }
        for c in w.chars() {
            if count >= max {
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown_and_neutralises_html_and_scripts() {
        let h = to_html(
            "# Reset\n\n1. Open **Settings**\n\n<script>alert(1)</script>\n\n\
             [x](javascript:alert(1)) [ok](https://example.com/a:b)",
        );
        assert!(h.contains("<h1>Reset</h1>") && h.contains("<strong>Settings</strong>"), "{h}");
        assert!(!h.contains("<script>") && h.contains("&lt;script&gt;"), "{h}");
        assert!(!h.contains("javascript:") && h.contains("href=\"https://example.com/a:b\""), "{h}");
        assert!(to_html("![i](data:text/html;base64,xx)").contains("src=\"#\""));
        assert!(to_html("[rel](/kb/3#steps)").contains("href=\"/kb/3#steps\""));
        assert!(to_html("x <img src=x onerror=alert(1)> y").contains("&lt;img"));
        assert_eq!(excerpt("# Reset\n\n1. Open **Settings** now", 14), "Reset 1. Open …");
    }
}
