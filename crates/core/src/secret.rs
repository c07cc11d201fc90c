//! Secrets: password hashes (argon2id) and bearer secrets (API tokens, session ids).
//!
//! Bearer secrets carry 256 bits of randomness, so a fast SHA-256 digest is enough to store
//! them safely; passwords are low-entropy and get argon2id.

use crate::{Error, Result};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub fn hash_password(password: &str) -> Result<String> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| Error::Hash(e.to_string()))
}

/// True when `password` matches the stored hash; a malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// An HMAC-SHA256 tag (hex, 128 bits) of `parts` under `key`, for values a server hands out and
/// later recognises without storing them (a private status page's access cookie).
#[allow(clippy::expect_used, reason = "HMAC takes keys of any length, so new_from_slice cannot fail")]
pub fn tag(key: &[u8], parts: &[&[u8]]) -> String {
    use hmac::Mac;
    let mut m = <hmac::Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    hex::encode(&m.finalize().into_bytes()[..16])
}

/// Compares two tags in time independent of where they differ.
pub fn tags_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh random secret, `prefix` + 64 hex digits (e.g. `opsd_…` for API tokens).
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// The form in which bearer secrets are stored and looked up.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub const TOKEN_PREFIX: &str = "opsd_";

/// What a reader sees in place of a stored secret (a password, a header value, a routing key).
/// Writing it back, or leaving the field blank, keeps the stored value: secrets are write-only.
pub const MASK: &str = "(set)";

/// True when a submitted secret means "keep what is stored".
pub fn keeps_stored(submitted: &str) -> bool {
    submitted.is_empty() || submitted == MASK
}

/// A URL with its credentials hidden: the password of `user:password@` and every query value
/// become [`MASK`]; scheme, host and path stay readable (a monitor's target).
pub fn redact_url_credentials(raw: &str) -> String {
    let Ok(mut u) = url::Url::parse(raw) else { return MASK.to_owned() };
    if u.password().is_some() {
        let _ = u.set_password(Some(MASK));
    }
    if u.query().is_some() {
        let query: Vec<String> = u
            .query_pairs()
            .map(|(k, _)| format!("{}={MASK}", url::form_urlencoded::byte_serialize(k.as_bytes()).collect::<String>()))
            .collect();
        u.set_query(Some(&query.join("&")));
    }
    u.to_string()
}

/// A URL that is itself a credential (Slack, Teams and Discord webhooks carry their secret in
/// the path): only the scheme and host stay readable.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(u) => match u.host_str() {
            Some(host) => format!("{}://{host}/{MASK}", u.scheme()),
            None => MASK.to_owned(),
        },
        Err(_) => MASK.to_owned(),
    }
}

/// The first characters of a token, kept in clear so users can tell their tokens apart.
pub fn token_hint(token: &str) -> String {
    token.chars().take(TOKEN_PREFIX.len() + 6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_url_credentials("https://bob:hunter2@api.example.com/health?key=abc&v=1"),
            "https://bob:(set)@api.example.com/health?key=(set)&v=(set)"
        );
        assert_eq!(redact_url_credentials("https://example.com/health"), "https://example.com/health");
        assert_eq!(redact_url("https://hooks.slack.com/services/T0/B0/xyz?x=1"), "https://hooks.slack.com/(set)");
        assert_eq!(redact_url("not a url"), MASK);
        assert!(keeps_stored("") && keeps_stored(MASK) && !keeps_stored("new"));
    }

    #[test]
    fn password_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_digested() {
        let a = generate(TOKEN_PREFIX);
        let b = generate(TOKEN_PREFIX);
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), a);
        assert_eq!(token_hint(&a).len(), 11);
    }
}
