//! Erasure of a conversation: its record, messages, notes and indexes.

use super::{Conversation, Conversations, Message};
use crate::store::{Batch, StoreError, keys};

impl Conversations {
    /// Deletes, in `batch`, `conversation` with its messages, notes and
    /// index entries; returns its messages (whose files the caller
    /// deletes). Provider-id keys stay — they hold no text and keep a
    /// redelivered webhook from storing the message again.
    pub fn erase(
        &self,
        batch: &mut Batch,
        conversation: &Conversation,
    ) -> Result<Vec<Message>, StoreError> {
        let messages = self.messages(&conversation.id)?;
        for message in &messages {
            batch.delete(keys::message(&message.id));
        }
        for prefix in [
            keys::messages_of(&conversation.id),
            keys::notes_of(&conversation.id),
        ] {
            for rest in self.store.scan_keys(&prefix)? {
                batch.delete(format!("{prefix}{rest}"));
            }
        }
        batch.delete(keys::open_conversation(
            &conversation.customer_id,
            &conversation.channel,
            &conversation.thread_key,
        ));
        batch.delete(keys::conversation(&conversation.id));
        Ok(messages)
    }
}
