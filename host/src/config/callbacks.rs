//! `[callbacks]`: how a caller who asked to be called back is called.

use serde::{Deserialize, Serialize};

/// `[callbacks]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbackConfig {
    /// Calls made to the customer before the callback is closed as
    /// `callback_failed` (each unanswered, busy or failed).
    pub max_attempts: u32,
    /// How long after an unanswered attempt the next one is made (ms).
    pub retry_after_ms: u64,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        CallbackConfig {
            max_attempts: 3,
            retry_after_ms: 120_000,
        }
    }
}
