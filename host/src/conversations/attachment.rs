//! A media item on a message, as stored and as plugins see it.

use serde::{Deserialize, Serialize};

use crate::wit::types as wit;

/// A media item.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, utoipa::ToSchema)]
pub struct Attachment {
    /// MIME type.
    pub content_type: String,
    /// Where to fetch it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The provider's media id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
}

impl From<&wit::Attachment> for Attachment {
    fn from(a: &wit::Attachment) -> Self {
        Attachment {
            content_type: a.content_type.clone(),
            url: a.url.clone(),
            media_id: a.media_id.clone(),
            filename: a.filename.clone(),
            size: a.size,
            caption: a.caption.clone(),
        }
    }
}

impl Attachment {
    /// As plugins see it.
    pub fn to_wit(&self) -> wit::Attachment {
        wit::Attachment {
            content_type: self.content_type.clone(),
            url: self.url.clone(),
            media_id: self.media_id.clone(),
            filename: self.filename.clone(),
            size: self.size,
            caption: self.caption.clone(),
        }
    }
}
