//! Callbacks and voicemail: a waiting caller who pressed the callback key
//! keeps her place without holding; the agent who accepts her task is
//! bridged to a call the voice channel places to her (`call-customer`),
//! retried per `[callbacks]` until answered, then closed as
//! `callback_failed`. A caller who left a voicemail keeps her task too: the
//! agent listens to the recording, nobody is dialled.

use crate::clock::now_ms;
use crate::conversations::{Callback, Conversation};
use crate::customers::IdentityKind;
use crate::routing::{Actor, Task, TaskState};
use crate::store::Batch;
use crate::wit::types::{self as wit, CallState, Identity};

use super::outbox::CallAction;
use super::{Core, CoreError};

/// Call-event metadata (contract 0.4): the caller asked to be called back.
pub(super) const CALLBACK_REQUEST: &str = "switchboard-callback";
/// Call-event metadata (contract 0.4): the callback this call is.
pub(super) const CALLBACK_ID: &str = "switchboard-callback-id";
/// Inbound-message metadata (contract 0.4.1): a voicemail of so many
/// seconds.
pub(super) const VOICEMAIL: &str = "switchboard-voicemail";
/// The disposition of a callback nobody answered.
pub const CALLBACK_FAILED: &str = "callback_failed";
/// Who closes a failed callback's task, in its history.
const SYSTEM: Actor<'static> = Actor {
    id: "system",
    supervisor: true,
};

/// The value of metadata `key`.
pub(super) fn meta<'a>(metadata: &'a [(String, String)], key: &str) -> Option<&'a str> {
    metadata
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

impl Core {
    /// The caller pressed the callback key: she keeps her place and hangs
    /// up; her task becomes a callback.
    pub(super) fn callback_requested(
        &self,
        channel: &str,
        call: &wit::CallEvent,
    ) -> Result<(), CoreError> {
        let now = now_ms();
        let marker = format!("{}:callback", call.call_id);
        let _gate = self.gate();
        if self.seen(channel, &marker)? {
            return Ok(());
        }
        let Some(mut conversation) = self.call_conversation(channel, &call.call_id)? else {
            tracing::debug!(%channel, call = %call.call_id, "a callback asked on a call the host never saw ring");
            return Ok(());
        };
        let waiting = self
            .task_of(&conversation)
            .is_some_and(|t| matches!(t.state, TaskState::Pending | TaskState::Reserved));
        let number = match (&conversation.reply_to, &call.from) {
            (Some(i), _) if i.kind == IdentityKind::Phone => Some(i.value.clone()),
            (
                _,
                Some(wit::AttestedIdentity {
                    identity: Identity::Phone(p),
                    ..
                }),
            ) => Some(p.clone()),
            _ => None,
        };
        let Some(number) = number.filter(|_| waiting) else {
            tracing::info!(%channel, call = %call.call_id, waiting, "a callback was asked but cannot be kept");
            return Ok(());
        };
        conversation.callback = Some(Callback {
            number: number.clone(),
            from: call.to.clone(),
            requested_at: now,
            attempts: 0,
            last_outcome: None,
        });
        let mut note = self.conversations.system_note(
            &conversation,
            format!(
                "The caller asked to be called back at {number}; she keeps her place in the queue"
            ),
            now,
        )?;
        note.provider_message_id = Some(marker);
        let mut batch = Batch::new();
        self.conversations
            .add_message(&mut batch, &conversation, &note);
        self.conversations.save(&mut batch, &conversation);
        self.store.write(batch)?;
        self.publish_message(&note, &conversation);
        Ok(())
    }

    /// An agent accepted a voice task: bridge the waiting caller, call her
    /// back, or (a voicemail) nothing. True when a call action was queued.
    pub(super) fn bridge_accepted(
        &self,
        batch: &mut Batch,
        task: &Task,
        agent: &str,
    ) -> Result<bool, CoreError> {
        let Some(mut conversation) = self.conversations.get(&task.conversation_id)? else {
            return Ok(false);
        };
        if conversation.voicemail_at.is_some() && conversation.callback.is_none() {
            return Ok(false);
        }
        let Some(endpoint) = self.voice_endpoint(agent) else {
            tracing::warn!(
                task = %task.id,
                %agent,
                "a voice task was accepted by an agent without a voice_endpoint; the call is not connected"
            );
            return Ok(false);
        };
        if conversation.callback.is_some() {
            self.call_back(batch, &mut conversation, endpoint, 0)?;
        } else {
            self.outbox.enqueue_call(
                batch,
                (&task.channel, &conversation.id),
                CallAction::Connect {
                    call_id: conversation.thread_key.clone(),
                    endpoint,
                },
                0,
            )?;
        }
        Ok(true)
    }

    /// Queues the next attempt to call the customer back, due at `at`.
    fn call_back(
        &self,
        batch: &mut Batch,
        conversation: &mut Conversation,
        endpoint: String,
        at: u64,
    ) -> Result<(), CoreError> {
        let Some(callback) = conversation.callback.as_mut() else {
            return Ok(());
        };
        callback.attempts += 1;
        let action = CallAction::CallBack {
            callback_id: format!("{}.{}", conversation.id, callback.attempts),
            to: callback.number.clone(),
            from: callback.from.clone(),
            endpoint,
        };
        self.outbox
            .enqueue_call(batch, (&conversation.channel, &conversation.id), action, at)?;
        self.conversations.save(batch, conversation);
        Ok(())
    }

    /// How a call placed for callback `id` (`<conversation>.<attempt>`)
    /// went: answered, ended (the task wraps up), or unanswered (tried
    /// again, then closed as `callback_failed`).
    pub(super) fn callback_progress(
        &self,
        channel: &str,
        call: &wit::CallEvent,
        id: &str,
    ) -> Result<(), CoreError> {
        let now = now_ms();
        let Some((conversation_id, attempt)) = id
            .rsplit_once('.')
            .and_then(|(c, n)| Some((c, n.parse::<u32>().ok()?)))
        else {
            return Err(CoreError::Invalid(format!("`{id}` is not a callback id")));
        };
        let outcome = match call.state {
            CallState::Ringing | CallState::Queued => return Ok(()),
            CallState::InProgress => "answered",
            CallState::Completed => "completed",
            CallState::NoAnswer => "no-answer",
            CallState::Busy => "busy",
            CallState::Failed => "failed",
            CallState::Canceled => "canceled",
        };
        let marker = format!("{}:{outcome}", call.call_id);
        let _gate = self.gate();
        if self.seen(channel, &marker)? {
            return Ok(());
        }
        let Some(mut conversation) = self.conversations.get(conversation_id)? else {
            return Ok(());
        };
        let task = self.task_of(&conversation);
        let Some(callback) = conversation.callback.as_mut() else {
            return Ok(());
        };
        if callback.attempts != attempt || conversation.channel != channel {
            tracing::debug!(%channel, %id, "news of an earlier callback attempt");
            return Ok(());
        }
        callback.last_outcome = Some(outcome.to_string());
        let (max, attempts) = (self.callbacks.max_attempts.max(1), callback.attempts);
        let assigned = task.as_ref().filter(|t| t.state == TaskState::Assigned);
        let mut batch = Batch::new();
        let mut wake = false;
        let text = match call.state {
            CallState::InProgress => "The customer answered the callback".to_string(),
            CallState::Completed => {
                if let Some(t) = assigned {
                    self.routing.wrap(&t.id)?;
                }
                let duration = meta(&call.metadata, "duration")
                    .map(|v| format!(" after {v} s"))
                    .unwrap_or_default();
                format!("Callback ended{duration}")
            }
            _ => {
                let endpoint = assigned
                    .and_then(|t| t.agent_id.as_deref())
                    .and_then(|a| self.voice_endpoint(a));
                match (assigned, endpoint) {
                    (Some(_), Some(endpoint)) if attempts < max => {
                        let at = now + self.callbacks.retry_after_ms;
                        self.call_back(&mut batch, &mut conversation, endpoint, at)?;
                        wake = true;
                        format!(
                            "The customer did not answer the callback ({outcome}, attempt {attempts} of {max}); calling again in {} s",
                            self.callbacks.retry_after_ms / 1_000
                        )
                    }
                    (Some(t), _) => {
                        self.routing
                            .close_for(&t.id, SYSTEM, Some(CALLBACK_FAILED.to_string()))?;
                        conversation.disposition = Some(CALLBACK_FAILED.to_string());
                        self.conversations
                            .resolve(&mut batch, &mut conversation, now);
                        format!("The callback failed: no answer after {attempts} attempts")
                    }
                    (None, _) => format!("The customer did not answer the callback ({outcome})"),
                }
            }
        };
        let mut note = self.conversations.system_note(&conversation, text, now)?;
        note.provider_message_id = Some(marker);
        self.conversations
            .add_message(&mut batch, &conversation, &note);
        self.conversations.save(&mut batch, &conversation);
        self.store.write(batch)?;
        self.publish_message(&note, &conversation);
        if wake {
            self.outbox.wake();
        }
        Ok(())
    }

    /// The conversation a call (by its provider call id) rang into.
    pub(super) fn call_conversation(
        &self,
        channel: &str,
        call_id: &str,
    ) -> Result<Option<Conversation>, CoreError> {
        let Some(start) = self
            .conversations
            .inbound_by_provider_id(channel, call_id)?
            .and_then(|id| self.conversations.message(&id).transpose())
            .transpose()?
        else {
            return Ok(None);
        };
        Ok(self.conversations.get(&start.conversation_id)?)
    }

    /// Whether `channel` already reported provider id `marker` (a
    /// redelivered webhook changes nothing).
    pub(super) fn seen(&self, channel: &str, marker: &str) -> Result<bool, CoreError> {
        Ok(self
            .conversations
            .inbound_by_provider_id(channel, marker)?
            .is_some())
    }

    /// A conversation's current task.
    pub(super) fn task_of(&self, conversation: &Conversation) -> Option<Task> {
        conversation
            .task_id
            .as_ref()
            .and_then(|t| self.routing.task(t))
    }

    fn voice_endpoint(&self, agent: &str) -> Option<String> {
        self.routing
            .agent(agent)
            .and_then(|a| a.voice_endpoint)
            .filter(|e| !e.trim().is_empty())
    }
}
