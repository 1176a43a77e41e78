//! `/api/canned-responses`: saved answers. Supervisors and the admin
//! write them; every agent reads them, filled for a conversation.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::core::{CannedInput, CannedResponse, RenderedCanned};

use super::audit_trail::changed;
use super::auth::Principal;
use super::body::JsonBody;
use super::openapi::{ErrorBody, ReadErrors, WriteErrors};
use super::{ApiError, AppState};

/// The listing's options.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only those that suit this conversation (its channel kind and the
    /// customer's language), with `rendered` text filled for its customer
    /// and the caller. An agent must hold the conversation.
    conversation: Option<String>,
}

/// `GET /api/canned-responses` (any agent or supervisor).
#[utoipa::path(operation_id = "canned_list", get, path = "/api/canned-responses", tag = "conversations", security(("bearer" = [])), params(ListQuery), responses((status = 200, description = "Canned responses by shortcut; with `conversation`, only those that suit it, filled (`rendered`, `missing`)", body = Vec<RenderedCanned>), (status = 400, description = "An unknown or malformed query parameter", body = ErrorBody), ReadErrors))]
pub async fn list(
    who: Principal,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<RenderedCanned>>, ApiError> {
    let Some(conversation) = query.conversation else {
        // Unfilled: `rendered` is the text as written.
        let all = state.core.canned_responses()?;
        return Ok(Json(
            all.into_iter()
                .map(|response| RenderedCanned {
                    rendered: response.text.clone(),
                    missing: Vec::new(),
                    response,
                })
                .collect(),
        ));
    };
    let allowed = who.sees_all()
        || who
            .agent_id()
            .is_some_and(|a| state.core.agent_has_conversation(a, &conversation));
    if !allowed {
        return Err(ApiError::not_found(format!(
            "no conversation {conversation}"
        )));
    }
    Ok(Json(state.core.canned_for(&conversation, who.agent_id())?))
}

/// `POST /api/canned-responses` (supervisor, admin).
#[utoipa::path(operation_id = "canned_create", post, path = "/api/canned-responses", tag = "conversations", security(("bearer" = [])), request_body = CannedInput, responses((status = 201, description = "Created", body = CannedResponse), WriteErrors))]
pub async fn create(
    who: Principal,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CannedInput>,
) -> Result<(StatusCode, Json<CannedResponse>), ApiError> {
    who.require_supervisor()?;
    let created = state.core.put_canned(None, body, who.actor()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `PUT /api/canned-responses/{id}` (supervisor, admin).
#[utoipa::path(operation_id = "canned_update", put, path = "/api/canned-responses/{id}", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The canned response id")), request_body = CannedInput, responses((status = 200, description = "Replaced", body = CannedResponse), WriteErrors))]
pub async fn update(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CannedInput>,
) -> Result<Response, ApiError> {
    who.require_supervisor()?;
    let before = canned(&state, &id)?;
    let after = state.core.put_canned(Some(&id), body, who.actor()).await?;
    Ok(changed(Json(&after), &before, &after))
}

/// Canned response `id` as it is now, if there is one.
fn canned(state: &AppState, id: &str) -> Result<Option<CannedResponse>, ApiError> {
    Ok(state
        .core
        .canned_responses()?
        .into_iter()
        .find(|c| c.id == id))
}

/// `DELETE /api/canned-responses/{id}` (supervisor, admin).
#[utoipa::path(operation_id = "canned_delete", delete, path = "/api/canned-responses/{id}", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The canned response id")), responses((status = 204, description = "Deleted"), WriteErrors))]
pub async fn delete(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    who.require_supervisor()?;
    let before = canned(&state, &id)?;
    state.core.delete_canned(&id).await?;
    Ok(changed(StatusCode::NO_CONTENT, &before, &()))
}
