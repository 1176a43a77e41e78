//! The CRM stage: what happens to customers — created, updated, merged, a
//! message received or sent, a conversation closed — is recorded as durable
//! events (in the same batch as the change) and delivered to every CRM
//! plugin, in order per customer and plugin. A CRM that answers
//! `unavailable` (or cannot be called) is retried with exponential backoff,
//! and the customer's later events wait behind the failed one; any other
//! error, or running out of tries, dead-letters the event (visible to
//! admins, redriven on request). Enrichment asks every CRM for profile
//! attributes on a customer's first contact and when they are stale.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::config::CrmConfig;
use crate::conversations::Message;
use crate::customers::{Customer, CustomerError, Merge};
use crate::runtime::{PluginKind, Runtime};
use crate::store::{Backoff, Batch, DurableQueue, Entry, Store, StoreError, Verdict, keys};
use crate::wit::crm_sync::{
    ConversationClosed, ConversationNote, CrmEvent, CustomerErasure, CustomerMerge, Interaction,
};
use crate::wit::types::ErrorKind;

use super::{Core, CoreError};

/// What changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Change {
    /// A profile was created (the customer's first contact).
    CustomerCreated,
    /// A profile changed (attributes, identities, name).
    CustomerUpdated,
    /// Another profile was merged into this one.
    CustomersMerged {
        /// The profile that no longer exists.
        merged_id: String,
    },
    /// A message was received or sent.
    InteractionLogged {
        /// The message.
        message_id: String,
    },
    /// A conversation was closed.
    ConversationClosed {
        /// The conversation.
        conversation_id: String,
        /// The agent's disposition.
        disposition: Option<String>,
    },
    /// An internal note was written on a conversation.
    NoteAdded {
        /// The conversation.
        conversation_id: String,
        /// When the note was written (part of its key).
        at: u64,
        /// The note.
        note_id: String,
    },
    /// The customer was erased. The profile is gone by the time the event
    /// is delivered, so it travels with it; the entry goes once delivered
    /// (or with the next erasure compaction, if it is never).
    CustomerErased {
        /// The profile just before it was erased.
        customer: Box<Customer>,
        /// When.
        at: u64,
    },
}

/// One event for one CRM plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmItem {
    /// The CRM plugin.
    pub plugin: String,
    /// The customer it is about.
    pub customer_id: String,
    /// What happened.
    #[serde(flatten)]
    pub change: Change,
}

/// A CRM event waiting for delivery (or dead-lettered).
pub type CrmEntry = Entry<CrmItem>;

/// The attribute recording when a customer was last enriched (unix ms).
pub const ENRICHED_AT: &str = "enriched_at";

/// The CRM stage: its queue of events and the enrichment requests. Cheap
/// to clone.
#[derive(Clone)]
pub(super) struct Crm {
    queue: DurableQueue<CrmItem>,
    runtime: Runtime,
    enrich_ttl_ms: u64,
}

impl Crm {
    /// The stage over `store`; [`start`] delivers.
    pub fn new(store: Store, runtime: Runtime, config: CrmConfig) -> Crm {
        let backoff = Backoff {
            max_attempts: config.max_attempts,
            base_ms: config.base_backoff_ms,
            max_ms: config.max_backoff_ms,
        };
        Crm {
            queue: DurableQueue::new(store, keys::CRM_EVENTS, backoff),
            runtime,
            enrich_ttl_ms: config.enrich_ttl_ms,
        }
    }

    /// The CRM plugins events go to: every one that is loaded and enabled.
    /// Asked for every message, so it reads the slots, not admin views.
    fn plugins(&self) -> Vec<String> {
        self.runtime.loaded_of_kind(PluginKind::Crm)
    }

    /// Records `change` for every CRM plugin, in `batch` (written with the
    /// change itself). Returns whether any plugin will hear of it.
    pub fn record(
        &self,
        batch: &mut Batch,
        customer_id: &str,
        change: Change,
    ) -> Result<bool, StoreError> {
        let plugins = self.plugins();
        for plugin in &plugins {
            let item = CrmItem {
                plugin: plugin.clone(),
                customer_id: customer_id.to_string(),
                change: change.clone(),
            };
            self.queue.push(batch, item)?;
        }
        Ok(!plugins.is_empty())
    }

    /// Hands a merged profile's undelivered events to its survivor (their
    /// CRM contact is gone with the merge), in `batch`.
    pub fn rekey_customer(&self, batch: &mut Batch, merge: &Merge) -> Result<(), StoreError> {
        for mut entry in self.queue.pending()? {
            if entry.item.customer_id == merge.merged {
                entry.item.customer_id = merge.survivor.clone();
                self.queue.update(batch, &entry);
            }
        }
        Ok(())
    }

    /// Asks for the customer to be enriched when it never was or its
    /// attributes are older than the TTL.
    pub fn enrich_if_stale(
        &self,
        batch: &mut Batch,
        customer_id: &str,
        attributes: &BTreeMap<String, String>,
    ) -> bool {
        let fresh = attributes
            .get(ENRICHED_AT)
            .and_then(|at| at.parse::<u64>().ok())
            .is_some_and(|at| now_ms().saturating_sub(at) < self.enrich_ttl_ms);
        if fresh || self.plugins().is_empty() {
            return false;
        }
        batch.put(keys::crm_enrich(customer_id), Vec::new());
        true
    }

    /// Wakes the worker.
    pub fn wake(&self) {
        self.queue.wake();
    }
}

impl Core {
    /// Customer events waiting for CRM plugins, and the dead-lettered ones.
    pub fn crm_events(&self) -> Result<(Vec<CrmEntry>, Vec<CrmEntry>), CoreError> {
        Ok((self.crm.queue.pending()?, self.crm.queue.dead_letters()?))
    }

    /// Moves every dead-lettered CRM event back into the queue with fresh
    /// tries; returns how many, once that is durable.
    pub async fn redrive_crm(&self) -> Result<usize, CoreError> {
        let (n, seq) = self.crm.queue.redrive()?;
        self.store.durable(seq).await?;
        Ok(n)
    }
}

/// Runs the delivery and enrichment worker until the host shuts down.
pub(super) fn start(core: Arc<Core>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let next = deliver_due(&core).await;
            if let Err(e) = enrich_due(&core).await {
                tracing::error!(error = %e, "CRM enrichment failed");
            }
            let closed = core.events.closed();
            if !core.crm.queue.wait("CRM delivery", next, closed).await {
                return;
            }
        }
    })
}

/// Tries every due event once, oldest first, keeping each customer's
/// events in order per plugin; returns when the next retry is due.
async fn deliver_due(core: &Core) -> Result<Option<u64>, StoreError> {
    let mut round = core
        .crm
        .queue
        .round(|item: &CrmItem| Some((item.plugin.clone(), item.customer_id.clone())))?;
    while let Some(entry) = round.next_due() {
        if core.events.is_closed() {
            break;
        }
        round.settled(deliver(core, entry).await?);
    }
    Ok(round.next_at())
}

/// One try of one event.
async fn deliver(core: &Core, mut entry: CrmEntry) -> Result<Verdict, StoreError> {
    let queue = &core.crm.queue;
    let Some(event) = event(core, &entry.item)? else {
        // What it was about is gone (e.g. a message of a merged-away
        // customer): nothing to tell.
        queue.discard(&entry)?;
        return Ok(Verdict::Done);
    };
    entry.attempts += 1;
    let plugin = entry.item.plugin.clone();
    let (retry, error) = match core.runtime.crm_event(&plugin, &event).await {
        Ok(Ok(())) => {
            queue.discard(&entry)?;
            metrics::counter!("switchboard_crm_delivered_total", "plugin" => plugin).increment(1);
            return Ok(Verdict::Done);
        }
        Ok(Err(e)) => (e.kind == ErrorKind::Unavailable, e.message),
        // Missing, reloading or faulty: it may be fixed.
        Err(e) => (true, e.to_string()),
    };
    tracing::warn!(%plugin, customer = %entry.item.customer_id, attempt = entry.attempts, retry, %error, "CRM event not delivered");
    let mut batch = Batch::new();
    let verdict = queue.fail(&mut batch, &mut entry, error, retry);
    core.store.write(batch)?;
    if verdict == Verdict::Dead {
        metrics::counter!("switchboard_crm_dead_letters_total", "plugin" => plugin).increment(1);
    }
    Ok(verdict)
}

/// The event as the plugin sees it, from the store as it is now.
fn event(core: &Core, item: &CrmItem) -> Result<Option<CrmEvent>, StoreError> {
    let wit_customer = match &item.change {
        // Gone from the store: the event carries her.
        Change::CustomerErased { customer, .. } => customer.to_wit(),
        _ => match core.customers.get(&item.customer_id) {
            Ok(Some(c)) => c.to_wit(),
            Ok(None) => return Ok(None),
            Err(CustomerError::Store(e)) => return Err(e),
            Err(_) => return Ok(None),
        },
    };
    Ok(Some(match &item.change {
        Change::CustomerCreated => CrmEvent::CustomerCreated(wit_customer),
        Change::CustomerUpdated => CrmEvent::CustomerUpdated(wit_customer),
        Change::CustomersMerged { merged_id } => CrmEvent::CustomersMerged(CustomerMerge {
            survivor: wit_customer,
            merged_id: merged_id.clone(),
        }),
        Change::InteractionLogged { message_id } => {
            let Some(message) = core.conversations.message(message_id)? else {
                return Ok(None);
            };
            CrmEvent::InteractionLogged(Interaction {
                customer: wit_customer,
                entry: message.to_wit(),
            })
        }
        Change::ConversationClosed {
            conversation_id,
            disposition,
        } => {
            let Some(conversation) = core.conversations.get(conversation_id)? else {
                return Ok(None);
            };
            let transcript = core
                .conversations
                .messages(conversation_id)?
                .iter()
                .map(Message::to_wit)
                .collect();
            CrmEvent::ConversationClosed(ConversationClosed {
                conversation_id: conversation_id.clone(),
                customer: wit_customer,
                channel: conversation.channel,
                disposition: disposition.clone(),
                transcript,
            })
        }
        Change::NoteAdded {
            conversation_id,
            at,
            note_id,
        } => {
            let (Some(conversation), Some(note)) = (
                core.conversations.get(conversation_id)?,
                core.conversations.note(conversation_id, *at, note_id)?,
            ) else {
                return Ok(None);
            };
            CrmEvent::NoteAdded(ConversationNote {
                id: note.id,
                conversation_id: conversation_id.clone(),
                customer: wit_customer,
                channel: conversation.channel,
                at: note.at,
                author: note.author,
                text: note.text,
                transfer_of: note.transfer_of,
            })
        }
        Change::CustomerErased { at, .. } => CrmEvent::CustomerErased(CustomerErasure {
            customer: wit_customer,
            at: *at,
        }),
    }))
}

/// Enriches every customer that asked for it; one whose CRM is
/// unavailable is tried again on the next round.
async fn enrich_due(core: &Arc<Core>) -> Result<(), StoreError> {
    let customers = core.store.scan_keys(keys::CRM_ENRICH)?;
    // Keys come back without the scanned prefix: customer ids.
    for customer_id in customers {
        let key = keys::crm_enrich(&customer_id);
        let customer = match core.customers.get(&customer_id) {
            Ok(Some(c)) => c,
            _ => {
                let mut batch = Batch::new();
                batch.delete(key.clone());
                core.store.write(batch)?;
                continue;
            }
        };
        let mut attributes = BTreeMap::new();
        let mut again = false;
        for plugin in core.crm.plugins() {
            match core.runtime.crm_enrich(&plugin, &customer.to_wit()).await {
                Ok(Ok(pairs)) => attributes.extend(
                    pairs
                        .into_iter()
                        .filter(|(k, _)| !k.trim().is_empty() && k.len() <= 64 && k != ENRICHED_AT),
                ),
                Ok(Err(e)) if e.kind == ErrorKind::Unavailable => again = true,
                Ok(Err(e)) => {
                    tracing::warn!(%plugin, customer = %customer_id, error = %e.message, "enrichment refused")
                }
                Err(e) => {
                    tracing::warn!(%plugin, customer = %customer_id, error = %e, "enrichment failed");
                    again = true;
                }
            }
        }
        if again && attributes.is_empty() {
            continue;
        }
        attributes.insert(ENRICHED_AT.to_string(), now_ms().to_string());
        if let Err(e) = core.set_attributes(&customer_id, &attributes).await {
            tracing::warn!(customer = %customer_id, error = %e, "saving enriched attributes failed");
            continue;
        }
        let mut batch = Batch::new();
        batch.delete(key);
        core.store.write(batch)?;
        tracing::info!(customer = %customer_id, attributes = attributes.len() - 1, "customer enriched");
    }
    Ok(())
}
