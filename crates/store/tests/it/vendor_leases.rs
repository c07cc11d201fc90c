//! Vendor polls are leased for seconds and renewed while they run: a node's renewal keeps its
//! vendors, a lapsed lease moves them to another node, and the node that lost one stores nothing.

use crate::both;
use chrono::{Duration, TimeZone, Utc};
use opsdeck_core::audit::Actor;
use opsdeck_core::vendor::VendorSpec;
use opsdeck_store::Db;
use opsdeck_store::vendor::PollOutcome;

both!(vendor_poll_leases_are_renewed_and_fenced);

async fn vendor_poll_leases_are_renewed_and_fenced(db: &Db) {
    let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let spec = VendorSpec::new("GitHub", "https://www.githubstatus.com", None, None).unwrap();
    let v = db.create_vendor(&Actor::system("test"), t0, &spec).await.unwrap();
    let ms = |d: Duration| (t0 + d).timestamp_millis();
    let claimed = db.claim_due_vendors("a", ms(Duration::zero()), ms(Duration::seconds(15)), 16).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // Node a renews while its poll runs: b finds nothing at 20 s.
    db.renew_vendor_leases("a", &[v.id], ms(Duration::seconds(25))).await.unwrap();
    db.renew_vendor_leases("b", &[v.id], ms(Duration::seconds(90))).await.unwrap();
    assert!(
        db.claim_due_vendors("b", ms(Duration::seconds(20)), ms(Duration::seconds(35)), 16).await.unwrap().is_empty()
    );
    // a stalls past its lease: b takes the vendor, and a's late result is not stored.
    let taken = db.claim_due_vendors("b", ms(Duration::seconds(26)), ms(Duration::seconds(41)), 16).await.unwrap();
    assert_eq!(taken.len(), 1);
    let failed = PollOutcome::Failed { reason: "no answer".into() };
    let at = t0 + Duration::seconds(27);
    db.record_vendor_poll("a", at, &claimed[0], &failed).await.unwrap();
    assert_eq!(db.get_vendor(v.id).await.unwrap().checked_at, None, "a lost its lease: nothing stored");
    db.record_vendor_poll("b", at, &taken[0], &failed).await.unwrap();
    assert_eq!(db.get_vendor(v.id).await.unwrap().checked_at, Some(at));
}
