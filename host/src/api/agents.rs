//! Agents and their tasks: `/api/agents/...`, `/api/tasks/...`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::routing::{AgentInput, AgentStatus, Task};

use super::auth::{Admin, Principal};
use super::body::JsonBody;
use super::{ApiError, AppState};

/// `GET /api/me`: who a token belongs to, for a client deciding what to
/// show: `{"role": "admin"|"supervisor"|"agent", "agent": {…}|null}`.
pub async fn me(who: Principal, State(state): State<AppState>) -> Json<serde_json::Value> {
    let (role, agent) = match &who {
        Principal::Admin => ("admin", None),
        Principal::Supervisor(id) => ("supervisor", state.core.routing.agent(id)),
        Principal::Agent(id) => ("agent", state.core.routing.agent(id)),
    };
    let agent = agent.map(|a| state.core.routing.view(&a));
    Json(json!({ "role": role, "agent": agent }))
}

/// `PUT /api/agents/{id}` (admin): create or update; a new agent's answer
/// carries its bearer `token`, shown once.
pub async fn put(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<AgentInput>,
) -> Result<Response, ApiError> {
    let (agent, token, seq) = state.core.routing.put_agent(&id, input)?;
    state.core.store.durable(seq).await?;
    let mut body =
        serde_json::to_value(state.core.routing.view(&agent)).map_err(ApiError::internal)?;
    Ok(match token {
        Some(token) => {
            body["token"] = json!(token);
            (StatusCode::CREATED, Json(body)).into_response()
        }
        None => Json(body).into_response(),
    })
}

/// `GET /api/agents` (supervisor).
pub async fn list(
    who: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<crate::routing::Agent>>, ApiError> {
    who.require_supervisor()?;
    let routing = &state.core.routing;
    Ok(Json(
        routing.agents().iter().map(|a| routing.view(a)).collect(),
    ))
}

/// `GET /api/agents/{id}` (the agent, supervisor).
pub async fn show(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<crate::routing::Agent>, ApiError> {
    let agent = state
        .core
        .routing
        .agent(&id)
        .ok_or_else(|| ApiError::not_found(format!("no agent {id}")))?;
    who.require_self_or_supervisor(&id)?;
    Ok(Json(state.core.routing.view(&agent)))
}

/// The status change body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: AgentStatus,
}

/// `POST /api/agents/{id}/status` (the agent, supervisor).
pub async fn status(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<StatusBody>,
) -> Result<Json<crate::routing::Agent>, ApiError> {
    if state.core.routing.agent(&id).is_none() {
        return Err(ApiError::not_found(format!("no agent {id}")));
    }
    who.require_self_or_supervisor(&id)?;
    let (agent, seq) = state.core.routing.set_status(&id, body.status)?;
    state.core.store.durable(seq).await?;
    Ok(Json(state.core.routing.view(&agent)))
}

/// `GET /api/agents/{id}/tasks` (the agent, supervisor).
pub async fn tasks(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Task>>, ApiError> {
    if state.core.routing.agent(&id).is_none() {
        return Err(ApiError::not_found(format!("no agent {id}")));
    }
    who.require_self_or_supervisor(&id)?;
    Ok(Json(state.core.routing.agent_tasks(&id)?))
}

/// `GET /api/tasks/{id}` (its agent, supervisor).
pub async fn task(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    let task = state
        .core
        .routing
        .task(&id)
        .ok_or_else(|| ApiError::not_found(format!("no task {id}")))?;
    if !who.sees_all() && task.agent_id.as_deref() != who.agent_id() {
        return Err(ApiError::forbidden(format!("task {id} is not yours")));
    }
    Ok(Json(task))
}

/// `POST /api/tasks/{id}/accept` (the reserved agent).
pub async fn accept(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    let agent = who.require_agent()?;
    Ok(Json(state.core.accept(&id, agent).await?))
}

/// `POST /api/tasks/{id}/reject` (the reserved agent).
pub async fn reject(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    let agent = who.require_agent()?;
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
