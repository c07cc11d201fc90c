//! Escalation policies, contact methods, broadcast channels, message templates, retry back-off
//! and the signed links that let people act on an incident from a message.

use crate::{Error, Problems, Result, validate};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    User,
    Schedule,
    Team,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: TargetKind,
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Minutes to wait for an acknowledgement before the next level.
    pub delay_minutes: u32,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySpec {
    pub name: String,
    pub description: String,
    /// How many times the whole policy runs (1 = no repeat).
    pub loops: u32,
    pub levels: Vec<Level>,
}

impl PolicySpec {
    pub fn validate(self) -> Result<Self> {
        let mut p = Problems::default();
        let name = p.check(validate::name("name", &self.name));
        let description = p.check(validate::description("description", &self.description));
        if !(1..=9).contains(&self.loops) {
            p.push("loops", "must be 1 to 9");
        }
        if self.levels.is_empty() || self.levels.len() > 10 {
            p.push("levels", "a policy has 1 to 10 levels");
        }
        for (n, l) in self.levels.iter().enumerate() {
            let n = n + 1;
            if !(1..=DELAY_MAX_MINUTES).contains(&l.delay_minutes) {
                p.push("levels", format!("level {n}: delay_minutes must be 1 to {DELAY_MAX_MINUTES}"));
            }
            if l.targets.is_empty() || l.targets.len() > 10 {
                p.push("levels", format!("level {n}: each level has 1 to 10 targets"));
            }
        }
        p.finish()?;
        match (name, description) {
            (Some(name), Some(description)) => Ok(PolicySpec { name, description, ..self }),
            _ => Err(Error::invalid("name", "is required")),
        }
    }
}

/// Where a person is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Email,
    Slack,
    Teams,
    Discord,
    Webhook,
    Pagerduty,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 6] = [
        ChannelKind::Email,
        ChannelKind::Slack,
        ChannelKind::Teams,
        ChannelKind::Discord,
        ChannelKind::Webhook,
        ChannelKind::Pagerduty,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Slack => "slack",
            ChannelKind::Teams => "teams",
            ChannelKind::Discord => "discord",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Pagerduty => "pagerduty",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How a channel (or a contact method) sends. Which fields matter depends on the kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// E-mail recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Webhook, Slack, Teams, Discord or PagerDuty-compatible endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Generic webhooks: the HMAC-SHA256 key for the `X-Opsdeck-Signature` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Generic webhooks: extra headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// PagerDuty out: the receiver's routing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<String>,
    /// Message templates; `{number}`, `{title}`, `{service}`, `{severity}`, `{status}`,
    /// `{summary}`, `{runbook}`, `{view_url}`, `{ack_url}`, `{resolve_url}` are filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_template: Option<String>,
}

impl ChannelConfig {
    /// The config as a reader may see it: every secret masked, the URL reduced to its host.
    pub fn redacted(&self) -> ChannelConfig {
        let mask = |v: &Option<String>| v.as_ref().map(|_| crate::secret::MASK.to_owned());
        ChannelConfig {
            url: self.url.as_deref().map(crate::secret::redact_url),
            secret: mask(&self.secret),
            routing_key: mask(&self.routing_key),
            headers: self.headers.keys().map(|k| (k.clone(), crate::secret::MASK.to_owned())).collect(),
            ..self.clone()
        }
    }
}

pub use crate::validate::email;

impl ChannelConfig {
    pub fn validate(self, kind: ChannelKind) -> Result<Self> {
        let mut c = self;
        match kind {
            ChannelKind::Email => {
                c.to = Some(email("config.to", c.to.as_deref().unwrap_or(""))?);
            }
            ChannelKind::Pagerduty => {
                c.url = Some(validate::url("config.url", c.url.as_deref().unwrap_or(""))?);
                let key = c.routing_key.as_deref().unwrap_or("").trim();
                if key.len() != 32 {
                    return Err(Error::invalid(
                        "config.routing_key",
                        "must be the receiver's 32-character routing key",
                    ));
                }
            }
            _ => {
                c.url = Some(validate::url("config.url", c.url.as_deref().unwrap_or(""))?);
            }
        }
        if c.headers.len() > 20
            || c.headers.keys().any(|k| k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(Error::invalid(
                "config.headers",
                "at most 20 headers with names of letters, digits and dashes",
            ));
        }
        for t in [&c.subject_template, &c.body_template].into_iter().flatten() {
            if t.len() > 4000 {
                return Err(Error::invalid("config.body_template", "templates are at most 4000 characters"));
            }
        }
        Ok(c)
    }
}

/// The kinds a person's contact method can be.
pub fn contact_address(kind: ChannelKind, address: &str) -> Result<String> {
    match kind {
        ChannelKind::Email => email("address", address),
        ChannelKind::Pagerduty => {
            Err(Error::invalid("kind", "PagerDuty forwarding is a channel, not a personal contact method"))
        }
        _ => validate::url("address", address),
    }
}

/// A validated personal contact method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSpec {
    pub kind: ChannelKind,
    pub address: String,
    pub label: String,
}

impl ContactSpec {
    pub fn new(kind: &str, address: &str, label: &str) -> Result<Self> {
        let kind = ChannelKind::parse(kind.trim())
            .ok_or_else(|| Error::invalid("kind", "must be email, slack, teams, discord or webhook"))?;
        let address = contact_address(kind, address)?;
        let label = validate::description("label", label)?;
        Ok(ContactSpec { kind, address, label })
    }
}

/// The longest wait a notification rule or an escalation level may have: one day.
pub const DELAY_MAX_MINUTES: u32 = 1440;

/// A validated personal notification rule: notify through a contact method after a delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSpec {
    pub contact_method_id: Uuid,
    pub delay_minutes: i32,
}

impl RuleSpec {
    pub fn new(contact_method_id: Uuid, delay_minutes: i64) -> Result<Self> {
        let delay_minutes = i32::try_from(delay_minutes)
            .ok()
            .filter(|d| (0..=DELAY_MAX_MINUTES as i32).contains(d))
            .ok_or_else(|| Error::invalid("delay_minutes", format!("must be 0 to {DELAY_MAX_MINUTES}")))?;
        Ok(RuleSpec { contact_method_id, delay_minutes })
    }
}

/// A validated broadcast channel: it announces the incidents of one service, or of every
/// service of one team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    pub name: String,
    pub kind: ChannelKind,
    pub config: ChannelConfig,
    pub service_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
}

impl ChannelSpec {
    pub fn new(
        name: &str,
        kind: &str,
        config: ChannelConfig,
        service_id: Option<Uuid>,
        team_id: Option<Uuid>,
    ) -> Result<Self> {
        let name = validate::name("name", name)?;
        let kind = ChannelKind::parse(kind.trim())
            .ok_or_else(|| Error::invalid("kind", "must be email, slack, teams, discord, webhook or pagerduty"))?;
        let config = config.validate(kind)?;
        if service_id.is_none() && team_id.is_none() {
            return Err(Error::invalid("service_id", "choose the service or the team whose incidents it announces"));
        }
        Ok(ChannelSpec { name, kind, config, service_id, team_id })
    }
}

/// What a message about an incident says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MessageVars {
    pub number: String,
    pub title: String,
    pub service: String,
    pub severity: String,
    pub status: String,
    pub summary: String,
    pub runbook: String,
    pub view_url: String,
    pub ack_url: String,
    pub resolve_url: String,
}

pub const DEFAULT_SUBJECT: &str = "[{severity}] {number} {status}: {title}";
pub const DEFAULT_BODY: &str = "{number} is {status}: {title}\n\nService: {service}\nSeverity: \
                                {severity}\n{summary}\nRunbook: {runbook}\n\nView: {view_url}\nAcknowledge: \
                                {ack_url}\nResolve: {resolve_url}\n";

/// Fills `{name}` placeholders; unknown ones stay as they are.
pub fn render(template: &str, v: &MessageVars) -> String {
    let pairs = [
        ("{number}", &v.number),
        ("{title}", &v.title),
        ("{service}", &v.service),
        ("{severity}", &v.severity),
        ("{status}", &v.status),
        ("{summary}", &v.summary),
        ("{runbook}", &v.runbook),
        ("{view_url}", &v.view_url),
        ("{ack_url}", &v.ack_url),
        ("{resolve_url}", &v.resolve_url),
    ];
    let mut out = template.to_owned();
    for (k, val) in pairs {
        if out.contains(k) {
            out = out.replace(k, val);
        }
    }
    out
}

/// Send attempts before a notification is given up as failed.
pub const MAX_ATTEMPTS: i32 = 8;

/// Wait before retry `attempt` (1-based): 5 s doubling to at most 10 minutes, plus up to 20 %
/// jitter from `jitter01` (0..1), so retries of many notifications spread out.
pub fn backoff_ms(attempt: i32, jitter01: f64) -> i64 {
    let base = (5_000i64 << attempt.clamp(1, 12).saturating_sub(1)).min(600_000);
    base + (base as f64 * 0.2 * jitter01.clamp(0.0, 1.0)) as i64
}

/// What a signed link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkAction {
    Acknowledge,
    Resolve,
    View,
}

impl LinkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Acknowledge => "acknowledge",
            LinkAction::Resolve => "resolve",
            LinkAction::View => "view",
        }
    }

    fn parse(s: &str) -> Option<LinkAction> {
        [LinkAction::Acknowledge, LinkAction::Resolve, LinkAction::View].into_iter().find(|a| a.as_str() == s)
    }
}

/// A signed link's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClaim {
    pub incident_id: Uuid,
    pub action: LinkAction,
    /// Who it was sent to (recorded on the timeline when used).
    pub user_id: Option<Uuid>,
    /// Epoch seconds after which the link no longer works.
    pub expires: i64,
}

#[allow(clippy::expect_used, reason = "HMAC takes keys of any length, so new_from_slice cannot fail")]
pub(crate) fn mac(key: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(payload.as_bytes());
    m
}

/// `incident.action.user.expires.signature`, URL-safe.
pub fn sign_link(key: &[u8], c: &LinkClaim) -> String {
    let user = c.user_id.map(|u| u.simple().to_string()).unwrap_or_else(|| "-".into());
    let payload = format!("{}.{}.{}.{}", c.incident_id.simple(), c.action.as_str(), user, c.expires);
    let sig = hex::encode(mac(key, &payload).finalize().into_bytes());
    format!("{payload}.{sig}")
}

/// Checks a token's signature and expiry (`now` in epoch seconds).
pub fn verify_link(key: &[u8], token: &str, now: i64) -> Result<LinkClaim> {
    let bad =
        || Error::invalid("token", "this link is not valid; use the newest message or open the incident in Opsdeck");
    let (payload, sig) = token.rsplit_once('.').ok_or_else(bad)?;
    let sig = hex::decode(sig).map_err(|_| bad())?;
    mac(key, payload).verify_slice(&sig).map_err(|_| bad())?;
    let mut parts = payload.split('.');
    let (Some(inc), Some(action), Some(user), Some(exp), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let claim = LinkClaim {
        incident_id: Uuid::parse_str(inc).map_err(|_| bad())?,
        action: LinkAction::parse(action).ok_or_else(bad)?,
        user_id: if user == "-" { None } else { Some(Uuid::parse_str(user).map_err(|_| bad())?) },
        expires: exp.parse().map_err(|_| bad())?,
    };
    if claim.expires < now {
        return Err(Error::invalid("token", "this link has expired; open the incident in Opsdeck"));
    }
    Ok(claim)
}

/// The token of a person's calendar feed: an HMAC of their id and their feed epoch, so it needs
/// no storage of its own, and bumping the epoch (a "new link") revokes the old one.
pub fn feed_token(key: &[u8], user_id: Uuid, epoch: i32) -> String {
    hex::encode(&feed_mac(key, user_id, epoch).finalize().into_bytes()[..FEED_TOKEN_BYTES])
}

/// True when `token` is the person's current feed token; compared in constant time.
pub fn feed_token_matches(key: &[u8], user_id: Uuid, epoch: i32, token: &str) -> bool {
    match hex::decode(token) {
        Ok(bytes) if bytes.len() == FEED_TOKEN_BYTES => {
            feed_mac(key, user_id, epoch).verify_truncated_left(&bytes).is_ok()
        }
        _ => false,
    }
}

const FEED_TOKEN_BYTES: usize = 20;

/// The token of a person's change calendar feed: their id, then an HMAC of it and their feed
/// epoch under its own domain (so it opens the change calendar and nothing else). A new
/// personal calendar link revokes it too.
pub fn change_feed_token(key: &[u8], user_id: Uuid, epoch: i32) -> String {
    let m = domain_feed_mac(key, "change-feed:", user_id, epoch);
    format!("{}{}", user_id.simple(), hex::encode(&m.finalize().into_bytes()[..FEED_TOKEN_BYTES]))
}

/// The person a change feed token names, and whether it is theirs at `epoch`.
pub fn change_feed_user(token: &str) -> Option<Uuid> {
    token.get(..32).and_then(|u| Uuid::try_parse(u).ok())
}

pub fn change_feed_matches(key: &[u8], user_id: Uuid, epoch: i32, token: &str) -> bool {
    match token.get(32..).map(hex::decode) {
        Some(Ok(bytes)) if bytes.len() == FEED_TOKEN_BYTES && change_feed_user(token) == Some(user_id) => {
            domain_feed_mac(key, "change-feed:", user_id, epoch).verify_truncated_left(&bytes).is_ok()
        }
        _ => false,
    }
}

fn feed_mac(key: &[u8], user_id: Uuid, epoch: i32) -> Hmac<Sha256> {
    domain_feed_mac(key, "user-feed:", user_id, epoch)
}

fn domain_feed_mac(key: &[u8], domain: &str, user_id: Uuid, epoch: i32) -> Hmac<Sha256> {
    let mut m = mac(key, domain);
    m.update(user_id.as_bytes());
    // Epoch 0 keeps the links made before links could be renewed.
    if epoch != 0 {
        m.update(&epoch.to_be_bytes());
    }
    m
}

/// The HMAC-SHA256 signature header value for an outgoing webhook body.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut m = mac(secret.as_bytes(), &format!("{timestamp}."));
    m.update(body);
    format!("t={timestamp},v1={}", hex::encode(m.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_feed_tokens_name_their_person_and_stop_at_a_new_epoch() {
        let u = Uuid::now_v7();
        let t = change_feed_token(b"k", u, 3);
        assert_eq!(change_feed_user(&t), Some(u));
        assert!(change_feed_matches(b"k", u, 3, &t));
        assert!(!change_feed_matches(b"k", u, 4, &t), "a new link revokes it");
        assert!(!change_feed_matches(b"k", Uuid::now_v7(), 3, &t), "another person's");
        assert!(!change_feed_matches(b"k", u, 3, &feed_token(b"k", u, 3)), "the on-call feed's token opens only that");
        assert_eq!(change_feed_user("short"), None);
    }

    #[test]
    fn links_verify_and_expire() {
        let c = LinkClaim {
            incident_id: Uuid::now_v7(),
            action: LinkAction::Acknowledge,
            user_id: Some(Uuid::now_v7()),
            expires: 1_000,
        };
        let t = sign_link(b"k", &c);
        assert_eq!(verify_link(b"k", &t, 999).unwrap(), c);
        assert!(verify_link(b"k", &t, 1_001).is_err(), "expired");
        assert!(verify_link(b"other", &t, 999).is_err(), "wrong key");
        let tampered = t.replacen("acknowledge", "resolve", 1);
        assert!(verify_link(b"k", &tampered, 999).is_err(), "tampered");
        assert!(verify_link(b"k", "garbage", 0).is_err());
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_ms(1, 0.0), 5_000);
        assert_eq!(backoff_ms(2, 0.0), 10_000);
        assert_eq!(backoff_ms(20, 0.0), 600_000);
        assert_eq!(backoff_ms(1, 1.0), 6_000);
    }

    #[test]
    fn templates_and_validation() {
        let v = MessageVars {
            number: "INC-7".into(),
            title: "Disk".into(),
            severity: "SEV1".into(),
            status: "triggered".into(),
            ..Default::default()
        };
        assert_eq!(render(DEFAULT_SUBJECT, &v), "[SEV1] INC-7 triggered: Disk");
        assert!(ChannelConfig::default().validate(ChannelKind::Email).is_err());
        assert!(
            ChannelConfig { to: Some("ops@example.com".into()), ..Default::default() }
                .validate(ChannelKind::Email)
                .is_ok()
        );
        assert!(
            ChannelConfig { url: Some("ftp://x".into()), ..Default::default() }.validate(ChannelKind::Slack).is_err()
        );
        let p = PolicySpec { name: "P".into(), description: String::new(), loops: 1, levels: vec![] };
        assert!(p.validate().is_err());
        assert!(email("e", "a@b").is_err());
        assert_eq!(webhook_signature("s", 1, b"x"), webhook_signature("s", 1, b"x"));
    }
}
