//! A ticket's attachments (listed, downloaded, uploaded as the request body, removed), and the
//! log of mail the desk read.

use super::{List, ts};
use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ErrorCode};
use crate::extract::ApiQuery;
use crate::operations::ticket_files as op;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use opsdeck_core::clock::from_millis;
use opsdeck_core::desk::mail::human;
use opsdeck_core::desk::upload::UPLOAD_MAX;
use opsdeck_store::desk::mail_in::{AttachmentMeta, MailIn};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_attachments)).routes(routes!(download, remove)).routes(routes!(mail_log))
}

/// Uploads, with their own body limit (the API's 1 MiB is for JSON).
pub fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload)).layer(DefaultBodyLimit::max(UPLOAD_MAX))
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentDto {
    pub id: Uuid,
    pub filename: String,
    /// As the sender declared it; downloads are always served as application/octet-stream.
    pub content_type: String,
    pub size: i64,
    pub created_at: String,
    /// Who attached it: the sender of the mail it came with, or who uploaded it.
    pub author: String,
}

pub(crate) fn attachment_dto(a: AttachmentMeta) -> AttachmentDto {
    AttachmentDto {
        id: a.id,
        filename: a.filename,
        content_type: a.content_type,
        size: a.size,
        created_at: ts(from_millis(a.created_at)),
        author: a.author,
    }
}

/// A ticket's attachments (who may read the ticket may read them).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/attachments", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number")),
    responses((status = 200, body = List<AttachmentDto>)))]
async fn list_attachments(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<List<AttachmentDto>>, ApiError> {
    let items = op::attachments(&state, &auth, &id).await?.into_iter().map(attachment_dto).collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Downloads an attachment, always as `application/octet-stream` (never shown inline).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/attachments/{attachment}", tag = "tickets",
    params(
        ("id" = String, Path, description = "The ticket's id or number"),
        ("attachment" = String, Path, description = "The attachment's id"),
    ),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>)))]
async fn download(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, attachment)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (meta, data) = op::attachment(&state, &auth, &id, &attachment).await?;
    Ok(op::file_response(&meta, data))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name (a path's last part is kept), 1 to 200 characters.
    #[param(min_length = 1, max_length = 1000)]
    pub filename: String,
    /// Agents only: a file the requester does not see. Default false.
    pub internal: Option<bool>,
}

/// Attaches a file to a ticket: the body is the file (1 byte to 10,000,000), its
/// `Content-Type` kept as declared (downloads are always octet-stream). The ticket's requester
/// or an agent; internal files are the agents'. 413 over the limit; 422 names an empty file or
/// a bad name; 409 on a closed ticket or one holding 200 files.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/attachments", tag = "tickets",
    params(("id" = String, Path, description = "The ticket's id or number"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentDto)))]
async fn upload(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<AttachmentDto>), ApiError> {
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ErrorCode::PayloadTooLarge, format!("the file is larger than {}", human(UPLOAD_MAX)))
        }
        _ => ApiError::bad_request("the file arrived incomplete; send it again"),
    })?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let up =
        op::Upload { filename: &q.filename, content_type, data: body.to_vec(), internal: q.internal.unwrap_or(false) };
    Ok((StatusCode::CREATED, Json(attachment_dto(op::upload(&state, &auth, &id, up).await?))))
}

/// Removes an attachment (agents: responders and up).
#[utoipa::path(delete, path = "/api/v1/tickets/{id}/attachments/{attachment}", tag = "tickets",
    params(
        ("id" = String, Path, description = "The ticket's id or number"),
        ("attachment" = String, Path, description = "The attachment's id"),
    ),
    responses((status = 204)))]
async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, attachment)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    op::remove(&state, &auth, &id, &attachment).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct MailInDto {
    pub message_id: String,
    pub received_at: String,
    pub sender: String,
    pub subject: String,
    /// created (a new ticket), replied (the requester's answer), noted (an internal note: mail
    /// from someone else), or refused (see `detail`).
    pub outcome: String,
    pub ticket_id: Option<Uuid>,
    /// Why it was refused, or what was left out (attachments over the limit…).
    pub detail: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MailQuery {
    /// 1 to 500; default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// The newest mail the desk's mailbox reader kept, newest first, with what became of each
/// (responders and up).
#[utoipa::path(get, path = "/api/v1/desk/mail", tag = "tickets", params(MailQuery),
    responses((status = 200, body = List<MailInDto>)))]
async fn mail_log(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<MailQuery>,
) -> Result<Json<List<MailInDto>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1 to 500"));
    }
    let items = op::mail_log(&state, &auth, limit)
        .await?
        .into_iter()
        .map(|m: MailIn| MailInDto {
            message_id: m.message_id,
            received_at: ts(from_millis(m.received_at)),
            sender: m.sender,
            subject: m.subject,
            outcome: m.outcome,
            ticket_id: m.ticket_id,
            detail: m.detail,
        })
        .collect();
    Ok(Json(List { items, next_cursor: None }))
}
