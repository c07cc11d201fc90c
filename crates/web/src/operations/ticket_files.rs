//! Files attached to tickets (by mail or by hand) and the log of mail the desk read: who may
//! see or add them follows who may see the ticket; internal files and removing one are the
//! agents'; the log is for agents.

use super::tickets::{TICKET_CHANGED, find};
use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ErrorCode};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use opsdeck_core::desk::ticket::TicketState;
use opsdeck_core::desk::upload::{self, UPLOAD_MAX};
use opsdeck_core::role::Permission;
use opsdeck_store::desk::mail_in::{AttachmentMeta, MailIn, NewAttachment};
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

/// A file as uploaded: its name, declared type and bytes.
pub struct Upload<'a> {
    pub filename: &'a str,
    pub content_type: Option<&'a str>,
    pub data: Vec<u8>,
    /// Agents only: a file the requester does not see.
    pub internal: bool,
}

/// Attaches a file to a ticket: its requester or an agent, while it is not closed; 1 byte to
/// [`UPLOAD_MAX`]; an internal one only by an agent.
pub async fn upload(
    state: &AppState,
    auth: &Auth,
    reference: &str,
    up: Upload<'_>,
) -> Result<AttachmentMeta, ApiError> {
    let t = find(state, auth, reference).await?;
    let agent = auth.allows(Permission::Respond);
    if up.internal && !agent {
        return Err(ApiError::invalid("internal", "only agents attach internal files"));
    }
    if !agent && t.requester_id != Some(auth.user.id) {
        return Err(ApiError::new(ErrorCode::Forbidden, "only the ticket's requester and agents attach files"));
    }
    let filename = upload::file_name(up.filename)?;
    if up.data.is_empty() {
        return Err(ApiError::invalid("file", "the file is empty"));
    }
    if up.data.len() > UPLOAD_MAX {
        let (size, max) = (opsdeck_core::desk::mail::human(up.data.len()), opsdeck_core::desk::mail::human(UPLOAD_MAX));
        return Err(ApiError::invalid("file", format!("{size} is over the {max} limit")));
    }
    if t.state == TicketState::Closed {
        return Err(ApiError::conflict(format!("{} is closed; reopen it to attach files", t.key())));
    }
    let file = NewAttachment { filename, content_type: upload::content_type(up.content_type), data: up.data };
    let meta =
        state.db.attach_file((&auth.actor(), &auth.user.shown_name()), state.now(), t.id, &file, up.internal).await?;
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("a file attached to {}", t.key()));
    Ok(meta)
}

/// Removes an attachment (agents).
pub async fn remove(state: &AppState, auth: &Auth, reference: &str, id: &str) -> Result<(), ApiError> {
    auth.require(Permission::Respond)?;
    let t = find(state, auth, reference).await?;
    let id = Uuid::parse_str(id.trim()).map_err(|_| ApiError::not_found(opsdeck_core::Entity::Ticket))?;
    state.db.delete_attachment(&auth.actor(), state.now(), t.id, id).await?;
    state.events.publish(TICKET_CHANGED, Some(t.id), format!("a file removed from {}", t.key()));
    Ok(())
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
