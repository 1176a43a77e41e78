//! `/api/retention`: the retention sweep's progress, and a pass on demand.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::clock::now_ms;
use crate::core::RetentionStatus;

use super::auth::Admin;
use super::body::JsonBody;
use super::openapi::{ReadErrors, WriteErrors};
use super::{ApiError, AppState};

/// `GET /api/retention` (admin): what the sweep has done.
#[utoipa::path(operation_id = "retention_status", get, path = "/api/retention", tag = "admin", security(("bearer" = [])), responses((status = 200, description = "The sweep's cursor and counts", body = RetentionStatus), ReadErrors))]
pub async fn status(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<RetentionStatus>, ApiError> {
    Ok(Json(state.core.retention_status()?))
}

/// The body of `POST /api/retention/run`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunPass {
    /// Run as if it were this time (unix ms): only with
    /// `retention.allow_as_of`, a test hook.
    #[serde(default)]
    #[schema(maximum = 9_007_199_254_740_991_i64)]
    as_of: Option<u64>,
}

/// `POST /api/retention/run` (admin): one pass now (e.g. after changing
/// the policy), audited like the sweep's.
#[utoipa::path(operation_id = "retention_run", post, path = "/api/retention/run", tag = "admin", security(("bearer" = [])), request_body(content = RunPass, description = "Optional: `as_of` (test hook)"), responses((status = 200, description = "The sweep's progress after the pass", body = RetentionStatus), WriteErrors))]
pub async fn run(
    _: Admin,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<serde_json::Map<String, serde_json::Value>>,
) -> Result<Json<RetentionStatus>, ApiError> {
    // An object, not whatever serde would also take for a struct.
    let body: RunPass = serde_json::from_value(serde_json::Value::Object(body))
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
    let now = match body.as_of {
        Some(_) if !state.core.retention_as_of_allowed() => {
            return Err(ApiError::bad_request(
                "`as_of` is a test hook: set retention.allow_as_of to use it",
            ));
        }
        Some(at) => at,
        None => now_ms(),
    };
    Ok(Json(state.core.retention_pass(now).await?))
}
