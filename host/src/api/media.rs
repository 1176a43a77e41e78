//! Files: `/api/messages/{id}/attachments/{index}` (a file a customer
//! sent, for the agent holding the conversation and supervisors),
//! `/api/conversations/{id}/attachments` (an agent uploading a file to
//! send) and `/files/…` (the signed links providers fetch sent files by).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::attachments::{Blob, shown_inline};
use crate::core::FileUpload;

use super::auth::Principal;
use super::openapi::{ErrorBody, ReadErrors, WriteErrors};
use super::{ApiError, AppState};

/// `GET /api/messages/{id}/attachments/{index}`: the file's bytes. The
/// first open downloads it from the provider through the channel; an agent
/// who does not hold the conversation gets 403, a channel that cannot fetch
/// media 422.
#[utoipa::path(operation_id = "messages_attachment", get, path = "/api/messages/{id}/attachments/{index}", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The message id"), ("index" = usize, Path, description = "The attachment's position in the message, from 0")), responses((status = 200, description = "The file, with its type", content_type = "application/octet-stream", body = Vec<u8>), (status = 422, description = "The channel cannot fetch media, or the file is over `floor.max_attachment_bytes`", body = ErrorBody), (status = 400, description = "An index that is not a number", body = ErrorBody), ReadErrors))]
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
    Ok(file_response(&blob, data))
}

/// The upload's name.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name as the customer should see it.
    filename: Option<String>,
}

/// `POST /api/conversations/{id}/attachments?filename=…` (its agent, a
/// supervisor): the body is the file, `Content-Type` its type. Answers the
/// upload id to name in a reply's `attachments`; 413 past
/// `floor.max_attachment_bytes`, 422 when the channel cannot send files.
#[utoipa::path(operation_id = "conversations_upload", post, path = "/api/conversations/{id}/attachments", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation id"), UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file"), responses((status = 201, description = "Stored; send it by naming `id` in a reply", body = FileUpload), WriteErrors))]
pub async fn upload(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<FileUpload>), ApiError> {
    let allowed = who.sees_all()
        || who
            .agent_id()
            .is_some_and(|a| state.core.agent_has_conversation(a, &id));
    if !state.core.conversation_exists(&id)? || !allowed {
        return Err(ApiError::not_found(format!("no conversation {id}")));
    }
    let data: Bytes = super::body::read_body(request, &()).await?;
    if data.is_empty() {
        return Err(ApiError::bad_request("the body (the file) is empty"));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    let by = who.agent_id().unwrap_or("admin").to_string();
    let upload = state
        .core
        .upload(&id, &by, content_type, query.filename.as_deref(), &data)
        .await?;
    Ok((StatusCode::CREATED, Json(upload)))
}

/// A signed link's query.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// Until when the link works (unix ms).
    expires: u64,
    /// The host's signature of the file and `expires`.
    sig: String,
}

/// `GET /files/{sha256}/{name}?expires=…&sig=…` (anyone holding the link):
/// a file an agent sent, for the provider (or customer) fetching it. 404
/// once the link expires or when it was not made by this host.
#[utoipa::path(operation_id = "files_linked", get, path = "/files/{sha256}/{name}", tag = "conversations", params(("sha256" = String, Path, description = "The file's SHA-256"), ("name" = String, Path, description = "Its name (not checked)"), LinkQuery), responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>), (status = 400, description = "A malformed link", body = ErrorBody), (status = 404, description = "No such file, or the link expired", body = ErrorBody)))]
pub async fn linked(
    State(state): State<AppState>,
    Path((sha256, _name)): Path<(String, String)>,
    Query(query): Query<LinkQuery>,
) -> Result<Response, ApiError> {
    let (blob, data) = state.core.linked_file(&sha256, query.expires, &query.sig)?;
    Ok(file_response(&blob, data))
}

/// A file with headers that keep it from ever running as a page of ours.
fn file_response(blob: &Blob, data: Vec<u8>) -> Response {
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
    // What a customer or agent sent is never run as a page of ours.
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
    response
}
