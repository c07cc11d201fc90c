//! Mail to the service desk: reading one message ([`read`]: sender, subject, the new text of a
//! reply without the quoted history, attachments within their limit) and finding the ticket it
//! answers ([`thread_of`]: our thread id in `In-Reply-To`/`References`, else `[TKT-12]` in the
//! subject). Whatever a message looks like, reading it never fails without saying why.

use mail_parser::{MessageParser, MimeHeaders};
use uuid::Uuid;

/// A subject as a ticket title keeps it, at most (characters).
pub const SUBJECT_MAX: usize = crate::validate::NAME_MAX;
/// The text kept of one message, at most (characters).
pub const TEXT_MAX: usize = 50_000;
/// Attachments kept per message, at most.
pub const ATTACHMENTS_MAX: usize = 20;
/// An attachment's file name, at most (characters).
pub const FILENAME_MAX: usize = 200;

/// One attachment kept, or why it was not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub size: usize,
    /// `None` when it was left out; `skipped` says why.
    pub data: Option<Vec<u8>>,
    pub skipped: Option<String>,
}

/// A message as the desk reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// Its Message-ID without brackets, or `sha256:…` of its bytes when it has none.
    pub message_id: String,
    /// The sender's address, lowercased.
    pub from: String,
    pub from_name: Option<String>,
    pub subject: String,
    /// The new text: a reply's quoted history is cut off.
    pub text: String,
    /// Message ids it answers (In-Reply-To, then References), without brackets.
    pub answers: Vec<String>,
    pub attachments: Vec<Attachment>,
    /// Attachments past [`ATTACHMENTS_MAX`], only counted.
    pub attachments_dropped: usize,
    /// An automatic message (out of office, bounce): it never reopens or creates anything alone.
    pub automatic: bool,
}

/// Why a message cannot become a ticket or a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

/// The ticket a message answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    /// Our thread id `<ticket-{id}@opsdeck>` in its references.
    Id(Uuid),
    /// `[TKT-12]` or `[REQ-12]` in its subject: (REQ?, number).
    Key(bool, i64),
}

/// A message's id when it has none: the hash of its bytes.
pub fn fingerprint(raw: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(raw)))
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One line of text: control characters become spaces, runs of space collapse.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The text above a reply's quoted history: cut at "On … wrote:", an Outlook "-----Original
/// Message-----" or "From:" block, or the first quoted (`>`) line after some text.
pub fn new_text(body: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for line in body.lines() {
        let t = line.trim();
        let starts_history = t.starts_with('>')
            || (t.starts_with("On ") && t.ends_with("wrote:"))
            || t.starts_with("-----Original Message-----")
            || (t.starts_with("From:") && kept.iter().any(|l| !l.trim().is_empty()));
        if starts_history && kept.iter().any(|l| !l.trim().is_empty()) {
            break;
        }
        kept.push(line);
    }
    kept.join("\n").trim().to_owned()
}

/// Reads `raw`. Attachments larger than `attachment_max` bytes are listed with why they were left
/// out; past [`ATTACHMENTS_MAX`] they are only counted. Unreadable: no parsable header block, or no sender.
pub fn read(raw: &[u8], attachment_max: usize) -> Result<Inbound, Unreadable> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| Unreadable("not an e-mail message (no header block could be read)".into()))?;
    let sender = msg.from().and_then(|a| a.first());
    let from = sender
        .and_then(|a| a.address())
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| crate::validate::email("from", a).is_ok())
        .ok_or_else(|| Unreadable("no sender address (From): nobody to answer".into()))?;
    let from_name = sender.and_then(|a| a.name()).map(one_line).filter(|n| !n.is_empty()).map(|n| clip(&n, 120));
    let message_id = msg
        .message_id()
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty() && m.len() <= 500 && !m.chars().any(|c| c.is_control() || c.is_whitespace()))
        .unwrap_or_else(|| fingerprint(raw));
    let subject = clip(&one_line(msg.subject().unwrap_or("")), SUBJECT_MAX);
    let body = msg.body_text(0).map(|b| b.replace('\0', "")).unwrap_or_default();
    let text = clip(&new_text(&body), TEXT_MAX);
    let mut answers = Vec::new();
    for v in [msg.in_reply_to(), msg.references()] {
        if let Some(list) = v.as_text_list() {
            answers.extend(list.iter().map(|s| s.to_string()));
        } else if let Some(one) = v.as_text() {
            answers.push(one.to_owned());
        }
    }
    answers.truncate(100);
    let automatic = msg.header_raw("Auto-Submitted").is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"))
        || msg.header_raw("Precedence").is_some_and(|v| ["bulk", "junk", "auto_reply"].contains(&v.trim()))
        || from.starts_with("mailer-daemon@")
        || from.starts_with("postmaster@");
    let mut attachments = Vec::new();
    let mut attachments_dropped = 0;
    for part in msg.attachments() {
        if attachments.len() >= ATTACHMENTS_MAX {
            attachments_dropped += 1;
            continue;
        }
        let filename = clip(&one_line(part.attachment_name().unwrap_or("attachment")), FILENAME_MAX);
        let content_type = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("octet-stream")).to_ascii_lowercase())
            .filter(|c| c.len() <= 100 && c.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or_else(|| "application/octet-stream".into());
        let size = part.contents().len();
        let skipped =
            (size > attachment_max).then(|| format!("{} is over the {} limit", human(size), human(attachment_max)));
        let data = skipped.is_none().then(|| part.contents().to_vec());
        attachments.push(Attachment { filename, content_type, size, data, skipped });
    }
    Ok(Inbound { message_id, from, from_name, subject, text, answers, attachments, attachments_dropped, automatic })
}

/// A size for people: "2.5 MB", "800 KB", "12 bytes".
pub fn human(bytes: usize) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1_000_000.0),
        b if b >= 1_000 => format!("{} KB", b / 1_000),
        b => format!("{b} bytes"),
    }
}

/// The ticket `m` answers, if any: our thread id first (mail clients keep it in References), then
/// a `[TKT-12]`/`[REQ-12]` tag in the subject.
pub fn thread_of(m: &Inbound) -> Option<Thread> {
    for id in &m.answers {
        let inner = id.trim().trim_start_matches('<').trim_end_matches('>');
        if let Some(hex) = inner.strip_prefix("ticket-").and_then(|r| r.strip_suffix("@opsdeck"))
            && let Ok(u) = Uuid::parse_str(hex)
        {
            return Some(Thread::Id(u));
        }
    }
    let s = &m.subject;
    let mut rest = s.as_str();
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let tag = &after[..close];
        if let Some((prefix, n)) = tag.split_once('-')
            && let Ok(n) = n.parse::<i64>()
            && n > 0
        {
            match prefix.to_ascii_uppercase().as_str() {
                "TKT" => return Some(Thread::Key(false, n)),
                "REQ" => return Some(Thread::Key(true, n)),
                _ => {}
            }
        }
        rest = &after[close..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_threads_and_loses_its_history() {
        let raw = b"From: Ana <Ana@Example.com>\r\nTo: desk@example.com\r\nSubject: Re: [TKT-7] VPN drops\r\n\
Message-ID: <abc@mail.example.com>\r\nIn-Reply-To: <ticket-0191c0ffee0070008000000000000001@opsdeck>\r\n\r\n\
It works again, thanks!\r\n\r\nOn Mon, 7 Dec 2026, Desk wrote:\r\n> Which client?\r\n";
        let m = read(raw, 1000).unwrap();
        assert_eq!((m.from.as_str(), m.from_name.as_deref()), ("ana@example.com", Some("Ana")));
        assert_eq!(m.text, "It works again, thanks!");
        assert_eq!(m.message_id, "abc@mail.example.com");
        let id = Uuid::parse_str("0191c0ffee0070008000000000000001").unwrap();
        assert_eq!(thread_of(&m), Some(Thread::Id(id)));
        let subject_only = Inbound { answers: vec![], ..m };
        assert_eq!(thread_of(&subject_only), Some(Thread::Key(false, 7)));
    }

    #[test]
    fn odd_mail_is_read_or_refused_with_a_reason() {
        assert!(read(b"", 10).unwrap_err().0.contains("no"), "empty");
        let no_from = read(b"Subject: hi\r\n\r\nbody", 10).unwrap_err();
        assert!(no_from.0.contains("no sender"), "{no_from}");
        // Latin-1 in a quoted-printable body, an encoded-word subject, no Message-ID.
        let latin = b"From: jose@example.com\r\nSubject: =?ISO-8859-1?Q?Caf=E9_machine?=\r\n\
Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
La caf=E9 est cass=E9e.\r\n";
        let m = read(latin, 10).unwrap();
        assert_eq!((m.subject.as_str(), m.text.as_str()), ("Café machine", "La café est cassée."));
        assert!(m.message_id.starts_with("sha256:"));
        let with_file = b"From: a@example.com\r\nSubject: log\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee log\r\n\
--XX\r\nContent-Type: text/plain; name=\"big.log\"\r\nContent-Disposition: attachment; filename=\"big.log\"\r\n\r\n\
0123456789012345678901234567890123456789\r\n--XX--\r\n";
        let m = read(with_file, 10).unwrap();
        assert_eq!(m.attachments.len(), 1);
        let a = &m.attachments[0];
        assert_eq!((a.filename.as_str(), a.data.is_none()), ("big.log", true));
        assert!(a.skipped.as_deref().unwrap().contains("over the 10 bytes limit"), "{a:?}");
        assert!(read(with_file, 1000).unwrap().attachments[0].data.is_some());
        let bounce = b"From: MAILER-DAEMON@example.com\r\nSubject: Undelivered\r\n\r\nx";
        assert!(read(bounce, 10).unwrap().automatic);
    }
}
