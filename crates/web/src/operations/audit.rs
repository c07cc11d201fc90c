//! The audit log, for admins: the read the API and the audit page share.

use super::cursor;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::audit::AuditEntry;
use opsdeck_core::role::Permission;
use opsdeck_store::Page;
use opsdeck_store::audit::AuditFilter;
use uuid::Uuid;

/// Which entries to list, as given; blank texts mean "any".
#[derive(Debug, Clone, Default)]
pub struct AuditFilterInput {
    /// Action prefix, e.g. `service.` or `user.update`.
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    /// Actor label, e.g. a username.
    pub actor: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl AuditFilterInput {
    pub fn filter(self) -> Result<AuditFilter, ApiError> {
        let blank = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
        Ok(AuditFilter {
            action: blank(self.action),
            entity_type: blank(self.entity_type),
            entity_id: self.entity_id,
            actor: blank(self.actor),
            cursor: cursor(self.cursor.as_deref())?,
            limit: super::page_limit(self.limit)?,
        })
    }
}

/// Audit entries, newest first (admin).
pub async fn list_audit(state: &AppState, auth: &Auth, input: AuditFilterInput) -> Result<Page<AuditEntry>, ApiError> {
    auth.require(Permission::Administer)?;
    Ok(state.db.list_audit(&input.filter()?).await?)
}
