//! Escalations and the notification outbox.
//!
//! Both queues live in the database and are claimed with leases, so a restart or a second node
//! resumes them on time and nothing is queued twice: each escalation step writes its
//! notifications with an idempotency key `(incident, loop, level, person, rule)` in the same
//! transaction that moves the escalation on. The outbox worker sends due notifications,
//! retries with exponential back-off and jitter, and gives up after
//! [`opsdeck_core::escalation::MAX_ATTEMPTS`] with the failure on the incident's timeline.

pub mod egress;
pub mod events;
pub mod imap;
mod lease;
pub mod prometheus;
mod reports;
mod send;
mod status;
pub mod vendor_api;
pub mod vendors;
mod wake;

use crate::events::{EscalationsStepped, NotificationsDelivered, NotifierPassFailed, SendTaskPanicked};
use chrono::{DateTime, Utc};
pub(crate) use lease::{LEASE_SLACK_MS, may_start, within};
use opsdeck_core::clock::Clock;
use opsdeck_core::escalation::{ChannelConfig, ChannelKind, LinkAction, LinkClaim, MessageVars, TargetKind, sign_link};
use opsdeck_core::incident::display_number;
use opsdeck_core::oncall;
use opsdeck_core::telemetry::InternalEvent;
use opsdeck_store::Db;
use opsdeck_store::oncall::{DueNotification, EscalationStep, NewNotification, Policy, SendResult};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use uuid::Uuid;

pub use send::{SmtpConfig, SmtpTls};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] opsdeck_store::StoreError),
    #[error("notifier setup failed: {0}")]
    Setup(String),
}

#[derive(Clone, Debug)]
pub struct NotifyConfig {
    /// This node's name in leases.
    pub node: String,
    /// Where people reach this server (links in messages), e.g. `https://opsdeck.example.com`.
    pub public_url: String,
    pub smtp: Option<SmtpConfig>,
    /// How often due work is looked for when nothing wakes the notifier ([`Notifier::wake`]):
    /// escalation steps and retries that come due, and work queued by another node.
    pub tick: Duration,
    /// A pass that was woken starts at least this long after the previous one began, so a
    /// stream of writes makes a pass per gap, not one per write.
    pub wake_gap: Duration,
    /// Items claimed per pass.
    pub batch: i64,
    /// Sends in flight at once.
    pub concurrency: usize,
    /// How long links in messages stay valid.
    pub link_ttl: chrono::Duration,
    /// Per-send timeout.
    pub send_timeout: Duration,
    /// Where outbound requests may go (`[egress]` in `opsdeck.toml`).
    pub egress: egress::EgressConfig,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            node: format!("node-{}", Uuid::now_v7().simple()),
            public_url: "http://127.0.0.1:8080".into(),
            smtp: None,
            tick: Duration::from_secs(1),
            wake_gap: Duration::from_millis(200),
            batch: 1_000,
            concurrency: 256,
            link_ttl: chrono::Duration::hours(24),
            send_timeout: Duration::from_secs(10),
            egress: Default::default(),
        }
    }
}

pub struct Notifier {
    db: Db,
    clock: Arc<dyn Clock>,
    config: NotifyConfig,
    sender: Arc<send::Sender>,
    key: Vec<u8>,
    sink: Option<ChangeSink>,
    /// When scheduled maintenance was last brought in line with the windows (clock ms).
    maintenance_synced: std::sync::atomic::AtomicI64,
    /// Set by [`Notifier::wake`]: something was written that may have queued work.
    woken: tokio::sync::Notify,
}

/// How often the notifier moves scheduled maintenance along (its steps are minute-grained).
const MAINTENANCE_SYNC_MS: i64 = 10_000;

/// Called with the incidents whose notifications changed (live updates).
pub type ChangeSink = Arc<dyn Fn(&[Uuid]) + Send + Sync>;

/// How long a claim of due escalations lasts: a step only reads and writes the database.
const ESCALATION_LEASE_MS: i64 = 10_000;

/// Escalations claimed per pass: a few milliseconds of database work each, so a pass ends well
/// within its lease; a full pass is followed by another at once.
const ESCALATIONS_PER_PASS: i64 = 100;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub escalated: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

/// The incident facts a message needs.
struct Brief {
    number: i64,
    title: String,
    status: String,
    severity: String,
    service_id: Option<Uuid>,
    team_id: Option<Uuid>,
    service: String,
    runbook: String,
}

impl Notifier {
    /// The address links in messages start with.
    pub fn public_url(&self) -> &str {
        &self.config.public_url
    }

    pub async fn new(db: Db, clock: Arc<dyn Clock>, config: NotifyConfig) -> Result<Notifier, NotifyError> {
        let key = db.signing_key().await?;
        let sender =
            send::Sender::new(config.smtp.clone(), config.send_timeout, &config.egress).map_err(NotifyError::Setup)?;
        Ok(Notifier {
            db,
            clock,
            config,
            sender: Arc::new(sender),
            key,
            sink: None,
            maintenance_synced: std::sync::atomic::AtomicI64::new(i64::MIN),
            woken: tokio::sync::Notify::new(),
        })
    }

    fn send_timeout_ms(&self) -> i64 {
        i64::try_from(self.config.send_timeout.as_millis()).unwrap_or(i64::MAX / 4)
    }

    /// Messages claimed per pass: as many as may be sent at once, so each starts at its claim
    /// (a full pass is followed by another at once).
    pub(crate) fn send_batch(&self) -> i64 {
        self.config.batch.min(i64::try_from(self.config.concurrency).unwrap_or(i64::MAX)).max(1)
    }

    fn escalation_batch(&self) -> i64 {
        self.config.batch.clamp(1, ESCALATIONS_PER_PASS)
    }

    /// The lease of a claimed send: its timeout and some slack.
    pub(crate) fn lease_ms(&self) -> i64 {
        self.send_timeout_ms().saturating_add(LEASE_SLACK_MS)
    }

    /// Reports incidents whose escalation or deliveries changed to `sink`.
    pub fn with_sink(mut self, sink: ChangeSink) -> Self {
        self.sink = Some(sink);
        self
    }

    fn changed(&self, ids: impl Iterator<Item = Uuid>) {
        if let Some(s) = &self.sink {
            let mut v: Vec<Uuid> = ids.collect();
            v.sort();
            v.dedup();
            if !v.is_empty() {
                s(&v);
            }
        }
    }

    /// Runs until `shutdown` turns true.
    ///
    /// A pass runs at once, then every `tick`, and sooner (`wake_gap` after the last one) when
    /// [`Notifier::wake`] is called: an idle server then makes one pass a second instead of
    /// five, while a new incident still pages at once.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let began = tokio::time::Instant::now();
            loop {
                match self.run_once().await {
                    // A full batch means more is due: go again at once.
                    Ok(p)
                        if p.escalated as i64 >= self.escalation_batch()
                            || (p.sent + p.retried + p.failed) as i64 >= self.send_batch() =>
                    {
                        continue;
                    }
                    Ok(_) => break,
                    Err(e) => {
                        NotifierPassFailed { error: &e }.emit();
                        break;
                    }
                }
            }
            if !wake::next_pass(began, &self.config, &self.woken, &mut shutdown).await {
                return;
            }
        }
    }

    /// Asks for a pass soon: something was written that may have queued or moved work (an
    /// incident, a status update, a ticket). Wake-ups while a pass runs make one more pass.
    pub fn wake(&self) {
        self.woken.notify_one();
    }

    /// One escalation pass and one outbox pass at the clock's time.
    pub async fn run_once(&self) -> Result<Pass, NotifyError> {
        let escalated = self.escalate().await?;
        EscalationsStepped { steps: escalated }.emit();
        // After escalation (paging comes first), before the outboxes (what they queue goes out
        // in this pass); each fails on its own.
        if let Err(e) = self.sync_maintenance().await {
            NotifierPassFailed { error: &e }.emit();
        }
        let mut pass = self.deliver().await?;
        for other in [self.deliver_status().await?, self.deliver_reports().await?] {
            pass.sent += other.sent;
            pass.retried += other.retried;
            pass.failed += other.failed;
        }
        pass.escalated = escalated;
        NotificationsDelivered { sent: pass.sent, retried: pass.retried, given_up: pass.failed }.emit();
        Ok(pass)
    }

    /// Announces, reminds of, starts and completes scheduled maintenance on status pages (at
    /// most every [`MAINTENANCE_SYNC_MS`] of the clock; every node may, each step applies once).
    async fn sync_maintenance(&self) -> Result<(), NotifyError> {
        use std::sync::atomic::Ordering;
        let now = self.clock.now();
        let ms = now.timestamp_millis();
        let last = self.maintenance_synced.load(Ordering::Relaxed);
        if ms.checked_sub(last).is_some_and(|d| (0..MAINTENANCE_SYNC_MS).contains(&d)) {
            return Ok(());
        }
        self.maintenance_synced.store(ms, Ordering::Relaxed);
        let steps = self.db.sync_maintenance(now).await?;
        if steps > 0 {
            events::MaintenanceMoved { steps }.emit();
        }
        Ok(())
    }

    async fn briefs(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Brief>, NotifyError> {
        let unique: Vec<Uuid> = ids.iter().copied().collect::<HashSet<_>>().into_iter().collect();
        Ok(self
            .db
            .incident_briefs(&unique)
            .await?
            .into_iter()
            .map(|b| {
                (
                    b.id,
                    Brief {
                        number: b.number,
                        title: b.title,
                        status: b.status,
                        severity: b.severity,
                        service_id: b.service_id,
                        team_id: b.team_id,
                        service: b.service_name.unwrap_or_default(),
                        runbook: b.runbook_url.unwrap_or_default(),
                    },
                )
            })
            .collect())
    }

    /// Who a target puts on call now: users as they are, schedules through their timeline,
    /// teams through their schedules.
    async fn resolve(&self, kind: TargetKind, id: Uuid, now: DateTime<Utc>) -> Result<Vec<Uuid>, NotifyError> {
        let schedules = match kind {
            TargetKind::User => return Ok(vec![id]),
            TargetKind::Schedule => vec![id],
            TargetKind::Team => self.db.team_schedule_ids(id).await?,
        };
        let mut out = Vec::new();
        for sid in schedules {
            let Ok(s) = self.db.get_schedule(sid).await else { continue };
            let overrides =
                self.db.overrides(sid, now - chrono::Duration::days(1), now + chrono::Duration::days(1)).await?;
            if let Some((u, _)) = oncall::on_call(&s.spec, &overrides, now) {
                out.push(u);
            }
        }
        Ok(out)
    }

    // Caches filled by async lookups: `entry()` cannot await.
    #[allow(clippy::map_entry)]
    async fn escalate(&self) -> Result<usize, NotifyError> {
        let now = self.clock.now();
        let now_ms = now.timestamp_millis();
        let due = self
            .db
            .claim_due_escalations(&self.config.node, now_ms, now_ms + ESCALATION_LEASE_MS, self.escalation_batch())
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let briefs = self.briefs(&due.iter().map(|d| d.incident_id).collect::<Vec<_>>()).await?;
        let mut policies: HashMap<Uuid, Option<Policy>> = HashMap::new();
        let mut people: HashMap<Uuid, Vec<(Uuid, i32, opsdeck_store::oncall::ContactMethod)>> = HashMap::new();
        let mut names: HashMap<Uuid, String> = HashMap::new();
        let mut channels: HashMap<Uuid, Vec<opsdeck_store::oncall::Channel>> = HashMap::new();
        // Who a target reaches is the same for every incident of this pass.
        let mut reach: HashMap<(TargetKind, Uuid), Vec<Uuid>> = HashMap::new();
        let mut steps = Vec::with_capacity(due.len());
        for d in &due {
            if !policies.contains_key(&d.policy_id) {
                policies.insert(d.policy_id, self.db.get_policy(d.policy_id).await.ok());
            }
            let Some(Some(policy)) = policies.get(&d.policy_id) else {
                steps.push(EscalationStep {
                    incident_id: d.incident_id,
                    notifications: vec![],
                    next: None,
                    note: String::new(),
                });
                continue;
            };
            let Some(level) = policy.spec.levels.get(d.level.max(0) as usize) else {
                steps.push(EscalationStep {
                    incident_id: d.incident_id,
                    notifications: vec![],
                    next: None,
                    note: String::new(),
                });
                continue;
            };
            let mut users: Vec<Uuid> = Vec::new();
            for t in &level.targets {
                if !reach.contains_key(&(t.kind, t.id)) {
                    reach.insert((t.kind, t.id), self.resolve(t.kind, t.id, now).await?);
                }
                for u in &reach[&(t.kind, t.id)] {
                    if !users.contains(u) {
                        users.push(*u);
                    }
                }
            }
            let missing: Vec<Uuid> = users.iter().filter(|u| !names.contains_key(u)).copied().collect();
            for (id, username, _) in self.db.user_names(&missing).await? {
                names.insert(id, username);
            }
            let mut notifications = Vec::new();
            let mut reached = Vec::new();
            for u in &users {
                let Some(name) = names.get(u) else { continue };
                if !people.contains_key(u) {
                    let methods = self.db.contact_methods(*u).await?;
                    let rules = self.db.notification_rules(*u).await?;
                    // Without rules, every contact method is used at once.
                    let plan: Vec<(Uuid, i32, opsdeck_store::oncall::ContactMethod)> = if rules.is_empty() {
                        methods.into_iter().map(|m| (m.id, 0, m)).collect()
                    } else {
                        rules
                            .iter()
                            .filter_map(|r| {
                                methods
                                    .iter()
                                    .find(|m| m.id == r.contact_method_id)
                                    .map(|m| (r.id, r.delay_minutes, m.clone()))
                            })
                            .collect()
                    };
                    people.insert(*u, plan);
                }
                let plan = &people[u];
                if plan.is_empty() {
                    reached.push(format!("{name} (no contact method)"));
                    continue;
                }
                reached.push(name.clone());
                for (rule_id, delay, m) in plan {
                    let kind = ChannelKind::parse(&m.kind).unwrap_or(ChannelKind::Webhook);
                    let config = match kind {
                        ChannelKind::Email => ChannelConfig { to: Some(m.address.clone()), ..Default::default() },
                        _ => ChannelConfig { url: Some(m.address.clone()), ..Default::default() },
                    };
                    notifications.push(NewNotification {
                        incident_id: d.incident_id,
                        idempotency_key: format!(
                            "{}:{}:{}:{}:{}:{}",
                            d.incident_id, d.round, d.loop_no, d.level, u, rule_id
                        ),
                        level: d.level,
                        user_id: Some(*u),
                        contact_method_id: Some(m.id),
                        channel_id: None,
                        channel: kind,
                        target: format!("{name} ({})", kind.as_str()),
                        address: m.address.clone(),
                        config,
                        // Rule delays count from when the level was due, so a late pass (after
                        // a restart, say) does not push them later still.
                        due_at: d.next_at + i64::from(*delay) * 60_000,
                    });
                }
            }
            // Broadcast channels of the service hear of the incident once, at the first level.
            if d.level == 0
                && d.loop_no == 0
                && let Some(b) = briefs.get(&d.incident_id)
                && let Some(sid) = b.service_id
            {
                if !channels.contains_key(&sid) {
                    channels.insert(sid, self.db.channels_for(sid, b.team_id).await?);
                }
                for c in &channels[&sid] {
                    notifications.push(NewNotification {
                        incident_id: d.incident_id,
                        idempotency_key: format!("{}:{}:channel:{}", d.incident_id, d.round, c.id),
                        level: 0,
                        user_id: None,
                        contact_method_id: None,
                        channel_id: Some(c.id),
                        channel: c.kind,
                        target: format!("{} ({})", c.name, c.kind.as_str()),
                        address: c.config.to.clone().or_else(|| c.config.url.clone()).unwrap_or_default(),
                        config: c.config.clone(),
                        due_at: d.next_at,
                    });
                }
            }
            let delay_ms = i64::from(level.delay_minutes) * 60_000;
            let next = if (d.level as usize) + 1 < policy.spec.levels.len() {
                Some((d.level + 1, d.loop_no, now_ms + delay_ms))
            } else if (d.loop_no as u32) + 1 < policy.spec.loops {
                Some((0, d.loop_no + 1, now_ms + delay_ms))
            } else {
                None
            };
            let note = if reached.is_empty() {
                format!("Escalation level {}: nobody is on call for its targets", d.level + 1)
            } else {
                format!("Escalation level {}: notifying {}", d.level + 1, reached.join(", "))
            };
            steps.push(EscalationStep { incident_id: d.incident_id, notifications, next, note });
        }
        let n = self.db.complete_escalations(&self.config.node, now_ms, &steps).await?;
        self.changed(steps.iter().map(|s| s.incident_id));
        Ok(n)
    }

    /// A signed action link for a person's message. A broadcast message (no person) gets the
    /// incident page instead: anyone in a channel could forward it, so acting needs a sign-in.
    fn link(
        &self,
        incident_id: Uuid,
        view_url: &str,
        action: LinkAction,
        user_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> String {
        let Some(user_id) = user_id else { return view_url.to_owned() };
        let claim = LinkClaim {
            incident_id,
            action,
            user_id: Some(user_id),
            expires: (now + self.config.link_ttl).timestamp(),
        };
        format!("{}/a/{}", self.config.public_url.trim_end_matches('/'), sign_link(&self.key, &claim))
    }

    async fn deliver(&self) -> Result<Pass, NotifyError> {
        let now = self.clock.now();
        let now_ms = now.timestamp_millis();
        let lease_until = now_ms + self.lease_ms();
        let due = self.db.claim_due_notifications(&self.config.node, now_ms, lease_until, self.send_batch()).await?;
        if due.is_empty() {
            return Ok(Pass::default());
        }
        let briefs = self.briefs(&due.iter().map(|d| d.incident_id).collect::<Vec<_>>()).await?;
        let gate = Arc::new(Semaphore::new(self.config.concurrency));
        let mut set = tokio::task::JoinSet::new();
        for n in due {
            let Some(b) = briefs.get(&n.incident_id) else { continue };
            let view_url =
                format!("{}/incidents/{}", self.config.public_url.trim_end_matches('/'), display_number(b.number));
            let vars = MessageVars {
                number: display_number(b.number),
                title: b.title.clone(),
                service: b.service.clone(),
                severity: b.severity.clone(),
                status: b.status.clone(),
                summary: b.title.clone(),
                runbook: if b.runbook.is_empty() { "none".into() } else { b.runbook.clone() },
                ack_url: self.link(n.incident_id, &view_url, LinkAction::Acknowledge, n.user_id, now),
                resolve_url: self.link(n.incident_id, &view_url, LinkAction::Resolve, n.user_id, now),
                view_url,
            };
            let sender = self.sender.clone();
            let gate = gate.clone();
            let (clock, send_ms, limit) = (self.clock.clone(), self.send_timeout_ms(), self.config.send_timeout);
            set.spawn(async move {
                let _permit = gate.acquire_owned().await;
                // Fenced: a send that could not finish within the lease (this node stalled, or
                // waited too long for a permit) is left to whichever node claims it next.
                if !may_start(clock.now().timestamp_millis(), send_ms, lease_until) {
                    return (n, None);
                }
                let outcome = within(limit, sender.send(&n, &vars)).await;
                (n, Some(outcome))
            });
        }
        let mut results: Vec<(DueNotification, SendResult)> = Vec::with_capacity(set.len());
        let mut pass = Pass::default();
        while let Some(r) = set.join_next().await {
            let Ok((n, outcome)) = r else {
                SendTaskPanicked.emit();
                continue;
            };
            let Some(outcome) = outcome else { continue };
            let result = match outcome {
                Ok(()) => {
                    pass.sent += 1;
                    SendResult::Sent
                }
                Err(send::SendError { message, permanent }) => {
                    if permanent || n.attempts + 1 >= opsdeck_core::escalation::MAX_ATTEMPTS {
                        pass.failed += 1;
                        SendResult::Failed { error: message }
                    } else {
                        pass.retried += 1;
                        let at = now_ms + opsdeck_core::escalation::backoff_ms(n.attempts + 1, rand::random::<f64>());
                        SendResult::Retry { error: message, at }
                    }
                }
            };
            results.push((n, result));
        }
        self.db.complete_notifications(&self.config.node, now_ms, &results).await?;
        self.changed(results.iter().map(|r| r.0.incident_id));
        Ok(pass)
    }

    /// Sends a test message through a channel at once (the "send test notification" button).
    pub async fn test_channel(&self, kind: ChannelKind, config: &ChannelConfig, name: &str) -> Result<(), String> {
        let vars = MessageVars {
            number: "INC-0".into(),
            title: format!("Test notification for {name}"),
            service: "Opsdeck".into(),
            severity: "SEV4".into(),
            status: "test".into(),
            summary: "If you can read this, the channel works.".into(),
            runbook: "none".into(),
            view_url: self.config.public_url.clone(),
            ack_url: self.config.public_url.clone(),
            resolve_url: self.config.public_url.clone(),
        };
        let n = DueNotification {
            id: Uuid::now_v7(),
            incident_id: Uuid::nil(),
            idempotency_key: format!("test:{}", Uuid::now_v7()),
            level: 0,
            user_id: None,
            channel: kind.as_str().into(),
            target: name.into(),
            address: config.to.clone().or_else(|| config.url.clone()).unwrap_or_default(),
            config: opsdeck_store::oncall::Json(config.clone()),
            attempts: 0,
            next_attempt_at: 0,
        };
        self.sender.send(&n, &vars).await.map_err(|e| e.message)
    }
}
