//! A task's lifecycle: `/api/tasks/{id}` and its `accept`, `reject`,
//! `complete` and `transfer`, by the agent it is reserved for or assigned
//! to, or by a supervisor.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use crate::core::{Skill, Task, Transfer, TransferTarget};

use super::auth::Principal;
use super::body::JsonBody;
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

/// `POST /api/tasks/{id}/complete` (the assigned agent, or a supervisor
/// closing it on the agent's behalf), body `{"disposition": "..."}` or
/// none. A disposition not in `routing.dispositions` is 400.
#[utoipa::path(operation_id = "tasks_complete", post, path = "/api/tasks/{id}/complete", tag = "work", security(("bearer" = [])), params(("id" = String, Path, description = "The task id")), request_body(content = Option<CompleteBody>, description = "Optional: `{\"disposition\": \"...\"}`"), responses((status = 200, description = "Completed (or wrapping up)", body = Task), WriteErrors))]
pub async fn complete(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Json<Task>, ApiError> {
    let task = visible(&who, &state, &id)?;
    let bytes = super::body::read_body(request, &()).await?;
    let body: CompleteBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        CompleteBody::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?
    };
    // A supervisor (or the admin) closing someone else's task does it on
    // their behalf, named in the task's history.
    if who.sees_all() && task.agent_id.as_deref() != who.agent_id() {
        return Ok(Json(
            state
                .core
                .close_for(&id, who.as_actor(), body.disposition)
                .await?,
        ));
    }
    let agent = who.require_agent()?;
    Ok(Json(
        state.core.complete(&id, agent, body.disposition).await?,
    ))
}

/// The transfer body: exactly one of `to_agent` and `to_skills`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// Offer the task to this agent (who must be available with free
    /// capacity); not accepted in time, it goes back to the queue.
    #[serde(default)]
    to_agent: Option<String>,
    /// Queue it again needing these skills (name → minimum level 1-5; `{}`
    /// for anyone).
    #[serde(default)]
    #[schema(value_type = Option<std::collections::BTreeMap<String, u8>>)]
    to_skills: Option<std::collections::BTreeMap<String, u8>>,
    /// Extra priority in the queue (default `routing.transfer_priority`).
    #[serde(default)]
    priority: Option<u32>,
    /// What the receiver sees first; stored as an internal note.
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/tasks/{id}/transfer` (the assigned agent; a supervisor for
/// any waiting, offered or assigned task): to an agent or to skills, with
/// an optional note. The caller's capacity frees at once.
#[utoipa::path(operation_id = "tasks_transfer", post, path = "/api/tasks/{id}/transfer", tag = "work", security(("bearer" = [])), params(("id" = String, Path, description = "The task id")), request_body = TransferBody, responses((status = 200, description = "Transferred: offered to the agent, or back in the queue", body = Task), WriteErrors))]
pub async fn transfer(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TransferBody>,
) -> Result<Json<Task>, ApiError> {
    let target = match (body.to_agent, body.to_skills) {
        (Some(agent), None) => TransferTarget::Agent(agent.trim().to_string()),
        (None, Some(skills)) => TransferTarget::Skills(
            skills
                .into_iter()
                .map(|(name, min_level)| Skill {
                    name: name.trim().to_string(),
                    min_level,
                })
                .collect(),
        ),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `to_agent` and `to_skills`",
            ));
        }
    };
    let transfer = Transfer {
        target,
        priority: body.priority,
        note: body.note,
    };
    Ok(Json(
        state.core.transfer(&id, who.as_actor(), transfer).await?,
    ))
}
