//! Inbound: a webhook goes to its channel plugin, and what the plugin
//! reports — messages, delivery reports, call events — is stored before
//! the plugin's response is sent back. Every event is checked before any is
//! stored, so a bad one stores nothing; a redelivered provider message id
//! stores nothing twice.

use crate::audit::AuditEntry;
use crate::clock::now_ms;
use crate::conversations::{
    Attachment, Author, Conversation, Direction, LastInbound, Message, MessageStatus,
};
use crate::customers::{ConsentStatus, Identity, Trust};
use crate::events::Event;
use crate::kind::Kind;
use crate::routing::{NewTask, Skill, TaskState};
use crate::runtime::PluginKind;
use crate::store::Batch;
use crate::wit::channeling::WebhookOutcome;
use crate::wit::types::{
    ChannelEvent, DeliveryStatus, HttpRequest, HttpResponse, InboundMessage, StatusUpdate,
};

use super::calls::call_message;
use super::consent;
use super::crm::Change as CrmChange;
use super::{Core, CoreError, publish_status};

/// A message's identities, normalized and sorted by trust.
#[derive(Debug, Default)]
pub(super) struct Attested {
    /// What the provider attested: links and merges.
    pub verified: Vec<Identity>,
    /// What the sender typed: recorded as claims.
    pub claims: Vec<Identity>,
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

impl Core {
    /// Hands a webhook to a channel plugin, stores what it reports, and
    /// returns the plugin's response once that is durable.
    pub async fn handle_webhook(
        &self,
        channel: &str,
        request: &HttpRequest,
    ) -> Result<HttpResponse, CoreError> {
        let info = match self.runtime.channel_info(channel) {
            Some(info) => info,
            // Installed but not serving (broken, disabled, unconfigured):
            // the provider should retry later. Why is for the admin, not
            // for whoever posts.
            None if self
                .runtime
                .plugin(channel)
                .is_some_and(|p| p.kind == Some(PluginKind::Channel)) =>
            {
                return Err(CoreError::Unavailable(format!(
                    "channel `{channel}` is not serving"
                )));
            }
            None => {
                return Err(CoreError::NotFound(format!(
                    "no channel plugin `{channel}`"
                )));
            }
        };
        let kind = Kind::from_wit(info.kind);
        let outcome: WebhookOutcome = self
            .runtime
            .channel_webhook(channel, request)
            .await?
            .map_err(|e| CoreError::Plugin {
                kind: e.kind,
                message: e.message,
            })?;
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

    /// The sender's identities, normalized: the verified ones and the
    /// claims, each without repeats, at most `max_identities_per_event` in
    /// all (verified first; the rest are ignored). Without a verified one,
    /// the sender is known by the thread (`handle(channel, thread)`).
    fn identities(&self, channel: &str, m: &InboundMessage) -> Result<Attested, CoreError> {
        let normalizer = self.customers.normalizer();
        let mut attested = Attested::default();
        for reported in &m.identities {
            let identity = normalizer
                .from_wit(&reported.identity)
                .map_err(|e| CoreError::Invalid(format!("channel {channel}: {e}")))?;
            let list = match Trust::from_wit(reported.trust) {
                Trust::Verified => &mut attested.verified,
                Trust::Claimed => &mut attested.claims,
            };
            if !list.contains(&identity) {
                list.push(identity);
            }
        }
        attested.claims.retain(|c| !attested.verified.contains(c));
        if attested.verified.is_empty() {
            let thread = normalizer
                .handle(channel, &m.thread_key)
                .map_err(|e| CoreError::Invalid(format!("channel {channel}: {e}")))?;
            attested.claims.retain(|c| *c != thread);
            attested.verified.push(thread);
        }
        let max = self.max_identities.max(1);
        if attested.verified.len() + attested.claims.len() > max {
            tracing::warn!(%channel, attested = attested.verified.len() + attested.claims.len(), max, "a message attests too many identities; the rest are ignored");
            attested.verified.truncate(max);
            attested.claims.truncate(max - attested.verified.len());
        }
        Ok(attested)
    }

    /// Stores one inbound message with its normalized identities (`None`
    /// when its provider message id was stored before): resolves the
    /// customer, finds or opens the conversation, and gives a new
    /// conversation to its channel's bot or a task. Not yet durable:
    /// callers wait on the store before acknowledging.
    pub(super) fn ingest_message(
        &self,
        channel: &str,
        kind: Kind,
        m: &InboundMessage,
        identities: &Attested,
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
            &identities.verified,
            &identities.claims,
            m.display_name.as_deref(),
            now,
            &mut |batch, merge| self.rekey(batch, merge),
        )?;
        let customer = resolved.customer;
        let mut batch = Batch::new();
        let change = match (resolved.created, resolved.updated) {
            (true, _) => Some(CrmChange::CustomerCreated),
            (false, true) => Some(CrmChange::CustomerUpdated),
            (false, false) => None,
        };
        let mut tell_crm = match change {
            Some(change) => self.crm.record(&mut batch, &customer.id, change)?,
            None => false,
        };
        tell_crm |= self
            .crm
            .enrich_if_stale(&mut batch, &customer.id, &customer.attributes);
        if let Some(answered) =
            self.answer_survey(&mut batch, &customer.id, (channel, m), author, now)?
        {
            self.store.write(batch)?;
            drop(gate);
            self.publish_message(&answered.message, &answered.conversation);
            self.outbox.wake();
            if tell_crm || answered.tell_crm {
                self.crm.wake();
            }
            return Ok(Some(Ingested {
                message_id: answered.message.id,
                conversation_id: answered.conversation.id,
                customer_id: customer.id,
                task_id: None,
            }));
        }
        let mut conversation = self.conversation_for(
            &mut batch,
            &customer.id,
            channel,
            kind,
            &m.thread_key,
            &identities.verified,
            now,
        )?;
        let mut message = inbound_message(
            self.conversations.new_message_id()?,
            &conversation,
            m,
            author,
            now,
        );
        message.redact(&self.redactor, kind);
        self.conversations
            .add_message(&mut batch, &conversation, &message);
        // STOP or START on a messaging channel: recorded and confirmed
        // once; such a message is not work for a bot or an agent.
        let consent_changed = match self.consent.keyword(kind, &message.text) {
            Some((status, word)) => {
                let record = consent::keyword_consent(status, &word, now);
                let changed =
                    self.customers
                        .set_consent(&mut batch, &customer.id, channel, record)?;
                tracing::info!(%channel, customer = %customer.id, ?status, changed, "consent keyword");
                if changed {
                    let action = match status {
                        ConsentStatus::OptedOut => "consent.opt_out",
                        ConsentStatus::OptedIn => "consent.opt_in",
                    };
                    let mut entry = AuditEntry::new(action, customer.id.as_str(), "customer", now);
                    entry.targets = vec![customer.id.clone(), channel.to_string()];
                    entry.reason = format!("keyword {word} on {channel}");
                    self.audit.record(&mut batch, entry)?;
                }
                // An empty reply text: the provider confirms (e.g. Twilio's
                // Advanced Opt-Out), not us.
                if changed && !self.consent.reply(status).trim().is_empty() {
                    self.queue_outbound(
                        &mut batch,
                        &conversation,
                        (Author::System, None, Some(consent::CONSENT_NOTICE)),
                        self.consent.reply(status),
                        Vec::new(),
                        now,
                    )?;
                }
                changed
            }
            None => false,
        };
        // Consent the channel's own interface asked for (the web chat
        // widget's checkbox).
        self.record_reported_consent(&mut batch, &customer.id, channel, &m.metadata, now)?;
        tell_crm |= self.crm.record(
            &mut batch,
            &customer.id,
            CrmChange::InteractionLogged {
                message_id: message.id.clone(),
            },
        )?;
        conversation.last_inbound = Some(LastInbound {
            provider_message_id: m.provider_message_id.clone(),
            metadata: m
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), self.redactor.redact(channel, kind, v).text))
                .collect(),
        });
        conversation.updated_at = now;
        // A voicemail: its task is the recording, nobody on the line.
        if kind == Kind::Voice
            && super::callbacks::meta(&m.metadata, super::callbacks::VOICEMAIL).is_some()
        {
            conversation.voicemail_at = Some(now);
        }
        let bot_turn = match &conversation.bot {
            Some(_) if consent_changed => false,
            Some(bot) => {
                self.bots
                    .queue_turn(&mut batch, bot, &conversation.id, &message.id)?;
                true
            }
            None => false,
        };
        let task = if !consent_changed && self.needs_task(&conversation) {
            let task = self.routing.new_task(
                &mut batch,
                NewTask {
                    channel: channel.to_string(),
                    kind,
                    conversation_id: conversation.id.clone(),
                    customer_id: customer.id.clone(),
                    preferred_agent: customer.last_agent.clone(),
                    skills: self.channel_skills(channel),
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
        // Written while closed: told when the channel opens again.
        let waiting = task.is_some()
            || conversation
                .task_id
                .as_ref()
                .and_then(|t| self.routing.task(t))
                .is_some_and(|t| t.state == TaskState::Pending);
        let after_hours = waiting
            && !consent_changed
            && self.after_hours_reply(&mut batch, &mut conversation, &customer, now)?;
        self.conversations.save(&mut batch, &conversation);
        self.store.write(batch)?;
        drop(gate);
        metrics::counter!("switchboard_messages_received_total", "channel" => channel.to_string())
            .increment(1);
        let task_id = task.as_ref().map(|t| t.id.clone());
        self.publish_message(&message, &conversation);
        if let Some(task) = task {
            self.routing.enqueue(task);
            if !after_hours && let Some(id) = &task_id {
                let language = customer.attributes.get("language").map(String::as_str);
                self.acknowledge_queued(&conversation, id, language)?;
            }
        }
        if bot_turn {
            self.bots.wake();
        }
        if consent_changed || after_hours {
            self.outbox.wake();
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

    /// The customer's open conversation on this thread, or a new one (in
    /// `batch`) — given to the channel's bot when it has one.
    #[allow(clippy::too_many_arguments)]
    fn conversation_for(
        &self,
        batch: &mut Batch,
        customer: &str,
        channel: &str,
        kind: Kind,
        thread: &str,
        verified: &[Identity],
        now: u64,
    ) -> Result<Conversation, CoreError> {
        if let Some(open) = self.conversations.open_for(customer, channel, thread)? {
            return Ok(open);
        }
        // Her answer to a conversation an agent started: it takes her thread.
        if let Some(mut started) =
            self.conversations
                .open_for(customer, channel, super::outreach::STARTED_THREAD)?
        {
            self.conversations.rethread(batch, &mut started, thread);
            return Ok(started);
        }
        let mut created = self.conversations.create(
            batch,
            customer,
            channel,
            kind,
            thread,
            // Replies go to what the provider attested, never to a claim.
            verified.first().cloned(),
            now,
        )?;
        created.bot = self.bots.bot_of(channel);
        if created.bot.is_some() {
            batch.record(super::bots::bot_record("bot.started", &created, now));
        }
        Ok(created)
    }

    /// Whether a conversation needs a task for an agent: not while a bot
    /// has it, and again when its task was canceled (the customer gave up,
    /// then wrote again).
    fn needs_task(&self, conversation: &Conversation) -> bool {
        conversation.bot.is_none()
            && match &conversation.task_id {
                None => true,
                Some(t) => self
                    .routing
                    .task(t)
                    .is_none_or(|t| t.state == TaskState::Canceled),
            }
    }

    /// The skills every task of `channel` requires
    /// (`[routing.channel_skills.<channel>]`).
    pub(super) fn channel_skills(&self, channel: &str) -> Vec<Skill> {
        self.channel_skills
            .get(channel)
            .into_iter()
            .flatten()
            .map(|(name, level)| Skill {
                name: name.clone(),
                min_level: *level,
            })
            .collect()
    }

    /// Tells listeners about a new message of `conversation`; the agent
    /// holding its task sees it on their own stream.
    pub(super) fn publish_message(&self, message: &Message, conversation: &Conversation) {
        self.events
            .touched(&conversation.channel, &conversation.thread_key);
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

    /// A provider's delivery report for a message the host sent.
    pub(super) fn status_update(&self, channel: &str, s: &StatusUpdate) -> Result<(), CoreError> {
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
            let thread = self
                .conversations
                .get(&message.conversation_id)?
                .map(|c| c.thread_key);
            publish_status(&self.events, &message, None, thread.as_deref());
        }
        Ok(())
    }
}

/// An inbound message of `conversation` as stored.
pub(super) fn inbound_message(
    id: String,
    conversation: &Conversation,
    m: &InboundMessage,
    author: Author,
    now: u64,
) -> Message {
    Message {
        id,
        at: now,
        channel: conversation.channel.clone(),
        conversation_id: conversation.id.clone(),
        direction: Direction::Inbound,
        author,
        text: m.text.clone(),
        attachments: m.attachments.iter().map(Attachment::from).collect(),
        status: None,
        provider_message_id: Some(m.provider_message_id.clone()),
        sent_at: m.sent_at,
        agent_id: None,
        agent_name: None,
        error: None,
        redacted: Vec::new(),
        erased_at: None,
        template: None,
        metadata: m.metadata.iter().cloned().collect(),
    }
}
