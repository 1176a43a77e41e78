//! Internal notes: what agents and supervisors write on a conversation for
//! each other. Kept apart from its messages, so nothing that hands messages
//! on (the outbox, bots, timelines plugins read, the web chat's reply log)
//! can ever carry one to the customer.

use serde::{Deserialize, Serialize};

use crate::store::{Batch, StoreError, keys};

use super::Conversations;

/// An internal note on a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Note {
    /// `note_…`.
    pub id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// Unix ms.
    pub at: u64,
    /// Who wrote it: an agent or supervisor id, or `admin`.
    pub author: String,
    /// The text.
    pub text: String,
    /// Always `true`: notes never leave the host.
    pub internal: bool,
    /// The task transfer it was written with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_of: Option<String>,
}

impl Conversations {
    /// A new note, written into `batch`.
    pub fn add_note(
        &self,
        batch: &mut Batch,
        conversation: &str,
        author: &str,
        text: &str,
        transfer_of: Option<&str>,
        now: u64,
    ) -> Result<Note, StoreError> {
        let note = Note {
            id: format!("note_{:012}", self.store.next_id()?),
            conversation_id: conversation.to_string(),
            at: now,
            author: author.to_string(),
            text: text.to_string(),
            internal: true,
            transfer_of: transfer_of.map(str::to_string),
        };
        batch.put_json(keys::note(conversation, now, &note.id), &note);
        Ok(note)
    }

    /// One note, by the conversation, time and id it was written with.
    pub fn note(&self, conversation: &str, at: u64, id: &str) -> Result<Option<Note>, StoreError> {
        self.store.get_json(&keys::note(conversation, at, id))
    }

    /// A conversation's notes, oldest first.
    pub fn notes(&self, conversation: &str) -> Result<Vec<Note>, StoreError> {
        self.store.scan_json(&keys::notes_of(conversation))
    }

    /// Every conversation, oldest first (ids are sequential).
    pub fn all(&self) -> Result<Vec<super::Conversation>, StoreError> {
        self.store.scan_json(keys::CONVERSATIONS)
    }
}
