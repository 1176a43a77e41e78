//! Read models: what agents and supervisors look at (conversations with the
//! customer's history elsewhere, timelines, the queue, live and recent
//! figures), and the customer look-ups plugins granted `customers = "read"`
//! get through the runtime.

use std::sync::Arc;

use crate::clock::now_ms;
use crate::conversations::{Conversation, Conversations, Message};
use crate::customers::{CustomerError, Customers};
use crate::routing::trend::{self, Sample};
use crate::routing::{QueueEntry, Stats};
use crate::runtime::CustomerDirectory;
use crate::store::{HistoryEvent, StoreError};
use crate::wit::types as wit;

use super::{Core, CoreError};

impl Core {
    /// At most `limit` events of the history after `after`, in order.
    pub fn event_history(&self, after: u64, limit: usize) -> Result<Vec<HistoryEvent>, CoreError> {
        Ok(self.store.history_after(after, limit)?)
    }

    /// A customer's timeline: every message of every conversation, in time
    /// order.
    pub fn timeline(&self, customer_id: &str) -> Result<Vec<Message>, CoreError> {
        Ok(self.conversations.timeline(customer_id, usize::MAX)?)
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
        let ids = self.conversations.timeline_ids(customer_id)?;
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

    /// Whether a conversation exists.
    pub fn conversation_exists(&self, id: &str) -> Result<bool, CoreError> {
        Ok(self.conversations.get(id)?.is_some())
    }

    /// Waiting tasks in queue order.
    pub fn queue(&self) -> Vec<QueueEntry> {
        self.routing.queue()
    }

    /// Live figures.
    pub fn stats(&self) -> Stats {
        self.routing.stats()
    }

    /// The queue sampled every [`trend::INTERVAL_MS`] over the last hour,
    /// ending with a sample taken now; returns the interval too.
    pub fn stats_history(&self) -> (u64, Vec<Sample>) {
        let mut points = self.trend.samples();
        points.push(Sample::of(&self.routing.stats(), now_ms()));
        (trend::INTERVAL_MS, points)
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
    fn by_identity(&self, identity: &wit::Identity) -> Result<Option<wit::Customer>, StoreError> {
        let Ok(identity) = self.customers.normalizer().from_wit(identity) else {
            return Ok(None);
        };
        match self.customers.by_identity(&identity) {
            Ok(found) => Ok(found.map(|c| c.to_wit())),
            Err(CustomerError::Store(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    fn timeline(
        &self,
        customer_id: &str,
        limit: u32,
    ) -> Result<Vec<wit::TimelineEntry>, StoreError> {
        let messages = self.conversations.timeline(customer_id, limit as usize)?;
        Ok(messages.iter().map(Message::to_wit).collect())
    }

    fn thread_open(
        &self,
        channel: &str,
        identity: &wit::Identity,
        thread: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.open_conversation(channel, identity, thread)?.is_some())
    }

    fn waiting_task(
        &self,
        channel: &str,
        identity: &wit::Identity,
        thread: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .open_conversation(channel, identity, thread)?
            .filter(|c| c.bot.is_none())
            .and_then(|c| c.task_id))
    }
}

impl Directory {
    /// The open conversation on `channel`'s `thread` of the customer owning
    /// `identity`, if any.
    fn open_conversation(
        &self,
        channel: &str,
        identity: &wit::Identity,
        thread: &str,
    ) -> Result<Option<crate::conversations::Conversation>, StoreError> {
        let Ok(identity) = self.customers.normalizer().from_wit(identity) else {
            return Ok(None);
        };
        let customer = match self.customers.by_identity(&identity) {
            Ok(Some(customer)) => customer,
            Ok(None) => return Ok(None),
            Err(CustomerError::Store(e)) => return Err(e),
            Err(_) => return Ok(None),
        };
        self.conversations.open_for(&customer.id, channel, thread)
    }
}
