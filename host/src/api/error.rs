//! The JSON error every endpoint answers with:
//! `{"error": {"code": "...", "message": "..."}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// A message for people.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": {"code": self.code, "message": self.message}}));
        (self.status, body).into_response()
    }
}

impl From<crate::core::CoreError> for ApiError {
    fn from(e: crate::core::CoreError) -> Self {
        use crate::core::CoreError;
        use crate::runtime::CallError;
        match e {
            CoreError::Invalid(m) => ApiError::bad_request(m),
            CoreError::NotFound(m) => ApiError::not_found(m),
            CoreError::Forbidden(m) => ApiError::forbidden(m),
            CoreError::Conflict(m) => ApiError::conflict(m),
            CoreError::Plugin { status, message } => ApiError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                "plugin_error",
                message,
            ),
            CoreError::Call(call) => match call {
                CallError::NotFound(_) | CallError::WrongKind { .. } => {
                    ApiError::not_found(call.to_string())
                }
                CallError::Disabled(_)
                | CallError::NotLoaded { .. }
                | CallError::CircuitOpen { .. }
                | CallError::Busy { .. } => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "plugin_unavailable",
                    call.to_string(),
                ),
                CallError::Fault { .. } => {
                    tracing::warn!(error = %call, "plugin fault answering a request");
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "plugin_failed",
                        call.to_string(),
                    )
                }
            },
            CoreError::Store(s) => ApiError::internal(s),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<crate::customers::CustomerError> for ApiError {
    fn from(e: crate::customers::CustomerError) -> Self {
        crate::core::CoreError::from(e).into()
    }
}

impl From<crate::routing::RoutingError> for ApiError {
    fn from(e: crate::routing::RoutingError) -> Self {
        crate::core::CoreError::from(e).into()
    }
}
