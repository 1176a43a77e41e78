//! Files customers send, opened by agents: the first time an attachment is
//! opened the host asks the channel plugin to download it with the
//! provider's credentials (`fetch-media`), keeps the bytes as a blob and
//! records which message they belong to; from then on it serves its copy.
//! Opens of the same attachment wait for one download, so a provider is
//! asked once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::attachments::{Blob, Blobs};
use crate::clock::now_ms;
use crate::store::{Batch, keys};
use crate::wit::types::ErrorKind;

use super::{Core, CoreError};

/// The blob directory and the downloads in flight.
pub(super) struct MediaFiles {
    blobs: Blobs,
    /// One lock per attachment being fetched; dropped when no one waits.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl MediaFiles {
    /// Over `blobs`.
    pub fn new(blobs: Blobs) -> Self {
        MediaFiles {
            blobs,
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

impl Core {
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
            && let Some(data) = self.media.blobs.read(&blob.sha256)?
        {
            return Ok((blob, data));
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
            .blobs
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
