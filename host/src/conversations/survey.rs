//! The satisfaction survey a resolved conversation was sent, and her
//! answer (how one is recognised: `crate::surveys`).

use serde::{Deserialize, Serialize};

pub use crate::surveys::SurveyKind;

/// The survey a resolved conversation was sent, and her answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Survey {
    /// Which survey.
    pub kind: SurveyKind,
    /// When it was sent (unix ms).
    pub sent_at: u64,
    /// Until when an answer counts (unix ms).
    pub expires_at: u64,
    /// The agent who handled the conversation: who the answer is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Her score, once she answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    /// When she answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<u64>,
}
