//! The contact-center core: what happens when a channel reports something or
//! an agent acts, across customers, conversations, routing and the outbox.
//!
//! Writes that touch customers and conversations run under one short write
//! gate (no awaits inside it), so identity resolution and idempotency checks
//! see a consistent store. Every operation that answers an external request
//! returns only after its writes are durable.

use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::conversations::{
    Attachment, Author, Conversation, ConversationStatus, Conversations, Direction, Message,
    MessageStatus,
};
use crate::crm::{Change as CrmChange, Crm};
use crate::customers::{Customer, CustomerError, Customers, Identity, Merge};
use crate::events::{Event, Events, now_ms};
use crate::outbox::{CallAction, Outbox};
use crate::routing::trend::{self, Sample, Trend};
use crate::routing::{Kind, NewTask, Routing, RoutingError, Task, TaskState};
use crate::runtime::bindings::channeling::WebhookOutcome;
use crate::runtime::bindings::types::{
    self as wit, ChannelEvent, DeliveryStatus, ErrorKind, HttpRequest, HttpResponse,
    InboundMessage, StatusUpdate, TimelineEntry,
};
use crate::runtime::{CallError, CustomerDirectory, Runtime};
use crate::store::{Batch, Store, StoreError};

/// Why a core operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Bad input from the caller.
    #[error("{0}")]
    Invalid(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// Not allowed for this caller.
    #[error("{0}")]
    Forbidden(String),
    /// Wrong state.
    #[error("{0}")]
    Conflict(String),
    /// A plugin answered a webhook with an error of its own.
    #[error("{message}")]
    Plugin {
        /// The status to answer with.
        status: u16,
        /// Its message.
        message: String,
    },
    /// A plugin failed or could not run.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CustomerError> for CoreError {
    fn from(e: CustomerError) -> Self {
        match e {
            CustomerError::Store(s) => CoreError::Store(s),
            CustomerError::NotFound(_) => CoreError::NotFound(e.to_string()),
            CustomerError::Identity(_)
            | CustomerError::SameCustomer(_)
            | CustomerError::NoIdentity => CoreError::Invalid(e.to_string()),
        }
    }
}

impl From<RoutingError> for CoreError {
    fn from(e: RoutingError) -> Self {
        match e {
            RoutingError::NotFound(m) => CoreError::NotFound(m),
            RoutingError::Forbidden(m) => CoreError::Forbidden(m),
            RoutingError::Conflict(m) => CoreError::Conflict(m),
            RoutingError::Invalid(m) => CoreError::Invalid(m),
            RoutingError::Store(s) => CoreError::Store(s),
        }
    }
}

/// What storing one inbound message did.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// The stored message.
    pub message_id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// Its customer.
    pub customer_id: String,
    /// The task created for a new conversation.
    pub task_id: Option<String>,
}

/// The core services, wired together.
pub struct Core {
    /// The database.
    pub store: Store,
    /// Customer profiles.
    pub customers: Arc<Customers>,
    /// Conversations and messages.
    pub conversations: Arc<Conversations>,
    /// Queue, agents, assignments.
    pub routing: Routing,
    /// Outbound delivery.
    pub outbox: Outbox,
    /// Customer events for CRM plugins, and enrichment.
    pub crm: Crm,
    /// Live events.
    pub events: Events,
    /// Waiting tasks over the last hour.
    pub trend: Arc<Trend>,
    pub(crate) runtime: Runtime,
    channel_skills: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u8>>,
    /// The bot each channel hands new conversations to.
    bots: std::collections::BTreeMap<String, String>,
    /// Wakes the bot worker when a turn is queued.
    pub(crate) bot_wake: tokio::sync::Notify,
    gate: Mutex<()>,
}

impl Core {
    /// Wires the services together (nothing runs until [`Core::start`]).
    pub fn new(
        config: &Config,
        store: Store,
        customers: Arc<Customers>,
        conversations: Arc<Conversations>,
        runtime: Runtime,
        events: Events,
    ) -> Result<Core, StoreError> {
        let routing = Routing::new(
            store.clone(),
            runtime.clone(),
            customers.clone(),
            config.routing.clone(),
            events.clone(),
        )?;
        let outbox = Outbox::new(
            store.clone(),
            runtime.clone(),
            conversations.clone(),
            config.outbox.clone(),
            events.clone(),
        );
        let crm = Crm::new(store.clone(), runtime.clone(), config.crm.clone());
        Ok(Core {
            crm,
            store,
            customers,
            conversations,
            routing,
            outbox,
            events,
            trend: Arc::default(),
            runtime,
            channel_skills: config.routing.channel_skills.clone(),
            bots: config
                .plugins
                .iter()
                .filter_map(|(channel, s)| Some((channel.clone(), s.bot.clone()?)))
                .collect(),
            bot_wake: tokio::sync::Notify::new(),
            gate: Mutex::new(()),
        })
    }

    /// Starts the dispatcher, the outbox worker, the bot worker and the
    /// queue sampler.
    pub fn start(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let (routing, trend, events) = (
            self.routing.clone(),
            self.trend.clone(),
            self.events.clone(),
        );
        let sampler = tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(std::time::Duration::from_millis(trend::INTERVAL_MS));
            loop {
                tokio::select! {
                    _ = tick.tick() => trend.record(Sample::of(&routing.stats(), now_ms())),
                    _ = events.closed() => return,
                }
            }
        });
        vec![
            self.routing.start(),
            self.outbox.start(),
            crate::bots::start(self.clone()),
            crate::crm::start(self.clone()),
            sampler,
        ]
    }

    /// Stops them.
    pub fn stop(&self) {
        self.routing.stop();
        self.outbox.stop();
    }

    pub(crate) fn gate(&self) -> std::sync::MutexGuard<'_, ()> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- inbound -------------------------------------------------------------

    /// Hands a webhook to a channel plugin, stores what it reports, and
    /// returns the plugin's response once that is durable.
    pub async fn handle_webhook(
        &self,
        channel: &str,
        request: &HttpRequest,
    ) -> Result<HttpResponse, CoreError> {
        let info = self
            .runtime
            .channel_info(channel)
            .ok_or_else(|| CoreError::NotFound(format!("no channel plugin `{channel}`")))?;
        let kind = Kind::from_wit(info.kind);
        let outcome: WebhookOutcome = match self.runtime.channel_webhook(channel, request).await? {
            Ok(outcome) => outcome,
            Err(e) => {
                let status = match e.kind {
                    ErrorKind::BadRequest => 400,
                    ErrorKind::Unauthorized => 401,
                    ErrorKind::Forbidden => 403,
                    ErrorKind::NotFound => 404,
                    ErrorKind::Unavailable => 503,
                    ErrorKind::Internal => 500,
                };
                return Err(CoreError::Plugin {
                    status,
                    message: e.message,
                });
            }
        };
        // Check every event before storing any, so a bad one stores nothing;
        // the identities normalized here are the ones stored.
        let mut normalized = Vec::new();
        for event in &outcome.events {
            match event {
                ChannelEvent::Message(m) => {
                    normalized.push(self.identities(channel, m)?);
                    if m.provider_message_id.trim().is_empty() {
                        return Err(CoreError::Invalid(
                            "the channel reported a message without a provider message id".into(),
                        ));
                    }
                }
                ChannelEvent::Call(call) => {
                    if call.call_id.trim().is_empty() {
                        return Err(CoreError::Invalid(
                            "the channel reported a call without a call id".into(),
                        ));
                    }
                    normalized.push(self.identities(channel, &call_message(call))?);
                }
                ChannelEvent::Status(_) => {}
            }
        }
        let mut normalized = normalized.into_iter();
        for event in &outcome.events {
            match event {
                ChannelEvent::Message(m) => {
                    let identities = normalized.next().expect("one per message event");
                    self.ingest_message(channel, kind, m, &identities, Author::Customer)?;
                }
                ChannelEvent::Status(s) => self.status_update(channel, s)?,
                ChannelEvent::Call(call) => {
                    let identities = normalized.next().expect("one per call event");
                    self.call_event(channel, kind, call, &identities)?;
                }
            }
        }
        // Also covers a redelivery whose first delivery is still flushing.
        self.store.sync().await?;
        Ok(outcome.response)
    }

    fn identities(&self, channel: &str, m: &InboundMessage) -> Result<Vec<Identity>, CoreError> {
        let normalizer = self.customers.normalizer();
        let mut out: Vec<Identity> = Vec::new();
        for identity in &m.identities {
            let id = normalizer
                .from_wit(identity)
                .map_err(|e| CoreError::Invalid(format!("channel {channel}: {e}")))?;
            if !out.contains(&id) {
                out.push(id);
            }
        }
        if out.is_empty() {
            out.push(
                normalizer
                    .handle(channel, &m.thread_key)
                    .map_err(|e| CoreError::Invalid(format!("channel {channel}: {e}")))?,
            );
        }
        Ok(out)
    }

    /// Stores one inbound message with its normalized identities (`None`
    /// when its provider message id was stored before): resolves
    /// the customer, finds or opens the conversation, and queues a task for
    /// a new conversation. Not yet durable: callers wait on the store before
    /// acknowledging.
    fn ingest_message(
        &self,
        channel: &str,
        kind: Kind,
        m: &InboundMessage,
        identities: &[Identity],
        author: Author,
    ) -> Result<Option<Ingested>, CoreError> {
        let now = now_ms();
        let gate = self.gate();
        // A provider message id seen before: stored already, nothing to do.
        if self
            .conversations
            .inbound_by_provider_id(channel, &m.provider_message_id)?
            .is_some()
        {
            return Ok(None);
        }
        let resolved = self.customers.resolve(
            identities,
            m.display_name.as_deref(),
            now,
            &mut |batch, merge| self.rekey(batch, merge),
        )?;
        let customer = resolved.customer;
        let mut batch = Batch::new();
        let mut tell_crm = false;
        if resolved.created {
            tell_crm |= self
                .crm
                .record(&mut batch, &customer.id, CrmChange::CustomerCreated)?;
        } else if resolved.updated {
            tell_crm |= self
                .crm
                .record(&mut batch, &customer.id, CrmChange::CustomerUpdated)?;
        }
        tell_crm |= self
            .crm
            .enrich_if_stale(&mut batch, &customer.id, &customer.attributes);
        let mut conversation =
            match self
                .conversations
                .open_for(&customer.id, channel, &m.thread_key)?
            {
                Some(c) => c,
                None => {
                    let mut created = self.conversations.create(
                        &mut batch,
                        &customer.id,
                        channel,
                        kind,
                        &m.thread_key,
                        identities.first().cloned(),
                        now,
                    )?;
                    // A channel with a bot gives it every new conversation.
                    created.bot = self.bots.get(channel).cloned();
                    created
                }
            };
        let message = Message {
            id: self.conversations.new_message_id()?,
            at: now,
            channel: channel.to_string(),
            conversation_id: conversation.id.clone(),
            direction: Direction::Inbound,
            author,
            text: m.text.clone(),
            attachments: m.attachments.iter().map(Attachment::from).collect(),
            status: None,
            provider_message_id: Some(m.provider_message_id.clone()),
            sent_at: m.sent_at,
            agent_id: None,
            error: None,
            metadata: m.metadata.iter().cloned().collect(),
        };
        self.conversations
            .add_message(&mut batch, &conversation, &message);
        tell_crm |= self.crm.record(
            &mut batch,
            &customer.id,
            CrmChange::InteractionLogged {
                message_id: message.id.clone(),
            },
        )?;
        conversation.last_inbound = Some(crate::conversations::LastInbound {
            provider_message_id: m.provider_message_id.clone(),
            metadata: m.metadata.clone(),
        });
        conversation.updated_at = now;
        // A conversation whose task was canceled (the customer gave up, then
        // wrote again) needs a new task.
        let needs_task = conversation.bot.is_none()
            && match &conversation.task_id {
                None => true,
                Some(t) => self
                    .routing
                    .task(t)
                    .is_none_or(|t| t.state == TaskState::Canceled),
            };
        let bot_turn = match &conversation.bot {
            Some(bot) => Some(crate::bots::queue_turn(
                &self.store,
                &mut batch,
                bot,
                &conversation.id,
                &message.id,
            )?),
            None => None,
        };
        let task = if needs_task {
            let task = self.routing.new_task(
                &mut batch,
                NewTask {
                    channel: channel.to_string(),
                    kind,
                    conversation_id: conversation.id.clone(),
                    customer_id: customer.id.clone(),
                    preferred_agent: customer.last_agent.clone(),
                    skills: self
                        .channel_skills
                        .get(channel)
                        .into_iter()
                        .flatten()
                        .map(|(name, level)| crate::routing::Skill {
                            name: name.clone(),
                            min_level: *level,
                        })
                        .collect(),
                    language: customer.attributes.get("language").cloned(),
                    priority: None,
                    reason: None,
                    summary: None,
                },
            )?;
            conversation.task_id = Some(task.id.clone());
            Some(task)
        } else {
            None
        };
        self.conversations.save(&mut batch, &conversation);
        self.store.write(batch)?;
        drop(gate);
        metrics::counter!("switchboard_messages_received_total", "channel" => channel.to_string())
            .increment(1);
        let task_id = task.as_ref().map(|t| t.id.clone());
        self.publish_message(&message, &conversation);
        if let Some(task) = task {
            self.routing.enqueue(task);
        }
        if bot_turn.is_some() {
            self.bot_wake.notify_one();
        }
        if tell_crm {
            self.crm.wake();
        }
        Ok(Some(Ingested {
            message_id: message.id,
            conversation_id: conversation.id,
            customer_id: customer.id,
            task_id,
        }))
    }

    /// A voice call changed state. A ringing (or queued) call is recorded
    /// like a message and opens a voice task; the end of a call cancels its
    /// task when nobody took it yet (abandoned) or sends it to wrap-up when
    /// an agent had it.
    fn call_event(
        &self,
        channel: &str,
        kind: Kind,
        call: &wit::CallEvent,
        identities: &[Identity],
    ) -> Result<(), CoreError> {
        use wit::CallState;
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
        if self
            .conversations
            .inbound_by_provider_id(channel, &end_id)?
            .is_some()
        {
            return Ok(());
        }
        let Some(start) = self
            .conversations
            .inbound_by_provider_id(channel, &call.call_id)?
            .and_then(|id| self.conversations.message(&id).transpose())
            .transpose()?
        else {
            tracing::debug!(%channel, call = %call.call_id, "the end of a call the host never saw ring");
            return Ok(());
        };
        let Some(mut conversation) = self.conversations.get(&start.conversation_id)? else {
            return Ok(());
        };
        let task = conversation
            .task_id
            .as_ref()
            .and_then(|t| self.routing.task(t));
        let waiting = task
            .as_ref()
            .is_some_and(|t| matches!(t.state, TaskState::Pending | TaskState::Reserved));
        let duration = call
            .metadata
            .iter()
            .find(|(k, _)| k == "duration")
            .map(|(_, v)| format!(" after {v} s"))
            .unwrap_or_default();
        let text = if waiting {
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

    /// Tells listeners about a new message of `conversation`; the agent
    /// holding its task sees it on their own stream.
    pub(crate) fn publish_message(&self, message: &Message, conversation: &Conversation) {
        let agent = message.agent_id.clone().or_else(|| {
            conversation
                .task_id
                .as_ref()
                .and_then(|t| self.routing.task(t))
                .and_then(|t| t.agent_id)
        });
        self.events.publish(|| Event {
            kind: "message.created",
            at: message.at,
            agent_id: agent,
            task_id: conversation.task_id.clone(),
            conversation_id: Some(conversation.id.clone()),
            customer_id: Some(conversation.customer_id.clone()),
            data: serde_json::to_value(message).unwrap_or_default(),
        });
    }

    fn rekey(&self, batch: &mut Batch, merge: &Merge) -> Result<(), StoreError> {
        self.conversations.rekey(batch, merge)?;
        self.routing.rekey_customer(batch, merge);
        // Events of the merged profile not yet delivered are delivered as
        // the survivor's (their CRM contact is gone with the merge).
        for mut entry in self.crm.pending()? {
            if entry.customer_id == merge.merged {
                entry.customer_id = merge.survivor.clone();
                batch.put_json(format!("crmq/{}", entry.id), &entry);
            }
        }
        self.crm.record(
            batch,
            &merge.survivor,
            CrmChange::CustomersMerged {
                merged_id: merge.merged.clone(),
            },
        )?;
        self.crm.wake();
        Ok(())
    }

    /// A provider's delivery report for a message the host sent.
    fn status_update(&self, channel: &str, s: &StatusUpdate) -> Result<(), CoreError> {
        let _gate = self.gate();
        let Some(mut message) = self
            .conversations
            .outbound_by_provider_id(channel, &s.provider_message_id)?
        else {
            tracing::debug!(%channel, id = %s.provider_message_id, "status for an unknown message");
            return Ok(());
        };
        let new = match s.status {
            DeliveryStatus::Sent => MessageStatus::Sent,
            DeliveryStatus::Delivered => MessageStatus::Delivered,
            DeliveryStatus::Read => MessageStatus::Read,
            DeliveryStatus::Failed => MessageStatus::Failed,
        };
        let rank = |s: Option<MessageStatus>| match s {
            None | Some(MessageStatus::Queued) => 0,
            Some(MessageStatus::Sent) => 1,
            Some(MessageStatus::Delivered) => 2,
            Some(MessageStatus::Read) => 3,
            Some(MessageStatus::Failed) => 4,
        };
        // Reports arrive out of order; a message never goes back.
        if new == MessageStatus::Failed || rank(Some(new)) > rank(message.status) {
            message.status = Some(new);
            if new == MessageStatus::Failed {
                message.error = s.error.clone();
            }
            let mut batch = Batch::new();
            self.conversations.save_message(&mut batch, &message);
            self.store.write(batch)?;
            self.events.publish(|| Event {
                kind: "message.status",
                at: now_ms(),
                agent_id: message.agent_id.clone(),
                task_id: None,
                conversation_id: Some(message.conversation_id.clone()),
                customer_id: None,
                data: serde_json::to_value(&message).unwrap_or_default(),
            });
        }
        Ok(())
    }

    // ---- agents' actions -------------------------------------------------

    /// The assigned agent replies: the message goes into the outbox.
    pub async fn reply(
        &self,
        conversation_id: &str,
        agent: Option<&str>,
        text: &str,
    ) -> Result<Message, CoreError> {
        if text.trim().is_empty() {
            return Err(CoreError::Invalid("`text` must not be empty".into()));
        }
        let now = now_ms();
        let (message, conversation, seq) = {
            let _gate = self.gate();
            let conversation = self
                .conversations
                .get(conversation_id)?
                .ok_or_else(|| CoreError::NotFound(format!("no conversation {conversation_id}")))?;
            if conversation.status != ConversationStatus::Open {
                return Err(CoreError::Conflict(format!(
                    "conversation {conversation_id} is resolved"
                )));
            }
            if conversation.reply_to.is_none() {
                return Err(CoreError::Conflict(format!(
                    "conversation {conversation_id} has no address to reply to"
                )));
            }
            let author = if agent.is_some() {
                Author::Agent
            } else {
                Author::System
            };
            let mut batch = Batch::new();
            let message =
                self.queue_outbound(&mut batch, &conversation, author, agent, text, now)?;
            let seq = self.store.write(batch)?;
            (message, conversation, seq)
        };
        self.store.durable(seq).await?;
        self.outbox.wake();
        self.crm.wake();
        self.publish_message(&message, &conversation);
        Ok(message)
    }

    /// An outbound message of `conversation`, stored and queued for its
    /// channel in `batch` (under the gate).
    pub(crate) fn queue_outbound(
        &self,
        batch: &mut Batch,
        conversation: &Conversation,
        author: Author,
        agent: Option<&str>,
        text: &str,
        now: u64,
    ) -> Result<Message, CoreError> {
        let message = Message {
            id: self.conversations.new_message_id()?,
            at: now,
            channel: conversation.channel.clone(),
            conversation_id: conversation.id.clone(),
            direction: Direction::Outbound,
            author,
            text: text.to_string(),
            attachments: Vec::new(),
            status: Some(MessageStatus::Queued),
            provider_message_id: None,
            sent_at: None,
            agent_id: agent.map(str::to_string),
            error: None,
            metadata: Default::default(),
        };
        self.conversations
            .add_message(batch, conversation, &message);
        self.outbox.enqueue(batch, &message)?;
        // The caller writes the batch; the worker also looks every few
        // seconds, and callers wake it after writing.
        self.crm.record(
            batch,
            &conversation.customer_id,
            CrmChange::InteractionLogged {
                message_id: message.id.clone(),
            },
        )?;
        Ok(message)
    }

    /// The reserved agent accepts; the customer's last agent becomes this
    /// one.
    pub async fn accept(&self, task_id: &str, agent: &str) -> Result<Task, CoreError> {
        let (task, _) = self.routing.accept(task_id, agent)?;
        let mut connect = false;
        {
            let _gate = self.gate();
            let mut batch = Batch::new();
            self.customers
                .set_last_agent(&mut batch, &task.customer_id, agent, now_ms())?;
            // A caller is waiting: bridge the call to the agent.
            if task.channel_kind == Kind::Voice
                && let Some(conversation) = self.conversations.get(&task.conversation_id)?
            {
                let endpoint = self
                    .routing
                    .agent(agent)
                    .and_then(|a| a.voice_endpoint)
                    .filter(|e| !e.trim().is_empty());
                match endpoint {
                    Some(endpoint) => {
                        self.outbox.enqueue_call(
                            &mut batch,
                            &task.channel,
                            &conversation.id,
                            CallAction::Connect {
                                call_id: conversation.thread_key.clone(),
                                endpoint,
                            },
                        )?;
                        connect = true;
                    }
                    None => tracing::warn!(
                        task = %task.id,
                        %agent,
                        "a voice task was accepted by an agent without a voice_endpoint; the call is not connected"
                    ),
                }
            }
            self.store.write(batch)?;
        }
        self.store.sync().await?;
        if connect {
            self.outbox.wake();
        }
        Ok(task)
    }

    /// The reserved agent declines.
    pub async fn reject(&self, task_id: &str, agent: &str) -> Result<Task, CoreError> {
        let (task, seq) = self.routing.reject(task_id, agent)?;
        self.store.durable(seq).await?;
        Ok(task)
    }

    /// The agent is done: the task wraps up or completes, and its
    /// conversation is resolved (a later message starts a new one).
    pub async fn complete(
        &self,
        task_id: &str,
        agent: &str,
        disposition: Option<String>,
    ) -> Result<Task, CoreError> {
        let (task, _) = self.routing.complete(task_id, agent, disposition)?;
        {
            let _gate = self.gate();
            if let Some(mut conversation) = self.conversations.get(&task.conversation_id)? {
                let mut batch = Batch::new();
                let open = conversation.status == ConversationStatus::Open;
                self.conversations
                    .resolve(&mut batch, &mut conversation, now_ms());
                let tell_crm = open
                    && self.crm.record(
                        &mut batch,
                        &conversation.customer_id,
                        CrmChange::ConversationClosed {
                            conversation_id: conversation.id.clone(),
                            disposition: task.disposition.clone(),
                        },
                    )?;
                self.store.write(batch)?;
                if tell_crm {
                    self.crm.wake();
                }
            }
        }
        self.store.sync().await?;
        Ok(task)
    }

    /// Sets profile attributes (an empty value removes one).
    pub async fn set_attributes(
        &self,
        customer: &str,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> Result<Customer, CoreError> {
        for key in attributes.keys() {
            if key.trim().is_empty() || key.len() > 64 {
                return Err(CoreError::Invalid(
                    "attribute names are 1-64 characters".into(),
                ));
            }
        }
        let (customer, seq) = {
            let _gate = self.gate();
            // Recorded first: the event carries the profile as it is when
            // delivered, so a crash in between costs a redundant update, not
            // a lost one.
            if self.customers.get(customer)?.is_some() {
                let mut batch = Batch::new();
                if self
                    .crm
                    .record(&mut batch, customer, CrmChange::CustomerUpdated)?
                {
                    self.store.write(batch)?;
                    self.crm.wake();
                }
            }
            self.customers
                .set_attributes(customer, attributes, now_ms())?
        };
        self.store.durable(seq).await?;
        // Routers may weigh attributes (vip-first): waiting tasks are
        // prioritized again.
        self.routing.reprioritize_customer(&customer.id);
        Ok(customer)
    }

    /// Merges two customers on an admin's request.
    pub async fn merge(&self, survivor: &str, other: &str) -> Result<Customer, CoreError> {
        let (customer, _, seq) = {
            let _gate = self.gate();
            self.customers
                .merge(survivor, other, "admin", now_ms(), &mut |batch, merge| {
                    self.rekey(batch, merge)
                })?
        };
        self.store.durable(seq).await?;
        Ok(customer)
    }

    // ---- reading -------------------------------------------------------------

    /// A customer's timeline: every message of every conversation, in time
    /// order.
    pub fn timeline(&self, customer_id: &str) -> Result<Vec<Message>, CoreError> {
        timeline(
            &self.customers,
            &self.conversations,
            customer_id,
            usize::MAX,
        )
    }

    /// The latest `limit` messages of a customer's other conversations, in
    /// time order.
    pub fn history(
        &self,
        customer_id: &str,
        except_conversation: &str,
        limit: usize,
    ) -> Result<Vec<Message>, CoreError> {
        // Newest first until enough are found, so a long-time customer's
        // whole past is not loaded for every view.
        let ids = self.customers.timeline_message_ids(customer_id)?;
        let mut out = Vec::new();
        for id in ids.iter().rev() {
            if out.len() >= limit {
                break;
            }
            if let Some(m) = self.conversations.message(id)?
                && m.conversation_id != except_conversation
            {
                out.push(m);
            }
        }
        out.reverse();
        Ok(out)
    }

    /// A conversation with its messages.
    pub fn conversation(&self, id: &str) -> Result<(Conversation, Vec<Message>), CoreError> {
        let conversation = self
            .conversations
            .get(id)?
            .ok_or_else(|| CoreError::NotFound(format!("no conversation {id}")))?;
        let messages = self.conversations.messages(id)?;
        Ok((conversation, messages))
    }
}

/// A call as the message that records it in the conversation: its call id
/// is both the provider message id (a redelivered ring creates nothing
/// twice) and the thread.
fn call_message(call: &wit::CallEvent) -> InboundMessage {
    let mut metadata = call.metadata.clone();
    metadata.push(("call_id".into(), call.call_id.clone()));
    if let Some(to) = &call.to {
        metadata.push(("to".into(), to.clone()));
    }
    let from = match &call.from {
        Some(wit::Identity::Phone(p) | wit::Identity::Email(p)) => format!(" from {p}"),
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

/// Customer look-ups for plugins granted `customers = "read"`.
pub struct Directory {
    /// Profiles.
    pub customers: Arc<Customers>,
    /// Messages.
    pub conversations: Arc<Conversations>,
}

impl CustomerDirectory for Directory {
    fn by_identity(&self, identity: &wit::Identity) -> Result<Option<wit::Customer>, String> {
        let identity = match self.customers.normalizer().from_wit(identity) {
            Ok(i) => i,
            Err(_) => return Ok(None),
        };
        self.customers
            .by_identity(&identity)
            .map(|c| c.map(|c| c.to_wit()))
            .map_err(|e| e.to_string())
    }

    fn timeline(&self, customer_id: &str, limit: u32) -> Result<Vec<TimelineEntry>, String> {
        timeline(
            &self.customers,
            &self.conversations,
            customer_id,
            limit as usize,
        )
        .map(|messages| messages.iter().map(timeline_entry).collect())
        .map_err(|e| e.to_string())
    }
}

/// The latest `limit` messages of a customer's timeline, oldest first.
pub(crate) fn timeline(
    customers: &Customers,
    conversations: &Conversations,
    customer_id: &str,
    limit: usize,
) -> Result<Vec<Message>, CoreError> {
    let ids = customers.timeline_message_ids(customer_id)?;
    let skip = ids.len().saturating_sub(limit);
    let mut out = Vec::new();
    for id in &ids[skip..] {
        if let Some(m) = conversations.message(id)? {
            out.push(m);
        }
    }
    Ok(out)
}

/// A message as plugins see it.
pub fn timeline_entry(m: &Message) -> TimelineEntry {
    TimelineEntry {
        id: m.id.clone(),
        at: m.at,
        channel: m.channel.clone(),
        conversation_id: m.conversation_id.clone(),
        direction: match m.direction {
            Direction::Inbound => wit::Direction::Inbound,
            Direction::Outbound => wit::Direction::Outbound,
        },
        author: match m.author {
            Author::Customer => wit::Author::Customer,
            Author::Agent => wit::Author::Agent,
            Author::Bot => wit::Author::Bot,
            Author::System => wit::Author::System,
        },
        text: m.text.clone(),
        attachments: m.attachments.iter().map(Attachment::to_wit).collect(),
        status: m.status.and_then(|s| match s {
            MessageStatus::Queued => None,
            MessageStatus::Sent => Some(DeliveryStatus::Sent),
            MessageStatus::Delivered => Some(DeliveryStatus::Delivered),
            MessageStatus::Read => Some(DeliveryStatus::Read),
            MessageStatus::Failed => Some(DeliveryStatus::Failed),
        }),
    }
}
