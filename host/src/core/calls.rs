//! Voice calls: a ringing (or queued) call is recorded like a message —
//! "Incoming call from …" — and opens a voice task; the end of a call
//! cancels its task when nobody took it yet (counted as abandoned, unless
//! the caller asked for a callback or left a voicemail) or sends it to
//! wrap-up when an agent had it. Callbacks are in `callbacks.rs`.

use crate::clock::now_ms;
use crate::conversations::Author;
use crate::kind::Kind;
use crate::routing::TaskState;
use crate::store::Batch;
use crate::wit::types::{self as wit, InboundMessage};

use super::inbound::Attested;
use super::{Core, CoreError, callbacks};

impl Core {
    /// A voice call changed state. A ringing (or queued) call is recorded
    /// like a message and opens a voice task; the end of a call cancels its
    /// task when nobody took it yet (abandoned) or sends it to wrap-up when
    /// an agent had it.
    pub(super) fn call_event(
        &self,
        channel: &str,
        kind: Kind,
        call: &wit::CallEvent,
        identities: &Attested,
    ) -> Result<(), CoreError> {
        use wit::CallState;
        if let Some(id) = callbacks::meta(&call.metadata, callbacks::CALLBACK_ID) {
            return self.callback_progress(channel, call, id);
        }
        if callbacks::meta(&call.metadata, callbacks::CALLBACK_REQUEST) == Some("requested") {
            return self.callback_requested(channel, call);
        }
        match call.state {
            CallState::Ringing | CallState::Queued => {
                self.ingest_message(
                    channel,
                    kind,
                    &call_message(call),
                    identities,
                    Author::System,
                )?;
            }
            CallState::InProgress => {
                tracing::debug!(%channel, call = %call.call_id, "call in progress");
            }
            CallState::Completed
            | CallState::NoAnswer
            | CallState::Busy
            | CallState::Failed
            | CallState::Canceled => self.call_ended(channel, call)?,
        }
        Ok(())
    }

    fn call_ended(&self, channel: &str, call: &wit::CallEvent) -> Result<(), CoreError> {
        let now = now_ms();
        let end_id = format!("{}:end", call.call_id);
        let _gate = self.gate();
        if self.seen(channel, &end_id)? {
            return Ok(());
        }
        let Some(mut conversation) = self.call_conversation(channel, &call.call_id)? else {
            tracing::debug!(%channel, call = %call.call_id, "the end of a call the host never saw ring");
            return Ok(());
        };
        let task = self.task_of(&conversation);
        let waiting = task
            .as_ref()
            .is_some_and(|t| matches!(t.state, TaskState::Pending | TaskState::Reserved));
        let duration = callbacks::meta(&call.metadata, "duration")
            .map(|v| format!(" after {v} s"))
            .unwrap_or_default();
        // She keeps her place: called back, or her voicemail is the task.
        let kept =
            waiting && (conversation.callback.is_some() || conversation.voicemail_at.is_some());
        let text = if kept && conversation.callback.is_some() {
            "The caller hung up; she will be called back".to_string()
        } else if kept {
            "The caller hung up after leaving a voicemail".to_string()
        } else if waiting {
            "The caller hung up while waiting".to_string()
        } else {
            format!("Call ended{duration}")
        };
        let mut message = self.conversations.system_note(&conversation, text, now)?;
        message.provider_message_id = Some(end_id);
        message.sent_at = call.at;
        message.metadata = call.metadata.iter().cloned().collect();
        let mut batch = Batch::new();
        self.conversations
            .add_message(&mut batch, &conversation, &message);
        match task {
            Some(_) if kept => {}
            Some(t) if waiting => {
                self.routing.cancel(&t.id)?;
                self.conversations
                    .resolve(&mut batch, &mut conversation, now);
            }
            Some(t) if t.state == TaskState::Assigned => {
                self.routing.wrap(&t.id)?;
            }
            _ => {}
        }
        self.store.write(batch)?;
        self.publish_message(&message, &conversation);
        Ok(())
    }
}

/// A call as the message that records it in the conversation: its call id
/// is both the provider message id (a redelivered ring creates nothing
/// twice) and the thread.
pub(super) fn call_message(call: &wit::CallEvent) -> InboundMessage {
    let mut metadata = call.metadata.clone();
    metadata.push(("call_id".into(), call.call_id.clone()));
    if let Some(to) = &call.to {
        metadata.push(("to".into(), to.clone()));
    }
    let from = match &call.from {
        Some(wit::AttestedIdentity {
            identity: wit::Identity::Phone(p) | wit::Identity::Email(p),
            ..
        }) => format!(" from {p}"),
        _ => String::new(),
    };
    InboundMessage {
        provider_message_id: call.call_id.clone(),
        thread_key: call.call_id.clone(),
        identities: call.from.iter().cloned().collect(),
        display_name: call.display_name.clone(),
        text: format!("Incoming call{from}"),
        attachments: Vec::new(),
        sent_at: call.at,
        metadata,
    }
}
