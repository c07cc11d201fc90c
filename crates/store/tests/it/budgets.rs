//! Rate budgets shared by every node: counted in the database per fixed window, taken all or
//! nothing, forgotten by housekeeping.

use crate::both;
use chrono::{Duration, TimeZone, Utc};
use opsdeck_store::Db;
use opsdeck_store::rate_budget::Budget;

both!(budgets_are_shared_windows);

async fn budgets_are_shared_windows(db: &Db) {
    let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let client = |limit| Budget { key: "signup-client:192.0.2.1", limit, window_ms: 3_600_000 };
    let address = |limit| Budget { key: "signup-address:abc", limit, window_ms: 3_600_000 };
    assert!(db.take_budgets(t0, &[client(3), address(2)]).await.unwrap());
    assert!(db.take_budgets(t0 + Duration::minutes(1), &[client(3), address(2)]).await.unwrap());
    // The address is spent: nothing is taken, so the client keeps its third.
    assert!(!db.take_budgets(t0 + Duration::minutes(2), &[client(3), address(2)]).await.unwrap());
    assert!(db.take_budgets(t0 + Duration::minutes(3), &[client(3)]).await.unwrap());
    assert!(!db.take_budgets(t0 + Duration::minutes(4), &[client(3)]).await.unwrap());
    // Another node (any handle on the database) sees the same budget.
    let other = db.clone();
    assert!(!other.take_budgets(t0 + Duration::minutes(5), &[address(2)]).await.unwrap());
    // A new window begins an hour after the last one did.
    assert!(db.take_budgets(t0 + Duration::minutes(61), &[client(3), address(2)]).await.unwrap());
    assert_eq!(db.purge_rate_budgets(t0 + Duration::minutes(30)).await.unwrap(), 0, "both windows are current");
    assert_eq!(db.purge_rate_budgets(t0 + Duration::days(2)).await.unwrap(), 2);
    assert!(db.take_budgets(t0 + Duration::days(2), &[address(1)]).await.unwrap());
}
