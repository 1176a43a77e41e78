//! `/api/conversations/...`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::core::{Conversation, Message};

use super::auth::Principal;
use super::body::JsonBody;
use super::openapi::{ReadErrors, WriteErrors};
use super::{ApiError, AppState};

/// A conversation with its messages, and the customer's history on every
/// other conversation and channel (what an agent needs to see before
/// answering).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConversationView {
    #[serde(flatten)]
    conversation: Conversation,
    /// Its messages, oldest first.
    messages: Vec<Message>,
    /// The customer's latest messages elsewhere, oldest first.
    history: Vec<Message>,
}

/// How many messages of other conversations a conversation view carries.
const HISTORY: usize = 100;

/// `GET /api/conversations/{id}` (its agent, supervisor).
#[utoipa::path(operation_id = "conversations_show", get, path = "/api/conversations/{id}", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation id")), responses((status = 200, description = "The conversation, its messages and the customer’s history elsewhere", body = ConversationView), ReadErrors))]
pub async fn show(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let (conversation, messages) = state.core.conversation(&id)?;
    // Someone else's conversation looks like one that does not exist.
    if let Principal::Agent(agent) = &who
        && !state.core.agent_has_conversation(agent, &id)
    {
        return Err(ApiError::not_found(format!("no conversation {id}")));
    }
    let history = state
        .core
        .history(&conversation.customer_id, &conversation.id, HISTORY)?;
    Ok(Json(ConversationView {
        conversation,
        messages,
        history,
    }))
}

/// The reply body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    /// The reply.
    text: String,
}

/// `POST /api/conversations/{id}/messages` (its agent): queued in the
/// outbox, answered 202 with the message (status `queued`).
#[utoipa::path(operation_id = "conversations_reply", post, path = "/api/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation id")), request_body = ReplyBody, responses((status = 202, description = "Queued in the outbox", body = Message), WriteErrors))]
pub async fn reply(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReplyBody>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let agent = who.require_agent()?.to_string();
    if !state.core.conversation_exists(&id)? {
        return Err(ApiError::not_found(format!("no conversation {id}")));
    }
    if !state.core.agent_has_conversation(&agent, &id) {
        return Err(match who {
            // Visible to a supervisor; to an agent, as if it did not exist.
            Principal::Supervisor(_) => {
                ApiError::forbidden(format!("conversation {id} is not yours to answer"))
            }
            _ => ApiError::not_found(format!("no conversation {id}")),
        });
    }
    let message = state.core.reply(&id, Some(&agent), &body.text).await?;
    Ok((StatusCode::ACCEPTED, Json(message)))
}
