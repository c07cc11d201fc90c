//! Rendered responses kept in memory and validated against a revision counter in the database.
//!
//! The database stays the truth: a hit is served only when the area's revision, read from the
//! database on every request, still equals the revision the body was rendered at. Any node's
//! write bumps the counter in its own transaction, so no node serves a stale body.

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// Enough for every filter and page combination a team browses; cleared when full.
const MAX_ENTRIES: usize = 512;

#[derive(Default)]
pub struct RenderCache {
    entries: Mutex<HashMap<String, (i64, Bytes)>>,
}

impl RenderCache {
    pub fn get(&self, key: &str, revision: i64) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).filter(|(rev, _)| *rev == revision).map(|(_, body)| body.clone())
    }

    pub fn put(&self, key: String, revision: i64, body: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.retain(|_, (rev, _)| *rev == revision);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (revision, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_only_the_current_revision() {
        let c = RenderCache::default();
        c.put("a".into(), 1, Bytes::from_static(b"one"));
        assert_eq!(c.get("a", 1).as_deref(), Some(&b"one"[..]));
        assert_eq!(c.get("a", 2), None);
        assert_eq!(c.get("b", 1), None);
    }

    #[test]
    fn stays_bounded() {
        let c = RenderCache::default();
        for i in 0..(MAX_ENTRIES * 2) {
            c.put(format!("k{i}"), 7, Bytes::from_static(b"x"));
        }
        assert!(c.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
