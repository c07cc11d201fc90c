//! The ingest queue: bounded (429 instead of waiting without limit), and one bad request in a
//! batch does not fail the others.

use chrono::{TimeZone, Utc};
use opsdeck_core::alert::{Severity, Signal};
use opsdeck_core::audit::Actor;
use opsdeck_core::catalogue::{ServiceInput, ServiceSpec};
use opsdeck_core::clock::{Clock, FakeClock};
use opsdeck_store::Db;
use opsdeck_store::incident::AlertFilter;
use opsdeck_store::ingest::Envelope;
use opsdeck_store::pipeline::{IngestError, Pipeline, PipelineConfig};
use std::sync::Arc;
use uuid::Uuid;

crate::both!(queue_is_bounded_and_isolates_failures);

fn env(service_id: Uuid, key: &str) -> Envelope {
    Envelope {
        scope: "test".into(),
        integration_id: None,
        service_id,
        source_type: "webhook",
        signal: Signal::trigger(key, format!("alert {key}"), Severity::Warning),
    }
}

async fn queue_is_bounded_and_isolates_failures(db: &Db) {
    let clock: Arc<dyn Clock> = Arc::new(FakeClock::new(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()));
    let svc = db
        .create_service(
            &Actor::system("test"),
            clock.now(),
            ServiceSpec::create(ServiceInput { name: Some("Queue".into()), ..Default::default() }).unwrap(),
        )
        .await
        .unwrap();
    let config = PipelineConfig { max_queued_events: 3, max_batch: 3, ..Default::default() };
    let p = Pipeline::start(db.clone(), clock, config, Arc::new(|_| {}), &opsdeck_store::worker::Workers::new());

    // More events than the queue holds: refused at once, nothing stored.
    let four: Vec<Envelope> = (0..4).map(|i| env(svc.id, &format!("k{i}"))).collect();
    assert_eq!(p.submit(four).await, Err(IngestError::Busy));
    assert_eq!(p.stats.rejected_busy.load(std::sync::atomic::Ordering::Relaxed), 1);
    let three: Vec<Envelope> = (0..3).map(|i| env(svc.id, &format!("k{i}"))).collect();
    let applied = p.submit(three).await.unwrap();
    assert_eq!(applied.len(), 3);
    assert!(applied.iter().all(|a| a.alert_id.is_some() && a.incident_id.is_some()));
    assert_eq!(p.queued(), 0, "permits are returned after the commit");

    // A request naming a service that does not exist fails alone; its neighbour is stored.
    let (good, bad) = tokio::join!(p.submit(vec![env(svc.id, "good")]), p.submit(vec![env(Uuid::now_v7(), "bad")]));
    assert!(good.is_ok(), "{good:?}");
    assert!(matches!(bad, Err(IngestError::Failed(_))), "{bad:?}");
    let stored = db.list_alerts(&AlertFilter { limit: Some(50), ..Default::default() }).await.unwrap();
    let keys: Vec<&str> = stored.items.iter().map(|a| a.dedup_key.as_str()).collect();
    assert!(keys.contains(&"good") && !keys.contains(&"bad"), "{keys:?}");
    assert_eq!(stored.items.len(), 4);
}
