//! Senders: e-mail over SMTP (lettre, STARTTLS / TLS / plain, with auth), Slack, Microsoft
//! Teams and Discord incoming webhooks, generic webhooks (JSON body, HMAC-SHA256 signature,
//! configurable headers) and PagerDuty Events v2 out.

use crate::egress::{EgressConfig, EgressPolicy, FilteringResolver};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use opsdeck_core::escalation::{ChannelKind, DEFAULT_BODY, DEFAULT_SUBJECT, MessageVars, render, webhook_signature};
use opsdeck_store::oncall::DueNotification;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a local relay).
    None,
    /// Upgrade with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the start (port 465).
    Tls,
}

#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The From address, e.g. `Opsdeck <opsdeck@example.com>`.
    pub from: String,
    /// Where answers to ticket e-mails go: the service desk's mailbox (`[imap]`), so a
    /// requester's answer lands on the ticket. Default: the From address.
    #[serde(default)]
    pub reply_to: Option<String>,
}

fn default_port() -> u16 {
    587
}

/// Written by hand so that logging a configuration never prints the password.
impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| opsdeck_core::secret::MASK))
            .field("from", &self.from)
            .field("reply_to", &self.reply_to)
            .finish()
    }
}

#[derive(Debug)]
pub struct SendError {
    pub message: String,
    /// Retrying cannot help (a 4xx answer, a bad address).
    pub permanent: bool,
}

fn retry(message: impl Into<String>) -> SendError {
    SendError { message: message.into(), permanent: false }
}

fn permanent(message: impl Into<String>) -> SendError {
    SendError { message: message.into(), permanent: true }
}

pub struct Sender {
    http: reqwest::Client,
    egress: Arc<EgressPolicy>,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, lettre::message::Mailbox)>,
    /// `[smtp] reply_to`: where answers to ticket e-mails go.
    reply_to: Option<lettre::message::Mailbox>,
}

impl Sender {
    pub fn new(smtp: Option<SmtpConfig>, timeout: Duration, egress: &EgressConfig) -> Result<Sender, String> {
        let egress = Arc::new(EgressPolicy::new(egress));
        let http = reqwest::Client::builder()
            .dns_resolver(FilteringResolver(egress.clone()))
            .timeout(timeout)
            .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(256)
            // A receiver answers where it was configured; a redirect could lead a signed
            // notification (and its headers) anywhere, so it counts as a failed send.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let reply_to = match smtp.as_ref().and_then(|c| c.reply_to.as_deref()) {
            Some(r) => Some(r.parse().map_err(|e| format!("smtp.reply_to {r:?} is not an address: {e}"))?),
            None => None,
        };
        let smtp = match smtp {
            None => None,
            Some(c) => {
                let from: lettre::message::Mailbox =
                    c.from.parse().map_err(|e| format!("smtp.from {:?} is not an address: {e}", c.from))?;
                let builder = match c.tls {
                    SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
                    SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)
                        .map_err(|e| format!("smtp: {e}"))?,
                    SmtpTls::Tls => {
                        AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host).map_err(|e| format!("smtp: {e}"))?
                    }
                };
                let mut builder = builder.port(c.port).timeout(Some(timeout));
                if let (Some(u), Some(p)) = (c.username, c.password) {
                    builder = builder.credentials(Credentials::new(u, p));
                }
                Some((builder.build(), from))
            }
        };
        Ok(Sender { http, egress, smtp, reply_to })
    }

    pub async fn send(&self, n: &DueNotification, v: &MessageVars) -> Result<(), SendError> {
        let kind = ChannelKind::parse(&n.channel).unwrap_or(ChannelKind::Webhook);
        let c = &n.config.0;
        let subject = render(c.subject_template.as_deref().unwrap_or(DEFAULT_SUBJECT), v);
        let body = render(c.body_template.as_deref().unwrap_or(DEFAULT_BODY), v);
        match kind {
            ChannelKind::Email => self.email(n, &subject, &body).await,
            ChannelKind::Slack => self.post(n, &json!({"text": format!("*{subject}*\n{body}")}), None).await,
            ChannelKind::Teams => {
                self.post(n, &json!({"text": format!("**{subject}**\n\n{}", body.replace('\n', "\n\n"))}), None).await
            }
            ChannelKind::Discord => {
                let text: String = format!("**{subject}**\n{body}").chars().take(2000).collect();
                self.post(n, &json!({"content": text}), None).await
            }
            ChannelKind::Webhook => {
                let payload = json!({
                    "event": "incident.notification",
                    "idempotency_key": n.idempotency_key,
                    "incident": {"id": n.incident_id, "number": v.number, "title": v.title, "status": v.status,
                                 "severity": v.severity, "service": v.service, "runbook": v.runbook},
                    "level": n.level + 1,
                    "subject": subject,
                    "text": body,
                    "links": {"view": v.view_url, "acknowledge": v.ack_url, "resolve": v.resolve_url},
                });
                self.post(n, &payload, c.secret.as_deref()).await
            }
            ChannelKind::Pagerduty => {
                let severity = match v.severity.as_str() {
                    "SEV1" => "critical",
                    "SEV2" => "error",
                    "SEV3" => "warning",
                    _ => "info",
                };
                let payload = json!({
                    "routing_key": c.routing_key,
                    "event_action": "trigger",
                    "dedup_key": format!("opsdeck-{}", n.incident_id),
                    "payload": {"summary": subject, "source": "opsdeck", "severity": severity,
                                "custom_details": {"service": v.service, "runbook": v.runbook}},
                    "client": "Opsdeck",
                    "client_url": v.view_url,
                });
                self.post(n, &payload, None).await
            }
        }
    }

    async fn email(&self, n: &DueNotification, subject: &str, body: &str) -> Result<(), SendError> {
        let Some((transport, from)) = &self.smtp else {
            return Err(permanent("no SMTP server is configured ([smtp] in opsdeck.toml)"));
        };
        let to: lettre::message::Mailbox =
            n.address.parse().map_err(|e| permanent(format!("bad address {:?}: {e}", n.address)))?;
        let msg = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject)
            // The idempotency key as Message-ID lets a receiver drop a resend after a crash.
            .message_id(Some(format!("<{}@opsdeck>", n.idempotency_key.replace([':', ' '], "."))))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| permanent(format!("cannot build the message: {e}")))?;
        match transport.send(msg).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(permanent(format!("SMTP refused: {e}"))),
            Err(e) => Err(retry(format!("SMTP: {e}"))),
        }
    }

    async fn post(
        &self,
        n: &DueNotification,
        payload: &serde_json::Value,
        secret: Option<&str>,
    ) -> Result<(), SendError> {
        let url = n.config.0.url.as_deref().unwrap_or(&n.address);
        self.post_json(url, &n.idempotency_key, &n.config.0.headers, payload, secret).await
    }

    /// POSTs `payload` as JSON to `url` (within the egress policy, no redirects): a 2xx is
    /// sent, 408/429/5xx and transport errors are worth a retry, anything else is permanent.
    pub(crate) async fn post_json(
        &self,
        url: &str,
        idempotency_key: &str,
        headers: &std::collections::BTreeMap<String, String>,
        payload: &serde_json::Value,
        secret: Option<&str>,
    ) -> Result<(), SendError> {
        self.egress.check_url(url).map_err(permanent)?;
        let body = serde_json::to_vec(payload).map_err(|e| permanent(e.to_string()))?;
        let mut req =
            self.http.post(url).header("content-type", "application/json").header("idempotency-key", idempotency_key);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(s) = secret.filter(|s| !s.is_empty()) {
            req = req.header("x-opsdeck-signature", webhook_signature(s, chrono::Utc::now().timestamp(), &body));
        }
        match req.body(body).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) if r.status().as_u16() == 408 || r.status().as_u16() == 429 || r.status().is_server_error() => {
                Err(retry(format!("HTTP {}", r.status().as_u16())))
            }
            Ok(r) => Err(permanent(format!("HTTP {} from {}", r.status().as_u16(), host_of(url)))),
            Err(e) => {
                let why = describe(&e);
                // A refusal by the egress policy will not change on retry.
                if why.contains(crate::egress::REFUSED) {
                    Err(permanent(why))
                } else {
                    Err(retry(format!("cannot reach {}: {why}", host_of(url))))
                }
            }
        }
    }
}

impl Sender {
    /// Sends a status page subscriber its message: e-mail with RFC 8058 one-click unsubscribe
    /// headers, a webhook with statuspage.io's payload, or Slack's `text`.
    pub(crate) async fn send_subscriber(&self, m: &crate::status::SubscriberMessage) -> Result<(), SendError> {
        use opsdeck_core::status_subscriber::SubscriberKind;
        let none = std::collections::BTreeMap::new();
        match m.kind {
            SubscriberKind::Email => self.subscriber_email(m).await,
            SubscriberKind::Webhook => self.post_json(&m.address, &m.key, &none, &m.payload, None).await,
            SubscriberKind::Slack => {
                let text = format!("*{}*\n{}", m.subject, m.text);
                self.post_json(&m.address, &m.key, &none, &json!({"text": text}), None).await
            }
        }
    }

    async fn subscriber_email(&self, m: &crate::status::SubscriberMessage) -> Result<(), SendError> {
        use lettre::message::header::{HeaderName, HeaderValue};
        let Some((transport, from)) = &self.smtp else {
            return Err(permanent("no SMTP server is configured ([smtp] in opsdeck.toml)"));
        };
        let to: lettre::message::Mailbox =
            m.address.parse().map_err(|e| permanent(format!("bad address {:?}: {e}", m.address)))?;
        let mut msg = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(&m.subject)
            .message_id(Some(format!("<{}@opsdeck>", m.key)))
            .header(ContentType::TEXT_PLAIN);
        if let Some(url) = &m.unsubscribe_url {
            msg = msg
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        let msg = msg.body(m.text.clone()).map_err(|e| permanent(format!("cannot build the message: {e}")))?;
        match transport.send(msg).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(permanent(format!("SMTP refused: {e}"))),
            Err(e) => Err(retry(format!("SMTP: {e}"))),
        }
    }
}

impl Sender {
    /// Sends a scheduled report: the printable HTML page with a plain-text summary beside it.
    pub(crate) async fn send_mail(
        &self,
        outbox: opsdeck_store::report_schedule::MailOutbox,
        r: &opsdeck_store::report_schedule::DueReport,
    ) -> Result<(), SendError> {
        use lettre::message::{MultiPart, SinglePart};
        let Some((transport, from)) = &self.smtp else {
            return Err(permanent("no SMTP server is configured ([smtp] in opsdeck.toml)"));
        };
        let to: lettre::message::Mailbox =
            r.recipient.parse().map_err(|e| permanent(format!("bad address {:?}: {e}", r.recipient)))?;
        let body = MultiPart::alternative()
            .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(r.body.clone()))
            .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(r.html.clone()));
        let mut builder = Message::builder().from(from.clone()).to(to).subject(&r.subject).message_id(Some(format!(
            "<{}-{}@opsdeck>",
            outbox.as_str(),
            r.id.simple()
        )));
        // A ticket's e-mails reply to its thread, so mail clients keep them in one conversation
        // and the requester's answer names the ticket in its References.
        if let Some(thread) = &r.thread {
            builder = builder.in_reply_to(thread.clone()).references(thread.clone());
            if let Some(desk) = &self.reply_to {
                builder = builder.reply_to(desk.clone());
            }
        }
        let msg = builder.multipart(body).map_err(|e| permanent(format!("cannot build the message: {e}")))?;
        match transport.send(msg).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(permanent(format!("SMTP refused: {e}"))),
            Err(e) => Err(retry(format!("SMTP: {e}"))),
        }
    }
}

/// The host a webhook URL points at: its path and query are the credential of chat webhooks,
/// so errors (shown on the incident page) name only the host.
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| "the webhook".into())
}

/// A transport error in words, from its causes: reqwest's own text names the URL.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut causes: Vec<String> = Vec::new();
    let mut cur = std::error::Error::source(e);
    while let Some(err) = cur {
        let msg = err.to_string();
        if !msg.starts_with("client error") && !causes.contains(&msg) {
            causes.push(msg);
        }
        cur = err.source();
    }
    if causes.is_empty() { "the request failed".into() } else { causes.join(": ") }
}
