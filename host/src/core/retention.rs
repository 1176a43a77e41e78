//! Retention: message text, metadata and files older than the configured
//! days of their channel (or channel kind) are erased by a background
//! sweep. The message stays as a dated stub — its id, time, channel,
//! direction, author and delivery status — so counts, statistics and
//! reports keep working. Each pass looks at a bounded number of messages
//! after a durable cursor, wrapping round to the first, so a pass never
//! holds the store for long and the whole history is covered over several
//! passes; every pass is audited.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::attachments::Blob;
use crate::audit::AuditEntry;
use crate::clock::now_ms;
use crate::config::RetentionConfig;
use crate::conversations::{ConversationStatus, Direction, Message};
use crate::kind::Kind;
use crate::store::{Batch, keys};

use super::{Core, CoreError};

/// A day, in ms.
const DAY_MS: u64 = 86_400_000;

/// Where the sweep's progress is kept.
const STATUS_KEY: &str = "retention/status";

/// Metadata keys holding what a customer wrote (an email's subject and
/// whole body), cleared from the conversation with its last message.
const TEXT_METADATA: &[&str] = &["subject", "body"];

/// The sweep's progress (`GET /api/retention`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RetentionStatus {
    /// The message id the next pass starts after (none: the first).
    pub cursor: Option<String>,
    /// Passes run.
    pub passes: u64,
    /// Messages looked at, in all.
    pub checked: u64,
    /// Messages erased, in all.
    pub erased: u64,
    /// When the last pass ran (unix ms).
    pub last_pass_at: Option<u64>,
    /// Messages the last pass looked at.
    pub last_pass_checked: u64,
    /// Messages the last pass erased.
    pub last_pass_erased: u64,
    /// Audit entries removed past `[retention] audit_days`, in all.
    #[serde(default)]
    pub audit_removed: u64,
    /// Failed (dead-lettered) deliveries and bot turns of resolved
    /// conversations removed past their channel's retention, in all.
    #[serde(default)]
    pub records_removed: u64,
    /// Event history entries removed past `[retention] history_days`, in
    /// all.
    #[serde(default)]
    pub history_removed: u64,
}

impl Core {
    /// The sweep's progress.
    pub fn retention_status(&self) -> Result<RetentionStatus, CoreError> {
        Ok(self.store.get_json(STATUS_KEY)?.unwrap_or_default())
    }

    /// Whether anything expires at all.
    pub fn retention_configured(&self) -> bool {
        let r = &self.retention;
        !r.kinds.is_empty()
            || !r.channels.is_empty()
            || r.audit_days.is_some()
            || r.history_days.is_some()
    }

    /// Whether `POST /api/retention/run` may say what time it is.
    pub fn retention_as_of_allowed(&self) -> bool {
        self.retention.allow_as_of
    }

    /// One pass as of `now`: erases what is due among the next messages
    /// after the cursor, audits it, and returns the progress.
    pub async fn retention_pass(&self, now: u64) -> Result<RetentionStatus, CoreError> {
        let mut status = self.retention_status()?;
        let (checked, erased, blobs, seq) = {
            let _gate = self.gate();
            let page = self.store.scan_json_after::<Message>(
                "msg/",
                status.cursor.as_deref(),
                self.retention.max_per_pass.max(1),
            )?;
            let mut kinds: HashMap<String, Option<Kind>> = HashMap::new();
            let mut batch = Batch::new();
            let mut erased = 0u64;
            let mut blobs = Vec::new();
            for (_, message) in &page {
                if message.erased_at.is_some() {
                    continue;
                }
                let kind = match kinds.get(&message.conversation_id) {
                    Some(kind) => *kind,
                    None => {
                        let kind = self
                            .conversations
                            .get(&message.conversation_id)?
                            .map(|c| c.channel_kind);
                        kinds.insert(message.conversation_id.clone(), kind);
                        kind
                    }
                };
                let Some(days) = kind.and_then(|k| self.retention.days(&message.channel, k)) else {
                    continue;
                };
                if message.at.saturating_add(u64::from(days) * DAY_MS) <= now {
                    blobs.extend(self.erase_message(&mut batch, message.clone(), now)?);
                    erased += 1;
                }
            }
            let checked = page.len() as u64;
            // At the end of the history, the next pass starts over.
            status.cursor = if checked < self.retention.max_per_pass.max(1) as u64 {
                None
            } else {
                page.last().map(|(id, _)| id.clone())
            };
            status.passes += 1;
            status.checked += checked;
            status.erased += erased;
            status.last_pass_at = Some(now);
            status.last_pass_checked = checked;
            status.last_pass_erased = erased;
            // Audit entries and the event history past their own
            // retentions, oldest first.
            let max = self.retention.max_per_pass;
            let cutoff =
                |days: Option<u32>| days.map(|d| now.saturating_sub(u64::from(d) * DAY_MS));
            let audit_removed = match cutoff(self.retention.audit_days) {
                Some(before) => self.audit.expire(&mut batch, before, max)?,
                None => 0,
            };
            status.audit_removed += audit_removed;
            let history_removed = match cutoff(self.retention.history_days) {
                Some(before) => self.store.expire_history(&mut batch, before, max)?,
                None => 0,
            };
            status.history_removed += history_removed;
            let records_removed = self.expire_records(&mut batch, now)?;
            status.records_removed += records_removed;
            batch.put_json(STATUS_KEY, &status);
            let mut entry = AuditEntry::new("retention.pass", "system", "system", now_ms());
            entry.reason = format!(
                "checked {checked} messages, erased {erased}, removed {records_removed} failed deliveries and bot turns, {audit_removed} audit entries and {history_removed} history entries, as of {now}"
            );
            self.audit.record(&mut batch, entry)?;
            (checked, erased, blobs, self.store.write(batch)?)
        };
        self.store.durable(seq).await?;
        // The records are gone: their files go unless still used.
        for sha256 in blobs {
            self.remove_blob_unless_shared(&sha256)?;
        }
        tracing::info!(checked, erased, "retention pass");
        Ok(status)
    }

    /// Removes in `batch` the dead-lettered deliveries and bot turns of
    /// resolved conversations (or gone ones) older than their channel's
    /// retention as of `now`; returns how many. (Delivered ones leave the
    /// queue at once; these are the records of what failed.)
    fn expire_records(&self, batch: &mut Batch, now: u64) -> Result<u64, CoreError> {
        let due = |conversation_id: &str, created_at: u64| -> Result<bool, CoreError> {
            let Some(c) = self.conversations.get(conversation_id)? else {
                return Ok(true);
            };
            Ok(c.status != ConversationStatus::Open
                && self
                    .retention
                    .days(&c.channel, c.channel_kind)
                    .is_some_and(|days| created_at.saturating_add(u64::from(days) * DAY_MS) <= now))
        };
        let mut removed = 0;
        for entry in self.outbox.queue.dead_letters()? {
            if due(&entry.item.conversation_id, entry.created_at)? {
                self.outbox.queue.remove_dead(batch, &entry);
                removed += 1;
            }
        }
        for entry in self.bots.queue.dead_letters()? {
            if due(&entry.item.conversation_id, entry.created_at)? {
                self.bots.queue.remove_dead(batch, &entry);
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Turns `message` into a dated stub in `batch`, with the records of
    /// its files and the conversation's copy of its free text. Returns the
    /// blobs to remove once `batch` is durable.
    fn erase_message(
        &self,
        batch: &mut Batch,
        mut message: Message,
        now: u64,
    ) -> Result<Vec<String>, CoreError> {
        let mut blobs = Vec::new();
        for index in 0..message.attachments.len() {
            let key = keys::media(&message.id, index);
            if let Some(blob) = self.store.get_json::<Blob>(&key)? {
                batch.delete(key);
                blobs.push(blob.sha256);
            }
        }
        // Files an agent sent: the upload names the blob.
        if message.direction == Direction::Outbound {
            let sent: Vec<String> = message
                .attachments
                .iter()
                .filter_map(|a| a.media_id.clone())
                .collect();
            if !sent.is_empty() {
                let conversation = [message.conversation_id.as_str()];
                blobs.extend(self.forget_uploads(batch, &conversation, Some(&sent))?);
            }
        }
        for attachment in &mut message.attachments {
            attachment.filename = None;
            attachment.caption = None;
            attachment.url = None;
            attachment.media_id = None;
        }
        message.text.clear();
        message.metadata.clear();
        message.error = None;
        message.erased_at = Some(now);
        if let (Some(provider_id), Some(mut conversation)) = (
            message.provider_message_id.as_deref(),
            self.conversations.get(&message.conversation_id)?,
        ) && let Some(last) = conversation.last_inbound.as_mut()
            && last.provider_message_id == provider_id
        {
            last.metadata
                .retain(|(k, _)| !TEXT_METADATA.contains(&k.as_str()));
            self.conversations.save(batch, &conversation);
        }
        self.conversations.save_message(batch, &message);
        Ok(blobs)
    }
}

/// Runs a pass every `sweep_interval_secs` while the host runs (when any
/// retention is configured).
pub(super) fn start(core: Arc<Core>, config: &RetentionConfig) -> tokio::task::JoinHandle<()> {
    let every = std::time::Duration::from_secs(config.sweep_interval_secs.max(1));
    tokio::spawn(async move {
        if !core.retention_configured() {
            return;
        }
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = core.retention_pass(now_ms()).await {
                        tracing::error!(error = %e, "retention pass failed");
                    }
                }
                _ = core.events.closed() => return,
            }
        }
    })
}
