//! The durable outbox: agent and bot replies, and call actions (connect a
//! waiting caller to the agent who accepted), wait here until their channel
//! plugin delivers them. Retryable failures are retried with exponential
//! backoff; permanent failures, and entries out of tries, are dead-lettered
//! (a message is then marked `failed`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::OutboxConfig;
use crate::conversations::{Conversations, Message, MessageStatus};
use crate::customers::{CustomerError, Customers};
use crate::events::Events;
use crate::runtime::Runtime;
use crate::store::{Backoff, Batch, DurableQueue, Entry, Store, StoreError, Verdict, keys};
use crate::wit::channeling::{
    CallCustomer, ConnectCall, OutboundAction, OutboundMessage, TemplateMessage,
};
use crate::wit::types::Identity;

use super::{Core, CoreError, consent, publish_status};

/// The outbound metadata key naming the agent who wrote a message
/// (contract 0.3.2).
const AGENT_NAME_KEY: &str = "switchboard-agent-name";

/// Something a voice channel must do at its provider.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CallAction {
    /// Connect the waiting caller to an agent's endpoint.
    Connect {
        /// The provider's call id.
        call_id: String,
        /// Where to reach the agent, e.g. `client:ana`.
        endpoint: String,
    },
    /// Hang up.
    End {
        /// The provider's call id.
        call_id: String,
    },
    /// Call a customer back and bridge the agent (contract 0.4).
    CallBack {
        /// `<conversation>.<attempt>`: comes back with the call's events.
        callback_id: String,
        /// Her number.
        to: String,
        /// The number to call from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// Where to reach the agent.
        endpoint: String,
    },
}

impl CallAction {
    fn to_wit(&self) -> OutboundAction {
        match self {
            CallAction::Connect { call_id, endpoint } => OutboundAction::ConnectCall(ConnectCall {
                call_id: call_id.clone(),
                agent_endpoint: endpoint.clone(),
            }),
            CallAction::End { call_id } => OutboundAction::EndCall(call_id.clone()),
            CallAction::CallBack {
                callback_id,
                to,
                from,
                endpoint,
            } => OutboundAction::CallCustomer(CallCustomer {
                callback_id: callback_id.clone(),
                to: Identity::Phone(to.clone()),
                from: from.clone(),
                agent_endpoint: endpoint.clone(),
            }),
        }
    }
}

/// What the outbox delivers: a message, or a call action.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutboxItem {
    /// The message to deliver (empty for a call action).
    pub message_id: String,
    /// The call action to perform instead of a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallAction>,
    /// Its conversation.
    pub conversation_id: String,
    /// The channel plugin.
    pub channel: String,
}

/// A message or call action waiting for delivery (or dead-lettered).
pub type OutboxEntry = Entry<OutboxItem>;

/// The outbox and its delivery worker. Cheap to clone.
#[derive(Clone)]
pub(super) struct Outbox {
    pub(super) queue: DurableQueue<OutboxItem>,
    store: Store,
    runtime: Runtime,
    conversations: Arc<Conversations>,
    /// Whose consent is checked before each message.
    customers: Arc<Customers>,
    events: Events,
}

impl Outbox {
    /// An outbox over `store`; [`Outbox::start`] delivers.
    pub fn new(
        store: Store,
        runtime: Runtime,
        (conversations, customers): (Arc<Conversations>, Arc<Customers>),
        config: &OutboxConfig,
        events: Events,
    ) -> Self {
        let backoff = Backoff {
            max_attempts: config.max_attempts,
            base_ms: config.base_backoff_ms,
            max_ms: config.max_backoff_ms,
        };
        Outbox {
            queue: DurableQueue::new(store.clone(), keys::OUTBOX, backoff),
            store,
            runtime,
            conversations,
            customers,
            events,
        }
    }

    /// Queues a message for delivery, in `batch`.
    pub fn enqueue(&self, batch: &mut Batch, message: &Message) -> Result<OutboxEntry, StoreError> {
        self.queue.push(
            batch,
            OutboxItem {
                message_id: message.id.clone(),
                call: None,
                conversation_id: message.conversation_id.clone(),
                channel: message.channel.clone(),
            },
        )
    }

    /// Queues a call action for `channel`, in `batch`, due at `at` (unix
    /// ms; 0: now).
    pub fn enqueue_call(
        &self,
        batch: &mut Batch,
        (channel, conversation_id): (&str, &str),
        action: CallAction,
        at: u64,
    ) -> Result<OutboxEntry, StoreError> {
        self.queue.push_at(
            batch,
            OutboxItem {
                message_id: String::new(),
                call: Some(action),
                conversation_id: conversation_id.to_string(),
                channel: channel.to_string(),
            },
            at,
        )
    }

    /// Wakes the worker.
    pub fn wake(&self) {
        self.queue.wake();
    }

    /// Runs the delivery worker until the host shuts down.
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        let outbox = self.clone();
        tokio::spawn(async move {
            loop {
                let next = outbox.deliver_due().await;
                let closed = outbox.events.closed();
                if !outbox.queue.wait("outbox delivery", next, closed).await {
                    return;
                }
            }
        })
    }

    /// Tries every due entry once, in order (a failing one does not hold
    /// back the others); returns when the next one is due.
    async fn deliver_due(&self) -> Result<Option<u64>, StoreError> {
        let mut round = self.queue.round(|_| None::<()>)?;
        while let Some(entry) = round.next_due() {
            if self.events.is_closed() {
                break;
            }
            round.settled(self.deliver(entry).await?);
        }
        Ok(round.next_at())
    }

    /// One try.
    async fn deliver(&self, mut entry: OutboxEntry) -> Result<Verdict, StoreError> {
        let item = &entry.item;
        let (action, mut message, customer) = match &item.call {
            Some(call) => (call.to_wit(), None, None),
            None => {
                let (Some(message), Some(conversation)) = (
                    self.conversations.message(&item.message_id)?,
                    self.conversations.get(&item.conversation_id)?,
                ) else {
                    self.queue.discard(&entry)?;
                    return Ok(Verdict::Done);
                };
                let Some(to) = conversation.reply_to.as_ref() else {
                    let error = "the conversation has no address to reply to".to_string();
                    return self.failed(entry, Some(message), error, false);
                };
                // Queued before she opted out: not sent (the confirmation
                // of the opt-out itself is).
                let notice = message.metadata.get(consent::NOTICE_KEY);
                if notice.map(String::as_str) != Some(consent::CONSENT_NOTICE) {
                    let customer = match self.customers.get(&conversation.customer_id) {
                        Ok(customer) => customer,
                        Err(CustomerError::Store(e)) => return Err(e),
                        Err(_) => None,
                    };
                    if let Some(why) = customer
                        .as_ref()
                        .and_then(|c| consent::refusal(c, &conversation.channel))
                    {
                        return self.failed(entry, Some(message), why, false);
                    }
                }
                let mut last = conversation.last_inbound.clone().unwrap_or_default();
                if let Some(name) = &message.agent_name {
                    last.metadata
                        .push((AGENT_NAME_KEY.to_string(), name.clone()));
                }
                // A survey's question: its kind, for a channel that shows
                // a rating (its thanks, sent after the answer, is not one).
                if notice.map(String::as_str) == Some(super::surveys::SURVEY_NOTICE)
                    && let Some(survey) = conversation.survey.as_ref().filter(|s| s.score.is_none())
                {
                    last.metadata.push((
                        super::surveys::SURVEY_META.to_string(),
                        survey.kind.as_str().to_string(),
                    ));
                }
                let action = OutboundAction::Message(OutboundMessage {
                    message_id: message.id.clone(),
                    conversation_id: conversation.id.clone(),
                    thread_key: conversation.thread_key.clone(),
                    to: to.to_wit(),
                    text: message.text.clone(),
                    attachments: message.attachments.iter().map(|a| a.to_wit()).collect(),
                    in_reply_to: Some(last.provider_message_id).filter(|p| !p.is_empty()),
                    metadata: last.metadata,
                    template: message.template.as_ref().map(|t| TemplateMessage {
                        name: t.name.clone(),
                        language: t.language.clone(),
                        parameters: t.parameters.clone(),
                    }),
                });
                let whose = (conversation.customer_id, conversation.thread_key);
                (action, Some(message), Some(whose))
            }
        };
        entry.attempts += 1;
        let channel = entry.item.channel.clone();
        let (retryable, error) = match self.runtime.channel_deliver(&channel, &action).await {
            Ok(Ok(delivery)) => {
                let mut batch = Batch::new();
                self.queue.remove(&mut batch, &entry);
                if let Some(message) = message.as_mut() {
                    message.status = Some(MessageStatus::Sent);
                    message.provider_message_id = delivery.provider_message_id;
                    message.error = None;
                    self.conversations.save_message(&mut batch, message);
                }
                self.store.write(batch)?;
                metrics::counter!("switchboard_outbox_delivered_total", "channel" => channel)
                    .increment(1);
                if let Some(message) = &message {
                    let (customer, thread) = customer
                        .as_ref()
                        .map(|(c, t)| (c.as_str(), t.as_str()))
                        .unzip();
                    publish_status(&self.events, message, customer, thread);
                }
                return Ok(Verdict::Done);
            }
            Ok(Err(e)) => (e.retryable, e.message),
            // The plugin is missing, reloading or faulty: it may be fixed.
            Err(e) => (true, e.to_string()),
        };
        tracing::warn!(entry = %entry.id, message = %entry.item.message_id, %channel, attempt = entry.attempts, retryable, %error, "delivery failed");
        self.failed(entry, message, error, retryable)
    }

    /// Records a failed try: retried later, or dead-lettered with its
    /// message marked `failed`.
    fn failed(
        &self,
        mut entry: OutboxEntry,
        mut message: Option<Message>,
        error: String,
        retryable: bool,
    ) -> Result<Verdict, StoreError> {
        let mut batch = Batch::new();
        let verdict = self
            .queue
            .fail(&mut batch, &mut entry, error.clone(), retryable);
        let dead = verdict == Verdict::Dead;
        if dead && let Some(message) = message.as_mut() {
            message.status = Some(MessageStatus::Failed);
            message.error = Some(error);
            self.conversations.save_message(&mut batch, message);
        }
        self.store.write(batch)?;
        if dead {
            metrics::counter!("switchboard_outbox_dead_letters_total", "channel" => entry.item.channel.clone())
                .increment(1);
            tracing::error!(entry = %entry.id, message = %entry.item.message_id, channel = %entry.item.channel, "dead-lettered");
            if let Some(message) = &message {
                publish_status(&self.events, message, None, None);
            }
        }
        Ok(verdict)
    }
}

impl Core {
    /// Replies and call actions waiting for delivery, and the dead-lettered
    /// ones.
    pub fn outbox(&self) -> Result<(Vec<OutboxEntry>, Vec<OutboxEntry>), CoreError> {
        Ok((
            self.outbox.queue.pending()?,
            self.outbox.queue.dead_letters()?,
        ))
    }
}
