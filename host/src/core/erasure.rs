//! Erasure (`DELETE /api/customers/{id}`): everything the host holds about
//! a customer goes — profiles, identities, conversations, messages,
//! notes, files, queue entries, merge records — her tasks keep only their
//! counts, her id answers 410, every CRM connector is sent
//! `customer-erased` to erase its copy, and the database is rewritten at the next
//! start so that no old copy of her data survives in sled's log segments
//! (see `store::compact`).

use serde::Serialize;

use crate::attachments::Blob;
use crate::audit::AuditEntry;
use crate::clock::now_ms;
use crate::store::{Batch, keys};

use super::crm::Change;
use super::{Core, CoreError};

/// What an erasure removed (`DELETE /api/customers/{id}`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Erasure {
    /// The profiles erased (hers and those merged into it).
    pub customers: Vec<String>,
    /// Conversations erased.
    pub conversations: usize,
    /// Messages erased.
    pub messages: usize,
    /// Tasks kept as counts, without her.
    pub tasks_scrubbed: usize,
}

impl Core {
    /// When customer `id` was erased, if she was.
    pub fn customer_erased_at(&self, id: &str) -> Result<Option<u64>, CoreError> {
        Ok(self.customers.erased_at(id)?)
    }

    /// Erases customer `id` for `actor` (an admin), from `address`.
    pub async fn erase_customer(
        &self,
        id: &str,
        actor: &str,
        address: Option<String>,
    ) -> Result<Erasure, CoreError> {
        let now = now_ms();
        let (erasure, blobs, tell_crm, seq) = {
            let _gate = self.gate();
            if self.customers.erased_at(id)?.is_some() {
                return Err(CoreError::Gone(format!("customer {id} was erased")));
            }
            let customer = self
                .customers
                .get(id)?
                .ok_or_else(|| CoreError::NotFound(format!("no customer {id}")))?;
            if let Some(survivor) = &customer.merged_into {
                return Err(CoreError::Conflict(format!(
                    "customer {id} was merged into {survivor}: erase {survivor}"
                )));
            }
            let mut batch = Batch::new();
            let ids = self.customers.erase(&mut batch, &customer, now)?;
            let mut tasks_scrubbed = 0;
            let mut conversations = Vec::new();
            for profile in &ids {
                tasks_scrubbed += self.routing.scrub_customer(&mut batch, profile)?;
                conversations.extend(self.conversations.of_customer(profile)?);
            }
            // The history keeps the counts, not who she was.
            self.store.scrub_history(&mut batch, &ids)?;
            let mut messages = Vec::new();
            for conversation in &conversations {
                messages.extend(self.conversations.erase(&mut batch, conversation)?);
            }
            // Files of her messages, and the records of opened ones.
            let mut blobs = Vec::new();
            for message in &messages {
                for (index, attachment) in message.attachments.iter().enumerate() {
                    let key = keys::media(&message.id, index);
                    if let Some(blob) = self.store.get_json::<Blob>(&key)? {
                        blobs.push(blob.sha256);
                    }
                    batch.delete(key);
                    blobs.extend(attachment.media_id.clone().filter(|m| m.len() == 64));
                }
            }
            // Files agents uploaded to send her.
            let ids_of: Vec<&str> = conversations.iter().map(|c| c.id.as_str()).collect();
            blobs.extend(self.forget_uploads(&mut batch, &ids_of, None)?);
            // Queue entries naming her, her conversations or messages.
            let mut named: Vec<&str> = ids.iter().map(String::as_str).collect();
            named.extend(conversations.iter().map(|c| c.id.as_str()));
            named.extend(messages.iter().map(|m| m.id.as_str()));
            for queue in [keys::OUTBOX, keys::CRM_EVENTS, keys::BOT_TURNS] {
                for prefix in [queue.pending, queue.dead] {
                    for (rest, value) in self.store.scan_strings(prefix)? {
                        if named.iter().any(|n| value.contains(n)) {
                            batch.delete(format!("{prefix}{rest}"));
                        }
                    }
                }
            }
            // The CRMs erase their copy: the last event about her.
            let change = Change::CustomerErased {
                customer: Box::new(customer.clone()),
                at: now,
            };
            let tell_crm = self.crm.record(&mut batch, id, change)?;
            let mut entry = AuditEntry::new("customer.erase", actor, "admin", now);
            entry.targets = ids.clone();
            entry.address = address;
            entry.reason = format!(
                "{} conversations, {} messages erased; {tasks_scrubbed} tasks kept as counts",
                conversations.len(),
                messages.len()
            );
            self.audit.record(&mut batch, entry)?;
            // What channels keep about her under her handle there (the
            // web chat's session and reply log). Before the batch: a crash
            // in between leaves her to be erased again, nothing half done.
            for identity in &customer.identities {
                if let Some((channel, handle)) = identity.handle_parts()
                    && let Some(kv) = self.store.existing_plugin_kv(channel)?
                {
                    kv.delete_named(handle)?;
                }
            }
            crate::store::request_compaction(&mut batch);
            let erasure = Erasure {
                customers: ids,
                conversations: conversations.len(),
                messages: messages.len(),
                tasks_scrubbed,
            };
            (erasure, blobs, tell_crm, self.store.write(batch)?)
        };
        self.store.durable(seq).await?;
        if tell_crm {
            self.crm.wake();
        }
        for sha256 in blobs {
            self.remove_blob_unless_shared(&sha256)?;
        }
        tracing::info!(customers = ?erasure.customers, "customer erased");
        Ok(erasure)
    }
}
