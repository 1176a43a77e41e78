//! Files both ways.
//!
//! Customers' files, opened by agents: the first time an attachment is
//! opened the host asks the channel plugin to download it with the
//! provider's credentials (`fetch-media`), keeps the bytes as a blob and
//! records which message they belong to; from then on it serves its copy.
//! Opens of the same attachment wait for one download, so a provider is
//! asked once.
//!
//! Agents' files: uploaded to a conversation first (an upload id), then
//! named in a reply; the message carries a signed link to the blob, which
//! link-based providers fetch and file-based channels read through the
//! `attachment-data` host function.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::attachments::{Blob, Files, KEPT_PREFIX, clean_filename};
use crate::clock::now_ms;
use crate::conversations::{Attachment, Conversation, ConversationStatus, Message};
use crate::store::{Batch, keys};
use crate::wit::types::ErrorKind;

use super::{Core, CoreError};

/// The files and the downloads in flight.
pub(super) struct MediaFiles {
    files: Arc<Files>,
    /// One lock per attachment being fetched; dropped when no one waits.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl MediaFiles {
    /// Over `files`.
    pub fn new(files: Arc<Files>) -> Self {
        MediaFiles {
            files,
            inflight: Mutex::new(HashMap::new()),
        }
    }

    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        // Forget the locks nobody holds any more.
        inflight.retain(|_, lock| Arc::strong_count(lock) > 1);
        inflight.entry(key.to_string()).or_default().clone()
    }
}

/// A file an agent uploaded to a conversation, to send in a reply.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileUpload {
    /// `up_…`: what a reply's `attachments` names.
    pub id: String,
    /// The conversation it may be sent in.
    pub conversation_id: String,
    /// Who uploaded it.
    pub by: String,
    /// The file.
    #[serde(flatten)]
    pub blob: Blob,
}

impl Core {
    /// The largest file the host keeps.
    pub fn max_attachment_bytes(&self) -> u64 {
        self.media.files.blobs().max_bytes()
    }

    /// Stores a file an agent will send in `conversation_id`: refused
    /// (422) up front when its channel cannot send files.
    pub async fn upload(
        &self,
        conversation_id: &str,
        by: &str,
        content_type: &str,
        filename: Option<&str>,
        data: &[u8],
    ) -> Result<FileUpload, CoreError> {
        let conversation = self
            .conversations
            .get(conversation_id)?
            .ok_or_else(|| CoreError::NotFound(format!("no conversation {conversation_id}")))?;
        self.check_sends_files(&conversation)?;
        let content_type = clean_content_type(content_type)
            .unwrap_or_else(|| "application/octet-stream".to_string());
        let blob = self
            .media
            .files
            .blobs()
            .put(data, &content_type, filename, now_ms())?;
        let upload = FileUpload {
            id: format!("up_{:012}", self.store.next_id()?),
            conversation_id: conversation_id.to_string(),
            by: by.to_string(),
            blob,
        };
        let mut batch = Batch::new();
        batch.put_json(keys::upload(&upload.id), &upload);
        batch.put_json(keys::file(&upload.blob.sha256), &upload.blob);
        let seq = self.store.write(batch)?;
        self.store.durable(seq).await?;
        Ok(upload)
    }

    /// 422 unless the conversation's channel says it sends files.
    fn check_sends_files(&self, conversation: &Conversation) -> Result<(), CoreError> {
        let sends = self
            .runtime
            .channel_info(&conversation.channel)
            .is_some_and(|info| info.supports_attachments);
        if sends {
            Ok(())
        } else {
            Err(CoreError::Unsupported(format!(
                "the {} channel cannot send files",
                conversation.channel
            )))
        }
    }

    /// The attachments of a reply from its upload ids, each a signed link.
    pub(super) fn uploaded(
        &self,
        conversation: &Conversation,
        ids: &[String],
        now: u64,
    ) -> Result<Vec<Attachment>, CoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.len() > MAX_FILES_PER_REPLY {
            return Err(CoreError::Invalid(format!(
                "at most {MAX_FILES_PER_REPLY} files per reply"
            )));
        }
        if conversation.status != ConversationStatus::Open {
            return Err(CoreError::Conflict(format!(
                "conversation {} is resolved",
                conversation.id
            )));
        }
        self.check_sends_files(conversation)?;
        ids.iter()
            .map(|id| {
                let upload = self
                    .store
                    .get_json::<FileUpload>(&keys::upload(id))?
                    .filter(|u| u.conversation_id == conversation.id)
                    .ok_or_else(|| {
                        CoreError::Invalid(format!("no upload {id} in this conversation"))
                    })?;
                Ok(Attachment {
                    content_type: upload.blob.content_type.clone(),
                    url: Some(self.media.files.link(&upload.blob, now)),
                    media_id: Some(upload.blob.sha256.clone()),
                    filename: upload.blob.filename.clone(),
                    size: Some(upload.blob.size),
                    caption: None,
                })
            })
            .collect()
    }

    /// A file behind a signed link (`/files/<sha-256>/…`), for whoever
    /// holds the link: the provider fetching what an agent sent.
    pub fn linked_file(
        &self,
        sha256: &str,
        expires: u64,
        sig: &str,
    ) -> Result<(Blob, Vec<u8>), CoreError> {
        let gone = || CoreError::NotFound("no such file, or the link has expired".into());
        if !self.media.files.verify(sha256, expires, sig, now_ms()) {
            return Err(gone());
        }
        let blob = self
            .store
            .get_json::<Blob>(&keys::file(sha256))?
            .ok_or_else(gone)?;
        let data = self.media.files.blobs().read(sha256)?.ok_or_else(gone)?;
        Ok((blob, data))
    }

    /// Forgets files agents uploaded in `conversation_ids` (retention,
    /// erasure): those whose blob is in `only`, or all of them. Their
    /// upload records go in `batch`, and a blob's file record too unless
    /// an upload elsewhere still names it. Returns the blobs whose file
    /// record goes: once `batch` is durable, each is removed unless shared
    /// ([`Self::remove_blob_unless_shared`]).
    pub(super) fn forget_uploads(
        &self,
        batch: &mut Batch,
        conversation_ids: &[&str],
        only: Option<&[String]>,
    ) -> Result<Vec<String>, CoreError> {
        let uploads = self.store.scan_json::<FileUpload>(keys::UPLOADS)?;
        let forgotten = |u: &FileUpload| {
            conversation_ids.contains(&u.conversation_id.as_str())
                && only.is_none_or(|only| only.contains(&u.blob.sha256))
        };
        let mut blobs: Vec<String> = Vec::new();
        for upload in uploads.iter().filter(|u| forgotten(u)) {
            batch.delete(keys::upload(&upload.id));
            if !blobs.contains(&upload.blob.sha256) {
                blobs.push(upload.blob.sha256.clone());
            }
        }
        blobs.retain(|sha256| {
            !uploads
                .iter()
                .any(|u| !forgotten(u) && &u.blob.sha256 == sha256)
        });
        for sha256 in &blobs {
            batch.delete(keys::file(sha256));
        }
        Ok(blobs)
    }

    /// Deletes a blob's file (retention, erasure, once the records that
    /// named it are durably gone) unless another record still names it:
    /// files are content-addressed, so another message's copy of the same
    /// bytes, or a file an agent sent, keeps it.
    pub(super) fn remove_blob_unless_shared(&self, sha256: &str) -> Result<(), CoreError> {
        let shared = self
            .store
            .scan_strings(keys::MEDIA)?
            .into_iter()
            .any(|(_, value)| value.contains(sha256))
            || self.store.get_raw(&keys::file(sha256))?.is_some();
        if !shared {
            self.media.files.blobs().remove(sha256)?;
        }
        Ok(())
    }

    /// The conversation a message belongs to, for access checks.
    pub fn conversation_of_message(&self, message_id: &str) -> Result<String, CoreError> {
        self.conversations
            .message(message_id)?
            .map(|m| m.conversation_id)
            .ok_or_else(|| CoreError::NotFound(format!("no message {message_id}")))
    }

    /// Attachment `index` of a message: what is known of the file and its
    /// bytes, downloaded through the channel the first time.
    pub async fn open_attachment(
        &self,
        message_id: &str,
        index: usize,
    ) -> Result<(Blob, Vec<u8>), CoreError> {
        let not_found = || CoreError::NotFound(format!("no attachment {index} on {message_id}"));
        let message = self
            .conversations
            .message(message_id)?
            .ok_or_else(not_found)?;
        let attachment = message.attachments.get(index).ok_or_else(not_found)?;
        let key = keys::media(message_id, index);
        let lock = self.media.lock_for(&key);
        let _fetching = lock.lock().await;
        if let Some(blob) = self.store.get_json::<Blob>(&key)?
            && let Some(data) = self.media.files.blobs().read(&blob.sha256)?
        {
            return Ok((blob, data));
        }
        if let Some(reference) = attachment
            .url
            .as_deref()
            .filter(|u| u.starts_with(KEPT_PREFIX))
        {
            return self.open_kept(&message, attachment, reference, key).await;
        }
        let fetched = self
            .runtime
            .channel_fetch_media(&message.channel, &attachment.to_wit())
            .await?;
        let media = match fetched {
            Ok(media) => media,
            Err(e) if e.kind == ErrorKind::BadRequest => {
                return Err(CoreError::Unsupported(format!(
                    "the {} channel cannot open this attachment: {}",
                    message.channel, e.message
                )));
            }
            Err(e) => {
                return Err(CoreError::Plugin {
                    kind: e.kind,
                    message: e.message,
                });
            }
        };
        let content_type = clean_content_type(&media.content_type)
            .or_else(|| clean_content_type(&attachment.content_type))
            .unwrap_or_else(|| "application/octet-stream".to_string());
        let filename = media.filename.as_deref().or(attachment.filename.as_deref());
        let blob = self
            .media
            .files
            .blobs()
            .put(&media.data, &content_type, filename, now_ms())?;
        let mut batch = Batch::new();
        batch.put_json(key, &blob);
        let seq = self.store.write(batch)?;
        self.store.durable(seq).await?;
        tracing::info!(
            message = message_id,
            index,
            channel = %message.channel,
            bytes = blob.size,
            "attachment fetched from the provider"
        );
        Ok((blob, media.data))
    }
}

impl Core {
    /// A file the channel kept from the webhook that brought it: read from
    /// the blobs, no provider asked. Recorded like a fetched one.
    async fn open_kept(
        &self,
        message: &Message,
        attachment: &Attachment,
        reference: &str,
        key: String,
    ) -> Result<(Blob, Vec<u8>), CoreError> {
        let gone = || {
            CoreError::NotFound(format!(
                "the file of this attachment of {} is not kept here",
                message.id
            ))
        };
        let sha256 = self
            .media
            .files
            .kept_blob(&message.channel, reference)
            .ok_or_else(gone)?;
        let data = self.media.files.blobs().read(&sha256)?.ok_or_else(gone)?;
        let blob = Blob {
            sha256,
            content_type: clean_content_type(&attachment.content_type)
                .unwrap_or_else(|| "application/octet-stream".to_string()),
            size: data.len() as u64,
            filename: attachment
                .filename
                .as_deref()
                .map(clean_filename)
                .filter(|f| !f.is_empty()),
            stored_at: message.at,
        };
        let mut batch = Batch::new();
        batch.put_json(key, &blob);
        let seq = self.store.write(batch)?;
        self.store.durable(seq).await?;
        Ok((blob, data))
    }
}

/// Most files one reply carries.
const MAX_FILES_PER_REPLY: usize = 10;

/// `type/subtype` in lower case without parameters, when it looks like a
/// MIME type at all (a provider's header is not trusted to be one).
fn clean_content_type(raw: &str) -> Option<String> {
    let essence = raw.split(';').next()?.trim().to_ascii_lowercase();
    let (kind, sub) = essence.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    (token(kind) && token(sub)).then_some(essence)
}

#[cfg(test)]
mod tests {
    use super::clean_content_type;

    #[test]
    fn content_types_are_reduced_to_their_essence_or_refused() {
        assert_eq!(
            clean_content_type("Image/JPEG; charset=binary").as_deref(),
            Some("image/jpeg")
        );
        assert_eq!(clean_content_type("text/html\r\nX-Evil: 1"), None);
        assert_eq!(clean_content_type("nonsense"), None);
        assert_eq!(clean_content_type(""), None);
    }
}
