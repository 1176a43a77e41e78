//! `[feeds]`: how the event feed's outbound webhooks are delivered.

use serde::{Deserialize, Serialize};

/// `[feeds]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedsConfig {
    /// Most events in one POST.
    pub batch: usize,
    /// Tries of one batch before its events are dead-lettered and the feed
    /// moves on.
    pub max_attempts: u32,
    /// Wait before the first retry, ms; doubles each try.
    pub base_backoff_ms: u64,
    /// Longest wait between tries, ms.
    pub max_backoff_ms: u64,
    /// How long a receiver has to answer, ms.
    pub timeout_ms: u64,
    /// How often an idle feed looks for new events, ms.
    pub poll_ms: u64,
}

impl Default for FeedsConfig {
    fn default() -> Self {
        FeedsConfig {
            batch: 100,
            max_attempts: 10,
            base_backoff_ms: 1_000,
            max_backoff_ms: 300_000,
            timeout_ms: 10_000,
            poll_ms: 1_000,
        }
    }
}
