//! `/api/conversations/...`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::core::{
    ChannelView, Conversation, ConversationFilter, ConversationStatus, Message, Note,
    StartConversation, Started,
};

use super::auth::Principal;
use super::body::JsonBody;
use super::openapi::{ErrorBody, ReadErrors, WriteErrors};
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
    /// Internal notes, oldest first: never sent to the customer.
    notes: Vec<Note>,
    /// The customer's other conversations, newest first, each with its
    /// status, labels and disposition.
    past_conversations: Vec<Conversation>,
}

/// How many of the customer's other conversations a view lists.
const PAST: usize = 20;

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
    // Someone else's conversation looks like one that does not exist; an
    // agent reads those she holds and those she worked on before.
    if let Principal::Agent(agent) = &who
        && !state.core.agent_has_conversation(agent, &id)
        && !state.core.agent_worked_on(agent, &id)
    {
        return Err(ApiError::not_found(format!("no conversation {id}")));
    }
    let history = state
        .core
        .history(&conversation.customer_id, &conversation.id, HISTORY)?;
    let notes = state.core.notes(&conversation.id)?;
    let mut past_conversations = state.core.conversations(
        &ConversationFilter {
            label: None,
            status: None,
            customer_id: Some(conversation.customer_id.clone()),
            limit: PAST + 1,
        },
        None,
    )?;
    past_conversations.retain(|c| c.id != conversation.id);
    past_conversations.truncate(PAST);
    Ok(Json(ConversationView {
        conversation,
        messages,
        history,
        notes,
        past_conversations,
    }))
}

/// 404 unless the conversation exists and the caller may work on it: a
/// supervisor, or an agent holding it (to an agent, someone else's looks
/// like one that does not exist).
fn workable(who: &Principal, state: &AppState, id: &str) -> Result<(), ApiError> {
    let exists = state.core.conversation_exists(id)?;
    let allowed = who.sees_all()
        || who
            .agent_id()
            .is_some_and(|a| state.core.agent_has_conversation(a, id));
    if exists && allowed {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no conversation {id}")))
    }
}

/// The note body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// The note (1-4000 characters).
    text: String,
}

/// `POST /api/conversations/{id}/notes` (its agent, supervisor): an
/// internal note, never sent to the customer, a bot or the channel.
#[utoipa::path(operation_id = "conversations_add_note", post, path = "/api/conversations/{id}/notes", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation id")), request_body = NoteBody, responses((status = 201, description = "Stored", body = Note), WriteErrors))]
pub async fn add_note(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NoteBody>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    workable(&who, &state, &id)?;
    let note = state.core.add_note(&id, who.actor(), &body.text).await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// `GET /api/conversations/{id}/notes` (its agent, supervisor).
#[utoipa::path(operation_id = "conversations_notes", get, path = "/api/conversations/{id}/notes", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation id")), responses((status = 200, description = "Its internal notes, oldest first", body = Vec<Note>), ReadErrors))]
pub async fn notes(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Note>>, ApiError> {
    workable(&who, &state, &id)?;
    Ok(Json(state.core.notes(&id)?))
}

/// The labels body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsBody {
    /// Every label the conversation should have (replaces the old ones).
    labels: Vec<String>,
}

/// `PUT /api/conversations/{id}/labels` (its agent, supervisor).
#[utoipa::path(operation_id = "conversations_labels", put, path = "/api/conversations/{id}/labels", tag = "conversations", security(("bearer" = [])), params(("id" = String, Path, description = "The conversation id")), request_body = LabelsBody, responses((status = 200, description = "The conversation with its labels", body = Conversation), WriteErrors))]
pub async fn labels(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<LabelsBody>,
) -> Result<Json<Conversation>, ApiError> {
    workable(&who, &state, &id)?;
    Ok(Json(state.core.set_labels(&id, body.labels).await?))
}

/// The listing's filters.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only conversations with this label.
    label: Option<String>,
    /// `open` or `resolved`.
    status: Option<ConversationStatus>,
    /// Only this customer's.
    customer_id: Option<String>,
    /// At most this many (default 50, at most 500).
    limit: Option<usize>,
}

/// `GET /api/conversations` (agents: those they worked on; supervisors:
/// all), newest first.
#[utoipa::path(operation_id = "conversations_list", get, path = "/api/conversations", tag = "conversations", security(("bearer" = [])), params(ListQuery), responses((status = 200, description = "Conversations, newest first", body = Vec<Conversation>), (status = 400, description = "An unknown or malformed query parameter", body = ErrorBody), ReadErrors))]
pub async fn list(
    who: Principal,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Conversation>>, ApiError> {
    let filter = ConversationFilter {
        label: query.label,
        status: query.status,
        customer_id: query.customer_id,
        limit: query.limit.unwrap_or(50).clamp(1, 500),
    };
    let agent = if who.sees_all() { None } else { who.agent_id() };
    Ok(Json(state.core.conversations(&filter, agent)?))
}

/// The reply body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    /// The reply (may be empty when it sends files).
    #[serde(default)]
    text: String,
    /// Files to send, by upload id (`POST .../attachments` first).
    #[serde(default)]
    attachments: Vec<String>,
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
    let message = state
        .core
        .reply(&id, Some(&agent), &body.text, &body.attachments)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(message)))
}

/// `GET /api/channels` (anyone signed in): the channels serving now — whether
/// an agent may write first on each, its free-text window and the approved
/// templates — for starting a conversation.
#[utoipa::path(operation_id = "channels_list", get, path = "/api/channels", tag = "conversations", security(("bearer" = [])), responses((status = 200, description = "The channels", body = Vec<ChannelView>), ReadErrors))]
pub async fn channels(_: Principal, State(state): State<AppState>) -> Json<Vec<ChannelView>> {
    Json(state.core.channels())
}

/// `POST /api/conversations` (the agent or supervisor who will handle it):
/// starts a conversation with a customer on a channel — free text within
/// the channel's window since her last message, else an approved template
/// — and assigns its task to the caller. 422 with the reason when the
/// channel's rules forbid it, 409 when she opted out or already has an
/// open conversation there.
#[utoipa::path(operation_id = "conversations_start", post, path = "/api/conversations", tag = "conversations", security(("bearer" = [])), request_body = StartConversation, responses((status = 201, description = "The conversation, its assigned task and the first message", body = Started), WriteErrors))]
pub async fn start(
    who: Principal,
    State(state): State<AppState>,
    JsonBody(input): JsonBody<StartConversation>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let agent = who
        .agent_id()
        .ok_or_else(|| {
            ApiError::forbidden(
                "only an agent or a supervisor starts conversations: sign in as one",
            )
        })?
        .to_string();
    Ok((
        StatusCode::CREATED,
        Json(state.core.start_conversation(&agent, input).await?),
    ))
}
