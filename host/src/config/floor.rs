//! `[floor]`: what agents may tag conversations with, and the files they
//! open and send.

use serde::{Deserialize, Serialize};

/// `[floor]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FloorConfig {
    /// The labels agents may put on conversations (e.g. `vip`, `refund`).
    /// Empty (default): any label of 1-40 lowercase letters, digits, `-`
    /// and `_`.
    pub labels: Vec<String>,
    /// The largest attachment the host keeps, in bytes (16 MiB): a file a
    /// customer sent that is larger cannot be opened in the desktop.
    pub max_attachment_bytes: u64,
}

impl Default for FloorConfig {
    fn default() -> Self {
        FloorConfig {
            labels: Vec::new(),
            max_attachment_bytes: 16 * 1024 * 1024,
        }
    }
}
