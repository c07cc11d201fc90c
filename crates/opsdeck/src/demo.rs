//! `opsdeck serve`, and the demo organisation that `--demo` creates in an empty database.

use crate::cli::{describe, open_db};
use crate::config::Config;
use anyhow::{Context, Result};
use opsdeck_checks::scheduler::{Scheduler, SchedulerConfig};
use opsdeck_core::alert::Severity;
use opsdeck_core::audit::Actor;
use opsdeck_core::catalogue::{Link, ServiceInput, ServiceSpec, TeamSpec};
use opsdeck_core::clock::Clock;
use opsdeck_core::escalation::ChannelKind;
use opsdeck_core::role::Role;
use opsdeck_core::secret;
use opsdeck_store::Db;
use opsdeck_store::user::NewUser;
use opsdeck_web::{AppState, WebConfig};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub const DEMO_ADMIN: &str = "admin";
pub const DEMO_PASSWORD: &str = "opsdeck-demo";

pub async fn serve(cfg: Config, demo: bool) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cfg.log).unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .init();
    let db = open_db(&cfg).await?;
    let clock = crate::cli::clock();
    let listener = tokio::net::TcpListener::bind(&cfg.listen).await.with_context(|| {
        format!("cannot listen on {} (is another process using it? choose another address with --listen)", cfg.listen)
    })?;
    let addr = listener.local_addr()?;
    let seeded = if demo { seed(&db, clock.as_ref(), addr).await? } else { false };
    let url = format!("http://{addr}");
    tracing::info!(database = %describe(&cfg), "Opsdeck {} listening on {url}", env!("CARGO_PKG_VERSION"));
    if demo {
        if seeded {
            println!("Demo organisation created. Open {url} and sign in as {DEMO_ADMIN} / {DEMO_PASSWORD}");
        } else {
            println!(
                "The database already has data, so no demo data was added. Open {url} (demo sign-in, \
                 if it was seeded before: {DEMO_ADMIN} / {DEMO_PASSWORD})"
            );
        }
    } else if db.count_users().await? == 0 {
        println!("Open {url}/setup to create the first admin account.");
    } else {
        println!("Opsdeck is running at {url}");
    }
    let web = WebConfig {
        // Cookies are Secure whenever people reach the server over https.
        secure_cookies: cfg.secure_cookies || cfg.public_url.starts_with("https://"),
        session_ttl: chrono::Duration::hours(cfg.session_ttl_hours),
        demo_endpoints: demo,
        retention: cfg.retention,
        trusted_proxies: cfg.trusted_proxies.clone(),
        session_idle: chrono::Duration::hours(cfg.session_idle_hours),
        egress: cfg.egress.clone(),
        pipeline: opsdeck_store::pipeline::PipelineConfig {
            max_queued_events: cfg.ingest_queue,
            max_batch: cfg.ingest_queue.min(2_000),
            ..Default::default()
        },
        ..WebConfig::default()
    };
    let state = AppState::new(db.clone(), clock.clone(), web);
    // Escalations and notifications run beside the HTTP server and stop with it.
    let notifier = Arc::new(
        opsdeck_notify::Notifier::new(
            db.clone(),
            clock.clone(),
            opsdeck_notify::NotifyConfig {
                public_url: cfg.public_url.clone(),
                smtp: cfg.smtp.clone(),
                egress: cfg.egress.clone(),
                ..Default::default()
            },
        )
        .await
        .context("cannot start the notifier")?
        .with_sink(opsdeck_web::notifier_sink(&state.events)),
    );
    state.set_notifier(notifier.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Every background loop runs supervised: a panic or an error restarts it with back-off, and
    // one that keeps failing makes /readyz fail with its name.
    let janitor = {
        let (db, clock, stop) = (db.clone(), clock.clone(), stop_rx.clone());
        state.workers.spawn("housekeeping", move || housekeeping(db.clone(), clock.clone(), stop.clone()))
    };

    // The check scheduler runs beside the HTTP server and stops with it.
    let prober = Arc::new(opsdeck_checks::Prober::new().context("cannot set up the check runners")?);
    let scheduler = Arc::new(Scheduler::new(
        db.clone(),
        prober,
        clock,
        SchedulerConfig { retention: cfg.retention, ..SchedulerConfig::default() },
        opsdeck_web::monitor_change_sink(&state),
    ));
    // The recorder first, so every worker's series are registered with it.
    opsdeck_web::install_metrics();
    opsdeck_checks::events::describe();
    let checks = {
        let stop = stop_rx.clone();
        state.workers.spawn("check_scheduler", move || {
            let (s, stop) = (scheduler.clone(), stop.clone());
            async move {
                s.run(stop).await;
                Ok(())
            }
        })
    };
    let vendors = Arc::new(
        opsdeck_notify::vendors::VendorPoller::new(
            db.clone(),
            state.clock.clone(),
            format!("vendors-{}", uuid::Uuid::now_v7().simple()),
            &cfg.egress,
        )
        .context("cannot start the vendor poller")?
        .with_sink(opsdeck_web::vendor_sink(&state.events)),
    );
    let vendor_poller = {
        let stop = stop_rx.clone();
        state.workers.spawn("vendor_poller", move || {
            let (v, stop) = (vendors.clone(), stop.clone());
            async move {
                v.run(stop).await;
                Ok(())
            }
        })
    };
    let mailer = {
        let (st, stop) = (state.clone(), stop_rx.clone());
        state.workers.spawn("report_mailer", move || {
            let (st, stop) = (st.clone(), stop.clone());
            async move {
                opsdeck_web::report_mailer::run(st, stop).await;
                Ok(())
            }
        })
    };
    let slo_evaluator = {
        let (st, stop) = (state.clone(), stop_rx.clone());
        let node = format!("slo-{}", uuid::Uuid::now_v7().simple());
        state.workers.spawn("slo_evaluator", move || {
            let (st, stop, node) = (st.clone(), stop.clone(), node.clone());
            async move {
                opsdeck_web::slo_evaluator::run(st, node, stop).await;
                Ok(())
            }
        })
    };
    let series_watch = {
        let (st, stop) = (state.clone(), stop_rx.clone());
        let node = format!("series-{}", uuid::Uuid::now_v7().simple());
        state.workers.spawn("series_watch", move || {
            let (st, stop, node) = (st.clone(), stop.clone(), node.clone());
            async move {
                opsdeck_web::series_watch::run(st, node, stop).await;
                Ok(())
            }
        })
    };
    let sla_watch = {
        let (st, stop) = (state.clone(), stop_rx.clone());
        let node = format!("sla-{}", uuid::Uuid::now_v7().simple());
        state.workers.spawn("sla_watch", move || {
            let (st, stop, node) = (st.clone(), stop.clone(), node.clone());
            async move {
                opsdeck_web::sla_watch::run(st, node, stop).await;
                Ok(())
            }
        })
    };
    let mail_in = cfg.imap.clone().map(|imap| {
        let (st, stop) = (state.clone(), stop_rx.clone());
        let node = format!("mail-{}", uuid::Uuid::now_v7().simple());
        state.workers.spawn("mail_in", move || {
            let (st, stop, node, imap) = (st.clone(), stop.clone(), node.clone(), imap.clone());
            async move {
                opsdeck_web::mail_in::run(st, imap, node, stop).await;
                Ok(())
            }
        })
    });
    // On PostgreSQL, live updates go to and come from the other nodes.
    let peers = opsdeck_web::peer_events::start(&state, stop_rx.clone());
    let wake = {
        let (events, n, stop) = (state.events.clone(), notifier.clone(), stop_rx.clone());
        state
            .workers
            .spawn("notifier_wake", move || opsdeck_web::wake_notifier(events.clone(), n.clone(), stop.clone()))
    };
    let notify = state.workers.spawn("notifier", move || {
        let (n, stop) = (notifier.clone(), stop_rx.clone());
        async move {
            n.run(stop).await;
            Ok(())
        }
    });

    opsdeck_web::serve(listener, state, shutdown_signal()).await.context("HTTP server failed")?;
    let _ = stop_tx.send(true);
    let _ = checks.await;
    let _ = notify.await;
    let _ = wake.await;
    let _ = vendor_poller.await;
    let _ = mailer.await;
    let _ = slo_evaluator.await;
    let _ = series_watch.await;
    let _ = sla_watch.await;
    if let Some(m) = mail_in {
        let _ = m.await;
    }
    let _ = janitor.await;
    for p in peers {
        let _ = p.await;
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM; in-flight requests then finish before the process exits.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// Periodic cleanup that keeps tables bounded, until `stop`.
async fn housekeeping(
    db: Db,
    clock: std::sync::Arc<dyn Clock>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::result::Result<(), String> {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return Ok(()),
        }
        match db.purge_expired_sessions(clock.now()).await {
            Ok(n) if n > 0 => tracing::info!(removed = n, "purged expired sessions"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "session cleanup failed"),
        }
        let now = clock.now();
        let before = now.checked_sub_signed(chrono::Duration::days(OUTBOX_KEEP_DAYS)).unwrap_or(now);
        match db.purge_delivered_outboxes(before).await {
            Ok(n) if n > 0 => tracing::info!(removed = n, "purged delivered subscriber messages and vendor alerts"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox cleanup failed"),
        }
        let day_ago = now.checked_sub_signed(chrono::Duration::days(1)).unwrap_or(now);
        if let Err(e) = db.purge_rate_budgets(day_ago).await {
            tracing::warn!(error = %e, "rate budget cleanup failed");
        }
    }
}

/// Subscriber messages and vendor alerts are kept this long after they were handled.
const OUTBOX_KEEP_DAYS: i64 = 30;

struct DemoService {
    name: &'static str,
    team: &'static str,
    tier: i16,
    tags: &'static [&'static str],
    description: &'static str,
    depends_on: &'static [&'static str],
}

const TEAMS: &[(&str, &str)] = &[
    ("Platform", "Runs the shared infrastructure: networks, databases, Kubernetes, identity."),
    ("Payments", "Checkout, billing and everything that moves money."),
    ("Customer Experience", "The public website, the mobile apps' backends and notifications."),
    ("Corporate IT", "Staff laptops, e-mail, VPN, HR and finance systems."),
];

const SERVICES: &[DemoService] = &[
    DemoService {
        name: "PostgreSQL Cluster",
        team: "Platform",
        tier: 1,
        tags: &["database", "prod"],
        description: "Primary relational database cluster (3 nodes, streaming replication).",
        depends_on: &[],
    },
    DemoService {
        name: "Redis Cache",
        team: "Platform",
        tier: 2,
        tags: &["cache", "prod"],
        description: "Session and page cache.",
        depends_on: &[],
    },
    DemoService {
        name: "Identity Provider",
        team: "Platform",
        tier: 1,
        tags: &["sso", "prod"],
        description: "OIDC single sign-on for staff and customers.",
        depends_on: &["PostgreSQL Cluster"],
    },
    DemoService {
        name: "API Gateway",
        team: "Platform",
        tier: 1,
        tags: &["edge", "prod"],
        description: "Routes and rate-limits every public API call.",
        depends_on: &["Identity Provider"],
    },
    DemoService {
        name: "Checkout API",
        team: "Payments",
        tier: 1,
        tags: &["pci", "prod", "region:eu"],
        description: "Creates orders and takes payments.",
        depends_on: &["API Gateway", "PostgreSQL Cluster", "Payment Processor Link"],
    },
    DemoService {
        name: "Payment Processor Link",
        team: "Payments",
        tier: 1,
        tags: &["pci", "vendor"],
        description: "Connection to the card processor's API.",
        depends_on: &[],
    },
    DemoService {
        name: "Billing",
        team: "Payments",
        tier: 2,
        tags: &["prod"],
        description: "Invoices, subscriptions and dunning.",
        depends_on: &["PostgreSQL Cluster", "Checkout API"],
    },
    DemoService {
        name: "Public Website",
        team: "Customer Experience",
        tier: 1,
        tags: &["web", "prod"],
        description: "www: marketing pages, shop front, help centre.",
        depends_on: &["API Gateway", "Redis Cache"],
    },
    DemoService {
        name: "Notification Service",
        team: "Customer Experience",
        tier: 2,
        tags: &["email", "sms", "prod"],
        description: "Sends e-mail, SMS and push messages to customers.",
        depends_on: &["PostgreSQL Cluster"],
    },
    DemoService {
        name: "Mobile Backend",
        team: "Customer Experience",
        tier: 2,
        tags: &["mobile", "prod"],
        description: "API for the iOS and Android apps.",
        depends_on: &["API Gateway", "Notification Service"],
    },
    DemoService {
        name: "Corporate E-mail",
        team: "Corporate IT",
        tier: 2,
        tags: &["saas", "m365"],
        description: "Staff mailboxes and calendars.",
        depends_on: &["Identity Provider"],
    },
    DemoService {
        name: "VPN",
        team: "Corporate IT",
        tier: 3,
        tags: &["network"],
        description: "Remote access for staff.",
        depends_on: &["Identity Provider"],
    },
    DemoService {
        name: "HR System",
        team: "Corporate IT",
        tier: 4,
        tags: &["saas"],
        description: "Leave, payroll data and org chart.",
        depends_on: &["Identity Provider"],
    },
];

const USERS: &[(&str, &str, Role)] = &[
    (DEMO_ADMIN, "Alex Admin", Role::Admin),
    ("sam", "Sam Manager", Role::Manager),
    ("riley", "Riley Responder", Role::Responder),
    ("jordan", "Jordan Viewer", Role::Viewer),
];

/// Creates the demo organisation when the database is empty; returns whether it did.
pub async fn seed(db: &Db, clock: &dyn Clock, addr: std::net::SocketAddr) -> Result<bool> {
    if db.count_users().await? > 0 || db.count_services().await? > 0 {
        return Ok(false);
    }
    let actor = Actor::system("demo");
    let now = clock.now();
    let hash = secret::hash_password(DEMO_PASSWORD)?;
    for (username, name, role) in USERS {
        let email = Some(format!("{username}@example.com"));
        db.create_user(
            &actor,
            now,
            NewUser {
                username: (*username).into(),
                display_name: (*name).into(),
                email,
                role: *role,
                password_hash: hash.clone(),
            },
        )
        .await?;
    }
    let mut teams = HashMap::new();
    for (name, description) in TEAMS {
        let t = db.create_team(&actor, now, TeamSpec::new(name, None, Some(description))?).await?;
        teams.insert(*name, t.id);
    }
    let mut ids = HashMap::new();
    for s in SERVICES {
        let slug = opsdeck_core::validate::slugify(s.name);
        let spec = ServiceSpec::create(ServiceInput {
            name: Some(s.name.into()),
            description: Some(s.description.into()),
            team_id: Some(teams.get(s.team).copied()),
            tier: Some(s.tier),
            tags: Some(s.tags.iter().map(|t| (*t).to_owned()).collect()),
            runbook_url: Some(Some(format!("https://wiki.example.com/runbooks/{slug}"))),
            links: Some(vec![Link { title: "Dashboard".into(), url: format!("https://grafana.example.com/d/{slug}") }]),
            ..Default::default()
        })?;
        ids.insert(s.name, db.create_service(&actor, now, spec).await?.id);
    }
    for s in SERVICES {
        for dep in s.depends_on {
            if let (Some(a), Some(b)) = (ids.get(s.name), ids.get(dep)) {
                db.add_dependency(&actor, now, *a, *b).await?;
            }
        }
    }
    seed_monitors(db, &actor, now, addr, &ids).await?;
    seed_incidents(db, &actor, now, &ids).await?;
    seed_oncall(db, &actor, now, &ids, &teams).await?;
    seed_inbox(db, &actor, now, addr).await?;
    Ok(true)
}

/// Every demo user who can respond is reached through a webhook into the demo inbox
/// (`/demo/inbox`), so the first page a newcomer triggers visibly arrives somewhere.
async fn seed_inbox(
    db: &Db,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
    addr: std::net::SocketAddr,
) -> Result<()> {
    // A wildcard listen address is not one to send to (and egress refuses 0.0.0.0).
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let base = format!("http://{}", std::net::SocketAddr::new(ip, addr.port()));
    for u in db.list_users(None, None, Some(10)).await?.items {
        if u.role.allows(opsdeck_core::role::Permission::Respond) {
            let url = format!("{base}/demo/inbox/{}", u.username);
            db.add_contact_method(actor, now, u.id, ChannelKind::Webhook, &url, "Demo inbox").await?;
        }
    }
    Ok(())
}

/// A weekly rotation with a business-hours layer for the Platform team, and a policy (the
/// schedule, then the admin after 15 minutes) on every service, so "on call now" shows someone.
async fn seed_oncall(
    db: &Db,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
    ids: &HashMap<&str, uuid::Uuid>,
    teams: &HashMap<&str, uuid::Uuid>,
) -> Result<()> {
    use opsdeck_core::escalation::{Level, PolicySpec, Target, TargetKind};
    use opsdeck_core::oncall::{Layer, Length, Restriction, ScheduleSpec};
    let users = db.list_users(None, None, Some(10)).await?.items;
    let id = |name: &str| users.iter().find(|u| u.username == name).map(|u| u.id);
    let (Some(admin), Some(sam), Some(riley)) = (id(DEMO_ADMIN), id("sam"), id("riley")) else { return Ok(()) };
    let monday = {
        let d = now.date_naive();
        d - chrono::Duration::days(i64::from(chrono::Datelike::weekday(&d).num_days_from_monday()))
    };
    // Two weeks back, so the rotation has begun whenever the demo starts (on a Monday before
    // 09:00 Berlin this week's start lies ahead and nobody would be on call), with the same
    // turn as this week's Monday.
    let start = (monday - chrono::Duration::days(14)).and_hms_opt(9, 0, 0).unwrap_or_default();
    let spec = ScheduleSpec {
        name: "Platform primary".into(),
        description: "Weekly rotation; Riley covers business hours.".into(),
        timezone: "Europe/Berlin".into(),
        team_id: teams.get("Platform").copied(),
        layers: vec![
            Layer {
                name: "Weekly".into(),
                users: vec![admin, sam],
                start,
                length: Length::Weeks(1),
                handoffs: None,
                restrictions: vec![],
            },
            Layer {
                name: "Business hours".into(),
                users: vec![riley],
                start,
                length: Length::Days(1),
                handoffs: None,
                restrictions: vec![Restriction {
                    days: vec![
                        chrono::Weekday::Mon,
                        chrono::Weekday::Tue,
                        chrono::Weekday::Wed,
                        chrono::Weekday::Thu,
                        chrono::Weekday::Fri,
                    ],
                    start: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
                    end: chrono::NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default(),
                }],
            },
        ],
    }
    .validate()?;
    let schedule = db.create_schedule(actor, now, spec).await?;
    let policy = db
        .create_policy(
            actor,
            now,
            PolicySpec {
                name: "Default escalation".into(),
                description: "The Platform schedule, then the admin.".into(),
                loops: 2,
                levels: vec![
                    Level { delay_minutes: 15, targets: vec![Target { kind: TargetKind::Schedule, id: schedule.id }] },
                    Level { delay_minutes: 15, targets: vec![Target { kind: TargetKind::User, id: admin }] },
                ],
            }
            .validate()?,
        )
        .await?;
    for sid in ids.values() {
        db.set_service_policy(actor, now, *sid, Some(policy.id)).await?;
    }
    Ok(())
}

/// A past incident for the demo: (service, summary, severity, days ago, minutes to
/// acknowledge, minutes to resolve, alerts in the storm).
const PAST_INCIDENTS: &[(&str, &str, Severity, i64, i64, i64, usize)] = &[
    ("PostgreSQL Cluster", "Replication lag above 30 s on pg-2", Severity::Error, 58, 4, 35, 1),
    ("Checkout API", "Checkout 5xx rate above 2%", Severity::Critical, 51, 2, 48, 6),
    ("API Gateway", "p99 latency above 1.5 s", Severity::Warning, 44, 11, 90, 3),
    ("Identity Provider", "Token endpoint timing out", Severity::Critical, 37, 3, 25, 4),
    ("Redis Cache", "Memory above 90% on cache-1", Severity::Warning, 30, 18, 140, 1),
    ("Notification Service", "Push queue backlog growing", Severity::Error, 23, 6, 55, 2),
    ("Payment Processor Link", "Card authorisations failing", Severity::Critical, 16, 1, 32, 12),
    ("Public Website", "Homepage TLS certificate expires in 7 days", Severity::Info, 11, 240, 1440, 1),
    ("VPN", "VPN concentrator CPU at 100%", Severity::Error, 6, 9, 70, 2),
    ("Billing", "Invoice run failed", Severity::Error, 2, 14, 95, 1),
];

/// Integrations on a few services and ten resolved incidents from the past weeks (alerts,
/// acknowledgement and resolution at their times), one with a postmortem and action items, so
/// the incident list and the MTTx report have data on first start.
async fn seed_incidents(
    db: &Db,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
    ids: &HashMap<&str, uuid::Uuid>,
) -> Result<()> {
    use opsdeck_core::alert::{IntegrationType, Signal};
    use opsdeck_core::incident::{ActionItemSpec, Move, PostmortemSpec};
    use opsdeck_store::ingest::Envelope;
    // Every service with a past incident gets an integration, of the kind its alerts came from.
    let mut integrations = HashMap::new();
    for (n, (service, ..)) in PAST_INCIDENTS.iter().enumerate() {
        let (kind, name) = [
            (IntegrationType::Alertmanager, "Prometheus Alertmanager"),
            (IntegrationType::Pagerduty, "Datadog (PagerDuty format)"),
            (IntegrationType::Grafana, "Grafana alerts"),
            (IntegrationType::Webhook, "Status webhook"),
        ][n % 4];
        if let Some(sid) = ids.get(service) {
            let (it, _key) = db.create_integration(actor, now, *sid, kind, name, Default::default()).await?;
            integrations.insert(*service, (it.id, kind));
        }
    }
    let mut first = None;
    for (n, (service, summary, severity, days, ack_min, resolve_min, alerts)) in PAST_INCIDENTS.iter().enumerate() {
        let Some(sid) = ids.get(service).copied() else { continue };
        let start = now - chrono::Duration::days(*days) - chrono::Duration::minutes(37 * n as i64 % 600);
        let detected = start + chrono::Duration::minutes(2 + (n as i64 % 5));
        let Some((integration_id, kind)) = integrations.get(service).copied() else { continue };
        let envs: Vec<Envelope> = (0..*alerts)
            .map(|i| {
                let mut sig = Signal::trigger(
                    format!("demo-{n}-{i}"),
                    if i == 0 { (*summary).to_owned() } else { format!("{summary} ({})", i + 1) },
                    *severity,
                );
                sig.source = format!("{}-{}", opsdeck_core::validate::slugify(service), i + 1);
                sig.started_at = Some(start);
                Envelope {
                    scope: integration_id.to_string(),
                    integration_id: Some(integration_id),
                    service_id: sid,
                    source_type: kind.as_str(),
                    signal: sig,
                }
            })
            .collect();
        let report = db.apply_signals(detected, &envs).await?;
        let Some((id, _, _)) = report.opened.first().cloned() else { continue };
        let ack = detected + chrono::Duration::minutes(*ack_min);
        db.move_incident(actor, ack, id, Move::Acknowledge, Some("Looking into it")).await?;
        db.add_incident_note(actor, ack + chrono::Duration::minutes(3), id, false, "Found the cause; fix in progress.")
            .await?;
        db.move_incident(actor, detected + chrono::Duration::minutes(*resolve_min), id, Move::Resolve, None).await?;
        first.get_or_insert(id);
    }
    if let Some(id) = first {
        let pm = PostmortemSpec {
            summary: "Replication on pg-2 fell 30 s behind during the nightly batch import.".into(),
            impact: "Reports read from the replica showed stale data for about 35 minutes. No data was lost.".into(),
            root_cause: "The import ran without throttling and saturated the replica's disk.".into(),
            contributing_factors: "The lag alert fired only at 30 s; nobody owned the import schedule.".into(),
            lessons: "Throttle bulk imports; alert on lag earlier.".into(),
            ..Default::default()
        };
        db.save_postmortem(actor, now, id, pm).await?;
        for (title, due, status) in [
            ("Throttle the nightly import to 50 MB/s", 7, "done"),
            ("Alert on replication lag above 10 s", 14, "in_progress"),
            ("Give the import schedule an owner", -3, "open"),
        ] {
            let date = (now + chrono::Duration::days(due)).date_naive().to_string();
            db.create_action_item(actor, now, id, ActionItemSpec::new(title, None, Some(&date), Some(status))?).await?;
        }
    }
    Ok(())
}

/// Demo monitors against the built-in `/demo/*` endpoints (healthy, slow, flaky, broken) and
/// this server's own port, each with 90 days of back-filled history.
async fn seed_monitors(
    db: &Db,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
    addr: std::net::SocketAddr,
    services: &HashMap<&str, uuid::Uuid>,
) -> Result<()> {
    use serde_json::json;
    let base = format!("http://{addr}");
    let monitors = [
        (
            "Public Website – home page",
            "Public Website",
            "http",
            30,
            json!({"url": format!("{base}/demo/ok"), "body_contains": "ok"}),
            0.2,
        ),
        (
            "Checkout API – health",
            "Checkout API",
            "http",
            30,
            json!({"url": format!("{base}/demo/ok"), "json_assert": {"pointer": "/status", "equals": "ok"}}),
            0.5,
        ),
        (
            "Mobile Backend – feed",
            "Mobile Backend",
            "http",
            30,
            json!({"url": format!("{base}/demo/slow"), "max_response_ms": 600}),
            2.0,
        ),
        ("Billing – invoices API", "Billing", "http", 30, json!({"url": format!("{base}/demo/flaky")}), 8.0),
        ("HR System – reports", "HR System", "http", 60, json!({"url": format!("{base}/demo/broken")}), 40.0),
        (
            "PostgreSQL Cluster – port",
            "PostgreSQL Cluster",
            "tcp",
            60,
            json!({"host": addr.ip().to_string(), "port": addr.port()}),
            0.1,
        ),
        (
            "Identity Provider – DNS",
            "Identity Provider",
            "dns",
            300,
            json!({"name": "localhost", "expected": ["127.0.0.1"]}),
            0.3,
        ),
        ("VPN gateway – ping", "VPN", "icmp", 60, json!({"host": "127.0.0.1"}), 1.0),
        (
            "Nightly database backup",
            "PostgreSQL Cluster",
            "heartbeat",
            60,
            json!({"schedule": {"cron": "0 2 * * *", "timezone": "Europe/Berlin"}, "grace_seconds": 3600}),
            3.0,
        ),
    ];
    for (i, (name, service, kind, interval, settings, bad_pct)) in monitors.into_iter().enumerate() {
        let spec = opsdeck_core::monitor::MonitorSpec::create(opsdeck_core::monitor::MonitorInput {
            name: Some(name.into()),
            service_id: Some(services.get(service).copied()),
            kind: Some(kind.into()),
            interval_seconds: Some(interval),
            down_after: Some(if kind == "http" { 2 } else { 1 }),
            tags: Some(vec!["demo".into()]),
            settings: Some(settings),
            ..Default::default()
        })?;
        let m = db.create_monitor(actor, now, spec, false).await?;
        backfill(db, m.monitor.id, now, interval, bad_pct, i as u64).await?;
    }
    Ok(())
}

/// 90 days of plausible hourly and daily rollups: a daily latency rhythm and occasional bad
/// hours, deterministic per monitor.
async fn backfill(
    db: &Db,
    id: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
    interval: i64,
    bad_pct: f64,
    seed: u64,
) -> Result<()> {
    use opsdeck_core::monitor::LatencyHistogram;
    use opsdeck_store::monitor::{DAY, HOUR, Rollup};
    let per_hour = 3600 / interval.max(1);
    let mut hours = Vec::new();
    let mut days: HashMap<i64, Rollup> = HashMap::new();
    let start = now - chrono::Duration::days(90);
    let mut x = (seed + 1).wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 10_000) as f64 / 10_000.0
    };
    for h in 0..(90 * 24) {
        let bucket = start + chrono::Duration::hours(h);
        if bucket >= now - chrono::Duration::hours(1) {
            break;
        }
        let hour_of_day = (h % 24) as f64;
        let base = 20.0 + 15.0 * (1.0 + (hour_of_day / 24.0 * std::f64::consts::TAU).sin()) + 5.0 * seed as f64;
        let failures = if rnd() * 100.0 < bad_pct { 1 + (rnd() * per_hour as f64 * 0.3) as i64 } else { 0 };
        let mut hist = LatencyHistogram::default();
        let mut sum = 0.0;
        for _ in 0..(per_hour - failures) {
            let l = base * (0.7 + rnd() * 0.8);
            hist.record(l);
            sum += l;
        }
        let r = Rollup {
            bucket,
            total: per_hour,
            failures,
            degraded: 0,
            maintenance: 0,
            maint_failures: 0,
            latency_sum: sum,
            histogram: hist,
        };
        let day_no = bucket.timestamp().div_euclid(86_400);
        let day = days.entry(day_no).or_insert_with(|| Rollup {
            bucket: chrono::DateTime::from_timestamp(day_no * 86_400, 0).unwrap_or(bucket),
            ..Default::default()
        });
        day.total += r.total;
        day.failures += r.failures;
        day.latency_sum += r.latency_sum;
        day.histogram.merge(&r.histogram);
        hours.push(r);
    }
    db.backfill_rollups(id, HOUR, &hours).await?;
    let mut days: Vec<Rollup> = days.into_values().collect();
    days.sort_by_key(|d| d.bucket);
    db.backfill_rollups(id, DAY, &days).await?;
    Ok(())
}
