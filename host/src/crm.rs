//! The CRM stage: what happens to customers — created, updated, merged, a
//! message received or sent, a conversation closed — is recorded as durable
//! events (in the same batch as the change) and delivered to every CRM
//! plugin, in order per customer and plugin. A CRM that answers
//! `unavailable` (or cannot be called) is retried with exponential backoff,
//! and the customer's later events wait behind the failed one; any other
//! error, or running out of tries, dead-letters the event (visible to
//! admins, redriven on request). Enrichment asks every CRM for profile
//! attributes on a customer's first contact and when they are stale.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::{CrmConfig, retry_delay_ms};
use crate::core::{Core, timeline_entry};
use crate::events::now_ms;
use crate::runtime::bindings::crm_sync::{
    ConversationClosed, CrmEvent, CustomerMerge, Interaction,
};
use crate::runtime::bindings::types::ErrorKind;
use crate::runtime::{PluginKind, Runtime};
use crate::store::{Batch, Store, StoreError};

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
}

/// One event for one CRM plugin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Orders delivery.
    pub id: String,
    /// The CRM plugin.
    pub plugin: String,
    /// The customer it is about.
    pub customer_id: String,
    /// What happened.
    #[serde(flatten)]
    pub change: Change,
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
    format!("crmq/{id}")
}
fn dead_key(id: &str) -> String {
    format!("crmdead/{id}")
}
fn enrich_key(customer: &str) -> String {
    format!("crmenrich/{customer}")
}

/// The attribute recording when a customer was last enriched (unix ms).
pub const ENRICHED_AT: &str = "enriched_at";

/// The CRM stage. Cheap to clone.
#[derive(Clone)]
pub struct Crm {
    store: Store,
    runtime: Runtime,
    config: CrmConfig,
    wake: Arc<tokio::sync::Notify>,
}

impl Crm {
    /// The stage over `store`; [`start`] delivers.
    pub fn new(store: Store, runtime: Runtime, config: CrmConfig) -> Crm {
        Crm {
            store,
            runtime,
            config,
            wake: Arc::new(tokio::sync::Notify::new()),
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
        let now = now_ms();
        for plugin in &plugins {
            let entry = Entry {
                id: format!("{:016x}", self.store.next_id()?),
                plugin: plugin.clone(),
                customer_id: customer_id.to_string(),
                change: change.clone(),
                attempts: 0,
                next_at: 0,
                created_at: now,
                last_error: None,
            };
            batch.put_json(pending_key(&entry.id), &entry);
        }
        Ok(!plugins.is_empty())
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
            .is_some_and(|at| now_ms().saturating_sub(at) < self.config.enrich_ttl_ms);
        if fresh || self.plugins().is_empty() {
            return false;
        }
        batch.put(enrich_key(customer_id), Vec::new());
        true
    }

    /// Wakes the worker.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Events waiting for delivery.
    pub fn pending(&self) -> Result<Vec<Entry>, StoreError> {
        self.store.scan_json("crmq/")
    }

    /// Events that could not be delivered.
    pub fn dead_letters(&self) -> Result<Vec<Entry>, StoreError> {
        self.store.scan_json("crmdead/")
    }

    /// Moves every dead letter back to the queue (fresh tries); returns how
    /// many and the store sequence to wait for.
    pub fn redrive(&self) -> Result<(usize, u64), StoreError> {
        let dead = self.dead_letters()?;
        let mut batch = Batch::new();
        for mut entry in dead.iter().cloned() {
            batch.delete(dead_key(&entry.id));
            entry.attempts = 0;
            entry.next_at = 0;
            batch.put_json(pending_key(&entry.id), &entry);
        }
        let seq = self.store.write(batch)?;
        self.wake();
        Ok((dead.len(), seq))
    }

    fn backoff(&self, attempts: u32) -> u64 {
        retry_delay_ms(
            self.config.base_backoff_ms,
            self.config.max_backoff_ms,
            attempts,
        )
    }
}

/// Runs the delivery and enrichment worker until the host shuts down.
pub fn start(core: Arc<Core>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let next = match deliver_due(&core).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "CRM delivery failed");
                    Some(now_ms() + 1_000)
                }
            };
            if let Err(e) = enrich_due(&core).await {
                tracing::error!(error = %e, "CRM enrichment failed");
            }
            let sleep = next.map_or(5_000, |at| at.saturating_sub(now_ms()).clamp(1, 5_000));
            tokio::select! {
                _ = core.crm.wake.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(sleep)) => {}
                _ = core.events.closed() => return,
            }
        }
    })
}

/// Tries every due event once, oldest first, skipping customers whose
/// earlier event waits for a retry; returns when the next retry is due.
async fn deliver_due(core: &Core) -> Result<Option<u64>, StoreError> {
    let crm = &core.crm;
    let mut waiting: HashSet<(String, String)> = HashSet::new();
    let mut next: Option<u64> = None;
    for mut entry in crm.pending()? {
        let key = (entry.plugin.clone(), entry.customer_id.clone());
        if waiting.contains(&key) {
            continue;
        }
        if entry.next_at > now_ms() {
            next = Some(next.map_or(entry.next_at, |n| n.min(entry.next_at)));
            waiting.insert(key);
            continue;
        }
        let Some(event) = event(core, &entry)? else {
            // What it was about is gone (e.g. a message of a merged-away
            // customer): nothing to tell.
            let mut batch = Batch::new();
            batch.delete(pending_key(&entry.id));
            crm.store.write(batch)?;
            continue;
        };
        entry.attempts += 1;
        let (retry, error) = match core.runtime.crm_event(&entry.plugin, &event).await {
            Ok(Ok(())) => {
                let mut batch = Batch::new();
                batch.delete(pending_key(&entry.id));
                crm.store.write(batch)?;
                metrics::counter!("switchboard_crm_delivered_total", "plugin" => entry.plugin.clone())
                    .increment(1);
                continue;
            }
            Ok(Err(e)) => (e.kind == ErrorKind::Unavailable, e.message),
            // Missing, reloading or faulty: it may be fixed.
            Err(e) => (true, e.to_string()),
        };
        tracing::warn!(plugin = %entry.plugin, customer = %entry.customer_id, attempt = entry.attempts, retry, %error, "CRM event not delivered");
        entry.last_error = Some(error);
        let mut batch = Batch::new();
        if retry && entry.attempts < crm.config.max_attempts {
            entry.next_at = now_ms() + crm.backoff(entry.attempts);
            next = Some(next.map_or(entry.next_at, |n| n.min(entry.next_at)));
            batch.put_json(pending_key(&entry.id), &entry);
            waiting.insert(key);
        } else {
            batch.delete(pending_key(&entry.id));
            batch.put_json(dead_key(&entry.id), &entry);
            metrics::counter!("switchboard_crm_dead_letters_total", "plugin" => entry.plugin.clone())
                .increment(1);
        }
        crm.store.write(batch)?;
    }
    Ok(next)
}

/// The event as the plugin sees it, from the store as it is now.
fn event(core: &Core, entry: &Entry) -> Result<Option<CrmEvent>, StoreError> {
    let customer = match core.customers.get(&entry.customer_id) {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(None),
        Err(crate::customers::CustomerError::Store(e)) => return Err(e),
        Err(_) => return Ok(None),
    };
    let wit_customer = customer.to_wit();
    Ok(Some(match &entry.change {
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
                entry: timeline_entry(&message),
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
                .map(timeline_entry)
                .collect();
            CrmEvent::ConversationClosed(ConversationClosed {
                conversation_id: conversation_id.clone(),
                customer: wit_customer,
                channel: conversation.channel,
                disposition: disposition.clone(),
                transcript,
            })
        }
    }))
}

/// Enriches every customer that asked for it; one whose CRM is
/// unavailable is tried again on the next round.
async fn enrich_due(core: &Arc<Core>) -> Result<(), StoreError> {
    let keys = core.store.scan_keys("crmenrich/")?;
    for key in keys {
        // Keys come back without the scanned prefix.
        let customer_id = key.trim_start_matches("crmenrich/").to_string();
        let key = enrich_key(&customer_id);
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
