//! `[surveys.<channel>]`: the satisfaction survey a channel's customers are
//! sent when an agent resolves their conversation.

use serde::{Deserialize, Serialize};

use crate::surveys::SurveyKind;

/// One channel's survey.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyConfig {
    /// `csat` (1-5), `nps` (0-10) or `ces` (1-7).
    pub kind: SurveyKind,
    /// What she is asked; the kind's standard question when unset.
    #[serde(default)]
    pub question: Option<String>,
    /// What she is told once she answered.
    #[serde(default = "default_thanks")]
    pub thanks: String,
    /// How long an answer counts, ms (default a day); later replies are
    /// normal messages and the survey records nothing.
    #[serde(default = "default_expiry")]
    pub expire_after_ms: u64,
}

fn default_thanks() -> String {
    "Thank you for your feedback!".into()
}

fn default_expiry() -> u64 {
    86_400_000
}
