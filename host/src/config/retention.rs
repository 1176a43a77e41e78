//! `[retention]`: how long message text and files are kept, per channel
//! kind or channel, and how the sweep that erases them paces itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::kind::Kind;

/// `[retention]`. Nothing expires unless a kind or channel is given a
/// number of days.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days message text and files are kept, per channel kind
    /// (`messaging = 90`).
    pub kinds: BTreeMap<Kind, u32>,
    /// … per channel (plugin name), over its kind's (`webchat = 30`).
    pub channels: BTreeMap<String, u32>,
    /// How often the sweep runs.
    pub sweep_interval_secs: u64,
    /// Most messages one pass looks at: the sweep never holds the store
    /// for long, and goes round the whole history over several passes.
    pub max_per_pass: usize,
    /// Days audit entries are kept (`none`: for good). Audit entries have
    /// a retention of their own: a regulator may require years of them
    /// after the conversations they name are gone.
    pub audit_days: Option<u32>,
    /// How long the event history is kept, in days (none: for ever). The
    /// history feeds reports: keep it as long as the reports you run.
    pub history_days: Option<u32>,
    /// Test hook: lets `POST /api/retention/run` take an `as_of` time
    /// (a clock moved forward without waiting). Never on in production.
    pub allow_as_of: bool,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            kinds: BTreeMap::new(),
            channels: BTreeMap::new(),
            sweep_interval_secs: 3600,
            max_per_pass: 1000,
            audit_days: None,
            history_days: None,
            allow_as_of: false,
        }
    }
}

impl RetentionConfig {
    /// Days kept on `channel` (of `kind`); `None`: kept.
    pub fn days(&self, channel: &str, kind: Kind) -> Option<u32> {
        self.channels
            .get(channel)
            .or_else(|| self.kinds.get(&kind))
            .copied()
    }
}
