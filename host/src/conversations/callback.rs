//! A voice conversation's callback: the caller asked to be called back
//! instead of holding.

use serde::{Deserialize, Serialize};

/// A caller's request to be called back, and how calling her went.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Callback {
    /// The number to call (E.164).
    pub number: String,
    /// The number she called, to call from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// When she asked (unix ms).
    pub requested_at: u64,
    /// Calls made so far.
    pub attempts: u32,
    /// How the last attempt ended: `answered`, `no-answer`, `busy`,
    /// `failed`, `completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<String>,
}
