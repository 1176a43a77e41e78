//! Agents: `/api/me`, `/api/agents/...` (create, list, status, their tasks).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::core::{Agent, AgentInput, AgentStatus, Task};

use super::auth::{Admin, Principal};
use super::body::JsonBody;
use super::{ApiError, AppState};

/// `GET /api/me`: who a token belongs to, for a client deciding what to
/// show: `{"role": "admin"|"supervisor"|"agent", "agent": {…}|null}`.
pub async fn me(who: Principal, State(state): State<AppState>) -> Json<serde_json::Value> {
    let (role, agent) = match &who {
        Principal::Admin => ("admin", None),
        Principal::Supervisor(id) => ("supervisor", state.core.agent(id)),
        Principal::Agent(id) => ("agent", state.core.agent(id)),
    };
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
    let (agent, token) = state.core.put_agent(&id, input).await?;
    let mut body = serde_json::to_value(agent).map_err(ApiError::internal)?;
    Ok(match token {
        Some(token) => {
            body["token"] = json!(token);
            (StatusCode::CREATED, Json(body)).into_response()
        }
        None => Json(body).into_response(),
    })
}

/// `POST /api/agents/{id}/token` (admin): a new bearer token, shown once;
/// the agent's earlier tokens are refused from now on (and a deactivated
/// agent is active again).
pub async fn rotate_token(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (agent, token) = state.core.rotate_token(&id).await?;
    let mut body = serde_json::to_value(agent).map_err(ApiError::internal)?;
    body["token"] = json!(token);
    Ok(Json(body))
}

/// `DELETE /api/agents/{id}/token` (admin): revokes the agent's tokens and
/// signs it out, at once (its reservations go back to the queue).
pub async fn deactivate(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Agent>, ApiError> {
    Ok(Json(state.core.deactivate_agent(&id).await?))
}

/// `GET /api/agents` (supervisor).
pub async fn list(
    who: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<Agent>>, ApiError> {
    who.require_supervisor()?;
    Ok(Json(state.core.agents()))
}

/// `GET /api/agents/{id}` (the agent, supervisor).
pub async fn show(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Agent>, ApiError> {
    let agent = state
        .core
        .agent(&id)
        .ok_or_else(|| ApiError::not_found(format!("no agent {id}")))?;
    who.require_self_or_supervisor(&id)?;
    Ok(Json(agent))
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
) -> Result<Json<Agent>, ApiError> {
    if state.core.agent(&id).is_none() {
        return Err(ApiError::not_found(format!("no agent {id}")));
    }
    who.require_self_or_supervisor(&id)?;
    Ok(Json(state.core.set_agent_status(&id, body.status).await?))
}

/// `GET /api/agents/{id}/tasks` (the agent, supervisor).
pub async fn tasks(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Task>>, ApiError> {
    if state.core.agent(&id).is_none() {
        return Err(ApiError::not_found(format!("no agent {id}")));
    }
    who.require_self_or_supervisor(&id)?;
    Ok(Json(state.core.agent_tasks(&id)?))
}
