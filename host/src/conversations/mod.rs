//! Conversations and messages.
//!
//! A conversation is keyed by customer + channel plugin + thread key and is
//! open until resolved; a resolved conversation is never reopened (the next
//! message starts a new one, on the same customer timeline). Provider message
//! ids are idempotency keys.
//!
//! Writers hold the core's write gate; reads are free.

mod attachment;
mod callback;
mod erase;
mod history;
mod notes;
mod survey;

pub use attachment::Attachment;
pub use callback::Callback;
pub use history::conversation_event;
pub use notes::Note;
pub use survey::{Survey, SurveyKind};

use serde::{Deserialize, Serialize};

use crate::customers::{Identity, Merge};
use crate::kind::Kind;
use crate::redaction::Redactor;
use crate::store::{Batch, Store, StoreError, keys};
use crate::wit::types as wit;

/// Whether a conversation is still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    /// Messages go here.
    Open,
    /// Closed for good.
    Resolved,
}

/// The latest inbound message's threading details, handed back to the
/// channel plugin with replies.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct LastInbound {
    /// Provider message id.
    pub provider_message_id: String,
    /// The plugin's metadata (subject, references, business number...).
    pub metadata: Vec<(String, String)>,
}

/// A template a message was sent as.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct TemplateUse {
    /// Its name at the provider.
    pub name: String,
    /// Its language code.
    pub language: String,
    /// The values of its parameters, in order.
    pub parameters: Vec<String>,
}

/// A conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Conversation {
    /// `con_…`.
    pub id: String,
    /// Its customer.
    pub customer_id: String,
    /// The channel plugin.
    pub channel: String,
    /// The channel's kind.
    pub channel_kind: Kind,
    /// The channel's thread key.
    pub thread_key: String,
    /// `open` or `resolved`.
    pub status: ConversationStatus,
    /// Unix ms.
    pub created_at: u64,
    /// Unix ms.
    pub updated_at: u64,
    /// Who replies go to.
    pub reply_to: Option<Identity>,
    /// The latest inbound message's threading details.
    pub last_inbound: Option<LastInbound>,
    /// The task that routes it to an agent.
    pub task_id: Option<String>,
    /// The bot plugin handling the conversation, until it hands off or
    /// resolves; no task exists while it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<String>,
    /// Labels agents put on it (e.g. `refund`).
    #[serde(default)]
    pub labels: Vec<String>,
    /// How its last task ended, once completed (e.g. `resolved`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    /// When the customer was last told the channel is closed (business
    /// hours): not again until it has been open since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_hours_notice_at: Option<u64>,
    /// A caller asked to be called back instead of holding (voice): the
    /// agent who accepts its task is bridged to a call to her.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<Callback>,
    /// When the caller left a voicemail (voice): its task is the
    /// recording, not a caller on the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail_at: Option<u64>,
    /// The satisfaction survey sent when it was resolved, and her answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survey: Option<Survey>,
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the customer.
    Inbound,
    /// To the customer.
    Outbound,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    /// The customer.
    Customer,
    /// An agent.
    Agent,
    /// A bot.
    Bot,
    /// The host.
    System,
}

/// Delivery state of an outbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// In the outbox.
    Queued,
    /// Accepted by the provider.
    Sent,
    /// Delivered.
    Delivered,
    /// Read.
    Read,
    /// Not delivered (dead-lettered or refused).
    Failed,
}

/// A message, inbound or outbound.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Message {
    /// `msg_…`.
    pub id: String,
    /// When the host received (or queued) it, unix ms: the timeline order.
    pub at: u64,
    /// The channel plugin.
    pub channel: String,
    /// Its conversation.
    pub conversation_id: String,
    /// Which way it went.
    pub direction: Direction,
    /// Who wrote it.
    pub author: Author,
    /// The text.
    pub text: String,
    /// Media.
    pub attachments: Vec<Attachment>,
    /// Delivery state (outbound only).
    pub status: Option<MessageStatus>,
    /// The provider's id for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// When the customer sent it, as the provider says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<u64>,
    /// The agent who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// That agent's display name when it was written (what the customer
    /// may be shown as who answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// Why delivery failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The redaction detectors that masked something in it before it was
    /// stored (e.g. `card`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
    /// When retention erased its text, metadata and files (a dated stub
    /// stays, so counts and reports keep working).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<u64>,
    /// The approved template it was sent as (its `text` is the template
    /// filled in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateUse>,
    /// Channel details the plugin reported with an inbound message (an
    /// email's subject and full body, the number written to...).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
}

impl Message {
    /// Masks what `redactor` finds in its text, metadata values and file
    /// names (before it is stored), noting which detectors fired.
    pub fn redact(&mut self, redactor: &Redactor, kind: Kind) {
        let channel = self.channel.clone();
        let mut hits: Vec<String> = Vec::new();
        let mut apply = |text: &mut String| {
            let redacted = redactor.redact(&channel, kind, text);
            if !redacted.hits.is_empty() {
                *text = redacted.text;
                for hit in redacted.hits {
                    if !hits.contains(&hit) {
                        hits.push(hit);
                    }
                }
            }
        };
        apply(&mut self.text);
        self.metadata.values_mut().for_each(&mut apply);
        for attachment in &mut self.attachments {
            attachment.filename.iter_mut().for_each(&mut apply);
            attachment.caption.iter_mut().for_each(&mut apply);
        }
        self.redacted = hits;
    }

    /// The message as plugins see it.
    pub fn to_wit(&self) -> wit::TimelineEntry {
        wit::TimelineEntry {
            id: self.id.clone(),
            at: self.at,
            channel: self.channel.clone(),
            conversation_id: self.conversation_id.clone(),
            direction: match self.direction {
                Direction::Inbound => wit::Direction::Inbound,
                Direction::Outbound => wit::Direction::Outbound,
            },
            author: match self.author {
                Author::Customer => wit::Author::Customer,
                Author::Agent => wit::Author::Agent,
                Author::Bot => wit::Author::Bot,
                Author::System => wit::Author::System,
            },
            text: self.text.clone(),
            attachments: self.attachments.iter().map(Attachment::to_wit).collect(),
            status: self.status.and_then(|s| match s {
                MessageStatus::Queued => None,
                MessageStatus::Sent => Some(wit::DeliveryStatus::Sent),
                MessageStatus::Delivered => Some(wit::DeliveryStatus::Delivered),
                MessageStatus::Read => Some(wit::DeliveryStatus::Read),
                MessageStatus::Failed => Some(wit::DeliveryStatus::Failed),
            }),
        }
    }
}

/// Conversations and messages in the store.
pub struct Conversations {
    store: Store,
}

impl Conversations {
    /// Over `store`.
    pub fn new(store: Store) -> Self {
        Conversations { store }
    }

    /// A conversation by id.
    pub fn get(&self, id: &str) -> Result<Option<Conversation>, StoreError> {
        self.store.get_json(&keys::conversation(id))
    }

    /// The open conversation of a customer on a channel thread.
    pub fn open_for(
        &self,
        customer: &str,
        channel: &str,
        thread: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        match self
            .store
            .get_string(&keys::open_conversation(customer, channel, thread))?
        {
            None => Ok(None),
            Some(id) => self.get(&id),
        }
    }

    /// A message by id.
    pub fn message(&self, id: &str) -> Result<Option<Message>, StoreError> {
        self.store.get_json(&keys::message(id))
    }

    /// The message already stored for an inbound provider id.
    pub fn inbound_by_provider_id(
        &self,
        channel: &str,
        provider_id: &str,
    ) -> Result<Option<String>, StoreError> {
        self.store
            .get_string(&keys::inbound_provider_id(channel, provider_id))
    }

    /// The outbound message a provider id refers to.
    pub fn outbound_by_provider_id(
        &self,
        channel: &str,
        provider_id: &str,
    ) -> Result<Option<Message>, StoreError> {
        match self
            .store
            .get_string(&keys::outbound_provider_id(channel, provider_id))?
        {
            None => Ok(None),
            Some(id) => self.message(&id),
        }
    }

    /// The ids of a customer's messages (every conversation), in time
    /// order.
    pub fn timeline_ids(&self, customer: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .store
            .scan_keys(&keys::timeline_of(customer))?
            .into_iter()
            .filter_map(|k| k.split('/').nth(1).map(str::to_string))
            .collect())
    }

    /// The latest `limit` messages of a customer's timeline (every
    /// conversation, every channel), oldest first.
    pub fn timeline(&self, customer: &str, limit: usize) -> Result<Vec<Message>, StoreError> {
        let ids = self.timeline_ids(customer)?;
        let skip = ids.len().saturating_sub(limit);
        let mut out = Vec::new();
        for id in &ids[skip..] {
            if let Some(m) = self.message(id)? {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// A conversation's messages in time order.
    pub fn messages(&self, conversation: &str) -> Result<Vec<Message>, StoreError> {
        let mut out = Vec::new();
        for rest in self.store.scan_keys(&keys::messages_of(conversation))? {
            if let Some(id) = rest.split('/').nth(1)
                && let Some(m) = self.message(id)?
            {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// A customer's conversations, oldest first.
    pub fn of_customer(&self, customer: &str) -> Result<Vec<Conversation>, StoreError> {
        let mut out = Vec::new();
        for id in self.store.scan_keys(&keys::conversations_of(customer))? {
            if let Some(c) = self.get(&id)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Moves an open conversation to `thread` (in `batch`): one an agent
    /// started (thread `""`) takes the thread of the customer's answer.
    pub fn rethread(&self, batch: &mut Batch, conversation: &mut Conversation, thread: &str) {
        batch.delete(keys::open_conversation(
            &conversation.customer_id,
            &conversation.channel,
            &conversation.thread_key,
        ));
        conversation.thread_key = thread.to_string();
        batch.put(
            keys::open_conversation(&conversation.customer_id, &conversation.channel, thread),
            conversation.id.clone(),
        );
        self.save(batch, conversation);
    }

    /// A new open conversation, written into `batch`.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &self,
        batch: &mut Batch,
        customer: &str,
        channel: &str,
        kind: Kind,
        thread: &str,
        reply_to: Option<Identity>,
        now: u64,
    ) -> Result<Conversation, StoreError> {
        let conversation = Conversation {
            id: format!("con_{:012}", self.store.next_id()?),
            customer_id: customer.to_string(),
            channel: channel.to_string(),
            channel_kind: kind,
            thread_key: thread.to_string(),
            status: ConversationStatus::Open,
            created_at: now,
            updated_at: now,
            reply_to,
            last_inbound: None,
            task_id: None,
            bot: None,
            labels: Vec::new(),
            disposition: None,
            after_hours_notice_at: None,
            callback: None,
            voicemail_at: None,
            survey: None,
        };
        batch.put(
            keys::open_conversation(customer, channel, thread),
            conversation.id.clone(),
        );
        batch.put(
            keys::customer_conversation(customer, &conversation.id),
            Vec::new(),
        );
        Ok(conversation)
    }

    /// Writes a conversation record.
    pub fn save(&self, batch: &mut Batch, conversation: &Conversation) {
        batch.put_json(keys::conversation(&conversation.id), conversation);
    }

    /// Resolves a conversation: later messages on its thread start a new one.
    pub fn resolve(&self, batch: &mut Batch, conversation: &mut Conversation, now: u64) {
        if conversation.status == ConversationStatus::Open {
            conversation.status = ConversationStatus::Resolved;
            conversation.updated_at = now;
            batch.delete(keys::open_conversation(
                &conversation.customer_id,
                &conversation.channel,
                &conversation.thread_key,
            ));
            self.save(batch, conversation);
        }
    }

    /// A new message id.
    pub fn new_message_id(&self) -> Result<String, StoreError> {
        Ok(format!("msg_{:012}", self.store.next_id()?))
    }

    /// A new system-authored entry on `conversation`'s timeline (a call
    /// ended, a bot handed off), not yet stored: the caller adds it to its
    /// batch, setting any provider id or metadata first.
    pub fn system_note(
        &self,
        conversation: &Conversation,
        text: String,
        at: u64,
    ) -> Result<Message, StoreError> {
        Ok(Message {
            id: self.new_message_id()?,
            at,
            channel: conversation.channel.clone(),
            conversation_id: conversation.id.clone(),
            direction: Direction::Inbound,
            author: Author::System,
            text,
            attachments: Vec::new(),
            status: None,
            provider_message_id: None,
            sent_at: None,
            agent_id: None,
            agent_name: None,
            error: None,
            redacted: Vec::new(),
            erased_at: None,
            template: None,
            metadata: Default::default(),
        })
    }

    /// Adds a message to a conversation and its customer's timeline.
    pub fn add_message(&self, batch: &mut Batch, conversation: &Conversation, message: &Message) {
        batch.put_json(keys::message(&message.id), message);
        batch.record(history::message_record(conversation, message));
        batch.put(
            keys::conversation_message(&conversation.id, message.at, &message.id),
            Vec::new(),
        );
        batch.put(
            keys::timeline(&conversation.customer_id, message.at, &message.id),
            Vec::new(),
        );
        if message.direction == Direction::Inbound
            && let Some(pmid) = &message.provider_message_id
        {
            batch.put(
                keys::inbound_provider_id(&message.channel, pmid),
                message.id.clone(),
            );
        }
    }

    /// Updates a message record (status, provider id).
    pub fn save_message(&self, batch: &mut Batch, message: &Message) {
        batch.put_json(keys::message(&message.id), message);
        if message.direction == Direction::Outbound
            && let Some(pmid) = &message.provider_message_id
        {
            batch.put(
                keys::outbound_provider_id(&message.channel, pmid),
                message.id.clone(),
            );
        }
    }

    /// Moves the conversations of a merged customer to the survivor.
    pub fn rekey(&self, batch: &mut Batch, merge: &Merge) -> Result<(), StoreError> {
        for mut c in self.of_customer(&merge.merged)? {
            batch.delete(keys::customer_conversation(&merge.merged, &c.id));
            batch.put(
                keys::customer_conversation(&merge.survivor, &c.id),
                Vec::new(),
            );
            if c.status == ConversationStatus::Open {
                batch.delete(keys::open_conversation(
                    &merge.merged,
                    &c.channel,
                    &c.thread_key,
                ));
                if self
                    .store
                    .get_raw(&keys::open_conversation(
                        &merge.survivor,
                        &c.channel,
                        &c.thread_key,
                    ))?
                    .is_none()
                {
                    batch.put(
                        keys::open_conversation(&merge.survivor, &c.channel, &c.thread_key),
                        c.id.clone(),
                    );
                }
            }
            c.customer_id = merge.survivor.clone();
            self.save(batch, &c);
        }
        Ok(())
    }
}
