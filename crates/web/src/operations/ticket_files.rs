//! Files attached to tickets (from mail today) and the log of mail the desk read: who may see
//! them follows who may see the ticket; the log is for agents.

use super::tickets::find;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use opsdeck_core::role::Permission;
use opsdeck_store::desk::mail_in::{AttachmentMeta, MailIn};
use uuid::Uuid;

pub async fn attachments(state: &AppState, auth: &Auth, reference: &str) -> Result<Vec<AttachmentMeta>, ApiError> {
    let t = find(state, auth, reference).await?;
    Ok(state.db.ticket_attachments(t.id, auth.allows(Permission::Respond)).await?)
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
    Ok(state.db.ticket_attachment(t.id, id, auth.allows(Permission::Respond)).await?)
}

/// The newest mail the desk read, with what became of each (agents).
pub async fn mail_log(state: &AppState, auth: &Auth, limit: i64) -> Result<Vec<MailIn>, ApiError> {
    auth.require(Permission::Respond)?;
    Ok(state.db.recent_mail(limit).await?)
}

/// The file `name` as a download header names it: quotes and controls dropped, UTF-8 encoded.
pub fn disposition(name: &str) -> String {
    let plain: String =
        name.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').filter(|c| *c != '"' && *c != '\\').collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}")
}

pub fn file_response(meta: &AttachmentMeta, data: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_DISPOSITION, disposition(&meta.filename)),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        data,
    )
        .into_response()
}
