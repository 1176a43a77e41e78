//! The agent floor beyond one agent's own work: transfers, a supervisor
//! closing a task for an agent, internal notes, labels and dispositions,
//! finding past conversations, and canned responses.

use std::collections::HashSet;

use crate::canned::{self, CannedInput, CannedResponse, Fill};
use crate::clock::now_ms;
use crate::conversations::{Conversation, ConversationStatus, Note};
use crate::customers::IdentityKind;
use crate::kind::Kind;
use crate::routing::{Actor, Task, Transfer};
use crate::store::Batch;

use super::crm::Change as CrmChange;
use super::{Core, CoreError};

/// Longest note, in characters.
const MAX_NOTE_CHARS: usize = 4000;
/// Most labels on one conversation.
const MAX_LABELS: usize = 20;

/// Which conversations a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    /// Only those with this label.
    pub label: Option<String>,
    /// Only open or only resolved ones.
    pub status: Option<ConversationStatus>,
    /// Only this customer's.
    pub customer_id: Option<String>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// A canned response filled for one conversation.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RenderedCanned {
    /// The response.
    #[serde(flatten)]
    pub response: CannedResponse,
    /// Its text with the placeholders filled.
    pub rendered: String,
    /// Placeholders left empty: this customer or agent has no such value.
    pub missing: Vec<String>,
}

impl Core {
    /// `None`, or the disposition if `routing.dispositions` allows it.
    pub(super) fn check_disposition(
        &self,
        disposition: Option<String>,
    ) -> Result<Option<String>, CoreError> {
        let Some(d) = disposition.map(|d| d.trim().to_string()) else {
            return Ok(None);
        };
        let allowed = &self.floor.dispositions;
        if d.is_empty() || d.chars().count() > 64 {
            return Err(CoreError::Invalid(
                "`disposition` must be 1-64 characters".into(),
            ));
        }
        if !allowed.is_empty() && !allowed.contains(&d) {
            return Err(CoreError::Invalid(format!(
                "unknown disposition `{d}`; configured: {}",
                allowed.join(", ")
            )));
        }
        Ok(Some(d))
    }

    /// Transfers a task (see [`crate::routing::Routing::transfer`]); its
    /// note is stored on the conversation as an internal note, which the
    /// receiver sees first.
    pub async fn transfer(
        &self,
        task_id: &str,
        by: Actor<'_>,
        mut transfer: Transfer,
    ) -> Result<Task, CoreError> {
        transfer.note = match transfer.note.take() {
            // Masked before the hop records it (what an agent types in a
            // note is kept like a message).
            Some(n) => {
                let n = check_note(&n)?;
                Some(match self.routing.task(task_id) {
                    Some(t) => self.redactor.redact(&t.channel, t.channel_kind, &n).text,
                    None => n,
                })
            }
            None => None,
        };
        let note = transfer.note.clone();
        let (task, seq) = self.routing.transfer(task_id, by, transfer)?;
        if let Some(text) = note {
            let _gate = self.gate();
            let mut batch = Batch::new();
            self.write_note(
                &mut batch,
                &task.conversation_id,
                &task.customer_id,
                by.id,
                &text,
                Some(&task.id),
            )?;
            self.store.write(batch)?;
        }
        self.store.durable(seq).await?;
        self.store.sync().await?;
        self.crm.wake();
        Ok(task)
    }

    /// A supervisor completes an agent's task for them.
    pub async fn close_for(
        &self,
        task_id: &str,
        by: Actor<'_>,
        disposition: Option<String>,
    ) -> Result<Task, CoreError> {
        let disposition = self.check_disposition(disposition)?;
        let (task, _) = self.routing.close_for(task_id, by, disposition)?;
        self.resolve_conversation_of(&task)?;
        self.store.sync().await?;
        Ok(task)
    }

    /// Writes an internal note on a conversation. Notes are never sent to
    /// the customer, a bot or the channel.
    pub async fn add_note(
        &self,
        conversation_id: &str,
        author: &str,
        text: &str,
    ) -> Result<Note, CoreError> {
        let text = check_note(text)?;
        let (note, seq) = {
            let _gate = self.gate();
            let Some(conversation) = self.conversations.get(conversation_id)? else {
                return Err(CoreError::NotFound(format!(
                    "no conversation {conversation_id}"
                )));
            };
            let text = self
                .redactor
                .redact(&conversation.channel, conversation.channel_kind, &text)
                .text;
            let mut batch = Batch::new();
            let note = self.write_note(
                &mut batch,
                conversation_id,
                &conversation.customer_id,
                author,
                &text,
                None,
            )?;
            (note, self.store.write(batch)?)
        };
        self.store.durable(seq).await?;
        self.crm.wake();
        Ok(note)
    }

    /// A note in `batch`, and the CRM plugins' event about it in the same
    /// write (notes go nowhere else).
    fn write_note(
        &self,
        batch: &mut Batch,
        conversation_id: &str,
        customer_id: &str,
        author: &str,
        text: &str,
        transfer_of: Option<&str>,
    ) -> Result<Note, CoreError> {
        let note = self.conversations.add_note(
            batch,
            conversation_id,
            author,
            text,
            transfer_of,
            now_ms(),
        )?;
        self.crm.record(
            batch,
            customer_id,
            CrmChange::NoteAdded {
                conversation_id: conversation_id.to_string(),
                at: note.at,
                note_id: note.id.clone(),
            },
        )?;
        Ok(note)
    }

    /// A conversation's internal notes, oldest first.
    pub fn notes(&self, conversation_id: &str) -> Result<Vec<Note>, CoreError> {
        Ok(self.conversations.notes(conversation_id)?)
    }

    /// Replaces a conversation's labels.
    pub async fn set_labels(
        &self,
        conversation_id: &str,
        labels: Vec<String>,
    ) -> Result<Conversation, CoreError> {
        let labels = self.check_labels(labels)?;
        let (conversation, seq) = {
            let _gate = self.gate();
            let mut conversation = self
                .conversations
                .get(conversation_id)?
                .ok_or_else(|| CoreError::NotFound(format!("no conversation {conversation_id}")))?;
            conversation.labels = labels;
            conversation.updated_at = now_ms();
            let mut batch = Batch::new();
            // Reports group a conversation's tasks by its labels.
            let mut event = crate::conversations::conversation_event(
                "conversation.labeled",
                &conversation,
                conversation.updated_at,
            );
            event.data = serde_json::json!({ "labels": conversation.labels });
            batch.record(event);
            self.conversations.save(&mut batch, &conversation);
            let seq = self.store.write(batch)?;
            (conversation, seq)
        };
        self.store.durable(seq).await?;
        Ok(conversation)
    }

    /// Labels trimmed, deduplicated and checked against `[floor] labels`.
    fn check_labels(&self, labels: Vec<String>) -> Result<Vec<String>, CoreError> {
        let allowed = &self.floor.labels;
        let mut out: Vec<String> = Vec::new();
        for label in labels {
            let label = label.trim().to_string();
            let ok = if allowed.is_empty() {
                (1..=40).contains(&label.len())
                    && label.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                    })
            } else {
                allowed.contains(&label)
            };
            if !ok {
                return Err(CoreError::Invalid(if allowed.is_empty() {
                    format!("label `{label}`: labels are 1-40 of lowercase a-z, 0-9, `-` and `_`")
                } else {
                    format!(
                        "unknown label `{label}`; configured: {}",
                        allowed.join(", ")
                    )
                }));
            }
            if !out.contains(&label) {
                out.push(label);
            }
        }
        if out.len() > MAX_LABELS {
            return Err(CoreError::Invalid(format!(
                "at most {MAX_LABELS} labels per conversation"
            )));
        }
        out.sort();
        Ok(out)
    }

    /// Conversations matching `filter`, newest first: every one for a
    /// supervisor (`agent` none), or those the agent has worked on.
    pub fn conversations(
        &self,
        filter: &ConversationFilter,
        agent: Option<&str>,
    ) -> Result<Vec<Conversation>, CoreError> {
        let mine: Option<HashSet<String>> = agent.map(|a| self.routing.conversations_of_agent(a));
        let mut all = match &filter.customer_id {
            Some(c) => self.conversations.of_customer(c)?,
            None => self.conversations.all()?,
        };
        all.retain(|c| {
            mine.as_ref().is_none_or(|m| m.contains(&c.id))
                && filter.label.as_ref().is_none_or(|l| c.labels.contains(l))
                && filter.status.is_none_or(|s| c.status == s)
        });
        all.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
        all.truncate(filter.limit);
        Ok(all)
    }

    /// Every canned response, by shortcut.
    pub fn canned_responses(&self) -> Result<Vec<CannedResponse>, CoreError> {
        Ok(self.canned.list()?)
    }

    /// The canned responses that suit a conversation (its channel kind and
    /// customer's language), filled for its customer and `agent`.
    pub fn canned_for(
        &self,
        conversation_id: &str,
        agent: Option<&str>,
    ) -> Result<Vec<RenderedCanned>, CoreError> {
        let conversation = self
            .conversations
            .get(conversation_id)?
            .ok_or_else(|| CoreError::NotFound(format!("no conversation {conversation_id}")))?;
        let customer = self.customers.get(&conversation.customer_id)?;
        let language = customer
            .as_ref()
            .and_then(|c| c.attributes.get("language").cloned());
        let mut fill = Fill {
            agent_name: agent.and_then(|a| self.routing.agent(a)).map(|a| a.name),
            ..Fill::default()
        };
        if let Some(c) = &customer {
            fill.customer_name = c.display_name.clone();
            let first = |kind: IdentityKind| {
                c.identities
                    .iter()
                    .find(|i| i.kind == kind)
                    .map(|i| i.value.clone())
            };
            fill.customer_email = first(IdentityKind::Email);
            fill.customer_phone = first(IdentityKind::Phone);
        }
        Ok(self
            .canned
            .list()?
            .into_iter()
            .filter(|r| suits(r, conversation.channel_kind, language.as_deref()))
            .map(|response| {
                let (rendered, missing) = canned::render(&response.text, &fill);
                RenderedCanned {
                    response,
                    rendered,
                    missing,
                }
            })
            .collect())
    }

    /// Creates (`id` none) or replaces a canned response.
    pub async fn put_canned(
        &self,
        id: Option<&str>,
        input: CannedInput,
        by: &str,
    ) -> Result<CannedResponse, CoreError> {
        let (response, seq) = self.canned.put(id, input, by, now_ms())?;
        self.store.durable(seq).await?;
        Ok(response)
    }

    /// Deletes a canned response.
    pub async fn delete_canned(&self, id: &str) -> Result<(), CoreError> {
        let seq = self.canned.delete(id)?;
        self.store.durable(seq).await?;
        Ok(())
    }
}

/// Whether a canned response suits a channel kind and customer language.
fn suits(response: &CannedResponse, kind: Kind, language: Option<&str>) -> bool {
    (response.kinds.is_empty() || response.kinds.contains(&kind))
        && match (&response.language, language) {
            (None, _) | (_, None) => true,
            (Some(want), Some(have)) => have.to_ascii_lowercase().starts_with(want.as_str()),
        }
}

/// The note trimmed, or why it is refused.
fn check_note(text: &str) -> Result<String, CoreError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return Err(CoreError::Invalid(format!(
            "a note must be 1-{MAX_NOTE_CHARS} characters"
        )));
    }
    Ok(text.to_string())
}
