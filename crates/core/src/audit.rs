//! The audit trail: who changed what, when, with the state before and after.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Who did something: a signed-in user, a user through one of their API tokens, or the system
/// (CLI administration, demo seeding, background workers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    /// A readable label kept even if the user is later deleted (e.g. "alice", "alice (token ci)", "cli").
    pub label: String,
}

impl Actor {
    pub fn system(label: &str) -> Self {
        Actor { user_id: None, label: label.to_owned() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    /// Dotted verb, e.g. `service.create`, `user.role_change`, `token.revoke`.
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<Uuid>,
    pub summary: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// What a mutation tells the audit log; the store turns it into an [`AuditEntry`] in the same
/// transaction as the change itself, so a change is never recorded without happening or vice versa.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub action: &'static str,
    pub entity_type: &'static str,
    pub entity_id: Option<Uuid>,
    pub summary: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl AuditRecord {
    pub fn new(
        action: &'static str,
        entity_type: &'static str,
        entity_id: Option<Uuid>,
        summary: impl Into<String>,
    ) -> Self {
        AuditRecord { action, entity_type, entity_id, summary: summary.into(), before: None, after: None }
    }

    pub fn before(mut self, v: impl Serialize) -> Self {
        self.before = serde_json::to_value(v).ok();
        self
    }

    pub fn after(mut self, v: impl Serialize) -> Self {
        self.after = serde_json::to_value(v).ok();
        self
    }
}
