//! A ticket page's files: downloading one (never shown inline), uploading one from the page's
//! form (multipart, read chunk by chunk up to the limit), and an agent removing one.

use super::{PageAuth, error_page, outcome};
use crate::AppState;
use crate::error::ApiError;
use crate::operations::ticket_files::{self as op, Upload};
use axum::extract::{Multipart, Path, State};
use axum::response::Response;
use opsdeck_core::desk::mail::human;
use opsdeck_core::desk::upload::UPLOAD_MAX;

/// The request body a page upload may send: the file and the form's few fields around it.
pub const FORM_MAX: usize = UPLOAD_MAX + 64 * 1024;

/// Downloads a ticket's attachment (as the API does: never shown inline).
pub async fn download(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    match op::attachment(&state, &auth.0, &id, &file).await {
        Ok((meta, data)) => op::file_response(&meta, data),
        Err(e) => error_page(&e),
    }
}

fn too_big() -> ApiError {
    ApiError::invalid("file", format!("the file is over the {} limit", human(UPLOAD_MAX)))
}

/// A form that ends early: over the route's limit, or cut off or malformed on the way.
fn unread(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        too_big()
    } else {
        ApiError::invalid("file", "the form arrived incomplete; choose the file and send it again")
    }
}

/// The form's file (name, declared type, bytes) and whether it is internal.
async fn read(mut form: Multipart) -> Result<(Option<(String, Option<String>, Vec<u8>)>, bool), ApiError> {
    let (mut file, mut internal) = (None, false);
    while let Some(mut field) = form.next_field().await.map_err(|e| unread(&e))? {
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_owned();
                let kind = field.content_type().map(str::to_owned);
                let mut data = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|e| unread(&e))? {
                    if data.len().saturating_add(chunk.len()) > UPLOAD_MAX {
                        return Err(too_big());
                    }
                    data.extend_from_slice(&chunk);
                }
                file = Some((name, kind, data));
            }
            Some("internal") => internal = true,
            _ => {}
        }
    }
    Ok((file, internal))
}

/// Attaches the form's file to the ticket and goes back to its files.
pub async fn upload(
    State(state): State<AppState>,
    auth: PageAuth,
    Path(id): Path<String>,
    form: Multipart,
) -> Response {
    let back = format!("/tickets/{id}#attachments");
    let result = async {
        let (file, internal) = read(form).await?;
        let Some((name, kind, data)) = file.filter(|(n, _, d)| !n.is_empty() || !d.is_empty()) else {
            return Err(ApiError::invalid("file", "choose a file"));
        };
        let up = Upload { filename: &name, content_type: kind.as_deref(), data, internal };
        let meta = op::upload(&state, &auth.0, &id, up).await?;
        Ok(format!("{} attached", meta.filename))
    }
    .await;
    outcome(&back, result)
}

/// Removes a file (agents).
pub async fn remove(
    State(state): State<AppState>,
    auth: PageAuth,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let result = op::remove(&state, &auth.0, &id, &file).await;
    outcome(&format!("/tickets/{id}#attachments"), result.map(|()| "File removed".to_owned()))
}
