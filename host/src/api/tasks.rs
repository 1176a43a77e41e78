//! A task's lifecycle: `/api/tasks/{id}` and its `accept`, `reject` and
//! `complete`, by the agent it is reserved for or assigned to.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use crate::core::Task;

use super::auth::Principal;
use super::{ApiError, AppState};

/// `GET /api/tasks/{id}` (its agent, supervisor).
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
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    #[serde(default)]
    disposition: Option<String>,
}

/// `POST /api/tasks/{id}/complete` (the assigned agent), body
/// `{"disposition": "..."}` or none.
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
