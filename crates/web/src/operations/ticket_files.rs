//! Files attached to tickets (from mail today) and the log of mail the desk read: who may see
//! them follows who may see the ticket; the log is for agents.

use super::tickets::find;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use opsdeck_core::role::Permission;
use opsdeck_store::desk::mail_in::{AttachmentMeta, MailIn};
use uuid::Uuid;

pub async fn attachments(state: &AppState, auth: &Auth, reference: &str) -> Result<Vec<AttachmentMeta>, ApiError> {
    let t = find(state, auth, reference).await?;
    Ok(state.db.ticket_attachments(t.id).await?)
}

/// One attachment with its bytes.
pub async fn attachment(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    id: &str,
) -> Result<(AttachmentMeta, Vec<u8>), ApiError> {
    let t = find(state, auth, reference).await?;
    let id = Uuid::parse_str(id.trim()).map_err(|_| ApiError::not_found(opsdeck_core::Entity::Ticket))?;
    Ok(state.db.ticket_attachment(t.id, id).await?)
}

/// The newest mail the desk read, with what became of each (agents).
pub async fn mail_log(state: &AppState, auth: &Auth, limit: i64) -> Result<Vec<MailIn>, ApiError> {
    auth.require(Permission::Respond)?;
    Ok(state.db.recent_mail(limit).await?)
}
