//! Who hears of a status page's public incidents: e-mail subscribers (double opt-in), webhook
//! subscribers (statuspage.io's webhook payload) and Slack-compatible incoming webhooks, each to
//! the whole page or to chosen components.

use crate::error::{Error, Result};
use crate::validate;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberKind {
    Email,
    Webhook,
    Slack,
}

impl SubscriberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberKind::Email => "email",
            SubscriberKind::Webhook => "webhook",
            SubscriberKind::Slack => "slack",
        }
    }

    pub fn parse(s: &str) -> Option<SubscriberKind> {
        [SubscriberKind::Email, SubscriberKind::Webhook, SubscriberKind::Slack].into_iter().find(|k| k.as_str() == s)
    }
}

/// A page takes at most this many subscribers (a bound on every fan-out and export).
pub const SUBSCRIBERS_MAX: i64 = 100_000;
/// A subscriber names at most this many components.
pub const SUBSCRIBER_COMPONENTS_MAX: usize = crate::status_page::COMPONENTS_MAX;

/// A validated subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberSpec {
    pub kind: SubscriberKind,
    /// The e-mail address, or the webhook URL (a secret: never shown in full again).
    pub address: String,
    /// Empty: the whole page.
    pub component_ids: Vec<Uuid>,
}

impl SubscriberSpec {
    /// Exactly one of `email`, `webhook_url` and `slack_url`.
    pub fn new(
        email: Option<&str>,
        webhook_url: Option<&str>,
        slack_url: Option<&str>,
        component_ids: &[Uuid],
    ) -> Result<SubscriberSpec> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let (kind, address) = match (given(email), given(webhook_url), given(slack_url)) {
            (Some(e), None, None) => (SubscriberKind::Email, validate::email("email", e)?.to_lowercase()),
            (None, Some(u), None) => (SubscriberKind::Webhook, validate::url("webhook_url", u)?),
            (None, None, Some(u)) => (SubscriberKind::Slack, validate::url("slack_url", u)?),
            (None, None, None) => {
                return Err(Error::invalid("email", "give an e-mail address, a webhook_url or a slack_url"));
            }
            _ => return Err(Error::invalid("email", "give only one of email, webhook_url and slack_url")),
        };
        if component_ids.len() > SUBSCRIBER_COMPONENTS_MAX {
            return Err(Error::invalid(
                "component_ids",
                format!("at most {SUBSCRIBER_COMPONENTS_MAX} components; leave it empty for the whole page"),
            ));
        }
        let mut ids = component_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        Ok(SubscriberSpec { kind, address, component_ids: ids })
    }

    /// What a reader may see of the address: an e-mail address whole, a URL only up to its
    /// host (the rest of a webhook URL is its secret).
    pub fn shown(kind: SubscriberKind, address: &str) -> String {
        match kind {
            SubscriberKind::Email => address.to_owned(),
            SubscriberKind::Webhook | SubscriberKind::Slack => mask_url(address),
        }
    }
}

/// `https://hooks.example.com/…`: scheme and host only.
pub fn mask_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    format!("{scheme}://{host}/…")
}

const TOKEN_BYTES: usize = 16;

#[allow(clippy::expect_used, reason = "HMAC takes keys of any length, so new_from_slice cannot fail")]
fn mac(key: &[u8], id: Uuid) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(b"status-subscriber:");
    m.update(id.as_bytes());
    m
}

/// The token in a subscriber's confirm and unsubscribe links, `id.signature`: it needs no storage
/// and stops working when the subscriber is deleted (a new subscription has a new id).
pub fn subscriber_token(key: &[u8], id: Uuid) -> String {
    format!("{}.{}", id.simple(), hex::encode(&mac(key, id).finalize().into_bytes()[..TOKEN_BYTES]))
}

/// The subscriber a token names, if its signature holds.
pub fn verify_subscriber_token(key: &[u8], token: &str) -> Result<Uuid> {
    let bad = || Error::invalid("token", "this link is not valid; use the link in the newest message");
    let (id, sig) = token.split_once('.').ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    let sig = hex::decode(sig).map_err(|_| bad())?;
    mac(key, id).verify_truncated_left(&sig).map_err(|_| bad())?;
    if sig.len() != TOKEN_BYTES {
        return Err(bad());
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_is_required_and_checked() {
        let s = SubscriberSpec::new(Some(" Ops@Example.com "), None, None, &[]).unwrap();
        assert_eq!((s.kind, s.address.as_str()), (SubscriberKind::Email, "ops@example.com"));
        let field = |r: Result<SubscriberSpec>| match r {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(SubscriberSpec::new(Some("nope"), None, None, &[])), "email");
        assert_eq!(field(SubscriberSpec::new(None, Some("ftp://x"), None, &[])), "webhook_url");
        assert_eq!(field(SubscriberSpec::new(None, None, None, &[])), "email");
        assert_eq!(field(SubscriberSpec::new(Some("a@b.co"), Some("https://x"), None, &[])), "email");
        let many: Vec<Uuid> = (0..=SUBSCRIBER_COMPONENTS_MAX).map(|_| Uuid::now_v7()).collect();
        assert_eq!(field(SubscriberSpec::new(Some("a@b.co"), None, None, &many)), "component_ids");
    }

    #[test]
    fn urls_are_shown_without_their_secret_part() {
        assert_eq!(mask_url("https://hooks.slack.com/services/T0/B0/secret"), "https://hooks.slack.com/…");
        assert_eq!(mask_url("https://user:pw@example.com?k=1"), "https://example.com/…");
    }

    #[test]
    fn tokens_verify_only_with_the_key_and_id() {
        let id = Uuid::now_v7();
        let t = subscriber_token(b"key", id);
        assert_eq!(verify_subscriber_token(b"key", &t).unwrap(), id);
        assert!(verify_subscriber_token(b"other", &t).is_err());
        let forged = format!("{}.{}", Uuid::now_v7().simple(), t.split_once('.').unwrap().1);
        assert!(verify_subscriber_token(b"key", &forged).is_err());
        assert!(verify_subscriber_token(b"key", &t[..t.len() - 2]).is_err());
        assert!(verify_subscriber_token(b"key", "garbage").is_err());
    }
}
