//! Monitors in the store: scheduling leases, results, rollups, retention, heartbeats.

use chrono::{Duration, TimeZone, Utc};
use opsdeck_core::audit::Actor;
use opsdeck_core::monitor::{CheckOutcome, CheckStatus, MonitorInput, MonitorSpec, MonitorState};
use opsdeck_store::Db;
use opsdeck_store::monitor::{CheckRecord, HOUR, MINUTE, MonitorFilter, Retention};
use serde_json::json;

crate::both!(
    leases_results_and_rollups,
    claims_ahead_keep_the_due_time,
    raw_results_stay_bounded,
    heartbeat_pings_and_pause,
    list_filters_and_retention
);

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 10, 0, 0).unwrap()
}

fn http(name: &str, interval: i64) -> MonitorSpec {
    MonitorSpec::create(MonitorInput {
        name: Some(name.into()),
        kind: Some("http".into()),
        interval_seconds: Some(interval),
        down_after: Some(2),
        settings: Some(json!({"url": "http://127.0.0.1:9/health"})),
        tags: Some(vec!["prod".into()]),
        ..Default::default()
    })
    .unwrap()
}

async fn leases_results_and_rollups(db: &Db) {
    let actor = Actor::system("test");
    let m = db.create_monitor(&actor, t0(), http("api", 30), false).await.unwrap();
    assert_eq!(m.monitor.health.state, MonitorState::Pending);
    let first = m.monitor.next_run_at;
    assert!(first >= t0() && first < t0() + Duration::seconds(30), "first run is jittered within one interval");

    assert!(
        db.claim_due_monitors("a", t0() - Duration::seconds(1), t0() - Duration::seconds(1), t0(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let now = t0() + Duration::seconds(31);
    let claimed = db.claim_due_monitors("a", now, now, now + Duration::seconds(60), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].due_at, first);
    assert!(db.claim_due_monitors("b", now, now, now + Duration::seconds(60), 10).await.unwrap().is_empty(), "leased");
    // An expired lease (a node died mid-check) is claimable again.
    let later = now + Duration::seconds(61);
    assert_eq!(db.claim_due_monitors("b", later, later, later + Duration::seconds(60), 10).await.unwrap().len(), 1);

    let rec = |at: chrono::DateTime<Utc>, status: CheckStatus, ms: f64| CheckRecord {
        hold: false,
        monitor_id: m.monitor.id,
        at,
        outcome: CheckOutcome {
            status,
            latency_ms: Some(ms),
            reason: format!("{status:?}"),
            details: json!({"status_code": 200}),
        },
        next_run_at: at + Duration::seconds(30),
        claim: None,
        maintenance: false,
    };
    let c = db.record_checks(&[rec(later, CheckStatus::Up, 12.0)], &Retention::default()).await.unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].transition.from, c[0].transition.to), (MonitorState::Pending, MonitorState::Up));
    let c = db
        .record_checks(&[rec(later + Duration::seconds(30), CheckStatus::Down, 40.0)], &Retention::default())
        .await
        .unwrap();
    assert!(c.is_empty(), "one failure of down_after = 2 is not down yet");
    let c = db
        .record_checks(&[rec(later + Duration::seconds(60), CheckStatus::Down, 300.0)], &Retention::default())
        .await
        .unwrap();
    assert_eq!(c[0].transition.to, MonitorState::Down);

    let v = db.get_monitor(m.monitor.id).await.unwrap();
    assert_eq!(v.monitor.health.state, MonitorState::Down);
    assert_eq!(v.last_result.as_ref().map(|r| r.status), Some(CheckStatus::Down));
    assert_eq!(v.monitor.next_run_at, later + Duration::seconds(90));
    assert_eq!(v.state_since, later + Duration::seconds(60));

    let events = db.monitor_events(Some(m.monitor.id), 10).await.unwrap();
    assert_eq!(events.iter().map(|e| e.to).collect::<Vec<_>>(), [MonitorState::Down, MonitorState::Up]);
    let recent = db.recent_results(&[m.monitor.id], 2).await.unwrap();
    assert_eq!(recent[&m.monitor.id].len(), 2);
    assert_eq!(recent[&m.monitor.id][0].status, CheckStatus::Down, "newest first");

    let w = db.rollup_window(m.monitor.id, later + Duration::seconds(61), Duration::hours(24)).await.unwrap();
    assert_eq!((w.total, w.failures), (3, 2));
    assert!((w.uptime().unwrap() - 100.0 / 3.0).abs() < 1e-9);
    let p99 = w.histogram.quantile(0.99).unwrap();
    assert!((250.0..=400.0).contains(&p99), "{p99}");
    assert!(db.rollups(m.monitor.id, MINUTE, t0()).await.unwrap().is_empty(), "no minute rollups are written");
    assert_eq!(db.rollups(m.monitor.id, HOUR, t0()).await.unwrap().len(), 1);
}

/// The scheduler claims a little ahead and starts each check at its due time: a monitor due
/// within the horizon is claimed with its own due time, one beyond it is not.
async fn claims_ahead_keep_the_due_time(db: &Db) {
    let actor = Actor::system("test");
    let m = db.create_monitor(&actor, t0(), http("ahead", 30), false).await.unwrap();
    let due = m.monitor.next_run_at;
    let now = due - Duration::seconds(2);
    assert!(db.claim_due_monitors("a", now, due - Duration::milliseconds(1), due, 10).await.unwrap().is_empty());
    let claimed = db.claim_due_monitors("a", now, due, due + Duration::seconds(60), 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "due within the horizon");
    assert_eq!(claimed[0].due_at, due, "the check starts at its own due time, not at the claim");
    // A horizon before `now` never narrows the claim below what is due now.
    let later = due + Duration::seconds(61);
    let again = db.claim_due_monitors("b", later, later - Duration::seconds(30), later + Duration::seconds(60), 10);
    assert_eq!(again.await.unwrap().len(), 1, "the expired lease is claimable again");
}

/// Raw results are pruned per monitor to about `raw_per_monitor` intervals, several monitors
/// in one statement, without touching another monitor's newer results.
async fn raw_results_stay_bounded(db: &Db) {
    let actor = Actor::system("test");
    let a = db.create_monitor(&actor, t0(), http("raw a", 60), false).await.unwrap().monitor.id;
    let b = db.create_monitor(&actor, t0(), http("raw b", 60), false).await.unwrap().monitor.id;
    let keep = Retention { raw_per_monitor: 5, ..Retention::default() };
    let rec = |id, minute: i64| CheckRecord {
        hold: false,
        monitor_id: id,
        at: t0() + Duration::minutes(minute),
        outcome: CheckOutcome::up(5.0, "ok"),
        next_run_at: t0() + Duration::minutes(minute + 1),
        claim: None,
        maintenance: false,
    };
    // Monitor a: 20 results, one batch per minute; b only at the start.
    db.record_checks(&[rec(b, 0), rec(b, 1)], &keep).await.unwrap();
    for minute in 0..20 {
        db.record_checks(&[rec(a, minute)], &keep).await.unwrap();
    }
    db.record_checks(&[rec(a, 20), rec(b, 2)], &keep).await.unwrap();
    let recent = db.recent_results(&[a, b], 100).await.unwrap();
    let at: Vec<_> = recent[&a].iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 6, "the newest result and the 5 intervals before it: {at:?}");
    assert_eq!(at[0], t0() + Duration::minutes(20));
    assert_eq!(recent[&b].len(), 3, "b's results are within its window");
}

async fn heartbeat_pings_and_pause(db: &Db) {
    let actor = Actor::system("test");
    let spec = MonitorSpec::create(MonitorInput {
        name: Some("nightly backup".into()),
        kind: Some("heartbeat".into()),
        settings: Some(json!({"schedule": {"period_seconds": 3600}, "grace_seconds": 300})),
        ..Default::default()
    })
    .unwrap();
    let m = db.create_monitor(&actor, t0(), spec, false).await.unwrap();
    let token = m.monitor.ping_token.clone().expect("heartbeats get a ping token");
    assert_eq!(m.monitor.next_run_at, t0() + Duration::seconds(3900), "deadline = period + grace");
    let at = t0() + Duration::minutes(10);
    let (v, changes) =
        db.record_ping(&token, at, CheckOutcome::up(0.0, "ping received"), &Retention::default()).await.unwrap();
    assert_eq!(v.monitor.health.state, MonitorState::Up);
    assert_eq!(changes.len(), 1);
    assert_eq!(v.monitor.last_ping_at, Some(at));
    assert_eq!(v.monitor.next_run_at, at + Duration::seconds(3900));
    assert!(db.record_ping("hb_unknown", at, CheckOutcome::up(0.0, "x"), &Retention::default()).await.is_err());

    let change = db.set_monitor_paused(&actor, at, m.monitor.id, true).await.unwrap().unwrap();
    assert_eq!(change.transition.to, MonitorState::Paused);
    assert!(
        db.claim_due_monitors("a", at + Duration::days(1), at + Duration::days(1), at + Duration::days(2), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(db.check_monitor_now(m.monitor.id, at).await.is_err(), "a paused monitor cannot be checked now");
    let change = db.set_monitor_paused(&actor, at, m.monitor.id, false).await.unwrap().unwrap();
    assert_eq!(change.transition.to, MonitorState::Pending);
}

async fn list_filters_and_retention(db: &Db) {
    let actor = Actor::system("test");
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(db.create_monitor(&actor, t0(), http(&format!("mon {i}"), 60), i == 6).await.unwrap().monitor.id);
    }
    let all = db.list_monitors(&MonitorFilter { limit: Some(5), ..Default::default() }).await.unwrap();
    assert_eq!(all.items.len(), 5);
    let cursor = opsdeck_store::Cursor::decode(all.next_cursor.as_deref().unwrap());
    let rest = db.list_monitors(&MonitorFilter { limit: Some(5), cursor, ..Default::default() }).await.unwrap();
    assert_eq!(rest.items.len(), 2);
    let paused =
        db.list_monitors(&MonitorFilter { state: Some(MonitorState::Paused), ..Default::default() }).await.unwrap();
    assert_eq!(paused.items.len(), 1);
    let tagged = db.list_monitors(&MonitorFilter { tag: Some("prod".into()), ..Default::default() }).await.unwrap();
    assert_eq!(tagged.items.len(), 7);
    let none = db.list_monitors(&MonitorFilter { tag: Some("pro".into()), ..Default::default() }).await.unwrap();
    assert!(none.items.is_empty(), "tags match whole words");
    let counts = db.monitor_state_counts(None).await.unwrap();
    assert_eq!(counts.get(&MonitorState::Pending), Some(&6));

    // After an hour of downtime the six active monitors are spread over their next interval.
    let restart = t0() + Duration::hours(1);
    assert_eq!(db.reschedule_overdue(restart).await.unwrap(), 6);
    for id in &ids[..6] {
        let next = db.get_monitor(*id).await.unwrap().monitor.next_run_at;
        assert!(next >= restart && next < restart + Duration::seconds(60), "{next}");
    }
    assert_eq!(db.reschedule_overdue(restart).await.unwrap(), 0);

    // Minute rollups an older version wrote go after `minutely_hours`; hourly ones stay.
    let old = t0() - Duration::hours(10);
    let legacy = opsdeck_store::monitor::Rollup { bucket: old, total: 1, ..Default::default() };
    db.backfill_rollups(ids[0], MINUTE, &[legacy]).await.unwrap();
    let rec = CheckRecord {
        hold: false,
        monitor_id: ids[0],
        at: old,
        outcome: CheckOutcome::up(5.0, "ok"),
        next_run_at: old + Duration::seconds(60),
        claim: None,
        maintenance: false,
    };
    db.record_checks(&[rec], &Retention::default()).await.unwrap();
    let removed = db.prune_monitoring(t0() + Duration::hours(40), &Retention::default()).await.unwrap();
    assert!(removed >= 1, "{removed}");
    assert!(db.rollups(ids[0], MINUTE, old - Duration::hours(1)).await.unwrap().is_empty());
    assert_eq!(db.rollups(ids[0], HOUR, old - Duration::hours(1)).await.unwrap().len(), 1);
    db.delete_monitor(&actor, t0(), ids[0]).await.unwrap();
    assert!(db.get_monitor(ids[0]).await.is_err());
}
