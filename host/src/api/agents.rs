//! Agents: `/api/me`, `/api/agents/...` (create, list, status, their tasks).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::core::{Agent, AgentInput, AgentStatus, Task};

use super::audit_trail::changed;
use super::auth::{Admin, Principal, SessionCsrf};
use super::body::JsonBody;
use super::openapi::{ReadErrors, WriteErrors};
use super::{ApiError, AppState};

/// Who a token or session belongs to.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    /// `admin`, `supervisor` or `agent`.
    #[schema(value_type = String)]
    role: &'static str,
    /// The agent (none for the admin).
    agent: Option<Agent>,
    /// Signed in with a session cookie: the token to send in
    /// `X-CSRF-Token` with every change (a new tab reads it here).
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf: Option<String>,
}

/// An agent with its bearer token, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AgentWithToken {
    #[serde(flatten)]
    agent: Agent,
    /// The bearer token; only its digest is kept.
    token: String,
}

/// `GET /api/me`: who a token belongs to, for a client deciding what to
/// show: `{"role": "admin"|"supervisor"|"agent", "agent": {…}|null}`.
#[utoipa::path(operation_id = "agents_me", get, path = "/api/me", tag = "agents", security(("bearer" = [])), responses((status = 200, description = "Who the token belongs to", body = Me), ReadErrors))]
pub async fn me(
    who: Principal,
    csrf: Option<axum::Extension<SessionCsrf>>,
    State(state): State<AppState>,
) -> Json<Me> {
    let (role, agent) = match &who {
        Principal::Admin => ("admin", None),
        Principal::Supervisor(id) => ("supervisor", state.core.agent(id)),
        Principal::Agent(id) => ("agent", state.core.agent(id)),
    };
    Json(Me {
        role,
        agent,
        csrf: csrf.map(|axum::Extension(SessionCsrf(token))| token),
    })
}

/// `PUT /api/agents/{id}` (admin): create or update; a new agent's answer
/// carries its bearer `token`, shown once.
#[utoipa::path(operation_id = "agents_put", put, path = "/api/agents/{id}", tag = "agents", security(("bearer" = [])), params(("id" = String, Path, description = "The agent id, chosen by the admin")), request_body = AgentInput, responses((status = 200, description = "Updated", body = Agent), (status = 201, description = "Created; `token` is shown this once", body = AgentWithToken), WriteErrors))]
pub async fn put(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<AgentInput>,
) -> Result<Response, ApiError> {
    let before = state.core.agent(&id);
    let (agent, token) = state.core.put_agent(&id, input).await?;
    let after = agent.clone();
    let response = match token {
        Some(token) => (StatusCode::CREATED, Json(AgentWithToken { agent, token })).into_response(),
        None => Json(agent).into_response(),
    };
    Ok(changed(response, &before, &after))
}

/// `POST /api/agents/{id}/token` (admin): a new bearer token, shown once;
/// the agent's earlier tokens are refused from now on (and a deactivated
/// agent is active again).
#[utoipa::path(operation_id = "agents_rotate_token", post, path = "/api/agents/{id}/token", tag = "agents", security(("bearer" = [])), params(("id" = String, Path, description = "The agent id")), responses((status = 200, description = "A new token, shown this once; the old one is refused from now on", body = AgentWithToken), WriteErrors))]
pub async fn rotate_token(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AgentWithToken>, ApiError> {
    let (agent, token) = state.core.rotate_token(&id).await?;
    Ok(Json(AgentWithToken { agent, token }))
}

/// `DELETE /api/agents/{id}/token` (admin): revokes the agent's tokens and
/// signs it out, at once (its reservations go back to the queue).
#[utoipa::path(operation_id = "agents_deactivate", delete, path = "/api/agents/{id}/token", tag = "agents", security(("bearer" = [])), params(("id" = String, Path, description = "The agent id")), responses((status = 200, description = "Revoked and signed out", body = Agent), WriteErrors))]
pub async fn deactivate(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Agent>, ApiError> {
    Ok(Json(state.core.deactivate_agent(&id).await?))
}

/// An agent as supervisors list them: with the email it signs in with.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ListedAgent {
    #[serde(flatten)]
    agent: Agent,
    /// Its login email, once the admin set a password (else none).
    login_email: Option<String>,
}

/// `GET /api/agents` (supervisor).
#[utoipa::path(operation_id = "agents_list", get, path = "/api/agents", tag = "agents", security(("bearer" = [])), responses((status = 200, description = "All agents, each with `login_email` once it has a password", body = Vec<ListedAgent>), ReadErrors))]
pub async fn list(
    who: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<ListedAgent>>, ApiError> {
    who.require_supervisor()?;
    let listed = state
        .core
        .agents()
        .into_iter()
        .map(|agent| {
            let login_email = state.core.login_email(&agent.id)?;
            Ok(ListedAgent { agent, login_email })
        })
        .collect::<Result<Vec<_>, crate::core::CoreError>>()?;
    Ok(Json(listed))
}

/// `GET /api/agents/{id}` (the agent, supervisor).
#[utoipa::path(operation_id = "agents_show", get, path = "/api/agents/{id}", tag = "agents", security(("bearer" = [])), params(("id" = String, Path, description = "The agent id")), responses((status = 200, description = "The agent", body = Agent), ReadErrors))]
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
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// The new status.
    status: AgentStatus,
}

/// `POST /api/agents/{id}/status` (the agent, supervisor).
#[utoipa::path(operation_id = "agents_status", post, path = "/api/agents/{id}/status", tag = "agents", security(("bearer" = [])), params(("id" = String, Path, description = "The agent id")), request_body = StatusBody, responses((status = 200, description = "The agent, with its new status", body = Agent), WriteErrors))]
pub async fn status(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<StatusBody>,
) -> Result<Response, ApiError> {
    let Some(before) = state.core.agent(&id) else {
        return Err(ApiError::not_found(format!("no agent {id}")));
    };
    who.require_self_or_supervisor(&id)?;
    let agent = state
        .core
        .set_agent_status(&id, body.status, who.actor())
        .await?;
    let status = |a: &Agent| serde_json::json!({ "status": a.status });
    let (before, after) = (status(&before), status(&agent));
    Ok(changed(Json(agent), &before, &after))
}

/// `GET /api/agents/{id}/tasks` (the agent, supervisor).
#[utoipa::path(operation_id = "agents_tasks", get, path = "/api/agents/{id}/tasks", tag = "work", security(("bearer" = [])), params(("id" = String, Path, description = "The agent id")), responses((status = 200, description = "Its reserved, assigned and wrapping tasks", body = Vec<Task>), ReadErrors))]
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
