//! The status page subscribers' outbox: confirmation requests and public incident updates,
//! claimed with leases and sent like the notification outbox (retries with back-off, given up
//! after [`opsdeck_core::escalation::MAX_ATTEMPTS`]).

use crate::{Notifier, NotifyError, Pass, send};
use opsdeck_core::clock::from_millis;
use opsdeck_core::status_maintenance::MaintenanceStatus;
use opsdeck_core::status_page::IncidentStatus;
use opsdeck_core::status_subscriber::{SubscriberKind, subscriber_token};
use opsdeck_core::telemetry::InternalEvent;
use opsdeck_store::status_subscriber::{DeliveryDetails, DeliveryResult, DueDelivery};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// One message to one subscriber.
pub(crate) struct SubscriberMessage {
    pub kind: SubscriberKind,
    pub address: String,
    /// Unique per (subscriber, event): the e-mail Message-ID and the webhook idempotency key.
    pub key: String,
    pub subject: String,
    pub text: String,
    /// RFC 8058 one-click unsubscribe (updates only).
    pub unsubscribe_url: Option<String>,
    /// The webhook body (statuspage.io's webhook shape).
    pub payload: serde_json::Value,
}

impl Notifier {
    /// Sends due subscriber messages.
    pub(crate) async fn deliver_status(&self) -> Result<Pass, NotifyError> {
        let now = self.clock.now();
        let now_ms = now.timestamp_millis();
        let node = &self.config.node;
        let lease_until = now_ms + self.lease_ms();
        let due = self.db.claim_status_deliveries(node, now_ms, lease_until, self.send_batch()).await?;
        if due.is_empty() {
            return Ok(Pass::default());
        }
        let ids: Vec<uuid::Uuid> = due.iter().map(|d| d.id).collect();
        let mut details: HashMap<uuid::Uuid, DeliveryDetails> =
            self.db.delivery_details(&ids).await?.into_iter().map(|d| (d.id, d)).collect();
        let gate = Arc::new(Semaphore::new(self.config.concurrency));
        let mut set = tokio::task::JoinSet::new();
        let mut results: Vec<(DueDelivery, DeliveryResult)> = Vec::with_capacity(due.len());
        for d in due {
            let Some(det) = details.remove(&d.id) else { continue };
            let Some(msg) = self.message(&d, &det) else {
                results.push((d, DeliveryResult::Failed { error: "the update it was about is gone".into() }));
                continue;
            };
            let sender = self.sender.clone();
            let gate = gate.clone();
            let (clock, limit) = (self.clock.clone(), self.config.send_timeout);
            let send_ms = self.lease_ms() - crate::LEASE_SLACK_MS;
            set.spawn(async move {
                let _permit = gate.acquire_owned().await;
                // Fenced like the notification outbox: a send that cannot end within the lease
                // waits for the next claim.
                if !crate::may_start(clock.now().timestamp_millis(), send_ms, lease_until) {
                    return (d, None);
                }
                let outcome = crate::within(limit, sender.send_subscriber(&msg)).await;
                (d, Some(outcome))
            });
        }
        let mut pass = Pass::default();
        while let Some(r) = set.join_next().await {
            let Ok((d, outcome)) = r else {
                crate::events::SendTaskPanicked.emit();
                continue;
            };
            let Some(outcome) = outcome else { continue };
            let result = match outcome {
                Ok(()) => {
                    pass.sent += 1;
                    DeliveryResult::Sent
                }
                Err(send::SendError { message, permanent }) => {
                    if permanent || d.attempts.saturating_add(1) >= opsdeck_core::escalation::MAX_ATTEMPTS {
                        pass.failed += 1;
                        DeliveryResult::Failed { error: message }
                    } else {
                        pass.retried += 1;
                        let at = now_ms
                            + opsdeck_core::escalation::backoff_ms(d.attempts.saturating_add(1), rand::random::<f64>());
                        DeliveryResult::Retry { error: message, at }
                    }
                }
            };
            results.push((d, result));
        }
        self.db.complete_status_deliveries(node, now_ms, &results).await?;
        Ok(pass)
    }

    /// The message a delivery sends; `None` when what it was about is gone.
    fn message(&self, d: &DueDelivery, det: &DeliveryDetails) -> Option<SubscriberMessage> {
        let kind = SubscriberKind::parse(&det.subscriber_kind)?;
        let page_url = format!("{}/status/{}", self.config.public_url.trim_end_matches('/'), det.slug);
        let token = subscriber_token(&self.key, d.subscriber_id);
        let key = format!("{}.{}", d.subscriber_id.simple(), d.event_id.simple());
        if d.kind == "confirm" {
            let confirm = format!("{page_url}/subscriptions/{token}/confirm");
            return Some(SubscriberMessage {
                kind,
                address: det.address.clone(),
                key,
                subject: format!("Confirm your subscription to {}", det.title),
                text: format!(
                    "Someone, hopefully you, asked for {title} status updates at this address.\n\n\
                     Confirm the subscription: {confirm}\n\n\
                     If it was not you, ignore this message: nothing is sent without confirmation.\n",
                    title = det.title
                ),
                unsubscribe_url: None,
                payload: json!({"meta": {"event": "subscription.confirm", "confirm": confirm},
                                "page": {"id": det.page_id, "name": det.title, "url": page_url}}),
            });
        }
        if d.kind == "maintenance" || d.kind == "reminder" {
            return maintenance_message(d, det, kind, key, &page_url, &format!("{page_url}/unsubscribe/{token}"));
        }
        let status = IncidentStatus::parse(det.update_status.as_deref()?)?;
        let body = det.update_body.clone()?;
        let name = det.incident_name.clone()?;
        let incident_id = det.incident_id?;
        let posted = from_millis(det.update_at?);
        let link = format!("{page_url}#incident-{incident_id}");
        let unsubscribe = format!("{page_url}/unsubscribe/{token}");
        let impact = det.impact.clone().unwrap_or_else(|| "none".into());
        let at = |ms: Option<i64>| from_millis(ms.unwrap_or(0)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        Some(SubscriberMessage {
            kind,
            address: det.address.clone(),
            key,
            subject: format!("[{}] {}: {}", det.title, name, status.label()),
            text: format!(
                "{label}: {body}\n\n{name} (impact: {impact})\nPosted {posted}\n\nDetails: {link}\n\n--\n\
                 You receive this because you subscribed to {title} ({page_url}).\nUnsubscribe: {unsubscribe}\n",
                label = status.label(),
                posted = posted.format("%Y-%m-%d %H:%M UTC"),
                title = det.title,
            ),
            unsubscribe_url: Some(unsubscribe.clone()),
            payload: json!({
                "meta": {"unsubscribe": unsubscribe, "documentation": format!("{page_url}/api/v2/summary.json")},
                "page": {"id": det.page_id, "name": det.title, "url": page_url},
                "incident": {
                    "id": incident_id,
                    "name": name,
                    "status": det.incident_status,
                    "impact": impact,
                    "shortlink": link,
                    "started_at": at(det.started_at),
                    "updated_at": at(det.update_at),
                    "incident_updates": [{
                        "id": d.event_id,
                        "incident_id": incident_id,
                        "status": status.as_str(),
                        "body": body,
                        "created_at": at(det.update_at),
                        "display_at": at(det.update_at),
                    }],
                },
            }),
        })
    }
}

/// A scheduled maintenance's announcement, start or end (`maintenance`), or the reminder an hour
/// before it starts (`reminder`).
fn maintenance_message(
    d: &DueDelivery,
    det: &DeliveryDetails,
    kind: SubscriberKind,
    key: String,
    page_url: &str,
    unsubscribe: &str,
) -> Option<SubscriberMessage> {
    let maintenance_id = det.incident_id?;
    let name = det.incident_name.clone()?;
    let current = MaintenanceStatus::parse(det.incident_status.as_deref()?)?;
    let (starts, ends) = (from_millis(det.scheduled_for?), from_millis(det.scheduled_until?));
    let at = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let when = format!("{} to {}", starts.format("%Y-%m-%d %H:%M UTC"), ends.format("%Y-%m-%d %H:%M UTC"));
    let link = format!("{page_url}#maintenance-{maintenance_id}");
    let (subject, label, body, status, posted) = if d.kind == "reminder" {
        let body = det.announcement.clone().unwrap_or_default();
        (
            format!("[{}] Reminder: {name} begins {}", det.title, starts.format("%Y-%m-%d %H:%M UTC")),
            "Reminder",
            body,
            MaintenanceStatus::Scheduled,
            None,
        )
    } else {
        let status = MaintenanceStatus::parse(det.update_status.as_deref()?)?;
        let posted = from_millis(det.update_at?);
        (
            format!("[{}] {name}: {}", det.title, status.label()),
            status.label(),
            det.update_body.clone()?,
            status,
            Some(posted),
        )
    };
    let update = posted.map(|p| {
        vec![json!({"id": d.event_id, "incident_id": maintenance_id, "status": status.as_str(), "body": body,
                    "created_at": at(p), "display_at": at(p)})]
    });
    Some(SubscriberMessage {
        kind,
        address: det.address.clone(),
        key,
        subject,
        text: format!(
            "{label}: {body}\n\n{name} (scheduled maintenance, {when})\n\nDetails: {link}\n\n--\n\
             You receive this because you subscribed to {title} ({page_url}).\nUnsubscribe: {unsubscribe}\n",
            title = det.title,
        ),
        unsubscribe_url: Some(unsubscribe.to_owned()),
        payload: json!({
            "meta": {"unsubscribe": unsubscribe, "documentation": format!("{page_url}/api/v2/summary.json"),
                     "event": if d.kind == "reminder" { "maintenance.reminder" } else { "maintenance.update" }},
            "page": {"id": det.page_id, "name": det.title, "url": page_url},
            "incident": {
                "id": maintenance_id,
                "name": name,
                "status": current.as_str(),
                "impact": "maintenance",
                "shortlink": link,
                "scheduled_for": at(starts),
                "scheduled_until": at(ends),
                "incident_updates": update.unwrap_or_default(),
            },
        }),
    })
}
