//! `[reports]`: how outcomes are counted.

use serde::{Deserialize, Serialize};

/// `[reports]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// A handled contact is resolved at first contact when the same
    /// customer starts no other contact, on any channel, within this many
    /// days after it ended; a contact within this many days after one of
    /// hers ended is a repeat contact.
    pub fcr_days: u32,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig { fcr_days: 7 }
    }
}
