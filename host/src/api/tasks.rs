//! A task's lifecycle: `/api/tasks/{id}` and its `accept`, `reject` and
//! `complete`, by the agent it is reserved for or assigned to.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use crate::core::Task;

use super::auth::Principal;
use super::openapi::{ReadErrors, WriteErrors};
use super::{ApiError, AppState};

/// `GET /api/tasks/{id}` (its agent, supervisor).
#[utoipa::path(operation_id = "tasks_task", get, path = "/api/tasks/{id}", tag = "work", security(("bearer" = [])), params(("id" = String, Path, description = "The task id")), responses((status = 200, description = "The task", body = Task), ReadErrors))]
pub async fn task(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    Ok(Json(visible(&who, &state, &id)?))
}

/// Task `id` if the caller may see it. An agent's view of someone else's
/// task is the same as of a task that does not exist: ids are sequential,
/// and a different answer would tell what exists.
fn visible(who: &Principal, state: &AppState, id: &str) -> Result<Task, ApiError> {
    let task = state.core.task(id);
    match task {
        Some(t) if who.sees_all() || t.agent_id.as_deref() == who.agent_id() => Ok(t),
        _ => Err(ApiError::not_found(format!("no task {id}"))),
    }
}

/// `POST /api/tasks/{id}/accept` (the reserved agent).
#[utoipa::path(operation_id = "tasks_accept", post, path = "/api/tasks/{id}/accept", tag = "work", security(("bearer" = [])), params(("id" = String, Path, description = "The task id")), responses((status = 200, description = "Assigned to the caller", body = Task), WriteErrors))]
pub async fn accept(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    let agent = who.require_agent()?;
    visible(&who, &state, &id)?;
    Ok(Json(state.core.accept(&id, agent).await?))
}

/// `POST /api/tasks/{id}/reject` (the reserved agent).
#[utoipa::path(operation_id = "tasks_reject", post, path = "/api/tasks/{id}/reject", tag = "work", security(("bearer" = [])), params(("id" = String, Path, description = "The task id")), responses((status = 200, description = "Back in the queue", body = Task), WriteErrors))]
pub async fn reject(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    let agent = who.require_agent()?;
    visible(&who, &state, &id)?;
    Ok(Json(state.core.reject(&id, agent).await?))
}

/// The completion body; may be empty.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    /// How the contact ended, e.g. `resolved`.
    #[serde(default)]
    disposition: Option<String>,
}

/// `POST /api/tasks/{id}/complete` (the assigned agent), body
/// `{"disposition": "..."}` or none.
#[utoipa::path(operation_id = "tasks_complete", post, path = "/api/tasks/{id}/complete", tag = "work", security(("bearer" = [])), params(("id" = String, Path, description = "The task id")), request_body(content = Option<CompleteBody>, description = "Optional: `{\"disposition\": \"...\"}`"), responses((status = 200, description = "Completed (or wrapping up)", body = Task), WriteErrors))]
pub async fn complete(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Json<Task>, ApiError> {
    let agent = who.require_agent()?.to_string();
    visible(&who, &state, &id)?;
    let bytes = super::body::read_body(request, &()).await?;
    let body: CompleteBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        CompleteBody::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?
    };
    Ok(Json(
        state.core.complete(&id, &agent, body.disposition).await?,
    ))
}
