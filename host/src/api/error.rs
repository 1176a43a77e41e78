//! The JSON error every endpoint answers with:
//! `{"error": {"code": "...", "message": "..."}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::core::{CoreError, Failure};
use crate::wit::types::ErrorKind;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// A message for people.
    pub message: String,
    /// When to try again (seconds), for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// 401: no credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// 403: valid credentials, not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 409: the request does not fit the current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    /// 429: too many requests; try again after `retry_after_ms`.
    pub fn too_many(message: impl Into<String>, retry_after_ms: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message);
        e.retry_after = Some(retry_after_ms.div_ceil(1000).max(1));
        e
    }
    /// 500: our fault. The detail is logged, not sent.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl ApiError {
    /// The JSON body: `{"error": {"code", "message"}}`.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(self.body());
        let mut response = (self.status, body).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<CoreError> for ApiError {
    /// The HTTP answer to a core failure: the status table of the API.
    fn from(e: CoreError) -> Self {
        let (status, code) = match e.failure() {
            Failure::Invalid => (StatusCode::BAD_REQUEST, "bad_request"),
            Failure::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Failure::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Failure::Conflict => (StatusCode::CONFLICT, "conflict"),
            Failure::Gone => (StatusCode::GONE, "gone"),
            Failure::Unsupported => (StatusCode::UNPROCESSABLE_ENTITY, "unsupported"),
            Failure::Unauthenticated => (StatusCode::UNAUTHORIZED, "wrong_login"),
            Failure::InvalidBundle => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_bundle"),
            Failure::LoadFailed => (StatusCode::UNPROCESSABLE_ENTITY, "load_failed"),
            Failure::PluginAnswered(kind) => (plugin_status(kind), "plugin_error"),
            Failure::PluginUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "plugin_unavailable"),
            Failure::PluginFailed => {
                tracing::warn!(error = %e, "plugin fault answering a request");
                (StatusCode::INTERNAL_SERVER_ERROR, "plugin_failed")
            }
            Failure::Internal => return ApiError::internal(e),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// The status a channel plugin asks for when it refuses a webhook.
fn plugin_status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
