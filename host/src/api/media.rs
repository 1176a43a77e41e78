//! `/api/messages/{id}/attachments/{index}`: a file a customer sent, for
//! the agent holding the conversation and supervisors.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::attachments::shown_inline;

use super::auth::Principal;
use super::openapi::ReadErrors;
use super::{ApiError, AppState};

/// `GET /api/messages/{id}/attachments/{index}`: the file's bytes. The
/// first open downloads it from the provider through the channel; an agent
/// who does not hold the conversation gets 403, a channel that cannot fetch
/// media 422.
#[utoipa::path(operation_id = "messages_attachment", get, path = "/api/messages/{id}/attachments/{index}", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The message id"), ("index" = usize, Path, description = "The attachment's position in the message, from 0")), responses((status = 200, description = "The file, with its type", content_type = "application/octet-stream", body = Vec<u8>), (status = 422, description = "The channel cannot fetch media, or the file is over `floor.max_attachment_bytes`", body = super::openapi::ErrorBody), ReadErrors))]
pub async fn attachment(
    who: Principal,
    State(state): State<AppState>,
    Path((id, index)): Path<(String, usize)>,
) -> Result<Response, ApiError> {
    let conversation = state.core.conversation_of_message(&id)?;
    if !who.sees_all()
        && !who
            .agent_id()
            .is_some_and(|a| state.core.agent_has_conversation(a, &conversation))
    {
        return Err(ApiError::forbidden(
            "only the agent holding the conversation and supervisors may open its files",
        ));
    }
    let (blob, data) = state.core.open_attachment(&id, index).await?;
    let disposition = format!(
        "{}; filename=\"{}\"",
        if shown_inline(&blob.content_type) {
            "inline"
        } else {
            "attachment"
        },
        blob.filename.as_deref().unwrap_or("attachment")
    );
    let mut response = data.into_response();
    let headers = response.headers_mut();
    let value = |v: &str| {
        HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
    };
    headers.insert(header::CONTENT_TYPE, value(&blob.content_type));
    headers.insert(header::CONTENT_DISPOSITION, value(&disposition));
    // What a customer sent is never run as a page of ours.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        ),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(response)
}
