//! What the event history keeps of messages.

use super::{Author, Conversation, Direction, Message};

/// The event history's record of a new message: who wrote on which
/// channel, never the words.
pub(super) fn message_record(
    conversation: &Conversation,
    message: &Message,
) -> crate::store::HistoryEvent {
    let kind = match (message.direction, message.author) {
        (_, Author::System) => "message.note",
        (Direction::Inbound, _) => "message.in",
        (Direction::Outbound, _) => "message.out",
    };
    let mut event = conversation_event(kind, conversation, message.at);
    event.agent_id = message.agent_id.clone();
    event.data = serde_json::json!({
        "message_id": message.id,
        "author": message.author,
        "channel_kind": conversation.channel_kind,
    });
    event
}

/// An event of `kind` at `at` about `conversation`: its id, customer,
/// channel and current task filled in.
pub fn conversation_event(
    kind: &str,
    conversation: &Conversation,
    at: u64,
) -> crate::store::HistoryEvent {
    let mut event = crate::store::HistoryEvent::new(kind, at);
    event.conversation_id = Some(conversation.id.clone());
    event.customer_id = Some(conversation.customer_id.clone());
    event.channel = Some(conversation.channel.clone());
    event.task_id = conversation.task_id.clone();
    event
}
