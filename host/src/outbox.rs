//! The durable outbox: agent and bot replies, and call actions (connect a
//! waiting caller to the agent who accepted), wait here until their channel
//! plugin delivers them. Retryable failures are retried with exponential
//! backoff; permanent failures, and entries out of tries, are dead-lettered
//! (a message is then marked `failed`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::config::{OutboxConfig, retry_delay_ms};
use crate::conversations::{Conversations, Message, MessageStatus};
use crate::events::{Event, Events, now_ms};
use crate::runtime::Runtime;
use crate::runtime::bindings::channeling::{ConnectCall, OutboundAction, OutboundMessage};
use crate::store::{Batch, Store, StoreError};

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
}

impl CallAction {
    fn to_wit(&self) -> OutboundAction {
        match self {
            CallAction::Connect { call_id, endpoint } => OutboundAction::ConnectCall(ConnectCall {
                call_id: call_id.clone(),
                agent_endpoint: endpoint.clone(),
            }),
            CallAction::End { call_id } => OutboundAction::EndCall(call_id.clone()),
        }
    }
}

/// A message or call action waiting for delivery (or dead-lettered).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutboxEntry {
    /// Entry id (orders delivery).
    pub id: String,
    /// The message to deliver (empty for a call action).
    pub message_id: String,
    /// The call action to perform instead of a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallAction>,
    /// Its conversation.
    pub conversation_id: String,
    /// The channel plugin.
    pub channel: String,
    /// Tries so far.
    pub attempts: u32,
    /// Unix ms of the next try.
    pub next_at: u64,
    /// Unix ms.
    pub created_at: u64,
    /// The last failure.
    pub last_error: Option<String>,
}

fn pending_key(id: &str) -> String {
    format!("outbox/{id}")
}
fn dead_key(id: &str) -> String {
    format!("deadletter/{id}")
}

struct Inner {
    store: Store,
    runtime: Runtime,
    conversations: Arc<Conversations>,
    config: OutboxConfig,
    events: Events,
    wake: Notify,
    stopped: AtomicBool,
}

/// The outbox and its delivery worker. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

impl Outbox {
    /// An outbox over `store`; call [`Outbox::start`] to deliver.
    pub fn new(
        store: Store,
        runtime: Runtime,
        conversations: Arc<Conversations>,
        config: OutboxConfig,
        events: Events,
    ) -> Self {
        Outbox {
            inner: Arc::new(Inner {
                store,
                runtime,
                conversations,
                config,
                events,
                wake: Notify::new(),
                stopped: AtomicBool::new(false),
            }),
        }
    }

    /// Queues a message for delivery, in `batch`.
    pub fn enqueue(&self, batch: &mut Batch, message: &Message) -> Result<OutboxEntry, StoreError> {
        self.queue(
            batch,
            message.id.clone(),
            None,
            &message.conversation_id,
            &message.channel,
        )
    }

    /// Queues a call action for `channel`, in `batch`.
    pub fn enqueue_call(
        &self,
        batch: &mut Batch,
        channel: &str,
        conversation_id: &str,
        action: CallAction,
    ) -> Result<OutboxEntry, StoreError> {
        self.queue(batch, String::new(), Some(action), conversation_id, channel)
    }

    /// A fresh entry, due now, put in `batch`.
    fn queue(
        &self,
        batch: &mut Batch,
        message_id: String,
        call: Option<CallAction>,
        conversation_id: &str,
        channel: &str,
    ) -> Result<OutboxEntry, StoreError> {
        let entry = OutboxEntry {
            id: format!("{:016x}", self.inner.store.next_id()?),
            message_id,
            call,
            conversation_id: conversation_id.to_string(),
            channel: channel.to_string(),
            attempts: 0,
            next_at: 0,
            created_at: now_ms(),
            last_error: None,
        };
        batch.put_json(pending_key(&entry.id), &entry);
        Ok(entry)
    }

    /// Wakes the worker.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Messages waiting for delivery.
    pub fn pending(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.inner.store.scan_json("outbox/")
    }

    /// Messages that could not be delivered.
    pub fn dead_letters(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.inner.store.scan_json("deadletter/")
    }

    /// Runs the delivery worker until [`Outbox::stop`].
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        let outbox = self.clone();
        tokio::spawn(async move {
            while !outbox.inner.stopped.load(Ordering::SeqCst) {
                let next = match outbox.deliver_due().await {
                    Ok(next) => next,
                    Err(e) => {
                        tracing::error!(error = %e, "outbox worker failed");
                        Some(now_ms() + 1_000)
                    }
                };
                let sleep = next.map_or(5_000, |at| at.saturating_sub(now_ms()).clamp(1, 5_000));
                tokio::select! {
                    _ = outbox.inner.wake.notified() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_millis(sleep)) => {}
                }
            }
        })
    }

    /// Stops the worker.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
    }

    /// Tries every due entry once, in order; returns when the next one is
    /// due.
    async fn deliver_due(&self) -> Result<Option<u64>, StoreError> {
        let mut next: Option<u64> = None;
        for entry in self.pending()? {
            if self.inner.stopped.load(Ordering::SeqCst) {
                break;
            }
            let now = now_ms();
            if entry.next_at > now {
                next = Some(next.map_or(entry.next_at, |n| n.min(entry.next_at)));
                continue;
            }
            if let Some(at) = self.deliver(entry).await? {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        Ok(next)
    }

    /// One try. Returns when to try again, if it should be.
    async fn deliver(&self, mut entry: OutboxEntry) -> Result<Option<u64>, StoreError> {
        let (action, mut message, customer) = match &entry.call {
            Some(call) => (call.to_wit(), None, None),
            None => {
                let conversations = &self.inner.conversations;
                let (Some(message), Some(conversation)) = (
                    conversations.message(&entry.message_id)?,
                    conversations.get(&entry.conversation_id)?,
                ) else {
                    let mut batch = Batch::new();
                    batch.delete(pending_key(&entry.id));
                    self.inner.store.write(batch)?;
                    return Ok(None);
                };
                let Some(to) = conversation.reply_to.as_ref() else {
                    return self.dead(
                        entry,
                        Some(message),
                        "the conversation has no address to reply to".into(),
                    );
                };
                let last = conversation.last_inbound.clone().unwrap_or_default();
                let action = OutboundAction::Message(OutboundMessage {
                    message_id: message.id.clone(),
                    conversation_id: conversation.id.clone(),
                    thread_key: conversation.thread_key.clone(),
                    to: to.to_wit(),
                    text: message.text.clone(),
                    attachments: message.attachments.iter().map(|a| a.to_wit()).collect(),
                    in_reply_to: Some(last.provider_message_id).filter(|p| !p.is_empty()),
                    metadata: last.metadata,
                });
                (action, Some(message), Some(conversation.customer_id))
            }
        };
        entry.attempts += 1;
        let outcome = self
            .inner
            .runtime
            .channel_deliver(&entry.channel, &action)
            .await;
        let (retryable, error) = match outcome {
            Ok(Ok(delivery)) => {
                let mut batch = Batch::new();
                batch.delete(pending_key(&entry.id));
                if let Some(message) = message.as_mut() {
                    message.status = Some(MessageStatus::Sent);
                    message.provider_message_id = delivery.provider_message_id;
                    message.error = None;
                    self.inner.conversations.save_message(&mut batch, message);
                }
                self.inner.store.write(batch)?;
                metrics::counter!("switchboard_outbox_delivered_total", "channel" => entry.channel.clone())
                    .increment(1);
                if let Some(message) = &message {
                    self.publish(message, customer.as_deref());
                }
                return Ok(None);
            }
            Ok(Err(e)) => (e.retryable, e.message),
            // The plugin is missing, reloading or faulty: it may be fixed.
            Err(e) => (true, e.to_string()),
        };
        tracing::warn!(entry = %entry.id, message = %entry.message_id, channel = %entry.channel, attempt = entry.attempts, retryable, %error, "delivery failed");
        if !retryable || entry.attempts >= self.inner.config.max_attempts {
            return self.dead(entry, message, error);
        }
        let config = &self.inner.config;
        entry.next_at = now_ms()
            + retry_delay_ms(
                config.base_backoff_ms,
                config.max_backoff_ms,
                entry.attempts,
            );
        entry.last_error = Some(error);
        let mut batch = Batch::new();
        batch.put_json(pending_key(&entry.id), &entry);
        self.inner.store.write(batch)?;
        Ok(Some(entry.next_at))
    }

    fn dead(
        &self,
        mut entry: OutboxEntry,
        mut message: Option<Message>,
        error: String,
    ) -> Result<Option<u64>, StoreError> {
        entry.last_error = Some(error.clone());
        let mut batch = Batch::new();
        batch.delete(pending_key(&entry.id));
        batch.put_json(dead_key(&entry.id), &entry);
        if let Some(message) = message.as_mut() {
            message.status = Some(MessageStatus::Failed);
            message.error = Some(error);
            self.inner.conversations.save_message(&mut batch, message);
        }
        self.inner.store.write(batch)?;
        metrics::counter!("switchboard_outbox_dead_letters_total", "channel" => entry.channel.clone())
            .increment(1);
        tracing::error!(entry = %entry.id, message = %entry.message_id, channel = %entry.channel, "dead-lettered");
        if let Some(message) = &message {
            self.publish(message, None);
        }
        Ok(None)
    }

    fn publish(&self, message: &Message, customer: Option<&str>) {
        self.inner.events.publish(|| Event {
            kind: "message.status",
            at: now_ms(),
            agent_id: message.agent_id.clone(),
            task_id: None,
            conversation_id: Some(message.conversation_id.clone()),
            customer_id: customer.map(str::to_string),
            data: serde_json::to_value(message).unwrap_or_default(),
        });
    }
}
